"""Data-parallel correctness: several devices or workers give the one-device answer.

Each framework test runs in a fresh Python process, because the device setup (two logical CPU
devices for TensorFlow, two host devices for JAX) must come before the framework is imported.
The child evaluates one model on the same data distributed and on one device and prints JSON;
this side checks both against scikit-learn on the model's predictions. `merge_state` (the way
to combine shards evaluated by separate workers) is tested in-process on every backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import dist_evaluator
import numpy as np
import pytest
from helpers import BACKEND, assert_close, sk
from multiproc import classification_data, detection_data, launch
from scipy.stats import spearmanr
from sklearn import metrics as skm

import epochmetrics as em

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
C = 5

# The child's model and data, shared by the framework scripts: a fixed linear softmax model on
# 1,000 samples (not a multiple of the batch size), integer sample weights.
COMMON = """
import json
import numpy as np
import keras
import epochmetrics as em

C, N, D, BATCH = 5, 1000, 8, 64
rng = np.random.default_rng(0)
x = rng.normal(size=(N, D)).astype("float32")
y = rng.integers(0, C, N).astype("int32")
w = rng.integers(1, 4, N).astype("float32")
kernel = rng.normal(size=(D, C)).astype("float32")


def build(lr=0.0):
    inputs = keras.Input((D,))
    layer = keras.layers.Dense(C, activation="softmax")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([kernel, np.zeros(C, "float32")])
    model.compile(
        keras.optimizers.SGD(lr),
        "sparse_categorical_crossentropy",
        # weighted_metrics: Keras passes `sample_weight` only to these.
        weighted_metrics=[em.ClassificationReport("multiclass", num_classes=C)],
    )
    return model


def run(model):
    out = {"evaluate": model.evaluate(x, y, sample_weight=w, batch_size=BATCH, verbose=0,
                                      return_dict=True)}
    history = model.fit(x, y, sample_weight=w, batch_size=BATCH, epochs=1, verbose=0,
                        shuffle=False)
    out["fit"] = {k: v[-1] for k, v in history.history.items()}
    out["pred"] = np.asarray(model.predict(x, batch_size=BATCH, verbose=0)).argmax(-1).tolist()
    return {k: v if k == "pred" else {n: float(f) for n, f in v.items()} for k, v in out.items()}
"""


def run_child(script: str, env: dict[str, str] | None = None, timeout: int = 300) -> dict:
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, str(HERE), os.environ.get("PYTHONPATH", "")]),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **(env or {}),
    }
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(script)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-5000:]
    return json.loads(lines[-1][len("RESULT ") :])


def expected_report(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """scikit-learn's values for ClassificationReport's default keys."""
    out: dict[str, float] = {}
    p, r, f, _ = sk(
        skm.precision_recall_fscore_support,
        y,
        pred,
        labels=range(C),
        sample_weight=w,
        zero_division=0,
    )
    for k in range(C):
        out[f"precision_{k}"], out[f"recall_{k}"], out[f"f1_{k}"] = p[k], r[k], f[k]
        out[f"support_{k}"] = float(w[y == k].sum())
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = sk(
            skm.precision_recall_fscore_support,
            y,
            pred,
            average=avg,
            sample_weight=w,
            zero_division=0,
        )
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = ap, ar, af
    out["accuracy"] = skm.accuracy_score(y, pred, sample_weight=w)
    out["mcc"] = skm.matthews_corrcoef(y, pred, sample_weight=w)
    return out


def child_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n, d = 1000, 8
    rng.normal(size=(n, d))  # x: same draws as the child, in the same order
    y = rng.integers(0, C, n)
    w = rng.integers(1, 4, n).astype("float64")
    return y, w


def check_runs(result: dict) -> None:
    y, w = child_data()
    for run in ("single", "parallel"):
        pred = np.asarray(result[run]["pred"])
        expected = expected_report(y, pred, w)
        for phase in ("evaluate", "fit"):
            got = {k: v for k, v in result[run][phase].items() if k in expected}
            assert_close(got, expected, atol=1e-6, what=f"{run} {phase}")
    # Same model (lr=0), same data: the parallel run equals the single-device run.
    assert result["parallel"]["pred"] == result["single"]["pred"]
    for phase in ("evaluate", "fit"):
        single, parallel = result["single"][phase], result["parallel"][phase]
        keys = sorted(k for k in single if k != "loss")
        np.testing.assert_allclose(
            [parallel[k] for k in keys], [single[k] for k in keys], rtol=0, atol=1e-6, err_msg=phase
        )
        assert {"f1_3", "mcc", "support_0"} <= set(keys)


# --- TensorFlow: MirroredStrategy over two logical CPU devices ---------------------------------
TF_SCRIPT = (
    """
