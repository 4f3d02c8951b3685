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
    big = tf.constant([2.0**24 + 2, 0, 0, 3, 0])
    small = tf.constant([1.0, 0, 0, 2.0**24 + 2, 0])
    cm._hi.assign(tf.where(tf.equal(rid, 0), big, small))


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
