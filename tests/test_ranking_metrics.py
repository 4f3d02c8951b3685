"""AUROC and AveragePrecision objects: exact mode against scikit-learn, binned accuracy, state."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from helpers import batch_sizes, feed, sk, summed_state
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops
from scipy.special import softmax
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

import epochmetrics as em
from epochmetrics.functional import ranking as R
from epochmetrics.functional import ranking_graph

REFERENCE = {em.AUROC: skm.roc_auc_score, em.AveragePrecision: skm.average_precision_score}
# JAX without x64 computes results in float32; everything else in float64.
EXACT_TOL = 1e-6
# Few distinct shapes: eager JAX compiles every op once per input shape (seconds each).
CAPACITY = 512


def _sk(cls, *args, **kwargs):
    return sk(REFERENCE[cls], *args, **kwargs)


def _value(result):
    if isinstance(result, dict):
        return {k: float(v) for k, v in result.items()}
    return float(result)


# --- exact mode --------------------------------------------------------------------------------
@given(
    seed=st.integers(0, 2**31),
    n=st.sampled_from([1, 40, 72]),
    decimals=st.integers(0, 2),
    weighted=st.booleans(),
    cls=st.sampled_from([em.AUROC, em.AveragePrecision]),
)
@settings(deadline=None, max_examples=12)
def test_exact_binary_equals_sklearn_for_anybatch_sizes(seed, n, decimals, weighted, cls):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.random(n), decimals).astype("float32")  # ties
    w = None
    if weighted:  # a fifth of the weights zero, but not all (scikit-learn refuses that)
        w = (rng.random(n) * (rng.random(n) > 0.2)).astype("float32")
        w[rng.integers(n)] = 1.0
    m = feed(cls("binary", exact=True, capacity=CAPACITY), y, s, w, batch_sizes(rng, n))
    expected = _sk(cls, y, s, sample_weight=w)
    got = _value(m.result())
    assert (math.isnan(got) and math.isnan(expected)) or abs(got - expected) <= EXACT_TOL


@pytest.mark.parametrize("cls", [em.AUROC, em.AveragePrecision])
@pytest.mark.parametrize("average", ["macro", "weighted", "micro", None])
def test_exact_multiclass_one_vs_rest(cls, average):
    rng = np.random.default_rng(0)
    n, c = 128, 4
    y = rng.integers(0, c, n)
    z = np.round(rng.normal(size=(n, c)), 1)
    p = softmax(z, axis=1).astype("float32")  # tied rows
    w = rng.random(n).astype("float32")
    onehot = label_binarize(y, classes=range(c))
    m = feed(
        cls("multiclass", num_classes=c, average=average, exact=True, capacity=CAPACITY),
        y,
        p,
        w,
        batch_sizes(rng, n),
    )
    expected = _sk(cls, onehot, p, average=average, sample_weight=w)
    got = _value(m.result())
    if average is None:
        assert list(got) == [f"{m.name}_{k}" for k in range(c)]
        got = list(got.values())
    np.testing.assert_allclose(got, expected, atol=EXACT_TOL)
    # Logits: the step's softmax may round a score differently with another batch
    # composition, so compare on untied scores.
    z = rng.normal(size=(n, c)).astype("float32")
    m = feed(
        cls(
            "multiclass",
            num_classes=c,
            average=average,
            from_logits=True,
            exact=True,
            capacity=CAPACITY,
        ),
        y,
        z,
        w,
        batch_sizes(rng, n),
    )
    expected = _sk(
        cls, onehot, softmax(z.astype(np.float64), axis=1), average=average, sample_weight=w
    )
    got = _value(m.result())
    np.testing.assert_allclose(
        list(got.values()) if average is None else got, expected, atol=EXACT_TOL
    )


@pytest.mark.parametrize("average", ["macro", "weighted", "micro", None])
def test_exact_multilabel_map(average):
    rng = np.random.default_rng(1)
    n, labels = 250, 4
    y = (rng.random((n, labels)) < [0.5, 0.1, 0.02, 0.7]).astype("float32")
    s = np.round(rng.random((n, labels)), 2).astype("float32")
    for cls in (em.AveragePrecision, em.AUROC):
        m = feed(
            cls("multilabel", num_classes=labels, average=average, exact=True, capacity=CAPACITY),
            y,
            s,
            sizes=[1, 7, 32] * 6 + [7, 1, 1, 1],
        )
        expected = _sk(cls, y, s, average=average)
        got = _value(m.result())
        got = list(got.values()) if average is None else got
        np.testing.assert_allclose(got, expected, atol=EXACT_TOL)


def test_exact_from_logits_ranks_the_logits():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 192)
    z = (rng.normal(size=192) * 30).astype("float32")  # sigmoid would saturate to ties
    m = feed(
        em.AUROC("binary", from_logits=True, exact=True, capacity=CAPACITY), y, z, sizes=[32] * 6
    )
    assert abs(float(m.result()) - skm.roc_auc_score(y, z)) <= EXACT_TOL


def test_exact_skips_zero_weight_and_ignored_samples_without_using_capacity():
    y = np.array([0, 1, -1, 1, 0, -1, 1], dtype="float32")
    s = np.array([0.1, 0.9, 0.5, 0.4, 0.6, 0.2, 0.8], dtype="float32")
    w = np.array([1, 1, 1, 0, 1, 1, 2], dtype="float32")
    m = em.AUROC("binary", exact=True, capacity=4, ignore_index=-1)  # 4 samples count
    m.update_state(y, s, w)
    keep = (y >= 0) & (w > 0)
    assert (
        abs(float(m.result()) - skm.roc_auc_score(y[keep], s[keep], sample_weight=w[keep]))
        <= EXACT_TOL
    )


@pytest.mark.parametrize("exact", [False, True])
def test_multilabel_ignore_index_skips_elements(exact):
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, (96, 4)).astype("float32")
    y[rng.random((96, 4)) < 0.2] = -1.0
    s = np.round(rng.random((96, 4)), 2).astype("float32")  # one bin per distinct score
    kw = {"exact": True, "capacity": CAPACITY} if exact else {}
    for cls, fn in ((em.AUROC, R.roc_auc), (em.AveragePrecision, R.average_precision)):
        m = feed(
            cls("multilabel", num_classes=4, ignore_index=-1, average=None, **kw),
            y,
            s,
            sizes=[32] * 3,
        )
        expected = fn(y, s, task="multilabel", num_classes=4, ignore_index=-1, average=None)
        np.testing.assert_allclose(list(_value(m.result()).values()), expected, atol=EXACT_TOL)


def test_exact_overflow_is_nan_with_a_warning_naming_capacity():
    m = em.AUROC("binary", exact=True, capacity=10)
    y = np.arange(15) % 2
    s = np.linspace(0, 1, 15).astype("float32")
    m.update_state(y[:7], s[:7])
    assert not math.isnan(float(m.result()))
    m.update_state(y[7:14], s[7:14])
    m.update_state(y[14:], s[14:])
    with pytest.warns(RuntimeWarning, match=r"capacity=10: 5 dropped so far.*\(>= 15\)"):
        assert math.isnan(float(m.result()))
    m.reset_state()
    m.update_state(y[:7], s[:7])
    assert abs(float(m.result()) - skm.roc_auc_score(y[:7], s[:7])) <= EXACT_TOL


def test_exact_merge_appends_samples():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 90)
    p = rng.dirichlet(np.ones(4), size=90).astype("float32")
    parts = [
        em.AveragePrecision("multiclass", num_classes=4, exact=True, capacity=c)
        for c in (CAPACITY, 32, 40)
    ]
    feed(parts[0], y[:20], p[:20], sizes=[7, 7, 1, 1, 1, 1, 1, 1])
    feed(parts[1], y[20:52], p[20:52], sizes=[32])
    feed(parts[2], y[52:], p[52:], sizes=[32, 1, 1, 1, 1, 1, 1])
    parts[0].merge_state(parts[1])
    parts[0].merge_state(parts[2])
    expected = skm.average_precision_score(label_binarize(y, classes=range(4)), p)
    assert abs(float(parts[0].result()) - expected) <= EXACT_TOL
    small = feed(
        em.AveragePrecision("multiclass", num_classes=4, exact=True, capacity=40),
        y[:32],
        p[:32],
        sizes=[32],
    )
    small.merge_state(parts[1])  # 32 + 32 > 40: dropped, never silently wrong
    with pytest.warns(RuntimeWarning, match="capacity=40"):
        assert math.isnan(float(small.result()))


def test_merge_state_mismatch_is_an_error():
    exact = em.AUROC("binary", exact=True, capacity=10)
    with pytest.raises(ValueError, match="differ in exact: True here, False in the other"):
        exact.merge_state(em.AUROC("binary"))
    with pytest.raises(ValueError, match="merge_state needs a AUROC"):
        em.AUROC("binary").merge_state(exact)
    with pytest.raises(ValueError, match="differ in bins_per_octave: 64 here, 8 in the other"):
        em.AUROC("binary").merge_state(em.AUROC("binary", bins_per_octave=8))


# --- binned mode -------------------------------------------------------------------------------
def _bunched(n=20_000, seed=0):
    """Scores squeezed near 0: sigmoid(normal + 1.5 y - 7). Keras' 200 thresholds fail here."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = (1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * y - 7.0)))).astype("float32")
    return y, s