import os
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.get_logger().setLevel("ERROR")
"""
    + COMMON
    + """
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
result = {"single": run(build())}
with strategy.scope():
    model = build()
result["parallel"] = run(model)

# Counts past 2**24 held by different replicas: each replica's float32 pair is exact, and the
# SUM of the replicas' `hi` in float32 (what reading a SyncOnRead variable does) would round.
with strategy.scope():
    cm = em.ConfusionMatrix("binary")


def set_local():
    rid = tf.distribute.get_replica_context().replica_id_in_sync_group
    big = tf.constant([2.0**24 + 2, 3.0])
    small = tf.constant([1.0, 2.0**24 + 2])
    cm.update_state(tf.constant([0, 1]), tf.constant([0, 1]), tf.where(tf.equal(rid, 0), big, small))


strategy.run(set_local)
merged = em.ConfusionMatrix("binary")
merged.merge_state(cm)
with strategy.scope():
    inside = cm.matrix()
result["big"] = {"outside": cm.matrix().tolist(), "inside": inside.tolist(),
                 "merged": merged.matrix().tolist()}

# EpochEvaluator: batches of 32, 13 and 1 rows, each split over the two replicas.
import dist_evaluator as de
from multiproc import classification_data


def cut(x, y, sizes):
    out, at, i = [], 0, 0
    n = len(keras.tree.flatten(y)[0])
    while at < n:
        part = slice(at, min(at + sizes[i % len(sizes)], n))
        at, i = part.stop, i + 1
        out.append((keras.tree.map_structure(lambda a: a[part], x),
                    keras.tree.map_structure(lambda a: a[part], y)))
    return out


xe, ye, _ = classification_data(1001, de.C, de.D)
with strategy.scope():
    result["evaluator"] = de.evaluate_all(cut(xe, ye, [32, 13, 1]),
                                          cut(*de.detection_samples(41), [32, 8, 1]))
print("RESULT " + json.dumps(result))
"""
)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute needs the TensorFlow backend")
def test_tensorflow_mirrored_strategy():
    result = run_child(TF_SCRIPT, {"KERAS_BACKEND": "tensorflow"})
    check_runs(result)
    # Exact past float32's 2**24 (the sum of the replicas' pairs is taken in float64).
    expected = [[2.0**24 + 3, 0.0], [0.0, 2.0**24 + 5]]
    for where, matrix in result["big"].items():
        assert matrix == expected, where
    # EpochEvaluator: B rows out for B rows in (not R x B), the one-device values.
    evaluator = result["evaluator"]
    dist_evaluator.compare(evaluator, dist_evaluator.expected(), "MirroredStrategy")
    assert (evaluator["class_rows"], evaluator["det_rows"]) == (1001, 41)


# --- JAX: keras.distribution.DataParallel over two host devices --------------------------------
JAX_SCRIPT = (
    """
import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
)
import jax

assert len(jax.devices()) == 2, jax.devices()
"""
    + COMMON
    + """
result = {"single": run(build())}
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
model = build()
state = model.layers[-1].kernel.value
assert len(state.sharding.device_set) == 2, state.sharding  # replicated on both devices
result["parallel"] = run(model)

import dist_evaluator as de
from multiproc import classification_data

