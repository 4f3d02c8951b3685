"""EpochEvaluator in `fit`: callback order, one pass, skipped epochs, directions, errors."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from contextlib import redirect_stdout
from functools import partial

import keras
import numpy as np
import pytest
from sklearn import metrics as skm

import epochmetrics as em
from epochmetrics.callbacks import EvaluationError, ModelEvaluator, load_history

N, D = 48, 4


def _data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    return x, y


def _new_model(outputs=1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(outputs, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")
    return model


_SHARED = {}


def _model():
    """One compiled model for every `fit` here (compiling per test dominates the run time on
    JAX); its weights do not matter to these tests, its learning rate is reset."""
    if "model" not in _SHARED:
        _SHARED["model"] = _new_model()
    model = _SHARED["model"]
    model.optimizer.learning_rate = 0.01
    return model


def _identity_model(width):
    inputs = keras.Input((width,))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def _scripted(values):
    """A callable metric returning `values` one per call (NaN once they run out)."""
    it = iter(values)

    def score(y_true, y_pred):
        return next(it, math.nan)

    return score


class _Recorder(keras.callbacks.Callback):
    """Keeps a copy of the logs of each epoch."""

    def __init__(self):
        super().__init__()
        self.logs = []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs or {}))


# --- order ---------------------------------------------------------------------------------------
def test_values_reach_callbacks_placed_before_the_evaluator(tmp_path):
    x, y = _data()
    ev = em.EpochEvaluator(
        (x, y),
        {"score": _scripted([0.5, 0.7, 0.6, 0.65, 0.9, 0.95])},
        directions={"val_score": "up"},
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_score", patience=2)  # mode="auto"
    ckpt = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "m{epoch}.weights.h5"),
        monitor="val_score",
        mode="max",  # "auto" reads the direction only from Keras 3.11 (README)
        save_best_only=True,
        save_weights_only=True,
    )
    log_path = tmp_path / "log.csv"
    recorder = _Recorder()
    history = _model().fit(
        x,
        y,
        epochs=6,
        verbose=0,
        callbacks=[stop, ckpt, keras.callbacks.CSVLogger(str(log_path)), recorder, ev],
    )
    # 0.7 at epoch 1 is the best; epochs 2 and 3 do not improve: patience 2 stops after epoch 3.
    assert stop.stopped_epoch == 3
    assert sorted(os.listdir(tmp_path)) == ["log.csv", "m1.weights.h5", "m2.weights.h5"]
    assert history.history["val_score"] == [0.5, 0.7, 0.6, 0.65]
    assert [logs["val_score"] for logs in recorder.logs] == [0.5, 0.7, 0.6, 0.65]
    with open(log_path) as f:
        assert [float(r["val_score"]) for r in csv.DictReader(f)] == [0.5, 0.7, 0.6, 0.65]
    assert ev.history["epochs"] == [0, 1, 2, 3]


def test_progress_bar_and_tensorboard_see_the_values(tmp_path):
    tf = pytest.importorskip("tensorflow")
    x, y = _data()
    written = []

    class Summary:
        """tf.summary, recording scalars (the tensorboard package is optional)."""

        def __getattr__(self, name):
            return getattr(tf.summary, name)

        def scalar(self, name, data, step=None, **kwargs):
            written.append((name, float(data)))
            return True

    class Board(keras.callbacks.TensorBoard):
        summary = Summary()

    ev = em.EpochEvaluator((x, y), [em.Recall("binary")], prefix="val_")
    out = io.StringIO()
    with redirect_stdout(out):
        _model().fit(x, y, epochs=1, verbose=2, callbacks=[Board(str(tmp_path)), ev])
    assert "val_recall" in out.getvalue()
    assert ("epoch_recall", ev.history["scalars"]["val_recall"][0]) in written


def test_several_evaluators_keep_their_order_and_all_reach_monitors():
    x, y = _data()
    order = []

    def tracked(name, value):
        def fn(y_true, y_pred):
            order.append(name)
            return value

        return fn

    first = em.EpochEvaluator((x, y), {"a": tracked("a", 1.0)}, directions={"a": "up"})
    second = em.EpochEvaluator(
        (x, y), {"b": tracked("b", 2.0)}, prefix="other_", directions={"b": "down"}
    )
    recorder = _Recorder()
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[recorder, first, second])
    assert order == ["a", "b", "a", "b"]
    assert recorder.logs[0]["val_a"] == 1.0 and recorder.logs[0]["other_b"] == 2.0


# --- one pass ------------------------------------------------------------------------------------
class _FakeRanking:
    """Follows the ranking metrics' contract: `evaluate_arrays` means 'give me whole arrays'."""

    name = "fake_ap"
    _direction = "up"

    def __init__(self):
        self.calls = []

    def evaluate_arrays(self, y_true, y_pred, sample_weight=None):
        self.calls.append((y_true.shape, y_pred.shape, sample_weight))
        return {
            "fake_ap": float(skm.average_precision_score(y_true, y_pred[:, 0])),
            "fake_n": len(y_true),
        }

    def update_state(self, *args, **kwargs):
        raise AssertionError("an evaluate_arrays metric must not be streamed")

    def reset_state(self):
        pass

    def result(self):
        raise AssertionError("an evaluate_arrays metric must not be streamed")


