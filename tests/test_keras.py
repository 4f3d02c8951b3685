"""The metrics inside Keras: compiled fit/evaluate, log keys, callbacks, saving."""

from __future__ import annotations

import csv
import itertools
import math
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import sklearn.metrics as skm
from helpers import LOWER_IS_BETTER, assert_close, make_metric, metric_cases, sk

import epochmetrics as em
from epochmetrics._backend.keras_internals import keras_version

C = 4


def frozen_model(width: int) -> keras.Model:
    """A model whose predictions are its inputs: identity kernel, learning rate 0.

    Metrics computed inside the compiled train and test steps can then be checked against
    scikit-learn on the inputs themselves.
    """
    model = keras.Sequential(
        [
            keras.Input((width,)),
            keras.layers.Dense(width, use_bias=False, kernel_initializer="identity"),
        ]
    )
    return model


def compile_frozen(model: keras.Model, loss: str, metrics: list[Any]) -> None:
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=loss, metrics=metrics)


def multiclass_data(n: int = 203, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(C, size=n, p=[0.55, 0.25, 0.15, 0.05]).astype(np.int32)
    x = rng.random((n, C)).astype(np.float32)
    x[np.arange(n), y] += rng.random(n).astype(np.float32) * 0.6  # better than chance
    return x, y


def test_fit_and_evaluate_match_sklearn_multiclass(tmp_path: Path) -> None:
    x, y = multiclass_data()
    xv, yv = multiclass_data(97, seed=1)
    model = frozen_model(C)
    compile_frozen(
        model,
        "mse",
        [
            em.F1Score("multiclass", num_classes=C, average=None, class_names=["a", "b", "c", "d"]),
            em.F1Score("multiclass", num_classes=C, name="f1_macro"),
            em.Precision("multiclass", num_classes=C, average="weighted"),
            em.MatthewsCorrCoef("multiclass", num_classes=C),
            em.CohenKappa("multiclass", num_classes=C, weights="quadratic"),
            em.BalancedAccuracy("multiclass", num_classes=C),
            em.ClassificationReport("multiclass", num_classes=C, name="report"),
        ],
    )
    logger = tmp_path / "history.csv"
    onehot = np.eye(C, dtype=np.float32)
    history = model.fit(
        x,
        onehot[y],
        batch_size=16,
        epochs=2,
        validation_data=(xv, onehot[yv]),
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(logger))],
    )
    p, pv = x.argmax(1), xv.argmax(1)
    for prefix, (t, q) in {"": (y, p), "val_": (yv, pv)}.items():
        h = {k: v[-1] for k, v in history.history.items()}
        assert_close(h[f"{prefix}f1_c"], skm.f1_score(t, q, average=None, labels=range(C))[2])
        assert_close(h[f"{prefix}f1_macro"], skm.f1_score(t, q, average="macro"))
        assert_close(h[f"{prefix}precision"], sk(skm.precision_score, t, q, average="weighted"))
        assert_close(h[f"{prefix}mcc"], skm.matthews_corrcoef(t, q))
        assert_close(
            h[f"{prefix}kappa"], skm.cohen_kappa_score(t, q, weights="quadratic", labels=range(C))
        )
        assert_close(h[f"{prefix}balanced_accuracy"], skm.balanced_accuracy_score(t, q))
        assert_close(h[f"{prefix}report_recall_macro"], sk(skm.recall_score, t, q, average="macro"))
        assert_close(h[f"{prefix}report_support_3"], float((t == 3).sum()))
    # Per-class values are plain float columns in CSVLogger.
    with logger.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for key in ["f1_a", "val_f1_d", "f1_macro", "val_report_f1_weighted"]:
        assert float(rows[-1][key]) == pytest.approx(history.history[key][-1], abs=1e-7)

    # evaluate with an uneven last batch, sparse labels this time.
    compile_frozen(
        model,
        "sparse_categorical_crossentropy",
        [em.F1Score("multiclass", num_classes=C, average="micro")],
    )
    result = model.evaluate(xv, yv, batch_size=13, return_dict=True, verbose=0)
    assert_close(result["f1"], skm.f1_score(yv, pv, average="micro"))


