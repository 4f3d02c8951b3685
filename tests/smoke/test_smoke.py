"""The compatibility smoke suite: each user-facing feature once, checked against an oracle.

`make compat` runs this directory on the oldest and newest supported stacks (see
`tools/compat.py`), each from the built wheel in a fresh environment; the full suite runs it on
the development stack too. One test per feature, on small data (a few seconds each, most of it
compiling): when you add a feature, add its test here, against scikit-learn (or pycocotools),
never against our own output. Only numpy, scikit-learn, pycocotools, pytest, hypothesis
(through tests/conftest.py) and the backend are installed where it runs: no torch or
TensorFlow beside the backend, no matplotlib.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from sklearn import datasets
from sklearn import metrics as skm

import epochmetrics as em

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ATOL = 1e-6


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, x_val, y_val): scikit-learn's digits, shuffled, scaled to [0, 1]."""
    x, y = datasets.load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = (x[order] / 16.0).astype("float32"), y[order].astype("int32")
    return x[:400], y[:400], x[400:600], y[400:600]


def mlp(outputs: int = 10) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(outputs, activation="softmax")])


def sk(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's undefined-metric warnings
        return fn(*args, **kwargs)


def last(history: keras.callbacks.History, key: str) -> float:
    assert key in history.history, f"{key!r} missing from History: {sorted(history.history)}"
    return float(history.history[key][-1])


def test_installed_package() -> None:
    """The package imported is the one under test, and reports its version from metadata."""
    if os.environ.get("EPOCHMETRICS_SMOKE_INSTALLED"):
        # tools/compat.py installs the built wheel: a file missing from it fails here.
        assert "site-packages" in Path(em.__file__).parts, em.__file__
    assert em.__version__ == importlib.metadata.version("epochmetrics")


def test_per_class_f1_in_fit(digits: Any) -> None:
    """Per-class and macro F1 compiled in fit: every key in History, equal to scikit-learn."""
    x, y, xv, yv = digits
    model = mlp()
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=[
            em.F1Score("multiclass", num_classes=10, average=None, class_names=NAMES),
            em.F1Score("multiclass", num_classes=10, name="f1_macro"),
        ],
    )
    history = model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=64, verbose=0)
    pred = np.argmax(model.predict(xv, verbose=0), axis=-1)
    per_class = sk(skm.f1_score, yv, pred, average=None, labels=range(10))
    for c, name in enumerate(NAMES):
        assert f"f1_{name}" in history.history
        assert last(history, f"val_f1_{name}") == pytest.approx(per_class[c], abs=ATOL)
    macro = sk(skm.f1_score, yv, pred, average="macro", labels=range(10))
    assert last(history, "val_f1_macro") == pytest.approx(macro, abs=ATOL)
    evaluated = model.evaluate(xv, yv, verbose=0, return_dict=True)
    assert evaluated["f1_three"] == pytest.approx(per_class[3], abs=ATOL)


def test_classification_report_in_fit(digits: Any) -> None:
    x, y, xv, yv = digits
    model = mlp()
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=[em.ClassificationReport("multiclass", num_classes=10, name="report")],
    )
    history = model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=64, verbose=0)
    pred = np.argmax(model.predict(xv, verbose=0), axis=-1)
    expected = {
        "report_f1_macro": sk(skm.f1_score, yv, pred, average="macro"),
        "report_precision_weighted": sk(skm.precision_score, yv, pred, average="weighted"),
        "report_recall_4": sk(skm.recall_score, yv, pred, average=None, labels=range(10))[4],
        "report_support_7": float(np.sum(yv == 7)),
        "report_accuracy": skm.accuracy_score(yv, pred),
        "report_mcc": skm.matthews_corrcoef(yv, pred),
    }
    for key, value in expected.items():
        assert f"{key}" in history.history, key
        assert last(history, f"val_{key}") == pytest.approx(value, abs=ATOL), key


