"""The best F-beta over every decision threshold, and that threshold, from group masses.

The input is what the ranking states hold (`ranking_graph`): per one-vs-rest problem, the
positive and negative mass of each group along ascending scores, `pos, neg` `(K, G)`, and the
score each group starts at, `thresholds` `(G,)` or `(K, G)`: one group per distinct score
(exact mode, or whole arrays) or one bin (binned mode). Element-wise work, cumulative sums and
reductions over G, in any array namespace `xp` (NumPy for eager reads and whole arrays,
`keras.ops` inside compiled steps). Leading axes are kept (a stack of replicates works).

Cutting at group g (predicting positive every score of group g and above), TP and FP are the
positive and negative mass at or above g, and

    F_beta = (1 + b^2) TP / ((1 + b^2) TP + b^2 (P - TP) + FP)

as scikit-learn's `fbeta_score` on those predictions. The candidates are the starts of the
non-empty groups (+inf, predicting nothing, scores F = 0 and never wins where a positive
exists: the lowest cut has TP = P > 0); the result is the largest F_beta, and among cuts
reaching it the one with the highest threshold (fewest positives predicted). A problem
without positives is undefined: value and threshold NaN. Equal to the maximum of F_beta
over scikit-learn's `precision_recall_curve` points (tested to 1e-12).

Binned mode: each bin's start is the smallest float32 score in it, so the binned value is
achieved on the data at the threshold reported. A threshold inside bin b has TP in [A, T] and
FP in [B, F] (T, F: the mass at or above the bin; A, B: above it); F_beta grows with TP and
falls with FP, so no threshold of bin b beats F_beta(T, B): binned <= exact <= binned +
`best_fbeta_error_bound` (the largest F_beta(T_b, B_b) over non-empty bins, minus the binned
value). It is 0 when every distinct score has its own bin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from epochmetrics._backend.xp import divide, numpy_ops
from epochmetrics._docs import HOST_RANKING_ARGS, docstring
from epochmetrics._types import RankingAverage, Task
from epochmetrics.functional import ranking, ranking_graph
from epochmetrics.functional._args import check_float
from epochmetrics.functional.operating_points import (
    OperatingPoint,
    _groups,
    _problems,
    _support,
    _warn,
)

__all__ = [
    "best_fbeta_columns",
    "best_fbeta_error_bound",
    "best_fbeta_from_counts",
    "check_beta",
    "fbeta_at",
    "fbeta_at_best_threshold",
    "fbeta_at_thresholds",
]


def check_beta(beta: Any) -> float:
    """F-beta's beta: a positive finite number."""
    value = check_float("beta", beta, low=0.0, open_low=True, what="a positive number")
    if value == float("inf"):
        raise ValueError(f"`beta` must be a positive number. Received: beta={beta!r}.")
    return value


def _cumulative(xp: Any, pos: Any, neg: Any) -> tuple[Any, Any, Any]:
    """(TP, FP) `(..., K, G)` masses at or above each group, and P `(..., K, 1)`."""
    tp = xp.flip(xp.cumsum(xp.flip(pos, axis=-1), axis=-1), axis=-1)
    fp = xp.flip(xp.cumsum(xp.flip(neg, axis=-1), axis=-1), axis=-1)
    return tp, fp, tp[..., :1]


def fbeta_at(xp: Any, tp: Any, fp: Any, p: Any, beta: float) -> Any:
    """F-beta from the true and false positive mass and the positive total (0 when nothing is
    predicted and nothing is positive: scikit-learn's zero_division=0)."""
    b2 = beta * beta
    return divide(xp, (1.0 + b2) * tp, (1.0 + b2) * tp + b2 * (p - tp) + fp, 0.0)


def best_fbeta_from_counts(
    xp: Any, pos: Any, neg: Any, thresholds: Any, beta: float
) -> tuple[Any, Any]:
    """`(..., K, G)` ascending group masses -> `(..., K)` best F-beta and the group start
    achieving it (see the module docstring; the highest on ties, NaN where undefined).

    Examples:
        >>> import numpy as np
        >>> from epochmetrics._backend.xp import numpy_ops
        >>> pos, neg = np.array([[0.0, 1, 0, 1]]), np.array([[1.0, 0, 1, 0]])
        >>> value, start = best_fbeta_from_counts(
        ...     numpy_ops, pos, neg, np.array([0.1, 0.35, 0.4, 0.8]), 1.0)
        >>> round(float(value[0]), 4), float(start[0])  # cut at 0.35: TP 2, FP 1
        (0.8, 0.35)
    """
    tp, fp, p = _cumulative(xp, pos, neg)
    value = fbeta_at(xp, tp, fp, p, beta)
    candidate = (pos + neg) > 0.0
    scored = xp.where(candidate, value, -xp.ones_like(value))
    best = xp.max(scored, axis=-1)
    g = int(pos.shape[-1])
    index = xp.arange(g)
    tie = xp.logical_and(candidate, xp.equal(scored, best[..., None]))
    chosen = xp.max(xp.where(tie, index, -xp.ones_like(index)), axis=-1)  # the highest on ties
    starts = xp.zeros_like(pos) + xp.cast(thresholds, pos.dtype)
    hot = xp.equal(index, chosen[..., None])
    start = xp.sum(xp.where(hot, starts, xp.zeros_like(starts)), axis=-1)
    nan = xp.cast(float("nan"), best.dtype)
    defined = p[..., 0] > 0.0
    return xp.where(defined, best, nan), xp.where(defined, start, nan)


