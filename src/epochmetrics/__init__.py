"""epochmetrics: exact streaming classification metrics for Keras 3.

Importing the package registers every metric with Keras, so a model compiled with them loads
with `keras.models.load_model(path)` and no `custom_objects`.
"""

from epochmetrics.callbacks import EpochEvaluator, load_history
from epochmetrics.metrics import (
    Accuracy,
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
    "Accuracy",
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
    "__version__",
    "load_history",
]
