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

from epochmetrics import _backend

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


class Labels(NamedTuple):
    """One batch as hard labels. Binary/multiclass: `(B,)`; multilabel: `(B, L)`."""

    y_true: Any  # int32
    y_pred: Any  # int32
    weight: Any  # float32, 0 where ignored or invalid; multilabel (B, L)
    sample_weight: Any  # float32 (B,), 0 where the whole sample is invalid (multilabel only)
    invalid: Any  # float32 scalar: number of invalid samples (elements for multilabel)


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
    bt, bp = _shape(y_true)[0], _shape(y_pred)[0]
    if bt is not None and bp is not None and bt != bp:
        raise ValueError(
            "y_true and y_pred must have the same batch size. "
            f"Received: y_true.shape={_shape(y_true)}, y_pred.shape={_shape(y_pred)}."
        )
    if sample_weight is not None:
        sw = _shape(sample_weight)
        if not _is_vector(sw) or (sw[0] is not None and bt is not None and sw[0] != bt):
            raise ValueError(
                "`sample_weight` must have shape (batch,) or (batch, 1) matching y_true. "
                f"Received: sample_weight.shape={sw}, y_true.shape={_shape(y_true)}."
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
    """The batch as tensors, with matching batch sizes (else a ValueError)."""
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    if sample_weight is not None:
        sample_weight = ops.convert_to_tensor(sample_weight)
    _check_batch(spec, y_true, y_pred, sample_weight)
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


def flat_weights(sample_weight: Any, n: Any) -> Any:
    """`sample_weight` as a `(B,)` float32 tensor; ones when None."""
    if sample_weight is None:
        return ops.ones((n,), dtype="float32")
    return _flat(ops.cast(sample_weight, "float32"))


def format_inputs(spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Labels:
    """Normalise one batch to hard labels, weights and an invalid count (see module docstring)."""
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
            t_raw = ops.cast(ops.argmax(y_true, axis=-1), "int32")
            # An all-zero (or all-negative) one-hot row names no class.
            t_bad = ops.logical_not(ops.max(y_true, axis=-1) > 0)
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
    bad = ops.logical_or(t_bad, p_bad)
    # One scalar read per eager batch; the details are gathered only when something is wrong.
    if _backend.is_concrete(bad) and bool(ops.any(bad)):
        if bool(ops.any(t_bad)):
            _raise_invalid(spec, "y_true", y_true, t_bad)
        _raise_invalid(spec, "y_pred", y_pred, p_bad)

    keep = ops.logical_not(bad)
    if ignored is not None:
        keep = ops.logical_and(keep, ops.logical_not(ignored))
    t = ops.where(keep, t_raw, 0)
    p = ops.where(keep, p, 0)
    if spec.task == "multilabel":
        sw = flat_weights(sample_weight, ops.shape(t)[0])
        sample_ok = ops.cast(ops.logical_not(ops.any(bad, axis=-1)), "float32")
        weight = ops.cast(keep, "float32") * ops.expand_dims(sw, -1)
        sw = sw * sample_ok
    else:  # per-sample weights live in `weight`; no ones tensor for an unweighted batch
        sw = None if sample_weight is None else flat_weights(sample_weight, None)
        weight = ops.cast(keep, "float32")
        weight = weight if sw is None else weight * sw
    invalid = ops.sum(ops.cast(bad, "float32"))
    return Labels(t, p, weight, sw, invalid)


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
