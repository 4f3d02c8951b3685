"""Host ranking functions against scikit-learn: every task and average, ties, weights, curves."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import sk
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

import epochmetrics as em
from epochmetrics.functional import ranking as R

PAIRS = [
    (R.roc_auc, skm.roc_auc_score),
    (R.average_precision, skm.average_precision_score),
]


def _ours(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", em.UndefinedMetricWarning)
        return fn(*args, **kwargs)


def _close(a, b, tol=1e-12):
    np.testing.assert_allclose(
        np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=tol, equal_nan=True
    )


def _weights(rng, n):
    """Random weights, a fifth of them zero (scikit-learn refuses all-zero weights)."""
    w = rng.random(n) * (rng.random(n) > 0.2)
    w[rng.integers(n)] = 1.0
    return w


def _binary_data(rng, n, decimals, dtype):
    y = rng.integers(0, 2, n)
    s = np.round(rng.normal(size=n) + y, decimals).astype(dtype)
    return y, s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_matches_sklearn(dtype, weighted):
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(2, 300))
        y, s = _binary_data(rng, n, int(rng.integers(0, 3)), dtype)
        s[rng.random(n) < 0.05] = -0.0  # -0.0 ties with 0.0
        w = _weights(rng, n) if weighted else None
        for ours, ref in PAIRS:
            _close(_ours(ours, y, s, sample_weight=w), sk(ref, y, s, sample_weight=w))


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_matches_sklearn(average, weighted):
    rng = np.random.default_rng(1)
    for _ in range(10):
        n, labels = int(rng.integers(2, 200)), 4
        y = (rng.random((n, labels)) < [0.5, 0.2, 0.05, 0.9]).astype(int)
        s = np.round(rng.random((n, labels)), 1)
        w = rng.random(n) if weighted else None
        for ours, ref in PAIRS:
            got = _ours(
                ours, y, s, task="multilabel", num_classes=labels, average=average, sample_weight=w
            )
            _close(got, sk(ref, y, s, average=average, sample_weight=w))


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_multiclass_one_vs_rest_matches_sklearn(average):
    rng = np.random.default_rng(2)
    c = 4
    for _ in range(10):
        n = int(rng.integers(5, 200))
        y = rng.integers(0, c, n)
        z = np.round(rng.normal(size=(n, c)), 1)
        p = softmax(z, axis=1)  # rows shifted by a constant tie, so the softmax must match
        w = rng.random(n)
        onehot = label_binarize(y, classes=range(c))
        for ours, ref in PAIRS:
            expected = sk(ref, onehot, p, average=average, sample_weight=w)
            _close(
                _ours(
                    ours,
                    y,
                    z,
                    task="multiclass",
                    num_classes=c,
                    average=average,
                    from_logits=True,
                    sample_weight=w,
                ),
                expected,
            )
            _close(
                _ours(
                    ours,
                    onehot,
                    p,
                    task="multiclass",
                    num_classes=c,
                    average=average,
                    sample_weight=w,
                ),
                expected,
            )
    # scikit-learn's own multiclass entry point agrees where it applies (all classes present).
    y = np.arange(60) % c
    p = np.random.default_rng(3).dirichlet(np.ones(c), size=60)
    _close(
        R.roc_auc(y, p, task="multiclass", num_classes=c, average="macro"),
        skm.roc_auc_score(y, p, multi_class="ovr"),
    )


def test_multilabel_ignore_index_drops_elements():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, (80, 3))
    y[rng.random((80, 3)) < 0.2] = -1
    s = rng.random((80, 3))
    per_label = [skm.roc_auc_score(y[y[:, k] >= 0, k], s[y[:, k] >= 0, k]) for k in range(3)]
    got = R.roc_auc(y, s, task="multilabel", num_classes=3, average=None, ignore_index=-1)
    _close(got, per_label)
    kept = y >= 0
    _close(
        R.average_precision(
            y, s, task="multilabel", num_classes=3, average="micro", ignore_index=-1
        ),
        skm.average_precision_score(y[kept], s[kept]),
    )


def test_binary_and_multiclass_ignore_index_drop_samples():
    y = np.array([0, 1, 255, 1, 0, 255])
    s = np.array([0.2, 0.7, 0.9, 0.4, 0.5, 0.1])
    keep = y != 255
    _close(R.roc_auc(y, s, ignore_index=255), skm.roc_auc_score(y[keep], s[keep]))
    yc = np.array([0, 1, 2, -100, 2, 1])
    p = np.random.default_rng(5).dirichlet(np.ones(3), size=6)
    keep = yc >= 0
    _close(
        R.average_precision(yc, p, task="multiclass", num_classes=3, ignore_index=-100),
        skm.average_precision_score(label_binarize(yc[keep], classes=range(3)), p[keep]),
    )


@given(
    n=st.integers(1, 60),
    decimals=st.integers(0, 2),
    seed=st.integers(0, 2**31),
    weighted=st.booleans(),
)
@settings(deadline=None, max_examples=40)
def test_curves_match_sklearn(n, decimals, seed, weighted):
    rng = np.random.default_rng(seed)
    y, s = _binary_data(rng, n, decimals, np.float64)
    w = _weights(rng, n) if weighted else None
    for drop in (True, False):
        ours = _ours(R.roc_curve, y, s, sample_weight=w, drop_intermediate=drop)
        ref = sk(skm.roc_curve, y, s, sample_weight=w, drop_intermediate=drop)
        for a, b in zip(ours, ref, strict=True):
            assert a.shape == b.shape
            _close(a, b)
        ours = _ours(R.precision_recall_curve, y, s, sample_weight=w, drop_intermediate=drop)
        ref = sk(skm.precision_recall_curve, y, s, sample_weight=w, drop_intermediate=drop)
        for a, b in zip(ours, ref, strict=True):
            assert a.shape == b.shape
            _close(a, b)


def test_curves_per_class_for_multiclass():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, 50)
    p = rng.dirichlet(np.ones(3), size=50)
    curves = R.roc_curve(y, p, task="multiclass", num_classes=3)
    assert len(curves) == 3
    for k, (fpr, tpr, thr) in enumerate(curves):
        ref = skm.roc_curve(y == k, p[:, k])
        _close(fpr, ref[0])
        _close(tpr, ref[1])
        _close(thr, ref[2])
    pr = R.precision_recall_curve(y, p, task="multiclass", num_classes=3)
    _close(pr[2][0], skm.precision_recall_curve(y == 2, p[:, 2])[0])


@given(seed=st.integers(0, 2**31), n=st.integers(2, 80))
@settings(deadline=None, max_examples=25)
def test_properties(seed, n):
    """Permutation invariance, integer weight = repetition, zero weight = removal, monotone maps."""
    rng = np.random.default_rng(seed)
    y, s = _binary_data(rng, n, 1, np.float64)
    reps = rng.integers(0, 3, n)
    perm = rng.permutation(n)
    for fn in (R.roc_auc, R.average_precision):
        base = _ours(fn, y, s, sample_weight=reps)
        _close(_ours(fn, y[perm], s[perm], sample_weight=reps[perm]), base)
        _close(_ours(fn, np.repeat(y, reps), np.repeat(s, reps)) if reps.sum() else base, base)
        _close(_ours(fn, y, np.exp(3 * s) - 7, sample_weight=reps), base)
    value = _ours(R.roc_auc, y, s)
    assert np.isnan(value) or 0.0 <= value <= 1.0


def test_undefined_cases_follow_sklearn_and_warn():
    s = [0.1, 0.6, 0.3]
    with pytest.warns(em.UndefinedMetricWarning, match="only one class"):
        assert np.isnan(R.roc_auc([0, 0, 0], s))
    with pytest.warns(em.UndefinedMetricWarning, match="only one class"):
        assert np.isnan(R.roc_auc([1, 1, 1], s))
    with pytest.warns(em.UndefinedMetricWarning, match="no positive samples"):
        assert R.average_precision([0, 0, 0], s) == 0.0
    assert R.average_precision([1, 1, 1], s) == 1.0
    y = np.array([[1, 0], [0, 0], [1, 0]])
    p = np.array([[0.9, 0.1], [0.2, 0.3], [0.6, 0.2]])
    with pytest.warns(em.UndefinedMetricWarning, match=r"class\(es\) \[1\]"):
        values = R.roc_auc(y, p, task="multilabel", num_classes=2, average=None)
    _close(values, [1.0, np.nan])
    with pytest.warns(em.UndefinedMetricWarning):
        assert np.isnan(R.roc_auc(y, p, task="multilabel", num_classes=2))  # macro carries NaN
    with pytest.warns(em.UndefinedMetricWarning):
        weighted = R.roc_auc(y, p, task="multilabel", num_classes=2, average="weighted")
    _close(weighted, sk(skm.roc_auc_score, y, p, average="weighted"))  # zero support drops out
    with pytest.warns(em.UndefinedMetricWarning):
        assert (
            R.roc_auc(np.zeros((3, 2)), p, task="multilabel", num_classes=2, average="weighted")
            == 0.0
        )
    with pytest.warns(em.UndefinedMetricWarning, match="false positive rate"):
        fpr, _, _ = R.roc_curve([1, 1], [0.2, 0.4])
    assert np.isnan(fpr).all()
    with pytest.warns(em.UndefinedMetricWarning, match="recall is set to 1.0"):
        _, recall, _ = R.precision_recall_curve([0, 0], [0.2, 0.4])
    _close(recall, [1.0, 1.0, 0.0])


def test_accepts_backend_tensors_and_column_vectors():
    import keras

    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.1, 0.8, 0.4, 0.5, 0.9], dtype="float32")
    expected = skm.roc_auc_score(y, s)
    _close(R.roc_auc(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(s)), expected)
    _close(R.roc_auc(y.reshape(-1, 1), s.reshape(-1, 1)), expected)
    _close(
        R.roc_auc(y.astype(bool), s.astype(np.float16)), skm.roc_auc_score(y, s.astype(np.float16))
    )
    _close(R.roc_auc(y.astype(float), s), expected)


BAD_CALLS = [
    (dict(y_true=[0, 1], y_score=[0.1, 0.2], average="mean"), "`average` must be one of"),
    (dict(y_true=[0, 1], y_score=[0.1, 0.2], task="ordinal"), "`task` must be one of"),
    (dict(y_true=[[0, 1]], y_score=[[0.1, 0.2]], task="multiclass"), "requires `num_classes`"),
    (
        dict(y_true=[0, 1], y_score=[[0.1, 0.2], [0.3, 0.4]]),
        r"task='binary' expects y_true and y_score of shape \(n,\)",
    ),
    (dict(y_true=[0, 1], y_score=[0.1, 0.2, 0.3]), "same number of samples"),
    (
        dict(y_true=[0, 2], y_score=[0.1, 0.2]),
        r"y_true values to be 0 or 1\. Received 1 invalid value\(s\): 2",
    ),
    (dict(y_true=[0, 1], y_score=[0.1, float("nan")]), "y_score must be finite. Received 1 NaN"),
    (
        dict(y_true=[0, 1], y_score=[0.1, 0.2], sample_weight=[1.0]),
        r"`sample_weight` must have shape \(n,\)",
    ),
    (
        dict(y_true=[0, 1], y_score=[0.1, 0.2], sample_weight=[1.0, float("inf")]),
        "`sample_weight` must be finite",
    ),
    (
        dict(y_true=[0, 3], y_score=[[0.5, 0.5, 0.0]] * 2, task="multiclass", num_classes=3),
        r"integers in \[0, num_classes=3\)",
    ),
    (
        dict(y_true=[0, 1], y_score=[0, 1], task="multiclass", num_classes=3),
        r"y_score of shape \(n, num_classes=3\)",
    ),
    (
        dict(y_true=[[0, 0, 0]], y_score=[[0.5, 0.5, 0.0]], task="multiclass", num_classes=3),
        r"an all-zero row is void only when ignore_index is set\. Received 1 row\(s\) that "
        r"are not, e\.g\. \[0, 0, 0\]",
    ),
    (
        dict(y_true=[[0, 1]], y_score=[[0.1, 0.2]], task="multilabel", num_classes=3),
        r"y_true and y_score of shape \(n, num_classes=3\)",
    ),
    (dict(y_true=[0, 1], y_score=["a", "b"]), "y_score must hold numbers"),
]


@pytest.mark.parametrize("kwargs, message", BAD_CALLS)
@pytest.mark.parametrize(
    "fn", [R.roc_auc, R.average_precision, R.roc_curve, R.precision_recall_curve]
)
def test_errors(fn, kwargs, message):
    kwargs = dict(kwargs)
    if fn in (R.roc_curve, R.precision_recall_curve):
        if "average" in kwargs:
            return  # curves take no average
    with pytest.raises(ValueError, match=message):
        fn(kwargs.pop("y_true"), kwargs.pop("y_score"), **kwargs)
