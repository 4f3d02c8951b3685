"""epochmetrics: exact streaming classification metrics for Keras 3.

Importing the package registers every metric with Keras, so a model compiled with them loads
with `keras.models.load_model(path)` and no `custom_objects`, whether Keras is imported before
or after the package.

The package itself does not import Keras: its names are imported on first use (`em.F1Score`
imports Keras and the backend; `em.plot_history` only matplotlib), so the `epochmetrics`
command, plots and reports start without a backend. The metrics are registered with Keras as
soon as Keras is imported (see `epochmetrics._backend.registration`).

When `KERAS_BACKEND` is unset and Keras' configured backend is not installed, importing the
package first picks an installed backend (jax, tensorflow, then torch).
"""

import importlib as _importlib
import typing as _typing

from epochmetrics._backend import registration as _registration
from epochmetrics._backend import select as _select_backend

# The backend must be chosen before anything imports Keras.
_select_backend.select_backend()
_registration.install()

# Public name -> the module that defines it, imported on first access (PEP 562).
_EXPORTS = {
    "AUROC": "epochmetrics.metrics",
    "Accuracy": "epochmetrics.metrics",
    "AveragePrecision": "epochmetrics.metrics",
    "BalancedAccuracy": "epochmetrics.metrics",
    "CalibrationError": "epochmetrics.metrics",
    "ClassificationReport": "epochmetrics.metrics",
    "CohenKappa": "epochmetrics.metrics",
    "ConcordanceCorrCoef": "epochmetrics.metrics",
    "ConfusionMatrix": "epochmetrics.metrics",
    "DetectionMAP": "epochmetrics.metrics",
    "EpochEvaluator": "epochmetrics.callbacks",
    "ExplainedVariance": "epochmetrics.metrics",
    "F1Score": "epochmetrics.metrics",
    "FBetaAtBestThreshold": "epochmetrics.metrics",
    "FBetaScore": "epochmetrics.metrics",
    "JaccardIndex": "epochmetrics.metrics",
    "KendallTau": "epochmetrics.metrics",
    "MatthewsCorrCoef": "epochmetrics.metrics",
    "MeanAbsoluteError": "epochmetrics.metrics",
    "MeanAbsolutePercentageError": "epochmetrics.metrics",
    "MeanSquaredError": "epochmetrics.metrics",
    "PearsonCorrCoef": "epochmetrics.metrics",
    "Precision": "epochmetrics.metrics",
    "PrecisionAtRecall": "epochmetrics.metrics",
    "R2Score": "epochmetrics.metrics",
    "Recall": "epochmetrics.metrics",
    "RecallAtPrecision": "epochmetrics.metrics",
    "RootMeanSquaredError": "epochmetrics.metrics",
    "RunRecorder": "epochmetrics.callbacks",
    "SensitivityAtSpecificity": "epochmetrics.metrics",
    "SpearmanCorrCoef": "epochmetrics.metrics",
    "Specificity": "epochmetrics.metrics",
    "SpecificityAtSensitivity": "epochmetrics.metrics",
    "TensorBoard": "epochmetrics.callbacks",
    "UndefinedMetricWarning": "epochmetrics.functional.ranking",
    "all_reduce_metrics": "epochmetrics.distributed",
    "load_history": "epochmetrics._files.evaluation",
    "plot_confusion_matrix": "epochmetrics.plot",
    "plot_history": "epochmetrics.plot",
    "shard": "epochmetrics.distributed",
    "sync_on_read": "epochmetrics.distributed",
}

# Subpackages reachable as attributes (`em.functional.ranking`), imported on first access too.
_SUBMODULES = ("callbacks", "distributed", "functional", "metrics", "plot", "report")

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
    "EpochEvaluator",
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
    "RunRecorder",
    "SensitivityAtSpecificity",
    "SpearmanCorrCoef",
    "Specificity",
    "SpecificityAtSensitivity",
    "TensorBoard",
    "UndefinedMetricWarning",
    "__version__",
    "all_reduce_metrics",
    "load_history",
    "plot_confusion_matrix",
    "plot_history",
    "shard",
    "sync_on_read",
]


def __getattr__(name: str) -> _typing.Any:
    module = _EXPORTS.get(name)
    value: _typing.Any
    if name == "__version__":
        value = _version()
    elif module is not None:
        value = getattr(_importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = _importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def _version() -> str:
    """The installed distribution's version (pyproject.toml is its one source)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("epochmetrics")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "0+unknown"


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})


if _typing.TYPE_CHECKING:  # what type checkers and IDEs see; never executed
    __version__: str
    # Subpackages: the redundant aliases mark them as re-exported.
    from epochmetrics import callbacks as callbacks
    from epochmetrics import distributed as distributed
    from epochmetrics import functional as functional
    from epochmetrics import metrics as metrics
    from epochmetrics import plot as plot
    from epochmetrics import report as report
    from epochmetrics._files.evaluation import load_history
    from epochmetrics.callbacks import EpochEvaluator, RunRecorder, TensorBoard
    from epochmetrics.distributed import all_reduce_metrics, shard, sync_on_read
    from epochmetrics.functional.ranking import UndefinedMetricWarning
    from epochmetrics.metrics import (
        AUROC,
        Accuracy,
        AveragePrecision,
        BalancedAccuracy,
        CalibrationError,
        ClassificationReport,
        CohenKappa,
        ConcordanceCorrCoef,
        ConfusionMatrix,
        DetectionMAP,
        ExplainedVariance,
        F1Score,
        FBetaAtBestThreshold,
        FBetaScore,
        JaccardIndex,
        KendallTau,
        MatthewsCorrCoef,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredError,
        PearsonCorrCoef,
        Precision,
        PrecisionAtRecall,
        R2Score,
        Recall,
        RecallAtPrecision,
        RootMeanSquaredError,
        SensitivityAtSpecificity,
        SpearmanCorrCoef,
        Specificity,
        SpecificityAtSensitivity,
    )
    from epochmetrics.plot import plot_confusion_matrix, plot_history