class VariableBatches(keras.utils.PyDataset):
    """Batches of uneven sizes, including size 1."""

    def __init__(self, x: np.ndarray, y: np.ndarray, sizes: list[int]) -> None:
        super().__init__()
        edges = np.cumsum([0, *sizes])
        self.batches = [(x[a:b], y[a:b]) for a, b in itertools.pairwise(edges)]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batches[i]


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_evaluate_random_partition_binary_and_multilabel(task: str) -> None:
    rng = np.random.default_rng(3)
    sizes = [1, 7, 30, 1, 15, 50]
    n = sum(sizes)
    width = 1 if task == "binary" else 3
    y = (rng.random((n, width)) < 0.4).astype(np.float32)
    x = np.clip(y * 0.5 + rng.random((n, width)) * 0.6, 0, 1).astype(np.float32)
    model = frozen_model(width)
    kw: dict[str, Any] = {} if task == "binary" else {"num_classes": width}
    compile_frozen(
        model,
        "binary_crossentropy",
        [
            em.F1Score(task, **kw, average=None),
            em.Recall(task, **kw, threshold=0.3, name="recall_at_03"),
            em.JaccardIndex(task, **kw, average="micro"),
            em.Accuracy(task, **kw),
        ],
    )
    result = model.evaluate(VariableBatches(x, y, sizes), return_dict=True, verbose=0)
    t, q = y.astype(int), (x > 0.5).astype(int)
    if task == "binary":
        t, q = t.ravel(), q.ravel()
    per = sk(skm.f1_score, t, q, average=None, labels=[0, 1] if task == "binary" else None)
    for i, v in enumerate(per):
        assert_close(result[f"f1_{i}"], v)
    expected_recall = sk(
        skm.recall_score,
        t,
        (x > 0.3).astype(int).reshape(q.shape),
        average="binary" if task == "binary" else "macro",
    )
    assert_close(result["recall_at_03"], expected_recall)
    assert_close(result["jaccard"], sk(skm.jaccard_score, t, q, average="micro"))
    assert_close(result["accuracy"], skm.accuracy_score(t, q))


def test_callbacks_monitor_per_class_keys(tmp_path: Path) -> None:
    """EarlyStopping, ReduceLROnPlateau and ModelCheckpoint act on per-class and averaged keys."""
    x, y = multiclass_data()
    model = frozen_model(C)
    compile_frozen(
        model,
        "sparse_categorical_crossentropy",
        [
            em.F1Score("multiclass", num_classes=C, average=None),
            em.F1Score("multiclass", num_classes=C, name="f1_macro"),
        ],
    )
    ckpt = tmp_path / "best.keras"
    stopper = keras.callbacks.EarlyStopping(monitor="val_f1_3", mode="max", patience=1)
    reducer = keras.callbacks.ReduceLROnPlateau(
        monitor="val_f1_macro", patience=1, min_lr=0.0, factor=0.5
    )
    saver = keras.callbacks.ModelCheckpoint(str(ckpt), monitor="val_f1_macro", save_best_only=True)
    history = model.fit(
        x,
        y,
        epochs=5,
        batch_size=32,
        validation_data=(x, y),
        verbose=0,
        callbacks=[stopper, reducer, saver],
    )
    # Frozen weights: the metric never improves after epoch 0, so patience=1 stops after epoch 1.
    assert len(history.history["val_f1_3"]) == 2
    assert stopper.stopped_epoch == 1
    assert ckpt.exists()
    # mode="auto" on the averaged key: from Keras 3.11 ReduceLROnPlateau finds the metric by
    # name and reads _direction; before, it decides by the name ("min" without "acc"), which
    # the README documents (pass mode="max" there).
    higher_is_better = keras_version()[:2] >= (3, 11)
    assert bool(reducer.monitor_op(2.0, 1.0)) == higher_is_better
    assert bool(reducer.monitor_op(1.0, 2.0)) != higher_is_better


def test_keras_canary_auto_mode_on_per_class_key_is_a_clear_error() -> None:
    """Keras-behaviour canary: Keras cannot resolve mode="auto" for a per-class key and says
    so (the README tells users to pass mode="max")."""
    x, y = multiclass_data(40)
    model = frozen_model(C)
    compile_frozen(
        model,
        "sparse_categorical_crossentropy",
        [em.F1Score("multiclass", num_classes=C, average=None)],
    )
    stopper = keras.callbacks.EarlyStopping(monitor="val_f1_2")
    with pytest.raises(ValueError, match="mode='max'"):
        model.fit(x, y, epochs=1, validation_data=(x, y), verbose=0, callbacks=[stopper])


