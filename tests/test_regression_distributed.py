"""Regression metrics over several replicas and processes: the one-device answer.

Their states are moments about shifts, which differ from replica to replica (each follows its
own data): tf.distribute's per-replica states and `all_reduce_metrics`' processes are combined
by re-centring, never by plain addition. Each framework runs in a fresh process (the device
setup comes before the import); the values are checked against scikit-learn and scipy.
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
from helpers import BACKEND
from multiproc import launch
from test_regression import reference

SRC = str(Path(__file__).resolve().parent.parent / "src")

COMMON = """
import json
import numpy as np
import keras
import epochmetrics as em

N, D, BATCH = 500, 2, 64
rng = np.random.default_rng(0)
y = (rng.normal(size=(N, D)) * [1.0, 3.0] + 1e4).astype("float32")
x = (y + rng.normal(size=(N, D)) + 0.25).astype("float32")
w = rng.integers(1, 4, N).astype("float32")


def build():
    model = keras.Sequential(
        [keras.Input((D,)), keras.layers.Dense(D, use_bias=False, kernel_initializer="identity")]
    )
    model.ours = [
        em.R2Score(num_outputs=D, multioutput="raw_values"),
        em.PearsonCorrCoef(num_outputs=D),
        em.ConcordanceCorrCoef(num_outputs=D, multioutput="raw_values"),
        em.MeanSquaredError(num_outputs=D),
    ]
    model.compile(keras.optimizers.SGD(0.0), "mse", weighted_metrics=list(model.ours))
    return model


def evaluate(model, part=slice(None)):
    logs = model.evaluate(x[part], y[part], sample_weight=w[part], batch_size=BATCH, verbose=0,
                          return_dict=True)
    return {k: float(v) for k, v in logs.items()}
"""


def expected() -> dict[str, float]:
    rng = np.random.default_rng(0)
    n, d = 500, 2
    y = (rng.normal(size=(n, d)) * [1.0, 3.0] + 1e4).astype("float32")
    x = (y + rng.normal(size=(n, d)) + 0.25).astype("float32")
    w = rng.integers(1, 4, n).astype("float64")
    out = {"pearson": reference("PearsonCorrCoef", y, x, w, "uniform_average")}
    out["mse"] = reference("MeanSquaredError", y, x, w, "uniform_average")
    for k in range(d):
        out[f"r2_{k}"] = reference("R2Score", y, x, w, "raw_values")[k]
        out[f"concordance_{k}"] = reference("ConcordanceCorrCoef", y, x, w, "raw_values")[k]
    return out


def check(logs: dict[str, float], what: str) -> None:
    # float32 sums inside compiled steps of 32-bit JAX; float64 elsewhere.
    rtol = 1e-6 if BACKEND == "jax" else 1e-9
    for key, value in expected().items():
        np.testing.assert_allclose(logs[key], value, rtol=rtol, err_msg=f"{what} {key}")


def run(script: str, args: list[str] | None = None, timeout: int = 240) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(script), *(args or [])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(proc: subprocess.Popen, timeout: int = 240) -> dict:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, err[-5000:]
    return json.loads(lines[-1][len("RESULT ") :])


TF_SCRIPT = (
    """
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""
    + COMMON
    + """
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = build()
result = {"parallel": evaluate(model)}
# The replicas' states about different shifts, merged into a metric outside the strategy.
merged = em.R2Score(num_outputs=D, multioutput="raw_values")
merged.merge_state(model.ours[0])
result["merged"] = {k: float(v) for k, v in merged.result().items()}
print("RESULT " + json.dumps(result))
"""
)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute needs the TensorFlow backend")
def test_tensorflow_mirrored_strategy() -> None:
    result = result_of(run(TF_SCRIPT))
    check(result["parallel"], "MirroredStrategy")
    for k in range(2):
        np.testing.assert_allclose(result["merged"][f"r2_{k}"], result["parallel"][f"r2_{k}"])


JAX_SCRIPT = (
    """
import os

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
import jax
"""
    + COMMON
    + """
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
print("RESULT " + json.dumps({"parallel": evaluate(build())}))
"""
)


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution needs the JAX backend")
def test_jax_data_parallel() -> None:
    check(result_of(run(JAX_SCRIPT))["parallel"], "DataParallel")


TORCH_WORKER = (
    """
import datetime
import os

rank = int(os.environ["RANK"])
import torch
import torch.distributed as dist

torch.set_num_threads(1)
"""
    + COMMON
    + """
timeout = datetime.timedelta(seconds=int(os.environ["COLLECTIVE_TIMEOUT"]))
dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timeout)
# Uneven shards whose data sit apart: rank 1's targets are 50 higher, so the shifts differ.
shift = np.float32(50.0) * rank
y[300:] += shift
x[300:] += shift
model = build()
evaluate(model, slice(0, 300) if rank == 0 else slice(300, N))
em.all_reduce_metrics(model)
logs = {}
for key, value in model.get_metrics_result().items():
    logs.update({k: float(v) for k, v in value.items()} if isinstance(value, dict) else {key: float(value)})
print("RESULT " + json.dumps({"reduced": logs}))
dist.barrier()
dist.destroy_process_group()
"""
)


@pytest.mark.skipif(BACKEND != "torch", reason="torch.distributed needs the torch backend")
def test_torch_all_reduce_metrics(tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(textwrap.dedent(TORCH_WORKER))
    results = launch(worker, env={"KERAS_BACKEND": "torch"})  # 2 ranks, short timeouts
    # Both processes hold the same state: the one of all the data.
    assert results[0]["reduced"] == results[1]["reduced"]
    rng = np.random.default_rng(0)
    y = (rng.normal(size=(500, 2)) * [1.0, 3.0] + 1e4).astype("float32")
    x = (y + rng.normal(size=(500, 2)) + 0.25).astype("float32")
    w = rng.integers(1, 4, 500).astype("float64")
    y[300:] += np.float32(50.0)
    x[300:] += np.float32(50.0)
    logs = results[0]["reduced"]
    np.testing.assert_allclose(
        [logs["r2_0"], logs["r2_1"]], reference("R2Score", y, x, w, "raw_values"), rtol=1e-9
    )
    np.testing.assert_allclose(
        logs["pearson"], reference("PearsonCorrCoef", y, x, w, "uniform_average"), rtol=1e-9
    )
