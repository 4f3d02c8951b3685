"""Options and messages: validated once, named in one place. Plain Python, no Keras.

Every option of every public class and function (metrics, functional API, callbacks) is
checked here, so that the same kind of mistake gets the same kind of message everywhere:
"`name` must be ... Received: name=value." Integers may be Python or NumPy integers, floats
Python or NumPy floats; booleans are never numbers. The names of the allowed values
(`Task`, `Average`, ...) are in `epochmetrics._types`.

- `TaskSpec` / `make_spec`: the task arguments every metric shares.
- Small checkers (`check_int`, `check_float`, `check_bool`, `check_choice`, `check_str`,
  `check_rate`, `check_path`) and the options several classes share (`check_per_step`,
  `check_direction`, `check_bins_per_octave`, `check_num_thresholds`; the regression
  metrics' `check_multioutput`, `check_ignore_value`, `check_output_names`,
  `check_tau_variant`).
- The messages for bad inputs, shared by the in-graph formatter (`_format`) and the host
  validator (`functional.ranking.prepare`), so both paths say the same thing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from epochmetrics._types import Average, Direction, PerStep, Task, TauVariant

__all__ = [
    "INVALID_KINDS",
    "ONE_HOT_RULE",
    "SCORES",
    "TaskSpec",
    "UndefinedMetricWarning",
    "ambiguous_form_error",
    "bad_one_hot_error",
    "bad_scores_error",
    "bad_values_error",
    "bad_weights_error",
    "check_average",
    "check_bins_per_octave",
    "check_bool",
    "check_choice",
    "check_class_names",
    "check_direction",
    "check_entries",
    "check_float",
    "check_ignore_value",
    "check_int",
    "check_multioutput",
    "check_num_thresholds",
    "check_output",
    "check_output_names",
    "check_path",
    "check_per_step",
    "check_rate",
    "check_str",
    "check_tau_variant",
    "check_zero_division",
    "class_labels",
    "default_average",
    "is_int",
    "make_spec",
    "nan_rows_error",
    "shape_error",
]

TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel")
# Kinds of invalid input, counted in this order in the last cells of every state.
INVALID_KINDS = ("y_true", "y_pred", "sample_weight")
# How ranking metrics describe the predictions they need.
SCORES = "float scores (ranking needs scores, not predicted labels)"


# --- small checkers ----------------------------------------------------------------------------
def is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    none: bool = False,
    what: str | None = None,
    lead: str | None = None,
    received: str | None = None,
) -> Any:
    """`value` as an int in [minimum, maximum] (or None when `none`), else a ValueError:
    "`name` must be <what>. Received: name=value." (`lead` replaces "`name` must be",
    `received` replaces "name=value")."""
    if value is None and none:
        return None
    ok = is_int(value) and (minimum is None or value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        if what is None:
            what = "a positive integer" if minimum == 1 and maximum is None else "an integer"
            if (minimum is not None and minimum != 1) or maximum is not None:
                what += f" {_interval(minimum, maximum)}"
        lead = f"`{name}` must be" if lead is None else lead
        shown = f"{name}={value!r}" if received is None else received
        raise ValueError(f"{lead} {what}{' or None' if none else ''}. Received: {shown}.")
    return int(value)


def _interval(minimum: int | None, maximum: int | None) -> str:
    if maximum is None:
        return f">= {minimum}"
    if minimum is None:
        return f"<= {maximum}"
    return f"from {minimum} to {maximum}"


def check_float(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    open_interval: bool = False,
    open_low: bool = False,
    nan: bool = False,
    what: str | None = None,
) -> float:
    """`value` as a float in [low, high] (or (low, high) when `open_interval`, (low, high]
    when `open_low`; NaN too when `nan`)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if ok:
        v = float(value)
        above = low < v if open_interval or open_low else low <= v
        below = v < high if open_interval else v <= high
        ok = (nan and math.isnan(v)) or (above and below)
    if not ok:
        if what is None:
            left = "(" if open_interval or open_low else "["
            right = ")" if open_interval else "]"
            what = f"a number in {left}{low:g}, {high:g}{right}"
        raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r}.")
    return float(value)


def check_bool(name: str, value: Any, *, none: bool = False) -> Any:
    """`value` as a bool (or None when `none`), else a ValueError."""
    if value is None and none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        allowed = "True, False or None" if none else "True or False"
        raise ValueError(f"`{name}` must be {allowed}. Received: {name}={value!r}.")
    return bool(value)


