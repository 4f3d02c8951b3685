"""AUROC and AveragePrecision inside compiled `fit` / `evaluate`, and saved with the model."""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest
from scipy.special import softmax
from sklearn import metrics as skm

import epochmetrics as em

N = 192  # samples per split; batches of 32 (and 24 for evaluate: a different partition)
TOL = 1e-6


def _data(seed, targets):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2 * N, 6)).astype("float32")
    return x[:N], targets(x[:N], rng), x[N:], targets(x[N:], rng)


def _binary_targets(x, rng):
    return (x[:, 0] + x[:, 1] + rng.normal(size=len(x)) > 0).astype("float32")


def _model(outputs, activation):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(outputs, activation=activation),
        ]
    )


def _eager(metric, y, p):
    metric.update_state(y, p)
    result = metric.result()
    return {k: float(v) for k, v in result.items()} if isinstance(result, dict) else float(result)


@pytest.fixture(scope="module")
def binary_run():
    x, y, xv, yv = _data(0, _binary_targets)
    model = _model(1, "sigmoid")
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="binary_crossentropy",
        metrics=[
            em.AUROC("binary"),
            em.AveragePrecision("binary"),
            em.AUROC("binary", exact=True, capacity=N, name="auroc_exact"),
            em.AveragePrecision("binary", exact=True, capacity=N, name="ap_exact"),
        ],
    )
    history = model.fit(x, y, validation_data=(xv, yv), batch_size=32, epochs=3, verbose=0)
    return model, history.history, xv, yv


def test_fit_history_equals_the_metric_on_the_same_predictions(binary_run):
    model, history, xv, yv = binary_run
    assert {"auroc", "average_precision", "auroc_exact", "ap_exact"} <= set(history)
    p = model.predict(xv, batch_size=32, verbose=0).reshape(-1)
    # The last validation pass ran with the final weights.
    assert abs(history["val_auroc_exact"][-1] - skm.roc_auc_score(yv, p)) <= TOL
    assert abs(history["val_ap_exact"][-1] - skm.average_precision_score(yv, p)) <= TOL
    assert abs(history["val_auroc"][-1] - _eager(em.AUROC("binary"), yv, p)) <= TOL
    assert (
        abs(history["val_average_precision"][-1] - _eager(em.AveragePrecision("binary"), yv, p))
        <= TOL
    )
    assert abs(history["val_auroc"][-1] - skm.roc_auc_score(yv, p)) <= 1e-3
    for values in history.values():
        assert all(math.isfinite(v) for v in values)


def test_evaluate_with_another_partition(binary_run):
    model, _, xv, yv = binary_run
    p = model.predict(xv, batch_size=24, verbose=0).reshape(-1)
    res = model.evaluate(xv, yv, batch_size=24, verbose=0, return_dict=True)
    assert abs(res["auroc_exact"] - skm.roc_auc_score(yv, p)) <= TOL
    assert abs(res["ap_exact"] - skm.average_precision_score(yv, p)) <= TOL
    assert abs(res["auroc"] - _eager(em.AUROC("binary"), yv, p)) <= TOL


def test_saved_model_reloads_without_custom_objects(binary_run, tmp_path):
    model, _, xv, yv = binary_run
    path = tmp_path / "ranking.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    before = model.evaluate(xv, yv, batch_size=32, verbose=0, return_dict=True)
    after = loaded.evaluate(xv, yv, batch_size=32, verbose=0, return_dict=True)
    for key in ("auroc", "average_precision", "auroc_exact", "ap_exact"):
        assert abs(before[key] - after[key]) <= TOL


def test_multiclass_per_class_keys_and_exact_values():
    x, _, xv, _ = _data(1, _binary_targets)
    y, yv = np.argmax(x[:, :3], axis=1), np.argmax(xv[:, :3] + 0.5 * xv[:, 3:], axis=1)
    model = _model(3, None)
    names = ["cat", "dog", "owl"]
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            em.AUROC(
                "multiclass", num_classes=3, from_logits=True, average=None, class_names=names
            ),
            em.AveragePrecision(
                "multiclass", num_classes=3, from_logits=True, exact=True, capacity=N, name="map"
            ),
        ],
    )
    history = model.fit(x, y, validation_data=(xv, yv), batch_size=32, epochs=2, verbose=0).history
    assert {f"val_auroc_{n}" for n in names} <= set(history)
    p = softmax(model.predict(xv, batch_size=32, verbose=0).astype(np.float64), axis=1)
    onehot = np.eye(3)[yv]
    assert abs(history["val_map"][-1] - skm.average_precision_score(onehot, p)) <= TOL
    per_class = skm.roc_auc_score(onehot, p, average=None)
    for name, value in zip(names, per_class, strict=True):
        assert abs(history[f"val_auroc_{name}"][-1] - value) <= 1e-3


def test_multilabel_map_in_evaluate():
    x, _, _, _ = _data(2, _binary_targets)
    y = (x[:, :3] + 0.3 * x[:, 3:] > 0.2).astype("float32")
    model = _model(3, "sigmoid")
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=[
            em.AveragePrecision("multilabel", num_classes=3, name="map"),
            em.AveragePrecision(
                "multilabel", num_classes=3, exact=True, capacity=N, name="map_exact"
            ),
        ],
    )
    res = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    p = model.predict(x, batch_size=32, verbose=0)
    expected = skm.average_precision_score(y, p)
    assert abs(res["map_exact"] - expected) <= TOL
    assert abs(res["map"] - _eager(em.AveragePrecision("multilabel", num_classes=3), y, p)) <= TOL


def test_overflow_and_invalid_labels_give_nan_inside_compiled_steps():
    x, y, _, _ = _data(3, _binary_targets)
    model = _model(1, "sigmoid")
    model.compile(
        optimizer="adam",
        loss="mse",  # accepts the invalid label below
        metrics=[em.AUROC("binary", exact=True, capacity=64), em.AveragePrecision("binary")],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    assert math.isnan(res["auroc"])  # 192 samples, capacity 64
    assert not math.isnan(res["average_precision"])
    overflow = [str(w.message) for w in caught if "capacity=64" in str(w.message)]
    assert overflow and ">= 192" in overflow[-1], overflow
    bad = y.copy()
    bad[5] = 2.0  # not a binary label
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # Steps do not read values on the host (compiled, or torch's eager steps without a sync):
        # the invalid count makes the epoch's result NaN.
        res = model.evaluate(x, bad, batch_size=32, verbose=0, return_dict=True)
    assert math.isnan(res["average_precision"])
