"""Distributed section: the evaluator's peak memory for whole arrays, and the cost of a global
read under torch.distributed.

- memory (JAX backend): `EpochEvaluator` on N x C scores (100,000 x 1,000 float32: 400 MB)
  with metrics that need the whole arrays: a callable (the gather alone) and an exact AUROC
  (`evaluate_arrays`). Peak of NumPy's allocations (tracemalloc) during `evaluate`, as a ratio
  to the score bytes, beside the anchor measured in the same process: the same batches
  appended to a list and concatenated (what the evaluator did before, 2x).
- sync (torch, 2 gloo processes on this machine): a model with the loss, a 10-class
  ClassificationReport and F1Score read by Keras at the end of an epoch
  (`model.get_metrics_result()`), with the states combined over the ranks (sync on read) and
  without; fit reads twice per epoch (train logs, then `val_` logs), so the cost per epoch end
  is twice the difference.
- intervals (torch, 2 gloo processes): one `EpochEvaluator` evaluation (an epoch end) of
  2,000 validation samples, 10 classes, `process_data="whole"`, without and with
  `confidence=` (R = 1,000), for count metrics (ClassificationReport + F1Score) and for an
  exact AUROC; and the bootstrap's own exchange (`Resampler.finish`: the count states
  weighted at this process's positions and added over the processes) timed alone.

    python benchmarks/distributed.py --part memory --samples 100000 --classes 1000
    python benchmarks/distributed.py --part sync --repeats 50
    python benchmarks/distributed.py --part intervals --repeats 7
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import RESULT_PREFIX, pin_threads  # noqa: E402


def _peak(fn: Any) -> int:
    """Peak bytes NumPy (and Python) allocate while `fn` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def memory(samples: int, classes: int, batch: int) -> dict[str, Any]:
    import keras
    import numpy as np

    import epochmetrics as em

    rng = np.random.default_rng(0)
    scores = rng.random((samples, classes), dtype=np.float32)
    labels = rng.integers(0, classes, samples)
    inputs = keras.Input((classes,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))  # y_pred = x: no compute
    nbytes = scores.nbytes

    def anchor() -> None:  # the batches kept in a list, then concatenated
        parts = [model.predict_on_batch(scores[i : i + batch]) for i in range(0, samples, batch)]
        whole = np.concatenate([np.asarray(p) for p in parts], axis=0)
        del parts
        float(whole[0, 0])

    out: dict[str, Any] = {"samples": samples, "classes": classes, "score_mb": nbytes / 2**20}
    cases = {
        "callable": {"first": lambda y, p: float(p[0, 0])},
        "auroc": {"auroc": em.AUROC("multiclass", num_classes=classes)},
    }
    for name, metrics in cases.items():
        ev = em.EpochEvaluator((scores, labels), metrics, batch_size=batch)
        ev.evaluate(model)  # compiles; sizes the buffers (array data: known anyway)
        out[name] = _peak(lambda ev=ev: ev.evaluate(model)) / nbytes
    out["anchor"] = _peak(anchor) / nbytes
    return out


# --- sync: two torch ranks ----------------------------------------------------------------------
def _rank(repeats: int) -> dict[str, float]:
    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    dist.init_process_group(
        "gloo", rank=rank, world_size=2, timeout=datetime.timedelta(seconds=120)
    )
    import keras
    import numpy as np

    import epochmetrics as em

    rng = np.random.default_rng(rank)
    x = rng.normal(size=(2048, 32)).astype("float32")
    y = rng.integers(0, 10, 2048)
    inputs = keras.Input((32,))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    model.compile(
        "sgd",
        "sparse_categorical_crossentropy",
        metrics=[
            em.ClassificationReport("multiclass", num_classes=10),
            em.F1Score("multiclass", num_classes=10),
        ],
    )
    model.evaluate(x, y, batch_size=256, verbose=0)  # some state on each rank
    times: dict[str, list[float]] = {"global": [], "local": []}
    for _ in range(repeats):
        for mode in ("global", "local"):  # interleaved: the same conditions for both
            em.sync_on_read(mode == "global")
            dist.barrier()
            start = time.perf_counter()
            model.get_metrics_result()
            times[mode].append(time.perf_counter() - start)
    em.sync_on_read(True)
    dist.barrier()
    dist.destroy_process_group()
    return {k: statistics.median(v) for k, v in times.items()}


