"""Operating-point metrics and `AUROC(max_fpr=)` against scikit-learn's curves.

Exact mode equals the optimum over `roc_curve`/`precision_recall_curve` points on the
concatenated data (value and threshold, 1e-12); binned mode is within the bound it states
(binned <= exact <= binned + error_bound()), and its threshold really achieves its value.
Streams with random batch partitions and weights, on every backend, eagerly and in `fit`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import oracles
import pytest
from helpers import OPERATING_POINTS, assert_close, batch_sizes, feed, sk
from sklearn import metrics as skm

import epochmetrics as em

C = 3
CONSTRAINT = {"recall": 0.8, "precision": 0.75, "specificity": 0.7, "sensitivity": 0.85}
ARG = {
    "PrecisionAtRecall": "recall",
    "RecallAtPrecision": "precision",
    "SensitivityAtSpecificity": "specificity",
    "SpecificityAtSensitivity": "sensitivity",
}
KIND = {
    "PrecisionAtRecall": "precision_at_recall",
    "RecallAtPrecision": "recall_at_precision",
    "SensitivityAtSpecificity": "sensitivity_at_specificity",
    "SpecificityAtSensitivity": "specificity_at_sensitivity",
}


def _data(task: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 2.0, n).astype(np.float32).astype(np.float64)  # exact mode keeps float32
    if task == "binary":
        y = rng.integers(0, 2, n)
        p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    elif task == "multilabel":
        y = rng.integers(0, 2, (n, C))
        p = np.clip(0.3 * y + 0.7 * rng.random((n, C)), 0, 1)
    else:
        y = rng.integers(0, C, n)
        z = rng.random((n, C)) + 0.7 * np.eye(C)[y]
        p = z / z.sum(1, keepdims=True)
    return y, np.round(p, 3).astype(np.float32), w  # rounding: tied scores


def _columns(task: str, y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's one-vs-rest columns: (n, K) 0/1 and scores."""
    if task == "binary":
        return y[:, None], p[:, None]
    if task == "multiclass":
        return np.eye(C)[y], p
    return y, p


def _expected(name: str, task: str, y: Any, p: Any, w: Any, average: Any) -> dict[str, float]:
    stem, c = KIND[name], CONSTRAINT[ARG[name]]
    yy, pp = _columns(task, y, p)
    avg = None if task == "binary" else average
    values, thresholds, value = oracles.operating_points(KIND[name], yy, pp, w, c, avg)
    if task == "binary" or average == "micro":
        return {stem: value, f"{stem}_threshold": float(thresholds[0])}
    out = {} if average is None else {stem: value}
    if average is None:
        out.update({f"{stem}_{k}": float(v) for k, v in enumerate(values)})
    out.update({f"{stem}_threshold_{k}": float(t) for k, t in enumerate(thresholds)})
    return out


def _make(cls: str, task: str, **kwargs: Any) -> Any:
    if task != "binary":
        kwargs["num_classes"] = C
    return getattr(em, cls)(task, **{ARG[cls]: CONSTRAINT[ARG[cls]]}, **kwargs)


CASES = [
    ("binary", "macro"),
    ("multiclass", "macro"),
    ("multiclass", None),
    ("multiclass", "micro"),
    ("multilabel", "weighted"),
]


@pytest.mark.parametrize("name", OPERATING_POINTS)
@pytest.mark.parametrize(("task", "average"), CASES)
def test_exact_mode_equals_the_curves(name: str, task: str, average: Any) -> None:
    y, p, w = _data(task, 240, seed=len(name) + len(task))
    sizes = batch_sizes(np.random.default_rng(1), len(y))
    metric = feed(_make(name, task, average=average, exact=True, capacity=400), y, p, w, sizes)
    expected = _expected(name, task, y, p, w, average)
    assert_close(metric.result(), expected, atol=1e-12)
    assert_close(metric.evaluate_arrays(y, p, w), expected, atol=1e-12)


