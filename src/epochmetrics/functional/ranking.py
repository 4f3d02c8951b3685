"""Exact ranking metrics on the host: ROC-AUC, average precision and their curves.

Pure NumPy (sums and results in float64; float32 scores are sorted as float32, and so are
float16 and bfloat16 scores, widened to float32 exactly), for whole arrays (an epoch's
predictions): the epoch-end evaluator, the plots and `evaluate_arrays` of the ranking metrics
use these. Inputs may be NumPy arrays (ml_dtypes' bfloat16 included) or tensors of any
framework. Results equal scikit-learn's `roc_auc_score`, `average_precision_score`, `roc_curve`
and `precision_recall_curve`, tied scores included, for every task and average.

ROC-AUC is the probability that a positive outranks a negative, ties counting one half:

    AUC = sum_i w_i * (N(s < s_i) + N(s = s_i) / 2) / (P * N)   over positives i,

where P and N are the total (weighted) positive and negative mass. Average precision is the
step-wise area under the precision-recall curve, each distinct score a threshold:

    AP = sum_i w_i * precision(s >= s_i) / P                     over positives i.

Both need only the positives' and the negatives' scores sorted separately, then one
`searchsorted` per side: two half-size sorts instead of scikit-learn's full stable argsort,
cumulative sums and curve construction.

Undefined cases follow scikit-learn and warn with `UndefinedMetricWarning` (never raise): ROC-AUC
is NaN when `y_true` holds one class only; average precision is 0.0 without positives (1.0
without negatives). Averages propagate NaN like scikit-learn's.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, NamedTuple

import numpy as np

from epochmetrics._backend import host as _host
from epochmetrics.functional._format import TaskSpec, check_average, make_spec, shape_error

__all__ = [
    "UndefinedMetricWarning",
    "average_precision",
    "precision_recall_curve",
    "roc_auc",
    "roc_curve",
]

Task = Literal["binary", "multiclass", "multilabel"]
RankingAverage = Literal["micro", "macro", "weighted"] | None
Curve = tuple[np.ndarray, np.ndarray, np.ndarray]


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for the data given (e.g. ROC-AUC with a single class in y_true).

    The metric returns scikit-learn's value for that case (NaN, or 0.0 for average precision
    without positives) instead of raising, so an epoch never ends in an exception.
    """


class Columns(NamedTuple):
    """Validated inputs as K binary problems (binary: K = 1): float32/64 scores, bool targets."""

    scores: np.ndarray  # (n, K)
    targets: np.ndarray  # (n, K) bool
    weights: np.ndarray | None  # (n, K) float64, or None for all ones


