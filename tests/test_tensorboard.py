"""`em.TensorBoard`: event files read back by TensorBoard itself, without TensorFlow.

A fresh process fits a small classifier with `em.TensorBoard` on this suite's backend (on JAX
and torch with TensorFlow blocked from import: tests/tensorboard_fit.py). Its event files are
read with TensorBoard's own `EventAccumulator`: every History scalar at every epoch (float32);
per-class PR curves whose TP/FP/TN/FN at each threshold t of `linspace(0, 1, 101)` equal
NumPy's counts of "score >= t" on the validation predictions (exact metrics), or lie within
the documented bound (binned: the exact count at a threshold at most 1.6% of min(t, 1 - t)
below t); confusion-matrix images that decode as PNG. Then a real TensorBoard server on a
free port answers for the scalar and PR-curve tags, and headless Chromium shows the PR-curve
dashboard (skipped, with the reason, where Chromium is missing).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import keras
import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = Path(__file__).resolve().parent
NAMES = ["cat", "dog", "fox"]
T = np.linspace(0.0, 1.0, 101)
BACKEND = keras.backend.backend()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tensorboard")
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "PYTHONPATH": str(HERE.parent / "src")}
    proc = subprocess.run(
        [sys.executable, str(HERE / "tensorboard_fit.py"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def accumulator(run, name):
    acc = EventAccumulator(str(run / "logs" / name), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def decode(proto):
    """A tensor proto as NumPy (float32, or a list of bytes for strings), read plainly (not with
    tensorboard.util.tensor_util, which imports TensorFlow where it is installed)."""
    if proto.dtype == 7:  # DT_STRING
        return list(proto.string_val)
    assert proto.dtype == 1, proto.dtype  # DT_FLOAT
    shape = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype="<f4").reshape(shape)
    return np.asarray(proto.float_val, dtype=np.float32).reshape(shape)


def series(acc, tag):
    """`{step: value}`, checking there is one value per step."""
    events = acc.Tensors(tag)
    steps = [e.step for e in events]
    assert len(steps) == len(set(steps)), f"{tag}: several values at one step {steps}"
    return {e.step: decode(e.tensor_proto) for e in events}


def test_no_tensorflow_on_jax_and_torch(run):
    info = json.loads((run / "info.json").read_text())
    assert info["tensorflow_imported"] is (BACKEND == "tensorflow")
    assert {p.name for p in (run / "logs").iterdir()} == {"train", "validation"}
    for name in ("train", "validation"):
        files = [p.name for p in (run / "logs" / name).iterdir()]
        assert any(f.endswith(".epochmetrics") for f in files), files


def test_every_history_scalar_at_every_epoch(run):
    history = json.loads((run / "history.json").read_text())
    accs = {"train": accumulator(run, "train"), "validation": accumulator(run, "validation")}
    assert "val_f1_cat" in history and "val_roc" in history and "ap_exact" in history
    for key, values in history.items():
        split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        per_class = [c for c in NAMES if name.endswith("_" + c)]
        tag = f"{name[: -len(per_class[0]) - 1]}/{per_class[0]}" if per_class else f"epoch_{name}"
        got = series(accs[split], tag)
        assert sorted(got) == list(range(len(values))), (key, tag)
        for epoch, value in enumerate(values):
            assert got[epoch].dtype == np.float32 and got[epoch] == np.float32(value), (key, epoch)


def counts_at(y, scores, thresholds):
    """The oracle: (tp, fp, tn, fn) `(K, T)` by plain comparisons."""
    rows = []
    for k in range(scores.shape[1]):
        pos = y == k
        hit = scores[:, k][:, None] >= np.asarray(thresholds)[None, :]
        tp = (hit & pos[:, None]).sum(0)
        fp = (hit & ~pos[:, None]).sum(0)
        rows.append((tp, fp, (~pos).sum() - fp, pos.sum() - tp))
    return np.asarray(rows, dtype=np.float64).transpose(1, 0, 2)


def test_pr_curves_match_numpy_counts(run):
    pred, y_val = np.load(run / "pred.npy"), np.load(run / "y_val.npy")
    acc = accumulator(run, "validation")
    # Keras' test step and predict may round a score differently in the last bit: thresholds
    # with a score that close are left out of the exact comparison.
    for tag_stem, exact in (("ap_exact", True), ("roc", True), ("auroc", False)):
        for k, cls in enumerate(NAMES):
            got = series(acc, f"pr_curve/{tag_stem}/{cls}")
            roc = series(acc, f"roc_curve/{tag_stem}/{cls}")
            assert sorted(got) == [0, 1]
            for epoch in (0, 1):
                data = got[epoch]
                assert data.shape == (6, 101) and data.dtype == np.float32
                expected = counts_at(y_val, pred[epoch], T)[:, k]
                near = np.abs(pred[epoch][:, k][:, None] - T[None, :]).min(0) < 1e-6
                if exact:
                    np.testing.assert_array_equal(data[:4, ~near], expected[:, ~near])
                else:
                    low = counts_at(y_val, pred[epoch], T - 0.016 * np.minimum(T, 1 - T))[:, k]
                    for row in (0, 1):  # TP, FP: at least the count at t, at most one bin more
                        assert np.all(expected[row] <= data[row] + 1e-3)
                        assert np.all(data[row] <= low[row] + 1e-3)
                    np.testing.assert_allclose(data[0] + data[3], expected[0] + expected[3])
                tp, fp, tn, fn = (data[i].astype(np.float64) for i in range(4))
                defined = tp + fp > 0
                precision = tp[defined] / (tp[defined] + fp[defined])
                np.testing.assert_allclose(data[4][defined], precision, rtol=1e-6)
                np.testing.assert_allclose(data[5], tp / (tp + fn), rtol=1e-6)
                np.testing.assert_array_equal(roc[epoch][:4], data[:4])
                np.testing.assert_allclose(roc[epoch][4], tp / (tp + fn), rtol=1e-6)
                np.testing.assert_allclose(roc[epoch][5], fp / (fp + tn), rtol=1e-6)
    train = accumulator(run, "train")  # the training data's curves, before validation
    assert {f"pr_curve/ap_exact/{c}" for c in NAMES} <= set(train.Tags()["tensors"])


def test_confusion_matrix_image_per_epoch(run):
    from matplotlib.image import imread

    # The validation data's matrix (the training data's only in epochs without validation).
    assert "confusion_matrix" not in accumulator(run, "train").Tags()["tensors"]
    for name in ("validation",):
        images = series(accumulator(run, name), "confusion_matrix")
        assert sorted(images) == [0, 1]
        for value in images.values():
            width, height, png = value
            pixels = imread(io.BytesIO(png), format="png")
            assert pixels.shape[:2] == (int(height), int(width))
            assert (pixels[..., :3] < 0.5).any()  # drawn, not blank


def test_custom_scalars_layout_groups_classes(run):
    from tensorboard.plugins.custom_scalar import layout_pb2

    value = series(accumulator(run, "train"), "custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(next(iter(value.values()))[0])
    charts = {c.title: list(c.multiline.tag) for cat in layout.category for c in cat.chart}
    assert charts["f1"] == ["^f1/"] and charts["auroc"] == ["^auroc/"]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="Keras' TensorBoard callback needs TensorFlow")
def test_coexists_with_keras_tensorboard(run):
    files = [p.name for p in (run / "logs" / "validation").iterdir()]
    assert any(f.endswith(".v2") for f in files) and any(f.endswith(".epochmetrics") for f in files)
    # Keras writes the epoch_* scalars; ours adds what Keras has not: one value per step each.
    acc = accumulator(run, "validation")
    assert sorted(series(acc, "epoch_loss")) == [0, 1]
    assert sorted(series(acc, "f1/cat")) == [0, 1]


# --- a real TensorBoard server, and Chromium on its PR-curves dashboard -----------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(run, tmp_path_factory):
    port = free_port()
    code = (
        "import sys; sys.modules['tensorflow'] = None; from tensorboard.main import run_main; "
        f"sys.argv = ['tensorboard', '--logdir', {str(run / 'logs')!r}, '--port', '{port}', "
        "'--host', '127.0.0.1', '--load_fast', 'false']; run_main()"
    )
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                tags = json.loads(fetch(f"{url}/data/plugin/scalars/tags"))
                if tags.get("validation"):
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "TensorBoard did not answer in 90 s"
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_server_lists_scalars_and_pr_curves(server):
    scalars = json.loads(fetch(f"{server}/data/plugin/scalars/tags"))
    assert {"epoch_loss", "f1/cat"} <= set(scalars["validation"])
    pr = json.loads(fetch(f"{server}/data/plugin/pr_curves/tags"))
    assert {"pr_curve/roc/cat", "pr_curve/auroc/fox"} <= set(pr["validation"])
    data = json.loads(
        fetch(f"{server}/data/plugin/pr_curves/pr_curves?run=validation&tag=pr_curve/roc/dog")
    )
    entry = data["validation"][-1]
    assert entry["step"] == 1 and entry["thresholds"][0] == 0.0
    assert len(entry["precision"]) == len(entry["recall"]) > 50


@pytest.mark.skipif(sys.platform == "win32", reason="headless chromium check runs on Linux/macOS")
def test_pr_dashboard_renders_in_chromium(server, tmp_path):
    from test_report import find_chromium

    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            "chromium is not installed (apt-get install -y chromium chromium-driver): "
            "the TensorBoard dashboard was not checked in a browser"
        )
    png = tmp_path / "pr.png"
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png}",
        "--window-size=1200,900",
        "--virtual-time-budget=15000",
        f"{server}/#pr_curves",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert png.exists(), (
        f"chromium wrote no screenshot (rc={proc.returncode}): {proc.stderr[-2000:]}"
    )
    from matplotlib.image import imread

    rgb = (imread(png)[..., :3] * 255).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    header = (r > 220) & (g > 100) & (g < 180) & (b < 60)  # TensorBoard's orange bar
    assert header[:60].mean() > 0.5, "no TensorBoard page"
    body = rgb[120:, 330:]  # right of the sidebar, below the header: the charts
    ink = (np.abs(body - body.mean(-1, keepdims=True)).max(-1) > 60).sum()
    assert ink > 500, "the PR-curve dashboard shows no coloured curves"


@pytest.mark.skipif(BACKEND != "jax", reason="the JAX-only example runs with the JAX suite")
def test_jax_example_without_tensorflow(tmp_path):
    code = (
        "import sys, runpy; sys.modules['tensorflow'] = None; "
        f"sys.argv = ['tensorboard_jax.py', '--epochs', '2', '--out', {str(tmp_path)!r}]; "
        f"runpy.run_path({str(HERE.parent / 'examples' / 'tensorboard_jax.py')!r}, "
        "run_name='__main__')"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(HERE.parent / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "backend: jax; TensorFlow imported: False" in proc.stdout
    acc = EventAccumulator(str(tmp_path / "logs" / "validation"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"f1/zero", "pr_curve/average_precision/nine", "roc_curve/auroc/one"} <= tags
    assert "confusion_matrix" in tags
    from epochmetrics.report import load_run

    run = load_run(tmp_path / "run")
    assert run.history.epochs == [0, 1] and run.curves and run.confusion is not None


def test_crc32c_matches_tensorboard():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference

    from epochmetrics.callbacks._crc32c import crc32c, masked_crc32c

    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    rng = np.random.default_rng(0)
    for n in (0, 1, 255, 256, 16_384, 16_385, 16_640, 70_001):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert masked_crc32c(data) == reference(data), n


def test_many_classes_and_batch_scalars(tmp_path):
    """12 classes, `max_classes=4`: per metric and epoch the 2 lowest and 2 highest classes
    (by the validation value); `update_freq=2`: the step's logs every 2 batches."""
    import epochmetrics as em

    rng = np.random.default_rng(3)
    x = rng.normal(size=(160, 4)).astype("float32")
    y = rng.integers(0, 12, 160)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(12, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=[em.F1Score("multiclass", num_classes=12, average=None)])  # fmt: skip
    logs = tmp_path / "logs"
    history = model.fit(
        x[:120], y[:120], validation_data=(x[120:], y[120:]), epochs=2, batch_size=40,
        validation_batch_size=40, verbose=0,
        callbacks=[em.TensorBoard(logs, max_classes=4, update_freq=2, confusion_images=False)],
    )  # fmt: skip
    acc = {name: accumulator(tmp_path, name) for name in ("train", "validation")}
    for epoch in (0, 1):
        val = {str(c): history.history[f"val_f1_{c}"][epoch] for c in range(12)}
        low, high = sorted(val.values())[1], sorted(val.values())[-2]
        chosen = set()
        for name in ("train", "validation"):
            tags = {t for t in acc[name].Tags()["tensors"] if t.startswith("f1/")}
            written = {t[3:] for t in tags if epoch in series(acc[name], t)}
            chosen.add(frozenset(written))
        (written,) = chosen  # the same classes in both runs
        assert len(written) == 4 and all(val[c] <= low or val[c] >= high for c in written)
        assert (
            sum(val[c] <= low for c in written) >= 2 and sum(val[c] >= high for c in written) >= 2
        )
    batches = series(acc["train"], "batch_loss")
    assert sorted(batches) == [2, 4, 6]  # 3 batches per epoch: global batches 2, 4, 6


