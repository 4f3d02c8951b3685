"""Several processes in tests: a launcher for 2-process jobs on localhost, and shared data.

`launch(worker, n=2, env=...)` runs `python worker.py` once per rank with `RANK`, `WORLD_SIZE`,
free ports (`PORTS`: one per rank, for `TF_CONFIG`; `MASTER_PORT` for torch and JAX's
coordinator) and a short collective timeout (`COLLECTIVE_TIMEOUT`), and returns the JSON each
rank printed on its last `RESULT ` line. A worker that hangs is killed at `timeout` and the
test fails with every rank's stderr. Workers run several scenarios per launch: starting a
process (a framework, a process group) costs seconds, a scenario milliseconds.

Also here, because spawned processes import them by name: the data of the distributed cases
(`classification_data`, `detection_data`) and `evaluate_partition`, run in a process pool.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SRC = str(Path(__file__).resolve().parent.parent / "src")
TESTS = str(Path(__file__).resolve().parent)
COLLECTIVE_TIMEOUT = 60  # seconds: a hung collective fails the test fast


def free_ports(n: int) -> list[int]:
    """`n` distinct free TCP ports on localhost."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("localhost", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def launch(
    worker: str | Path,
    *,
    n: int = 2,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    timeout: float = 240,
) -> list[Any]:
    """Run `worker` in `n` processes on localhost; the JSON result of each rank, by rank."""
    ports = free_ports(n + 1)
    base = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, TESTS, os.environ.get("PYTHONPATH", "")]),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "WORLD_SIZE": str(n),
        "MASTER_ADDR": "localhost",
        "MASTER_PORT": str(ports[-1]),
        "PORTS": ",".join(map(str, ports[:n])),
        "COLLECTIVE_TIMEOUT": str(COLLECTIVE_TIMEOUT),
        # One thread per process: the ranks share the machine's cores.
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    # Output to files, not pipes: a rank blocked on a full pipe while the other waits for it
    # in a collective would hang both until the timeout.
    with contextlib.ExitStack() as stack:
        files = [
            tuple(stack.enter_context(tempfile.TemporaryFile("w+")) for _ in "oe") for _ in range(n)
        ]
        procs = [
            subprocess.Popen(
                [sys.executable, "-W", "ignore", str(worker), *(args or [])],
                env={**base, "RANK": str(rank)},
                stdout=out,
                stderr=err,
                text=True,
            )
            for rank, (out, err) in enumerate(files)
        ]
        deadline = time.monotonic() + timeout  # one limit for the whole job
        hung = False
        try:
            for p in procs:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            hung = True
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        outputs = []
        for out, err in files:
            out.seek(0)
            err.seek(0)
            outputs.append((out.read(), err.read()))
    if hung:
        raise AssertionError(
            f"a worker hung (killed after {timeout:.0f} s):\n" + _report(procs, outputs)
        )
    results = []
    for p, (out, _) in zip(procs, outputs, strict=True):
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        if p.returncode != 0 or not lines:
            raise AssertionError(_report(procs, outputs))
        results.append(json.loads(lines[-1][len("RESULT ") :]))
    return results


def _report(procs: list[Any], outputs: list[tuple[str, str]]) -> str:
    return "\n".join(
        f"--- rank {r} (exit {p.returncode}):\n{err[-4000:]}"
        for r, (p, (_, err)) in enumerate(zip(procs, outputs, strict=True))
    )


# --- data shared by the distributed cases -------------------------------------------------------
def classification_data(
    n: int = 1001, c: int = 5, d: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`x (n, d) float32, y (n,) int32 in [0, c), w (n,) float32 integer weights`."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = rng.integers(0, c, n).astype("int32")
    w = rng.integers(1, 4, n).astype("float32")
    return x, y, w


def detection_data(n: int, seed: int = 0, classes: int = 3) -> tuple[dict, dict]:
    """`n` images as padded Keras-style dicts (label -1 = padding): ground truth and
    detections, with scores on a 1/16 grid (ties across images: their order matters)."""
    rng = np.random.default_rng(seed)
    g, k = 4, 6
    boxes_t = np.full((n, g, 4), -1.0)
    labels_t = np.full((n, g), -1)
    boxes_p = np.full((n, k, 4), -1.0)
    labels_p = np.full((n, k), -1)
    scores = np.zeros((n, k))
    for i in range(n):
        m = int(rng.integers(0, g + 1))
        xy = rng.integers(0, 200, (m, 2)).astype(float)
        wh = rng.integers(4, 120, (m, 2)).astype(float)
        boxes_t[i, :m] = np.concatenate([xy, xy + wh], axis=1)
        labels_t[i, :m] = rng.integers(0, classes, m)
        d = int(rng.integers(0, k + 1))
        src = rng.integers(0, max(m, 1), d)
        jitter = rng.integers(-6, 7, (d, 4)).astype(float)
        base = boxes_t[i, src] if m else np.tile([10.0, 10.0, 60.0, 60.0], (d, 1))
        boxes_p[i, :d] = np.abs(base) + jitter
        boxes_p[i, :d, 2:] = np.maximum(boxes_p[i, :d, 2:], boxes_p[i, :d, :2] + 1)
        labels_p[i, :d] = np.where(rng.random(d) < 0.8, labels_t[i, src] if m else 0, 1)
        labels_p[i, :d] = np.maximum(labels_p[i, :d], 0)
        scores[i, :d] = rng.integers(1, 16, d) / 16
    return (
        {"boxes": boxes_t, "labels": labels_t},
        {"boxes": boxes_p, "scores": scores, "labels": labels_p},
    )


def take(tree: dict, part: Any) -> dict:
    return {k: v[part] for k, v in tree.items()}


def evaluate_partition(states: list[dict], part: tuple[int, int]) -> list[Any]:
    """In a pool process: rebuild the metrics from their (empty) states, update them with
    rows `part` of the shared data, and send them back (by pickle)."""
    import epochmetrics as em

    a, b = part
    x, y, w = classification_data(200, 4, 4)
    scores = np.abs(x) / np.abs(x).sum(axis=1, keepdims=True)
    truth, pred = detection_data(30)
    out = []
    for state in states:
        metric = getattr(em, state["class"]).from_state(state)
        if state["class"] == "DetectionMAP":
            lo, hi = a * 30 // 200, b * 30 // 200
            metric.update_state(take(truth, slice(lo, hi)), take(pred, slice(lo, hi)))
        else:
            metric.update_state(y[a:b], scores[a:b], w[a:b])
        out.append(metric)
    return out
