"""Precision, recall, F-scores and the other metrics of the confusion-count family.

Each class is a `keras.metrics.Metric` that keeps O(C) compensated sums (tp, predicted and true
counts per class) and turns them into results with `functional.reductions`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import keras

from epochmetrics.functional import reductions
from epochmetrics.functional._args import (
    Average,
    Task,
    check_average,
    check_zero_division,
    default_average,
)
from epochmetrics.functional._layout import Layout
from epochmetrics.functional.reductions import KappaWeights
from epochmetrics.functional.stat_scores import (
    Counts,
    stat_scores_layout,
    stat_scores_update,
    unpack_stat_scores,
)
from epochmetrics.metrics._base import (
    PER_STEP_ARG,
    PerStep,
    SumStateMetric,
    check_per_step,
    own_init,
)
from epochmetrics.metrics._sums import Step

__all__ = [
    "Accuracy",
    "BalancedAccuracy",
    "CohenKappa",
    "F1Score",
    "FBetaScore",
    "JaccardIndex",
    "MatthewsCorrCoef",
    "Precision",
    "Recall",
    "Specificity",
]

_register = keras.saving.register_keras_serializable(package="epochmetrics")

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


def _doc(cls: type) -> type:
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


@_register
@_doc
class Precision(_Averaged):
    """Precision, tp / (tp + fp), over the whole epoch.

    Counts are summed over batches, so the result equals scikit-learn's `precision_score` on the
    concatenated data for any batch partition.

    {inputs}

    Args:
        {common}
        {average}

    Returns:
        `result()` gives a scalar, or with `average=None` a dict `{{"precision_<class>": scalar}}`.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Precision("multiclass", num_classes=3)
        >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 2])
        >>> round(float(m.result()), 4)
        0.5556
    """

    _default_name = "precision"
    _reduce = reductions.precision


@_register
@_doc
class Recall(_Averaged):
    """Recall, tp / (tp + fn), over the whole epoch.

    {inputs}

    Args:
        {common}
        {average}

    Returns:
        `result()` gives a scalar, or with `average=None` a dict `{{"recall_<class>": scalar}}`.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Recall("binary")
        >>> m.update_state([1, 1, 0, 1], [0.9, 0.2, 0.7, 0.6])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _default_name = "recall"
    _reduce = reductions.recall


@_register
@_doc
class FBetaScore(_Averaged):
    """F-beta score, (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), over the whole epoch.

    Computed from the epoch's counts, never by averaging per-batch scores: three batches with
    F1 0.75, 0.18 and 1.0 average to 0.64 where the epoch's F1 is 0.81.

    {inputs}

    Args:
        beta: Weight of recall relative to precision (> 0; inf gives recall).
        {common}
        {average}

    Returns:
        `result()` gives a scalar, or with `average=None` a dict `{{"<name>_<class>": scalar}}`.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.FBetaScore("binary", beta=2.0)
        >>> m.update_state([1, 1, 0, 1], [1, 0, 1, 1])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _default_name = "fbeta"
    _reduce = reductions.f_beta_score

    def __init__(
        self,
        task: Task,
        *,
        beta: float = 1.0,
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
        if (
            isinstance(beta, bool)
            or not isinstance(beta, (int, float))
            or not beta > 0
            or math.isnan(beta)
        ):
            raise ValueError(f"`beta` must be a positive number. Received: beta={beta!r}.")
        self.beta = float(beta)
        super().__init__(
            task,
            num_classes=num_classes,
            average=average,
            threshold=threshold,
            from_logits=from_logits,
            zero_division=zero_division,
            ignore_index=ignore_index,
            class_names=class_names,
            per_step=per_step,
            name=name,
            dtype=dtype,
        )

    def _extra(self) -> dict[str, Any]:
        return {"beta": self.beta}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta}


@_register
@_doc
class F1Score(FBetaScore):
    """F1 score, 2 tp / (2 tp + fp + fn), over the whole epoch.

    Unlike averaging per-batch F1 (seed example: batches give 0.6439 where the data gives
    0.8079), the counts are summed over the epoch first. Accepts sparse integer labels.

    {inputs}

    Args:
        {common}
        {average}

    Returns:
        `result()` gives a scalar, or with `average=None` a dict `{{"f1_<class>": scalar}}`, each a
        plain scalar log key usable as `monitor="val_f1_<class>"` (with `mode="max"`).

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.F1Score("multiclass", num_classes=3, average=None, class_names=["a", "b", "c"])
        >>> scores = [[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.2, 0.2, 0.6], [0.0, 0.1, 0.9]]
        >>> m.update_state([0, 1, 2, 2], scores)
        >>> {{k: round(float(v), 4) for k, v in m.result().items()}}
        {{'f1_a': 1.0, 'f1_b': 0.0, 'f1_c': 0.8}}
    """

    _default_name = "f1"

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
            beta=1.0,
            num_classes=num_classes,
            average=average,
            threshold=threshold,
            from_logits=from_logits,
            zero_division=zero_division,
            ignore_index=ignore_index,
            class_names=class_names,
            per_step=per_step,
            name=name,
            dtype=dtype,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


@_register
@_doc
class Specificity(_Averaged):
    """Specificity (true negative rate), tn / (tn + fp), per class over the whole epoch.

    Binary reports the specificity of the positive class (the recall of the negatives).

    {inputs}

    Args:
        {common}
        {average}

    Returns:
        A scalar, or with `average=None` a dict `{{"specificity_<class>": scalar}}`.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Specificity("binary")
        >>> m.update_state([0, 0, 0, 1], [0.2, 0.7, 0.1, 0.9])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _default_name = "specificity"
    _reduce = reductions.specificity


