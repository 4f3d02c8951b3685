"""`keras.metrics.Metric` subclasses: thin shells of state variables over `functional`."""

from epochmetrics.metrics import _combine
from epochmetrics.metrics.agreement import (
    Accuracy,
    BalancedAccuracy,
    CohenKappa,
    MatthewsCorrCoef,
)
from epochmetrics.metrics.best_threshold import FBetaAtBestThreshold
from epochmetrics.metrics.calibration import CalibrationError
from epochmetrics.metrics.classification import (
    F1Score,
    FBetaScore,
    JaccardIndex,
    Precision,
    Recall,
    Specificity,
)
from epochmetrics.metrics.confusion import ClassificationReport, ConfusionMatrix
from epochmetrics.metrics.detection import DetectionMAP
from epochmetrics.metrics.operating_points import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from epochmetrics.metrics.rank_correlation import KendallTau, SpearmanCorrCoef
from epochmetrics.metrics.ranking import AUROC, AveragePrecision
from epochmetrics.metrics.regression import (
    ConcordanceCorrCoef,
    ExplainedVariance,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    PearsonCorrCoef,
    R2Score,
    RootMeanSquaredError,
)

_combine.install()  # torch: a model's metrics read globally over a torch.distributed group

__all__ = [
    "AUROC",
    "Accuracy",
    "AveragePrecision",
    "BalancedAccuracy",
    "CalibrationError",
    "ClassificationReport",
    "CohenKappa",
    "ConcordanceCorrCoef",
    "ConfusionMatrix",
    "DetectionMAP",
    "ExplainedVariance",
    "F1Score",
    "FBetaAtBestThreshold",
    "FBetaScore",
    "JaccardIndex",
    "KendallTau",
    "MatthewsCorrCoef",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "PearsonCorrCoef",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SpearmanCorrCoef",
    "Specificity",
    "SpecificityAtSensitivity",
]
