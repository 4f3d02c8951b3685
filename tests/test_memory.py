"""State sizes: O(C) sums for every metric of the count family, C^2 only for ConfusionMatrix.

The formulas are the ones documented in docs/state_sizes.md; a metric exported without a row
here fails `test_every_exported_metric_has_a_documented_size`, so its state size gets written
down (and bounded) when it lands.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import REPORT_ITEMS

import epochmetrics as em

C = 1000  # classes (or labels)

# (class, constructor kwargs, state length as a function of C); the state is two float32
# vectors (the compensated pair), so bytes = 2 * 4 * length.
MULTICLASS = [
    (em.Precision, {}, lambda c: 3 * c + 3),
    (em.Recall, {}, lambda c: 3 * c + 3),
    (em.F1Score, {"average": None}, lambda c: 3 * c + 3),
    (em.FBetaScore, {"beta": 2.0}, lambda c: 3 * c + 3),
    (em.Specificity, {}, lambda c: 3 * c + 3),
    (em.JaccardIndex, {}, lambda c: 3 * c + 3),
    (em.Accuracy, {}, lambda c: 3 * c + 3),
    (em.BalancedAccuracy, {}, lambda c: 3 * c + 3),
    (em.MatthewsCorrCoef, {}, lambda c: 3 * c + 3),
    (em.CohenKappa, {}, lambda c: 3 * c + 3),
    (em.CohenKappa, {"weights": "linear"}, lambda c: 3 * c + 5),
    (em.CohenKappa, {"weights": "quadratic"}, lambda c: 3 * c + 5),
    (em.ClassificationReport, {}, lambda c: 3 * c + 3),
    (
        em.ClassificationReport,
        {"include": REPORT_ITEMS},
        lambda c: 3 * c + 3,
    ),
    (em.ConfusionMatrix, {}, lambda c: c * c + 3),
]
MULTILABEL = [
    (em.Precision, {}),
    (em.Recall, {}),
    (em.F1Score, {}),
    (em.FBetaScore, {"beta": 0.5}),
    (em.Specificity, {}),
    (em.JaccardIndex, {}),
    (em.Accuracy, {}),
    (em.ClassificationReport, {}),
    (em.ConfusionMatrix, {}),
]
# Ranking metrics, binned: a (negative, positive) histogram per class, `bins` bins each.
BINS = {64: 19588, 8: 2452}  # bins for bins_per_octave (documented in the class docstring)
RANKING = [
    (em.AUROC, {}),
    (em.AUROC, {"max_fpr": 0.2}),
    (em.AveragePrecision, {}),
    (em.PrecisionAtRecall, {"recall": 0.9}),
    (em.RecallAtPrecision, {"precision": 0.9}),
    (em.SensitivityAtSpecificity, {"specificity": 0.9}),
    (em.SpecificityAtSensitivity, {"sensitivity": 0.9}),
    (em.FBetaAtBestThreshold, {}),
]
# Exported metrics whose state is not covered here; each needs a row and a bound.
PENDING: set[str] = set()


def state_bytes(metric: keras.metrics.Metric) -> int:
    return sum(
        int(np.prod(v.shape)) * np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize
        for v in metric.variables
    )


def _id(param: tuple) -> str:
    cls, kwargs = param[0], param[1]
    return cls.__name__ + "".join(f"-{k}={v}" for k, v in kwargs.items() if k != "include")


@pytest.mark.parametrize("case", MULTICLASS, ids=[_id(c) for c in MULTICLASS])
def test_multiclass_state_size(case):
    cls, kwargs, length = case
    metric = cls("multiclass", num_classes=C, **kwargs)
    assert state_bytes(metric) == 2 * 4 * length(C)
    if cls is em.ConfusionMatrix:
        assert state_bytes(metric) >= C * C
    else:
        # No O(C^2) anywhere: at most 8 float32 pairs per class, whatever is reported.
        assert state_bytes(metric) <= 2 * 4 * 8 * C


@pytest.mark.parametrize("case", MULTILABEL, ids=[_id(c) for c in MULTILABEL])
def test_multilabel_state_is_linear(case):
    cls, kwargs = case
    metric = cls("multilabel", num_classes=C, **kwargs)
    assert state_bytes(metric) == 2 * 4 * (4 * C + 5)


def test_binary_state_is_constant():
    for cls in (em.F1Score, em.MatthewsCorrCoef, em.ClassificationReport):
        assert state_bytes(cls("binary")) == 2 * 4 * 9  # 3 * 2 + 3
    assert state_bytes(em.ConfusionMatrix("binary")) == 2 * 4 * 7  # 2 * 2 + 3


def test_report_variables_do_not_grow_with_updates():
    # Streaming keeps the state fixed: many batches, same variables, same bytes.
    metric = em.ClassificationReport("multiclass", num_classes=C)
    before = state_bytes(metric)
    rng = np.random.default_rng(0)
    for _ in range(3):
        metric.update_state(rng.integers(0, C, 64), rng.random((64, C)).astype("float32"))
    assert state_bytes(metric) == before
    assert len(metric.variables) == 2


@pytest.mark.parametrize("case", RANKING, ids=[_id(c) for c in RANKING])
def test_binned_ranking_state_is_linear_in_classes(case):
    # 2 * K * bins + 3: O(C * bins), never O(C^2); K = 1 for binary.
    cls, kwargs = case
    for octave, bins in BINS.items():
        for c in (3, 10):
            metric = cls("multiclass", num_classes=c, bins_per_octave=octave, **kwargs)
            assert state_bytes(metric) == 2 * 4 * (2 * c * bins + 3)
        binary = cls("binary", bins_per_octave=octave, **kwargs)
        assert state_bytes(binary) == 2 * 4 * (2 * bins + 3)


@pytest.mark.parametrize("case", RANKING, ids=[_id(c) for c in RANKING])
def test_exact_ranking_state_is_the_buffer(case):
    # A (capacity + 1)-row buffer of K scores, T labels and a weight, a count, and a pair of 4.
    cls, kwargs = case
    c, capacity = 10, 100
    metric = cls("multiclass", num_classes=c, exact=True, capacity=capacity, **kwargs)
    rows = capacity + 1
    assert state_bytes(metric) == 2 * 4 * 4 + 4 * rows * (c + 1 + 1) + 4
    metric = cls("multilabel", num_classes=c, exact=True, capacity=capacity, **kwargs)
    assert state_bytes(metric) == 2 * 4 * 4 + 4 * rows * (c + c + 1) + 4


@pytest.mark.parametrize("n_bins", [1, 15, 100])
def test_calibration_state_is_three_sums_per_bin(n_bins):
    # 3 * K * (n_bins + 1) + 3: K = 1 (binary, multiclass top-label: no C at all) or L labels.
    cells = n_bins + 1
    assert state_bytes(em.CalibrationError("binary", n_bins=n_bins)) == 2 * 4 * (3 * cells + 3)
    multiclass = em.CalibrationError("multiclass", num_classes=C, n_bins=n_bins)
    assert state_bytes(multiclass) == 2 * 4 * (3 * cells + 3)
    multilabel = em.CalibrationError("multilabel", num_classes=C, n_bins=n_bins)
    assert state_bytes(multilabel) == 2 * 4 * (3 * C * cells + 3)


def test_detection_state_is_host_records_not_variables():
    """DetectionMAP keeps per-detection records on the host (68 bytes each), no variables."""
    metric = em.DetectionMAP(num_classes=2)
    assert state_bytes(metric) == 0 and not metric.variables


# Regression: per output the count, the weight, the error sums, and per moment column its
# shift and two sums (Pearson and concordance add the cross sum), then 3 invalid counts.
REGRESSION = [
    (em.MeanSquaredError, lambda d: 3 * d + 3),
    (em.RootMeanSquaredError, lambda d: 3 * d + 3),
    (em.MeanAbsoluteError, lambda d: 3 * d + 3),
    (em.MeanAbsolutePercentageError, lambda d: 3 * d + 3),
    (em.R2Score, lambda d: 6 * d + 3),
    (em.ExplainedVariance, lambda d: 8 * d + 3),
    (em.PearsonCorrCoef, lambda d: 9 * d + 3),
    (em.ConcordanceCorrCoef, lambda d: 9 * d + 3),
]


@pytest.mark.parametrize(("cls", "length"), REGRESSION, ids=lambda x: getattr(x, "__name__", ""))
def test_regression_state_is_a_few_sums_per_output(cls, length):
    for d in (1, 7):
        assert state_bytes(cls(num_outputs=d)) == 2 * 4 * length(d)


def test_rank_correlations_keep_the_arrays_on_the_host():
    """SpearmanCorrCoef and KendallTau (host metrics) keep the epoch's targets and predictions
    as float64 arrays (16 bytes per sample and output), no variables."""
    metric = em.SpearmanCorrCoef(num_outputs=2)
    assert state_bytes(metric) == 0 and not metric.variables
    metric.update_state(np.zeros((5, 2)), np.ones((5, 2)))
    assert sum(a.nbytes + b.nbytes for a, b in metric._parts) == 16 * 5 * 2


def test_every_exported_metric_has_a_documented_size():
    covered = {cls.__name__ for cls, *_ in [*MULTICLASS, *RANKING, *REGRESSION]} | PENDING
    covered |= {"KendallTau", "SpearmanCorrCoef"}  # test_rank_correlations_keep_the_arrays...
    covered.add("CalibrationError")  # test_calibration_state_is_three_sums_per_bin
    covered.add("DetectionMAP")  # test_detection_state_is_host_records_not_variables
    exported = {
        name
        for name in em.__all__
        if isinstance(getattr(em, name), type)
        and issubclass(getattr(em, name), keras.metrics.Metric)
    }
    missing = sorted(exported - covered)
    assert not missing, (
        f"{missing} have no state-size test: add a row to tests/test_memory.py and to "
        "docs/state_sizes.md."
    )


def test_report_items_cover_everything_a_report_can_include():
    """The "every value" row above stays complete when the report learns a new value."""
    from epochmetrics.metrics import confusion

    assert set(REPORT_ITEMS) == {*confusion._PER_CLASS, *confusion._SCALARS}
