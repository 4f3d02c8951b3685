"""float16 and bfloat16 predictions on the host paths, and in `fit` under mixed precision.

The reference is always the same values in float64: float16 and bfloat16 values are exact in
float32 and float64, so every result must be identical, ties included.
"""

from __future__ import annotations

import warnings

import keras
import ml_dtypes
import numpy as np
import pytest
from helpers import make_metric, metric_cases
from sklearn import metrics as skm

import epochmetrics as em
from epochmetrics.callbacks._data import BatchSource, to_numpy
from epochmetrics.functional import ranking as R

LOW = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
C = 3


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _problem(task, n=200, seed=0):
    """Labels and scores; rounding to 8 mantissa bits (bfloat16) makes many ties."""
    rng = np.random.default_rng(seed)
    if task == "binary":
        return rng.integers(0, 2, n), rng.random(n)
    if task == "multiclass":
        return rng.integers(0, C, n), rng.dirichlet(np.ones(C), n)
    return rng.integers(0, 2, (n, C)), rng.random((n, C))


def _kwargs(task):
    return {"task": task} if task == "binary" else {"task": task, "num_classes": C}


def _assert_same(a, b):
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
        return
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


FUNCTIONS = [R.roc_auc, R.average_precision, R.roc_curve, R.precision_recall_curve]


@pytest.mark.parametrize("dtype", sorted(LOW))
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_ranking_functions_accept_low_precision_numpy(fn, task, dtype):
    y, p = _problem(task)
    low = p.astype(LOW[dtype])
    exact = low.astype(np.float64)
    assert len(np.unique(exact)) < exact.size  # ties: the case where precision matters
    w = np.random.default_rng(1).random(len(y))
    for weights in (None, w, w.astype(LOW[dtype])):
        ref_w = None if weights is None else np.asarray(weights, dtype=np.float64)
        _assert_same(
            _quiet(fn, y, low, sample_weight=weights, **_kwargs(task)),
            _quiet(fn, y, exact, sample_weight=ref_w, **_kwargs(task)),
        )


@pytest.mark.parametrize("dtype", sorted(LOW))
def test_ranking_functions_match_scikit_learn_on_bfloat16_values(dtype):
    y, p = _problem("multilabel")
    low = p.astype(LOW[dtype])
    exact = low.astype(np.float64)
    for average in ("macro", "micro", "weighted"):
        ours = R.roc_auc(y, low, task="multilabel", num_classes=C, average=average)
        assert ours == pytest.approx(skm.roc_auc_score(y, exact, average=average), abs=1e-12)
        ours = R.average_precision(y, low, task="multilabel", num_classes=C, average=average)
        expected = skm.average_precision_score(y, exact, average=average)
        assert ours == pytest.approx(expected, abs=1e-12)


def _tensor(framework, array, dtype):
    if framework == "keras":
        return keras.ops.cast(keras.ops.convert_to_tensor(array, dtype="float32"), dtype)
    if framework == "torch":
        torch = pytest.importorskip("torch")
        return torch.tensor(array, dtype=getattr(torch, dtype))
    if framework == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        return tf.cast(tf.constant(array, dtype=tf.float32), dtype)
    jnp = pytest.importorskip("jax.numpy")
    return jnp.asarray(array, dtype=dtype)


@pytest.mark.parametrize("dtype", sorted(LOW))
@pytest.mark.parametrize("framework", ["keras", "torch", "tensorflow", "jax"])
def test_ranking_functions_accept_low_precision_tensors(framework, dtype):
    """Tensors of the active backend and of every installed framework, whatever the backend."""
    y, p = _problem("multiclass")
    exact = p.astype(LOW[dtype]).astype(np.float64)
    scores = _tensor(framework, p, dtype)
    labels = _tensor(framework, y, dtype)  # labels in a float dtype are accepted too
    for fn in FUNCTIONS:
        _assert_same(
            _quiet(fn, labels, scores, task="multiclass", num_classes=C),
            _quiet(fn, y, exact, task="multiclass", num_classes=C),
        )


@pytest.mark.parametrize("dtype", sorted(LOW))
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("cls", [em.AUROC, em.AveragePrecision], ids=lambda c: c.__name__)
def test_evaluate_arrays_accepts_low_precision(cls, task, dtype):
    y, p = _problem(task)
    low = p.astype(LOW[dtype])
    for average in ("macro", None):
        metric = cls(average=average, **_kwargs(task))
        ours = _quiet(metric.evaluate_arrays, y, low)
        ref = _quiet(metric.evaluate_arrays, y, low.astype(np.float64))
        assert ours == ref
        tensor = _quiet(metric.evaluate_arrays, y, _tensor("keras", p, dtype))
        assert tensor == ref


@pytest.mark.parametrize(("name", "task"), metric_cases())
def test_update_state_takes_bfloat16_numpy_for_every_metric(name, task):
    """What `model.predict` returns under a mixed_bfloat16 policy: NumPy arrays of ml_dtypes'
    bfloat16 (scores, and weights), the same result as their float32 values, every backend."""
    y, p = _problem(task, n=40)
    if task == "multiclass":
        p = p / p.sum(1, keepdims=True)
    low = p.astype(ml_dtypes.bfloat16)
    w = np.random.default_rng(2).random(len(y)).astype(ml_dtypes.bfloat16)
    extra = [{}, {"exact": True, "capacity": 64}] if name in ("AUROC", "AveragePrecision") else [{}]
    for kwargs in extra:
        ours, ref = (make_metric(name, task, C, **kwargs) for _ in range(2))
        _quiet(ours.update_state, y, low, w)
        _quiet(ref.update_state, y, low.astype(np.float32), w.astype(np.float32))
        _assert_same(*(keras.tree.flatten(_quiet(m.result)) for m in (ours, ref)))