def test_exactly_one_prediction_pass_whatever_the_metrics():
    x, y = _data(50)
    drawn = []

    def batches():
        for start in range(0, len(x), 16):
            drawn.append(start)
            yield x[start : start + 16], y[start : start + 16]

    fake = _FakeRanking()
    metrics = {
        "f1": em.F1Score("binary"),
        "report": em.ClassificationReport("binary"),
        "cm": em.ConfusionMatrix("binary"),
        "skl_f1": lambda yt, yp: skm.f1_score(yt, yp[:, 0] > 0.5),
        "skl_acc": lambda yt, yp: skm.accuracy_score(yt, yp[:, 0] > 0.5),
        "ap": fake,
    }
    ev = em.EpochEvaluator(batches, metrics)
    model = _model()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[ev])
    # 4 batches per evaluation, 3 evaluations, and the one batch checked before training
    assert len(drawn) == 1 + 3 * 4
    assert fake.calls == [((16,), (16, 1), None)] + [((50,), (50, 1), None)] * 3
    assert ev.history["scalars"]["val_fake_n"] == [50.0] * 3
    last = ev.history["scalars"]
    assert last["val_f1"][-1] == pytest.approx(last["val_skl_f1"][-1], abs=1e-6)


# --- every_n_epochs ------------------------------------------------------------------------------
def test_every_n_epochs_holds_values_and_monitors_act_on_evaluations(tmp_path):
    x, y = _data()
    # Evaluated after epochs 0, 3, 6 (and 9, the last): 0.6 at epoch 3 is the best.
    ev = em.EpochEvaluator(
        (x, y),
        {"score": _scripted([0.5, 0.6, 0.4, 0.9])},
        every_n_epochs=3,
        directions={"score": "up"},
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_score", patience=3)
    ckpt = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "m{epoch}.weights.h5"),
        monitor="val_score",
        mode="max",  # "auto" reads the direction only from Keras 3.11 (README)
        save_best_only=True,
        save_weights_only=True,
    )
    history = _model().fit(x, y, epochs=10, verbose=0, callbacks=[stop, ckpt, ev])
    # Held epochs count as epochs without improvement: 3 epochs after epoch 3, epoch 6 stops.
    assert stop.stopped_epoch == 6
    assert history.history["val_score"] == [0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.4]
    assert sorted(os.listdir(tmp_path)) == ["m1.weights.h5", "m4.weights.h5"]  # epochs 0 and 3 only
    assert ev.history["epochs"] == [0, 3, 6]
    assert ev.history["scalars"]["val_score"] == [0.5, 0.6, 0.4]


def test_every_n_epochs_evaluates_the_last_epoch_and_warns_on_short_patience():
    x, y = _data()
    ev = em.EpochEvaluator((x, y), [em.Accuracy("binary")], every_n_epochs=3)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=2)
    with pytest.warns(UserWarning, match=r"patience=2\) counts epochs.*patience >= 3"):
        _model().fit(x, y, epochs=5, verbose=0, callbacks=[plateau, ev])
    assert ev.history["epochs"] == [0, 3, 4]
    # mode="auto": higher is better (Accuracy's direction; the name on Keras < 3.11).
    assert bool(plateau.monitor_op(2.0, 1.0)) and not bool(plateau.monitor_op(1.0, 2.0))


