"""`apply_to`: other data (a test set) evaluated in the same epoch with what was chosen on the
evaluation data.

Metrics that choose thresholds on the evaluation data (`FBetaAtBestThreshold`:
`evaluate_at_thresholds`, `threshold_keys`) give their value on the other data at the
thresholds they chose there, so nothing is tuned on it; the other metrics are computed as
usual; `ModelEvaluator`s run their own data and are left out.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from epochmetrics.callbacks._metrics import Entry
from epochmetrics.functional._args import check_str

__all__ = ["check_apply_to", "entries_at"]


def check_apply_to(value: Any, prefix: str) -> dict[str, Any]:
    """`apply_to` as `{prefix: data}`: prefixes non-empty and not the evaluator's."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            "`apply_to` must be a dict {prefix: data}, e.g. {'test_': (x_test, y_test)}. "
            f"Received: apply_to={type(value).__name__}."
        )
    for key in value:
        check_str("apply_to", key, "a dict whose keys are log key prefixes such as 'test_'")
        if key == prefix or not key:
            raise ValueError(
                f"`apply_to` prefixes must be non-empty and differ from `prefix={prefix!r}`. "
                f"Received: {key!r}."
            )
    return dict(value)


def entries_at(entries: list[Entry], chosen: Mapping[str, float]) -> list[Entry]:
    """The entries for other data: metrics that choose thresholds on the evaluation data
    (`evaluate_at_thresholds`) are computed at the thresholds they chose there (`chosen`, the
    unprefixed scalars of this evaluation); `ModelEvaluator`s run their own data: left out."""
    out = []
    for e in entries:
        if e.kind == "model":
            continue
        at = getattr(e.obj, "evaluate_at_thresholds", None)
        if at is None:
            out.append(e)
            continue
        thresholds = [chosen[k] for k in e.obj.threshold_keys()]
        out.append(Entry(e.name, "callable", functools.partial(_at, at, thresholds), e.direction))
    return out


def _at(
    at: Any, thresholds: list[float], y_true: Any, y_pred: Any, sample_weight: Any = None
) -> Any:
    return at(y_true, y_pred, thresholds, sample_weight=sample_weight)
