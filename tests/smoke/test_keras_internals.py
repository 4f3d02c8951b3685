"""Canaries of the Keras internals epochmetrics reads (`_backend/keras_internals.py`).

They run on every leg of `make compat` (oldest to newest Keras) and in the full suite: each
checks one assumption against the installed Keras, so a Keras that changes fails here, by name,
before a user's History misses keys.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import keras
import numpy as np
import pytest

import epochmetrics as em
from epochmetrics._backend import keras_internals
from epochmetrics.metrics import _keras_calls


def test_keras_is_in_the_supported_range_and_every_assumption_holds() -> None:
    low, high = keras_internals.SUPPORTED_KERAS
    assert low <= keras_internals.keras_version()[:2] <= high, keras.__version__
    assert keras_internals._BROKEN == {}
    keras_internals.per_step_honoured()  # runs the probe: no warning (filterwarnings=error)
    assert keras_internals._BROKEN == {}


def test_per_step_strategy_is_the_known_one_for_this_keras() -> None:
    """Keras >= 3.14 re-reads the metrics for the epoch's logs whatever keys a step returned;
    before, only when the step returned every key. A change here is a change of Keras' epoch
    logs: update the module docstring's strategy."""
    honoured = keras_internals.per_step_honoured()
    assert honoured == (keras_internals.keras_version()[:2] >= (3, 14))


def test_steps_return_fewer_keys_only_where_the_epoch_logs_stay_complete() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)).astype("float32"), rng.integers(0, 3, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(
        "sgd",
        "sparse_categorical_crossentropy",
        metrics=[
            em.F1Score("multiclass", num_classes=3, average=None),  # per_step="averages"
            em.ClassificationReport("multiclass", num_classes=3, name="report"),  # "none"
        ],
    )
    steps: list[set[str]] = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: steps.append(set(logs))
    )
    history = model.fit(
        x, y, validation_data=(x, y), epochs=1, batch_size=32, verbose=0, callbacks=[record]
    )
    per_class = {"f1_0", "f1_2", "report_recall_1", "report_f1_macro"}
    assert per_class <= set(history.history)
    assert {f"val_{k}" for k in per_class} <= set(history.history)
    if keras_internals.per_step_honoured():
        assert not per_class & steps[-1]
    else:
        assert per_class <= steps[-1]


def test_our_names_of_compiled_metrics_are_keras_own() -> None:
    """Our copy of `CompileMetrics.result`'s naming (outputs, repeats, weighted) gives the
    keys Keras itself gives."""
    inputs = keras.Input((3,))
    outputs = {
        "digit": keras.layers.Dense(3, name="digit")(inputs),
        "parity": keras.layers.Dense(3, name="parity")(inputs),
    }
    model = keras.Model(inputs, outputs)
    mse = keras.metrics.MeanSquaredError
    model.compile(
        "sgd",
        loss={"digit": "mse", "parity": "mse"},
        metrics={"digit": [mse(name="a"), mse(name="a"), mse(name="a")], "parity": [mse("a")]},
        weighted_metrics={"digit": [mse(name="a"), mse(name="w")], "parity": [mse(name="a")]},
    )
    x = np.eye(3, dtype="float32")
    model.evaluate(x, {"digit": x, "parity": x}, verbose=0)
    compiled = next(m for m in model.metrics if type(m).__name__ == "CompileMetrics")
    ours = [prefix + name for _, prefix, name in _keras_calls._compiled_names(compiled)]
    assert ours == list(compiled.result())
    # A model's compiled metrics, as em.TensorBoard and em.RunRecorder find them.
    assert keras_internals.compile_metrics_of(model) is compiled
    assert [name for _, name in _keras_calls.compiled_metrics(model)] == ours


def test_metric_variables_are_synced_on_read() -> None:
    """Keras >= 3.10 makes TensorFlow metric variables synced on read; before, without a
    synchronization, they were synced on write (replicas' assigns summed under tf.distribute)
    and `add_metric_variable` makes them so itself."""
    takes = "synchronization" in inspect.signature(keras.Variable.__init__).parameters
    assert keras_internals.SYNCS_METRICS_ON_READ == takes
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for metric in (em.Accuracy("binary"), em.AUROC("binary")):
        for variable in metric.variables:
            assert variable.value.synchronization == tf.VariableSynchronization.ON_READ, variable
            assert variable.value.aggregation == tf.VariableAggregation.SUM, variable


def test_a_keras_outside_the_range_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras, "__version__", "3.7.0")
    with pytest.raises(
        ImportError, match=r"supports Keras 3\.8 to 3\.\d+; Keras 3\.7\.0 is installed"
    ):
        keras_internals._check_version()
    monkeypatch.setattr(keras, "__version__", "3.99.1")
    with pytest.warns(keras_internals.KerasCompatibilityWarning, match=r"Keras 3\.99\.1 is newer"):
        keras_internals._check_version()


def test_a_broken_assumption_is_named_and_every_key_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class _Trainer:  # a Keras whose trainer lost the epoch-log method
        def get_metrics_result(self) -> Any:
            return {}

    monkeypatch.setattr(keras_internals, "Trainer", _Trainer)
    monkeypatch.setattr(keras_internals, "_BROKEN", {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert keras_internals.per_step_honoured.__wrapped__() is False
    (warning,) = caught
    assert warning.category is keras_internals.KerasCompatibilityWarning
    assert "_get_metrics_result_or_logs" in str(warning.message)
    assert "every key" in str(warning.message)


def test_lost_metric_lists_are_named_and_keys_fall_back_to_own_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keras_internals, "_BROKEN", {})
    with pytest.warns(keras_internals.KerasCompatibilityWarning, match="_flat_metrics"):
        assert keras_internals.compiled_lists(object()) == []


def test_a_newer_keras_returns_every_key_in_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    assert keras_internals.per_step_honoured.__wrapped__() is False


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="a torch DataLoader's path")
def test_fit_and_evaluate_iterate_dataloaders_through_the_hook() -> None:
    """torch `fit`/`evaluate` iterate a DataLoader through `TorchDataLoaderAdapter.
    get_torch_dataloader` under `TorchTrainer.fit`/`evaluate` (`wrap_torch_loaders`): every
    pass of training and validation data goes through the hook (which leaves a
    DistributedSampler's padding out), `predict`'s does not."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from epochmetrics._backend import torch_padding

    x = torch.zeros(10, 3)
    train = DataLoader(TensorDataset(x, torch.zeros(10)), batch_size=4)
    val = DataLoader(TensorDataset(x, torch.ones(10)), batch_size=4)
    passes: list[Any] = []

    def hook(loader: Any) -> Any:
        passes.append(loader)
        return loader

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    keras_internals.wrap_torch_loaders(hook)
    try:
        model.fit(train, validation_data=val, epochs=2, shuffle=False, verbose=0)
        fitted = list(passes)
        model.evaluate(val, verbose=0)
        evaluated = list(passes[len(fitted) :])
        model.predict(val, verbose=0)
    finally:
        keras_internals.wrap_torch_loaders(torch_padding.unpadded)
    assert {id(p) for p in fitted} == {id(train), id(val)}
    assert fitted.count(val) >= 2 and fitted.count(train) >= 2  # each epoch's passes
    assert evaluated and all(p is val for p in evaluated)
    assert len(passes) == len(fitted) + len(evaluated)  # predict's passes are not hooked
    assert keras_internals._BROKEN == {}