@pytest.mark.parametrize("name", OPERATING_POINTS)
@pytest.mark.parametrize(("task", "average"), [("binary", "macro"), ("multiclass", None)])
def test_binned_mode_is_within_its_bound_at_a_real_threshold(
    name: str, task: str, average: Any
) -> None:
    y, p, w = _data(task, 300, seed=3)
    p = np.asarray(np.random.default_rng(4).random(p.shape), np.float32)  # continuous scores
    if task == "multiclass":
        p = (p / p.sum(1, keepdims=True)).astype(np.float32)
    metric = feed(_make(name, task, average=average), y, p, w, [100, 100, 100])
    got = {k: float(np.asarray(v)) for k, v in metric.result().items()}
    exact = _expected(name, task, y, p, w, average)
    bound = metric.error_bound()
    stem = KIND[name]
    yy, pp = _columns(task, y, p)
    for k in range(yy.shape[1]):
        key = stem if task == "binary" else f"{stem}_{k}"
        threshold = got[f"{stem}_threshold" if task == "binary" else f"{stem}_threshold_{k}"]
        b = bound if task == "binary" else bound[key]
        assert got[key] - 1e-12 <= exact[key] <= got[key] + b + 1e-12, key
        # The value is achieved at the reported threshold: recompute it from the data
        # (positive when score > threshold, in float32 as the scores).
        predicted = pp[:, k] > np.float32(threshold)
        positive = yy[:, k] == 1
        tp, fp = w[predicted & positive].sum(), w[predicted & ~positive].sum()
        rates = {
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / w[positive].sum(),
            "specificity": 1 - fp / w[~positive].sum(),
        }
        rates["sensitivity"] = rates["recall"]
        value_rate = {
            "PrecisionAtRecall": "precision",
            "RecallAtPrecision": "recall",
            "SensitivityAtSpecificity": "sensitivity",
            "SpecificityAtSensitivity": "specificity",
        }[name]
        assert_close(rates[value_rate], got[key], atol=1e-9, what=key)
        assert rates[ARG[name]] >= CONSTRAINT[ARG[name]] - 1e-12, key


def test_unreachable_and_undefined_operating_points() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.9, 0.8, 0.2, 0.1], np.float32)  # inverted: precision never reaches 0.9
    metric = feed(em.RecallAtPrecision("binary", precision=0.9), y, p)
    assert_close(
        metric.result(), {"recall_at_precision": 0.0, "recall_at_precision_threshold": np.inf}
    )
    no_positives = em.SensitivityAtSpecificity("multiclass", num_classes=3, specificity=0.5)
    no_positives.update_state(np.array([0, 1, 0]), np.full((3, 3), 1 / 3, np.float32))
    result = {k: float(np.asarray(v)) for k, v in no_positives.result().items()}
    assert np.isnan(result["sensitivity_at_specificity_threshold_2"])
    assert np.isnan(result["sensitivity_at_specificity"])  # macro carries the NaN class


def test_operating_points_in_a_compiled_fit() -> None:
    """Binned and exact, in the compiled train step; the epoch's logs against the curves."""
    y, p, w = _data("multiclass", 256, seed=5)
    model = keras.Sequential(
        [keras.Input((C,)), keras.layers.Dense(C, use_bias=False, kernel_initializer="identity")]
    )
    metrics = [
        _make("PrecisionAtRecall", "multiclass", average="micro", exact=True, capacity=256),
        _make("SpecificityAtSensitivity", "multiclass", exact=True, capacity=256),
        _make("RecallAtPrecision", "multiclass", average=None, name="rap_binned"),
        em.AUROC("multiclass", num_classes=C, max_fpr=0.25, exact=True, capacity=256),
    ]
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=lambda y_true, y_pred: keras.ops.sum(y_pred, axis=-1) * 0.0,
        weighted_metrics=metrics,
    )
    history = model.fit(p, y, sample_weight=w, batch_size=48, epochs=1, verbose=0, shuffle=False)
    logs = {k: v[-1] for k, v in history.history.items()}
    for name, average in (("PrecisionAtRecall", "micro"), ("SpecificityAtSensitivity", "macro")):
        expected = _expected(name, "multiclass", y, p, w, average)
        assert_close({k: logs[k] for k in expected}, expected, atol=1e-9, what=name)
    binned = _expected("RecallAtPrecision", "multiclass", y, p, w, None)
    bound = metrics[2].error_bound()
    for k in range(C):
        value = logs[f"rap_binned_{k}"]
        assert (
            value - 1e-9 <= binned[f"recall_at_precision_{k}"] <= value + bound[f"rap_binned_{k}"]
        )
    partial = [
        sk(skm.roc_auc_score, y == k, p[:, k], sample_weight=w, max_fpr=0.25) for k in range(C)
    ]
    assert_close(logs["auroc"], np.mean(partial), atol=1e-9)