def _bound(metric):
    """The documented bound: half the share of positive/negative pairs that share a bin."""
    return metric.error_bound()


def test_binned_auroc_on_tied_scores_within_1e_4():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 20_000)
    s = np.round(1.0 / (1.0 + np.exp(-(rng.normal(size=20_000) + y))), 3).astype("float32")
    m = feed(em.AUROC("binary"), y, s, sizes=[1000] * 20)
    err = abs(float(m.result()) - skm.roc_auc_score(y, s))
    assert err <= 1e-4
    assert err <= _bound(m)


def test_binned_auroc_on_bunched_scores_beats_keras_auc():
    y, s = _bunched()
    exact = skm.roc_auc_score(y, s)
    keras_auc = keras.metrics.AUC()  # the default: 200 uniform thresholds
    keras_auc.update_state(y, s)
    keras_err = abs(float(keras_auc.result()) - exact)
    assert 0.14 < keras_err < 0.19  # Keras reports ~0.69 where the exact value is ~0.85
    m = feed(em.AUROC("binary"), y, s, sizes=[1000] * 20)
    err = abs(float(m.result()) - exact)
    assert err <= 1e-3
    assert err <= _bound(m)
    assert 10 * err <= keras_err
    ap = feed(em.AveragePrecision("binary"), y, s, sizes=[1000] * 20)
    assert abs(float(ap.result()) - skm.average_precision_score(y, s)) <= 2e-3