# 1,001 samples: Keras refuses the last batch (41 rows on 2 devices) unless padded; padded with
# weight-0 rows (docs/distributed.md), the metrics are those of the 1,001 samples.
xp, yp, wp = classification_data(1001, C, D)
extra = -len(yp) % BATCH
xp = np.concatenate([xp, np.zeros((extra, D), "float32")])
yp = np.concatenate([yp, np.zeros(extra, yp.dtype)])
wp = np.concatenate([wp, np.zeros(extra, "float32")])
padded = model.evaluate(xp, yp, sample_weight=wp, batch_size=BATCH, verbose=0, return_dict=True)
result["padded"] = {k: float(v) for k, v in padded.items()}
result["padded_pred"] = np.asarray(model.predict(xp, batch_size=BATCH, verbose=0))[:1001].argmax(
    -1
).tolist()

xe, ye, _ = classification_data(333, de.C, de.D)
result["evaluator"] = de.evaluate_all((xe, ye), de.detection_samples(41), batch_size=32)
ev = em.EpochEvaluator((xe, ye), de.class_metrics(), batch_size=32)
ev.evaluate(classifier := de.classifier())
result["evaluator"]["ways"] = ev._memo.predictor(classifier)._fn.ways

# ModelParallel: the kernel split over a "model" axis of the two devices.
mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], devices=jax.devices())
layouts = keras.distribution.LayoutMap(mesh)
layouts["dense.*kernel"] = ("model", None)
keras.distribution.set_distribution(
    keras.distribution.ModelParallel(layout_map=layouts, batch_dim_name="batch")
)
result["model_parallel"] = de.evaluate_all((xe, ye), de.detection_samples(41), batch_size=32)
assert len(de.classifier().layers[-1].kernel.value.sharding.device_set) == 2
print("RESULT " + json.dumps(result))
"""
)


@pytest.mark.skipif(
    BACKEND != "jax", reason="keras.distribution.DataParallel needs the JAX backend"
)
def test_jax_data_parallel():
    result = run_child(JAX_SCRIPT, {"KERAS_BACKEND": "jax"})
    check_runs(result)
    _, y, w = classification_data(1001, C, 8)
    expected = expected_report(y, np.asarray(result["padded_pred"]), w)
    assert_close({k: result["padded"][k] for k in expected}, expected, what="weight-0 padding")
    # EpochEvaluator: 333 rows at batch 32 split over the two devices (a last batch of 13,
    # padded to 14 for the devices and cut back), the one-device values.
    evaluator = result["evaluator"]
    dist_evaluator.compare(evaluator, dist_evaluator.expected(333, 41, batch_size=32), "DP(2)")
    assert (evaluator["class_rows"], evaluator["det_rows"]) == (333, 41)
    assert evaluator["ways"] == 2
    dist_evaluator.compare(result["model_parallel"], evaluator, "ModelParallel")


@pytest.mark.skipif(BACKEND != "jax", reason="JAX processes need the JAX backend")
def test_jax_processes():
    ranks = launch(HERE / "dist_jax.py", env={"KERAS_BACKEND": "jax"})
    want = dist_evaluator.expected()
    for rank, r in enumerate(ranks):
        for mode in ("whole", "own"):
            dist_evaluator.compare(r[mode], want, mode)
            # Each process predicted its half only.
            assert (r[mode]["class_rows"], r[mode]["det_rows"]) == ((501, 21), (500, 20))[rank]
    # Intervals and noise-aware keys: one process's, on both processes.
    intervals = dist_evaluator.expected_intervals(("own",))
    for r in ranks:
        dist_evaluator.compare_runs(r["intervals_own"], intervals["own"], "own")


# --- torch: two gloo ranks (tests/dist_torch.py) ------------------------------------------------
def _sk_unweighted_f1(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    f = sk(skm.f1_score, y, pred, labels=range(C), average=None, zero_division=0)
    return {f"f1u_{k}": f[k] for k in range(C)}


@pytest.mark.skipif(BACKEND != "torch", reason="torch.distributed needs the torch backend")
def test_torch_ranks_read_global_values(tmp_path):
    env = {"KERAS_BACKEND": "torch", "OUT_DIR": str(tmp_path)}
    ranks = launch(HERE / "dist_torch.py", env=env)
    x, y, w = classification_data(1001, C, 8)

    # fit on padded DistributedSamplers (1,001 samples on 2 ranks: rank 1's last row is a
    # copy, left out) and on uneven shards (501/500): every epoch log is the value over the
    # 1,001 samples, the same on both ranks; train and val keys, per class, the loss included
    # (its rows are the samples once each: Keras' batch-size average is then exact).
    fit = [r["fit"] for r in ranks]
    assert fit[0]["history"] == fit[1]["history"]
    assert fit[0]["shards"] == fit[1]["shards"]
    pred = np.asarray(fit[0]["pred"])
    expected = {**expected_report(y, pred, w), **_sk_unweighted_f1(y, pred)}
    for history, epochs in ((fit[0]["history"], 2), (fit[0]["shards"], 1)):
        for prefix in ("", "val_"):
            for key, value in expected.items():
                got = history[prefix + key]
                assert got == pytest.approx([value] * epochs, abs=1e-6), prefix + key
            loss = history[prefix + "loss"]
            assert loss == pytest.approx([fit[0]["single_loss"]] * epochs, rel=1e-5)
    assert_close({k: fit[0]["evaluate"][k] for k in expected}, expected, what="evaluate")
    # An eager result() is global too, and each rank's own state stays its own: the val
    # sampler's part (positions rank, rank + 2, ...), rank 1's without its copy of sample 0.
    report = {k: v for k, v in expected.items() if not k.startswith("f1u")}
    for rank, r in enumerate(fit):
        assert_close(r["result"], report, what="result()")
        own = slice(rank, 1001, 2)
        assert_close(r["local"], expected_report(y[own], pred[own], w[own]), what="own part")

    # Ranks whose own values disagree stop at the same epoch, with the same values.
    stop = [r["stop"] for r in ranks]
    assert stop[0] == stop[1] and stop[0]["epochs"] < 12

    reads = [r["reads"] for r in ranks]
    scores = np.abs(x[:, :C]) / np.abs(x[:, :C]).sum(axis=1, keepdims=True)
    f1 = sk(skm.f1_score, y, scores.argmax(-1), labels=range(C), average=None, sample_weight=w)
    for r in reads:
        assert_close(r["f1"], {f"f1_{k}": f1[k] for k in range(C)}, what="eager read")
        assert r["f1_state_kept"]
        assert r["only0"] == pytest.approx(skm.accuracy_score(y[:10], scores[:10].argmax(-1)))
        # DetectionMAP's records gathered in rank (= image) order: one process's value.
        truth, dets = detection_data(24)
        one = em.DetectionMAP(num_classes=3)
        one.update_state(truth, dets)
        assert r["det_read"] == r["det"] == one.result()["map"]
        assert r["det_images"] == 24
        assert r["auroc"] == pytest.approx(
            skm.roc_auc_score(y, scores, multi_class="ovr", labels=range(C)), abs=1e-12
        )
        target = x[:, 0].astype(np.float64) + 1e4
        guess = target + 0.5 * x[:, 1]
        assert r["r2_read"] == pytest.approx(skm.r2_score(target, guess, sample_weight=w))
        rho = spearmanr(target, guess).statistic
        assert r["spearman_read"] == r["spearman"] == pytest.approx(rho, abs=1e-12)
        assert r["spearman_rows"] == len(y)
        # Counts past 2**24, in place; reading again does not add the copies once more.
        assert r["cm"] == [[2.0**30 + 2.0**24 + 6, 0.0], [0.0, 2.0**24 + 3]]
        assert "aggregation='none'" in r["error"] and "'last'" in r["error"]

    # EpochEvaluator: the one-device values on both ranks, each sample predicted once.
    want = dist_evaluator.expected()
    evaluator = [r["evaluator"] for r in ranks]
    for rank, r in enumerate(evaluator):
        dist_evaluator.compare(r["whole"], want, "whole")
        assert (r["whole"]["class_rows"], r["whole"]["det_rows"]) == ((501, 21), (500, 20))[rank]
        # A padded DistributedSampler: 501 rows predicted on each rank, the copy left out.
        dist_evaluator.compare(r["own"], want, "own")
        assert (r["own"]["class_rows"], r["own"]["det_rows"]) == (501, 21)
        assert r["ddp"] == want["class"]
    # Intervals and noise-aware keys, same seed: one process's on both ranks ("whole": halves;
    # "own": a padded sampler's interleaved rows, the copy left out, sample weights).
    intervals = dist_evaluator.expected_intervals()
    for r in evaluator:
        for mode in ("whole", "own"):
            dist_evaluator.compare_runs(r[f"intervals_{mode}"], intervals[mode], mode)
    # Rank 1's bad label fails its pass; rank 0 learns it at the exchange, nobody waits.
    assert "y_true values to be integers in [0, num_classes=5)" in evaluator[1]["failure"]
    assert evaluator[0]["failure"].startswith("EvaluationError: The evaluation failed on process 1")
    for mode in ("whole", "own"):  # every sample's position once, across the ranks
        for name, n in (("class", 1001), ("det", 41)):
            seen = sorted(p for r in evaluator for p in r[mode][f"{name}_positions"])
            assert seen == list(range(n)), (mode, name)
    assert evaluator[1]["whole"]["class_positions"][:2] == [501, 502]  # contiguous parts
    assert evaluator[1]["own"]["class_positions"][:2] == [1, 3]  # the sampler's order
    fits = [r["fit"] for r in evaluator]
    assert fits[0]["history"] == fits[1]["history"]  # the same epochs, the same values
    assert fits[0]["evaluator"] == fits[1]["evaluator"]
    assert [f["written"] for f in fits] == [True, False]  # process 0 writes the history file

    # RunRecorder and TensorBoard: only process 0 wrote its run directory and event files.
    assert [r["files"]["process_index"] for r in ranks] == [0, 1]
    assert (tmp_path / "run0" / "history.csv").is_file()
    assert (tmp_path / "tb0" / "train").is_dir()
    assert not (tmp_path / "run1").exists() and not (tmp_path / "tb1").exists()


# --- merge_state: shards evaluated by separate workers -----------------------------------------
def _shards(n: int) -> list[slice]:
    return [slice(0, 450), slice(450, 451), slice(451, n)]  # uneven, one of a single sample


def test_merge_state_combines_metric_shards(rng):
    n = 1000
    y = rng.integers(0, C, n)
    scores = rng.random((n, C)).astype("float32")
    w = rng.integers(1, 4, n).astype("float32")
    make = [
        lambda: em.ClassificationReport("multiclass", num_classes=C),
        lambda: em.ConfusionMatrix("multiclass", num_classes=C),
        lambda: em.CohenKappa("multiclass", num_classes=C, weights="quadratic"),
    ]
    for factory in make:
        whole = factory()
        for start in range(0, n, 128):
            part = slice(start, start + 128)
            whole.update_state(y[part], scores[part], w[part])
        workers = []
        for shard in _shards(n):
            m = factory()  # each worker streams its shard in its own batches
            for start in range(shard.start, shard.stop, 100):
                part = slice(start, min(start + 100, shard.stop))
                m.update_state(y[part], scores[part], w[part])
            workers.append(m)
        merged = type(workers[0]).from_config(workers[0].get_config())  # empty: the identity
        for m in workers:
            merged.merge_state(m)
        assert_close(merged.result(), whole.result(), atol=1e-6, what=type(merged).__name__)
    # The merged report equals scikit-learn on all the data.
    report = em.ClassificationReport("multiclass", num_classes=C)
    for shard in _shards(n):
        m = em.ClassificationReport("multiclass", num_classes=C)
        m.update_state(y[shard], scores[shard], w[shard])
        report.merge_state(m)
    expected = expected_report(y, scores.argmax(-1), w)
    assert_close(report.result(), expected, atol=1e-6, what="vs scikit-learn")


def test_merge_state_combines_evaluator_shards(rng):
    # Each worker runs its own EpochEvaluator on its shard; the metric objects it updated are
    # merged into one, which then holds the evaluation of all the data.
    import keras

    n = 600
    x = rng.normal(size=(n, 8)).astype("float32")
    y = rng.integers(0, C, n)
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(inputs))
    workers = []
    for shard in _shards(n):
        metric = em.ClassificationReport("multiclass", num_classes=C)
        em.EpochEvaluator((x[shard], y[shard]), [metric], batch_size=64).evaluate(model)
        workers.append(metric)
    merged = em.ClassificationReport("multiclass", num_classes=C)
    for metric in workers:
        merged.merge_state(metric)
    everything = em.ClassificationReport("multiclass", num_classes=C)
    scalars = em.EpochEvaluator((x, y), [everything], batch_size=64).evaluate(model)
    pred = np.asarray(keras.ops.convert_to_numpy(model.predict(x, verbose=0))).argmax(-1)
    expected = expected_report(y, pred, np.ones(n))
    assert_close(merged.result(), expected, atol=1e-6, what="merged shards")
    assert_close({k[len("val_") :]: v for k, v in scalars.items()}, expected, atol=1e-6)


def test_all_reduce_metrics_refuses_what_it_cannot_combine_before_any_exchange():
    import keras

    class Last(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="last")
            self.v = self.add_variable(shape=(), initializer="zeros", aggregation="none")

        def update_state(self, *args, **kwargs):
            pass

        def result(self):
            return self.v.value

    with pytest.raises(ValueError, match=r"Last 'last' has a variable .* aggregation='none'"):
        em.all_reduce_metrics([em.F1Score("binary"), Last()])


def test_gather_rows_sends_no_more_than_the_longest_part(monkeypatch):
    # Two processes posing as one (the twin sends the same rows): every row once per process,
    # in process order, and chunks no longer than the rows (not CHUNK_BYTES of zeros).
    from epochmetrics._backend import collectives

    sent = []

    def gather(words, group, n):
        sent.append(words.size)
        return np.stack([words] * n)

    monkeypatch.setattr(collectives, "_torch_gather", gather)
    twin = collectives.Processes("torch", 2, 0)
    rows = np.arange(30, dtype=np.int64).reshape(10, 3)
    out, counts = twin.gather_rows(rows)
    assert counts == [10, 10]
    np.testing.assert_array_equal(out, np.concatenate([rows, rows]))
    assert max(sent) * 4 <= 10 * rows.itemsize * 3  # int32 words: the 10 rows, no padding
    monkeypatch.setattr(collectives, "CHUNK_BYTES", 4 * 3 * 8)  # 4 rows per chunk
    sent.clear()
    out, _ = twin.gather_rows(rows)
    np.testing.assert_array_equal(out, np.concatenate([rows, rows]))
    assert sent[-3:] == [4 * 3 * 2, 4 * 3 * 2, 2 * 3 * 2]  # 4 + 4 + 2 rows


@pytest.mark.skipif(BACKEND != "torch", reason="Keras' reads are routed on torch only")
def test_keras_canary_reads_outside_steps_are_global_and_steps_local(monkeypatch):
    # One process posing as two ranks holding the same data: a global value counts every
    # sample twice. Keras' reads at the end of an epoch, of `evaluate` and of one metric are
    # global; the values inside a step stay this process's; its state is left as it was.
    import keras

    from epochmetrics._backend import collectives
    from epochmetrics.metrics import _combine

    twin = collectives.Processes("torch", 2, 0)
    monkeypatch.setattr(collectives, "torch_processes", lambda group=None: twin)
    monkeypatch.setattr(collectives, "_torch_gather", lambda words, g, n: np.stack([words] * n))
    x, y, _ = classification_data(40, C, 8)
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(inputs))
    report = em.ClassificationReport("multiclass", num_classes=C, per_step="all")
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=[report])
    steps = []

    class Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(float(logs["support_0"]))

    history = model.fit(x, y, batch_size=40, epochs=1, verbose=0, callbacks=[Steps()])
    local = float((y == 0).sum())
    assert steps == [local]
    assert history.history["support_0"] == [2 * local]
    assert model.evaluate(x, y, verbose=0, return_dict=True)["support_0"] == 2 * local
    assert float(report.result()["support_0"]) == 2 * local
    with _combine.local_reads():
        assert float(report.result()["support_0"]) == local  # the state: this process's own
    previous = em.sync_on_read(False)
    try:
        assert model.evaluate(x, y, verbose=0, return_dict=True)["support_0"] == local
    finally:
        em.sync_on_read(previous)


def _padded_fit(batch: int, rank: int = 1) -> tuple[dict, np.ndarray, dict, Any]:
    """fit (lr 0) and evaluate on rank `rank`'s part of a padded DistributedSampler of 1,001
    samples on 2 ranks (values read locally); the rank's sample indices, without repeats."""
    import keras
    import torch
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    x, y, w = classification_data(1001, C, 8)
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y).long(), torch.from_numpy(w))
    sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=3)
    loader = DataLoader(data, batch_size=batch, sampler=sampler)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(inputs))
    model.compile(
        keras.optimizers.SGD(0.0),
        "sparse_categorical_crossentropy",
        metrics=[em.F1Score("multiclass", num_classes=C, average=None, name="f1u")],
        weighted_metrics=[em.ClassificationReport("multiclass", num_classes=C)],
    )
    previous = em.sync_on_read(False)  # this rank's own values
    try:
        history = model.fit(loader, validation_data=loader, shuffle=False, verbose=0).history
        evaluated = model.evaluate(loader, verbose=0, return_dict=True)
    finally:
        em.sync_on_read(previous)
    seen = np.fromiter(iter(sampler), np.int64)
    return {k: v[0] for k, v in history.items()}, seen, evaluated, (model, loader)