def best_fbeta_error_bound(xp: Any, pos: Any, neg: Any, beta: float) -> Any:
    """`(..., K, G)` binned masses -> `(..., K)` bound: binned <= exact <= binned + bound.

    Examples:
        >>> import numpy as np
        >>> from epochmetrics._backend.xp import numpy_ops
        >>> pos, neg = np.array([[0.0, 2, 1]]), np.array([[2.0, 1, 0]])
        >>> round(float(best_fbeta_error_bound(numpy_ops, pos, neg, 1.0)[0]), 6)
        0.142857
    """
    tp, fp, p = _cumulative(xp, pos, neg)
    value = fbeta_at(xp, tp, fp, p, beta)
    upper = fbeta_at(xp, tp, fp - neg, p, beta)  # TP at the bin's start, FP above the bin
    candidate = (pos + neg) > 0.0
    best = xp.max(xp.where(candidate, value, xp.zeros_like(value)), axis=-1)
    top = xp.max(xp.where(candidate, upper, xp.zeros_like(upper)), axis=-1)
    gap = top - best
    bound = xp.where(gap > 0.0, gap, xp.zeros_like(gap))
    return xp.where(p[..., 0] > 0.0, bound, xp.cast(float("nan"), bound.dtype))


# --- whole arrays on the host ------------------------------------------------------------------
def best_fbeta_columns(
    beta: float, cols: ranking.Columns, average: RankingAverage
) -> OperatingPoint:
    """The best F-beta of validated columns (`ranking.prepare`) and its threshold(s): what
    `fbeta_at_best_threshold` returns, for the metric's `evaluate_arrays`."""
    problems = _problems(cols, average)
    values, thresholds = np.empty(len(problems)), np.empty(len(problems))
    with np.errstate(all="ignore"):
        for i, problem in enumerate(problems):
            pos, neg, thr = _groups(*problem)
            v, t = best_fbeta_from_counts(numpy_ops, pos, neg, thr, beta)
            values[i], thresholds[i] = v[0], t[0]
    undefined = [int(i) for i in np.flatnonzero(np.isnan(values))]
    _warn("F-beta at the best threshold", undefined, len(problems) == 1, False)
    if len(problems) == 1:
        return OperatingPoint(float(values[0]), float(thresholds[0]))
    if average is None:
        return OperatingPoint(values, thresholds)
    value = ranking_graph.average_values(numpy_ops, values, _support(cols), average)
    return OperatingPoint(float(value), thresholds)


def fbeta_at_thresholds(
    beta: float, cols: ranking.Columns, average: RankingAverage, thresholds: Any
) -> Any:
    """F-beta of validated columns at given thresholds, one per problem (as
    `best_fbeta_columns` returns them): "positive when score >= threshold". A float for one
    problem or an average, else `(C,)` values. NaN where a class has no positives."""
    problems = _problems(cols, average)
    cuts = np.broadcast_to(np.asarray(thresholds, np.float64).reshape(-1), (len(problems),))
    values = np.empty(len(problems))
    with np.errstate(all="ignore"):
        for i, (t, s, w) in enumerate(problems):
            weight = np.ones(t.shape) if w is None else np.asarray(w, np.float64)
            hit = s.astype(np.float64) >= cuts[i]
            tp, fp, p = (np.sum(weight * x) for x in (t * hit, (1 - t) * hit, t * 1.0))
            value = fbeta_at(numpy_ops, np.float64(tp), np.float64(fp), np.float64(p), beta)
            values[i] = value if p > 0 else np.nan
    if len(problems) == 1:
        return float(values[0])
    if average is None:
        return values
    return float(ranking_graph.average_values(numpy_ops, values, _support(cols), average))


@docstring(
    {
        "beta": "The weight of recall against precision (1: F1).",
        "average": '"macro" (mean of the per-class optima, NaN if one is undefined), '
        '"weighted" (by positive support), "micro" (all class/sample pairs pooled, one '
        "threshold) or None (per class). Ignored for binary.",
    },
    HOST_RANKING_ARGS,
)
def fbeta_at_best_threshold(
    y_true: Any,
    y_score: Any,
    *,
    beta: float = 1.0,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> OperatingPoint:
    """The highest F-beta over every decision threshold, and the threshold that achieves it.

    max over t of (1 + b^2) TP(t) / ((1 + b^2) TP(t) + b^2 FN(t) + FP(t)), predicting positive
    when score >= t, over every distinct score (the thresholds of scikit-learn's
    `precision_recall_curve`); ties go to the highest such threshold. Multiclass is
    one-vs-rest, multilabel per label, each with its own threshold.

    Args:
        $args

    Returns:
        An `OperatingPoint(value, threshold)`: floats for binary and micro; with `average`
        macro or weighted a float and a `(C,)` array of per-class thresholds; per class
        (`average=None`) two `(C,)` arrays. A class without positives gives NaN for both,
        with an `UndefinedMetricWarning`.

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.best_threshold import fbeta_at_best_threshold
        >>> best = fbeta_at_best_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> round(best.value, 4), best.threshold
        (0.8, 0.35)
    """
    b = check_beta(beta)
    spec, average = ranking._check_args(task, num_classes, average, from_logits, ignore_index)
    cols = ranking.prepare(spec, y_true, y_score, sample_weight)
    return best_fbeta_columns(b, cols, average)
