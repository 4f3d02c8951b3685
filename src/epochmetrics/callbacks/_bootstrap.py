"""The evaluator's bootstrap: replicate values of every entry, from one prediction pass.

The statistics (replicate weights, intervals, paired comparisons) are
`functional.bootstrap`'s; the count family's replicate states are `functional.replicates`'.
Here: which entry takes which path, and their replicate values as log keys. For n samples,
R replicates and a state of S cells:

- count metrics (`F1Score`, `ClassificationReport`, `MatthewsCorrCoef`, ...): each batch's
  per-sample contributions times its `(B, R)` weights (one matrix product or 2-D bincount,
  O(n R S) or O(n m R) for m cells per sample), then one read of the `(R, S)` states (their
  reductions take a stack): O(R x state) besides the weights.
- exact ranking metrics on whole arrays (`AUROC`, `AveragePrecision`, operating points): the
  columns sorted once, each replicate's group masses gathered in that order (O(n K R)), then
  one read of the stacked groups (AUROC, average precision) or R reads through the metric's
  own `_from_groups` (operating points, `FBetaAtBestThreshold`).
- other streamed metrics (top-k, samplewise averages, calibration, Keras' own metrics): a
  fresh copy per replicate updated with the re-weighted data (R updates).
- other `evaluate_arrays` metrics: R calls with each replicate's weights.
- callables `fn(y_true, y_pred)`: R calls on the resampled arrays (each sample repeated by
  its replicate weight).
- `ModelEvaluator`s, detection (structured inputs) and matrices: no replicates, no interval.

Replicate weights are cached between evaluations while they fit in `WEIGHT_CACHE_BYTES` (the
positions are the same every epoch).

Several processes (`start(several=True)`): a sample's weights follow its position in the whole
validation data, which a process knows only after the pass (`Memo.positions`: its contiguous
part, or a `DistributedSampler`'s interleaved rows, padding left out). So the count metrics'
contributions are kept during the pass, and `finish` weights them at those positions and adds
every process's `(R, S)` states in process order (one exchange: sums of integer counts times
integer weights, exact); the other streamed metrics' rows are gathered in the data's order
(every process refits on all of them); whole-array entries already receive all processes' rows
in the data's order. Every process then holds the one-process replicate values.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import keras
import numpy as np

from epochmetrics._backend.collectives import Processes
from epochmetrics._backend.xp import numpy_ops
from epochmetrics._types import Direction
from epochmetrics.callbacks._metrics import Entry, flatten_result
from epochmetrics.callbacks._processes import gather_tree
from epochmetrics.functional import bootstrap, ranking, replicates
from epochmetrics.functional.ranking_graph import Groups
from epochmetrics.metrics import _combine
from epochmetrics.metrics._base import Keyed, SumStateMetric
from epochmetrics.metrics._ranking_shell import RankingMetric
from epochmetrics.metrics.ranking import AUROC, AveragePrecision

__all__ = ["Resampler", "interval_keys"]

WEIGHT_CACHE_BYTES = 64 * 2**20
# Group masses (replicates x classes x groups) computed at once for the ranking metrics.
_GROUP_CHUNK = 2**21
# Data-dependent failures of one replicate (a class missing from it) make that replicate NaN.
_REPLICATE_ERRORS = (ValueError, ArithmeticError)


def interval_keys(key: str) -> tuple[str, str]:
    """The keys of the interval of `key`."""
    return f"{key}_low", f"{key}_high"


def _length(tree: Any) -> int:
    return int(np.shape(keras.tree.flatten(tree)[0])[0])


def _take(tree: Any, index: np.ndarray) -> Any:
    return None if tree is None else keras.tree.map_structure(lambda a: np.asarray(a)[index], tree)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Replicates warn about what the point value already warned about (undefined classes)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _weighted(w: np.ndarray, sw: Any) -> np.ndarray:
    """Replicate weights `(B,)` times the data's sample weights (`(B,)` or per element)."""
    w = w.astype(np.float64)
    if sw is None:
        return w
    sw = np.asarray(sw, dtype=np.float64)
    return w.reshape((-1,) + (1,) * (sw.ndim - 1)) * sw


