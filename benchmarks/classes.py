"""Per-class results with many classes: eager read times and the fit cost of 1,000 keys.

- read: in a fresh process, a metric is updated once and its `result()` read: the first read
  (whatever it compiles) and later reads (median), for `F1Score(average=None)` and a default
  `ClassificationReport`, at C = 1,000 and C = 10,000 (first read only).
- fit: a small MLP with C = 1,000 outputs, one epoch per round, a per-class
  `ClassificationReport` in `compile` against macro F1 alone; per-round ratios (median of the
  rounds after the first), and the first epoch's extra seconds (compilation).

Run by `run.py`; alone: `KERAS_BACKEND=jax python benchmarks/classes.py --repeats 5`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from _common import emit, log, pin_threads, pin_torch_threads


def read_times(make: Any, c: int, repeats: int) -> dict[str, float]:
    import numpy as np

    rng = np.random.default_rng(0)
    metric = make(c)
    metric.update_state(rng.integers(0, c, 4096), rng.integers(0, c, 4096))
    start = time.perf_counter()
    first = metric.result()
    first_s = time.perf_counter() - start
    assert len(first) >= c
    later = []
    for _ in range(max(repeats, 3)):
        start = time.perf_counter()
        metric.result()
        later.append(time.perf_counter() - start)
    return {"first": first_s, "later": statistics.median(later)}


def fit_times(c: int, steps: int, batch: int, rounds: int) -> dict[str, Any]:
    import keras
    import numpy as np

    import epochmetrics as em

    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps * batch, 32)).astype("float32")
    y = rng.integers(0, c, steps * batch)

    def model(metrics: list[Any]) -> Any:
        keras.utils.set_random_seed(0)
        m = keras.Sequential(
            [keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(c)]
        )
        m.compile(
            "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=metrics
        )
        return m

    models = {
        "f1_macro": model([em.F1Score("multiclass", num_classes=c)]),
        "report": model([em.ClassificationReport("multiclass", num_classes=c)]),
    }
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for r in range(rounds + 1):
        order = list(models) if r % 2 == 0 else list(models)[::-1]
        for name in order:
            start = time.perf_counter()
            models[name].fit(x, y, batch_size=batch, epochs=1, verbose=0)
            seconds[name].append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(seconds["report"][1:], seconds["f1_macro"][1:], strict=True)]
    return {
        "seconds": seconds,
        "ratios": ratios,
        "ratio": statistics.median(ratios),
        "first_epoch_extra": {name: s[0] - statistics.median(s[1:]) for name, s in seconds.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    import keras

    if keras.backend.backend() == "torch":
        pin_torch_threads(args.threads)
    import epochmetrics as em

    c = args.classes
    reads = {
        "f1_per_class": read_times(
            lambda k: em.F1Score("multiclass", num_classes=k, average=None), c, args.repeats
        ),
        "report": read_times(
            lambda k: em.ClassificationReport("multiclass", num_classes=k), c, args.repeats
        ),
    }
    log(f"  reads at C={c}: {reads}")
    big = 10 * c
    reads["f1_per_class_10x"] = read_times(
        lambda k: em.F1Score("multiclass", num_classes=k, average=None), big, 1
    )
    rounds = 2 if args.quick else max(args.repeats, 3)
    fit = fit_times(c, args.steps, 256, rounds)
    log(f"  fit ratios: {[round(r, 2) for r in fit['ratios']]}")
    emit({"backend": keras.backend.backend(), "classes": c, "reads": reads, "fit": fit})
    return 0


if __name__ == "__main__":
    sys.exit(main())
