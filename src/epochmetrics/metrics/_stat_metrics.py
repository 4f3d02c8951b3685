"""The shells of the confusion-count family: O(C) per-class sums.

`_StatScores` keeps the sums (`functional.stat_scores`); `_Averaged` adds `average`,
`zero_division` and `per_step` (the per-class ratios); `_Scalar` is a single value from the
counts. The public classes are in `classification` (ratios) and `agreement` (accuracy,
balanced accuracy, MCC, kappa).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from epochmetrics._backend.xp import divide
from epochmetrics._types import Average, MultidimAverage, PerStep, RatioAverage, Task
from epochmetrics.functional._args import (
    check_average,
    check_choice,
    check_int,
    check_per_step,
    check_zero_division,
    default_average,
    make_spec,
)
from epochmetrics.functional._layout import Layout
from epochmetrics.functional.samplewise import samplewise_layout, samplewise_update
from epochmetrics.functional.stat_scores import (
    Counts,
    stat_scores_layout,
    stat_scores_update,
    top_k_update,
    unpack_stat_scores,
)
from epochmetrics.metrics._base import SumStateMetric
from epochmetrics.metrics._sums import Step

register = keras.saving.register_keras_serializable(package="epochmetrics")


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
        return Step(stat_scores_update, (self._spec, self._ordinal), kernel="stat_scores")

    def _counts(self, state: Any, xp: Any) -> Counts:
        return unpack_stat_scores(xp, self._spec, state, ordinal=self._ordinal)


class _Averaged(_StatScores):
    """A per-class ratio with `average` and `zero_division`."""

    _reduce: Callable[..., Any]
    _kind = ""  # the ratio of `reductions.ratios` this metric is

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        average: RatioAverage = "auto",
        threshold: float = 0.5,
        from_logits: bool = False,
        zero_division: float = 0.0,
        ignore_index: int | None = None,
        class_names: Any = None,
        top_k: int | None = None,
        multidim_average: MultidimAverage = "global",
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        spec = make_spec(task, num_classes, threshold, from_logits, ignore_index)
        # Settings the state's layout depends on come first: the base class makes the state.
        average, self.multidim_average = _check_averaging(
            type(self).__name__, spec, average, multidim_average
        )
        self.average = average
        self.top_k = check_top_k(top_k, spec, self.multidim_average)
        self.zero_division = check_zero_division(zero_division)
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
        self.per_step = check_per_step(per_step)

    @property
    def _samplewise(self) -> bool:
        return self.multidim_average == "samplewise"

    def _layout(self) -> Layout:
        if self._samplewise:
            return samplewise_layout(self._spec.num_classes if self.average is None else 1)
        return super()._layout()

    def _step(self) -> Step:
        if self._samplewise:
            args = (self._spec, self._kind, self.average, self.zero_division, self._beta())
            return Step(samplewise_update, args)
        if self.top_k is not None:
            return Step(top_k_update, (self._spec, self.top_k))
        return super()._step()

    def _beta(self) -> float:
        return 1.0

    def _compute(self, state: Any, xp: Any) -> Any:
        if self._samplewise:
            parts = self._layout().unpack(state)
            value = divide(xp, parts["value"], parts["weight"], float("nan"))
            return self._per_class(value) if self.average is None else value[0]
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
        config = {
            **super().get_config(),
            "average": self.average,
            "zero_division": self.zero_division,
            "top_k": self.top_k,
            "multidim_average": self.multidim_average,
            "per_step": self.per_step,
        }
        if self._samples_average:
            config["average"], config["multidim_average"] = "samples", "global"
        return config

    @property
    def _samples_average(self) -> bool:
        """Whether this is multilabel `average="samples"` (samplewise micro over rows)."""
        return self._spec.task == "multilabel" and self._samplewise and self.average == "micro"


def _check_averaging(
    cls: str, spec: Any, average: Any, multidim_average: Any
) -> tuple[Average, MultidimAverage]:
    """`(average, multidim_average)`; multilabel `average="samples"` is samplewise micro."""
    multidim = check_choice("multidim_average", multidim_average, ("global", "samplewise"))
    if average == "samples":
        if spec.task != "multilabel" or cls == "Specificity":
            raise ValueError(
                "`average='samples'` (each sample's score, then the mean over samples) is "
                f"defined for task='multilabel' precision, recall, F-scores and Jaccard, as in "
                f"scikit-learn. Received: average='samples' for {cls}(task={spec.task!r})."
            )
        return "micro", "samplewise"
    average = check_average(default_average(spec.task) if average == "auto" else average, spec.task)
    return average, multidim


def check_top_k(top_k: Any, spec: Any, multidim_average: str) -> int | None:
    """`top_k` for multiclass scores: the k highest-scoring classes of a row are its
    predictions."""
    if top_k is None:
        return None
    if spec.task != "multiclass":
        raise ValueError(
            f"`top_k` applies to task='multiclass' scores. Received: top_k={top_k!r} for "
            f"task={spec.task!r}."
        )
    k = check_int("top_k", top_k, minimum=1, maximum=spec.num_classes)
    if multidim_average == "samplewise":
        raise ValueError(
            "`top_k` and multidim_average='samplewise' do not combine. Received: "
            f"top_k={top_k!r}, multidim_average='samplewise'."
        )
    return k


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
