"""Exact operating points and partial ROC-AUC on the host, for whole arrays.

An operating point is the best value of one rate subject to a minimum on another, with the
threshold that achieves it: the number a user deploys ("predict positive when
score > threshold", as the metrics' `threshold=` and Keras; the threshold is the number just
below the lowest score predicted positive, so "score >= threshold" selects the same scores
unless one equals it). Keras' `PrecisionAtRecall` and friends approximate the value on 200
thresholds and give no threshold; these are exact over every distinct score (the thresholds of
scikit-learn's `roc_curve` and `precision_recall_curve`) plus +inf (predict nothing), for binary,
multiclass one-vs-rest and multilabel problems. The definitions, tie rule (the optimum's
threshold best on the constrained metric: unique), unreachable constraints (0.0 at +inf) and
undefined classes (NaN value and threshold, with an `UndefinedMetricWarning`) are those of
`operating_points_ops`, whose functions compute the values here on float64 group masses.

Thresholds are in the units of `y_score`: probabilities, or logits for binary and multilabel
inputs (sigmoid does not change which samples a threshold selects); multiclass scores with
`from_logits=True` become softmax probabilities first, and thresholds are probabilities.
Sample weights must be non-negative.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from epochmetrics._backend.xp import numpy_ops
from epochmetrics._docs import HOST_RANKING_ARGS, docstring
from epochmetrics._types import RankingAverage, Task
from epochmetrics.functional import _ranking_kernels, ranking, ranking_graph
from epochmetrics.functional import operating_points_ops as opo
from epochmetrics.functional._args import check_rate
from epochmetrics.functional._host_format import column
from epochmetrics.functional._ranking_kernels import reduce_columns

__all__ = [
    "OperatingPoint",
    "operating_point_columns",
    "partial_auc_columns",
    "precision_at_recall",
    "recall_at_precision",
    "roc_auc_max_fpr",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
]

_POINT_ARGS = {
    "min_recall": "The minimum recall, in [0, 1].",
    "min_precision": "The minimum precision, in [0, 1].",
    "min_specificity": "The minimum specificity, in [0, 1].",
    "min_sensitivity": "The minimum sensitivity, in [0, 1].",
    "max_fpr": "The largest false positive rate counted, in (0, 1].",
    "average": '"macro" (mean over classes, NaN if one is undefined), "weighted" (by positive '
    'support), "micro" (all class/sample pairs pooled, one threshold) or None (per class). '
    "Ignored for binary.",
}


class OperatingPoint(NamedTuple):
    """The optimum and the threshold that achieves it.

    `value` is a float (binary, one class, or an average) or a `(C,)` float64 array
    (`average=None`). `threshold` is a float for binary and micro averages, else a `(C,)`
    array with each class's own threshold (a macro or weighted average has no single one).
    """

    value: Any
    threshold: Any


def _groups(t: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """One binary problem -> `(1, G)` ascending group masses and the groups' scores (float64)."""
    fps, tps, thr = _ranking_kernels.thresholds(t, s, w)  # descending distinct scores, cumulative
    if len(thr) == 0:  # no samples (or all of weight 0): one empty group, never a candidate
        return np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1))
    pos = np.diff(np.r_[0.0, tps])[::-1]
    neg = np.diff(np.r_[0.0, fps])[::-1]
    return pos[None], neg[None], thr[::-1].astype(np.float64)[None]


def _problems(cols: ranking.Columns, average: RankingAverage) -> list[tuple[Any, ...]]:
    """The binary problems to solve: pooled for micro, else one per column."""
    if cols.scores.shape[1] == 1 or average == "micro":
        w = None if cols.weights is None else cols.weights.reshape(-1)
        return [(cols.targets.reshape(-1), cols.scores.reshape(-1), w)]
    return [column(cols, k) for k in range(cols.scores.shape[1])]


def _support(cols: ranking.Columns) -> np.ndarray:
    w = cols.weights
    return np.asarray((cols.targets * (1.0 if w is None else w)).sum(axis=0), dtype=np.float64)


def _warn(what: str, undefined: list[int], single: bool, roc: bool) -> None:
    if not undefined:
        return
    where = "" if single else f" for class(es) {undefined}"
    need = "positive and negative samples" if roc else "positive samples"
    warnings.warn(
        f"{what} is undefined{where}: y_true needs {need}. Returning NaN (value and threshold).",
        ranking.UndefinedMetricWarning,
        stacklevel=4,
    )


