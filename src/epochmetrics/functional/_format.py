"""One batch of `(y_true, y_pred, sample_weight)` -> targets, predictions and weights.

The one formatter of every streaming metric, with `keras.ops` only, so it runs inside compiled
train/test steps. `labels` mode gives hard predictions (argmax or threshold: the count
family); `scores` mode keeps the scores (the ranking metrics). Values that cannot be valid
(labels outside `[0, num_classes)`, binary labels other than 0/1, probabilities outside
[0, 1], NaN scores, NaN or infinite weights) are counted by kind: with concrete (eager)
inputs that is a ValueError right away, naming them; inside a compiled step, where values
cannot be read, the metric keeps the counts and reports NaN for the epoch.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import host as _host
from epochmetrics._backend import ops as _backend
from epochmetrics.functional._args import (
    SCORES,
    TaskSpec,
    ambiguous_form_error,
    bad_one_hot_error,
    bad_scores_error,
    bad_values_error,
    bad_weights_error,
    nan_rows_error,
    shape_error,
)

__all__ = ["Batch", "batch_form", "format_batch", "split_targets"]


class Batch(NamedTuple):
    """One batch for a metric. N rows; L labels (multilabel); K score columns.

    - `y_true`: int32 `(N,)` class (multiclass) or 0/1 (binary), `(N, L)` 0/1 (multilabel); 0
      where not counted.
    - `y_pred`: labels mode, int32 like `y_true` (0 where not counted); scores mode, float32
      `(N, K)` scores (K = 1 for binary), 0 where invalid.
    - `weight`: what each target counts, shaped like `y_true`: int32 0/1 (labels mode without
      `sample_weight`), else `_backend.wide_float()`; 0 where not counted.
    - `sample_weight`: `(N,)` like `weight`, 0 for a row with any invalid part; None in labels
      mode without `sample_weight` (except multilabel, which needs it for subset accuracy).
    - `invalid`: int32 `(3,)`, the invalid y_true values, y_pred values and weights.
    - `samples`: the batch size B (an int, or a scalar tensor inside a compiled step); the
      N rows are B samples of N / B rows each (one row each without dense axes).
    """

    y_true: Any
    y_pred: Any
    weight: Any
    sample_weight: Any
    invalid: Any
    samples: Any = None


def _shape(x: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in x.shape)


def _is_int(x: Any) -> bool:
    return "int" in str(x.dtype) or "bool" in str(x.dtype)


# --- conversion and shape checks --------------------------------------------------------------
def _host_array(name: str, x: Any) -> Any:
    """Host input (lists, NumPy) as an array of numbers, with a TypeError for anything else.

    Tensors pass unchanged: their dtype is checked by `_check_dtype`.
    """
    if x is None:
        raise TypeError(f"{name} must be an array of numbers. Received: {name}=None.")
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        return x
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers. Received: {err}") from None
    if array.dtype.kind == "V":
        # ml_dtypes' bfloat16 / float8 (what `predict` returns under a mixed_bfloat16 policy):
        # float32 holds every value exactly, and every backend converts it.
        array = _host.widen(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold numbers (integer, bool or float). Received dtype {array.dtype}"
            + (" (strings: map class names to indices first)." if array.dtype.kind in "US" else ".")
        )
    if name == "sample_weight":
        # Weights in float64 before they become tensors: on 32-bit JAX a float64 or 64-bit
        # integer array would be rounded to 32 bits here, and torch has few uint64 ops.
        return array.astype(np.float64)
    return array


def _check_dtype(name: str, x: Any) -> None:
    dtype = str(x.dtype)
    if not any(k in dtype for k in ("int", "float", "bool")):
        raise TypeError(
            f"{name} must hold numbers (integer, bool or float). Received dtype {dtype}."
        )


def _check_batch(spec: TaskSpec, y_true: Any, y_pred: Any) -> None:
    for name, x in (("y_true", y_true), ("y_pred", y_pred)):
        if len(x.shape) == 0:
            raise ValueError(
                f"{name} must have a batch axis: task={spec.task!r} expects arrays of shape "
                f"(batch, ...), even for one sample. Received: {name}.shape=(), a scalar; "
                "wrap it as [value]."
            )
    bt, bp = _shape(y_true)[0], _shape(y_pred)[0]
    if bt is not None and bp is not None and bt != bp:
        raise ValueError(
            "y_true and y_pred must have the same batch size. "
            f"Received: y_true.shape={_shape(y_true)}, y_pred.shape={_shape(y_pred)}."
        )


def batch_tensors(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any
) -> tuple[Any, Any, Any]:
    """The batch as tensors, with matching batch sizes (else a ValueError); `sample_weight` in
    `_backend.wide_float()` (float64 wherever it exists), shape unchecked (see `Form`)."""
    y_true = ops.convert_to_tensor(_host_array("y_true", y_true))
    y_pred = ops.convert_to_tensor(_host_array("y_pred", y_pred))
    for name, x in (("y_true", y_true), ("y_pred", y_pred)):
        _check_dtype(name, x)
    _check_batch(spec, y_true, y_pred)
    if sample_weight is not None:
        sample_weight = ops.convert_to_tensor(_host_array("sample_weight", sample_weight))
        _check_dtype("sample_weight", sample_weight)
        sample_weight = ops.cast(sample_weight, _backend.wide_float())
    return y_true, y_pred, sample_weight


class Form(NamedTuple):
    """How a batch is laid out: what each side is, and its sample axes.

    `sample_shape` is the shape of one batch row's targets without a class axis: `(B,)` for a
    classifier, `(B, H, W)` for a segmentation map. Targets and predictions are flattened to
    N = prod(sample_shape) rows.
    """

    one_hot: bool  # multiclass y_true holds (..., C) one-hot (or soft) rows
    scores: bool  # multiclass y_pred holds (..., C) scores (else labels)
    sample_shape: tuple[int | None, ...]


def _squeeze_last(shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
    return shape[:-1] if len(shape) >= 2 and shape[-1] == 1 else shape


def batch_form(spec: TaskSpec, y_true: Any, y_pred: Any, scores: bool) -> Form | None:
    """The layout of a batch, or None when the shapes fit no form of `spec.task`.

    The rule (the README's input table), decided by shapes and dtypes, which are static
    inside compiled steps; values are only checked against the form chosen:

    - binary: y_true and y_pred of the same shape `(B, ...)` (a trailing axis of 1 on either
      is dropped); multilabel: both `(B, ..., L)`.
    - multiclass, with S the sample axes `(B, ...)` and C = num_classes:
      y_pred `S + (C,)` with y_true `S` (or `S + (1,)`): labels and scores;
      y_true `S + (C,)` with y_pred `S` (or `S + (1,)`): one-hot rows and labels;
      both `S` (after dropping a trailing axis of 1): labels and labels;
      both `S + (C,)`: one-hot rows and scores when y_pred is a float. An integer or bool
      y_pred of that shape fits two readings (one-hot rows and one-hot predictions, or
      labels and labels of sample shape `S + (C,)`): a ValueError naming both and how to
      say which (a float y_pred, or a trailing axis of 1 on y_true for labels).
    """
    st, sp, c = _shape(y_true), _shape(y_pred), spec.num_classes
    if spec.task == "multilabel":
        ok = len(st) >= 2 and st == sp and st[-1] == c
        return Form(False, True, st[:-1]) if ok else None
    if spec.task == "binary":
        st2, sp2 = _squeeze_last(st), _squeeze_last(sp)
        return Form(False, False, st2) if st2 == sp2 else None
    st1, sp1 = _squeeze_last(st), _squeeze_last(sp)
    if scores and _is_int(y_pred):
        return None  # ranking metrics need scores
    if len(sp) >= 2 and sp[-1] == c and sp[:-1] == st1:
        return Form(False, True, st1)  # labels + scores
    if len(st) >= 2 and st == sp and st[-1] == c:
        if _is_int(y_pred):
            raise ambiguous_form_error(spec, st, keras.backend.standardize_dtype(y_pred.dtype))
        return Form(True, True, st[:-1])  # one-hot + scores
    if scores:
        return None
    if st1 == sp1:
        return Form(False, False, st1)  # labels + labels
    if len(st) >= 2 and st[-1] == c and st[:-1] == sp1:
        return Form(True, False, sp1)  # one-hot + labels
    return None


def _sample_weights(sample_weight: Any, y_true: Any, form: Form) -> Any:
    """`sample_weight` (a scalar, `(B,)` per sample, or one per element of the sample axes)
    as one weight per row `(N,)`."""
    sw, samples = _shape(sample_weight), form.sample_shape
    b = samples[0]
    if len(sw) == 0:
        return ops.ones(ops.shape(y_true)[:1], dtype=sample_weight.dtype) * sample_weight
    if _squeeze_last(sw) == samples or sw == samples:
        return ops.reshape(sample_weight, (-1,))
    per_sample = len(_squeeze_last(sw)) == 1 and (sw[0] is None or b is None or sw[0] == b)
    if not per_sample:
        raise ValueError(
            "`sample_weight` must be a scalar, one weight per sample (batch,), or one per "
            f"element {samples}. Received: sample_weight.shape={sw}, "
            f"y_true.shape={_shape(y_true)}."
        )
    sample_weight = ops.reshape(sample_weight, (-1,))
    if len(samples) == 1:
        return sample_weight
    per_row = ops.ones(ops.shape(y_true)[: len(samples)], dtype=sample_weight.dtype)
    shape = (-1, *[1] * (len(samples) - 1))
    return ops.reshape(per_row * ops.reshape(sample_weight, shape), (-1,))


# --- targets and predictions ------------------------------------------------------------------
def _binary_targets(y: Any) -> tuple[Any, Any]:
    """0/1 targets -> (int32 labels, mask of values other than 0 and 1)."""
    if _is_int(y):
        t = ops.cast(y, "int32")
    else:
        y = ops.cast(y, "float32")
        t = ops.cast(
            ops.where(ops.logical_or(ops.equal(y, 0.0), ops.equal(y, 1.0)), y, -1.0), "int32"
        )
    return t, ops.logical_and(ops.not_equal(t, 0), ops.not_equal(t, 1))


def _sparse_labels(y: Any, num_classes: int) -> tuple[Any, Any]:
    """Integer-valued labels -> (int32 labels, out-of-range or non-integer mask)."""
    if _is_int(y):
        y = ops.cast(y, "int32")
        return y, ops.logical_or(y < 0, y >= num_classes)
    y = ops.cast(y, "float32")
    bad = ops.logical_not(ops.equal(y, ops.floor(y)))  # also True for NaN
    y = ops.cast(ops.where(bad, 0.0, y), "int32")
    return y, ops.logical_or(bad, ops.logical_or(y < 0, y >= num_classes))


def _one_hot_labels(y: Any) -> tuple[Any, Any, Any]:
    """One-hot `(N, C)` target rows -> (int32 class of the largest entry, rows that are not
    one-hot, all-zero rows).

    A row is one-hot when its entries are in [0, 1] with exactly one 1 and no fraction (so
    integer and bool rows are 0/1 with one 1); a float row of fractions without a 1 is a soft
    target (label smoothing, mixup) and counts as its largest class. Rows of labels
    ([2, 0, 1, 3, 4]), with several 1s, or with a 1 beside fractions are not one-hot. An
    all-zero row names no class: void where the metric has an `ignore_index`, else invalid
    (`_targets`). `_host_format.one_hot_labels` is the same rule in NumPy.
    """
    y = ops.cast(y, "float32")  # bool one-hot included
    in_range = ops.all(ops.logical_and(y >= 0.0, y <= 1.0), axis=-1)  # False for NaN
    ones = ops.sum(ops.cast(ops.equal(y, 1.0), "int32"), axis=-1)
    frac = ops.cast(ops.any(ops.logical_and(y > 0.0, y < 1.0), axis=-1), "int32")
    # One 1 and nothing fractional (hard), or fractions and no 1 (soft).
    one_hot = ops.logical_and(in_range, ops.equal(ones + frac, 1))
    zero = ops.logical_not(ops.any(ops.not_equal(y, 0.0), axis=-1))
    bad = ops.logical_and(ops.logical_not(one_hot), ops.logical_not(zero))
    return _backend.argmax(y), bad, zero


def _targets(spec: TaskSpec, y_true: Any, form: Form) -> tuple[Any, Any, Any]:
    """Flattened (int32 targets, invalid mask, ignored mask or None)."""
    if spec.task == "multilabel":
        raw = ops.reshape(y_true, (-1, spec.num_classes))
        t, bad = _binary_targets(raw)
    elif form.one_hot:
        labels, bad, zero = _one_hot_labels(ops.reshape(y_true, (-1, spec.num_classes)))
        if spec.ignore_index is None:
            return labels, ops.logical_or(bad, zero), None
        # A one-hot row is its class's label: ignore_index applies to it, and an all-zero
        # row (what one_hot encoders give void labels) is void.
        ignored = ops.logical_or(zero, ops.equal(labels, spec.ignore_index))
        return labels, ops.logical_and(bad, ops.logical_not(ignored)), ignored
    else:
        raw = ops.reshape(y_true, (-1,))
        if spec.task == "binary":
            t, bad = _binary_targets(raw)
        else:
            t, bad = _sparse_labels(raw, spec.num_classes)
    if spec.ignore_index is None:
        return t, bad, None
    ignored = ops.equal(ops.cast(raw, "float32"), float(spec.ignore_index))
    return t, ops.logical_and(bad, ops.logical_not(ignored)), ignored


def _threshold(spec: TaskSpec, scores: Any) -> tuple[Any, Any]:
    """Probabilities or logits -> (0/1 labels, invalid mask)."""
    if _is_int(scores):
        return _binary_targets(scores)
    scores = ops.cast(scores, "float32")
    if spec.from_logits:
        # sigmoid(x) > t  <=>  x > logit(t): no exp, and no saturation of sigmoid near 0 or 1.
        cut = math.log(spec.threshold / (1.0 - spec.threshold))
        return ops.cast(scores > cut, "int32"), ops.isnan(scores)
    # NaN fails both comparisons, so it is invalid too.
    ok = ops.logical_and(scores >= 0.0, scores <= 1.0)
    return ops.cast(scores > spec.threshold, "int32"), ops.logical_not(ok)


def _hard_predictions(spec: TaskSpec, y_pred: Any, form: Form) -> tuple[Any, Any]:
    """Flattened hard predictions and their invalid mask."""
    if spec.task == "multilabel":
        return _threshold(spec, ops.reshape(y_pred, (-1, spec.num_classes)))
    if spec.task == "binary":
        return _threshold(spec, ops.reshape(y_pred, (-1,)))
    if not form.scores:
        return _sparse_labels(ops.reshape(y_pred, (-1,)), spec.num_classes)
    # argmax of a row holding NaN is meaningless: such rows are invalid.
    return _backend.argmax_with_nan(ops.reshape(y_pred, (-1, spec.num_classes)))


def _scores(spec: TaskSpec, y_pred: Any, real: bool = False) -> tuple[Any, Any]:
    """Flattened scores `(N, K)` float32 (binary: `(N,)`) and their invalid mask (multiclass:
    per row). `real`: any real scores (only NaN is invalid, no softmax): what a ranking of
    the classes within a row needs (top-k)."""
    k = (spec.num_classes,) if spec.task != "binary" else ()
    scores = ops.cast(ops.reshape(y_pred, (-1, *k)), "float32")
    if spec.task == "multiclass":
        if real:
            return scores, ops.any(ops.isnan(scores), axis=-1)
        if spec.from_logits:
            scores = ops.softmax(scores, axis=-1)
            return scores, ops.any(ops.isnan(scores), axis=-1)
        in_range = ops.logical_and(scores >= 0.0, scores <= 1.0)  # False for NaN
        return scores, ops.logical_not(ops.all(in_range, axis=-1))
    bad = (
        ops.isnan(scores)
        if spec.from_logits
        else ops.logical_not(ops.logical_and(scores >= 0.0, scores <= 1.0))
    )
    return scores, bad


# --- the formatter ----------------------------------------------------------------------------
def format_batch(
    spec: TaskSpec,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    scores: bool = False,
    real_scores: bool = False,
    check: bool = True,
) -> Batch:
    """Validate and normalise one batch (see the module docstring, `Form` and `Batch`).

    `check=False` never reads values on the host (no device sync): invalid inputs are only
    counted, as inside compiled steps. `real_scores` (scores mode, multiclass): any real
    scores, only NaN rows are invalid.
    """
    y_true, y_pred, sample_weight = batch_tensors(spec, y_true, y_pred, sample_weight)
    form = batch_form(spec, y_true, y_pred, scores)
    if form is None:
        raise shape_error(spec, _shape(y_true), _shape(y_pred), scores=SCORES if scores else None)
    t, t_bad, ignored = _targets(spec, y_true, form)
    if scores:
        p, p_bad = _scores(spec, y_pred, real_scores)
    else:
        p, p_bad = _hard_predictions(spec, y_pred, form)
    if sample_weight is not None:
        sample_weight = _sample_weights(sample_weight, y_true, form)
    w_bad = None if sample_weight is None else ops.logical_not(ops.isfinite(sample_weight))

    bad = ops.logical_or(t_bad, p_bad)
    row_bad = ops.any(bad, axis=-1) if spec.task == "multilabel" else bad
    if w_bad is not None:
        row_bad = ops.logical_or(row_bad, w_bad)
    # One scalar read per eager batch; the details are gathered only when something is wrong.
    # Without `check` (torch's eager fit steps) nothing is read: invalid inputs are counted,
    # as inside compiled steps, and reported at the epoch's read.
    if check and _backend.is_concrete(row_bad) and bool(ops.any(row_bad)):
        raise _eager_error(
            spec, y_true, y_pred, sample_weight, t_bad, p_bad, w_bad, scores, real_scores
        )

    multilabel = spec.task == "multilabel"
    keep = ops.logical_not(bad) if w_bad is None else ops.logical_not(row_bad)
    if multilabel:
        keep = ops.logical_and(ops.logical_not(bad), ops.expand_dims(ops.logical_not(row_bad), -1))
    if ignored is not None:
        keep = ops.logical_and(keep, ops.logical_not(ignored))
    invalid = _invalid_counts(t_bad, p_bad, w_bad)
    t = ops.where(keep, t, 0)
    if scores:
        bad_cells = ops.expand_dims(p_bad, -1) if spec.task == "multiclass" else p_bad
        p = ops.where(bad_cells, 0.0, p)  # no NaN reaches a sort or a bin
        if spec.task == "binary":
            p = ops.reshape(p, (-1, 1))
    else:
        p = ops.where(keep, p, 0)
    samples = ops.shape(y_true)[0]
    if sample_weight is None and not scores:
        sw = ops.cast(ops.logical_not(row_bad), "int32") if multilabel else None
        return Batch(t, p, ops.cast(keep, "int32"), sw, invalid, samples)
    if sample_weight is None:
        sample_weight = ops.ones(ops.shape(t)[:1], dtype=_backend.wide_float())
    else:
        # A non-finite weight must not reach a sum (0 * inf is NaN): its sample counts 0.
        sample_weight = ops.where(w_bad, 0.0, sample_weight)
    dtype = sample_weight.dtype
    row_w = sample_weight * ops.cast(ops.logical_not(row_bad), dtype)
    element_w = ops.expand_dims(sample_weight, -1) if multilabel else sample_weight
    return Batch(t, p, ops.cast(keep, dtype) * element_w, row_w, invalid, samples)


def _invalid_counts(t_bad: Any, p_bad: Any, w_bad: Any) -> Any:
    """int32 `(3,)`: how many y_true values, y_pred values and weights were invalid."""
    parts = [ops.sum(ops.cast(b, "int32")) for b in (t_bad, p_bad)]
    parts.append(ops.zeros((), "int32") if w_bad is None else ops.sum(ops.cast(w_bad, "int32")))
    return ops.cast(ops.stack(parts), "int32")


def _eager_error(
    spec: TaskSpec,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    t_bad: Any,
    p_bad: Any,
    w_bad: Any,
    scores: bool,
    real: bool,
) -> ValueError:
    """Eager path only: the error that names the first kind of invalid input found."""

    def host(x: Any) -> np.ndarray:
        return _host.to_numpy(x)

    if bool(ops.any(t_bad)):
        mask = host(t_bad).astype(bool)
        values = host(y_true)
        if values.size != mask.size:  # one-hot rows
            rows = values.reshape(mask.size, -1)[mask]
            # Labels of y_pred's shape are the other reading (counting metrics only).
            same = tuple(y_true.shape) == tuple(y_pred.shape) and not scores
            return bad_one_hot_error(spec, len(rows), rows[0], _shape(y_true), same)
        return bad_values_error(spec, "y_true", values.reshape(mask.shape)[mask])
    if bool(ops.any(p_bad)):
        mask = host(p_bad).astype(bool)
        values = host(y_pred)
        if spec.task == "multiclass" and values.size != mask.size:
            return (
                bad_scores_error(spec, int(mask.sum()))
                if scores
                else nan_rows_error(int(mask.sum()))
            )
        return bad_values_error(spec, "y_pred", values.reshape(mask.shape)[mask])
    mask = host(w_bad).astype(bool)
    first = int(np.flatnonzero(mask)[0])
    return bad_weights_error(int(mask.sum()), first, float(host(sample_weight)[first]))


def split_targets(spec: TaskSpec, y_true: Any, weight: Any) -> tuple[Any, Any]:
    """Targets and their weights (as in `Batch`) -> positive and negative weight `(N, K)`,
    in the weights' dtype (K = 1 for binary, else the number of classes)."""
    dtype = keras.backend.standardize_dtype(weight.dtype)
    if spec.task == "multiclass":
        classes = ops.arange(spec.num_classes, dtype="int32")
        hot = ops.cast(ops.equal(ops.expand_dims(y_true, -1), classes), dtype)  # (N, C)
        w = ops.expand_dims(weight, -1)
        return hot * w, (1 - hot) * w
    t = ops.cast(y_true, dtype)
    pos, neg = t * weight, (1 - t) * weight
    if spec.task == "binary":
        return ops.expand_dims(pos, -1), ops.expand_dims(neg, -1)
    return pos, neg