def _padded_expected(indices: np.ndarray, model: Any) -> tuple[dict[str, float], float]:
    x, y, w = classification_data(1001, C, 8)
    x, y, w = x[indices], y[indices], w[indices]
    pred = np.asarray(model.predict(x, verbose=0)).argmax(-1)
    previous = em.sync_on_read(False)
    try:
        loss = model.evaluate(x, y, sample_weight=w, batch_size=64, verbose=0, return_dict=True)
    finally:
        em.sync_on_read(previous)
    return {**expected_report(y, pred, w), **_sk_unweighted_f1(y, pred)}, loss["loss"]


@pytest.mark.skipif(BACKEND != "torch", reason="DataLoaders are iterated so on torch only")
def test_keras_canary_padded_sampler_rows_are_left_out_of_fit(monkeypatch):
    # Rank 1 of 2 (1,001 samples) ends its pass with a copy of a sample. Under a process
    # group (a twin of this process poses as rank 0), fit's and evaluate's batches leave it
    # out: every key, the loss included, is that of the rank's 500 samples. predict keeps it.
    from epochmetrics._backend import collectives

    twin = collectives.Processes("torch", 2, 1)
    monkeypatch.setattr(collectives, "torch_processes", lambda group=None: twin)
    logs, seen, evaluated, (model, loader) = _padded_fit(64)
    assert len(seen) == 501 and len(set(seen[:-1])) == 500  # the last row: rank 0's first
    expected, loss = _padded_expected(seen[:500], model)
    for prefix in ("", "val_"):
        assert_close({k: logs[prefix + k] for k in expected}, expected, what=prefix)
        assert logs[prefix + "loss"] == pytest.approx(loss, rel=1e-6)
    assert_close({k: evaluated[k] for k in expected}, expected, what="evaluate")
    assert len(model.predict(loader, verbose=0)) == 501


