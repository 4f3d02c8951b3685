"""Regression metrics inside Keras: compiled fit/evaluate, log keys, callbacks, saving.

The model is frozen (identity kernel, learning rate 0), so what the compiled steps see is the
input itself: the epoch values are checked against scikit-learn and scipy on those arrays. On
JAX without x64 the compiled steps sum in float32 (within 1e-6); elsewhere in float64.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from helpers import LOWER_IS_BETTER
from test_regression import reference

import epochmetrics as em
from epochmetrics._backend.ops import traced_result_dtype

D = 2
# Compiled steps sum in float32 on JAX without x64 (float32 model outputs either way).
RTOL = 1e-9 if traced_result_dtype() == "float64" else 1e-6


class Batches(keras.utils.PyDataset):
    """Uneven batches, size 1 included, with sample weights."""

    def __init__(self, arrays: tuple[np.ndarray, ...], sizes: list[int]) -> None:
        super().__init__()
        edges = np.cumsum([0, *sizes])
        self.batches = [tuple(a[i:j] for a in arrays) for i, j in itertools.pairwise(edges)]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        return self.batches[i]


def data(n: int, offset: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, D)) * [1.0, 4.0] + offset
    x = y + rng.normal(size=(n, D)) * [0.5, 1.0] + 0.2
    return x.astype(np.float32), y.astype(np.float32), rng.integers(1, 4, n).astype(np.float32)


METRICS = {
    # log key -> (metric, multioutput given to the reference)
    "mse": (lambda: em.MeanSquaredError(num_outputs=D), "uniform_average"),
    "rmse": (lambda: em.RootMeanSquaredError(num_outputs=D), "uniform_average"),
    "mae": (lambda: em.MeanAbsoluteError(num_outputs=D, multioutput=[1.0, 3.0]), [1.0, 3.0]),
    "mape": (lambda: em.MeanAbsolutePercentageError(num_outputs=D), "uniform_average"),
    "r2": (lambda: em.R2Score(num_outputs=D, multioutput="raw_values"), "raw_values"),
    "explained_variance": (
        lambda: em.ExplainedVariance(num_outputs=D, multioutput="variance_weighted"),
        "variance_weighted",
    ),
    "pearson": (
        lambda: em.PearsonCorrCoef(num_outputs=D, multioutput="raw_values"),
        "raw_values",
    ),
    "concordance": (lambda: em.ConcordanceCorrCoef(num_outputs=D), "uniform_average"),
}
NAMES = {
    "mse": "MeanSquaredError",
    "rmse": "RootMeanSquaredError",
    "mae": "MeanAbsoluteError",
    "mape": "MeanAbsolutePercentageError",
    "r2": "R2Score",
    "explained_variance": "ExplainedVariance",
    "pearson": "PearsonCorrCoef",
    "concordance": "ConcordanceCorrCoef",
}


def expected_logs(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    out = {}
    for key, (_, multioutput) in METRICS.items():
        value = reference(NAMES[key], y, x, w, multioutput)
        if multioutput == "raw_values":
            out.update({f"{key}_{d}": float(v) for d, v in enumerate(value)})
        else:
            out[key] = float(value)
    return out


def check(logs: dict[str, Any], expected: dict[str, float], prefix: str = "") -> None:
    for key, value in expected.items():
        np.testing.assert_allclose(
            float(logs[prefix + key]), value, rtol=RTOL, atol=1e-12, err_msg=prefix + key
        )


def compiled(metrics: list[Any] | None = None, dtype: str | None = None) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((D,)),
            keras.layers.Dense(D, use_bias=False, kernel_initializer="identity", dtype=dtype),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss="mse",
        weighted_metrics=metrics or [make() for make, _ in METRICS.values()],
    )
    return model


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e6])
def test_compiled_evaluate_matches_the_references(offset: float) -> None:
    """Uneven batches with size-1 ones (two batch shapes: each compiles on JAX), weights."""
    x, y, w = data(98, offset, seed=int(offset) % 7)
    model = compiled()
    result = model.evaluate(Batches((x, y, w), [1, 32, 32, 32, 1]), return_dict=True, verbose=0)
    # The frozen model's predictions are its inputs (float32 both ways).
    check(result, expected_logs(x, y, w))


def test_compiled_fit_logs_every_key_for_train_and_validation() -> None:
    x, y, w = data(128, 1e4, seed=4)
    xv, yv, _ = data(64, 1e4, seed=3)
    model = compiled()
    history = model.fit(
        x, y, sample_weight=w, batch_size=32, validation_data=(xv, yv), epochs=1, verbose=0
    )
    logs = {k: v[-1] for k, v in history.history.items()}
    check(logs, expected_logs(x, y, w))
    check(logs, expected_logs(xv, yv, None), prefix="val_")
    assert {"r2_0", "r2_1", "val_pearson_1"} <= set(logs) and "r2" not in logs


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_low_precision_model_outputs(policy: str) -> None:
    """Under mixed precision the metrics get float16/bfloat16 predictions inside the step:
    the values of those numbers, exactly as in float64."""
    x, y, _ = data(64, 3.0, seed=6)
    metrics = [
        em.R2Score(num_outputs=D, multioutput="raw_values"),
        em.PearsonCorrCoef(num_outputs=D),
        em.MeanSquaredError(num_outputs=D),
    ]
    model = compiled(metrics, dtype=policy)
    result = model.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)
    pred = keras.ops.convert_to_numpy(model.predict(x, batch_size=64, verbose=0))
    assert str(pred.dtype) == policy[len("mixed_") :]
    p = np.asarray(pred, dtype=np.float64)
    for d, value in enumerate(reference("R2Score", y, p, None, "raw_values")):
        assert result[f"r2_{d}"] == pytest.approx(value, rel=RTOL)
    assert result["pearson"] == pytest.approx(
        reference("PearsonCorrCoef", y, p, None, "uniform_average"), rel=RTOL
    )
    assert result["mse"] == pytest.approx(
        reference("MeanSquaredError", y, p, None, "uniform_average"), rel=RTOL
    )


def test_save_and_load_without_custom_objects(tmp_path: Path) -> None:
    x, y, _ = data(64, 1e4, seed=5)
    metrics = [
        em.R2Score(num_outputs=D, multioutput="raw_values", output_names=["a", "b"]),
        em.ExplainedVariance(num_outputs=D, force_finite=False),
        em.PearsonCorrCoef(num_outputs=D, multioutput=[2.0, 1.0], ignore_value=float("nan")),
        em.MeanAbsolutePercentageError(num_outputs=D, ignore_value=0.0, per_step="all"),
        em.RootMeanSquaredError(num_outputs=D, name="root"),
    ]
    model = compiled(metrics)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    before = model.evaluate(x, y, return_dict=True, verbose=0)
    after = loaded.evaluate(x, y, return_dict=True, verbose=0)
    assert set(before) == set(after) and {"r2_a", "r2_b", "root"} <= set(after)
    for key in before:
        assert after[key] == pytest.approx(before[key], rel=1e-12), key


SETTINGS = [
    lambda: em.MeanSquaredError(),
    lambda: em.RootMeanSquaredError(num_outputs=3, multioutput="raw_values", per_step="all"),
    lambda: em.MeanAbsoluteError(num_outputs=2, multioutput=[0.5, 1.5], name="l1"),
    lambda: em.MeanAbsolutePercentageError(ignore_value=-1.0),
    lambda: em.R2Score(force_finite=False, ignore_value=float("nan")),
    lambda: em.ExplainedVariance(num_outputs=2, multioutput="variance_weighted"),
    lambda: em.PearsonCorrCoef(num_outputs=2, output_names=["x", "y"], multioutput="raw_values"),
    lambda: em.ConcordanceCorrCoef(dtype="float32"),
]


@pytest.mark.parametrize("make", SETTINGS)
def test_config_round_trip_and_direction(make: Any) -> None:
    metric = make()
    assert metric._direction == ("down" if type(metric).__name__ in LOWER_IS_BETTER else "up")
    config = metric.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(restored) is type(metric)
    again = restored.get_config()
    assert again.keys() == config.keys()
    for key, value in config.items():
        same = value == again[key] or (
            isinstance(value, float) and math.isnan(value) and math.isnan(again[key])
        )
        assert same, key


def test_auto_mode_callbacks_find_the_direction() -> None:
    """mode="auto": Keras finds the metric by name and reads its direction."""
    x, y, _ = data(40, 0.0, seed=1)
    model = compiled([em.R2Score(num_outputs=D), em.RootMeanSquaredError(num_outputs=D)])
    stop = keras.callbacks.EarlyStopping(monitor="val_r2", patience=1)
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="val_rmse", patience=1, min_lr=0.0)
    history = model.fit(x, y, validation_data=(x, y), epochs=4, verbose=0, callbacks=[stop, reduce])
    # By behaviour: Keras < 3.11's ReduceLROnPlateau keeps its own comparison (by name: "min");
    # from 3.11 it and ModelCheckpoint resolve mode="auto" by the metric's direction.
    assert bool(stop.monitor_op(2.0, 1.0)) and not bool(stop.monitor_op(1.0, 2.0))
    assert bool(reduce.monitor_op(1.0, 2.0)) and not bool(reduce.monitor_op(2.0, 1.0))
    assert len(history.history["val_r2"]) == 2  # frozen: no improvement after epoch 0


def test_nan_targets_in_a_compiled_step() -> None:
    """A NaN target cannot raise inside a compiled step: the epoch's value is NaN, and the
    eager read warns with the count and the fix; `ignore_value=nan` skips them."""
    x, y, _ = data(50, 0.0, seed=2)
    y[7, 1] = np.nan
    model = compiled(
        [
            em.R2Score(num_outputs=D),
            em.MeanSquaredError(num_outputs=D, ignore_value=float("nan"), name="masked"),
        ]
    )
    with pytest.warns(
        RuntimeWarning, match=r"1 batch\(es\) holding NaN or infinite values.*ignore_value"
    ):
        result = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    assert math.isnan(result["r2"])
    y, x = y.astype(np.float64), x.astype(np.float64)
    expected = np.mean([np.nanmean((y[:, d] - x[:, d]) ** 2) for d in range(D)])
    assert result["masked"] == pytest.approx(expected, rel=RTOL)