def _is_matrix(entry: Entry) -> bool:
    """A confusion matrix: recorded, not logged, so no interval."""
    return callable(getattr(entry.obj, "matrix", None))


def _clone(metric: Any) -> Any:
    return type(metric).from_config(metric.get_config())


def _observed(entry: Entry) -> bool:
    """A streamed entry with replicates (detection, matched per batch, and matrices: none)."""
    return not getattr(entry.obj, "_structured_inputs", False) and not _is_matrix(entry)


def _counted(metric: Any) -> bool:
    """A count metric: replicate states from its samples' contributions (else: refits)."""
    return isinstance(metric, SumStateMetric) and replicates.has_contributions(metric._step().fn)


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    return keras.tree.map_structure(
        lambda *a: np.concatenate([np.asarray(p) for p in a], axis=0), *parts
    )


class Resampler:
    """Replicate values of every entry of one evaluation (see the module docstring).

    Call `start()` before the pass, `stream(...)` for every batch a streamed entry receives
    (in data order), `whole(...)` for each whole-array entry, then `values(origins)`.
    """

    def __init__(self, confidence: float, resamples: int, seed: int) -> None:
        self.confidence = confidence
        self.resamples = resamples
        self.seed = seed
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._cached_bytes = 0
        self.start()

    # --- weights -------------------------------------------------------------------------------
    def weights(self, first: int, count: int) -> np.ndarray:
        """`(count, R)` weights of positions first, first + 1, ... (cached when small)."""
        return self._cached((first, count), lambda: np.arange(first, first + count, dtype=np.int64))

    def weights_at(self, positions: np.ndarray) -> np.ndarray:
        """`(len(positions), R)` weights of the samples at `positions` (cached when small)."""
        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        if n == 0 or (positions[-1] - positions[0] == n - 1 and np.all(np.diff(positions) == 1)):
            return self.weights(int(positions[0]) if n else 0, n)
        return self._cached(positions.tobytes(), lambda: positions)

    def _cached(self, key: Any, positions: Any) -> np.ndarray:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        w = bootstrap.replicate_weights(positions(), self.resamples, self.seed)
        if self._cached_bytes + w.nbytes <= WEIGHT_CACHE_BYTES:
            self._cache[key] = w
            self._cached_bytes += w.nbytes
        return w

    # --- one pass ------------------------------------------------------------------------------
    def start(self, first: int = 0, several: bool = False) -> None:
        """A new pass whose first sample is at position `first` of the whole data (0, or the
        offset of this shard of it: positions are global, so the replicates are the same
        however the data is split). `several`: one of several processes, whose positions
        come after the pass (`finish`)."""
        self._first = 0 if several else first
        self._several = several
        self._offsets: dict[str, int] = {}
        self._states: dict[str, np.ndarray] = {}
        # Several processes: each count entry's contributions, with their first local row.
        self._parts: dict[str, list[tuple[int, int, replicates.Contributions]]] = {}
        self._batches: dict[str, list[tuple[Any, Any, Any, Any]]] = {}
        self._values: dict[str, dict[str, np.ndarray]] = {}

    def stream(self, entry: Entry, y: Any, pred: Any, sw: Any) -> None:
        """A batch that streamed `entry` received, the next in data order."""
        if not _observed(entry):
            return
        key = entry.name
        first = self._offsets.get(key, self._first)
        count = _length(pred)
        self._offsets[key] = first + count
        metric = entry.obj
        if _counted(metric):
            step = metric._step()
            part = replicates.contributions(step.fn, step.args, y, pred, sw)
            assert part is not None
            if self._several:  # weighted at the positions known after the pass
                self._parts.setdefault(key, []).append((first, count, part))
                return
            states = replicates.replicate_states(part, self.weights(first, count))
            self._states[key] = states + self._states.get(key, 0.0)
            return
        w = None if self._several else self.weights(first, count)
        self._batches.setdefault(key, []).append((y, pred, sw, w))

    def finish(self, entries: list[Entry], positions: np.ndarray, processes: Processes) -> None:
        """After a pass of several processes: this process's rows were at `positions` of the
        whole data (in the order it evaluated them). Count states weighted there and added
        over the processes in one exchange; other streamed entries' rows gathered in the
        data's order. Collective: every process calls it with the same `entries`."""
        if not self._several:
            return
        local: dict[str, np.ndarray] = {}
        for key, parts in self._parts.items():
            total: Any = 0.0
            for first, count, part in parts:
                w = self.weights_at(positions[first : first + count])
                total = replicates.replicate_states(part, w) + total
            local[key] = total
        self._parts = {}
        self._states = {}
        for states in processes.gather_objects(local):  # in process order: the same sums
            for key, value in states.items():
                self._states[key] = self._states[key] + value if key in self._states else value
        refit = [
            e.name for e in entries if e.kind == "stream" and _observed(e) and not _counted(e.obj)
        ]
        if not refit:
            return
        # Every streamed entry received the same rows in the same order: gathered once.
        mine = self._batches.get(refit[0], [])
        rows = (
            None
            if not mine
            else (
                _concat([b[0] for b in mine]),
                _concat([b[1] for b in mine]),
                None if mine[0][2] is None else _concat([b[2] for b in mine]),
            )
        )
        order, _ = processes.gather_rows(np.asarray(positions, dtype=np.int64))
        gathered = [gather_tree(None if rows is None else rows[i], processes) for i in range(3)]
        if order is None or gathered[1] is None:
            self._batches = {}
            return
        perm = np.argsort(order, kind="stable")
        y, pred, sw = (
            None if g is None else keras.tree.map_structure(lambda a: np.asarray(a)[perm], g)
            for g in gathered
        )
        batch = (y, pred, sw, self.weights_at(order[perm]))
        self._batches = {key: [batch] for key in refit}

    def whole(self, entry: Entry, y_true: Any, y_pred: Any, sample_weight: Any) -> None:
        """The whole arrays a whole-array entry (`evaluate_arrays`, callable) received."""
        w = self.weights(self._first, _length(y_pred))
        if isinstance(entry.obj, RankingMetric):
            with _quiet():
                self._values[entry.name] = self._ranking(entry, y_true, y_pred, sample_weight, w)
            return
        with _quiet():
            rows = [
                self._whole_replicate(entry, y_true, y_pred, sample_weight, w[:, r])
                for r in range(self.resamples)
            ]
        self._values[entry.name] = _columns(rows)

    def _ranking(
        self, entry: Entry, y_true: Any, y_pred: Any, sample_weight: Any, w: np.ndarray
    ) -> dict[str, np.ndarray]:
        """An exact ranking metric: its columns sorted once, each replicate's group masses
        through the metric's own `_from_groups` (the values of its exact mode)."""
        metric = entry.obj
        spec = metric._spec
        cols = ranking.prepare(spec, y_true, y_pred, sample_weight, probabilities=True)
        # The sample of each row: its index travels through the validator as a weight, so it
        # follows rows that are dropped (ignore_index) or flattened (dense inputs).
        index = np.arange(w.shape[0], dtype=np.float64)
        ids = ranking.prepare(spec, y_true, y_pred, index, probabilities=True).weights
        sample = np.zeros(0, np.int64) if ids is None else np.max(ids, axis=1).astype(np.int64)
        pooled = metric.average == "micro" and cols.scores.shape[1] > 1
        ranked = replicates.RankedColumns(
            cols.scores, cols.targets, cols.weights, sample, pooled=pooled
        )
        keys = metric._log_keys(None)
        rows = []
        step = max(1, _GROUP_CHUNK // max(1, ranked.groups * len(ranked.columns)))
        for start in range(0, self.resamples, step):
            pos, neg, support = ranked.masses(w[:, start : start + step])
            stacked = _stacked_values(metric, pos, neg, support)
            if stacked is not None:  # AUROC, AP: every replicate of the chunk in one call
                for row in stacked:
                    result = (
                        float(row[0])
                        if keys is None
                        else dict(zip(keys, row.tolist(), strict=True))
                    )
                    rows.append(flatten_result(result, entry.name)[0])
                continue
            for r in range(pos.shape[0]):
                groups = Groups(pos[r], neg[r], support[r], ranked.thresholds)
                value = np.asarray(metric._from_groups(numpy_ops, groups), np.float64)
                result = (
                    float(value) if keys is None else dict(zip(keys, value.tolist(), strict=True))
                )
                rows.append(flatten_result(result, entry.name)[0])
        return _columns(rows)

    def _whole_replicate(
        self, entry: Entry, y_true: Any, y_pred: Any, sw: Any, w: np.ndarray
    ) -> dict[str, float]:
        try:
            if entry.kind == "arrays":
                weight = _weighted(w, sw)
                value = entry.obj.evaluate_arrays(y_true, y_pred, sample_weight=weight)
            else:
                index = np.repeat(np.arange(w.size), w)  # the resampled set, as samples
                args = (_take(y_true, index), _take(y_pred, index))
                if sw is None:
                    value = entry.obj(*args)
                else:
                    value = entry.obj(*args, sample_weight=_take(sw, index))
        except _REPLICATE_ERRORS:
            return {}
        return flatten_result(value, entry.name)[0]

    # --- results -------------------------------------------------------------------------------
    def merge(self, other: Resampler) -> None:
        """Add the replicate states of `other`, the same entries' pass over other positions
        (another process's share): count states are sums."""
        for key, states in other._states.items():
            self._states[key] = states + self._states.get(key, 0.0)

    def values(self, entries: list[Entry]) -> dict[str, np.ndarray]:
        """`{key: (R,) replicate values}` of every entry that has replicates (unprefixed)."""
        out: dict[str, np.ndarray] = {}
        # Local reads: with several processes every process already holds all the data.
        with _quiet(), _combine.local_reads():
            for entry in entries:
                key = entry.name
                if key in self._states:
                    out.update(self._from_states(entry, self._states[key]))
                elif key in self._batches:
                    out.update(self._refit(entry, self._batches[key]))
                elif key in self._values:
                    out.update(self._values[key])
        return out

    def _from_states(self, entry: Entry, states: np.ndarray) -> dict[str, np.ndarray]:
        compute = entry.obj._compute
        first = _as_keys(compute(states[0], numpy_ops), entry.name)
        try:  # one call on the stack: the count family's reductions take leading axes
            stacked = compute(states, numpy_ops)
            if isinstance(stacked, Keyed):
                values = np.asarray(stacked.values, np.float64).reshape(len(states), -1)
                batched = dict(zip(stacked.keys, values.T, strict=True))
            else:
                batched = {next(iter(first)): np.asarray(stacked, np.float64).reshape(-1)}
            same = batched.keys() == first.keys() and all(
                len(v) == len(states) and np.array_equal(v[0], first[k], equal_nan=True)
                for k, v in batched.items()
            )
        except (ValueError, TypeError, IndexError):
            same = False
        if same:
            return batched
        return _columns([_as_keys(compute(state, numpy_ops), entry.name) for state in states])

    def _refit(self, entry: Entry, batches: list[tuple[Any, Any, Any, np.ndarray]]) -> Any:
        """R fresh copies of the metric, each updated with one replicate's weights."""
        copy = _clone(entry.obj)
        rows = []
        for r in range(self.resamples):
            copy.reset_state()
            for y, pred, sw, w in batches:
                copy.update_state(y, pred, sample_weight=_weighted(w[:, r], sw))
            rows.append(flatten_result(copy.result(), entry.name)[0])
        return _columns(rows)


def _stacked_values(metric: Any, pos: Any, neg: Any, support: Any) -> np.ndarray | None:
    """`(R, V)` values of R replicates' groups (`pos`, `neg` `(R, K, G)`, `support` `(R, K)`)
    in one call, for the metrics whose value is a reduction of `(K, G)` masses over the last
    axis averaged as `RankingMetric._from_groups` does (the kernels of AUROC without `max_fpr`
    and of average precision); None for the others (read replicate by replicate). Equal to
    `_from_groups` per replicate (tested against scikit-learn on each replicate)."""
    if not isinstance(metric, (AUROC, AveragePrecision)) or getattr(metric, "max_fpr", None):
        return None
    # The kernel's values reduce the last axis: a leading replicate axis passes through.
    groups = Groups(pos, neg, support, None)
    values = np.asarray(metric._kernel.values(numpy_ops, groups), np.float64)  # (R, K)
    if metric._single():
        return values[:, :1]
    if metric.average is None:
        return values
    if metric.average == "weighted":  # `ranking_graph.average_values`, per replicate
        support = np.asarray(support, np.float64)
        total = support.sum(axis=-1)
        kept = np.where(support == 0.0, 0.0, values)
        with np.errstate(all="ignore"):
            value = np.where(total == 0.0, 0.0, (kept * support).sum(axis=-1) / total)
        return value[:, None]
    return values.mean(axis=-1, keepdims=True)


def _as_keys(value: Any, name: str) -> dict[str, float]:
    if isinstance(value, Keyed):
        return dict(zip(value.keys, np.asarray(value.values, np.float64).tolist(), strict=True))
    return flatten_result(value, name)[0]


def _columns(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Replicate rows of `{key: value}` as `{key: (R,)}` (NaN where a replicate has none)."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return {k: np.array([row.get(k, math.nan) for row in rows], dtype=np.float64) for k in keys}


def intervals(
    scalars: Mapping[str, float], reps: Mapping[str, np.ndarray], confidence: float
) -> dict[str, float]:
    """`{K_low, K_high}` for every key of `scalars` with replicates."""
    out: dict[str, float] = {}
    for key, value in scalars.items():
        column = reps.get(key)
        if column is None:
            continue
        low, high = bootstrap.percentile_interval(column[:, None], confidence, values=[value])
        k_low, k_high = interval_keys(key)
        out[k_low], out[k_high] = float(low[0]), float(high[0])
    return out


def selection_keys(key: str) -> tuple[str, str]:
    """The keys noise-aware selection logs for `key`: the held value, the share better."""
    return f"{key}_sig", f"{key}_p_better"


class Selection:
    """Noise-aware monitors: per key, the best epoch so far that beat its predecessor by more
    than noise (paired on the same replicates), and its value held until the next one does.

    `K_sig` is K's value at that epoch: it changes only when an epoch's paired gain over it is
    significant (`bootstrap.paired_gain`), so `ModelCheckpoint(monitor="val_K_sig",
    save_best_only=True)` saves, and `EarlyStopping(monitor="val_K_sig")` resets its patience,
    only then. `K_p_better` is the share of replicates in which this epoch beats it (NaN at
    the first evaluation, which is taken as it is).
    """

    def __init__(self, keys: tuple[str, ...], confidence: float) -> None:
        self.keys = keys
        self.confidence = confidence
        self.reset()

    def reset(self) -> None:
        self._best: dict[str, tuple[float, np.ndarray]] = {}

    def update(
        self,
        scalars: Mapping[str, float],
        reps: Mapping[str, np.ndarray],
        directions: Mapping[str, str | None],
    ) -> dict[str, float]:
        """This evaluation's `{K_sig, K_p_better}`; moves the best epoch where significant."""
        out: dict[str, float] = {}
        for key in self.keys:
            value, column = scalars[key], reps[key]
            direction: Direction = "down" if directions.get(key) == "down" else "up"
            held, p_key = selection_keys(key)
            best = self._best.get(key)
            if best is None:
                p_better = math.nan
                if not math.isnan(value):
                    self._best[key] = (value, column)
            else:
                c = bootstrap.paired_gain(
                    value, column, best[0], best[1], direction, self.confidence
                )
                p_better = c.p_better
                if c.significant:
                    self._best[key] = (value, column)
            out[held] = self._best[key][0] if key in self._best else math.nan
            out[p_key] = p_better
        return out
