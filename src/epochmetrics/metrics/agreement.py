"""Accuracy, balanced accuracy, Matthews correlation and Cohen's kappa: one value per epoch.

Single values from the same O(C) counts as the ratios (`functional.reductions`).
"""

from __future__ import annotations

from typing import Any

from epochmetrics.functional import reductions
from epochmetrics.functional._args import Task
from epochmetrics.functional.reductions import KappaWeights
from epochmetrics.metrics._stat_metrics import _Scalar, doc, register

__all__ = ["Accuracy", "BalancedAccuracy", "CohenKappa", "MatthewsCorrCoef"]


@register
@doc
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


@register
@doc
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


@register
@doc
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


@register
@doc
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
