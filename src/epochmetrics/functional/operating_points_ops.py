"""Operating points and partial ROC-AUC from group masses, in any array namespace `xp`.

The input is what the ranking state holds (see `ranking_graph`): per one-vs-rest problem, the
positive and negative (weighted) mass of each group along an ascending score axis, `pos, neg`
of shape `(K, G)`, and the score at which each group starts, `thresholds` of shape `(G,)` or
`(K, G)`. A group is one distinct score (exact mode: `group_counts` with `group_thresholds`) or
one bin of the score axis (binned mode: the histogram with `bin_thresholds`). Everything here is
element-wise work, cumulative sums and reductions over G: no loops over groups, no host reads,
so it runs in NumPy (`numpy_ops`) and inside compiled steps (`keras_ops`) alike.

Definitions (those of `operating_points`, which computes the exact values on the host with
these same functions). Predicting positive when score >= s, let TP(s) and FP(s) be the positive
and negative mass at or above s, P and N the totals. The candidate cuts are the starts of the
non-empty groups and s = +inf (predict nothing: TP = FP = 0, precision 1 by scikit-learn's
convention, the last point of `precision_recall_curve`, the first of `roc_curve`). Among the
candidates meeting the constraint the value is maximised; of those reaching the maximum the one
best on the constrained metric is chosen (a unique cut). The threshold reported is the number
just below the chosen start (`strictly_below`): "positive when score > threshold", the
convention of the metrics' `threshold=` and of Keras, selects exactly the same scores:

| kind                         | maximises      | subject to          | ties go to the   |
|------------------------------|----------------|---------------------|------------------|
| "precision_at_recall"        | TP / (TP + FP) | TP / P >= c         | lowest threshold |
| "recall_at_precision"        | TP / P         | TP / (TP + FP) >= c | highest          |
| "sensitivity_at_specificity" | TP / P         | 1 - FP / N >= c     | highest          |
| "specificity_at_sensitivity" | 1 - FP / N     | TP / P >= c         | lowest           |

A constraint no finite threshold meets leaves t = +inf: value 0.0, threshold +inf (Keras' value
too). A problem without positives (any kind) or without negatives (the last two kinds) is
undefined: value and threshold NaN.

Binned mode: `bin_thresholds` gives each bin's smallest float32 score, so predicting positive
above the threshold reported (just below that start) selects exactly that bin and those above:
the binned value is the exact value at the threshold reported, an operating point that is
really achieved on the data (float32 scores). It can only miss thresholds inside bins:
binned <= exact <= binned + `operating_point_error_bound` (see there).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
from keras import ops

from epochmetrics._backend import host as _host
from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import divide, numpy_ops
from epochmetrics.functional import ranking_graph

__all__ = [
    "KINDS",
    "POINTS",
    "Kind",
    "Point",
    "bin_thresholds",
    "group_thresholds",
    "operating_point_error_bound",
    "operating_point_from_counts",
    "roc_auc_max_fpr_error_bound",
    "roc_auc_max_fpr_from_counts",
    "strictly_below",
]

Kind = Literal[
    "precision_at_recall",
    "recall_at_precision",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
]


class Point(NamedTuple):
    """One kind of operating point: the rate it maximises, the one it constrains (the metric's
    argument; the functions' is `min_<constraint>`), where ties go, and whether it is a
    point of the ROC curve (undefined without negatives as well as without positives)."""

    value: str
    constraint: str
    highest: bool  # ties go to the highest threshold (else the lowest)
    roc: bool


# The four kinds, the one table the functions, the metrics and their kernels read.
POINTS: dict[str, Point] = {
    "precision_at_recall": Point("precision", "recall", highest=False, roc=False),
    "recall_at_precision": Point("recall", "precision", highest=True, roc=False),
    "sensitivity_at_specificity": Point("sensitivity", "specificity", highest=True, roc=True),
    "specificity_at_sensitivity": Point("specificity", "sensitivity", highest=False, roc=True),
}
KINDS: tuple[str, ...] = tuple(POINTS)


def _cumulative(xp: Any, pos: Any, neg: Any) -> tuple[Any, Any, Any, Any]:
    """(TP, FP, P, N): `(K, G)` masses at or above each group, `(K, 1)` totals.

    The totals are the masses at or above the lowest group, the same sums: recall is exactly 1
    there, however the weights round (a constraint of 1.0 must stay reachable).
    """
    tp = xp.flip(xp.cumsum(xp.flip(pos, axis=-1), axis=-1), axis=-1)
    fp = xp.flip(xp.cumsum(xp.flip(neg, axis=-1), axis=-1), axis=-1)
    return tp, fp, tp[..., :1], fp[..., :1]


def _rates(xp: Any, kind: str, tp: Any, fp: Any, p: Any, n: Any) -> tuple[Any, Any]:
    """(value, constrained metric) at thresholds with masses `tp`, `fp` at or above."""
    recall = divide(xp, tp, p)
    if kind == "precision_at_recall":
        return _precision(xp, tp, fp), recall
    if kind == "recall_at_precision":
        return recall, _precision(xp, tp, fp)
    specificity = 1.0 - divide(xp, fp, n)
    if kind == "sensitivity_at_specificity":
        return recall, specificity
    return specificity, recall


def _precision(xp: Any, tp: Any, fp: Any) -> Any:
    return xp.where(tp + fp > 0.0, divide(xp, tp, tp + fp), xp.ones_like(tp))


def _defined(xp: Any, kind: str, p: Any, n: Any) -> Any:
    if not POINTS[kind].roc:
        return p > 0.0
    return xp.logical_and(p > 0.0, n > 0.0)


def _select(xp: Any, kind: str, pos: Any, neg: Any, constraint: float) -> tuple[Any, Any, Any]:
    """(K,) optimum, (K, G + 1) one-hot of the chosen candidate (column G is +inf), (K,) defined."""
    g = int(pos.shape[-1])
    tp, fp, p, n = _cumulative(xp, pos, neg)
    none = xp.zeros_like(p)
    tp = xp.concatenate([tp, none], axis=-1)  # (K, G + 1): column G is t = +inf
    fp = xp.concatenate([fp, none], axis=-1)
    candidate = xp.concatenate([pos + neg > 0.0, xp.ones_like(p) > 0.0], axis=-1)
    value, constrained = _rates(xp, kind, tp, fp, p, n)
    ok = xp.logical_and(candidate, constrained >= constraint)
    best = xp.max(xp.where(ok, value, -xp.ones_like(value)), axis=-1, keepdims=True)
    tie = xp.logical_and(ok, xp.equal(value, best))
    index = xp.arange(g + 1)  # integers: exact for any number of groups
    if POINTS[kind].highest:
        chosen = xp.max(xp.where(tie, index, -1), axis=-1, keepdims=True)
    else:
        chosen = -xp.max(xp.where(tie, -index, -(g + 1)), axis=-1, keepdims=True)
    one_hot = xp.equal(index, chosen)
    defined = xp.reshape(_defined(xp, kind, p, n), (-1,))
    return xp.reshape(best, (-1,)), one_hot, defined


def operating_point_from_counts(
    xp: Any,
    kind: str,
    pos: Any,
    neg: Any,
    thresholds: Any,
    constraint: float,
    *,
    scores: str = "float32",
) -> tuple[Any, Any]:
    """`(K, G)` ascending group masses -> `(K,)` values and `(K,)` thresholds achieving them.

    See the module docstring for the definition of each `kind`, the tie rule and the undefined
    cases (NaN value and threshold). The threshold reported is the largest `scores`-dtype
    number below the chosen group's start (`strictly_below`): "positive when score > t", as
    the metrics' own `threshold=` and Keras.

    Args:
        xp: `numpy_ops` or `keras_ops`.
        kind: One of `KINDS`.
        pos: `(K, G)` positive mass per group, ascending scores.
        neg: `(K, G)` negative mass per group.
        thresholds: `(G,)` or `(K, G)` score at which each group starts (`bin_thresholds`,
            `group_thresholds`); only those of non-empty groups are ever reported.
        constraint: The minimum of the constrained metric, in [0, 1].
        scores: The dtype the scores are compared in ("float32": the metrics; the host
            functions: their scores' dtype).

    Returns:
        `(values, thresholds)`, each `(K,)` in `pos`' dtype.

    Examples:
        >>> import numpy as np
        >>> from epochmetrics._backend.xp import numpy_ops
        >>> pos, neg = np.array([[0.0, 1, 0, 1]]), np.array([[1.0, 0, 1, 0]])
        >>> value, threshold = operating_point_from_counts(
        ...     numpy_ops, "precision_at_recall", pos, neg, np.array([0.1, 0.25, 0.4, 0.8]), 0.9)
        >>> float(value[0]), float(threshold[0])  # positive when score > 0.25 - 2**-26
        (0.6666666666666666, 0.2499999850988388)
    """
    value, one_hot, defined = _select(xp, kind, pos, neg, constraint)
    thr = xp.zeros_like(pos) + xp.cast(thresholds, pos.dtype)
    thr = xp.concatenate([thr, xp.zeros_like(thr[..., :1]) + float("inf")], axis=-1)
    chosen = xp.sum(xp.where(one_hot, thr, xp.zeros_like(thr)), axis=-1)
    chosen = xp.cast(strictly_below(xp, chosen, scores), value.dtype)
    nan = xp.cast(float("nan"), value.dtype)
    return xp.where(defined, value, nan), xp.where(defined, chosen, nan)


def strictly_below(xp: Any, t: Any, scores: str = "float32") -> Any:
    """The largest `scores`-dtype number below each group start `t` (infinities kept).

    A group starts at the smallest score it holds, so "score >= start" selects it and those
    above. The threshold reported is the number just below: "score > t" selects the same
    scores (none lies strictly between), which is the convention of the metrics' `threshold=`
    and of Keras; and since no score lies in (t, start), "score >= t" does too unless a score
    equals t itself (two adjacent float32 numbers both present). `t` holds `scores`-dtype
    values (float32 groups for the metrics); `keras_ops` handles float32 only.
    """
    if xp is numpy_ops:
        dtype = np.dtype(scores)
        x = np.asarray(t).astype(dtype)
        with np.errstate(all="ignore"):
            down = np.nextafter(x, dtype.type(-np.inf))
        return np.where(np.isfinite(x), down, x)
    x = ops.cast(t, "float32")
    bits = _backend.float_bits(x)
    # Sign and magnitude: below a positive number is one bit pattern down, below a negative
    # one a pattern up; below +-0.0 is the negative number of smallest magnitude.
    down = ops.where(x > 0.0, bits - 1, ops.where(x < 0.0, bits + 1, -(2**31) + 1))
    return ops.where(ops.isfinite(x), _backend.float_from_bits(down), x)


def operating_point_error_bound(xp: Any, kind: str, pos: Any, neg: Any, constraint: float) -> Any:
    """`(K, G)` binned masses -> `(K,)` bound: binned <= exact <= binned + bound.

    Any threshold s inside bin b has TP(s) in [A, T] and FP(s) in [B, F], where T, F are the
    masses at or above the bin's start and A, B those above the bin. So over the thresholds
    of bin b the constraint can hold only if its most favourable corner meets it, and the value
    is at most (with c the constraint):

    - precision at recall: T / (T + B), if T / P >= c;
    - recall at precision: T / P, if T / (T + B) >= c;
    - sensitivity at specificity: T / P, if 1 - B / N >= c;
    - specificity at sensitivity: 1 - B / N, if T / P >= c.

    The exact optimum is at most the largest of these over non-empty bins (and the binned
    value), the bound is that minus the binned value. Since a neighbouring bin start is always
    a binned candidate, this is at most max_b P_b / P for sensitivity at specificity,
    max_b N_b / N for specificity at sensitivity and max_b N_b / (T_b + F_b) for precision at
    recall (P_b, N_b: the bin's masses): each bin's share of the data. Recall at precision has
    no such a-priori bound (a precision constraint may be met inside one bin only), but the
    computed bound holds all the same. NaN where the value is undefined.

    Examples:
        >>> import numpy as np
        >>> from epochmetrics._backend.xp import numpy_ops
        >>> pos, neg = np.array([[0.0, 2, 1]]), np.array([[2.0, 1, 0]])
        >>> b = operating_point_error_bound(numpy_ops, "sensitivity_at_specificity", pos, neg, 0.9)
        >>> round(float(b[0]), 6)
        0.666667
    """
    value, _, defined = _select(xp, kind, pos, neg, constraint)
    t, f, p, n = _cumulative(xp, pos, neg)
    b = f - neg  # negative mass above each bin
    best_precision = _precision(xp, t, b)
    if kind == "precision_at_recall":
        upper, possible = best_precision, divide(xp, t, p) >= constraint
    elif kind == "recall_at_precision":
        upper, possible = divide(xp, t, p), best_precision >= constraint
    elif kind == "sensitivity_at_specificity":
        upper, possible = divide(xp, t, p), 1.0 - divide(xp, b, n) >= constraint
    else:
        upper, possible = 1.0 - divide(xp, b, n), divide(xp, t, p) >= constraint
    counted = xp.logical_and(pos + neg > 0.0, possible)
    top = xp.max(xp.where(counted, upper, -xp.ones_like(upper)), axis=-1)
    gap = top - value
    bound = xp.where(gap > 0.0, gap, xp.zeros_like(gap))
    return xp.where(defined, bound, xp.cast(float("nan"), bound.dtype))


def _segments(xp: Any, pos: Any, neg: Any, max_fpr: float) -> tuple[Any, ...]:
    """ROC segment of each group (ties: a straight line), clipped to fpr <= max_fpr."""
    tp, fp, p, n = _cumulative(xp, pos, neg)
    x0, x1 = divide(xp, fp - neg, n), divide(xp, fp, n)
    y0, y1 = divide(xp, tp - pos, p), divide(xp, tp, p)
    inside = x1 <= max_fpr
    width = xp.where(x0 < max_fpr, xp.where(inside, x1, max_fpr + xp.zeros_like(x1)) - x0, 0.0)
    slope = divide(xp, y1 - y0, x1 - x0)
    y_end = xp.where(inside, y1, y0 + slope * width)
    return p, n, x0, x1, y0, y1, width, y_end


def _mcclish(xp: Any, partial_area: Any, max_fpr: float) -> Any:
    """scikit-learn's standardisation: 0.5 for a chance curve, 1.0 for a perfect one."""
    low = 0.5 * max_fpr**2
    return 0.5 * (1.0 + (partial_area - low) / (max_fpr - low))


def roc_auc_max_fpr_from_counts(xp: Any, pos: Any, neg: Any, max_fpr: float) -> Any:
    """`(K, G)` ascending group masses -> `(K,)` standardized partial ROC-AUC; NaN if undefined.

    scikit-learn's `roc_auc_score(max_fpr=m)`: the area A under the ROC curve (ties joined by a
    straight line) for FPR in [0, m], the curve cut at m by linear interpolation, then McClish's
    correction 0.5 * (1 + (A - m^2 / 2) / (m - m^2 / 2)). With m = 1 it is the ROC-AUC.

    Examples:
        >>> import numpy as np
        >>> from epochmetrics._backend.xp import numpy_ops
        >>> pos, neg = np.array([[0.0, 1, 0, 1]]), np.array([[1.0, 0, 1, 0]])
        >>> round(float(roc_auc_max_fpr_from_counts(numpy_ops, pos, neg, 0.5)[0]), 6)
        0.666667
    """
    p, n, _, _, y0, _, width, y_end = _segments(xp, pos, neg, max_fpr)
    area = xp.sum(width * (y0 + y_end), axis=-1) * 0.5
    value = _mcclish(xp, area, max_fpr)
    defined = xp.reshape(xp.logical_and(p > 0.0, n > 0.0), (-1,))
    return xp.where(defined, value, xp.cast(float("nan"), value.dtype))


def roc_auc_max_fpr_error_bound(xp: Any, pos: Any, neg: Any, max_fpr: float) -> Any:
    """`(K, G)` binned masses -> `(K,)` bound on |binned - exact| standardized partial AUC.

    Within a bin of width w = N_b / N and height h = P_b / P the exact curve is some monotone
    path across the bin's box, the binned one its diagonal. Over the part [x0, x0 + c] of the
    bin below max_fpr they enclose areas differing by at most h * c * (1 - c / (2 w)) (h * w / 2
    for a whole bin); the sum over bins, times McClish's slope 1 / (2 m - m^2).

    Examples:
        >>> import numpy as np
        >>> from epochmetrics._backend.xp import numpy_ops
        >>> pos, neg = np.array([[0.0, 1, 0, 1]]), np.array([[1.0, 0, 1, 0]])
        >>> float(roc_auc_max_fpr_error_bound(numpy_ops, pos, neg, 0.5)[0])
        0.0
    """
    p, n, x0, x1, _, _, width, _ = _segments(xp, pos, neg, max_fpr)
    h = divide(xp, pos, p)
    spread = h * width * (1.0 - 0.5 * divide(xp, width, x1 - x0))
    value = xp.sum(spread, axis=-1) / (2.0 * max_fpr - max_fpr**2)
    defined = xp.reshape(xp.logical_and(p > 0.0, n > 0.0), (-1,))
    return xp.where(defined, value, xp.cast(float("nan"), value.dtype))


# --- thresholds of the groups ------------------------------------------------------------------
def group_thresholds(scores: Any) -> Any:
    """Exact mode: `(n, K)` scores -> `(K, n)` distinct scores, aligned with `group_counts`.

    Group j of column k (the j-th distinct score, ascending) gets that score; the groups past
    the number of distinct scores are empty and get 0.0 (never reported). `keras.ops` only.
    """
    n, k = int(scores.shape[0]), int(scores.shape[1])
    s = ops.sort(scores, axis=0)
    new = ops.concatenate(
        [ops.ones((1, k), dtype="bool"), ops.not_equal(s[1:], s[:-1])], axis=0
    )  # (n, K): first of its group
    group = (
        ops.cumsum(ops.cast(new, "int32"), axis=0, dtype="int32")
        - 1
        + ops.expand_dims(ops.arange(k, dtype="int32") * n, 0)
    )
    firsts = ops.where(new, s, ops.zeros_like(s))  # one contribution per group: exact
    out = _backend.scatter_add(ops.reshape(firsts, (-1,)), ops.reshape(group, (-1,)), k * n)
    return ops.reshape(out, (k, n))


def _ordered_keys(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the same order (-0.0 and 0.0 share key 0)."""
    bits = x.astype(np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def _from_keys(keys: np.ndarray) -> np.ndarray:
    bits = np.where(keys < 0, (-keys) | 0x80000000, keys).astype(np.uint32)
    return bits.view(np.float32)


def bin_thresholds(bins_per_octave: int, *, logits: bool) -> np.ndarray:
    """The smallest float32 score of each bin of `ranking_graph.score_bins`, `(bin_count,)`.

    For every float32 score s and bin b: score_bins(s) >= b exactly when s >= thresholds[b], so
    "predict positive at thresholds[b]" counts bins b and above. Found by bisection on the
    float32 numbers with `score_bins` itself (eager `keras.ops`), so the two agree bit for bit
    on the backend in use. Probabilities (`logits=False`) bin through exact float32 arithmetic;
    logits go through the backend's float32 sigmoid and tanh, so a logit within a few ulps of a
    threshold may bin differently on another backend or device. Bins no float32 score reaches
    share the next bin's threshold (they are always empty). Bin 0 starts at 0.0 (probabilities)
    or -inf (logits). Compute once per metric (about 30 eager passes over the bins).

    Examples:
        >>> t = bin_thresholds(1, logits=False)
        >>> float(t[0]), float(t[-1]), bool((t[1:] >= t[:-1]).all())
        (0.0, 1.0, True)
    """
    g = ranking_graph.bin_count(bins_per_octave)
    target = np.arange(g)
    ends = np.array([-np.inf, np.inf] if logits else [0.0, 1.0], dtype=np.float32)
    low_key, high_key = _ordered_keys(ends)
    # Invariant: bin(hi) >= target; bin(lo) < target, or lo is below the domain.
    lo = np.full(g, low_key - 1, dtype=np.int64)
    hi = np.full(g, high_key, dtype=np.int64)
    while np.any(hi - lo > 1):
        mid = lo + (hi - lo) // 2
        bins = ranking_graph.score_bins(
            _from_keys(mid), logits=logits, bins_per_octave=bins_per_octave
        )
        reached = _host.to_numpy(bins) >= target
        active = hi - lo > 1  # rows already found stay put
        hi = np.where(active & reached, mid, hi)
        lo = np.where(active & ~reached, mid, lo)
    return _from_keys(hi).astype(np.float64)