@_register
@_doc
class JaccardIndex(_Averaged):
    """Jaccard index (intersection over union), tp / (tp + fp + fn), over the whole epoch.

    {inputs}

    Args:
        {common}
        {average}

    Returns:
        A scalar, or with `average=None` a dict `{{"jaccard_<class>": scalar}}`.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.JaccardIndex("multilabel", num_classes=2, average="micro")
        >>> m.update_state([[1, 0], [1, 1]], [[0.9, 0.6], [0.8, 0.1]])
        >>> round(float(m.result()), 4)
        0.5
    """

    _default_name = "jaccard"
    _reduce = reductions.jaccard_index


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


@_register
@_doc
class Accuracy(_Scalar):
    """Accuracy: the (weighted) fraction of samples predicted right, over the whole epoch.

    Multilabel reports subset accuracy (every label of a sample right), as scikit-learn's
    `accuracy_score`.

    {inputs}

    Args:
        {common}

    Returns:
        A scalar.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Accuracy("multiclass", num_classes=3)
        >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 2])
        >>> float(m.result())
        0.75
    """

    _default_name = "accuracy"

    def _compute(self, state: Any, xp: Any) -> Any:
        return reductions.accuracy(xp, self._spec, self._counts(state, xp))


@_register
@_doc
class BalancedAccuracy(_Scalar):
    """Balanced accuracy: the mean recall over the classes that occur in y_true.

    {inputs}

    Args:
        {common}

    Returns:
        A scalar.

    Raises:
        ValueError: for task="multilabel", which scikit-learn does not define either.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.BalancedAccuracy("multiclass", num_classes=3)
        >>> m.update_state([0, 0, 0, 1], [0, 0, 1, 1])
        >>> round(float(m.result()), 4)
        0.8333
    """

    _default_name = "balanced_accuracy"
    _tasks = ("binary", "multiclass")

    def _compute(self, state: Any, xp: Any) -> Any:
        return reductions.balanced_accuracy(xp, self._spec, self._counts(state, xp))


@_register
@_doc
class MatthewsCorrCoef(_Scalar):
    """Matthews correlation coefficient (multiclass R_K), from O(C) counts.

    With c samples right out of s, t_k true and p_k predicted of class k:
    (c s - sum t_k p_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)); 0 when undefined.

    {inputs}

    Args:
        {common}

    Returns:
        A scalar in [-1, 1].

    Raises:
        ValueError: for task="multilabel", which scikit-learn does not define either.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.MatthewsCorrCoef("binary")
        >>> m.update_state([1, 1, 0, 0], [0.9, 0.4, 0.3, 0.2])
        >>> round(float(m.result()), 4)
        0.5774
    """

    _default_name = "mcc"
    _tasks = ("binary", "multiclass")

    def _compute(self, state: Any, xp: Any) -> Any:
        return reductions.matthews_corrcoef(xp, self._spec, self._counts(state, xp))


@_register
@_doc
class CohenKappa(_Scalar):
    """Cohen's kappa between labels and predictions, (p_o - p_e) / (1 - p_e).

    `weights="linear"` or `"quadratic"` give the weighted kappa for ordinal classes, weighting a
    disagreement between classes i and j by |i - j| or (i - j)^2 (class indices 0..C-1, as
    scikit-learn's `cohen_kappa_score(..., labels=range(num_classes))`). State stays O(C).
    NaN (undefined) when the expected disagreement is 0.

    {inputs}

    Args:
        weights: None, "linear" or "quadratic".
        {common}

    Returns:
        A scalar.

    Raises:
        ValueError: for task="multilabel" or an unknown `weights`.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.CohenKappa("multiclass", num_classes=3, weights="quadratic")
        >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 1])
        >>> round(float(m.result()), 4)
        0.6364
    """

    _default_name = "kappa"
    _tasks = ("binary", "multiclass")

    def __init__(
        self,
        task: Task,
        *,
        weights: KappaWeights = None,
        num_classes: int | None = None,
        threshold: float = 0.5,
        from_logits: bool = False,
        ignore_index: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        if weights not in (None, "linear", "quadratic"):
            raise ValueError(
                f"`weights` must be None, 'linear' or 'quadratic'. Received: weights={weights!r}."
            )
        self.weights = weights
        self._ordinal = weights is not None
        super().__init__(
            task,
            num_classes=num_classes,
            threshold=threshold,
            from_logits=from_logits,
            ignore_index=ignore_index,
            name=name,
            dtype=dtype,
        )

    def _compute(self, state: Any, xp: Any) -> Any:
        return reductions.cohen_kappa(xp, self._spec, self._counts(state, xp), weights=self.weights)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weights": self.weights}
