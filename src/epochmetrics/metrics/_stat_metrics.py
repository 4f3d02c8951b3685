"""The shells of the confusion-count family: O(C) per-class sums, shared docstring parts.

`_StatScores` keeps the sums (`functional.stat_scores`); `_Averaged` adds `average`,
`zero_division` and `per_step` (the per-class ratios); `_Scalar` is a single value from the
counts. The public classes are in `classification` (ratios) and `agreement` (accuracy,
balanced accuracy, MCC, kappa).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import keras

from epochmetrics.functional._args import (
    Average,
    Task,
    check_average,
    check_zero_division,
    default_average,
)
from epochmetrics.functional._layout import Layout
from epochmetrics.functional.stat_scores import (
    Counts,
    stat_scores_layout,
    stat_scores_update,
    unpack_stat_scores,
)
from epochmetrics.metrics._base import SumStateMetric
from epochmetrics.metrics._public import PER_STEP_ARG, PerStep, check_per_step, own_init
from epochmetrics.metrics._sums import Step

register = keras.saving.register_keras_serializable(package="epochmetrics")

COMMON_ARGS = """task: "binary", "multiclass" or "multilabel". Required: never guessed from shapes.
        num_classes: Number of classes (multiclass) or labels (multilabel). Unused for binary.
        threshold: Decision threshold for binary and multilabel probabilities; a sample is
            positive when its probability is strictly greater.
        from_logits: Whether binary/multilabel `y_pred` holds logits rather than probabilities.
        ignore_index: Label value whose samples (multilabel: elements) are skipped.
        name: Base name of the log keys.
        dtype: Keras dtype policy of the metric (the state is always float32 pairs)."""

CLASS_NAMES_ARG = "class_names: Names used in per-class log keys instead of class indices."

AVERAGE_ARGS = (
    CLASS_NAMES_ARG
    + """
        average: "micro", "macro", "weighted", None (one scalar log key per class,
            `<name>_<class>`), or for binary "binary" (the positive class). Defaults to "binary"
            for binary and "macro" otherwise. "macro" averages over the classes present in the
            epoch, as scikit-learn's default `labels=None` does.
        zero_division: Value of a ratio whose denominator is 0: 0.0, 1.0 or nan.
        """
    + PER_STEP_ARG
)

INPUTS = """Inputs to `update_state(y_true, y_pred, sample_weight=None)`: binary `(B,)` or `(B, 1)`
    labels and probabilities/logits (or 0/1 integer predictions); multiclass `y_true` as integer
    labels `(B,)`/`(B, 1)` or one-hot `(B, C)` and `y_pred` as `(B, C)` scores or `(B,)` integer
    labels; multilabel `(B, L)` for both. `sample_weight` has shape `(B,)`."""


def doc(cls: type) -> type:
    cls.__doc__ = (cls.__doc__ or "").format(
        common=COMMON_ARGS, average=AVERAGE_ARGS, inputs=INPUTS
    )
    return own_init(cls)


class _StatScores(SumStateMetric):
    """Shared shell: O(C) per-class sums."""

    _default_name = ""
    _tasks: tuple[str, ...] = ("binary", "multiclass", "multilabel")
    _ordinal = False

    def __init__(self, task: Any, *, name: str | None = None, **kwargs: Any) -> None:
        if task not in self._tasks and task in ("binary", "multiclass", "multilabel"):
            raise ValueError(
                f"{type(self).__name__} supports task={' or '.join(map(repr, self._tasks))}. "
                f"Received: task={task!r}."
            )
        super().__init__(task, name=name or self._default_name, **kwargs)

    def _layout(self) -> Layout:
        return stat_scores_layout(self._spec, self._ordinal)

    def _step(self) -> Step:
        return Step(stat_scores_update, (self._spec, self._ordinal))

    def _counts(self, state: Any, xp: Any) -> Counts:
        return unpack_stat_scores(xp, self._spec, state, ordinal=self._ordinal)


class _Averaged(_StatScores):
    """A per-class ratio with `average` and `zero_division`."""

    _reduce: Callable[..., Any]

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        average: Average | Literal["auto"] = "auto",
        threshold: float = 0.5,
        from_logits: bool = False,
        zero_division: float = 0.0,
        ignore_index: int | None = None,
        class_names: Any = None,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            task,
            num_classes=num_classes,
            threshold=threshold,
            from_logits=from_logits,
            ignore_index=ignore_index,
            class_names=class_names,
            name=name,
            dtype=dtype,
        )
        self.average = check_average(default_average(task) if average == "auto" else average, task)
        self.zero_division = check_zero_division(zero_division)
        self.per_step = check_per_step(per_step)

    def _compute(self, state: Any, xp: Any) -> Any:
        value = type(self)._reduce(
            xp,
            self._spec,
            self._counts(state, xp),
            average=self.average,
            zero_division=self.zero_division,
            **self._extra(),
        )
        return self._per_class(value) if self.average is None else value

    def _extra(self) -> dict[str, Any]:
        return {}

    def _result_keys(self) -> tuple[str, ...] | None:
        return self._per_class_keys() if self.average is None else None

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "average": self.average,
            "zero_division": self.zero_division,
            "per_step": self.per_step,
        }


class _Scalar(_StatScores):
    """A single value from the counts: no `average`, no `zero_division`."""

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        threshold: float = 0.5,
        from_logits: bool = False,
        ignore_index: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            task,
            num_classes=num_classes,
            threshold=threshold,
            from_logits=from_logits,
            ignore_index=ignore_index,
            name=name,
            dtype=dtype,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["class_names"]
        return config