def check_choice(
    name: str, value: Any, choices: Sequence[Any], where: str = "", what: str | None = None
) -> Any:
    """`value` if it is one of `choices`, else a ValueError listing them (or saying `what`)."""
    if value not in choices:
        if what is None:
            listed = [repr(c) for c in choices]
            what = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + f" or {listed[-1]}"
        raise ValueError(f"`{name}` must be {what}{where}. Received: {name}={value!r}.")
    return value


def check_entries(name: str, values: Sequence[Any], choices: Sequence[Any]) -> tuple[Any, ...]:
    """Each of `values` one of `choices` (a list option, e.g. the averages of a report)."""
    many = len(choices) > 3
    allowed = (
        f"among {[*choices]}"
        if many
        else ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
    )
    for value in values:
        if value not in choices:
            raise ValueError(f"`{name}` entries must be {allowed}. Received: {value!r}.")
    return tuple(values)


def check_str(name: str, value: Any, what: str = "a string") -> str:
    """A string, else a TypeError (a name or a prefix: no other type could be meant)."""
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be {what}. Received: {name}={value!r}.")
    return value


def check_output(output: Any) -> int | str | None:
    """A model output, by name or index (None: the only one), else a TypeError."""
    if output is None or isinstance(output, str):
        return output
    if not is_int(output):
        raise TypeError(
            f"`output` must be an output name, an index or None. Received: output={output!r}."
        )
    return int(output)


def check_rate(name: str, value: Any, *, open_low: bool = False) -> float:
    """A rate (recall, precision, ...) in [0, 1], or (0, 1] with `open_low`."""
    interval = "(0, 1]" if open_low else "[0, 1]"
    what = f"a number in {interval}"
    return check_float(name, value, low=0.0, high=1.0, open_low=open_low, what=what)


def check_per_step(per_step: Any) -> PerStep:
    """Which keys a train or test step returns (see `metrics/_docs.py`)."""
    return check_choice("per_step", per_step, ("all", "averages", "none"))  # type: ignore[no-any-return]


_DIRECTIONS = {"up": "up", "max": "up", "down": "down", "min": "down"}


def check_direction(value: Any, where: str) -> Direction:
    """ "up" or "down" ("max" and "min" as Keras' modes say it); `where` names the option."""
    if not isinstance(value, str) or value not in _DIRECTIONS:
        raise ValueError(f"{where} must be 'up' or 'down' (or 'max'/'min'). Received: {value!r}.")
    return _DIRECTIONS[value]  # type: ignore[return-value]


def check_num_thresholds(value: Any) -> int:
    """How many uniform thresholds a curve has (TensorBoard's PR curves: 101)."""
    return int(check_int("num_thresholds", value, minimum=2, maximum=10_000))


def check_path(name: str, value: Any) -> Any:
    """A file system path (str or os.PathLike), else a TypeError."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a path. Received: {name}={value!r}.")
    return value


def check_bins_per_octave(bins_per_octave: Any) -> int:
    """The ranking metrics' binned resolution: a power of two from 1 to 1024."""
    what = "a power of two from 1 to 1024"
    value = check_int("bins_per_octave", bins_per_octave, minimum=1, maximum=1024, what=what)
    if value & (value - 1):
        raise ValueError(f"`bins_per_octave` must be {what}. Received: bins_per_octave={value!r}.")
    return int(value)


# --- the regression metrics' options --------------------------------------------------------------
MULTIOUTPUT = ("raw_values", "uniform_average", "variance_weighted")


def check_multioutput(
    multioutput: Any, num_outputs: int, *, variance: bool
) -> str | tuple[float, ...]:
    """scikit-learn's `multioutput`: a string, or `num_outputs` finite non-negative weights
    (not all 0), as a tuple. `variance`: whether "variance_weighted" is allowed (R^2,
    explained variance, the correlations; scikit-learn's error metrics have no such
    average)."""
    choices = MULTIOUTPUT if variance else MULTIOUTPUT[:2]
    if isinstance(multioutput, str) or multioutput is None:
        where = "" if variance else " (an error metric has no 'variance_weighted')"
        return str(
            check_choice("multioutput", multioutput, (*choices, "an array of weights"), where)
        )
    try:
        weights = np.asarray(multioutput, dtype=np.float64)
    except (TypeError, ValueError):
        weights = np.asarray([np.nan])
    ok = weights.shape == (num_outputs,) and bool(np.all(np.isfinite(weights)))
    ok = ok and bool(np.all(weights >= 0)) and float(weights.sum()) > 0
    if not ok:
        raise ValueError(
            f"`multioutput` must be one of {', '.join(map(repr, choices))} or {num_outputs} "
            f"non-negative weights, one per output (num_outputs={num_outputs}), not all 0. "
            f"Received: multioutput={multioutput!r}."
        )
    return tuple(float(v) for v in weights)