def test_save_and_load_without_custom_objects(tmp_path: Path) -> None:
    x, y = multiclass_data(64)
    model = frozen_model(C)
    metrics = [
        em.F1Score("multiclass", num_classes=C, average=None, class_names=list("wxyz")),
        em.FBetaScore("multiclass", num_classes=C, beta=0.5, zero_division=1.0),
        em.CohenKappa("multiclass", num_classes=C, weights="linear"),
        em.ConfusionMatrix("multiclass", num_classes=C, normalize="true"),
        em.ClassificationReport("multiclass", num_classes=C, include=["f1", "mcc"]),
    ]
    compile_frozen(model, "sparse_categorical_crossentropy", metrics)
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    before = model.evaluate(x, y, return_dict=True, verbose=0)
    after = loaded.evaluate(x, y, return_dict=True, verbose=0)
    for key in before:
        assert_close(after[key], before[key], what=key)


# Non-default settings, then every registered metric class on every task it takes.
SETTINGS = [
    lambda: em.Precision("multiclass", num_classes=3, average=None, class_names=["a", "b", "c"]),
    lambda: em.Recall("binary", threshold=0.3, from_logits=True),
    lambda: em.F1Score("multilabel", num_classes=3, average="micro", ignore_index=-1),
    lambda: em.FBetaScore("binary", beta=2.0, zero_division=math.nan),
    lambda: em.Specificity("multiclass", num_classes=3, average="weighted"),
    lambda: em.JaccardIndex("multilabel", num_classes=2, average=None),
    lambda: em.Accuracy("multiclass", num_classes=5),
    lambda: em.BalancedAccuracy("binary"),
    lambda: em.MatthewsCorrCoef("multiclass", num_classes=3, name="m"),
    lambda: em.CohenKappa("multiclass", num_classes=4, weights="quadratic"),
    lambda: em.ConfusionMatrix("multilabel", num_classes=2, normalize="pred"),
    lambda: em.ClassificationReport(
        "multiclass", num_classes=3, averages=["micro"], per_class=False
    ),
    lambda: em.AUROC("multiclass", num_classes=3, average=None, exact=True, capacity=16),
    lambda: em.AveragePrecision("multilabel", num_classes=2, bins_per_octave=8, per_step="all"),
]
ALL_METRICS = [*SETTINGS, *(partial(make_metric, n, t) for n, t in metric_cases())]


@pytest.mark.parametrize("make", ALL_METRICS)
def test_config_round_trip_and_direction(make: Any) -> None:
    metric = make()
    assert metric._direction == ("down" if type(metric).__name__ in LOWER_IS_BETTER else "up")
    config = metric.get_config()
    clone = type(metric).from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(metric)
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(metric)
    assert restored.get_config() == config


def test_invalid_labels_inside_compiled_step_give_nan() -> None:
    """Out-of-range labels cannot raise inside XLA/tf.function, and torch's eager steps do not
    read values on the host (a device sync per step): the epoch's value becomes NaN, and the
    epoch's read warns with the counts."""
    x, y = multiclass_data(50)
    y = y.copy()
    y[7] = C + 2
    model = frozen_model(C)
    compile_frozen(
        model,
        "mse",
        [
            em.F1Score("multiclass", num_classes=C),
            em.ClassificationReport("multiclass", num_classes=C),
        ],
    )
    xs, ys = x.reshape(-1, C), y.reshape(-1, 1)
    with pytest.warns(RuntimeWarning, match="is NaN: a compiled step received") as caught:
        result = model.evaluate(xs, ys, return_dict=True, verbose=0)
    # One warning per metric, naming it, the kind of input and the count.
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning))
    assert len(messages) == 2
    assert messages[0].startswith(
        "ClassificationReport 'classification_report' is NaN: a compiled step received 1 y_true "
        "labels outside [0, num_classes=4)"
    )
    assert messages[1].startswith("F1Score 'f1' is NaN: a compiled step received 1 y_true")
    assert math.isnan(result["f1"])
    assert math.isnan(result["f1_macro"]) and math.isnan(result["mcc"])


