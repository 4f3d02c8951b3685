"""FBetaAtBestThreshold: the best F-beta over every threshold and the threshold achieving it,
against scikit-learn's precision_recall_curve; binned within its bound; in compiled fit."""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
import pytest
from helpers import batch_sizes, feed, sk
from sklearn.metrics import fbeta_score, precision_recall_curve

import epochmetrics as em
from epochmetrics.functional.best_threshold import fbeta_at_best_threshold

C = 4


def _oracle_binary(t: np.ndarray, s: np.ndarray, w: Any, beta: float) -> tuple[float, float]:
    """Max F-beta over scikit-learn's precision-recall points, ties to the highest threshold."""
    if not np.any(t * (1.0 if w is None else w) > 0):
        return np.nan, np.nan
    precision, recall, thresholds = sk(precision_recall_curve, t, s, sample_weight=w)
    p, r = precision[:-1], recall[:-1]  # the last point is "predict nothing" (no threshold)
    b2 = beta * beta
    with np.errstate(all="ignore"):
        f = np.where(b2 * p + r > 0, (1 + b2) * p * r / (b2 * p + r), 0.0)
    best = f.max()
    return float(best), float(thresholds[f == best].max())


def _columns(task: str, y: np.ndarray, s: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    if task == "binary":
        return [(y, s)]
    if task == "multiclass":
        return [((y == k).astype(int), s[:, k]) for k in range(C)]
    return [(y[:, k], s[:, k]) for k in range(C)]


def _data(task: str, n: int, rng: Any, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    if task == "binary":
        y, s = rng.integers(0, 2, n), rng.random(n)
    elif task == "multiclass":
        y, s = rng.integers(0, C, n), rng.dirichlet(np.ones(C), n)
    else:
        y, s = rng.integers(0, 2, (n, C)), rng.random((n, C))
    s = np.round(s, 1) if ties else s
    return y, s.astype("float32")


def _expected(task: str, y: Any, s: Any, w: Any, beta: float, average: Any) -> dict[str, Any]:
    cols = _columns(task, y, s)
    if task != "binary" and average == "micro":
        cols = [(np.concatenate([c[0] for c in cols]), np.concatenate([c[1] for c in cols]))]
        w = None if w is None else np.tile(w, C)
    per = [_oracle_binary(t, c, w, beta) for t, c in cols]
    values = np.array([v for v, _ in per])
    thresholds = np.array([t for _, t in per])
    if len(per) == 1:
        return {"value": values[0], "thresholds": thresholds}
    if average is None:
        return {"values": values, "thresholds": thresholds}
    support = np.array([np.sum(t * (1.0 if w is None else w)) for t, _ in cols])
    value = np.mean(values) if average == "macro" else np.sum(values * support) / support.sum()
    return {"value": value, "thresholds": thresholds}


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_exact_equals_the_best_precision_recall_curve_point(task: str, ties: bool) -> None:
    rng = np.random.default_rng(0 if ties else 1)
    n = 150
    y, s = _data(task, n, rng, ties)
    averages = [None] if task == "binary" else ["macro", "weighted", "micro", None]
    for beta in (0.5, 1.0, 2.0):
        for average in averages:
            for w in (None, rng.random(n) * 2):
                kwargs: dict[str, Any] = {} if task == "binary" else {"num_classes": C}
                if task != "binary":
                    kwargs["average"] = average
                expected = _expected(task, y, s, w, beta, average)
                thresholds = expected["thresholds"]
                values = np.ravel(expected.get("values", expected.get("value")))
                point = fbeta_at_best_threshold(y, s, beta=beta, task=task, sample_weight=w,
                                                **kwargs)  # fmt: skip
                np.testing.assert_allclose(point.value, values.reshape(np.shape(point.value)),
                                           rtol=0, atol=1e-12)  # fmt: skip
                np.testing.assert_array_equal(np.ravel(point.threshold), thresholds)
                metric = em.FBetaAtBestThreshold(task, beta=beta, **kwargs)
                arrays = np.array(list(metric.evaluate_arrays(y, s, sample_weight=w).values()))
                np.testing.assert_allclose(arrays, np.r_[values, thresholds], rtol=0, atol=1e-12)
                if beta != 2.0 or average != averages[-1]:
                    continue
                # The exact buffer, fed in random batches (weights stored as float32).
                m = em.FBetaAtBestThreshold(task, beta=beta, exact=True, capacity=n, **kwargs)
                feed(m, y, s, w, batch_sizes(rng, n, (1, 7, 32, 150)))
                got = np.array([float(v) for v in m.result().values()])
                atol = 1e-12 if w is None else 1e-6
                np.testing.assert_allclose(got, np.r_[values, thresholds], rtol=0, atol=atol)


def _achieved(t: np.ndarray, s: np.ndarray, w: Any, beta: float, threshold: float) -> float:
    """F-beta of "positive when score >= threshold" on the data: scikit-learn's fbeta_score."""
    return float(sk(fbeta_score, t, (s >= threshold).astype(int), beta=beta, sample_weight=w))


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_the_threshold_achieves_the_value_and_binned_is_within_its_bound(task: str) -> None:
    rng = np.random.default_rng(2)
    n = 400
    y, s = _data(task, n, rng, ties=False)
    s = (s**3).astype("float32")  # bunched near 0
    w = rng.random(n)
    kwargs: dict[str, Any] = {} if task == "binary" else {"num_classes": C, "average": None}
    for exact in (True, False):
        extra: dict[str, Any] = {"exact": True, "capacity": n} if exact else {}
        m = feed(em.FBetaAtBestThreshold(task, beta=2.0, **kwargs, **extra), y, s, w)
        result = np.array([float(v) for v in m.result().values()])
        k = len(result) // 2
        bound = m.error_bound()
        bounds = [bound] * k if isinstance(bound, float) else list(bound.values())
        for (t, c), value, threshold, b in zip(
            _columns(task, y, s), result[:k], result[k:], bounds, strict=True
        ):
            assert _achieved(t, c, w, 2.0, threshold) == pytest.approx(value, abs=1e-6)
            best, _ = _oracle_binary(t, c, w, 2.0)
            assert value - 1e-6 <= best <= value + b + 1e-6
            if exact:
                assert b == 0.0
            else:
                assert 0.0 <= b < 0.05


def test_undefined_classes_and_keys() -> None:
    m = em.FBetaAtBestThreshold("multilabel", num_classes=2, average=None, class_names=["a", "b"])
    m.update_state([[0, 1], [0, 1]], [[0.2, 0.9], [0.7, 0.6]])
    result = {k: float(v) for k, v in m.result().items()}
    assert list(result) == ["f1_best_a", "f1_best_b", "f1_best_threshold_a", "f1_best_threshold_b"]
    assert np.isnan(result["f1_best_a"]) and np.isnan(result["f1_best_threshold_a"])
    assert result["f1_best_b"] == 1.0
    assert em.FBetaAtBestThreshold("binary", beta=0.5).name == "fbeta_best"
    config = em.FBetaAtBestThreshold("binary", beta=0.5).get_config()
    assert config["beta"] == 0.5 and em.FBetaAtBestThreshold.from_config(config).beta == 0.5


@pytest.mark.parametrize("exact", [False, True], ids=["binned", "exact"])
def test_compiled_fit_logs_value_and_threshold(exact: bool) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=96) > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
    extra: dict[str, Any] = {"exact": True, "capacity": 96} if exact else {}
    metric = em.FBetaAtBestThreshold("binary", **extra)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[metric])
    history = model.fit(x, y, validation_data=(x, y), epochs=2, batch_size=16, verbose=0)
    s = model.predict(x, verbose=0)[:, 0]
    value, threshold = (
        history.history["val_f1_best"][-1],
        history.history["val_f1_best_threshold"][-1],
    )
    assert _achieved(y, s, None, 1.0, threshold) == pytest.approx(value, abs=1e-6)
    best, best_threshold = _oracle_binary(y, s, None, 1.0)
    if exact:
        assert value == pytest.approx(best, abs=1e-6) and threshold == pytest.approx(best_threshold)
    else:
        assert value <= best + 1e-6


