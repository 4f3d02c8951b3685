"""One batch -> per-class sums, in one fused pass, with `keras.ops` only.

A batch becomes a flat vector of sums: int32 counts for an unweighted batch (exact to 2**31
per cell), weighted sums in float64 where float64 exists (exact for integer weights up to
2**53; float32 inside compiled steps of 32-bit JAX, see `_backend.float64_available`). Sums
add, so an epoch's state is the sum of its batches' vectors, whatever the batch partition, and
shards merge by addition. The layouts (`stat_scores_layout`, `confusion_matrix_layout`), for
C classes (binary: C = 2) or L labels:

binary / multiclass  `tp (C) | predicted (C) | support (C) | [abs_err, sq_err] | invalid (3)`
multilabel           `tp (L) | predicted (L) | support (L) | tn (L) | exact | samples | invalid`
confusion matrix     `matrix (C*C, row = true class) | invalid (3)`

`invalid` counts the y_true values, y_pred values and sample weights that could not be valid
(see `_format`). The two ordinal sums (of w |t - p| and w (t - p)^2) are kept only for
weighted Cohen's kappa. `exact` and `samples` give multilabel subset accuracy. All counts are
weighted by `sample_weight` (1 when absent).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import keras
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics.functional._args import TaskSpec
from epochmetrics.functional._format import format_batch
from epochmetrics.functional._layout import Layout

__all__ = [
    "Counts",
    "confusion_matrix_layout",
    "confusion_matrix_update",
    "stat_scores_layout",
    "stat_scores_update",
    "top_k_update",
    "unpack_stat_scores",
]


@functools.cache
def stat_scores_layout(spec: TaskSpec, ordinal: bool = False) -> Layout:
    c = spec.num_classes
    if spec.task == "multilabel":
        return Layout(tp=c, predicted=c, support=c, tn=c, exact=1, samples=1)
    if ordinal:
        return Layout(tp=c, predicted=c, support=c, abs_err=1, sq_err=1)
    return Layout(tp=c, predicted=c, support=c)


def _sum0(x: Any) -> Any:
    return ops.sum(x, axis=0)


def stat_scores_update(
    spec: TaskSpec,
    ordinal: bool,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> Any:
    """Sums for one batch, laid out as `stat_scores_layout(spec, ordinal)` (int32 counts, or
    weighted sums in `_backend.wide_float()`)."""
    x = format_batch(spec, y_true, y_pred, sample_weight, check=check)
    layout = stat_scores_layout(spec, ordinal)
    c = spec.num_classes
    w = x.weight  # int32 0/1, or float weights
    dtype = keras.backend.standardize_dtype(w.dtype)
    if spec.task == "multilabel":
        t, p = ops.cast(x.y_true, dtype), ops.cast(x.y_pred, dtype)  # (B, L)
        tw = t * w
        counted = w > 0
        row_counted = ops.cast(ops.any(counted, axis=-1), dtype)  # any label of the sample counts
        wrong = ops.any(ops.logical_and(ops.not_equal(t, p), counted), axis=-1)
        sw = x.sample_weight * row_counted
        return layout.pack(
            dtype,
            tp=_sum0(tw * p),
            predicted=_sum0(p * w),
            support=_sum0(tw),
            # tn summed directly rather than derived from a count: no cancellation.
            tn=_sum0((1 - t) * (1 - p) * w),
            exact=ops.sum(sw * ops.cast(ops.logical_not(wrong), dtype)),
            samples=ops.sum(sw),
            invalid=x.invalid,
        )
    t, p = x.y_true, x.y_pred
    hit = ops.cast(ops.equal(t, p), "int32")
    # Bins [2k] = missed samples of class k, [2k+1] = hits of class k, [2C + k] = predicted k.
    index = ops.concatenate([2 * t + hit, 2 * c + p])
    sums = _backend.scatter_add(ops.concatenate([w, w]), index, 3 * c)
    tp = sums[1 : 2 * c : 2]
    parts = {"tp": tp, "predicted": sums[2 * c :], "support": sums[0 : 2 * c : 2] + tp}
    if ordinal:
        d = ops.cast(t - p, dtype)
        parts.update(abs_err=ops.sum(w * ops.abs(d)), sq_err=ops.sum(w * d * d))
    return layout.pack(dtype, **parts, invalid=x.invalid)


def top_k_update(
    spec: TaskSpec,
    k: int,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> Any:
    """Multiclass sums with the k highest-scoring classes of each row as its predictions,
    laid out as `stat_scores_layout(spec)`: tp = rows whose class is among them, predicted =
    rows that have the class among them (k per row), support as usual.

    Ties at the k-th score go to the lower class index, as argmax takes the first maximum:
    top_k=1 predicts what the default argmax predicts, and the k sets are nested.
    (scikit-learn's `top_k_accuracy_score` gives them to the higher index, so its k=1 can
    differ from its own `accuracy_score` on tied scores.)
    """
    x = format_batch(
        spec, y_true, y_pred, sample_weight, scores=True, real_scores=True, check=check
    )
    scores, t, w = x.y_pred, x.y_true, x.weight  # (N, C), (N,), (N,)
    c = spec.num_classes
    kth = ops.expand_dims(ops.min(ops.top_k(scores, k, sorted=False)[0], axis=-1), -1)  # (N, 1)
    above = scores > kth
    tied = ops.equal(scores, kth)
    # Slots left for the tied scores, filled from the lowest class index up.
    room = k - ops.sum(ops.cast(above, "int32"), axis=-1, keepdims=True)
    tied_before = ops.cumsum(ops.cast(tied, "int32"), axis=-1)  # ties at or below each class
    chosen = ops.logical_or(above, ops.logical_and(tied, tied_before <= room))  # (N, C)
    dtype = keras.backend.standardize_dtype(w.dtype)
    hot = ops.equal(ops.expand_dims(t, -1), ops.arange(c, dtype="int32"))
    wc = ops.expand_dims(w, -1)
    layout = stat_scores_layout(spec)
    return layout.pack(
        dtype,
        tp=ops.sum(ops.cast(ops.logical_and(hot, chosen), dtype) * wc, axis=0),
        predicted=ops.sum(ops.cast(chosen, dtype) * wc, axis=0),
        support=ops.sum(ops.cast(hot, dtype) * wc, axis=0),
        invalid=x.invalid,
    )


class Counts(NamedTuple):
    """Per-class sums. Fields a task has no use for are None."""

    tp: Any  # (C,) true positives
    predicted: Any  # (C,) predicted positives = tp + fp
    support: Any  # (C,) true count = tp + fn
    tn: Any  # (C,) true negatives
    exact: Any = None  # () multilabel: samples with every label right
    samples: Any = None  # () multilabel: samples counted
    abs_err: Any = None  # () sum of w * |t - p|
    sq_err: Any = None  # () sum of w * (t - p)^2


def unpack_stat_scores(xp: Any, spec: TaskSpec, state: Any, *, ordinal: bool = False) -> Counts:
    """A summed state vector (in namespace `xp`) as named counts; a stack of states `(..., S)`
    gives stacked counts `(..., C)`."""
    parts = stat_scores_layout(spec, ordinal).unpack(state)
    tp, predicted, support = parts["tp"], parts["predicted"], parts["support"]
    if spec.task == "multilabel":
        exact, samples = parts["exact"][..., 0], parts["samples"][..., 0]
        return Counts(tp, predicted, support, parts["tn"], exact, samples)
    tn = xp.sum(support, axis=-1, keepdims=True) - predicted - support + tp
    if ordinal:
        abs_err, sq_err = parts["abs_err"][..., 0], parts["sq_err"][..., 0]
        return Counts(tp, predicted, support, tn, abs_err=abs_err, sq_err=sq_err)
    return Counts(tp, predicted, support, tn)


@functools.cache
def confusion_matrix_layout(spec: TaskSpec) -> Layout:
    if spec.task == "multilabel":
        return stat_scores_layout(spec)
    return Layout(matrix=spec.num_classes**2)


def confusion_matrix_update(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None, *, check: bool = True
) -> Any:
    """Confusion-matrix sums for one batch (multilabel: the per-label stat scores, O(L))."""
    if spec.task == "multilabel":
        return stat_scores_update(spec, False, y_true, y_pred, sample_weight, check=check)
    x = format_batch(spec, y_true, y_pred, sample_weight, check=check)
    c = spec.num_classes
    cells = _backend.scatter_add(x.weight, x.y_true * c + x.y_pred, c * c)
    return confusion_matrix_layout(spec).pack(
        keras.backend.standardize_dtype(cells.dtype), matrix=cells, invalid=x.invalid
    )
