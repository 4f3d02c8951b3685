"""`CalibrationError` against the definition (a NumPy loop over bins) and torchmetrics.

Streams with random batch partitions and weights, every norm and task, eagerly and in `fit`.
"""

from __future__ import annotations

import keras
import numpy as np
import oracles
import pytest
from helpers import assert_close, batch_sizes, feed

import epochmetrics as em

L = 4


def _probabilities(task: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if task == "binary":
        y = rng.integers(0, 2, n)
        return y, np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1).astype(np.float32)
    if task == "multilabel":
        y = rng.integers(0, 2, (n, L))
        return y, np.clip(0.4 * y + 0.6 * rng.random((n, L)), 0, 1).astype(np.float32)
    y = rng.integers(0, L, n)
    z = np.exp(2 * rng.standard_normal((n, L)) + 1.5 * np.eye(L)[y])
    return y, (z / z.sum(1, keepdims=True)).astype(np.float32)


def _reference(task: str, y, p, w, n_bins: int, norm: str, average: str | None = "macro"):
    if task == "binary":
        return oracles.calibration_error(p, y, w, n_bins, norm)
    if task == "multiclass":
        return oracles.calibration_error(p.max(1), p.argmax(1) == y, w, n_bins, norm)
    if average == "micro":
        return oracles.calibration_error(p.ravel(), y.ravel(), np.repeat(w, L), n_bins, norm)
    per_label = [oracles.calibration_error(p[:, k], y[:, k], w, n_bins, norm) for k in range(L)]
    if average is None:
        return {f"calibration_error_{k}": v for k, v in enumerate(per_label)}
    return float(np.mean(per_label))


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_matches_the_definition(task: str, norm: str) -> None:
    y, p = _probabilities(task, 500, seed=len(task) + len(norm))
    p[:3] = 1.0  # a confidence of exactly 1: its own bin
    w = np.random.default_rng(1).integers(1, 4, len(y)).astype(np.float64)
    sizes = batch_sizes(np.random.default_rng(2), len(y))
    for n_bins in (1, 10, 15):
        kw = {} if task == "binary" else {"num_classes": L}
        metric = feed(em.CalibrationError(task, **kw, n_bins=n_bins, norm=norm), y, p, w, sizes)
        expected = _reference(task, y, p, w, n_bins, norm)
        assert_close(metric.result(), expected, atol=1e-12, what=f"n_bins={n_bins}")


@pytest.mark.parametrize("average", ["micro", None])
def test_multilabel_averages(average: str | None) -> None:
    y, p = _probabilities("multilabel", 300, seed=3)
    metric = feed(em.CalibrationError("multilabel", num_classes=L, average=average), y, p)
    expected = _reference("multilabel", y, p, np.ones(len(y)), 15, "l1", average)
    assert_close(metric.result(), expected, atol=1e-12)


def test_logits_and_ignore_index() -> None:
    rng = np.random.default_rng(4)
    y, p = _probabilities("multiclass", 200, seed=4)
    logits = np.log(p) + rng.standard_normal((200, 1)).astype(np.float32)  # softmax-invariant
    y_void = np.where(rng.random(200) < 0.1, -1, y)
    metric = feed(
        em.CalibrationError("multiclass", num_classes=L, from_logits=True, ignore_index=-1),
        y_void,
        logits,
    )
    keep = y_void != -1
    z = np.exp(logits[keep].astype(np.float64))
    probabilities = (z / z.sum(1, keepdims=True)).astype(np.float32)
    expected = oracles.calibration_error(
        probabilities.max(1), probabilities.argmax(1) == y[keep], None, 15, "l1"
    )
    assert_close(metric.result(), expected, atol=1e-6)  # softmax in float32 vs float64


def test_no_counted_sample_is_nan_and_lower_is_better() -> None:
    metric = em.CalibrationError("binary", ignore_index=9)
    metric.update_state(np.array([9, 9]), np.array([0.2, 0.7], np.float32))
    assert np.isnan(float(np.asarray(metric.result())))
    assert metric._direction == "down"


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_matches_torchmetrics(task: str) -> None:
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.classification")
    y, p = _probabilities(task, 400, seed=5)
    kw = {} if task == "binary" else {"num_classes": L}
    for norm in ("l1", "l2", "max"):
        ours = feed(em.CalibrationError(task, **kw, norm=norm), y, p).result()
        if task == "binary":
            theirs = tm.binary_calibration_error(
                torch.tensor(p), torch.tensor(y), n_bins=15, norm=norm
            )
        else:
            theirs = tm.multiclass_calibration_error(
                torch.tensor(p), torch.tensor(y), num_classes=L, n_bins=15, norm=norm
            )
        assert_close(ours, float(theirs), atol=1e-6, what=norm)  # torchmetrics sums in float32


def test_in_a_compiled_fit() -> None:
    y, p = _probabilities("multiclass", 256, seed=6)
    w = np.random.default_rng(7).integers(1, 4, 256).astype(np.float32)
    model = keras.Sequential(
        [keras.Input((L,)), keras.layers.Dense(L, use_bias=False, kernel_initializer="identity")]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=lambda y_true, y_pred: keras.ops.sum(y_pred, axis=-1) * 0.0,
        weighted_metrics=[
            em.CalibrationError("multiclass", num_classes=L, name="ece"),
            em.CalibrationError("multiclass", num_classes=L, norm="max", name="mce"),
        ],
    )
    history = model.fit(p, y, sample_weight=w, batch_size=40, epochs=1, verbose=0, shuffle=False)
    for name, norm in (("ece", "l1"), ("mce", "max")):
        expected = oracles.calibration_error(p.max(1), p.argmax(1) == y, w, 15, norm)
        # 32-bit JAX sums a batch's confidences in float32 inside its compiled step.
        assert_close(history.history[name][-1], expected, atol=1e-7, what=name)
