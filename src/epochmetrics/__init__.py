"""epochmetrics: exact streaming classification metrics for Keras 3.

Importing the package registers every metric with Keras, so a model compiled with them loads
with `keras.models.load_model(path)` and no `custom_objects`.
"""

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

__version__ = "0.1.0"

__all__ = [
    "AUROC",
    "Accuracy",
    "AveragePrecision",
    "BalancedAccuracy",
    "ClassificationReport",
    "CohenKappa",
    "ConfusionMatrix",
    "F1Score",
    "FBetaScore",
    "JaccardIndex",
    "MatthewsCorrCoef",
    "Precision",
    "Recall",
    "Specificity",
    "UndefinedMetricWarning",
    "__version__",
]
