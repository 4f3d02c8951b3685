"""epochmetrics: exact streaming classification metrics for Keras 3.

Importing the package registers every metric with Keras, so a model compiled with them loads
with `keras.models.load_model(path)` and no `custom_objects`.

When `KERAS_BACKEND` is unset and Keras' configured backend is not installed, importing the
package first picks an installed backend (jax, tensorflow, then torch).
"""

from epochmetrics._select_backend import select_backend

select_backend()

# ruff: noqa: E402  (the backend must be chosen before Keras is imported)

from epochmetrics.callbacks import EpochEvaluator, load_history
from epochmetrics.distributed import all_reduce_metrics
from epochmetrics.functional.ranking import UndefinedMetricWarning
from epochmetrics.metrics import (
    AUROC,
    Accuracy,
    AveragePrecision,
    BalancedAccuracy,
    ClassificationReport,
    CohenKappa,
    ConfusionMatrix,
    F1Score,
    FBetaScore,
    JaccardIndex,
    MatthewsCorrCoef,
    Precision,
    Recall,
    Specificity,
)
from epochmetrics.plot import plot_confusion_matrix, plot_history

__version__ = "0.1.0"

__all__ = [
    "AUROC",
    "Accuracy",
    "AveragePrecision",
    "BalancedAccuracy",
    "ClassificationReport",
    "CohenKappa",
    "ConfusionMatrix",
    "EpochEvaluator",
    "F1Score",
    "FBetaScore",
    "JaccardIndex",
    "MatthewsCorrCoef",
    "Precision",
    "Recall",
    "Specificity",
    "UndefinedMetricWarning",
    "__version__",
    "all_reduce_metrics",
    "load_history",
    "plot_confusion_matrix",
    "plot_history",
]
