"""One batch -> per-class sums, in one fused pass, with `keras.ops` only.

A batch becomes a flat vector of sums: int32 counts for an unweighted batch (exact to 2**31
per cell), weighted sums in float64 where float64 exists (exact for integer weights up to
2**53; float32 inside compiled steps of 32-bit JAX, see `_backend.float64_available`). Sums
add, so an epoch's state is the sum of its batches' vectors, whatever the batch partition, and
shards merge by addition. Layouts, for C classes (binary: C = 2) or L labels:

binary / multiclass  `[tp (C) | predicted (C) | support (C) | (|t-p|, (t-p)^2 sums) | invalid]`
multilabel           `[tp (L) | predicted (L) | support (L) | tn (L) | exact | samples | invalid]`
confusion matrix     `[matrix (C*C, row = true class) | invalid]`

`invalid` (always the last 3 cells) counts the y_true values, y_pred values and sample weights
that could not be valid (see `_inputs`).

The two ordinal sums are kept only for weighted Cohen's kappa. `exact` and `samples` give
multilabel subset accuracy. All counts are weighted by `sample_weight` (1 when absent).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics.functional._format import INVALID_KINDS, TaskSpec, format_inputs

__all__ = [
    "INVALID",
    "Counts",
    "confusion_matrix_size",
    "confusion_matrix_update",
    "stat_scores_size",
    "stat_scores_update",
    "unpack_stat_scores",
]

INVALID = len(INVALID_KINDS)  # cells at the end of every layout


def stat_scores_size(spec: TaskSpec, *, ordinal: bool = False) -> int:
    c = spec.num_classes
    if spec.task == "multilabel":
        return 4 * c + 2 + INVALID
    return 3 * c + (2 if ordinal else 0) + INVALID


def _sum0(x: Any, dtype: str) -> Any:
    return ops.cast(ops.sum(x, axis=0), dtype)


def stat_scores_update(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None, *, ordinal: bool = False
) -> Any:
    """Sums for one batch as a vector of length `stat_scores_size(spec)` (int32 counts, or
    weighted sums in `_backend.wide_float()`)."""
    x = format_inputs(spec, y_true, y_pred, sample_weight)
    c = spec.num_classes
    w = x.weight  # int32 0/1, or float weights
    dtype = keras.backend.standardize_dtype(w.dtype)
    if spec.task == "multilabel":
        t, p = ops.cast(x.y_true, dtype), ops.cast(x.y_pred, dtype)  # (B, L)
        tw, pw = t * w, p * w
        # tn is summed directly rather than derived from a count: no cancellation.
        tn = (1 - t) * (1 - p) * w
        counted = w > 0
        row_counted = ops.cast(ops.any(counted, axis=-1), dtype)  # any label of the sample counts
        wrong = ops.any(ops.logical_and(ops.not_equal(t, p), counted), axis=-1)
        sw = x.sample_weight * row_counted
        return ops.concatenate(
            [
                _sum0(tw * p, dtype),
                _sum0(pw, dtype),
                _sum0(tw, dtype),
                _sum0(tn, dtype),
                ops.reshape(
                    ops.cast(ops.sum(sw * ops.cast(ops.logical_not(wrong), dtype)), dtype), (1,)
                ),
                ops.reshape(ops.cast(ops.sum(sw), dtype), (1,)),
                ops.cast(x.invalid, dtype),
            ]
        )
    t, p = x.y_true, x.y_pred
    hit = ops.cast(ops.equal(t, p), "int32")
    # Bins [2k] = missed samples of class k, [2k+1] = hits of class k, [2C + k] = predicted k.
    index = ops.concatenate([2 * t + hit, 2 * c + p])
    sums = _backend.scatter_add(ops.concatenate([w, w]), index, 3 * c)
    tp = sums[1 : 2 * c : 2]
    parts = [tp, sums[2 * c :], sums[0 : 2 * c : 2] + tp]
    if ordinal:
        d = ops.cast(t - p, dtype)
        parts.append(ops.reshape(ops.cast(ops.sum(w * ops.abs(d)), dtype), (1,)))
        parts.append(ops.reshape(ops.cast(ops.sum(w * d * d), dtype), (1,)))
    parts.append(ops.cast(x.invalid, dtype))
    return ops.concatenate(parts)


class Counts(NamedTuple):
    """Per-class sums. Fields a task has no use for are None."""

    tp: Any  # (C,)
    pred: Any  # (C,) predicted positives = tp + fp
    true: Any  # (C,) support = tp + fn
    tn: Any  # (C,) true negatives
    exact: Any = None  # () multilabel: samples with every label right
    samples: Any = None  # () multilabel: samples counted
    abs_err: Any = None  # () sum of w * |t - p|
    sq_err: Any = None  # () sum of w * (t - p)^2


def unpack_stat_scores(xp: Any, spec: TaskSpec, state: Any, *, ordinal: bool = False) -> Counts:
    """Split a summed state vector (in namespace `xp`) into named counts."""
    c = spec.num_classes
    tp, pred, true = state[:c], state[c : 2 * c], state[2 * c : 3 * c]
    if spec.task == "multilabel":
        return Counts(tp, pred, true, state[3 * c : 4 * c], state[4 * c], state[4 * c + 1])
    tn = xp.sum(true) - pred - true + tp
    if ordinal:
        return Counts(tp, pred, true, tn, abs_err=state[3 * c], sq_err=state[3 * c + 1])
    return Counts(tp, pred, true, tn)


def confusion_matrix_size(spec: TaskSpec) -> int:
    if spec.task == "multilabel":
        return stat_scores_size(spec)
    return spec.num_classes**2 + INVALID


def confusion_matrix_update(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None
) -> Any:
    """Confusion-matrix sums for one batch (multilabel: the per-label stat scores, O(L))."""
    if spec.task == "multilabel":
        return stat_scores_update(spec, y_true, y_pred, sample_weight)
    x = format_inputs(spec, y_true, y_pred, sample_weight)
    c = spec.num_classes
    cells = _backend.scatter_add(x.weight, x.y_true * c + x.y_pred, c * c)
    return ops.concatenate([cells, ops.cast(x.invalid, cells.dtype)])
