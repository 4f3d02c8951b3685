"""Precision, recall, F-scores, specificity and Jaccard: per-class ratios of the epoch's counts.

Each class is a `keras.metrics.Metric` that keeps O(C) sums (tp, predicted and true counts per
class) and turns them into results with `functional.reductions`.
"""

from __future__ import annotations

from typing import Any

from epochmetrics._docs import RATIO_ARGS, count_docstring
from epochmetrics._types import MultidimAverage, PerStep, RatioAverage, Task
from epochmetrics.functional import reductions
from epochmetrics.functional._args import check_float
from epochmetrics.metrics._public import own_init
from epochmetrics.metrics._stat_metrics import _Averaged, register

__all__ = ["F1Score", "FBetaScore", "JaccardIndex", "Precision", "Recall", "Specificity"]

_BETA = {"beta": "Weight of recall relative to precision (> 0; inf gives recall)."}


@register
@own_init
@count_docstring(
    RATIO_ARGS,
    returns=(
        '`result()` gives a scalar, or with `average=None` a dict `{"precision_<class>": scalar}`.'
    ),
)
class Precision(_Averaged):
    """Precision, tp / (tp + fp), over the whole epoch.

    Counts are summed over batches, so the result equals scikit-learn's `precision_score` on the
    concatenated data for any batch partition.

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Precision("multiclass", num_classes=3)
        >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 2])
        >>> round(float(m.result()), 4)
        0.5556
    """

    _default_name = "precision"
    _kind = "precision"
    _reduce = reductions.precision


@register
@own_init
@count_docstring(
    RATIO_ARGS,
    returns=(
        '`result()` gives a scalar, or with `average=None` a dict `{"recall_<class>": scalar}`.'
    ),
)
class Recall(_Averaged):
    """Recall, tp / (tp + fn), over the whole epoch.

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Recall("binary")
        >>> m.update_state([1, 1, 0, 1], [0.9, 0.2, 0.7, 0.6])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _default_name = "recall"
    _kind = "recall"
    _reduce = reductions.recall


@register
@count_docstring(
    _BETA,
    RATIO_ARGS,
    returns=(
        '`result()` gives a scalar, or with `average=None` a dict `{"<name>_<class>": scalar}`.'
    ),
)
class FBetaScore(_Averaged):
    """F-beta score, (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), over the whole epoch.

    Computed from the epoch's counts, never by averaging per-batch scores: three batches with
    F1 0.75, 0.18 and 1.0 average to 0.64 where the epoch's F1 is 0.81.

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.FBetaScore("binary", beta=2.0)
        >>> m.update_state([1, 1, 0, 1], [1, 0, 1, 1])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _default_name = "fbeta"
    _kind = "fbeta"
    _reduce = reductions.f_beta_score

    def __init__(
        self,
        task: Task,
        *,
        beta: float = 1.0,
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
        self.beta = check_float("beta", beta, low=0.0, open_low=True, what="a positive number")
        super().__init__(
            task,
            num_classes=num_classes,
            average=average,
            threshold=threshold,
            from_logits=from_logits,
            zero_division=zero_division,
            ignore_index=ignore_index,
            class_names=class_names,
            top_k=top_k,
            multidim_average=multidim_average,
            per_step=per_step,
            name=name,
            dtype=dtype,
        )

    def _beta(self) -> float:
        return self.beta

    def _extra(self) -> dict[str, Any]:
        return {"beta": self.beta}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta}


@register
@count_docstring(
    RATIO_ARGS,
    returns=(
        '`result()` gives a scalar, or with `average=None` a dict `{"f1_<class>": scalar}`, '
        'each a plain scalar log key usable as `monitor="val_f1_<class>"` (with '
        '`mode="max"`).'
    ),
)
class F1Score(FBetaScore):
    """F1 score, 2 tp / (2 tp + fp + fn), over the whole epoch.

    Unlike averaging per-batch F1 (seed example: batches give 0.6439 where the data gives
    0.8079), the counts are summed over the epoch first. Accepts sparse integer labels.

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.F1Score("multiclass", num_classes=3, average=None, class_names=["a", "b", "c"])
        >>> scores = [[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.2, 0.2, 0.6], [0.0, 0.1, 0.9]]
        >>> m.update_state([0, 1, 2, 2], scores)
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'f1_a': 1.0, 'f1_b': 0.0, 'f1_c': 0.8}
    """

    _default_name = "f1"

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
            top_k=top_k,
            multidim_average=multidim_average,
            per_step=per_step,
            name=name,
            dtype=dtype,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


@register
@own_init
@count_docstring(
    RATIO_ARGS, returns='A scalar, or with `average=None` a dict `{"specificity_<class>": scalar}`.'
)
class Specificity(_Averaged):
    """Specificity (true negative rate), tn / (tn + fp), per class over the whole epoch.

    Binary reports the specificity of the positive class (the recall of the negatives).

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Specificity("binary")
        >>> m.update_state([0, 0, 0, 1], [0.2, 0.7, 0.1, 0.9])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _default_name = "specificity"
    _kind = "specificity"
    _reduce = reductions.specificity


@register
@own_init
@count_docstring(
    RATIO_ARGS, returns='A scalar, or with `average=None` a dict `{"jaccard_<class>": scalar}`.'
)
class JaccardIndex(_Averaged):
    """Jaccard index (intersection over union), tp / (tp + fp + fn), over the whole epoch.

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.JaccardIndex("multilabel", num_classes=2, average="micro")
        >>> m.update_state([[1, 0], [1, 1]], [[0.9, 0.6], [0.8, 0.1]])
        >>> round(float(m.result()), 4)
        0.5
    """

    _default_name = "jaccard"
    _kind = "jaccard"
    _reduce = reductions.jaccard_index
