"""What is wrong with the data: the errors for bad inputs and the warning for undefined
results, shared by the in-graph formatter (`_format`) and the host validator
(`functional.ranking.prepare`), so both paths say the same thing.

Import them from `functional._args`, the one import path of options and messages.
"""

from __future__ import annotations

import numpy as np

from epochmetrics.functional._task import TaskSpec

__all__ = [
    "INVALID_KINDS",
    "ONE_HOT_RULE",
    "SCORES",
    "UndefinedMetricWarning",
    "ambiguous_form_error",
    "bad_one_hot_error",
    "bad_scores_error",
    "bad_values_error",
    "bad_weights_error",
    "nan_rows_error",
    "shape_error",
]

# Kinds of invalid input, counted in this order in the last cells of every state.
INVALID_KINDS = ("y_true", "y_pred", "sample_weight")
# How ranking metrics describe the predictions they need.
SCORES = "float scores (ranking needs scores, not predicted labels)"


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
