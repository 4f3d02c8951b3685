"""Accuracy, balanced accuracy, Matthews correlation and Cohen's kappa: one value per epoch.

Single values from the same O(C) counts as the ratios (`functional.reductions`).
"""

from __future__ import annotations

from typing import Any

from epochmetrics._backend.xp import divide
from epochmetrics._docs import count_docstring
from epochmetrics._types import KappaWeights, MultidimAverage, Task
from epochmetrics.functional import reductions
from epochmetrics.functional._args import check_choice, make_spec
from epochmetrics.functional._layout import Layout
from epochmetrics.functional.samplewise import samplewise_layout, samplewise_update
from epochmetrics.functional.stat_scores import top_k_update
from epochmetrics.metrics._public import own_init
from epochmetrics.metrics._stat_metrics import _Scalar, check_top_k, register
from epochmetrics.metrics._sums import Step

__all__ = ["Accuracy", "BalancedAccuracy", "CohenKappa", "MatthewsCorrCoef"]

_ACCURACY = {
    "top_k": "Multiclass scores only: count a sample right when its class is among its k "
    "highest scores.",
    "multidim_average": '"global" (every element of the epoch counts once) or "samplewise" '
    "(binary and multiclass: each sample's accuracy, e.g. each image's pixel accuracy, then "
    "the weighted mean over samples). A void image (every pixel ignored) has no accuracy (NaN, "
    "as an epoch without samples) and is left out.",
}
_KAPPA = {"weights": 'None, "linear" or "quadratic".'}


@register
@count_docstring(_ACCURACY, returns="A scalar.")
class Accuracy(_Scalar):
    """Accuracy: the (weighted) fraction of samples predicted right, over the whole epoch.

    Multilabel reports subset accuracy (every label of a sample right), as scikit-learn's
    `accuracy_score`. With `top_k=k` (multiclass scores) a sample is right when its class is
    among its k highest scores, as `top_k_accuracy_score`, except that ties at the k-th score
    go to the lower class index, as argmax: `top_k=1` is the default prediction
    (scikit-learn gives them to the higher index).

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.Accuracy("multiclass", num_classes=3)
        >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 2])
        >>> float(m.result())
        0.75
        >>> m = em.Accuracy("multiclass", num_classes=3, top_k=2)
        >>> m.update_state([0, 1, 2], [[0.5, 0.3, 0.2], [0.6, 0.1, 0.3], [0.1, 0.5, 0.4]])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _default_name = "accuracy"

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        top_k: int | None = None,
        multidim_average: MultidimAverage = "global",
        threshold: float = 0.5,
        from_logits: bool = False,
        ignore_index: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        spec = make_spec(task, num_classes, threshold, from_logits, ignore_index)
        self.multidim_average = check_choice(
            "multidim_average", multidim_average, ("global", "samplewise")
        )
        if self.multidim_average == "samplewise" and spec.task == "multilabel":
            raise ValueError(
                "multidim_average='samplewise' applies to binary and multiclass accuracy; "
                "multilabel accuracy is already per sample (subset accuracy). Received: "
                "multidim_average='samplewise' for task='multilabel'."
            )
        self.top_k = check_top_k(top_k, spec, self.multidim_average)
        super().__init__(
            task,
            num_classes=num_classes,
            threshold=threshold,
            from_logits=from_logits,
            ignore_index=ignore_index,
            name=name,
            dtype=dtype,
        )

    def _layout(self) -> Layout:
        if self.multidim_average == "samplewise":
            return samplewise_layout(1)
        return super()._layout()

    def _step(self) -> Step:
        if self.multidim_average == "samplewise":
            return Step(samplewise_update, (self._spec, "accuracy", None, float("nan"), 1.0))
        if self.top_k is not None:
            return Step(top_k_update, (self._spec, self.top_k))
        return super()._step()

    def _compute(self, state: Any, xp: Any) -> Any:
        if self.multidim_average == "samplewise":
            parts = self._layout().unpack(state)
            return divide(xp, parts["value"], parts["weight"], float("nan"))[0]
        return reductions.accuracy(xp, self._spec, self._counts(state, xp))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "top_k": self.top_k,
            "multidim_average": self.multidim_average,
        }


@register
@own_init
@count_docstring(
    returns="A scalar.",
    raises='ValueError: for task="multilabel", which scikit-learn does not define either.',
)
class BalancedAccuracy(_Scalar):
    """Balanced accuracy: the mean recall over the classes that occur in y_true.

    $body

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


@register
@own_init
@count_docstring(
    returns="A scalar in [-1, 1].",
    raises='ValueError: for task="multilabel", which scikit-learn does not define either.',
)
class MatthewsCorrCoef(_Scalar):
    """Matthews correlation coefficient (multiclass R_K), from O(C) counts.

    With c samples right out of s, t_k true and p_k predicted of class k:
    (c s - sum t_k p_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)); 0 when undefined.

    $body

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


@register
@count_docstring(
    _KAPPA, returns="A scalar.", raises='ValueError: for task="multilabel" or an unknown `weights`.'
)
class CohenKappa(_Scalar):
    """Cohen's kappa between labels and predictions, (p_o - p_e) / (1 - p_e).

    `weights="linear"` or `"quadratic"` give the weighted kappa for ordinal classes, weighting a
    disagreement between classes i and j by |i - j| or (i - j)^2 (class indices 0..C-1, as
    scikit-learn's `cohen_kappa_score(..., labels=range(num_classes))`). State stays O(C).
    NaN (undefined) when the expected disagreement is 0.

    $body

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
        self.weights = check_choice("weights", weights, (None, "linear", "quadratic"))
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