def check_ignore_value(value: Any) -> tuple[float | None, bool]:
    """`ignore_value` (a target value to skip) -> `(finite value or None, ignores NaN)`."""
    if value is None:
        return None, False
    v = check_float("ignore_value", value, nan=True, what="a number (NaN included) or None")
    if math.isnan(v):
        return None, True
    if math.isinf(v):
        raise ValueError(
            f"`ignore_value` must be finite or NaN (infinite targets are invalid input, never a "
            f"mask). Received: ignore_value={value!r}."
        )
    return v, False


def check_output_names(names: Any, num_outputs: int) -> tuple[str, ...] | None:
    """Names of a regression metric's outputs in its per-output keys, one each, distinct."""
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ValueError(
            f"`output_names` must be a list of strings. Received: output_names={names!r}."
        )
    out = tuple(str(n) for n in names)
    if len(out) != num_outputs or len(set(out)) != len(out):
        raise ValueError(
            f"`output_names` must be {num_outputs} distinct names, one per output "
            f"(num_outputs={num_outputs}). Received: {list(out)!r}."
        )
    return out


def check_tau_variant(variant: Any) -> TauVariant:
    return check_choice("variant", variant, ("b", "c"), " (tau-b or Stuart's tau-c)")  # type: ignore[no-any-return]


# --- the task arguments --------------------------------------------------------------------------
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
        if not is_int(num_classes):
            raise ValueError(
                f"`num_classes` must be an integer >= {minimum}. "
                f"Received: num_classes={num_classes!r}."
            )
        if num_classes < minimum:
            raise ValueError(
                f"`num_classes` must be an integer >= {minimum} for task={task!r}. "
                f"Received: num_classes={num_classes!r}."
            )
    check_float("threshold", threshold, what="a float in (0, 1)")
    check_float(
        "threshold",
        threshold,
        low=0.0,
        high=1.0,
        open_interval=True,
        what="in the open interval (0, 1)",
    )
    if task == "multiclass" and float(threshold) != 0.5:
        raise ValueError(
            "`threshold` applies to binary and multilabel probabilities; task='multiclass' "
            "predicts the class with the largest score, with no threshold. Leave it unset "
            f"(or use task='multilabel' for independent labels). Received: threshold={threshold!r}."
        )
    check_bool("from_logits", from_logits)
    if ignore_index is not None and not is_int(ignore_index):
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
    names = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
    if average not in allowed:
        raise ValueError(
            f"`average` must be one of {names} for task={task!r}. Received: average={average!r}."
        )
    return average  # type: ignore[no-any-return]


def default_average(task: str) -> Average:
    return "binary" if task == "binary" else "macro"