@pytest.mark.parametrize("center", [-30.0, -7.0, 0.0, 1e-5, 9.0, 25.0])
def test_binned_accuracy_holds_wherever_the_scores_are(center):
    """Logits bunched anywhere, as probabilities and as logits."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 4000)
    scale = max(abs(center) * 1e-2, 1e-6)
    z = (center + scale * (rng.normal(size=4000) + y)).astype("float32")
    m = feed(em.AUROC("binary", from_logits=True), y, z, sizes=[1000] * 4)
    assert abs(float(m.result()) - skm.roc_auc_score(y, z)) <= 1e-3
    if abs(center) < 15:  # float32 probabilities still distinguish these scores
        p = (1 / (1 + np.exp(-z.astype(np.float64)))).astype("float32")
        m = feed(em.AUROC("binary"), y, p, sizes=[1000] * 4)
        assert abs(float(m.result()) - skm.roc_auc_score(y, p)) <= 1e-3


def test_binned_is_exact_when_each_score_has_its_own_bin():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 3000)
    s = np.round(rng.random(3000), 2).astype("float32")
    for cls in (em.AUROC, em.AveragePrecision):
        m = feed(cls("binary"), y, s, sizes=[1000] * 3)
        assert abs(float(m.result()) - _sk(cls, y, s)) <= EXACT_TOL


@pytest.mark.parametrize("average", ["macro", "weighted", "micro", None])
def test_binned_multiclass_and_multilabel_close_to_sklearn(average):
    rng = np.random.default_rng(7)
    n, c = 2000, 4
    y = rng.integers(0, c, n)
    z = rng.normal(size=(n, c)).astype("float32")
    p = softmax(z.astype(np.float64), axis=1).astype("float32")
    onehot = label_binarize(y, classes=range(c))
    for cls in (em.AUROC, em.AveragePrecision):
        m = feed(cls("multiclass", num_classes=c, average=average), y, p, sizes=[1000] * 2)
        got = _value(m.result())
        got = list(got.values()) if average is None else got
        np.testing.assert_allclose(got, _sk(cls, onehot, p, average=average), atol=2e-3)
        ml = feed(
            cls("multilabel", num_classes=c, average=average, from_logits=True),
            onehot,
            z,
            sizes=[1000] * 2,
        )
        got = _value(ml.result())
        got = list(got.values()) if average is None else got
        np.testing.assert_allclose(got, _sk(cls, onehot, z, average=average), atol=2e-3)


@given(seed=st.integers(0, 2**31), n=st.sampled_from([1, 7, 32]))
@settings(deadline=None, max_examples=10)
def test_binned_state_is_partition_invariant_and_merges(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (n, 4))
    s = rng.random((n, 4)).astype("float32")

    def metric():
        return em.AveragePrecision("multilabel", num_classes=4)

    whole = feed(metric(), y, s)
    parts = feed(metric(), y, s, sizes=batch_sizes(rng, n))
    np.testing.assert_array_equal(summed_state(whole), summed_state(parts))
    # (a + b) + c == a + (b + c), and the empty metric is the identity.
    sizes = batch_sizes(rng, n)
    pieces = [metric() for _ in range(3)]
    for i, size in enumerate(sizes):
        start = sum(sizes[:i])
        pieces[min(i, 2)].update_state(y[start : start + size], s[start : start + size])
    pieces[1].merge_state(pieces[2])
    pieces[0].merge_state(pieces[1])
    pieces[0].merge_state(metric())
    np.testing.assert_array_equal(summed_state(pieces[0]), summed_state(whole))


def test_bins_are_monotone_over_the_whole_float32_axis():
    p = np.sort(
        np.concatenate(
            [
                [0.0, 1e-45, 1e-38, 0.25, 0.5, 0.75, 1.0],
                np.float32(0.5) + np.arange(-50, 50, dtype=np.float32) * np.float32(2**-25),
                np.random.default_rng(8).random(5000),
                10.0 ** -np.arange(1, 38, 0.5),
                1 - 10.0 ** -np.arange(1, 8, 0.25),
            ]
        ).astype("float32")
    )
    bins = np.asarray(
        ops.convert_to_numpy(
            ranking_graph.score_bins(ops.convert_to_tensor(p), logits=False, bins_per_octave=64)
        )
    )
    assert np.all(np.diff(bins) >= 0)
    assert bins.min() >= 0 and bins.max() < ranking_graph.bin_count(64)
    z = np.sort(
        np.concatenate([np.linspace(-100, 100, 2001), [-np.inf, np.inf, 0.0, 1e-9, -1e-9]]).astype(
            "float32"
        )
    )
    bins = np.asarray(
        ops.convert_to_numpy(
            ranking_graph.score_bins(ops.convert_to_tensor(z), logits=True, bins_per_octave=64)
        )
    )
    assert np.all(np.diff(bins) >= 0)
    assert bins.min() >= 0 and bins.max() < ranking_graph.bin_count(64)


# --- shared behaviour ----------------------------------------------------------------------------
@pytest.mark.parametrize("exact", [False, True])
def test_undefined_cases_in_the_metric(exact):
    kw = {"exact": True, "capacity": CAPACITY} if exact else {}
    s = np.linspace(0.1, 0.7, 7).astype("float32")
    auroc = feed(em.AUROC("binary", **kw), np.zeros(7), s)
    assert math.isnan(float(auroc.result()))
    ap = feed(em.AveragePrecision("binary", **kw), np.zeros(7), s)
    assert float(ap.result()) == 0.0
    assert float(feed(em.AveragePrecision("binary", **kw), np.ones(7), s).result()) == 1.0
    empty = em.AUROC("multiclass", num_classes=4, average=None, **kw)
    assert all(math.isnan(v) for v in _value(empty.result()).values())


@pytest.mark.parametrize("exact", [False, True])
def test_evaluate_arrays_is_exact_with_result_keys(exact):
    kw = {"exact": True, "capacity": CAPACITY} if exact else {}
    rng = np.random.default_rng(9)
    y = rng.integers(0, 4, 96)
    p = rng.dirichlet(np.ones(4), size=96).astype("float32")
    m = em.AUROC(
        "multiclass", num_classes=4, average=None, class_names=list("abcd"), name="roc", **kw
    )
    feed(m, y, p, sizes=[32] * 3)
    got = m.evaluate_arrays(y, p)
    assert list(got) == list(m.result()) == ["roc_a", "roc_b", "roc_c", "roc_d"]
    np.testing.assert_allclose(
        list(got.values()), skm.roc_auc_score(y, p, multi_class="ovr", average=None), atol=1e-12
    )
    ap = em.AveragePrecision("binary", **kw)
    yb, sb = rng.integers(0, 2, 50), rng.random(50)
    w = rng.random(50)
    value = ap.evaluate_arrays(yb, sb, sample_weight=w)
    assert isinstance(value, float)
    assert abs(value - skm.average_precision_score(yb, sb, sample_weight=w)) <= 1e-12
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*from_logits=True"):
        ap.evaluate_arrays(yb, sb + 1.0)
    with pytest.warns(em.UndefinedMetricWarning):
        assert math.isnan(em.AUROC("binary").evaluate_arrays(np.ones(5), sb[:5]))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"task": "binary"},
        {
            "task": "multiclass",
            "num_classes": 4,
            "average": None,
            "class_names": list("wxyz"),
            "from_logits": True,
        },
        {
            "task": "multilabel",
            "num_classes": 3,
            "average": "micro",
            "exact": True,
            "capacity": 64,
            "ignore_index": -1,
        },
        {"task": "binary", "bins_per_octave": 16, "name": "auc_16"},
    ],
)
@pytest.mark.parametrize("cls", [em.AUROC, em.AveragePrecision])
def test_config_round_trip(cls, kwargs):
    m = cls(**kwargs)
    config = m.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(m))
    assert type(restored) is cls and restored.get_config() == config
    assert keras.saving.get_registered_name(cls) == f"epochmetrics>{cls.__name__}"
    assert m._direction == "up"


def test_distributed_exact_mode_is_refused(monkeypatch):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        class _Strategy:
            num_replicas_in_sync = 2

        monkeypatch.setattr(tf.distribute, "has_strategy", lambda: True)
        monkeypatch.setattr(tf.distribute, "get_strategy", lambda: _Strategy())
    elif backend == "jax":

        class _Mesh:
            devices = np.zeros((2,))

        class _Distribution:
            device_mesh = _Mesh()

        monkeypatch.setattr(keras.distribution, "distribution", lambda: _Distribution())
    else:
        pytest.skip("no data-parallel distribution API in Keras' torch backend")
    with pytest.raises(ValueError, match="cannot be combined across the 2 replicas"):
        em.AUROC("binary", exact=True, capacity=10)
    em.AUROC("binary")  # binned mode is a sum and distributes


BAD_ARGS = [
    ({"exact": True}, r"AUROC\(exact=True\) needs `capacity`.*Received: capacity=None"),
    ({"exact": True, "capacity": 0}, "integer from 1 to 2\\*\\*31 - 2. Received: capacity=0"),
    ({"exact": True, "capacity": 2.5}, "Received: capacity=2.5"),
    ({"capacity": 100}, "pass exact=True with it"),
    ({"exact": "yes"}, "`exact` must be True or False"),
    ({"bins_per_octave": 48}, "power of two from 1 to 1024. Received: bins_per_octave=48"),
    ({"bins_per_octave": 2048}, "Received: bins_per_octave=2048"),
    ({"average": "samples"}, r"`average` must be one of .* Received: average='samples'"),
    ({"task": "ordinal"}, "`task` must be one of"),
    ({"task": "multiclass"}, "requires `num_classes`"),
    ({"task": "multiclass", "num_classes": 3, "class_names": ["a"]}, "one name per class"),
]


@pytest.mark.parametrize("kwargs, message", BAD_ARGS)
def test_constructor_errors(kwargs, message):
    kwargs = {"task": "binary", **kwargs}
    with pytest.raises(ValueError, match=message):
        em.AUROC(kwargs.pop("task"), **kwargs)


BAD_UPDATES = [
    (
        "binary",
        {},
        [0, 1],
        [[0.1, 0.9], [0.2, 0.8]],
        r"task='binary' expects y_true and y_pred of shape \(batch,\)",
    ),
    (
        "multiclass",
        {"num_classes": 3},
        [0, 1],
        [0, 2],
        r"\(batch, num_classes=3\) float scores \(ranking needs scores",
    ),
    (
        "multilabel",
        {"num_classes": 3},
        [[0, 1]],
        [[0.1, 0.2]],
        r"y_true and y_pred of shape \(batch, num_classes=3\)",
    ),
    (
        "binary",
        {},
        [0, 2],
        [0.1, 0.2],
        r"y_true values to be 0 or 1.*Received 1 invalid value\(s\): 2",
    ),
    ("binary", {}, [0, 1], [0.1, 1.5], r"probabilities in \[0, 1\].*1.5.*from_logits=True"),
    ("binary", {"from_logits": True}, [0, 1], [0.1, float("nan")], r"logits \(not NaN\)"),
    (
        "multiclass",
        {"num_classes": 2},
        [0, 1],
        [[0.5, 0.5], [float("nan"), 0.2]],
        "1 row\\(s\\) with invalid values",
    ),
    (
        "multiclass",
        {"num_classes": 2},
        [0, 5],
        [[0.5, 0.5], [0.8, 0.2]],
        r"integers in \[0, num_classes=2\)",
    ),
    ("binary", {}, [0, 1], [0.1, 0.2, 0.3], "same batch size"),
]


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("task, kwargs, y, s, message", BAD_UPDATES)
def test_update_errors(task, kwargs, y, s, message, exact):
    extra = {"exact": True, "capacity": CAPACITY} if exact else {}
    m = em.AveragePrecision(task, **kwargs, **extra)
    with pytest.raises(ValueError, match=message):
        m.update_state(np.asarray(y), np.asarray(s, dtype="float32"))
