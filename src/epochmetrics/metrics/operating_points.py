"""Operating points as Keras metrics: the best value of one rate at a minimum of another, and the
threshold that achieves it, over the whole epoch.

Keras' `PrecisionAtRecall` and friends evaluate 200 uniform thresholds (as wrong on bunched
scores as its `AUC`) and log no threshold. These run on the ranking metrics' states: binned
(fixed memory, sums, data-parallel) or exact with a buffer, and each logs `<name>_threshold`,
the score cut to deploy ("predict positive when score > threshold", as `threshold=` of the
count metrics and Keras). The definitions, tie rule and undefined cases are those of
`functional.operating_points_ops`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from epochmetrics._docs import (
    BODY,
    METRIC_ARGS,
    RANKING_ARGS,
    RANKING_INPUTS,
    RANKING_RAISES,
    docstring,
)
from epochmetrics._types import PerStep, RankingAverage, Task
from epochmetrics.functional import operating_points_ops as opo
from epochmetrics.functional import ranking_kernel
from epochmetrics.metrics._ranking_shell import RankingMetric, shell_arguments

__all__ = [
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
]

_register = keras.saving.register_keras_serializable(package="epochmetrics")

_POINT = """\
Predicting positive when score >= s, the candidate cuts are every distinct score seen
(exact) or every bin start (binned) and s = +inf (predict nothing). Among those with
$constrained >= `$arg`, the largest $value is the result, at the cut of those reaching
it that is best on $constrained (unique). The threshold logged is the float32 number
just below that cut: "positive when score > threshold", the convention of `threshold=`
(`em.Recall(threshold=t)` with the logged t gives this operating point's recall) and of
Keras; as no score lies between it and the cut, "score >= threshold" agrees too unless a
score equals it. If no finite threshold meets the constraint the result is 0.0 at
threshold +inf (Keras' value too). Undefined problems ($undefined) give NaN, value and
threshold. Multiclass is one-vs-rest on the class probabilities; multilabel treats each
label as a binary problem.
Thresholds are in the units of `y_pred`: probabilities, or logits for binary and
multilabel with `from_logits=True` (multiclass: softmax probabilities).

**Binned mode** (default): the ranking state of `AUROC` (bins of the score's float32
representation, `bins_per_octave` per octave; see there for the memory). Each bin's start
is the smallest float32 score in it, so the binned result is exactly achieved on the data
at the threshold it reports; it can only miss thresholds inside bins: binned <= exact <=
binned + `error_bound()`. The bound is at most the largest share of the data in one bin
$a_priori; it is 0 when every distinct score has its own bin.

**Exact mode** (`exact=True, capacity=N`): the stored scores, as `AUROC(exact=True)`;
results equal the curves of scikit-learn (`$curve`) on the concatenated data.

$body"""

_RETURNS = """\
`result()` gives a dict of scalars: binary and micro `{"$name": value,
"${name}_threshold": t}`; macro and weighted `$name` and each class's own threshold
`${name}_threshold_<class>` (an average has no single threshold); `average=None`
`${name}_<class>` and `${name}_threshold_<class>`. `evaluate_arrays(y_true, y_pred,
sample_weight=None)` gives the exact values with the same keys, as floats."""

_ARGS = {
    "average": '"macro" (mean of the per-class optima), "weighted" (by positive support), '
    '"micro" (all class/sample pairs pooled: one problem, one threshold) or None (one key per '
    "class). Ignored for binary.",
    "from_logits": "Whether `y_pred` holds logits rather than probabilities.",
}


def _documented(
    kind: str, *, value: str, constrained: str, curve: str, a_priori: str
) -> Callable[[type], type]:
    """The docstring of the operating point `kind` (a row of `operating_points_ops.POINTS`)."""
    point = opo.POINTS[kind]
    return docstring(
        {point.constraint: f"The minimum {constrained}, in [0, 1]."},
        _ARGS,
        RANKING_ARGS,
        METRIC_ARGS,
        point=_POINT,
        body=BODY,
        inputs=RANKING_INPUTS,
        returns=_RETURNS,
        raises=RANKING_RAISES,
        name=kind,
        arg=point.constraint,
        value=value,
        constrained=constrained,
        undefined="no positives or no negatives" if point.roc else "no positives",
        curve=curve,
        a_priori=a_priori,
    )


@_register
@_documented(
    "precision_at_recall",
    value="precision TP / (TP + FP)",
    constrained="recall TP / P",
    curve="precision_recall_curve",
    a_priori="(max_b N_b / (T_b + F_b), the negatives of a bin over the mass at or above it)",
)
class PrecisionAtRecall(RankingMetric):
    """Highest precision at a minimum recall, and its threshold, over the whole epoch.

    $point

    Examples:
        >>> import epochmetrics as em
        >>> m = em.PrecisionAtRecall("binary", recall=0.9)
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'precision_at_recall': 0.6667, 'precision_at_recall_threshold': 0.3496}
        >>> # Binned: just below the start of 0.35's bin. Exact mode: just below 0.35:
        >>> m = em.PrecisionAtRecall("binary", recall=0.9, exact=True, capacity=100)
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'precision_at_recall': 0.6667, 'precision_at_recall_threshold': 0.35}
    """

    _default_name = "precision_at_recall"

    def __init__(
        self,
        task: Task,
        *,
        recall: float,
        num_classes: int | None = None,
        average: RankingAverage = "macro",
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        exact: bool = False,
        capacity: int | None = None,
        bins_per_octave: int = 64,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        kernel = ranking_kernel.operating_point("precision_at_recall", recall)
        super().__init__(task, kernel, **shell_arguments(locals()))


@_register
@_documented(
    "recall_at_precision",
    value="recall TP / P",
    constrained="precision TP / (TP + FP)",
    curve="precision_recall_curve",
    a_priori="(for this kind there is no a-priori bound: a precision may be met inside one bin "
    "only; the computed bound holds all the same)",
)
class RecallAtPrecision(RankingMetric):
    """Highest recall at a minimum precision, and its threshold, over the whole epoch.

    $point

    Examples:
        >>> import epochmetrics as em
        >>> m = em.RecallAtPrecision("binary", precision=0.6)
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'recall_at_precision': 1.0, 'recall_at_precision_threshold': 0.3496}
    """

    _default_name = "recall_at_precision"

    def __init__(
        self,
        task: Task,
        *,
        precision: float,
        num_classes: int | None = None,
        average: RankingAverage = "macro",
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        exact: bool = False,
        capacity: int | None = None,
        bins_per_octave: int = 64,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        kernel = ranking_kernel.operating_point("recall_at_precision", precision)
        super().__init__(task, kernel, **shell_arguments(locals()))


@_register
@_documented(
    "sensitivity_at_specificity",
    value="sensitivity TP / P",
    constrained="specificity 1 - FP / N",
    curve="roc_curve",
    a_priori="(max_b P_b / P, the positives of a bin over all positives)",
)
class SensitivityAtSpecificity(RankingMetric):
    """Highest sensitivity (recall) at a minimum specificity, and its threshold, over the epoch.

    $point

    Examples:
        >>> import epochmetrics as em
        >>> m = em.SensitivityAtSpecificity("binary", specificity=0.5)
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'sensitivity_at_specificity': 1.0, 'sensitivity_at_specificity_threshold': 0.3496}
    """

    _default_name = "sensitivity_at_specificity"

    def __init__(
        self,
        task: Task,
        *,
        specificity: float,
        num_classes: int | None = None,
        average: RankingAverage = "macro",
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        exact: bool = False,
        capacity: int | None = None,
        bins_per_octave: int = 64,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        kernel = ranking_kernel.operating_point("sensitivity_at_specificity", specificity)
        super().__init__(task, kernel, **shell_arguments(locals()))


@_register
@_documented(
    "specificity_at_sensitivity",
    value="specificity 1 - FP / N",
    constrained="sensitivity TP / P",
    curve="roc_curve",
    a_priori="(max_b N_b / N, the negatives of a bin over all negatives)",
)
class SpecificityAtSensitivity(RankingMetric):
    """Highest specificity at a minimum sensitivity (recall), and its threshold, over the epoch.

    $point

    Examples:
        >>> import epochmetrics as em
        >>> m = em.SpecificityAtSensitivity("binary", sensitivity=1.0)
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'specificity_at_sensitivity': 0.5, 'specificity_at_sensitivity_threshold': 0.3496}
    """

    _default_name = "specificity_at_sensitivity"

    def __init__(
        self,
        task: Task,
        *,
        sensitivity: float,
        num_classes: int | None = None,
        average: RankingAverage = "macro",
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        exact: bool = False,
        capacity: int | None = None,
        bins_per_octave: int = 64,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        kernel = ranking_kernel.operating_point("specificity_at_sensitivity", sensitivity)
        super().__init__(task, kernel, **shell_arguments(locals()))