# --- directions and mode="auto" ------------------------------------------------------------------
def test_mode_auto_needs_a_direction_for_callables():
    x, y = _data()
    ev = em.EpochEvaluator((x, y), {"map": lambda yt, yp: 0.5})
    stop = keras.callbacks.EarlyStopping(monitor="val_map")
    with pytest.raises(ValueError, match=r"directions=\{'val_map': 'up'\}.*mode='max'"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[stop, ev])


@pytest.mark.parametrize("how", ["directions", "model_evaluator"])
def test_mode_auto_minimises_a_down_metric(how):
    x, y = _data()
    values = [3.0, 2.0, 2.5, 2.6, 1.0]
    if how == "directions":
        ev = em.EpochEvaluator((x, y), {"err": _scripted(values)}, directions={"val_err": "down"})
    else:
        it = iter(values)
        ev = em.EpochEvaluator(
            None, {"err": ModelEvaluator(lambda model: next(it), direction="down")}
        )
    stop = keras.callbacks.EarlyStopping(monitor="val_err", patience=2)
    _model().fit(x, y, epochs=5, verbose=0, callbacks=[stop, ev])
    assert stop.stopped_epoch == 3 and stop.best == 2.0
    assert ev.history["directions"] == {"val_err": "down"}


def test_reduce_lr_on_plateau_lowers_the_learning_rate_on_a_scripted_metric():
    x, y = _data()
    ev = em.EpochEvaluator(
        (x, y), {"map": _scripted([0.3, 0.5, 0.5, 0.5, 0.5])}, directions={"map": "up"}
    )
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_map", mode="max", patience=2, factor=0.5, cooldown=5
    )
    model = _model()
    recorder = _Recorder()
    model.fit(x, y, epochs=5, verbose=0, callbacks=[plateau, recorder, ev])
    # Best 0.5 at epoch 1; epochs 2 and 3 do not improve: the rate halves at the end of epoch 3
    # (the logs show the rate each epoch trained with).
    assert [logs["learning_rate"] for logs in recorder.logs] == pytest.approx(
        [0.01, 0.01, 0.01, 0.01, 0.005]
    )
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.005)


# --- errors --------------------------------------------------------------------------------------
def test_an_error_in_a_callable_names_the_metric_the_epoch_and_the_shapes():
    x, y = _data()
    calls = []

    def broken(y_true, y_pred):
        calls.append(1)
        if len(calls) == 2:
            raise ZeroDivisionError("boom")
        return 1.0

    ev = em.EpochEvaluator((x, y), {"mine": broken})
    with pytest.raises(EvaluationError) as info:
        _model().fit(x, y, epochs=3, verbose=0, callbacks=[ev])
    message = str(info.value)
    assert "'mine' (callable)" in message and "epoch 2" in message
    assert "y_true.shape=(48,)" in message and "y_pred.shape=(48, 1)" in message
    # Keras' traceback filtering in `fit` drops `__cause__`; `original` keeps the exception.
    assert isinstance(info.value.original, ZeroDivisionError)


def test_an_error_in_a_streamed_metric_names_the_batches_and_shapes():
    x, y = _data()
    ev = em.EpochEvaluator((x, y * 5), [em.Precision("multiclass", num_classes=3)], batch_size=16)
    with pytest.raises(
        EvaluationError, match=r"'precision' \(Precision\) failed in evaluate\(\) on batches 0-2"
    ):
        ev.evaluate(_new_model(outputs=3))


def test_an_error_in_a_model_evaluator_is_named():
    def broken(model):
        raise KeyError("detections")

    ev = em.EpochEvaluator(None, {"det_map": ModelEvaluator(broken)})
    with pytest.raises(
        EvaluationError, match=r"'det_map' \(ModelEvaluator\) failed in evaluate\(\) on the model"
    ):
        ev.evaluate(_model())


