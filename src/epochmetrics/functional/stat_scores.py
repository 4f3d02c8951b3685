"""One batch -> per-class sums, in one fused pass, with `keras.ops` only.

A batch becomes a flat float32 vector of sums. Sums add, so an epoch's state is the
(compensated) sum of its batches' vectors, whatever the batch partition, and shards merge by
addition. Layouts, for C classes (binary: C = 2) or L labels:

binary / multiclass  `[tp (C) | predicted (C) | support (C) | (|t-p| sum, (t-p)^2 sum) | invalid]`
multilabel           `[tp (L) | predicted (L) | support (L) | tn (L) | exact | samples | invalid]`
confusion matrix     `[matrix (C*C, row = true class) | invalid]`

`invalid` (always last) counts samples whose labels could not be valid (see `_inputs`).

The two ordinal sums are kept only for weighted Cohen's kappa. `exact` and `samples` give
multilabel subset accuracy. All counts are weighted by `sample_weight` (1 when absent).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from epochmetrics import _backend
from epochmetrics._inputs import TaskSpec, format_inputs
from epochmetrics._ops import ops

__all__ = [
    "Counts",
    "confusion_matrix_size",
    "confusion_matrix_update",
    "stat_scores_size",
    "stat_scores_update",
    "unpack_stat_scores",
]


def stat_scores_size(spec: TaskSpec, *, ordinal: bool = False) -> int:
    c = spec.num_classes
    if spec.task == "multilabel":
        return 4 * c + 3
    return 3 * c + 1 + (2 if ordinal else 0)


def stat_scores_update(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None, *, ordinal: bool = False
) -> Any:
    """Sums for one batch as a float32 vector of length `stat_scores_size(spec)`."""
    x = format_inputs(spec, y_true, y_pred, sample_weight)
    c = spec.num_classes
    if spec.task == "multilabel":
        t = ops.cast(x.y_true, "float32")  # (B, L)
        p = ops.cast(x.y_pred, "float32")
        w = x.weight
        tw, pw = t * w, p * w
        # tn is summed directly rather than derived from a count: no cancellation in float32.
        tn = (1.0 - t) * (1.0 - p) * w
        counted = ops.cast(w > 0, "float32")
        row_counted = ops.max(counted, axis=-1)  # (B,) 1 if any label of the sample counts
        wrong = ops.max(ops.abs(t - p) * counted, axis=-1)
        return ops.concatenate(
            [
                ops.sum(tw * p, axis=0),
                ops.sum(pw, axis=0),
                ops.sum(tw, axis=0),
                ops.sum(tn, axis=0),
                ops.reshape(ops.sum(x.sample_weight * row_counted * (1.0 - wrong)), (1,)),
                ops.reshape(ops.sum(x.sample_weight * row_counted), (1,)),
                ops.reshape(x.invalid, (1,)),
            ]
        )
    t, p, w = x.y_true, x.y_pred, x.weight
    hit = ops.cast(ops.equal(t, p), "int32")
    # Bins [2k] = missed samples of class k, [2k+1] = hits of class k, [2C + k] = predicted k.
    index = ops.concatenate([2 * t + hit, 2 * c + p])
    sums = _backend.scatter_add(ops.concatenate([w, w]), index, 3 * c)
    tp = sums[1 : 2 * c : 2]
    parts = [tp, sums[2 * c :], sums[0 : 2 * c : 2] + tp]
    if ordinal:
        d = ops.cast(t - p, "float32")
        parts.append(ops.sum(w * ops.abs(d))[None])
        parts.append(ops.sum(w * d * d)[None])
    parts.append(x.invalid[None])  # (1,): indexing, cheaper than a reshape op on torch
    return ops.concatenate(parts)


class Counts(NamedTuple):
    """Per-class sums in the result dtype. Fields a task has no use for are None."""

    tp: Any  # (C,)
    pred: Any  # (C,) predicted positives = tp + fp
    true: Any  # (C,) support = tp + fn
    tn: Any  # (C,) true negatives
    invalid: Any  # ()
    exact: Any = None  # () multilabel: samples with every label right
    samples: Any = None  # () multilabel: samples counted
    abs_err: Any = None  # () sum of w * |t - p|
    sq_err: Any = None  # () sum of w * (t - p)^2


def unpack_stat_scores(spec: TaskSpec, state: Any, *, ordinal: bool = False) -> Counts:
    """Split a summed state vector (already in the result dtype) into named counts."""
    c = spec.num_classes
    tp, pred, true = state[:c], state[c : 2 * c], state[2 * c : 3 * c]
    if spec.task == "multilabel":
        return Counts(
            tp, pred, true, state[3 * c : 4 * c], state[-1], state[4 * c], state[4 * c + 1]
        )
    tn = ops.sum(true) - pred - true + tp
    if ordinal:
        return Counts(tp, pred, true, tn, state[-1], abs_err=state[3 * c], sq_err=state[3 * c + 1])
    return Counts(tp, pred, true, tn, state[-1])


def confusion_matrix_size(spec: TaskSpec) -> int:
    if spec.task == "multilabel":
        return stat_scores_size(spec)
    return spec.num_classes**2 + 1


def confusion_matrix_update(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None
) -> Any:
    """Confusion-matrix sums for one batch (multilabel: the per-label stat scores, O(L))."""
    if spec.task == "multilabel":
        return stat_scores_update(spec, y_true, y_pred, sample_weight)
    x = format_inputs(spec, y_true, y_pred, sample_weight)
    c = spec.num_classes
    cells = _backend.scatter_add(x.weight, x.y_true * c + x.y_pred, c * c)
    return ops.concatenate([cells, ops.reshape(x.invalid, (1,))])