def test_keras_canary_a_nan_epoch_is_never_an_improvement() -> None:
    """Keras-behaviour canary (no code of ours runs): what the README promises for epochs
    poisoned by invalid labels. EarlyStopping keeps its best value and counts the NaN epoch as
    one without improvement."""
    stop = keras.callbacks.EarlyStopping(monitor="val_f1", mode="max", patience=2)
    model = frozen_model(C)
    model.stop_training = False  # as fit sets it
    stop.set_model(model)
    stop.on_train_begin()
    stop.on_epoch_end(0, {"val_f1": 0.5})
    stop.on_epoch_end(1, {"val_f1": math.nan})
    assert stop.best == 0.5 and stop.wait == 1 and not model.stop_training
    stop.on_epoch_end(2, {"val_f1": math.nan})
    assert stop.best == 0.5 and model.stop_training


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_every_metric_inside_compiled_evaluate(task: str) -> None:
    """Each metric class in one compiled test step, uneven batches, against scikit-learn."""
    rng = np.random.default_rng(11)
    n, width = 150, {"binary": 1, "multiclass": C, "multilabel": 3}[task]
    x = rng.random((n, width)).astype(np.float32)
    if task == "multiclass":
        y = rng.integers(0, C, n).astype(np.int32)
        t, q = y, x.argmax(1)
        loss, kw = "sparse_categorical_crossentropy", {"num_classes": C}
    else:
        y = (rng.random((n, width)) < 0.5).astype(np.float32)
        t, q = y.astype(int), (x > 0.5).astype(int)
        if task == "binary":
            t, q = t.ravel(), q.ravel()
        loss, kw = "binary_crossentropy", {} if task == "binary" else {"num_classes": width}
    avg = "binary" if task == "binary" else "macro"
    metrics: list[Any] = [
        em.Precision(task, **kw, average="weighted"),
        em.Recall(task, **kw, average="micro"),
        em.F1Score(task, **kw),
        em.FBetaScore(task, **kw, beta=0.5),
        em.JaccardIndex(task, **kw),
        em.Specificity(task, **kw, average=None),
        em.Accuracy(task, **kw),
    ]
    expected: dict[str, float] = {
        "precision": sk(skm.precision_score, t, q, average="weighted"),
        "recall": sk(skm.recall_score, t, q, average="micro"),
        "f1": sk(skm.f1_score, t, q, average=avg),
        "fbeta": sk(skm.fbeta_score, t, q, beta=0.5, average=avg),
        "jaccard": sk(skm.jaccard_score, t, q, average=avg),
        "accuracy": skm.accuracy_score(t, q),
    }
    cols = (
        [(t == k, q == k) for k in range(2)]
        if task == "binary"
        else (
            [(t == k, q == k) for k in range(C)]
            if task == "multiclass"
            else [(t[:, k], q[:, k]) for k in range(width)]
        )
    )
    for k, (tk, qk) in enumerate(cols):
        expected[f"specificity_{k}"] = sk(
            skm.recall_score, 1 - np.asarray(tk, int), 1 - np.asarray(qk, int)
        )
    if task != "multilabel":
        metrics += [
            em.BalancedAccuracy(task, **kw),
            em.MatthewsCorrCoef(task, **kw),
            em.CohenKappa(task, **kw),
        ]
        expected.update(
            balanced_accuracy=skm.balanced_accuracy_score(t, q),
            mcc=skm.matthews_corrcoef(t, q),
            kappa=sk(skm.cohen_kappa_score, t, q),
        )
    metrics.append(em.ConfusionMatrix(task, **kw))
    model = frozen_model(width)
    compile_frozen(model, loss, metrics)
    result = model.evaluate(x, y, batch_size=17, return_dict=True, verbose=0)
    for key, value in expected.items():
        assert_close(result[key], value, what=key)
    cm = (
        skm.multilabel_confusion_matrix(t, q)
        if task == "multilabel"
        else skm.confusion_matrix(t, q, labels=range(2 if task == "binary" else C))
    )
    assert_close(metrics[-1].result(), cm)