def _interval_rank(repeats: int) -> dict[str, float]:
    """Median seconds per evaluation, per case, on this rank (interleaved rounds)."""
    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", rank=int(os.environ["RANK"]), world_size=2, timeout=datetime.timedelta(seconds=300)
    )
    import keras
    import numpy as np

    import epochmetrics as em
    from epochmetrics.callbacks import _bootstrap

    rng = np.random.default_rng(0)  # the same data on both ranks ("whole")
    x = rng.normal(size=(2000, 32)).astype("float32")
    y = rng.integers(0, 10, 2000)
    inputs = keras.Input((32,))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    finish = _bootstrap.Resampler.finish
    spent: list[float] = []

    def timed(self: Any, *args: Any) -> None:
        start = time.perf_counter()
        finish(self, *args)
        spent.append(time.perf_counter() - start)

    _bootstrap.Resampler.finish = timed  # type: ignore[method-assign]
    metrics = {
        "count": lambda: [
            em.ClassificationReport("multiclass", num_classes=10),
            em.F1Score("multiclass", num_classes=10, name="f1"),
        ],
        "auroc": lambda: [em.AUROC("multiclass", num_classes=10)],
    }
    evaluators = {
        (name, r): em.EpochEvaluator(
            (x, y),
            make(),
            batch_size=256,
            process_data="whole",
            confidence=None if r == 0 else 0.95,
            resamples=max(r, 2),
        )
        for name, make in metrics.items()
        for r in (0, 1000)
    }
    times: dict[str, list[float]] = {}
    finishes: list[float] = []
    for round_ in range(repeats + 1):  # the first round warms up
        for (name, r), ev in evaluators.items():
            dist.barrier()
            spent.clear()
            start = time.perf_counter()
            ev.evaluate(model)
            if round_:
                times.setdefault(f"{name}_{r}", []).append(time.perf_counter() - start)
                if name == "count" and r:
                    finishes.append(sum(spent))
    # The exchange alone: the count metrics' (R, state) replicate states, as `finish` sends.
    from epochmetrics._backend import collectives

    processes = collectives.current()
    states = dict(evaluators["count", 1000]._intervals.resampler._states)  # type: ignore[union-attr]
    exchange = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        processes.gather_objects(states)
        exchange.append(time.perf_counter() - start)
    dist.barrier()
    dist.destroy_process_group()
    out = {k: statistics.median(v) for k, v in times.items()}
    out["count_finish"] = statistics.median(finishes)
    out["count_exchange"] = statistics.median(exchange)
    out["exchange_kb"] = sum(v.nbytes for v in states.values()) / 2**10
    return out


def _two_ranks(part: str, repeats: int) -> list[dict[str, float]]:
    s = socket.socket()
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, MASTER_ADDR="localhost", MASTER_PORT=str(port), KERAS_BACKEND="torch")
    cmd = [sys.executable, "-W", "ignore", __file__, "--part", part, "--repeats", str(repeats)]
    procs = [
        subprocess.Popen(cmd, env={**env, "RANK": str(r)}, stdout=subprocess.PIPE, text=True)
        for r in range(2)
    ]
    outs = [p.communicate(timeout=1200)[0] for p in procs]
    return [
        json.loads(next(ln for ln in o.splitlines() if ln.startswith(RESULT_PREFIX))[7:])
        for o in outs
    ]


def intervals(repeats: int) -> dict[str, Any]:
    """ms per evaluation (the slower rank's median), without and with intervals."""
    ranks = _two_ranks("interval_rank", repeats)
    out = {f"{k}_ms": max(r[k] for r in ranks) * 1e3 for k in ranks[0] if k != "exchange_kb"}
    out["exchange_kb"] = ranks[0]["exchange_kb"]
    return out


def sync(repeats: int) -> dict[str, Any]:
    s = socket.socket()
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, MASTER_ADDR="localhost", MASTER_PORT=str(port), KERAS_BACKEND="torch")
    cmd = [sys.executable, "-W", "ignore", __file__, "--part", "rank", "--repeats", str(repeats)]
    procs = [
        subprocess.Popen(cmd, env={**env, "RANK": str(r)}, stdout=subprocess.PIPE, text=True)
        for r in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    ranks = [
        json.loads(next(ln for ln in o.splitlines() if ln.startswith(RESULT_PREFIX))[7:])
        for o in outs
    ]
    read = max(r["global"] for r in ranks)
    local = max(r["local"] for r in ranks)
    return {
        "read_global_ms": read * 1e3,
        "read_local_ms": local * 1e3,
        "epoch_end_ms": 2 * (read - local) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--part",
        choices=("memory", "sync", "rank", "intervals", "interval_rank"),
        required=True,
    )
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    if args.part == "memory":
        result = memory(args.samples, args.classes, args.batch)
    elif args.part == "sync":
        result = sync(args.repeats)
    elif args.part == "intervals":
        result = intervals(args.repeats)
    elif args.part == "interval_rank":
        result = _interval_rank(args.repeats)
    else:
        result = _rank(args.repeats)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