@pytest.mark.skipif(BACKEND != "torch", reason="DataLoaders are iterated so on torch only")
def test_padded_sampler_batch_of_repeats_only_is_weighted_zero(monkeypatch):
    # Batch 100: rank 1's last batch is its one copy, which cannot be emptied: it gets sample
    # weight 0 (weighted metrics exact) and a warning says what still counts it.
    from epochmetrics._backend import collectives

    twin = collectives.Processes("torch", 2, 1)
    monkeypatch.setattr(collectives, "torch_processes", lambda group=None: twin)
    with pytest.warns(UserWarning, match="holds repeats only.*gets sample weight 0"):
        logs, seen, _, (model, _) = _padded_fit(100)
    expected, loss = _padded_expected(seen[:500], model)
    weighted = {k: v for k, v in expected.items() if not k.startswith("f1u")}
    assert_close({k: logs["val_" + k] for k in weighted}, weighted, what="weighted")
    assert logs["val_loss"] == pytest.approx(loss * 500 / 501, rel=1e-6)  # the copy: 0 / 501


@pytest.mark.skipif(BACKEND != "torch", reason="DataLoaders are iterated so on torch only")
def test_padded_sampler_with_batches_that_cannot_be_placed_warns(monkeypatch):
    import keras
    import torch
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    from epochmetrics._backend import collectives

    twin = collectives.Processes("torch", 2, 1)
    monkeypatch.setattr(collectives, "torch_processes", lambda group=None: twin)
    x, y, _ = classification_data(11, C, 8)
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y).long())
    sampler = DistributedSampler(data, num_replicas=2, rank=1, shuffle=False)

    class Pairs(torch.utils.data.Sampler):  # a custom batch sampler: rows not placed
        def __init__(self, sampler):
            self.sampler = sampler

        def __iter__(self):
            indices = list(self.sampler)
            return iter([indices[i : i + 2] for i in range(0, len(indices), 2)])

        def __len__(self):
            return 3

    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy")
    previous = em.sync_on_read(False)
    try:
        with pytest.warns(UserWarning, match="do not come from torch's BatchSampler"):
            model.evaluate(DataLoader(data, batch_sampler=Pairs(sampler)), verbose=0)
    finally:
        em.sync_on_read(previous)


