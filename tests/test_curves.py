"""Per-class counts at uniform thresholds (the points of PR and ROC curves) against NumPy.

The oracle counts, per class and threshold t, the (weighted) positives and negatives whose
score is >= t, on the concatenated data. Exact sources (whole arrays, exact mode) must equal it;
the binned state must lie within the documented bound: its count at t is the exact count at a
threshold between t - 1.6% of min(t, 1 - t) and t.
"""

from __future__ import annotations

import numpy as np
import pytest

import epochmetrics as em
from epochmetrics.functional import curves

T = np.linspace(0.0, 1.0, 101)


def oracle(y_onehot, scores, weights=None, thresholds=T):
    """(tp, fp) `(K, T)`: plain loops over classes and thresholds."""
    n, k = scores.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    tp = np.zeros((k, len(thresholds)))
    fp = np.zeros((k, len(thresholds)))
    for c in range(k):
        for i, t in enumerate(thresholds):
            hit = scores[:, c] >= t
            tp[c, i] = np.sum(w * (hit & (y_onehot[:, c] == 1)))
            fp[c, i] = np.sum(w * (hit & (y_onehot[:, c] == 0)))
    return tp, fp


def data(task, n, c, seed):
    rng = np.random.default_rng(seed)
    if task == "binary":
        y = rng.integers(0, 2, n)
        p = rng.beta(0.6, 0.6, n).astype("float32")
        p[:7] = [0.0, 1.0, 0.5, 0.25, 0.75, 0.3, 0.01]  # on and near grid points
        return y, p, y[:, None], p[:, None]
    if task == "multiclass":
        y = rng.integers(0, c, n)
        p = rng.dirichlet(np.full(c, 0.7), n).astype("float32")
        return y, p, np.eye(c)[y], p
    y = rng.integers(0, 2, (n, c))
    p = rng.random((n, c)).astype("float32")
    return y, p, y, p


def batches(n, size=100):
    # Equal sizes: each new batch shape compiles the eager update again on JAX (seconds);
    # partition invariance of the states is tested with the metrics themselves.
    return [(a, min(a + size, n)) for a in range(0, n, size)]


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_whole_arrays_are_exact(task):
    y, p, onehot, scores = data(task, 300, 4, seed=1)
    w = np.random.default_rng(2).uniform(0, 3, 300)
    metric = em.AUROC(task, num_classes=None if task == "binary" else 4)
    counts = metric.threshold_counts_arrays(y, p, sample_weight=w)
    tp, fp = oracle(onehot, scores, w)
    np.testing.assert_allclose(counts.tp, tp, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(counts.fp, fp, rtol=1e-12, atol=1e-9)
    positives = (w[:, None] * onehot).sum(axis=0)
    np.testing.assert_allclose(counts.fn, positives[:, None] - tp, atol=1e-9)
    np.testing.assert_allclose(counts.tn, w.sum() - positives[:, None] - fp, atol=1e-9)
    assert counts.exact and counts.thresholds.tolist() == T.tolist()


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_streamed_states_exact_and_binned(task):
    n = 400
    y, p, onehot, scores = data(task, n, 5, seed=3)
    c = None if task == "binary" else 5
    exact = em.AveragePrecision(task, num_classes=c, exact=True, capacity=n)
    binned = em.AUROC(task, num_classes=c)
    for a, b in batches(n):
        exact.update_state(y[a:b], p[a:b])
        binned.update_state(y[a:b], p[a:b])
    tp, fp = oracle(onehot, scores)
    got = exact.threshold_counts()
    np.testing.assert_array_equal(got.tp, tp)
    np.testing.assert_array_equal(got.fp, fp)
    assert got.exact
    # Binned: within one bin below each threshold, and that bin's mass bounds the difference.
    low = T - 0.016 * np.minimum(T, 1 - T)
    tp_low, fp_low = oracle(onehot, scores, thresholds=low)
    got = binned.threshold_counts()
    assert np.all(tp <= got.tp) and np.all(got.tp <= tp_low)
    assert np.all(fp <= got.fp) and np.all(got.fp <= fp_low)
    assert np.all(got.tp - got.tp_error <= tp) and np.all(got.fp - got.fp_error <= fp)
    exact_points = np.isin(T, [0.0, 0.25, 0.5, 0.75, 1.0])  # bin starts: exact there
    np.testing.assert_array_equal(got.tp[:, exact_points], tp[:, exact_points])
    np.testing.assert_array_equal(got.fp[:, exact_points], fp[:, exact_points])
    assert not got.exact
    assert got.labels == (("1",) if task == "binary" else tuple(str(i) for i in range(5)))


def test_logits_compare_as_probabilities():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    z = rng.normal(0, 3, 200).astype("float32")
    metric = em.AUROC("binary", from_logits=True, exact=True, capacity=200)
    metric.update_state(y, z)
    prob = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
    tp, fp = oracle(y[:, None], prob[:, None])
    got = metric.threshold_counts()
    np.testing.assert_array_equal(got.tp, tp)
    np.testing.assert_array_equal(got.fp, fp)


def test_multilabel_ignore_index_leaves_elements_out():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, (100, 3))
    y[rng.random((100, 3)) < 0.2] = -1
    p = rng.random((100, 3)).astype("float32")
    metric = em.AUROC("multilabel", num_classes=3, ignore_index=-1, exact=True, capacity=100)
    metric.update_state(y, p)
    w = (y >= 0).astype(float)  # per element: ignored elements weigh 0
    tp = np.stack(
        [[np.sum(w[:, k] * (y[:, k] == 1) * (p[:, k] >= t)) for t in T] for k in range(3)]
    )
    fp = np.stack(
        [[np.sum(w[:, k] * (y[:, k] == 0) * (p[:, k] >= t)) for t in T] for k in range(3)]
    )
    for got in (metric.threshold_counts(), metric.threshold_counts_arrays(y, p)):
        np.testing.assert_array_equal(got.tp, tp)
        np.testing.assert_array_equal(got.fp, fp)


def test_grid_and_rates():
    assert curves.uniform_thresholds(3).tolist() == [0.0, 0.5, 1.0]
    for bad in (1, 10_001):
        with pytest.raises(ValueError, match="`num_thresholds` must be an integer from 2"):
            curves.uniform_thresholds(bad)
    c = curves.counts_from_scores([[0.2], [0.9]], [[False], [True]], None, T, ["x"])
    assert c.precision()[0, 50] == 1.0 and c.recall()[0, 0] == 1.0
    assert c.false_positive_rate()[0, 0] == 1.0 and c.false_positive_rate()[0, 50] == 0.0
    assert c.select([0]).labels == ("x",)


def test_operating_point_metrics_give_the_same_curves():
    y, p, _, _ = data("multiclass", 200, 3, seed=7)
    metrics = [
        em.AUROC("multiclass", num_classes=3),
        em.PrecisionAtRecall("multiclass", num_classes=3, recall=0.5),
        em.SpecificityAtSensitivity("multiclass", num_classes=3, sensitivity=0.8),
    ]
    for m in metrics:
        m.update_state(y, p)
    first = metrics[0].threshold_counts()
    for m in metrics[1:]:
        got = m.threshold_counts()
        for row in ("tp", "fp", "tn", "fn", "tp_error", "fp_error"):
            np.testing.assert_array_equal(getattr(got, row), getattr(first, row))