def test_other_data_is_evaluated_at_the_thresholds_chosen_on_validation() -> None:
    rng = np.random.default_rng(4)
    y_val, s_val = _data("multilabel", 120, rng, ties=False)
    y_test, s_test = _data("multilabel", 80, rng, ties=False)
    inputs = keras.Input((C,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    ev = em.EpochEvaluator(
        (s_val, y_val),
        [
            em.FBetaAtBestThreshold("multilabel", num_classes=C, average=None),
            em.F1Score("multilabel", num_classes=C, name="f1_at_half"),
        ],
        apply_to={"test_": (s_test, y_test)},
    )
    logs = ev.evaluate(model)
    for k, ((t, s), (tt, st)) in enumerate(
        zip(
            _columns("multilabel", y_val, s_val),
            _columns("multilabel", y_test, s_test),
            strict=True,
        )
    ):
        best, threshold = _oracle_binary(t, s, None, 1.0)
        assert logs[f"val_f1_best_{k}"] == pytest.approx(best, abs=1e-12)
        assert logs[f"val_f1_best_threshold_{k}"] == threshold
        assert logs[f"test_f1_best_{k}"] == pytest.approx(_achieved(tt, st, None, 1.0, threshold))
    assert not any(k.startswith("test_") and "threshold" in k for k in logs)
    expected = sk(fbeta_score, y_test, (s_test > 0.5).astype(int), beta=1.0, average="macro")
    assert logs["test_f1_at_half"] == pytest.approx(expected, abs=1e-12)


def test_the_readme_line_keeps_the_thresholds_of_the_saved_epoch(tmp_path: Any) -> None:
    import json
    import pathlib

    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x[:, 0] + rng.normal(size=64) > 0).astype("float32")
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    path = tmp_path / "best.thresholds.json"
    ckpt = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "{epoch:02d}.weights.h5"), monitor="val_f1_best", mode="max",
        save_best_only=True, save_weights_only=True)  # fmt: skip
    thresholds = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: (ckpt.best is None or logs["val_f1_best"] > ckpt.best) and pathlib.Path(path).write_text(json.dumps({k: v for k, v in logs.items() if "_threshold" in k})))  # fmt: skip
    evaluator = em.EpochEvaluator((x, y), [em.FBetaAtBestThreshold("binary")])
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[thresholds, ckpt, evaluator])
    values = history.history["val_f1_best"]
    saved = sorted(int(name[:2]) - 1 for name in os.listdir(tmp_path) if name.endswith(".h5"))
    assert saved == [e for e in range(len(values)) if e == 0 or values[e] > max(values[:e])]
    last = saved[-1]
    assert json.loads(path.read_text()) == {
        "val_f1_best_threshold": history.history["val_f1_best_threshold"][last]
    }