def test_evaluate_arrays_range_check_sees_bfloat16_values():
    # bfloat16 is not a NumPy float kind: the probability check must still run.
    scores = np.array([0.2, 1.5, 0.7], dtype=ml_dtypes.bfloat16)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*1\.5"):
        em.AUROC("binary").evaluate_arrays(np.array([0, 1, 1]), scores)


@pytest.mark.parametrize("dtype", sorted(LOW))
def test_to_numpy_widens_low_precision_floats_exactly(dtype):
    values = np.array([0.1, 0.5, 1 / 3, 1e-3], dtype=LOW[dtype])
    for value in (values, _tensor("keras", values.astype(np.float32), dtype)):
        out = to_numpy(value)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, values.astype(np.float32))
    kept = to_numpy(values, widen_floats=False)
    assert kept.dtype == values.dtype
    assert to_numpy(np.arange(3, dtype=np.int8)).dtype == np.int8  # integers untouched
    assert to_numpy(np.array([1, 2], dtype=ml_dtypes.int4)).dtype == np.int32


def test_batches_widen_targets_and_weights_but_keep_inputs():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[0.5, 0.25]], dtype=torch.bfloat16)
    y = torch.tensor([1.0], dtype=torch.float16)
    sw = torch.tensor([2.0], dtype=torch.bfloat16)
    (bx, by, bsw) = next(BatchSource([(x, y, sw)]).batches())
    assert bx.dtype == np.dtype(ml_dtypes.bfloat16)  # the model gets its input as given
    np.testing.assert_array_equal(bx.astype(np.float32), [[0.5, 0.25]])
    assert by.dtype == np.float32 and bsw.dtype == np.float32
    assert float(by[0]) == 1.0 and float(bsw[0]) == 2.0


# --- in fit, under a mixed-precision policy ---------------------------------------------------
@pytest.fixture(params=["mixed_bfloat16", "mixed_float16"])
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_epoch_evaluator_in_fit_under_mixed_precision(policy):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = np.digitize(x[:, 0] + 0.5 * rng.normal(size=96), [-0.5, 0.5]).astype("int32")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(inputs))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ev = em.EpochEvaluator(
        (x, y),
        [
            em.AUROC("multiclass", num_classes=C),
            em.AveragePrecision("multiclass", num_classes=C),
            em.F1Score("multiclass", num_classes=C, average=None),
        ],
        batch_size=32,
    )
    history = _quiet(model.fit, x, y, epochs=2, batch_size=32, verbose=0, callbacks=[ev])
    assert ev.history["epochs"] == [0, 1]
    # The last evaluation, against scikit-learn on the same low-precision predictions.
    pred = np.concatenate([model.predict_on_batch(x[i : i + 32]) for i in range(0, 96, 32)])
    assert pred.dtype.itemsize == 2  # the policy is in force
    p = pred.astype(np.float64)
    onehot = np.eye(C)[y]
    assert onehot.sum(0).min() > 0
    expected = {
        "val_auroc": skm.roc_auc_score(onehot, p, average="macro"),
        "val_average_precision": skm.average_precision_score(onehot, p, average="macro"),
    }
    f1 = _quiet(skm.f1_score, y, p.argmax(1), average=None, labels=range(C), zero_division=0)
    expected.update({f"val_f1_{k}": f1[k] for k in range(C)})
    for key, value in expected.items():
        assert history.history[key][-1] == pytest.approx(value, abs=1e-9), key
        assert ev.history["scalars"][key][-1] == history.history[key][-1]


def test_compiled_metrics_under_mixed_precision_match_float32(policy):
    """Compiled metrics (not the host path) read low-precision y_pred exactly.

    An identity model makes the step's predictions exactly the inputs, rounded to the
    policy's dtype, so the compiled values must equal the float32 ones on the rounded inputs.
    """
    rng = np.random.default_rng(0)
    low = ml_dtypes.bfloat16 if policy == "mixed_bfloat16" else np.float16
    y = rng.integers(0, C, 128)
    x = rng.dirichlet(np.ones(C), 128).astype(low).astype("float32")
    inputs = keras.Input((C,))
    model = keras.Model(inputs, keras.layers.Activation("linear")(inputs))
    # The report logs `mcc` too: it gets its own name so the keys do not collide.
    names = ["F1Score", "MatthewsCorrCoef", "AUROC", "AveragePrecision", "ClassificationReport"]
    metrics = [
        getattr(em, n)(
            "multiclass", num_classes=C, **({"name": "report"} if n == names[-1] else {})
        )
        for n in names
    ]
    model.compile(loss="sparse_categorical_crossentropy", metrics=metrics)
    logs = _quiet(model.evaluate, x, y, batch_size=32, return_dict=True, verbose=0)
    for name, metric in zip(names, metrics, strict=True):
        ref = getattr(em, name).from_config(metric.get_config())
        _quiet(ref.update_state, y, x)
        result = ref.result()
        result = result if isinstance(result, dict) else {metric.name: result}
        for key, value in result.items():
            expected = float(keras.ops.convert_to_numpy(value))
            assert logs[key] == pytest.approx(expected, abs=0, nan_ok=True), key
