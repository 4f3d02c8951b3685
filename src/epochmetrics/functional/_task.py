"""The task arguments every classification metric shares: `TaskSpec` / `make_spec`, and
the options that depend on the task (`average`, `zero_division`, `class_names`).

Import them from `functional._args`, the one import path of options and messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from epochmetrics._types import Average, Task
from epochmetrics.functional._checks import check_bool, check_float, is_int

__all__ = [
    "TASKS",
    "TaskSpec",
    "check_average",
    "check_class_names",
    "check_zero_division",
    "class_labels",
    "default_average",
    "make_spec",
]

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