def _operating_point(
    kind: str,
    constraint: float,
    y_true: Any,
    y_score: Any,
    task: Any,
    num_classes: Any,
    average: Any,
    sample_weight: Any,
    from_logits: Any,
    ignore_index: Any,
) -> OperatingPoint:
    spec, average = ranking._check_args(task, num_classes, average, from_logits, ignore_index)
    cols = ranking.prepare(spec, y_true, y_score, sample_weight)
    return operating_point_columns(kind, constraint, cols, average)


def operating_point_columns(
    kind: str, constraint: float, cols: ranking.Columns, average: RankingAverage
) -> OperatingPoint:
    """The operating point of validated columns (`ranking.prepare`): what the public functions
    return, for the metrics' `evaluate_arrays`."""
    problems = _problems(cols, average)
    values, thresholds = np.empty(len(problems)), np.empty(len(problems))
    with np.errstate(all="ignore"):
        for i, problem in enumerate(problems):
            pos, neg, thr = _groups(*problem)
            v, t = opo.operating_point_from_counts(
                numpy_ops, kind, pos, neg, thr, constraint, scores=str(cols.scores.dtype)
            )
            values[i], thresholds[i] = v[0], t[0]
    what = kind.replace("_", " ").capitalize()
    undefined = [int(i) for i in np.flatnonzero(np.isnan(values))]
    _warn(what, undefined, len(problems) == 1, opo.POINTS[kind].roc)
    if len(problems) == 1:
        return OperatingPoint(float(values[0]), float(thresholds[0]))
    if average is None:
        return OperatingPoint(values, thresholds)
    value = ranking_graph.average_values(numpy_ops, values, _support(cols), average)
    return OperatingPoint(float(value), thresholds)