# --- results -------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 16])
def test_streamed_results_equal_scikit_learn(batch_size):
    rng = np.random.default_rng(batch_size)
    n, c = 37, 4
    scores = rng.dirichlet(np.ones(c), size=n).astype("float32")
    y = rng.integers(0, c, size=n)
    y[:3] = 3  # class 3 present
    weights = rng.integers(0, 3, size=n).astype("float32")
    names = ["a", "b", "c", "d"]
    metrics = [
        em.F1Score("multiclass", num_classes=c, average=None, class_names=names),
        em.Precision("multiclass", num_classes=c, average="weighted"),
        em.MatthewsCorrCoef("multiclass", num_classes=c),
        em.ConfusionMatrix("multiclass", num_classes=c, class_names=names),
    ]
    ev = em.EpochEvaluator((scores, y, weights), metrics, batch_size=batch_size)
    got = ev.evaluate(_identity_model(c))
    pred = scores.argmax(1)
    f1 = skm.f1_score(y, pred, average=None, sample_weight=weights)
    expected = {f"val_f1_{k}": v for k, v in zip(names, f1, strict=True)}
    expected["val_precision"] = skm.precision_score(
        y, pred, average="weighted", sample_weight=weights
    )
    expected["val_mcc"] = skm.matthews_corrcoef(y, pred, sample_weight=weights)
    assert got == pytest.approx(expected, abs=1e-6)
    cm = skm.confusion_matrix(y, pred, sample_weight=weights)
    np.testing.assert_allclose(metrics[-1].matrix(), cm)


def test_result_shapes_become_keys_and_matrices():
    x = np.eye(3, dtype="float32")[[0, 1, 2, 2, 1]]
    y = np.array([0, 1, 2, 1, 1])
    ev = em.EpochEvaluator(
        (x, y),
        {
            "f1": lambda yt, yp: skm.f1_score(
                yt, yp.argmax(1), average=None
            ),  # 1-D: one key per class
            "cm": lambda yt, yp: skm.confusion_matrix(yt, yp.argmax(1)),  # 2-D: a matrix
            "rep": lambda yt, yp: skm.classification_report(yt, yp.argmax(1), output_dict=True),
            "top2": partial(skm.top_k_accuracy_score, k=2, labels=[0, 1, 2]),
        },
    )
    got = ev.evaluate(_identity_model(3))
    assert got["val_f1_0"] == 1.0 and got["val_f1_2"] == pytest.approx(2 / 3)
    assert got["val_1_recall"] == pytest.approx(2 / 3)
    assert got["val_macro avg_f1-score"] == pytest.approx((1 + 0.8 + 2 / 3) / 3)
    assert got["val_top2"] == 1.0
    assert "val_cm" not in got


def test_hooks_called_by_hand_still_fill_the_logs():
    x, y = _data()
    ev = em.EpochEvaluator((x, y), [em.Accuracy("binary")], steps=1)
    ev.set_model(_model())
    ev.on_train_begin()
    logs = {}
    ev.on_epoch_end(0, logs)
    assert set(logs) == {"val_accuracy"} and ev.history["epochs"] == [0]


def test_training_data_with_train_prefix():
    x, y = _data()
    recorder = _Recorder()
    ev = em.EpochEvaluator((x, y), [em.Accuracy("binary")], prefix="train_")
    model = _model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[recorder, ev])
    assert set(ev.history["scalars"]) == {"train_accuracy"}
    # The epoch's final weights (one epoch: the weights after fit), not a running in-fit value.
    final = skm.accuracy_score(y, model.predict(x, verbose=0)[:, 0] > 0.5)
    assert recorder.logs[0]["train_accuracy"] == pytest.approx(final, abs=1e-12)


def test_multi_output_model_selects_the_output_by_name_or_index():
    inputs = keras.Input((3,))
    outputs = {
        "a": keras.layers.Identity(name="a")(inputs),
        "b": keras.layers.Identity(name="b")(1.0 - inputs),
    }
    model = keras.Model(inputs, outputs)
    x = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    y_a = np.array([0, 1, 2, 0])  # argmax of output "a"
    y_b = np.array([1, 0, 0, 1])  # argmax of output "b" = 1 - x
    acc = {"acc": lambda yt, yp: skm.accuracy_score(yt, yp.argmax(1))}
    assert em.EpochEvaluator((x, y_a), acc, output="a").evaluate(model) == {"val_acc": 1.0}
    assert em.EpochEvaluator((x, y_b), acc, output="b").evaluate(model) == {"val_acc": 1.0}
    both = (x, {"a": y_a, "b": y_b})
    for output in ("a", "b", model.output_names.index("b")):
        assert em.EpochEvaluator(both, acc, output=output).evaluate(model) == {"val_acc": 1.0}
    with pytest.raises(ValueError, match="pass `output=`"):
        em.EpochEvaluator((x, y_a), acc).evaluate(model)
    with pytest.raises(ValueError, match="out of range"):
        em.EpochEvaluator((x, y_a), acc, output=2).evaluate(model)
    with pytest.raises(ValueError, match="does not name the model's only output"):
        em.EpochEvaluator((x, y_a), acc, output="c").evaluate(_identity_model(3))