# --- AUROC(max_fpr) --------------------------------------------------------------------------
@pytest.mark.parametrize("max_fpr", [0.1, 0.5, 1.0])
def test_partial_auc_matches_sklearn(max_fpr: float) -> None:
    y, p, w = _data("binary", 300, seed=6)
    sizes = batch_sizes(np.random.default_rng(2), len(y))
    expected = skm.roc_auc_score(y, p, sample_weight=w, max_fpr=max_fpr)
    exact = feed(em.AUROC("binary", max_fpr=max_fpr, exact=True, capacity=300), y, p, w, sizes)
    assert_close(exact.result(), expected, atol=1e-12)
    assert_close(exact.evaluate_arrays(y, p, w), expected, atol=1e-12)
    binned = feed(em.AUROC("binary", max_fpr=max_fpr), y, p, w, sizes)
    assert abs(float(np.asarray(binned.result())) - expected) <= binned.error_bound() + 1e-12
    per_class = feed(
        em.AUROC(
            "multilabel", num_classes=C, max_fpr=max_fpr, average=None, exact=True, capacity=300
        ),
        *_data("multilabel", 300, seed=7),
        sizes,
    )
    ym, pm, wm = _data("multilabel", 300, seed=7)
    expected_classes = {
        f"auroc_{k}": skm.roc_auc_score(ym[:, k], pm[:, k], sample_weight=wm, max_fpr=max_fpr)
        for k in range(C)
    }
    assert_close(per_class.result(), expected_classes, atol=1e-12)


@pytest.mark.parametrize("exact", [True, False])
def test_the_logged_threshold_is_the_one_threshold_and_keras_use(exact: bool) -> None:
    """One convention everywhere: "positive when score > t". `em.Recall(threshold=t)`,
    `em.Precision(threshold=t)` and Keras' `Recall(thresholds=t)` with the t that
    PrecisionAtRecall(0.9) logs give the recall it promised and the precision it reports; the
    threshold also works as "score >= t" (no score lies between it and the cut)."""
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random(400), 0, 1), 3).astype(np.float32)
    kwargs = {"exact": True, "capacity": 400} if exact else {}
    op = feed(em.PrecisionAtRecall("binary", recall=0.9, **kwargs), y, p, sizes=[150, 250])
    result = {k: float(np.asarray(v)) for k, v in op.result().items()}
    t = result["precision_at_recall_threshold"]
    recall = float(feed(em.Recall("binary", threshold=t), y, p).result())
    precision = float(feed(em.Precision("binary", threshold=t), y, p).result())
    assert recall >= 0.9
    assert precision == pytest.approx(result["precision_at_recall"], abs=1e-12)
    assert recall == pytest.approx(skm.recall_score(y, p > t), abs=1e-12)
    assert recall == pytest.approx(skm.recall_score(y, p >= t), abs=1e-12)
    keras_recall = keras.metrics.Recall(thresholds=t)
    keras_recall.update_state(y, p)
    assert float(keras_recall.result()) == pytest.approx(recall, abs=1e-6)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_an_exact_metric_without_samples_is_nan(average: str) -> None:
    metric = _make("PrecisionAtRecall", "multiclass", average=average, exact=True, capacity=8)
    result = metric.result()
    assert all(np.isnan(float(np.asarray(v))) for v in result.values())
