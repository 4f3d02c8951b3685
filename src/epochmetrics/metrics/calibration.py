"""Calibration error as a Keras metric: sums per confidence bin, exact over the epoch."""

from __future__ import annotations

from typing import Any

import keras

from epochmetrics._docs import METRIC_ARGS, docstring
from epochmetrics._types import CalibrationAverage, Norm, PerStep, Task
from epochmetrics.functional import calibration
from epochmetrics.functional._args import check_per_step
from epochmetrics.functional._layout import Layout
from epochmetrics.metrics._base import SumStateMetric
from epochmetrics.metrics._sums import Step

__all__ = ["CalibrationError"]

_register = keras.saving.register_keras_serializable(package="epochmetrics")

_CALIBRATION = {
    "task": '"binary", "multiclass" (top-label) or "multilabel" (per label).',
    "num_classes": "Number of classes (multiclass) or labels (multilabel).",
    "n_bins": "Number of uniform bins (15, torchmetrics' default).",
    "norm": '"l1" (expected calibration error), "l2" (root mean square) or "max" (maximum).',
    "average": 'Multilabel only: "macro" (mean of the per-label errors), "micro" (every '
    "(sample, label) pooled) or None (one key per label, `<name>_<label>`).",
    "from_logits": "Whether `y_pred` holds logits (sigmoid, or softmax for multiclass).",
    "class_names": "Names of the labels in per-label keys.",
}


@_register
@docstring(_CALIBRATION, METRIC_ARGS)
class CalibrationError(SumStateMetric):
    """Calibration error (ECE, RMS or maximum) over the whole epoch, as torchmetrics defines it.

    Each counted prediction has a confidence c and an accuracy a: binary, the positive-class
    probability and the label; multiclass, the top-label probability and whether that class
    (the first maximum) is the label; multilabel, each label as a binary problem. With uniform
    bins on [0, 1] (a confidence of exactly 1 in a cell of its own, as torchmetrics' bucketize)
    and, per bin m, W_m the (weighted) count, C_m the summed confidences and A_m the summed
    accuracies (W = sum W_m):

        norm="l1"  (ECE):  sum_m |A_m - C_m| / W
        norm="l2"  (RMS):  sqrt(sum_m (A_m - C_m)^2 / W_m / W)
        norm="max" (MCE):  max_m |A_m - C_m| / W_m

    The state is those sums, `3 * K * (n_bins + 1)` (K = 1, or the number of labels), so the
    value is exact over the epoch in any batch partition and merges across replicas. NaN
    before any counted sample. Lower is better (`mode="auto"` monitors it as "min").
    Confidences are binned in float32 against the exact edges j / n_bins (torchmetrics' float32
    edges can be an ulp off: only confidences within a few ulps of an edge differ).

    Inputs to `update_state(y_true, y_pred, sample_weight=None)`: binary `(B,)` labels and
    probabilities (or logits); multiclass `(B,)` labels or `(B, C)` one-hot and `(B, C)`
    probabilities (or logits: softmax); multilabel `(B, L)` both. Dense inputs add axes after
    the batch axis (`(B, H, W)` labels, `(B, H, W, C)` scores), every element a prediction;
    `sample_weight` is a scalar, `(B,)` or per element.

    Args:
        $args

    Returns:
        `result()` gives a scalar, or for multilabel with `average=None` a dict of scalars.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) labels and probabilities.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.CalibrationError("binary", n_bins=2)
        >>> m.update_state([0, 0, 1, 1, 1], [0.25, 0.25, 0.55, 0.75, 0.75])
        >>> round(float(m.result()), 4)
        0.29
    """

    _direction = "down"

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        n_bins: int = 15,
        norm: Norm = "l1",
        average: CalibrationAverage = "macro",
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        self.n_bins = calibration.check_n_bins(n_bins)
        self.norm = calibration.check_norm(norm)
        self.average = calibration.check_calibration_average(average)
        super().__init__(
            task,
            num_classes=num_classes,
            from_logits=from_logits,
            ignore_index=ignore_index,
            class_names=class_names,
            name=name or "calibration_error",
            dtype=dtype,
        )
        self.per_step = check_per_step(per_step)

    def _layout(self) -> Layout:
        return calibration.calibration_layout(self._spec, self.n_bins)

    def _step(self) -> Step:
        return Step(calibration.calibration_update, (self._spec, self.n_bins))

    def _per_label(self) -> bool:
        return self._spec.task == "multilabel" and self.average is None

    def _result_keys(self) -> tuple[str, ...] | None:
        return self._per_class_keys() if self._per_label() else None

    def _compute(self, state: Any, xp: Any) -> Any:
        k = calibration.calibration_columns(self._spec)
        sums = xp.reshape(self._layout().unpack(state)["sums"], (3, k, self.n_bins + 1))
        if self.average == "micro":
            sums = xp.sum(sums, axis=1, keepdims=True)
        values = calibration.calibration_error_from_sums(xp, sums, self.norm)
        if self._per_label():
            return self._per_class(values)
        return values[0] if k == 1 or self.average == "micro" else xp.mean(values)

    def _invalid_pred_text(self) -> str:
        if self._spec.from_logits:
            return "NaN y_pred logits"
        return "y_pred probabilities outside [0, 1] (or NaN)"

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["threshold"]  # confidences are binned, never thresholded
        return {
            **config,
            "n_bins": self.n_bins,
            "norm": self.norm,
            "average": self.average,
            "per_step": self.per_step,
        }