@pytest.mark.skipif(BACKEND != "torch", reason="DataLoaders are iterated so on torch only")
def test_padded_sampler_without_process_group_is_unchanged():
    # No process group: the batches are the DataLoader's, the copy counted (501 rows).
    logs, seen, _, _ = _padded_fit(64)
    w = classification_data(1001, C, 8)[2]
    assert len(seen) == 501 and sum(logs[f"val_support_{k}"] for k in range(C)) == pytest.approx(
        w[seen].sum()
    )


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute needs the TensorFlow backend")
def test_tensorflow_multi_worker():
    # MultiWorkerMirroredStrategy, 2 workers, a custom loop (Keras 3's fit fails under it
    # upstream): every worker reads the values over both workers' samples.
    workers = launch(HERE / "dist_tf.py", env={"KERAS_BACKEND": "tensorflow"})
    _, y, w = classification_data(1001, C, 8)
    pred = np.asarray(workers[0]["pred"])
    expected = expected_report(y, pred, w)
    matrix = skm.confusion_matrix(y, pred, labels=range(C)).tolist()
    want = dist_evaluator.expected()
    intervals = dist_evaluator.expected_intervals(("own",))
    for rank, r in enumerate(workers):
        assert_close({k: r["report"][k] for k in expected}, expected, what=f"worker {rank}")
        assert r["matrix"] == matrix and np.sum(r["matrix"]) == 1001
        assert r["local_total"] == (501, 500)[rank]  # with sync_on_read(False): its own
        assert r["keras_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        # Past 2**24: the workers' float64 totals added, not their float32 halves.
        assert r["big"] == [[2.0**30 + 2.0**24 + 6, 0.0], [0.0, 2.0**24 + 3]]
        for mode in ("whole", "own"):
            dist_evaluator.compare(r[mode], want, mode)
            assert (r[mode]["class_rows"], r[mode]["det_rows"]) == ((501, 21), (500, 20))[rank]
        dist_evaluator.compare_runs(r["intervals_own"], intervals["own"], "own")


def test_shard_gives_contiguous_parts_without_repeats():
    assert [em.shard(1001, index=i, count=2) for i in range(2)] == [range(501), range(501, 1001)]
    assert [list(em.shard(7, index=i, count=3)) for i in range(3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert em.shard(5) == range(5)  # one process: everything
    x, y = np.arange(10).reshape(5, 2), np.arange(5)
    xs, ys = em.shard((x, y), index=1, count=2)
    np.testing.assert_array_equal(ys, [3, 4])
    np.testing.assert_array_equal(xs, [[6, 7], [8, 9]])
    nested = em.shard(({"a": x, "b": [y, y]}, y), index=0, count=2)
    np.testing.assert_array_equal(nested[0]["b"][1], [0, 1, 2])
    assert em.shard(list("abcde"), index=1, count=2) == ["d", "e"]
    if BACKEND == "torch":
        import torch

        data = torch.utils.data.TensorDataset(torch.arange(5))
        part = em.shard(data, index=0, count=2)
        assert isinstance(part, torch.utils.data.Subset) and list(part.indices) == [0, 1, 2]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        part = em.shard(tf.data.Dataset.range(5), index=1, count=2)
        assert [int(v) for v in part] == [3, 4]