def test_confusion_image_class_limit(tmp_path):
    """By default no image above 100 classes (a cell would be under ~9 pixels at 72 dpi);
    `max_image_classes` moves the limit (inclusive) or lifts it (None)."""
    import epochmetrics as em

    classes = 101
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, classes, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(classes, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy",
                  metrics=[em.ConfusionMatrix("multiclass", num_classes=classes)])  # fmt: skip
    limits = {
        "default": {},
        "at": {"max_image_classes": classes},
        "none": {"max_image_classes": None},
    }
    model.fit(
        x, y, validation_data=(x, y), epochs=1, batch_size=32, verbose=0,
        callbacks=[em.TensorBoard(tmp_path / name / "logs", **kw) for name, kw in limits.items()],
    )  # fmt: skip
    for name in limits:
        tags = accumulator(tmp_path / name, "validation").Tags()["tensors"]
        assert ("confusion_matrix" in tags) == (name != "default"), name


def test_intervals_drawn_as_margin_charts(tmp_path):
    """`EpochEvaluator(confidence=...)`: each key K with `K_low`/`K_high` is a Custom Scalars
    margin chart (value, lower, upper tags) whose three tags hold the History's values; a
    per-class key's bounds go with its class (`f1_low/cat`)."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    import epochmetrics as em

    rng = np.random.default_rng(7)
    x = rng.normal(size=(90, 4)).astype("float32")
    y = rng.integers(0, 3, 90)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    evaluator = em.EpochEvaluator(
        (x[60:], y[60:]),
        [
            em.F1Score("multiclass", num_classes=3, average=None, class_names=NAMES),
            em.Accuracy("multiclass", num_classes=3),
        ],
        confidence=0.9, resamples=20, seed=1, batch_size=30,
    )  # fmt: skip
    history = model.fit(
        x[:60], y[:60], epochs=2, batch_size=30, verbose=0,
        callbacks=[evaluator, em.TensorBoard(tmp_path / "logs", max_classes=2)],
    ).history  # fmt: skip
    layouts = series(accumulator(tmp_path, "train"), "custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(layouts[max(layouts)][0])  # the last: every chart
    margins = {
        (cat.title, chart.title): [(s.value, s.lower, s.upper) for s in chart.margin.series]
        for cat in layout.category
        for chart in cat.chart
        if chart.HasField("margin")
    }
    assert margins[("intervals", "accuracy")] == [
        ("epoch_accuracy", "epoch_accuracy_low", "epoch_accuracy_high")
    ]
    per_class = {title for cat, title in margins if cat == "f1 intervals"}
    assert 2 <= len(per_class) <= 3 and per_class <= {f"f1/{c}" for c in NAMES}  # max_classes
    expected = {f"epoch_accuracy{b}": f"val_accuracy{b}" for b in ("", "_low", "_high")}
    for title in per_class:
        cls = title.split("/")[1]
        assert margins[("f1 intervals", title)] == [(title, f"f1_low/{cls}", f"f1_high/{cls}")]
        expected |= {f"f1{b}/{cls}": f"val_f1_{cls}{b}" for b in ("", "_low", "_high")}
    # The multiline charts are still there, and every tag of a band holds the History's values.
    charts = {c.title for cat in layout.category for c in cat.chart if c.HasField("multiline")}
    assert charts == {"f1"}
    acc = accumulator(tmp_path, "validation")
    for tag, key in expected.items():
        got = series(acc, tag)  # a class's epochs among the max_classes written
        assert got and all(v == np.float32(history[key][e]) for e, v in got.items()), tag
    assert sorted(series(acc, "epoch_accuracy_low")) == [0, 1]