def test_two_output_model(digits: Any) -> None:
    """Per-class keys carry the output's name; each head equals scikit-learn."""
    x, y, xv, yv = digits
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(inputs)
    parity = keras.layers.Dense(1, activation="sigmoid", name="parity")(inputs)
    model = keras.Model(inputs, {"digit": digit, "parity": parity})
    model.compile(
        "adam",
        {"digit": "sparse_categorical_crossentropy", "parity": "binary_crossentropy"},
        metrics={
            "digit": [em.F1Score("multiclass", num_classes=10, average=None)],
            "parity": [em.F1Score("binary")],
        },
    )
    targets = {"digit": y, "parity": (y % 2).astype("float32")}
    val = (xv, {"digit": yv, "parity": (yv % 2).astype("float32")})
    history = model.fit(x, targets, validation_data=val, epochs=2, batch_size=64, verbose=0)
    out = model.predict(xv, verbose=0)
    per_class = sk(skm.f1_score, yv, np.argmax(out["digit"], -1), average=None, labels=range(10))
    for c in range(10):
        assert last(history, f"val_digit_f1_{c}") == pytest.approx(per_class[c], abs=ATOL)
    binary = sk(skm.f1_score, yv % 2, (out["parity"][:, 0] > 0.5).astype(int))
    assert last(history, "val_parity_f1") == pytest.approx(binary, abs=ATOL)


class _Seen(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[set[str]] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.keys.append(set(logs or {}))


def test_early_stopping_and_csv_logger_on_a_per_class_key(digits: Any, tmp_path: Path) -> None:
    """Callbacks see the per-class keys at every epoch end; CSVLogger writes a column each."""
    x, y, xv, yv = digits
    model = mlp()
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=[em.F1Score("multiclass", num_classes=10, average=None)],
    )
    seen = _Seen()
    path = tmp_path / "history.csv"
    stop = keras.callbacks.EarlyStopping(monitor="val_f1_3", mode="max", patience=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # recorded, not raised: Keras' own handling goes on
        model.fit(
            x,
            y,
            validation_data=(xv, yv),
            epochs=2,
            batch_size=64,
            verbose=0,
            callbacks=[stop, seen, keras.callbacks.CSVLogger(str(path))],
        )
    # Keras warns when the monitored key is missing from an epoch's logs.
    assert not [w for w in caught if "val_f1_3" in str(w.message)], [str(w.message) for w in caught]
    assert seen.keys and all({"f1_3", "val_f1_3", "val_f1_9"} <= keys for keys in seen.keys)
    assert stop.best is not None and np.isfinite(stop.best)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(seen.keys) and "val_f1_0" in rows[0] and "f1_9" in rows[0]
    assert float(rows[-1]["val_f1_3"]) == pytest.approx(stop.best, abs=1e-4) or stop.wait


def test_epoch_evaluator_auroc(digits: Any) -> None:
    """EpochEvaluator: exact AUROC and a streamed confusion matrix on whole arrays."""
    x, y, xv, yv = digits
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    evaluator = em.EpochEvaluator(
        (xv, yv),
        {
            "auroc": em.AUROC("multiclass", num_classes=10),
            "cm": em.ConfusionMatrix("multiclass", num_classes=10),
        },
        batch_size=64,
    )
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[evaluator])
    scores = model.predict(xv, verbose=0)
    expected = skm.roc_auc_score(yv, scores, multi_class="ovr", average="macro")
    assert last(history, "val_auroc") == pytest.approx(expected, abs=ATOL)
    matrix = evaluator.history["matrices"]["val_cm"]["values"][-1]
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(yv, scores.argmax(-1)))


def test_binned_auroc_in_fit(digits: Any) -> None:
    """Compiled binned AUROC: within its error bound of scikit-learn (bins far finer than the
    gaps between these scores, so the bound is tiny); exact AUROC equal."""
    x, y, xv, yv = digits
    model = mlp()
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=[
            em.AUROC("multiclass", num_classes=10),
            em.AUROC("multiclass", num_classes=10, exact=True, capacity=512, name="auroc_x"),
        ],
    )
    history = model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=64, verbose=0)
    scores = model.predict(xv, verbose=0)
    expected = skm.roc_auc_score(yv, scores, multi_class="ovr", average="macro")
    assert last(history, "val_auroc") == pytest.approx(expected, abs=1e-3)
    assert last(history, "val_auroc_x") == pytest.approx(expected, abs=ATOL)


def test_confusion_matrix(digits: Any) -> None:
    """ConfusionMatrix eagerly over uneven batches, and compiled in evaluate."""
    _, _, xv, yv = digits
    model = mlp()
    scores = model.predict(xv, verbose=0)
    expected = skm.confusion_matrix(yv, scores.argmax(-1), labels=range(10))
    metric = em.ConfusionMatrix("multiclass", num_classes=10)
    for start, stop in ((0, 1), (1, 70), (70, 200)):
        metric.update_state(yv[start:stop], scores[start:stop])
    np.testing.assert_array_equal(metric.matrix(), expected)
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=[em.ConfusionMatrix("multiclass", num_classes=10)],
    )
    model.evaluate(xv, yv, batch_size=64, verbose=0)
    cm = [m for m in _all_metrics(model) if isinstance(m, em.ConfusionMatrix)]
    assert len(cm) == 1
    np.testing.assert_array_equal(cm[0].matrix(), expected)