def roc_auc(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> Any:
    """Exact area under the ROC curve, as scikit-learn's `roc_auc_score`.

    The probability that a random positive scores higher than a random negative, ties counting
    one half (the Mann-Whitney U statistic, normalised). Multiclass is one-vs-rest.

    Args:
        y_true: Binary `(n,)` 0/1 labels; multiclass `(n,)` integer labels or `(n, C)` one-hot;
            multilabel `(n, L)` 0/1.
        y_score: Binary `(n,)` scores; multiclass and multilabel `(n, C)`. Any finite real
            values (probabilities, logits, decision values).
        task: "binary", "multiclass" or "multilabel".
        num_classes: Number of classes or labels (multiclass, multilabel).
        average: "macro" (unweighted mean over classes), "weighted" (by positive support),
            "micro" (all class/sample pairs pooled) or None (one value per class). Ignored
            for binary.
        sample_weight: `(n,)` non-negative sample weights.
        from_logits: Multiclass only: apply softmax to `y_score` first. (Sigmoid does not
            change a ranking, so binary and multilabel scores are used as given.)
        ignore_index: Label value whose samples (multilabel: elements) are left out.

    Returns:
        A Python float, or with `average=None` a float64 array of shape `(C,)` (a float when
        C = 1). NaN, with an `UndefinedMetricWarning`, for classes whose `y_true` holds a
        single class.

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import roc_auc
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
        >>> roc_auc([0, 1, 2, 2], [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7],
        ...         [0.3, 0.3, 0.4]], task="multiclass", num_classes=3)
        1.0
    """
    spec, average = _check_args(task, num_classes, average, from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    return _reduce(cols, average, _binary_roc_auc, "roc_auc")


def average_precision(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> Any:
    """Exact average precision, as scikit-learn's `average_precision_score`.

    AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds, with precision P_n and
    recall R_n at the n-th threshold: no interpolation. Multilabel with `average="macro"` is
    the mean average precision (mAP). Multiclass is one-vs-rest.

    Args:
        y_true: Binary `(n,)` 0/1 labels; multiclass `(n,)` integer labels or `(n, C)` one-hot;
            multilabel `(n, L)` 0/1.
        y_score: Binary `(n,)` scores; multiclass and multilabel `(n, C)`.
        task: "binary", "multiclass" or "multilabel".
        num_classes: Number of classes or labels (multiclass, multilabel).
        average: "macro", "weighted", "micro" or None, as in `roc_auc`.
        sample_weight: `(n,)` non-negative sample weights.
        from_logits: Multiclass only: apply softmax to `y_score` first.
        ignore_index: Label value whose samples (multilabel: elements) are left out.

    Returns:
        A Python float, or with `average=None` a float64 array of shape `(C,)` (a float when
        C = 1). A class without positives scores 0.0, with an `UndefinedMetricWarning`
        (scikit-learn's value).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import average_precision
        >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
        0.8333
        >>> average_precision([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.1, 0.8], [0.6, 0.7]],
        ...                   task="multilabel", num_classes=2)
        1.0
    """
    spec, average = _check_args(task, num_classes, average, from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    return _reduce(cols, average, _binary_average_precision, "average_precision")


def roc_curve(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
    drop_intermediate: bool = True,
) -> Any:
    """Receiver operating characteristic curve, as scikit-learn's `roc_curve`.

    Args:
        y_true: Labels, as in `roc_auc`.
        y_score: Scores, as in `roc_auc`.
        task: "binary", "multiclass" (one curve per class, one-vs-rest) or "multilabel".
        num_classes: Number of classes or labels (multiclass, multilabel).
        sample_weight: `(n,)` sample weights.
        from_logits: Multiclass only: apply softmax to `y_score` first.
        ignore_index: Label value whose samples (multilabel: elements) are left out.
        drop_intermediate: Drop thresholds that are collinear on the curve (they do not
            change its shape or area).

    Returns:
        Binary: `(fpr, tpr, thresholds)`, float64 arrays; `thresholds[0]` is `inf` and the
        thresholds decrease. Multiclass and multilabel: a list with one such tuple per class.
        Rates are NaN, with an `UndefinedMetricWarning`, when a class has no negatives
        (fpr) or no positives (tpr).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import roc_curve
        >>> fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> [float(x) for x in fpr], [float(x) for x in tpr]
        ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    spec, _ = _check_args(task, num_classes, "macro", from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    curves = [
        _binary_roc_curve(*_column(cols, k), drop_intermediate) for k in range(cols.scores.shape[1])
    ]
    return curves[0] if spec.task == "binary" else curves


def precision_recall_curve(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
    drop_intermediate: bool = False,
) -> Any:
    """Precision-recall pairs for every threshold, as scikit-learn's `precision_recall_curve`.

    Args:
        y_true: Labels, as in `roc_auc`.
        y_score: Scores, as in `roc_auc`.
        task: "binary", "multiclass" (one curve per class, one-vs-rest) or "multilabel".
        num_classes: Number of classes or labels (multiclass, multilabel).
        sample_weight: `(n,)` sample weights.
        from_logits: Multiclass only: apply softmax to `y_score` first.
        ignore_index: Label value whose samples (multilabel: elements) are left out.
        drop_intermediate: Drop thresholds where recall does not change (they do not change
            the step-wise area).

    Returns:
        Binary: `(precision, recall, thresholds)` with increasing thresholds; precision ends
        with 1.0 and recall with 0.0, which have no threshold. Multiclass and multilabel: a
        list with one such tuple per class. Without positives recall is 1.0 everywhere, with
        an `UndefinedMetricWarning`.

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import precision_recall_curve
        >>> curve = precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> precision, recall, thresholds = curve
        >>> [round(float(p), 4) for p in precision]
        [0.5, 0.6667, 0.5, 1.0, 1.0]
        >>> [float(r) for r in recall]
        [1.0, 1.0, 0.5, 0.5, 0.0]
    """
    spec, _ = _check_args(task, num_classes, "macro", from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    curves = [
        _binary_pr_curve(*_column(cols, k), drop_intermediate) for k in range(cols.scores.shape[1])
    ]
    return curves[0] if spec.task == "binary" else curves


# --- validation and input preparation --------------------------------------------------------
def _check_args(
    task: Any, num_classes: Any, average: Any, from_logits: Any, ignore_index: Any
) -> tuple[TaskSpec, RankingAverage]:
    spec = make_spec(task, num_classes, 0.5, from_logits, ignore_index)
    return spec, check_ranking_average(average, spec.task)


def check_ranking_average(average: Any, task: str) -> RankingAverage:
    """`average` for ranking: 'micro', 'macro', 'weighted' or None (binary: also 'binary')."""
    value = check_average(average, task)
    return None if value == "binary" else value  # type: ignore[return-value]


def _to_numpy(x: Any) -> np.ndarray:
    """Any array or tensor as NumPy; float16/bfloat16 become float32 (exact, ties kept)."""
    return np.asarray(_host.to_numpy(x))


def _is_vector(a: np.ndarray) -> bool:
    return a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)


def _bad_values(spec: TaskSpec, what: str, values: np.ndarray) -> ValueError:
    found = np.unique(values)
    shown = ", ".join(str(v.item()) for v in found[:5]) + (", ..." if found.size > 5 else "")
    skipped = "" if spec.ignore_index is None else f" (ignore_index={spec.ignore_index} is skipped)"
    return ValueError(
        f"task={spec.task!r} expects y_true values to be {what}{skipped}. "
        f"Received {values.size} invalid value(s): {shown}."
    )


def prepare(spec: TaskSpec, y_true: Any, y_score: Any, sample_weight: Any = None) -> Columns:
    """Validate whole arrays and return them as K binary problems (see `Columns`)."""
    yt, ys = _to_numpy(y_true), _to_numpy(y_score)
    if ys.dtype.kind not in "fiub":
        raise ValueError(f"y_score must hold numbers. Received dtype {ys.dtype}.")
    n = ys.shape[0] if ys.ndim else 0
    c = spec.num_classes
    if spec.task == "binary":
        if not (_is_vector(yt) and _is_vector(ys)):
            raise shape_error(spec, yt, ys, pred="y_score", n="n", scores="scores")
        yt, ys = yt.reshape(-1, 1), ys.reshape(-1, 1)
    elif spec.task == "multilabel":
        if yt.ndim != 2 or ys.ndim != 2 or yt.shape[1] != c or ys.shape[1] != c:
            raise shape_error(spec, yt, ys, pred="y_score", n="n", scores="scores")
    elif ys.ndim != 2 or ys.shape[1] != c or not (_is_vector(yt) or yt.shape[1:] == (c,)):
        raise shape_error(spec, yt, ys, pred="y_score", n="n", scores="scores")
    if yt.shape[0] != n:
        raise ValueError(
            "y_true and y_score must have the same number of samples. "
            f"Received: y_true.shape={yt.shape}, y_score.shape={ys.shape}."
        )
    w = None
    if sample_weight is not None:
        w = _to_numpy(sample_weight).astype(np.float64)
        if not _is_vector(w) or w.shape[0] != n:
            raise ValueError(
                "`sample_weight` must have shape (n,) matching y_true. "
                f"Received: sample_weight.shape={w.shape}, y_true.shape={yt.shape}."
            )
        w = w.reshape(-1)
        if not np.all(np.isfinite(w)):
            raise ValueError("`sample_weight` must be finite. Received NaN or infinite weights.")

    # float32 stays float32 (what models output: sorts twice as fast; float16 and bfloat16 were
    # widened to it, exactly); other dtypes -> float64.
    scores = ys if ys.dtype in (np.float32, np.float64) else ys.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        bad = int(np.sum(~np.isfinite(scores)))
        raise ValueError(
            f"y_score must be finite. Received {bad} NaN or infinite value(s); check the model "
            "(its loss is probably NaN too)."
        )
    if spec.task == "multiclass":
        targets, keep = _multiclass_targets(spec, yt)
        if spec.from_logits:
            z = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
            e = np.exp(z)
            scores = e / e.sum(axis=1, keepdims=True)
    else:
        targets, keep = _binary_targets(spec, yt)

    if spec.task == "multilabel" and spec.ignore_index is not None and not keep.all():
        # Element-wise removal: weight 0 where the label is ignored.
        weights = (np.ones((n, 1)) if w is None else w[:, None]) * keep
        return Columns(scores, targets & keep, weights)
    if keep.ndim == 1 and not keep.all():
        scores, targets = scores[keep], targets[keep]
        w = None if w is None else w[keep]
    weights = None if w is None else np.broadcast_to(w[:, None], scores.shape)
    return Columns(scores, targets, weights)


def _binary_targets(spec: TaskSpec, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels (any numeric or bool dtype) -> (bool targets, mask of counted entries)."""
    keep = np.ones(yt.shape, dtype=bool)
    if spec.ignore_index is not None:
        keep = yt != spec.ignore_index
    ok = (yt == 0) | (yt == 1)
    if not np.all(ok | ~keep):
        raise _bad_values(spec, "0 or 1", yt[~ok & keep])
    targets = yt == 1
    if spec.task == "binary":
        return targets, keep.reshape(-1)
    return targets, keep


def _multiclass_targets(spec: TaskSpec, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels or one-hot rows -> ((n, C) bool one-hot, (n,) mask of counted samples)."""
    c = spec.num_classes
    if not _is_vector(yt):
        bad = ~(yt.max(axis=1) > 0)
        if bad.any():
            raise ValueError(
                "task='multiclass' expects one-hot y_true rows with a positive entry. "
                f"Received {int(bad.sum())} row(s) with none."
            )
        labels = yt.argmax(axis=1)
        keep = np.ones(labels.shape, dtype=bool)
    else:
        raw = yt.reshape(-1)
        keep = np.ones(raw.shape, dtype=bool)
        if spec.ignore_index is not None:
            keep = raw != spec.ignore_index
        ok = (raw == np.floor(raw)) & (raw >= 0) & (raw < c) if raw.dtype.kind == "f" else None
        if ok is None:
            ok = (raw >= 0) & (raw < c)
        if not np.all(ok | ~keep):
            raise _bad_values(spec, f"integers in [0, num_classes={c})", raw[~ok & keep])
        labels = np.where(keep, raw, 0).astype(np.int64)
    return labels[:, None] == np.arange(c)[None, :], keep


def _column(cols: Columns, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    w = None if cols.weights is None else np.ascontiguousarray(cols.weights[:, k])
    return np.ascontiguousarray(cols.targets[:, k]), np.ascontiguousarray(cols.scores[:, k]), w


# --- averaging --------------------------------------------------------------------------------
def _reduce(cols: Columns, average: RankingAverage, binary: Any, what: str) -> Any:
    """Apply a binary metric per class (or pooled for micro) and average like scikit-learn."""
    k = cols.scores.shape[1]
    if k == 1 or average == "micro":
        w = None if cols.weights is None else cols.weights.reshape(-1)
        value, undefined = binary(cols.targets.reshape(-1), cols.scores.reshape(-1), w)
        _warn_undefined(what, [None] if undefined else [])
        return value
    results = [binary(*_column(cols, i)) for i in range(k)]
    values = np.array([r[0] for r in results], dtype=np.float64)
    _warn_undefined(what, [i for i, r in enumerate(results) if r[1]])
    if average is None:
        return values
    if average == "weighted":
        w = cols.weights
        support = (cols.targets * (1.0 if w is None else w)).sum(axis=0)
        total = support.sum()
        if np.isclose(total, 0.0):
            return 0.0
        # A class with zero support does not count, even when its value is NaN.
        return float(np.sum(np.where(support == 0, 0.0, values) * support) / total)
    return float(np.mean(values))


def _warn_undefined(what: str, classes: list[Any]) -> None:
    if not classes:
        return
    where = "" if classes == [None] else f" for class(es) {classes}"
    if what == "roc_auc":
        msg = (
            f"ROC-AUC is undefined{where}: y_true holds only one class (no positive or no "
            "negative samples). Returning NaN, as scikit-learn does."
        )
    else:
        msg = (
            f"Average precision{where} has no positive samples in y_true. Returning 0.0 "
            "there, as scikit-learn does."
        )
    warnings.warn(msg, UndefinedMetricWarning, stacklevel=4)


# --- binary kernels -----------------------------------------------------------------------------
def _argsort(s: np.ndarray) -> np.ndarray:
    """Ascending order of `s` (ties in any order).

    For float32 scores (what Keras models output) the score's order-preserving 32-bit key and
    the sample index are packed into one uint64 and sorted by value, which NumPy does with SIMD
    and is about twice as fast as `np.argsort`.
    """
    if s.dtype != np.float32 or s.size >= 2**32:
        return np.argsort(s)
    bits = s.view(np.uint32)
    key = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000)).astype(np.uint64)
    key <<= np.uint64(32)
    key |= np.arange(s.size, dtype=np.uint64)
    key.sort()
    return (key & np.uint64(0xFFFFFFFF)).astype(np.intp)


def _groups(t: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weight per distinct score, by ascending score (float64)."""
    if s.size == 0:
        return np.zeros(0), np.zeros(0)
    order = _argsort(s)
    ss, tt, ww = s[order], t[order], w[order].astype(np.float64, copy=False)
    start = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    return np.add.reduceat(np.where(tt, ww, 0.0), start), np.add.reduceat(
        np.where(tt, 0.0, ww), start
    )


def _binary_roc_auc(t: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> tuple[float, bool]:
    """(AUC, undefined) for one binary problem."""
    if w is None:
        pos, neg = np.sort(s[t]), np.sort(s[~t])
        p, n = float(pos.size), float(neg.size)
        # Negatives strictly below, and below or tied with, each positive. Sorted keys make
        # searchsorted walk forward instead of bisecting from scratch. Integer sums are exact.
        lt = np.searchsorted(neg, pos, side="left").sum(dtype=np.int64)
        le = np.searchsorted(neg, pos, side="right").sum(dtype=np.int64)
        num = float(lt + le)
    else:
        gp, gn = _groups(t, s, w)
        p, n = float(gp.sum()), float(gn.sum())
        below = np.cumsum(gn) - gn  # negative mass strictly below each distinct score
        num = float(np.dot(gp, 2.0 * below + gn))
    if p <= 0 or n <= 0:
        return float("nan"), True
    return num / (2.0 * p * n), False


def _binary_average_precision(
    t: np.ndarray, s: np.ndarray, w: np.ndarray | None
) -> tuple[float, bool]:
    """(AP, undefined) for one binary problem."""
    if w is None:
        pos, neg = np.sort(s[t]), np.sort(s[~t])
        p = float(pos.size)
        tp = pos.size - np.searchsorted(pos, pos, side="left")  # positives scoring >= each
        fp = neg.size - np.searchsorted(neg, pos, side="left")
        total = float(np.sum(tp / (tp + fp)))
    else:
        gp, gn = _groups(t, s, w)
        p = float(gp.sum())
        tp = np.cumsum(gp[::-1])[::-1]  # mass scoring >= each distinct score
        fp = np.cumsum(gn[::-1])[::-1]
        ok = gp > 0  # zero-weight positives define no threshold
        total = float(np.sum(gp[ok] * tp[ok] / (tp[ok] + fp[ok])))
    if p <= 0:
        return 0.0, True
    return total / p, False


def _thresholds(
    t: np.ndarray, s: np.ndarray, w: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fps, tps, thresholds) at each distinct score, descending, as scikit-learn computes them."""
    if w is not None:
        nz = w != 0
        t, s, w = t[nz], s[nz], w[nz]
    order = np.argsort(s, kind="stable")[::-1]
    s, t = s[order], t[order].astype(np.float64)
    idx = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if s.size else np.zeros(0, dtype=np.int64)
    if w is None:
        tps = np.cumsum(t)[idx]
        fps = 1.0 + idx - tps
    else:
        w = w[order]
        tps = np.cumsum(t * w)[idx]
        fps = np.cumsum((1.0 - t) * w)[idx]
    return fps, tps, s[idx]


def _binary_roc_curve(t: np.ndarray, s: np.ndarray, w: np.ndarray | None, drop: bool) -> Curve:
    fps, tps, thr = _thresholds(t, s, w)
    if drop and fps.size > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    thr = np.r_[np.inf, thr.astype(np.float64)]
    if fps[-1] <= 0:
        warnings.warn(
            "No negative samples in y_true: the false positive rate is undefined (NaN).",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / fps[-1]
    if tps[-1] <= 0:
        warnings.warn(
            "No positive samples in y_true: the true positive rate is undefined (NaN).",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        tpr = np.full(tps.shape, np.nan)
    else:
        tpr = tps / tps[-1]
    return fpr, tpr, thr


def _binary_pr_curve(t: np.ndarray, s: np.ndarray, w: np.ndarray | None, drop: bool) -> Curve:
    fps, tps, thr = _thresholds(t, s, w)
    if drop and fps.size > 2:
        keep = np.r_[True, np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:])), True]
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    ps = tps + fps
    precision = np.divide(tps, ps, out=np.zeros_like(tps), where=ps != 0)
    if tps.size == 0 or tps[-1] == 0:
        warnings.warn(
            "No positive samples in y_true: recall is set to 1.0 for all thresholds.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        recall = np.ones_like(tps)
    else:
        recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thr[::-1]
