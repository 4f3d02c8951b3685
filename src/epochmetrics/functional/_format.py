"""Argument validation and input normalisation, shared by every metric.

`make_spec` validates constructor arguments once; `format_inputs` turns one batch of
`(y_true, y_pred, sample_weight)` into hard labels and weights with `keras.ops` only, so it runs
inside compiled train/test steps. Samples whose labels cannot be valid (outside
`[0, num_classes)`, probabilities outside [0, 1], NaN scores) are counted as *invalid*: with
concrete (eager) inputs that is a ValueError right away; inside a compiled step, where values
cannot be read, the metric keeps the count and reports NaN for the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from keras import ops

from epochmetrics._backend import ops as _backend

Task = Literal["binary", "multiclass", "multilabel"]
Average = Literal["binary", "micro", "macro", "weighted"] | None
TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel")


@dataclass(frozen=True)
class TaskSpec:
    """Validated task arguments. `num_classes` is the number of per-class cells (2 for binary)."""

    task: Task
    num_classes: int
    threshold: float = 0.5
    from_logits: bool = False
    ignore_index: int | None = None


def make_spec(
    task: Any,
    num_classes: Any = None,
    threshold: Any = 0.5,
    from_logits: Any = False,
    ignore_index: Any = None,
) -> TaskSpec:
    """Validate the common task arguments and return a `TaskSpec`."""
    if task not in TASKS:
        raise ValueError(
            "`task` must be one of 'binary', 'multiclass' or 'multilabel'. "
            f"Received: task={task!r}."
        )
    if task == "binary":
        if num_classes not in (None, 1, 2):
            raise ValueError(
                "task='binary' has two classes; leave `num_classes` unset (or use "
                f"task='multiclass'). Received: num_classes={num_classes!r}."
            )
        num_classes = 2
    else:
        if num_classes is None:
            raise ValueError(
                f"task={task!r} requires `num_classes`, the number of "
                f"{'classes' if task == 'multiclass' else 'labels'}. Received: num_classes=None."
            )
        minimum = 2 if task == "multiclass" else 1
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise ValueError(
                f"`num_classes` must be an integer >= {minimum}. "
                f"Received: num_classes={num_classes!r}."
            )
        if num_classes < minimum:
            raise ValueError(
                f"`num_classes` must be an integer >= {minimum} for task={task!r}. "
                f"Received: num_classes={num_classes!r}."
            )
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise ValueError(
            f"`threshold` must be a float in (0, 1). Received: threshold={threshold!r}."
        )
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(
            f"`threshold` must be in the open interval (0, 1). Received: threshold={threshold!r}."
        )
    if task == "multiclass" and float(threshold) != 0.5:
        raise ValueError(
            "`threshold` applies to binary and multilabel probabilities; task='multiclass' "
            "predicts the class with the largest score, with no threshold. Leave it unset "
            f"(or use task='multilabel' for independent labels). Received: threshold={threshold!r}."
        )
    if not isinstance(from_logits, (bool, np.bool_)):
        raise ValueError(
            f"`from_logits` must be True or False. Received: from_logits={from_logits!r}."
        )
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))
    ):
        raise ValueError(
            f"`ignore_index` must be an integer or None. Received: ignore_index={ignore_index!r}."
        )
    return TaskSpec(
        task=task,
        num_classes=int(num_classes),
        threshold=float(threshold),
        from_logits=bool(from_logits),
        ignore_index=None if ignore_index is None else int(ignore_index),
    )


def check_average(average: Any, task: str) -> Average:
    """Validate `average` for `task`; binary accepts 'binary' (the positive class) too."""
    allowed: list[Any] = ["micro", "macro", "weighted", None]
    if task == "binary":
        allowed.insert(0, "binary")
    if average not in allowed:
        names = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(
            f"`average` must be one of {names} for task={task!r}. Received: average={average!r}."
        )
    return average  # type: ignore[no-any-return]


def default_average(task: str) -> Average:
    return "binary" if task == "binary" else "macro"


def check_zero_division(zero_division: Any) -> float:
    """`zero_division` as scikit-learn: the value of a ratio whose denominator is 0."""
    if isinstance(zero_division, bool) or not isinstance(zero_division, (int, float, np.floating)):
        raise ValueError(
            f"`zero_division` must be 0.0, 1.0 or nan. Received: zero_division={zero_division!r}."
        )
    value = float(zero_division)
    if not (value in (0.0, 1.0) or math.isnan(value)):
        raise ValueError(
            f"`zero_division` must be 0.0, 1.0 or nan. Received: zero_division={zero_division!r}."
        )
    return value


def check_class_names(class_names: Any, spec: TaskSpec) -> tuple[str, ...] | None:
    if class_names is None:
        return None
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise ValueError(
            f"`class_names` must be a list of strings. Received: class_names={class_names!r}."
        )
    names = tuple(str(n) for n in class_names)
    if len(names) != spec.num_classes:
        raise ValueError(
            f"`class_names` must have one name per class: expected {spec.num_classes} names for "
            f"task={spec.task!r}. Received {len(names)}: {list(names)!r}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"`class_names` must be unique. Received: {list(names)!r}.")
    return names


def class_labels(spec: TaskSpec, class_names: tuple[str, ...] | None) -> tuple[str, ...]:
    """Names used in per-class log keys: the class names, or the class indices."""
    return (
        class_names if class_names is not None else tuple(str(i) for i in range(spec.num_classes))
    )


# Kinds of invalid input, counted in this order in the last cells of every state.
INVALID_KINDS = ("y_true", "y_pred", "sample_weight")


class Labels(NamedTuple):
    """One batch as hard labels. Binary/multiclass: `(B,)`; multilabel: `(B, L)`."""

    y_true: Any  # int32, 0 where not counted
    y_pred: Any  # int32, 0 where not counted
    weight: Any  # what each element counts: int32 0/1 without sample_weight, else wide floats
    sample_weight: Any  # (B,) like `weight` or None; multilabel: 0 where a label is bad
    invalid: Any  # int32 (3,): invalid y_true values, y_pred values, sample weights


def _shape(x: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in x.shape)


def _is_int(x: Any) -> bool:
    return "int" in str(x.dtype) or "bool" in str(x.dtype)


def shape_error(
    spec: TaskSpec,
    y_true: Any,
    y_pred: Any,
    *,
    pred: str = "y_pred",
    n: str = "batch",
    scores: str | None = None,
) -> ValueError:
    """The error for input shapes that do not fit `spec.task`. `pred` and `n` name the
    predictions and the sample axis; `scores` replaces the description of multiclass
    predictions (default: scores or labels)."""
    c = spec.num_classes
    multiclass_pred = f"scores or ({n},) labels" if scores is None else scores
    expected = {
        "binary": f"y_true and {pred} of shape ({n},) or ({n}, 1)",
        "multiclass": (
            f"y_true of shape ({n},) or ({n}, 1) integer labels or ({n}, num_classes={c}) "
            f"one-hot, and {pred} of shape ({n}, num_classes={c}) {multiclass_pred}"
        ),
        "multilabel": f"y_true and {pred} of shape ({n}, num_classes={c})",
    }[spec.task]
    return ValueError(
        f"task={spec.task!r} expects {expected}. "
        f"Received: y_true.shape={_shape(y_true)}, {pred}.shape={_shape(y_pred)}."
    )


def _is_vector(shape: tuple[int | None, ...]) -> bool:
    return len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)


def _flat(x: Any) -> Any:
    """A `(B,)` or `(B, 1)` tensor as `(B,)` (no op when it already is: ops cost on torch)."""
    return x if len(x.shape) == 1 else ops.reshape(x, (-1,))


def _check_batch(spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any) -> None:
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
    if sample_weight is not None:
        sw = _shape(sample_weight)
        if sw and (not _is_vector(sw) or (sw[0] is not None and bt is not None and sw[0] != bt)):
            raise ValueError(
                "`sample_weight` must be a scalar or have shape (batch,) or (batch, 1) matching "
                f"y_true. Received: sample_weight.shape={sw}, y_true.shape={_shape(y_true)}."
            )


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


def _threshold(spec: TaskSpec, scores: Any) -> tuple[Any, Any]:
    """Probabilities or logits -> (0/1 labels, invalid mask)."""
    if _is_int(scores):
        return _threshold_true(scores)
    scores = ops.cast(scores, "float32")
    if spec.from_logits:
        # sigmoid(x) > t  <=>  x > logit(t): no exp, and no saturation of sigmoid near 0 or 1.
        cut = math.log(spec.threshold / (1.0 - spec.threshold))
        return ops.cast(scores > cut, "int32"), ops.isnan(scores)
    # NaN fails both comparisons, so it is invalid too.
    ok = ops.logical_and(scores >= 0.0, scores <= 1.0)
    return ops.cast(scores > spec.threshold, "int32"), ops.logical_not(ok)


def _sparse_labels(y: Any, num_classes: int) -> tuple[Any, Any]:
    """Integer-valued labels -> (int32 labels, out-of-range or non-integer mask)."""
    if _is_int(y):
        y = ops.cast(y, "int32")
        return y, ops.logical_or(y < 0, y >= num_classes)
    y = ops.cast(y, "float32")
    bad = ops.logical_not(ops.equal(y, ops.floor(y)))  # also True for NaN
    y = ops.cast(ops.where(bad, 0.0, y), "int32")
    return y, ops.logical_or(bad, ops.logical_or(y < 0, y >= num_classes))


def _raise_invalid(spec: TaskSpec, which: str, raw: Any, bad: Any) -> None:
    """Eager path only: name the argument, what it may hold and what it held."""
    values = np.asarray(ops.convert_to_numpy(raw))
    mask = np.asarray(ops.convert_to_numpy(bad), dtype=bool)
    found = np.unique(values.reshape(mask.shape)[mask] if values.size == mask.size else values)
    shown = ", ".join(
        f"{v.item():.7g}" if v.dtype.kind == "f" else str(v.item()) for v in found[:5]
    )
    shown += ", ..." if found.size > 5 else ""
    skipped = "" if spec.ignore_index is None else f" (ignore_index={spec.ignore_index} is skipped)"
    if which == "y_true" and values.size != mask.size:
        raise ValueError(
            f"task='multiclass' expects one-hot y_true rows with a positive entry. "
            f"Received {int(mask.sum())} row(s) with none."
        )
    if which == "y_true":
        allowed = (
            f"integers in [0, num_classes={spec.num_classes}){skipped}"
            if spec.task == "multiclass"
            else f"0 or 1{skipped}"
        )
        raise ValueError(
            f"task={spec.task!r} expects y_true values to be {allowed}. "
            f"Received {int(mask.sum())} invalid value(s): {shown}."
        )
    if spec.task == "multiclass" and values.size != mask.size:
        raise ValueError(
            f"task='multiclass' received NaN scores in y_pred for {int(mask.sum())} sample(s); "
            "their predicted class is undefined. Check the model (the loss is probably NaN too)."
        )
    if spec.task == "multiclass":
        raise ValueError(
            "task='multiclass' expects y_pred labels to be integers in "
            f"[0, num_classes={spec.num_classes}). "
            f"Received {int(mask.sum())} invalid value(s): {shown}."
        )
    hint = "" if spec.from_logits else " If y_pred holds logits, pass from_logits=True."
    allowed = (
        "logits (not NaN)" if spec.from_logits else "probabilities in [0, 1] or 0/1 integer labels"
    )
    raise ValueError(
        f"task={spec.task!r} expects y_pred values to be {allowed}. "
        f"Received {int(mask.sum())} invalid value(s): {shown}.{hint}"
    )


def batch_tensors(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any
) -> tuple[Any, Any, Any]:
    """The batch as tensors, with matching batch sizes (else a ValueError).

    A scalar `sample_weight` weighs every sample alike; weights come back as `(B,)` in
    `_backend.wide_float()` (float64 wherever it exists).
    """
    y_true = ops.convert_to_tensor(_host_array("y_true", y_true))
    y_pred = ops.convert_to_tensor(_host_array("y_pred", y_pred))
    for name, x in (("y_true", y_true), ("y_pred", y_pred)):
        _check_dtype(name, x)
    if sample_weight is not None:
        sample_weight = ops.convert_to_tensor(_host_array("sample_weight", sample_weight))
        _check_dtype("sample_weight", sample_weight)
    _check_batch(spec, y_true, y_pred, sample_weight)
    if sample_weight is not None:
        wide = _backend.wide_float()
        sample_weight = ops.cast(sample_weight, wide)
        if len(sample_weight.shape) == 0:
            sample_weight = ops.ones(ops.shape(y_true)[:1], dtype=wide) * sample_weight
        sample_weight = _flat(sample_weight)
    return y_true, y_pred, sample_weight


def mask_ignored(spec: TaskSpec, y_true: Any, t_bad: Any) -> tuple[Any, Any]:
    """`(ignored, t_bad)`: the targets equal to `ignore_index` (None when there are none to
    look for) and `t_bad` without them. ignore_index applies to label values: sparse and
    multilabel targets, not one-hot rows."""
    if spec.ignore_index is None or not (spec.task == "multilabel" or _is_vector(_shape(y_true))):
        return None, t_bad
    raw = y_true if spec.task == "multilabel" else _flat(y_true)
    ignored = ops.equal(ops.cast(raw, "float32"), float(spec.ignore_index))
    return ignored, ops.logical_and(t_bad, ops.logical_not(ignored))


def weight_errors(sample_weight: Any) -> Any:
    """`(B,)` mask of weights that cannot count: NaN or infinite (None without weights)."""
    if sample_weight is None:
        return None
    return ops.logical_not(ops.isfinite(sample_weight))


def raise_bad_weights(sample_weight: Any, w_bad: Any) -> None:
    """Eager path: name the first non-finite weight."""
    mask = np.asarray(ops.convert_to_numpy(w_bad), dtype=bool)
    values = np.asarray(ops.convert_to_numpy(sample_weight))
    first = int(np.flatnonzero(mask)[0])
    raise ValueError(
        "`sample_weight` must be finite. Received "
        f"{int(mask.sum())} NaN or infinite weight(s), the first at index {first} "
        f"(value {float(values[first])})."
    )


def invalid_counts(t_bad: Any, p_bad: Any, w_bad: Any) -> Any:
    """int32 `(3,)`: how many y_true values, y_pred values and weights were invalid."""
    parts = [ops.sum(ops.cast(b, "int32")) for b in (t_bad, p_bad)]
    parts.append(ops.zeros((), "int32") if w_bad is None else ops.sum(ops.cast(w_bad, "int32")))
    return ops.cast(ops.stack(parts), "int32")


def format_inputs(spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Labels:
    """Normalise one batch to hard labels, weights and invalid counts (see module docstring)."""
    y_true, y_pred, sample_weight = batch_tensors(spec, y_true, y_pred, sample_weight)
    st, sp = _shape(y_true), _shape(y_pred)
    c = spec.num_classes

    if spec.task == "multilabel":
        if len(st) != 2 or len(sp) != 2 or st[1] != c or sp[1] != c:
            raise shape_error(spec, y_true, y_pred)
        t_raw, t_bad = _threshold_true(y_true)
        p, p_bad = _threshold(spec, y_pred)
    elif spec.task == "binary":
        if not (_is_vector(st) and _is_vector(sp)):
            raise shape_error(spec, y_true, y_pred)
        t_raw, t_bad = _threshold_true(_flat(y_true))
        p, p_bad = _threshold(spec, _flat(y_pred))
    else:
        if _is_vector(st):
            t_raw, t_bad = _sparse_labels(_flat(y_true), c)
        elif len(st) == 2 and st[1] == c:
            t_raw, t_bad = one_hot_labels(y_true)
        else:
            raise shape_error(spec, y_true, y_pred)
        if _is_vector(sp):
            p, p_bad = _sparse_labels(_flat(y_pred), c)
        elif len(sp) == 2 and sp[1] == c:
            # argmax of a row holding NaN is meaningless: such rows are invalid.
            p, p_bad = _backend.argmax_with_nan(y_pred)
        else:
            raise shape_error(spec, y_true, y_pred)

    ignored, t_bad = mask_ignored(spec, y_true, t_bad)
    w_bad = weight_errors(sample_weight)
    bad = ops.logical_or(t_bad, p_bad)
    row_bad = ops.any(bad, axis=-1) if spec.task == "multilabel" else bad
    if w_bad is not None:
        row_bad = ops.logical_or(row_bad, w_bad)
    # One scalar read per eager batch; the details are gathered only when something is wrong.
    if _backend.is_concrete(row_bad) and bool(ops.any(row_bad)):
        if bool(ops.any(t_bad)):
            _raise_invalid(spec, "y_true", y_true, t_bad)
        if bool(ops.any(p_bad)):
            _raise_invalid(spec, "y_pred", y_pred, p_bad)
        raise_bad_weights(sample_weight, w_bad)

    keep = ops.logical_not(bad)
    if ignored is not None:
        keep = ops.logical_and(keep, ops.logical_not(ignored))
    t = ops.where(keep, t_raw, 0)
    p = ops.where(keep, p, 0)
    invalid = invalid_counts(t_bad, p_bad, w_bad)
    sw = None
    if sample_weight is not None:
        # A non-finite weight must not reach a sum (0 * inf is NaN): its sample counts 0.
        sw = ops.where(w_bad, 0.0, sample_weight)
    if spec.task == "multilabel":
        keep = ops.logical_and(keep, ops.expand_dims(ops.logical_not(row_bad), -1))
        sample_ok = ops.logical_not(row_bad)
        if sw is None:
            return Labels(t, p, ops.cast(keep, "int32"), ops.cast(sample_ok, "int32"), invalid)
        weight = ops.cast(keep, sw.dtype) * ops.expand_dims(sw, -1)
        return Labels(t, p, weight, sw * ops.cast(sample_ok, sw.dtype), invalid)
    if sw is None:  # no (B,) ones tensor for an unweighted batch: counts are 0/1
        return Labels(t, p, ops.cast(keep, "int32"), None, invalid)
    keep = ops.logical_and(keep, ops.logical_not(row_bad))
    return Labels(t, p, ops.cast(keep, sw.dtype) * sw, sw, invalid)


def one_hot_labels(y_true: Any) -> tuple[Any, Any]:
    """One-hot (or soft) `(B, C)` targets -> (int32 class of the largest entry, rows naming no
    class). Soft targets (label smoothing, mixup) count as their largest class."""
    y = ops.cast(y_true, "float32")  # bool one-hot included
    # An all-zero (or all-negative) row names no class; a NaN makes the largest undefined.
    bad = ops.logical_or(ops.logical_not(ops.any(y > 0, axis=-1)), ops.any(ops.isnan(y), axis=-1))
    return ops.cast(ops.argmax(y, axis=-1), "int32"), bad


def _threshold_true(y: Any) -> tuple[Any, Any]:
    """Binary targets -> (int32 labels, mask of values other than 0 and 1)."""
    if _is_int(y):
        t = ops.cast(y, "int32")
    else:
        y = ops.cast(y, "float32")
        t = ops.cast(
            ops.where(ops.logical_or(ops.equal(y, 0.0), ops.equal(y, 1.0)), y, -1.0), "int32"
        )
    return t, ops.logical_and(ops.not_equal(t, 0), ops.not_equal(t, 1))
