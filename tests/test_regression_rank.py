"""Spearman's rho and Kendall's tau: exact against scipy, through the evaluator, refused in
compile with a pointer to it."""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np
import pytest
import scipy.stats

import epochmetrics as em
from epochmetrics.functional.rank_correlation import _inversions, kendall_tau, spearman_corrcoef


def _scipy(name: str, y: np.ndarray, p: np.ndarray, **kw: Any) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "spearman":
            return float(scipy.stats.spearmanr(y, p)[0])
        return float(scipy.stats.kendalltau(y, p, **kw)[0])


def test_inversions_against_a_plain_count() -> None:
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 3, 7, 64, 129):
        a = rng.integers(0, max(n // 3, 1), n)
        plain = sum(int(a[i] > a[j]) for i in range(n) for j in range(i + 1, n))
        assert _inversions(a) == plain, n


@pytest.mark.parametrize("ties", [2, 10, 1000])
def test_against_scipy_with_ties(ties: int) -> None:
    rng = np.random.default_rng(ties)
    for n in (2, 3, 17, 250):
        y = rng.integers(0, ties, n).astype(float)
        p = y + rng.integers(-ties, ties, n) * 0.5
        for variant in ("b", "c"):
            expected = _scipy("kendall", y, p, variant=variant)
            if math.isnan(expected):
                continue
            assert kendall_tau(y, p, variant=variant) == pytest.approx(expected, abs=1e-12)
        expected = _scipy("spearman", y, p)
        if not math.isnan(expected):
            assert spearman_corrcoef(y, p) == pytest.approx(expected, abs=1e-12)


def test_outputs_mask_and_dense_inputs() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=(40, 3)).round(1)
    p = y + rng.normal(size=(40, 3))
    y[::7, 1] = np.nan  # missing targets, skipped with ignore_value=nan
    raw = spearman_corrcoef(y, p, num_outputs=3, multioutput="raw_values", ignore_value=np.nan)
    keep = ~np.isnan(y)
    expected = [_scipy("spearman", y[keep[:, k], k], p[keep[:, k], k]) for k in range(3)]
    np.testing.assert_allclose(raw, expected, atol=1e-12)
    tau = kendall_tau(y, p, num_outputs=3, multioutput=[1.0, 0.0, 3.0], ignore_value=np.nan)
    taus = [_scipy("kendall", y[keep[:, k], k], p[keep[:, k], k]) for k in range(3)]
    assert tau == pytest.approx((taus[0] + 3 * taus[2]) / 4, abs=1e-12)
    # Dense (n, H, W): every element a sample.
    img_y, img_p = rng.normal(size=(4, 5, 6)), rng.normal(size=(4, 5, 6))
    assert kendall_tau(img_y, img_p) == pytest.approx(
        _scipy("kendall", img_y.ravel(), img_p.ravel()), abs=1e-12
    )


def test_undefined_cases_warn_and_give_nan() -> None:
    for fn in (spearman_corrcoef, kendall_tau):
        with pytest.warns(em.UndefinedMetricWarning, match="undefined"):
            assert math.isnan(fn([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]))
        with pytest.warns(em.UndefinedMetricWarning, match="fewer than two samples"):
            assert math.isnan(fn([1.0], [2.0]))


@pytest.mark.parametrize("cls", [em.SpearmanCorrCoef, em.KendallTau])
def test_bad_inputs(cls: Any) -> None:
    m = cls()
    with pytest.raises(ValueError, match=r"takes no `sample_weight`: a rank correlation"):
        m.evaluate_arrays([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], sample_weight=[1, 1, 2])
    with pytest.raises(ValueError, match=r"y_pred must hold finite numbers\. Received 1 NaN"):
        m.update_state(np.array([1.0, 2.0]), np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"reads as 3 outputs .* pass num_outputs=3"):
        m.evaluate_arrays(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"`multioutput` must be"):
        cls(multioutput="mean")
    with pytest.raises(TypeError, match=r"__init__\(\) got an unexpected keyword argument 'task'"):
        cls(task="binary")


def test_standalone_batches_merge_and_config() -> None:
    rng = np.random.default_rng(9)
    y, p = rng.normal(size=60), rng.normal(size=60)
    a, b = em.KendallTau(variant="c"), em.KendallTau(variant="c")
    a.update_state(y[:25], p[:25])
    b.update_state(y[25:], p[25:])
    a.merge_state(b)
    assert a.result() == pytest.approx(_scipy("kendall", y, p, variant="c"), abs=1e-12)
    with pytest.raises(ValueError, match="merge_state needs a KendallTau with the same settings"):
        a.merge_state(em.KendallTau())
    for metric in (a, em.SpearmanCorrCoef(num_outputs=2, multioutput="raw_values")):
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(metric)
        )
        assert restored.get_config() == metric.get_config()
        assert type(restored)._direction == "up"


def _identity(width: int) -> keras.Model:
    """Predictions equal to the inputs (trained with a learning rate of 0)."""
    inputs = keras.Input((width,))
    dense = keras.layers.Dense(width, use_bias=False, kernel_initializer="identity")
    return keras.Model(inputs, dense(inputs))


def test_in_the_evaluator_with_early_stopping() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(90, 2)).astype("float32")
    y = (x + rng.normal(size=(90, 2))).astype("float32")
    metrics = [
        em.SpearmanCorrCoef(num_outputs=2, multioutput="raw_values", output_names=["a", "b"]),
        em.KendallTau(num_outputs=2),
        em.RootMeanSquaredError(num_outputs=2),  # streamed batch by batch
    ]
    model = _identity(2)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    ev = em.EpochEvaluator((x, y), metrics, batch_size=32)
    stop = keras.callbacks.EarlyStopping(monitor="val_kendall_tau", patience=0)
    lower = keras.callbacks.ReduceLROnPlateau(monitor="val_rmse", patience=5, min_lr=0.0)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[ev, stop, lower])
    # mode="auto" from the metrics' directions, through the evaluator's keys.
    assert bool(stop.monitor_op(2.0, 1.0)) and not bool(stop.monitor_op(1.0, 2.0))
    assert bool(lower.monitor_op(1.0, 2.0)) and not bool(lower.monitor_op(2.0, 1.0))
    logs = {k: v[-1] for k, v in history.history.items()}
    for k, name in enumerate("ab"):
        assert logs[f"val_spearman_{name}"] == pytest.approx(
            _scipy("spearman", y[:, k], x[:, k]), abs=1e-12
        )
    expected = np.mean([_scipy("kendall", y[:, k], x[:, k]) for k in range(2)])
    assert logs["val_kendall_tau"] == pytest.approx(expected, abs=1e-12)
    rmse = np.mean(np.sqrt(np.mean((y.astype(np.float64) - x) ** 2, axis=0)))
    assert logs["val_rmse"] == pytest.approx(rmse, rel=1e-9)


@pytest.mark.parametrize("cls", [em.SpearmanCorrCoef, em.KendallTau])
def test_compile_metrics_is_a_clear_error(cls: Any) -> None:
    model = _identity(1)
    model.compile(optimizer="sgd", loss="mse", metrics=[cls()])
    x = np.ones((4, 1), "float32")
    with pytest.raises(ValueError, match=r"is a host metric: a rank correlation .*EpochEvaluator"):
        model.fit(x, x, epochs=1, verbose=0)
