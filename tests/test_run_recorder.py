"""`em.RunRecorder`: a run directory from any `fit`, current at every epoch, read by the report.

The oracle is scikit-learn and NumPy on the validation predictions saved after each epoch.
"""

from __future__ import annotations

import csv
import json

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import epochmetrics as em
from epochmetrics.report import load_run, write_report

NAMES = ["cat", "dog", "fox"]
T = np.linspace(0.0, 1.0, 101)


def _data():
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 1.5, (3, 5))
    y = rng.integers(0, 3, 300)
    x = (centres[y] + rng.normal(0, 1.8, (300, 5))).astype("float32")
    return x[:200], y[:200], x[200:], y[200:]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    x, y, xv, yv = _data()
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    kw = {"num_classes": 3, "class_names": NAMES}
    model.compile(
        keras.optimizers.Adam(0.03),
        "sparse_categorical_crossentropy",
        metrics=[
            em.F1Score("multiclass", average=None, **kw),
            em.F1Score("multiclass", name="f1_macro", **kw),
            em.AUROC("multiclass", **kw),  # binned: curves within their bound
        ],
    )
    evaluator = em.EpochEvaluator(
        (xv, yv),
        {
            "cm": em.ConfusionMatrix("multiclass", **kw),
            "ap": em.AveragePrecision("multiclass", **kw),
        },
        batch_size=50,
    )
    predictions, during = [], []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            predictions.append(model.predict(xv, batch_size=50, verbose=0))
            during.append(load_run(run_dir))  # the directory is readable while training

    history = model.fit(
        x,
        y,
        validation_data=(xv, yv),
        validation_batch_size=50,
        epochs=3,
        batch_size=50,
        verbose=0,
        callbacks=[em.RunRecorder(run_dir, settings={"data": "blobs"}), Watch(), evaluator],
    )
    return run_dir, history.history, np.stack(predictions), yv, during


def test_files_and_history(recorded):
    run_dir, history, _, _, during = recorded
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "curves.json",
        "evaluation.json",
        "history.csv",
        "run.json",
    ]
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    scalars = {k: v for k, v in history.items() if np.size(v[0]) == 1}
    assert set(rows[0]) == {"epoch", *scalars}
    for key, values in scalars.items():
        assert [float(r[key]) for r in rows] == [float(v) for v in values], key
    assert [r.history.epochs for r in during] == [[0], [0, 1], [0, 1, 2]]


def test_best_epoch_matrix_and_table(recorded):
    run_dir, history, pred, yv, _ = recorded
    info = json.loads((run_dir / "run.json").read_text())
    best = int(np.argmax(history["val_f1_macro"]))
    assert info["monitor"] == "val_f1_macro" and info["best_epoch"] == best
    assert info["class_names"] == NAMES
    assert info["settings"]["data"] == "blobs" and info["settings"]["epochs"] == 3
    labels = pred[best].argmax(axis=1)
    expected = confusion_matrix(yv, labels, labels=range(3))
    np.testing.assert_array_equal(info["confusion_matrix"], expected)
    p, r, f, s = precision_recall_fscore_support(yv, labels, labels=range(3), zero_division=0.0)
    for key, values in (("precision", p), ("recall", r), ("f1", f), ("support", s)):
        np.testing.assert_allclose(info["per_class"][key], values, rtol=1e-12)
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["epochs"] == [0, 1, 2]
    for epoch, matrix in enumerate(evaluation["matrices"]["val_cm"]["values"]):
        expected = confusion_matrix(yv, pred[epoch].argmax(axis=1), labels=range(3))
        np.testing.assert_array_equal(matrix, expected)


def test_curves_of_the_best_epoch(recorded):
    run_dir, history, pred, yv, _ = recorded
    best = int(np.argmax(history["val_f1_macro"]))
    info = json.loads((run_dir / "curves.json").read_text())
    assert info["epoch"] == best and set(info["curves"]) == {"val_ap", "val_auroc"}
    scores = pred[best]
    tp = np.array([[np.sum((yv == k) & (scores[:, k] >= t)) for t in T] for k in range(3)])
    fp = np.array([[np.sum((yv != k) & (scores[:, k] >= t)) for t in T] for k in range(3)])
    exact = info["curves"]["val_ap"]  # the evaluator's whole arrays
    assert exact["labels"] == NAMES and "tp_error" not in exact
    near = np.abs(scores[:, :, None] - T[None, None, :]).min(axis=0) < 1e-6  # (3, T)
    np.testing.assert_array_equal(np.asarray(exact["tp"])[~near], tp[~near])
    np.testing.assert_array_equal(np.asarray(exact["fp"])[~near], fp[~near])
    binned = info["curves"]["val_auroc"]  # the compiled metric's bins
    got, err = np.asarray(binned["tp"]), np.asarray(binned.get("tp_error", np.zeros_like(tp)))
    assert np.all(got - err <= tp + 1e-9) and np.all(tp <= got + 1e-9)


def test_report_shows_the_new_sections(recorded, tmp_path):
    pytest.importorskip("matplotlib")
    run_dir, history, *_ = recorded
    best = int(np.argmax(history["val_f1_macro"]))
    page = write_report(run_dir, tmp_path / "r.html").read_text()
    assert f"Per-class PR and ROC curves at epoch {best}</h2>" in page
    assert "Confusion matrices by epoch" in page and "<h3>val_ap</h3>" in page
    assert f"Confusion matrix at epoch {best}</h2>" in page
