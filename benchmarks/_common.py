"""Shared by the benchmark sections: thread pinning, interleaved timing, JSON hand-off.

Each section runs in its own process (Keras' backend is fixed at import) and prints one JSON
line prefixed with `RESULT ` that `run.py` collects. Import this module before any framework:
`pin_threads` sets the environment variables the frameworks read at import.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "RESULT "
FEATURES, HIDDEN, CLASSES = 64, 128, 10


def pin_threads(threads: int) -> None:
    """Limit every framework to `threads` intra-op threads; call before importing any of them.

    On a small shared machine a parallel kernel waits for its slowest thread, so one busy
    neighbour makes multi-threaded timings swing by 10x; one thread measures the work itself.
    """
    if threads <= 0:
        return
    n = str(threads)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = n
    os.environ["TF_NUM_INTRAOP_THREADS"] = n
    os.environ["TF_NUM_INTEROP_THREADS"] = n
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        extra = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pin_torch_threads(threads: int) -> None:
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def compare(
    candidates: dict[str, Callable[[], Any]],
    sync: Callable[[Any], Any] = lambda out: out,
    *,
    repeats: int = 5,
    min_time: float = 0.05,
    warmup: int = 2,
) -> dict[str, float]:
    """Median seconds per call of each candidate, timed side by side.

    Every candidate is warmed up (compilation excluded), then calibrated to a number of calls
    per repeat lasting about `min_time`; the repeats are interleaved across candidates (round
    robin, rotating the order) so that a slow spell on a shared machine hits all of them alike.
    `sync(out)` waits for asynchronous work (`jax.block_until_ready`, CUDA synchronize).
    """
    calls: dict[str, int] = {}
    for name, fn in candidates.items():
        for _ in range(warmup):
            sync(fn())
        start = time.perf_counter()
        sync(fn())
        once = time.perf_counter() - start
        calls[name] = max(1, int(min_time / max(once, 1e-7)))
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn, n = candidates[name], calls[name]
            start = time.perf_counter()
            out = None
            for _ in range(n):
                out = fn()
            sync(out)
            samples[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def emit(payload: dict[str, Any]) -> None:
    """Hand a section's results to run.py (one line on stdout)."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(payload) + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    """Progress, on stderr so that it never mixes with the result line."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def model_section(doc: str | None, samples: int, argv: list[str] | None) -> tuple[Any, Any, Any]:
    """Arguments, thread pinning and data of the model sections (fit, evaluator).

    Returns `(args, x, y)`: `samples` random feature rows and integer labels, seeded.
    """
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--samples", type=int, default=samples)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    pin_threads(args.threads)

    import keras
    import numpy as np

    if keras.backend.backend() == "torch":
        pin_torch_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.samples, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, args.samples).astype("int32")
    return args, x, y


def mlp(activation: str | None = None) -> Any:
    """The benchmarks' small MLP (FEATURES -> HIDDEN -> HIDDEN -> CLASSES), seeded weights."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(CLASSES, activation=activation),
        ]
    )
