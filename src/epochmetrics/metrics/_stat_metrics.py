"""The shells of the confusion-count family: O(C) per-class sums, shared docstring parts.

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
from epochmetrics.metrics._public import PER_STEP_ARG, own_init
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
            epoch, as scikit-learn's default `labels=None` does. Multilabel also takes
            "samples" (each row's score over its labels, then the mean over rows, as
            scikit-learn; not for Specificity).
        zero_division: Value of a ratio whose denominator is 0: 0.0, 1.0 or nan.
        top_k: Multiclass scores only: the k highest-scoring classes of each sample are its
            predictions (ties at the k-th score go to the lower class index, as argmax: top_k=1
            predicts what the default does); each sample then predicts k classes.
        multidim_average: "global" (counts over every element of the epoch) or "samplewise"
            (the metric of each sample, e.g. each image of a segmentation batch, then the
            weighted mean over samples). A sample whose value is undefined (a void image,
            every pixel ignored) counts as `zero_division`, for every average, as
            scikit-learn's `average="samples"`; `zero_division=nan` leaves it out.
        """
    + PER_STEP_ARG
)

INPUTS = """Inputs to `update_state(y_true, y_pred, sample_weight=None)`: binary `(B,)` or `(B, 1)`
    labels and probabilities/logits (or 0/1 integer predictions); multiclass `y_true` as integer
    labels `(B,)`/`(B, 1)` or one-hot `(B, C)` and `y_pred` as `(B, C)` scores or `(B,)` integer
    labels; multilabel `(B, L)` for both. `sample_weight` is a scalar or `(B,)`. Dense inputs
    (segmentation) put extra axes after the batch axis: `(B, H, W)` labels with `(B, H, W, C)`
    scores, `(B, H, W, C)` one-hot with scores, `(B, H, W)` label maps with `(B, H, W)` label
    maps (integer y_pred); binary `(B, H, W)`; multilabel `(B, H, W, L)`; `sample_weight`
    `(B,)` per sample or `(B, H, W)` per element; `ignore_index` skips those label values."""


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
