"""Test helpers: the scikit-learn oracle side stays plain and never copies our logic."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import itertools

import keras
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=5)
settings.register_profile(
    "thorough", parent=settings.get_profile("ci"), max_examples=400, derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ATOL = 1e-6
# Every value a multiclass ClassificationReport can include.
REPORT_ITEMS = (
    "precision",
    "recall",
    "f1",
    "specificity",
    "jaccard",
    "support",
    "accuracy",
    "balanced_accuracy",
    "mcc",
    "kappa",
)
BACKEND = keras.backend.backend()


def sk(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a scikit-learn function with its UndefinedMetric/UserWarnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def host(x: Any) -> np.ndarray:
    """A result (tensor of any backend) as NumPy, without torch's NumPy-2 DeprecationWarning."""
    if hasattr(x, "detach"):
        return np.asarray(x.detach().cpu().numpy())
    return np.asarray(keras.ops.convert_to_numpy(x))


def to_float(x: Any) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(x)))


def assert_close(ours: Any, expected: Any, atol: float = ATOL, what: str = "") -> None:
    """Scalars, arrays or dicts of scalars; NaN equals NaN."""
    if isinstance(expected, dict):
        assert isinstance(ours, dict), what
        assert sorted(ours) == sorted(expected), what
        for k in expected:
            assert_close(ours[k], expected[k], atol, f"{what}[{k}]")
        return
    a = np.asarray(keras.ops.convert_to_numpy(ours), dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(a, b, atol=atol, rtol=0, equal_nan=True, err_msg=what)


def partition(n: int, cuts: Sequence[int]) -> list[tuple[int, int]]:
    """Batches [(start, stop)] from sorted cut points in (0, n)."""
    points = sorted({c for c in cuts if 0 < c < n})
    edges = [0, *points, n]
    return list(itertools.pairwise(edges))


def stream(
    metric: Any, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray | None, batches: Any
) -> Any:
    metric.reset_state()
    for a, b in batches:
        metric.update_state(y_true[a:b], y_pred[a:b], None if w is None else w[a:b])
    return metric.result()


def sizes_to_batches(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Batch sizes -> [(start, stop)]."""
    edges = [0, *itertools.accumulate(sizes)]
    return list(itertools.pairwise(edges))


def feed(metric: Any, y: Any, p: Any, w: Any = None, sizes: Sequence[int] | None = None) -> Any:
    """Update `metric` batch by batch (`sizes`: the batch sizes; default one batch); return it."""
    for a, b in sizes_to_batches(sizes or [len(y)]):
        metric.update_state(y[a:b], p[a:b], None if w is None else w[a:b])
    return metric


def batch_sizes(
    rng: np.random.Generator, n: int, choices: Sequence[int] = (1, 1, 7, 32)
) -> list[int]:
    """Random batch sizes summing to `n`, size-1 batches included, from few distinct sizes
    (eager JAX compiles once per input shape)."""
    sizes = []
    while n > 0:
        size = int(rng.choice(choices))
        size = size if size <= n else 1
        sizes.append(size)
        n -= size
    return sizes


# --- the metric registry: every exported metric class, the tasks it takes ----------------------
ALL_TASKS = ("binary", "multiclass", "multilabel")
METRIC_TASKS: dict[str, tuple[str, ...]] = {
    "AUROC": ALL_TASKS,
    "Accuracy": ALL_TASKS,
    "AveragePrecision": ALL_TASKS,
    "BalancedAccuracy": ("binary", "multiclass"),
    "CalibrationError": ALL_TASKS,
    "ClassificationReport": ALL_TASKS,
    "CohenKappa": ("binary", "multiclass"),
    "ConfusionMatrix": ALL_TASKS,
    "F1Score": ALL_TASKS,
    "FBetaAtBestThreshold": ALL_TASKS,
    "FBetaScore": ALL_TASKS,
    "JaccardIndex": ALL_TASKS,
    "MatthewsCorrCoef": ("binary", "multiclass"),
    "Precision": ALL_TASKS,
    "PrecisionAtRecall": ALL_TASKS,
    "Recall": ALL_TASKS,
    "RecallAtPrecision": ALL_TASKS,
    "SensitivityAtSpecificity": ALL_TASKS,
    "Specificity": ALL_TASKS,
    "SpecificityAtSensitivity": ALL_TASKS,
}
# Arguments a metric cannot be built without (the registry's tests pass these).
REQUIRED_ARGS: dict[str, dict[str, Any]] = {
    "PrecisionAtRecall": {"recall": 0.8},
    "RecallAtPrecision": {"precision": 0.7},
    "SensitivityAtSpecificity": {"specificity": 0.6},
    "SpecificityAtSensitivity": {"sensitivity": 0.9},
}
# Regression metrics: no task (`num_outputs`, `multioutput`); their own tests
# (tests/test_regression*.py).
REGRESSION_METRICS = (
    "ConcordanceCorrCoef",
    "ExplainedVariance",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "PearsonCorrCoef",
    "R2Score",
    "RootMeanSquaredError",
)
# Metrics where lower is better.
LOWER_IS_BETTER = (
    "CalibrationError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "RootMeanSquaredError",
)
# Metrics that rank scores rather than threshold them (or bin them: CalibrationError).
OPERATING_POINTS = (
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
)
RANKING = ("AUROC", "AveragePrecision", *OPERATING_POINTS, "FBetaAtBestThreshold")
SCORES_ONLY = (*RANKING, "CalibrationError")
# Host metrics (for EpochEvaluator, not compile): their own tests (tests/test_detection*.py).
HOST_METRICS = ("DetectionMAP", "KendallTau", "SpearmanCorrCoef")


def make_metric(name: str, task: str, num_classes: int = 3, **kwargs: Any) -> Any:
    """An instance of the exported metric `name` for `task` (num_classes unused for binary)."""
    import epochmetrics as em

    if task != "binary":
        kwargs["num_classes"] = num_classes
    return getattr(em, name)(task, **{**REQUIRED_ARGS.get(name, {}), **kwargs})


def metric_cases(tasks: Sequence[str] = ALL_TASKS) -> list[tuple[str, str]]:
    """`(class name, task)` for every registered metric and supported task: test parameters."""
    return [(n, t) for n, ts in METRIC_TASKS.items() for t in ts if t in tasks]


# --- reading a metric's state through Keras' public `variables` -------------------------------
def sum_variables(metric: Any) -> tuple[Any, Any]:
    """The two variables of a sum metric's state (named `sums` and `sums_lo`)."""
    by_name = {v.name: v for v in metric.variables}
    return by_name["sums"], by_name["sums_lo"]


def summed_state(metric: Any) -> np.ndarray:
    """The summed state of a metric as exact float64 (the pair added)."""
    hi, lo = sum_variables(metric)
    return host(hi.value).astype(np.float64) + host(lo.value).astype(np.float64)