def check_zero_division(zero_division: Any) -> float:
    """`zero_division` as scikit-learn: the value of a ratio whose denominator is 0."""
    what = "0.0, 1.0 or nan"
    value = check_float("zero_division", zero_division, nan=True, what=what)
    if not (value in (0.0, 1.0) or math.isnan(value)):
        raise ValueError(
            f"`zero_division` must be {what}. Received: zero_division={zero_division!r}."
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


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for the data given (e.g. ROC-AUC with a single class in y_true).

    The metric returns scikit-learn's value for that case (NaN, or 0.0 for average precision
    without positives) instead of raising, so an epoch never ends in an exception.
    """


# --- messages for bad inputs --------------------------------------------------------------------
def shape_error(
    spec: TaskSpec,
    true_shape: tuple[int | None, ...],
    pred_shape: tuple[int | None, ...],
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
    dense = {
        "binary": "both (batch, ...) of the same shape",
        "multiclass": (
            f"y_true (batch, ...) labels or (batch, ..., {c}) one-hot, {pred} (batch, ..., {c}) "
            + ("scores" if scores is not None else "scores or (batch, ...) labels")
        ),
        "multilabel": f"both (batch, ..., {c})",
    }[spec.task]
    note = f" Dense inputs (segmentation) put extra axes after the batch axis: {dense}."
    if spec.task != "binary" and len(pred_shape) > 2 and pred_shape[1] == c and pred_shape[-1] != c:
        note += (
            f" The class axis comes last (Keras' channels_last); {pred}.shape={pred_shape} "
            f"looks channels_first: move axis 1 to the end (keras.ops.moveaxis({pred}, 1, -1))."
        )
    return ValueError(
        f"task={spec.task!r} expects {expected}. "
        f"Received: y_true.shape={true_shape}, {pred}.shape={pred_shape}."
        + (note if n == "batch" else "")
    )


def _shown(values: np.ndarray) -> str:
    found = np.unique(values)
    shown = ", ".join(
        f"{v.item():.7g}" if v.dtype.kind == "f" else str(v.item()) for v in found[:5]
    )
    return shown + (", ..." if found.size > 5 else "")


def bad_values_error(spec: TaskSpec, which: str, bad: np.ndarray) -> ValueError:
    """Invalid label values of `which` ("y_true", or "y_pred" labels/probabilities)."""
    skipped = "" if spec.ignore_index is None else f" (ignore_index={spec.ignore_index} is skipped)"
    count = f"Received {bad.size} invalid value(s): {_shown(bad)}."
    if which == "y_true":
        allowed = (
            f"integers in [0, num_classes={spec.num_classes}){skipped}"
            if spec.task == "multiclass"
            else f"0 or 1{skipped}"
        )
        return ValueError(f"task={spec.task!r} expects y_true values to be {allowed}. {count}")
    if spec.task == "multiclass":
        return ValueError(
            "task='multiclass' expects y_pred labels to be integers in "
            f"[0, num_classes={spec.num_classes}). {count}"
        )
    hint = "" if spec.from_logits else " If y_pred holds logits, pass from_logits=True."
    allowed = (
        "logits (not NaN)" if spec.from_logits else "probabilities in [0, 1] or 0/1 integer labels"
    )
    return ValueError(f"task={spec.task!r} expects y_pred values to be {allowed}. {count}{hint}")


ONE_HOT_RULE = (
    "one-hot rows hold 0/1 with exactly one 1 (float rows may be soft targets: fractions in "
    "[0, 1] without a 1)"
)


def bad_one_hot_error(
    spec: TaskSpec,
    rows: int,
    example: np.ndarray,
    true_shape: tuple[int | None, ...],
    same_shape: bool,
) -> ValueError:
    """y_true read as one-hot rows (its last axis is num_classes) holds rows that are not.

    `same_shape`: y_pred has y_true's shape, so labels of that shape are the other reading
    the rule turned down: say how to ask for it."""
    void = (
        f"an all-zero row is void (ignore_index={spec.ignore_index} is set)"
        if spec.ignore_index is not None
        else "an all-zero row is void only when ignore_index is set"
    )
    row = "[" + ", ".join(f"{v:.7g}" for v in np.asarray(example, dtype=np.float64)) + "]"
    other = (
        " If y_true holds labels (one per element of its shape), give it a trailing axis of 1 "
        "(y_true[..., None]) and pass y_pred as labels of y_true's shape."
        if same_shape
        else ""
    )
    return ValueError(
        f"task='multiclass' reads y_true of shape {true_shape} as one-hot rows over its last "
        f"axis (num_classes={spec.num_classes}): {ONE_HOT_RULE}; {void}. Received {rows} "
        f"row(s) that are not, e.g. {row}.{other}"
    )


def ambiguous_form_error(spec: TaskSpec, shape: tuple[int | None, ...], dtype: str) -> ValueError:
    """Multiclass y_true and an integer y_pred of one shape `S + (C,)`: two readings fit."""
    return ValueError(
        f"task='multiclass' cannot tell what y_true and y_pred of the same shape {shape} with a "
        f"last axis of num_classes={spec.num_classes} and an integer y_pred (dtype {dtype}) "
        "are: one-hot targets with one-hot predictions (rows over the last axis), or labels "
        f"with predicted labels (one per element of {shape}). Say which: for one-hot rows "
        "pass y_pred as float scores (keras.ops.cast(y_pred, 'float32')); for labels give "
        "y_true a trailing axis of 1 (y_true[..., None])."
    )


def nan_rows_error(rows: int) -> ValueError:
    return ValueError(
        f"task='multiclass' received NaN scores in y_pred for {rows} sample(s); their predicted "
        "class is undefined. Check the model (the loss is probably NaN too)."
    )


def bad_scores_error(spec: TaskSpec, rows: int) -> ValueError:
    """Multiclass score rows a ranking metric cannot rank (NaN, or outside [0, 1])."""
    allowed = "logits (not NaN)" if spec.from_logits else "probabilities in [0, 1]"
    hint = "" if spec.from_logits else " If y_pred holds logits, pass from_logits=True."
    return ValueError(
        f"task='multiclass' expects y_pred rows of {allowed}. Received {rows} row(s) with "
        f"invalid values.{hint}"
    )


def bad_weights_error(count: int, first: int, value: float) -> ValueError:
    return ValueError(
        f"`sample_weight` must be finite. Received {count} NaN or infinite weight(s), the first "
        f"at index {first} (value {value})."
    )
