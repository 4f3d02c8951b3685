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

import numpy as np
import pytest
from helpers import BACKEND, assert_close, sk
from sklearn import metrics as skm

import epochmetrics as em

SRC = str(Path(__file__).resolve().parent.parent / "src")
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


def run_child(script: str, env: dict[str, str] | None = None, timeout: int = 240) -> dict:
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
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
print("RESULT " + json.dumps(result))
"""
)


@pytest.mark.skipif(
    BACKEND != "jax", reason="keras.distribution.DataParallel needs the JAX backend"
)
def test_jax_data_parallel():
    check_runs(run_child(JAX_SCRIPT, {"KERAS_BACKEND": "jax"}))


# --- torch: all_reduce_metrics over two gloo processes -----------------------------------------
TORCH_WORKER = (
    """
import sys

rank, world, init_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
import torch
import torch.distributed as dist

torch.set_num_threads(1)
"""
    + COMMON
    + """
dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
# Uneven shards: 600 and 400 samples.
shard = slice(0, 600) if rank == 0 else slice(600, N)
model = build()
model.evaluate(x[shard], y[shard], sample_weight=w[shard], batch_size=BATCH, verbose=0)
em.all_reduce_metrics(model)


def flat(logs):
    out = {}
    for k, v in logs.items():
        out.update(flat(v) if isinstance(v, dict) else {k: float(v)})
    return out


out = {"reduced": flat(model.get_metrics_result())}

# Counts past 2**24 (and a pair with a non-zero `lo`: 2**30 + 3) on both ranks.
cm = em.ConfusionMatrix("binary")
weights = [2.0**30 + 3, 2.0**24 + 2] if rank == 0 else [2.0**24 + 3, 1.0]
cm.update_state(np.array([0, 1]), np.array([0, 1]), np.array(weights))
em.all_reduce_metrics([cm])
out["matrix"] = cm.matrix().tolist()

# Files are written by process 0 only: each rank points the file-writing callbacks at its own
# directory, and only rank 0's may exist afterwards.
from epochmetrics._backend.process import process_index

assert process_index() == rank
for callback in (em.RunRecorder(f"{init_file}.run{rank}"), em.TensorBoard(f"{init_file}.tb{rank}")):
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": 1.0})
    callback.on_train_end()
if rank == 0:
    single = build()
    out["single"] = single.evaluate(x, y, sample_weight=w, batch_size=BATCH, verbose=0,
                                    return_dict=True)
    out["pred"] = np.asarray(single.predict(x, verbose=0)).argmax(-1).tolist()
    print("RESULT " + json.dumps(out))
dist.barrier()
dist.destroy_process_group()
"""
)


@pytest.mark.skipif(BACKEND != "torch", reason="torch.distributed needs the torch backend")
def test_torch_all_reduce_metrics(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(TORCH_WORKER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "KERAS_BACKEND": "torch",
    }
    init = tmp_path / "init"
    procs = [
        subprocess.Popen(
            [sys.executable, "-W", "ignore", str(script), str(rank), "2", str(init)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-5000:]
    line = next(ln for ln in outputs[0][0].splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])

    y, w = child_data()
    expected = expected_report(y, np.asarray(result["pred"]), w)
    reduced, single = result["reduced"], result["single"]
    assert_close({k: reduced[k] for k in expected}, expected, atol=1e-6, what="all-reduced")
    assert_close({k: single[k] for k in expected}, expected, atol=1e-6, what="single process")
    # The loss tracker (a Keras Mean: "sum" variables) is reduced too.
    assert reduced["loss"] == pytest.approx(single["loss"], rel=1e-6)
    assert result["matrix"] == [[2.0**30 + 2.0**24 + 6, 0.0], [0.0, 2.0**24 + 3]]
    # Only process 0 wrote its run directory and TensorBoard logs.
    assert (tmp_path / "init.run0" / "history.csv").is_file()
    assert (tmp_path / "init.tb0" / "train").is_dir()
    assert not (tmp_path / "init.run1").exists() and not (tmp_path / "init.tb1").exists()


def test_all_reduce_metrics_outside_torch_distributed():
    metric = em.F1Score("multiclass", num_classes=3)
    em.all_reduce_metrics([])  # nothing to reduce: never touches torch.distributed
    with pytest.raises(RuntimeError, match="torch"):
        em.all_reduce_metrics([metric])
    with pytest.raises(TypeError, match="Keras metric"):
        em.all_reduce_metrics("f1")


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


def test_all_reduce_metrics_refuses_state_that_is_not_a_sum():
    exact = em.AUROC("binary", exact=True, capacity=8)
    with pytest.raises(ValueError, match="not a sum"):
        em.all_reduce_metrics([em.F1Score("binary"), exact])
