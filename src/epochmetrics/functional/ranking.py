"""Exact ranking metrics on the host: ROC-AUC, average precision and their curves.

Pure NumPy (sums and results in float64; float32 scores are sorted as float32, and so are
float16 and bfloat16 scores, widened to float32 exactly), for whole arrays (an epoch's
predictions): the epoch-end evaluator, the plots and `evaluate_arrays` of the ranking metrics
use these. Inputs may be NumPy arrays (ml_dtypes' bfloat16 included) or tensors of any
framework. Results equal scikit-learn's `roc_auc_score`, `average_precision_score`, `roc_curve`
and `precision_recall_curve`, tied scores included, for every task and average.

ROC-AUC is the probability that a positive outranks a negative, ties counting one half:

    AUC = sum_i w_i * (N(s < s_i) + N(s = s_i) / 2) / (P * N)   over positives i,

where P and N are the total (weighted) positive and negative mass. Average precision is the
step-wise area under the precision-recall curve, each distinct score a threshold:

    AP = sum_i w_i * precision(s >= s_i) / P                     over positives i.

Both need only the positives' and the negatives' scores sorted separately, then one
`searchsorted` per side: two half-size sorts instead of scikit-learn's full stable argsort,
cumulative sums and curve construction.

Undefined cases follow scikit-learn and warn with `UndefinedMetricWarning` (never raise): ROC-AUC
is NaN when `y_true` holds one class only; average precision is 0.0 without positives (1.0
without negatives). Averages propagate NaN like scikit-learn's.
"""

from __future__ import annotations

from typing import Any

from epochmetrics._docs import HOST_RANKING_ARGS, docstring
from epochmetrics._types import RankingAverage, Task
from epochmetrics.functional._args import (
    TaskSpec,
    UndefinedMetricWarning,
    check_average,
    make_spec,
)
from epochmetrics.functional._host_format import Columns, column, prepare
from epochmetrics.functional._ranking_kernels import (
    binary_pr_curve,
    binary_roc_curve,
    reduce_columns,
)

__all__ = [
    "Columns",
    "UndefinedMetricWarning",
    "average_precision",
    "check_ranking_average",
    "precision_recall_curve",
    "prepare",
    "roc_auc",
    "roc_curve",
]

_CURVES = {
    "task": '"binary", "multiclass" (one curve per class, one-vs-rest) or "multilabel".',
    "sample_weight": "`(n,)` sample weights.",
}
_ROC_CURVE = {
    "drop_intermediate": "Drop thresholds that are collinear on the curve (they do not change "
    "its shape or area).",
}
_PR_CURVE = {
    "drop_intermediate": "Drop thresholds where recall does not change (they do not change the "
    "step-wise area).",
}


@docstring(HOST_RANKING_ARGS)
def roc_auc(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> Any:
    """Exact area under the ROC curve, as scikit-learn's `roc_auc_score`.

    The probability that a random positive scores higher than a random negative, ties counting
    one half (the Mann-Whitney U statistic, normalised). Multiclass is one-vs-rest.

    Args:
        $args

    Returns:
        A Python float, or with `average=None` a float64 array of shape `(C,)` (a float when
        C = 1). NaN, with an `UndefinedMetricWarning`, for classes whose `y_true` holds a
        single class.

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import roc_auc
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
        >>> roc_auc([0, 1, 2, 2], [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7],
        ...         [0.3, 0.3, 0.4]], task="multiclass", num_classes=3)
        1.0
    """
    spec, average = _check_args(task, num_classes, average, from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    return reduce_columns(cols, average, "roc_auc")


@docstring(HOST_RANKING_ARGS)
def average_precision(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    average: RankingAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> Any:
    """Exact average precision, as scikit-learn's `average_precision_score`.

    AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds, with precision P_n and
    recall R_n at the n-th threshold: no interpolation. Multilabel with `average="macro"` is
    the mean average precision (mAP). Multiclass is one-vs-rest.

    Args:
        $args

    Returns:
        A Python float, or with `average=None` a float64 array of shape `(C,)` (a float when
        C = 1). A class without positives scores 0.0, with an `UndefinedMetricWarning`
        (scikit-learn's value).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import average_precision
        >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
        0.8333
        >>> average_precision([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.1, 0.8], [0.6, 0.7]],
        ...                   task="multilabel", num_classes=2)
        1.0
    """
    spec, average = _check_args(task, num_classes, average, from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    return reduce_columns(cols, average, "average_precision")


@docstring(_ROC_CURVE, _CURVES, HOST_RANKING_ARGS)
def roc_curve(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
    drop_intermediate: bool = True,
) -> Any:
    """Receiver operating characteristic curve, as scikit-learn's `roc_curve`.

    Args:
        $args

    Returns:
        Binary: `(fpr, tpr, thresholds)`, float64 arrays; `thresholds[0]` is `inf` and the
        thresholds decrease. Multiclass and multilabel: a list with one such tuple per class.
        Rates are NaN, with an `UndefinedMetricWarning`, when a class has no negatives
        (fpr) or no positives (tpr).

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import roc_curve
        >>> fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> [float(x) for x in fpr], [float(x) for x in tpr]
        ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    spec, _ = _check_args(task, num_classes, "macro", from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    curves = [
        binary_roc_curve(*column(cols, k), drop_intermediate) for k in range(cols.scores.shape[1])
    ]
    return curves[0] if spec.task == "binary" else curves


@docstring(_PR_CURVE, _CURVES, HOST_RANKING_ARGS)
def precision_recall_curve(
    y_true: Any,
    y_score: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
    drop_intermediate: bool = False,
) -> Any:
    """Precision-recall pairs for every threshold, as scikit-learn's `precision_recall_curve`.

    Args:
        $args

    Returns:
        Binary: `(precision, recall, thresholds)` with increasing thresholds; precision ends
        with 1.0 and recall with 0.0, which have no threshold. Multiclass and multilabel: a
        list with one such tuple per class. Without positives recall is 1.0 everywhere, with
        an `UndefinedMetricWarning`.

    Raises:
        ValueError: on invalid arguments, shapes, labels or non-finite scores.

    Examples:
        >>> from epochmetrics.functional.ranking import precision_recall_curve
        >>> curve = precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> precision, recall, thresholds = curve
        >>> [round(float(p), 4) for p in precision]
        [0.5, 0.6667, 0.5, 1.0, 1.0]
        >>> [float(r) for r in recall]
        [1.0, 1.0, 0.5, 0.5, 0.0]
    """
    spec, _ = _check_args(task, num_classes, "macro", from_logits, ignore_index)
    cols = prepare(spec, y_true, y_score, sample_weight)
    curves = [
        binary_pr_curve(*column(cols, k), drop_intermediate) for k in range(cols.scores.shape[1])
    ]
    return curves[0] if spec.task == "binary" else curves


def _check_args(
    task: Any, num_classes: Any, average: Any, from_logits: Any, ignore_index: Any
) -> tuple[TaskSpec, RankingAverage]:
    spec = make_spec(task, num_classes, 0.5, from_logits, ignore_index)
    return spec, check_ranking_average(average, spec.task)


def check_ranking_average(average: Any, task: str) -> RankingAverage:
    """`average` for ranking: 'micro', 'macro', 'weighted' or None (binary: also 'binary')."""
    value = check_average(average, task)
    return None if value == "binary" else value  # type: ignore[return-value]