def _all_metrics(model: keras.Model) -> list[Any]:
    found = []
    for m in model.metrics:
        found.extend(getattr(m, "metrics", [m]))
    return found


def test_save_and_load_keras_file(digits: Any, tmp_path: Path) -> None:
    """A model compiled with our metrics loads without custom_objects and logs the same keys."""
    x, y, xv, yv = digits
    model = mlp()
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=[
            em.F1Score("multiclass", num_classes=10, average=None, class_names=NAMES),
            em.ClassificationReport("multiclass", num_classes=10, name="report"),
        ],
    )
    # Trained once, so the optimizer's state is built (TensorFlow refuses to load it else).
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    before = model.evaluate(xv, yv, verbose=0, return_dict=True)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    after = loaded.evaluate(xv, yv, verbose=0, return_dict=True)
    assert set(after) == set(before) and "f1_nine" in after and "report_f1_macro" in after
    for key, value in before.items():
        assert after[key] == pytest.approx(value, abs=1e-5), key
    pred = np.argmax(model.predict(xv, verbose=0), axis=-1)
    assert after["f1_nine"] == pytest.approx(sk(skm.f1_score, yv, pred, average=None)[9], abs=ATOL)


def _coco_data() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(1)
    images = [{"id": i, "width": 200, "height": 200} for i in range(1, 9)]
    annotations, results = [], []
    for image in images:
        for _ in range(rng.integers(1, 4)):
            x0, y0, side = *rng.uniform(0, 150, 2).round(1), float(rng.choice([12, 40, 120]))
            category = int(rng.integers(1, 4))
            box = [float(x0), float(y0), side, side]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image["id"],
                    "category_id": category,
                    "bbox": box,
                    "area": side * side,
                    "iscrowd": 0,
                }
            )
            shift = float(rng.choice([0.0, 2.0, side / 3]))
            results.append(
                {
                    "image_id": image["id"],
                    "category_id": category if rng.random() < 0.8 else 1,
                    "bbox": [box[0] + shift, box[1], side, side],
                    "score": float(rng.integers(1, 100) / 100),
                }
            )
    categories = [{"id": c} for c in (1, 2, 3)]
    return {"images": images, "annotations": annotations, "categories": categories}, results


def _pycocotools_stats(gt: dict[str, Any], results: list[dict[str, Any]]) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.where(ev.stats == -1, np.nan, ev.stats)


def test_coco_functional_and_cli(tmp_path: Path) -> None:
    """coco_evaluate and the installed `epochmetrics coco` command, against pycocotools."""
    from epochmetrics.functional.detection import coco_evaluate

    gt, results = _coco_data()
    expected = _pycocotools_stats(gt, results)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", em.UndefinedMetricWarning)
        stats = coco_evaluate(gt, results).stats
    np.testing.assert_allclose(list(stats.values()), expected, atol=1e-12)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    command = [sys.executable, "-m", "epochmetrics", "coco", "gt.json", "res.json", "--json"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["stats"]["map_50"] == pytest.approx(expected[1], abs=1e-12)


# Two logical CPU devices must be set before TensorFlow initialises: a fresh process.
_MIRRORED = """
import json
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import epochmetrics as em

rng = np.random.default_rng(0)
x = rng.normal(size=(300, 6)).astype("float32")
y = rng.integers(0, 3, 300).astype("int32")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy",
                  metrics=[em.F1Score("multiclass", num_classes=3, average="macro", name="f1"),
                           em.Precision("multiclass", num_classes=3, average="micro", name="p")])
logs = model.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
pred = model.predict(x, batch_size=32, verbose=0).argmax(-1)
result = {"f1": float(logs["f1"]), "p": float(logs["p"]), "y": y.tolist(), "pred": pred.tolist()}
print("RESULT " + json.dumps(result))
"""


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_mirrored_strategy_gives_the_one_device_values() -> None:
    """Under MirroredStrategy (two replicas) a compiled metric holds the whole epoch: on Keras
    < 3.10 metric variables synced on write summed the replicas' states at every step."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-W", "ignore", "-c", _MIRRORED]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    y, pred = result["y"], result["pred"]
    assert result["f1"] == pytest.approx(sk(skm.f1_score, y, pred, average="macro"), abs=1e-6)
    assert result["p"] == pytest.approx(sk(skm.precision_score, y, pred, average="micro"), abs=1e-6)
