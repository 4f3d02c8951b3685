"""The evaluator's intervals and noise-aware monitors: the keys they add to an evaluation.

`Intervals` holds what `EpochEvaluator(confidence=, resamples=, seed=, noise_aware=)` asks
for. Around each pass it starts the `Resampler` (`_bootstrap`: the replicates of every entry);
after it, it turns the replicate values into `K_low` / `K_high` for every scalar key K and, in
`fit`, `K_sig` / `K_p_better` for the `noise_aware` keys (`Selection`: epochs compared on the
same replicates), with their directions and the metrics they come from. With several
processes the keys are process 0's on every process, as the values are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from epochmetrics.callbacks._bootstrap import (
    Resampler,
    Selection,
    interval_keys,
    intervals,
    selection_keys,
)
from epochmetrics.callbacks._metrics import Entry
from epochmetrics.callbacks._processes import Share
from epochmetrics.functional._args import check_str

__all__ = ["Intervals", "check_noise_aware"]


def check_noise_aware(value: Any, confidence: float | None) -> tuple[str, ...]:
    """`noise_aware` as a tuple of key names (it needs `confidence`)."""
    if value is None:
        return ()
    what = "a log key or a list of log keys"
    if not isinstance(value, (list, tuple)):
        value = (check_str("noise_aware", value, what),)
    names = tuple(check_str("noise_aware", name, what) for name in value)
    if names and confidence is None:
        raise ValueError(
            "`noise_aware` compares epochs on bootstrap replicates: pass `confidence=` too "
            f"(e.g. 0.95). Received: noise_aware={value!r}, confidence=None."
        )
    return names


class Intervals:
    """The interval and noise-aware keys of one evaluator's evaluations.

    Call `start(share)` before a pass (its `resampler` observes the pass), then
    `keys(...)` with the pass's scalars; `reset()` at the start of each `fit`.
    """

    def __init__(
        self, confidence: float, resamples: int, seed: int, noise_aware: tuple[str, ...]
    ) -> None:
        self.confidence = confidence
        self.noise_aware = noise_aware
        self.resampler = Resampler(confidence, resamples, seed)
        self._selection: Selection | None = None

    def reset(self) -> None:
        """A new `fit`: no best epoch yet."""
        self._selection = None

    def start(self, share: Share) -> None:
        """A new pass of this process's `share` of the data."""
        self.resampler.start(several=share.several)

    def keys(
        self,
        entries: list[Entry],
        prefix: str,
        scalars: Mapping[str, float],
        directions: dict[str, Any],
        origins: dict[str, Entry],
        share: Share,
        select: bool,
    ) -> dict[str, float]:
        """The keys this evaluation adds to `scalars` (prefixed). `directions` and `origins`
        gain the new keys'. `select`: in `fit`, where noise-aware monitors move."""
        reps = {prefix + k: v for k, v in self.resampler.values(entries).items()}
        extra = intervals(scalars, reps, self.confidence)
        base = {d: key for key in scalars for d in interval_keys(key) if d in extra}
        if select and self.noise_aware:
            extra.update(self._select(prefix, scalars, reps, directions))
            assert self._selection is not None
            base.update({d: key for key in self._selection.keys for d in selection_keys(key)})
        clash = sorted(set(extra) & set(scalars))
        if clash:
            raise ValueError(
                f"The evaluator's keys {clash} are also keys of metrics: rename those metrics "
                "(keys ending in `_low`, `_high`, `_sig` or `_p_better` are the evaluator's "
                "with `confidence=`)."
            )
        for key, of in base.items():
            directions.setdefault(key, directions[of])  # `_p_better` is set: "up"
            origins[key] = origins[of]
        if share.several:  # process 0's, as the values: the same decisions on every process
            extra = share.processes.broadcast(extra)
        return extra

    def _select(
        self,
        prefix: str,
        scalars: Mapping[str, float],
        reps: Mapping[str, Any],
        directions: dict[str, Any],
    ) -> dict[str, float]:
        """Noise-aware monitors of the `noise_aware` keys (`_bootstrap.Selection`)."""
        if self._selection is None:
            keys = tuple(
                _resolve(name, prefix, scalars, reps, directions) for name in self.noise_aware
            )
            self._selection = Selection(keys, self.confidence)
        for key in self._selection.keys:
            directions[selection_keys(key)[1]] = "up"
        return self._selection.update(scalars, reps, directions)


def _resolve(
    name: str,
    prefix: str,
    scalars: Mapping[str, float],
    reps: Mapping[str, Any],
    directions: Mapping[str, Any],
) -> str:
    for key in (name, prefix + name):
        if key in scalars:
            if key not in reps:
                raise ValueError(
                    f"`noise_aware` names {key!r}, which has no bootstrap replicates (it "
                    "comes from a ModelEvaluator or a metric with structured inputs)."
                )
            if directions.get(key) is None:
                raise ValueError(
                    f"`noise_aware` names {key!r}, whose direction is unknown: pass "
                    f"`directions={{{key!r}: 'up'}}` (or 'down')."
                )
            return key
    raise ValueError(
        f"`noise_aware` names {name!r}, which is not a scalar key of this evaluator. Its "
        f"keys: {sorted(scalars)}."
    )