@docstring(_POINT_ARGS, HOST_RANKING_ARGS)
def precision_at_recall(
    y_true: Any,
    y_score: Any,
    *,
    min_recall: float,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> OperatingPoint:
    """The highest precision among thresholds with recall >= `min_recall`, and its threshold.

    max over t of TP(t) / (TP(t) + FP(t)) subject to TP(t) / P >= min_recall, predicting
    positive when score > t; ties go to the lowest such threshold (the most recall). Always
    reachable when the class has positives (the lowest score has recall 1). With
    `min_recall=0` the +inf threshold (precision 1 by convention) qualifies: the value is 1.0.

    Args:
        $args

    Returns:
        An `OperatingPoint(value, threshold)` (see there for shapes).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.operating_points import precision_at_recall
        >>> point = precision_at_recall([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], min_recall=0.9)
        >>> round(point.value, 4), point.threshold  # positive when score > t: just below 0.35
        (0.6667, 0.3499999999999999)
    """
    constraint = check_rate("min_recall", min_recall)
    return _operating_point(
        "precision_at_recall",
        constraint,
        y_true,
        y_score,
        task,
        num_classes,
        average,
        sample_weight,
        from_logits,
        ignore_index,
    )


@docstring(_POINT_ARGS, HOST_RANKING_ARGS)
def recall_at_precision(
    y_true: Any,
    y_score: Any,
    *,
    min_precision: float,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> OperatingPoint:
    """The highest recall among thresholds with precision >= `min_precision`, and its threshold.

    max over t of TP(t) / P subject to TP(t) / (TP(t) + FP(t)) >= min_precision; ties go to the
    highest such threshold (the most precision). When no finite threshold reaches the
    precision the result is 0.0 at threshold +inf (predict nothing).

    Args:
        $args

    Returns:
        An `OperatingPoint(value, threshold)` (see there for shapes).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.operating_points import recall_at_precision
        >>> recall_at_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], min_precision=0.6)
        OperatingPoint(value=1.0, threshold=0.3499999999999999)
        >>> recall_at_precision([1, 0], [0.2, 0.9], min_precision=0.9)
        OperatingPoint(value=0.0, threshold=inf)
    """
    constraint = check_rate("min_precision", min_precision)
    return _operating_point(
        "recall_at_precision",
        constraint,
        y_true,
        y_score,
        task,
        num_classes,
        average,
        sample_weight,
        from_logits,
        ignore_index,
    )


@docstring(_POINT_ARGS, HOST_RANKING_ARGS)
def sensitivity_at_specificity(
    y_true: Any,
    y_score: Any,
    *,
    min_specificity: float,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> OperatingPoint:
    """The highest sensitivity (TPR) among thresholds with specificity >= `min_specificity`.

    max over t of TP(t) / P subject to 1 - FP(t) / N >= min_specificity (specificity is one
    minus `roc_curve`'s FPR); ties go to the highest such threshold (the most specificity).
    The +inf threshold (specificity 1) always qualifies, so the value is at least 0.0.

    Args:
        $args

    Returns:
        An `OperatingPoint(value, threshold)` (see there for shapes).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.operating_points import sensitivity_at_specificity
        >>> sensitivity_at_specificity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], min_specificity=0.5)
        OperatingPoint(value=1.0, threshold=0.3499999999999999)
    """
    constraint = check_rate("min_specificity", min_specificity)
    return _operating_point(
        "sensitivity_at_specificity",
        constraint,
        y_true,
        y_score,
        task,
        num_classes,
        average,
        sample_weight,
        from_logits,
        ignore_index,
    )


@docstring(_POINT_ARGS, HOST_RANKING_ARGS)
def specificity_at_sensitivity(
    y_true: Any,
    y_score: Any,
    *,
    min_sensitivity: float,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> OperatingPoint:
    """The highest specificity among thresholds with sensitivity >= `min_sensitivity`.

    max over t of 1 - FP(t) / N subject to TP(t) / P >= min_sensitivity; ties go to the lowest
    such threshold (the most sensitivity). Always reachable (the lowest score has
    sensitivity 1).

    Args:
        $args

    Returns:
        An `OperatingPoint(value, threshold)` (see there for shapes).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.operating_points import specificity_at_sensitivity
        >>> specificity_at_sensitivity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], min_sensitivity=0.5)
        OperatingPoint(value=1.0, threshold=0.7999999999999999)
    """
    constraint = check_rate("min_sensitivity", min_sensitivity)
    return _operating_point(
        "specificity_at_sensitivity",
        constraint,
        y_true,
        y_score,
        task,
        num_classes,
        average,
        sample_weight,
        from_logits,
        ignore_index,
    )


def _binary_partial_auc(
    max_fpr: float, t: np.ndarray, s: np.ndarray, w: np.ndarray | None
) -> tuple[float, bool]:
    """(standardized partial AUC, undefined) for one binary problem (`reduce_columns`' form)."""
    pos, neg, _ = _groups(t, s, w)
    with np.errstate(all="ignore"):
        value = float(opo.roc_auc_max_fpr_from_counts(numpy_ops, pos, neg, max_fpr)[0])
    return value, math.isnan(value)


@docstring(_POINT_ARGS, HOST_RANKING_ARGS)
def roc_auc_max_fpr(
    y_true: Any,
    y_score: Any,
    *,
    max_fpr: float,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> Any:
    """Standardized partial ROC-AUC, as scikit-learn's `roc_auc_score(max_fpr=...)`.

    The area A under the ROC curve for FPR in [0, max_fpr] (the curve cut at max_fpr by linear
    interpolation, tied scores joined by a straight line), with McClish's correction
    0.5 * (1 + (A - m^2 / 2) / (m - m^2 / 2)), m = max_fpr: 0.5 for a chance ranking, 1.0 for
    a perfect one; `max_fpr=1` gives the ROC-AUC. scikit-learn refuses `max_fpr` for
    multiclass; here each class's one-vs-rest problem gets it, as for multilabel.

    Args:
        $args

    Returns:
        A Python float, or with `average=None` a float64 array of shape `(C,)`. NaN, with an
        `UndefinedMetricWarning`, for classes whose `y_true` holds a single class.

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.operating_points import roc_auc_max_fpr
        >>> round(roc_auc_max_fpr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], max_fpr=0.5), 4)
        0.6667
    """
    m = check_rate("max_fpr", max_fpr, open_low=True)
    spec, average = ranking._check_args(task, num_classes, average, from_logits, ignore_index)
    cols = ranking.prepare(spec, y_true, y_score, sample_weight)
    return partial_auc_columns(cols, average, m)


def partial_auc_columns(cols: ranking.Columns, average: RankingAverage, max_fpr: float) -> Any:
    """`roc_auc_max_fpr` of validated columns (`ranking.prepare`)."""
    return reduce_columns(
        cols, average, "roc_auc", binary=lambda *a: _binary_partial_auc(max_fpr, *a)
    )