# --- history -------------------------------------------------------------------------------------
def test_history_matches_the_contract_and_round_trips_through_json(tmp_path):
    x, y = _data()
    path = tmp_path / "run" / "evaluation.json"
    ev = em.EpochEvaluator(
        (x, y),
        [
            em.ConfusionMatrix("binary", class_names=["neg", "pos"]),
            em.F1Score("binary", average=None),
        ],
        history_path=path,
    )
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[ev])
    h = ev.history
    assert h["epochs"] == [0, 1]
    assert set(h["scalars"]) == {"val_f1_0", "val_f1_1"}
    assert all(isinstance(v, float) for vs in h["scalars"].values() for v in vs)
    matrix = h["matrices"]["val_confusion_matrix"]
    assert matrix["class_names"] == ["neg", "pos"] and len(matrix["values"]) == 2
    assert np.asarray(matrix["values"][0]).sum() == len(x)
    assert h["directions"] == {"val_f1_0": "up", "val_f1_1": "up"}
    with open(path) as f:
        assert json.load(f)["format"] == "epochmetrics.history/1"
    assert load_history(path) == h
    assert em.load_history is load_history


def test_history_nan_round_trip(tmp_path):
    x, y = _data()
    ev = em.EpochEvaluator((x, y), {"s": _scripted([math.nan, 0.5])})
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[ev])
    ev.save_history(tmp_path / "h.json")
    with open(tmp_path / "h.json") as f:
        assert "NaN" not in f.read()  # strict JSON: null
    loaded = load_history(tmp_path / "h.json")["scalars"]["val_s"]
    assert math.isnan(loaded[0]) and loaded[1] == 0.5


def test_load_history_rejects_other_json(tmp_path):
    (tmp_path / "x.json").write_text('{"loss": [1.0]}')
    with pytest.raises(ValueError, match="not an epochmetrics history"):
        load_history(tmp_path / "x.json")


# --- arguments -----------------------------------------------------------------------------------
_X, _Y = np.zeros((4, 2), "float32"), np.zeros(4, "int32")


def _f1():
    return em.F1Score("binary")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metrics": [_f1()], "every_n_epochs": 0}, ValueError, "every_n_epochs"),
        ({"metrics": [_f1()], "output": 1.5}, TypeError, "output"),
        ({"metrics": [lambda a, b: 0.0]}, TypeError, "needs a name"),
        ({"metrics": {"x": 3}}, TypeError, "Each metric must be"),
        ({"metrics": []}, ValueError, "empty"),
        ({"metrics": [_f1()], "data": None}, ValueError, "ModelEvaluator"),
        ({"metrics": [_f1()], "data": [(_X, _Y)], "batch_size": 2}, ValueError, "already batched"),
        ({"metrics": [_f1()], "steps": 0}, ValueError, "steps"),
        ({"metrics": [_f1()], "directions": {"val_f1": "higher"}}, ValueError, "'up' or 'down'"),
        ({"metrics": [_f1()], "data": (_X,)}, ValueError, "tuple `\\(x, y\\)`"),
        ({"metrics": [_f1()], "data": (_X, _Y[:3])}, ValueError, "must match"),
        ({"metrics": [_f1()], "data": 3}, TypeError, "must be an `\\(x, y\\)`"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    kwargs = {"data": (_X, _Y), **kwargs}
    with pytest.raises(error, match=match):
        em.EpochEvaluator(kwargs.pop("data"), kwargs.pop("metrics"), **kwargs)


def test_same_metric_object_twice_and_duplicate_keys():
    f1 = _f1()
    with pytest.raises(ValueError, match="listed twice"):
        em.EpochEvaluator((_X, _Y), {"a": f1, "b": f1})
    ev = em.EpochEvaluator((_X[:, :1], _Y), [_f1(), _f1()])
    with pytest.raises(ValueError, match="Two metrics produce the log key 'f1'"):
        ev.evaluate(_identity_model(1))


def test_public_names():
    assert em.EpochEvaluator is em.callbacks.EpochEvaluator
    assert set(em.callbacks.__all__) == {
        "EpochEvaluator",
        "EvaluationError",
        "ModelEvaluator",
        "RunRecorder",
        "TensorBoard",
        "load_history",
    }
    assert isinstance(em.EpochEvaluator((_X, _Y), [_f1()]), keras.callbacks.Callback)
