"""Regression metrics: Keras' own values beside ours, and the update cost side by side.

Run by `run.py` once per backend, in a fresh process:

    KERAS_BACKEND=jax   python benchmarks/regression.py
    KERAS_BACKEND=torch python benchmarks/regression.py

Values: a fixed linear model (8 features, scalar target, 3,000 samples) in compiled
`model.evaluate` at batch size 32, with `keras.metrics.PearsonCorrelation`,
`ConcordanceCorrelation` and `R2Score` and ours, at target offsets 0, 1e4 and 1e6 (the model's
bias moves with them, so every value should stay the same); references: scipy's `pearsonr`,
scikit-learn's `r2_score` and Lin's concordance on the model's float64 predictions.

Update cost, per batch of B samples (one output): JAX, `jax.jit(metric.stateless_update_state)`
of `em.R2Score` against `keras.metrics.R2Score` on device arrays; torch and TensorFlow, eager
`update_state` (what a user calls; ours compiled by its runtime on TensorFlow, direct torch on
torch) against `keras.metrics.R2Score.update_state`, and on torch `em.PearsonCorrCoef` against
torchmetrics' `PearsonCorrCoef.update`. Each round times the candidates side by side
(interleaved, calibrated call counts); the ratio ours / anchor is taken per round, and the
median and interquartile range of the ratios are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import compare, emit, log, pin_threads, pin_torch_threads

SIZES = (32, 1024, 65536)
OFFSETS = (0.0, 1e4, 1e6)


def values(offsets: tuple[float, ...] = OFFSETS) -> list[dict[str, Any]]:
    """Keras' metrics and ours in `model.evaluate`, beside the references."""
    import keras
    import numpy as np
    import scipy.stats
    from sklearn.metrics import r2_score

    import epochmetrics as em

    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=(n, 8)).astype("float32")
    kernel = rng.normal(size=(8, 1)).astype("float32")
    noise = 0.5 * rng.normal(size=(n, 1))
    rows = []
    for offset in offsets:
        y = (x.astype(np.float64) @ kernel + noise + offset).astype("float32")
        inputs = keras.Input((8,))
        layer = keras.layers.Dense(1)
        model = keras.Model(inputs, layer(inputs))
        layer.set_weights([kernel, np.full(1, offset, "float32")])
        model.compile(
            loss="mse",
            metrics=[
                keras.metrics.PearsonCorrelation(name="k_pearson"),
                keras.metrics.ConcordanceCorrelation(name="k_concordance"),
                keras.metrics.R2Score(name="k_r2"),
                em.PearsonCorrCoef(),
                em.ConcordanceCorrCoef(),
                em.R2Score(),
            ],
        )
        logs = model.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
        p = np.asarray(model.predict(x, batch_size=3000, verbose=0), np.float64).ravel()
        t = y.astype(np.float64).ravel()
        cov = np.mean((t - t.mean()) * (p - p.mean()))
        reference = {
            "pearson": float(scipy.stats.pearsonr(t, p)[0]),
            "concordance": float(2 * cov / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)),
            "r2": float(r2_score(t, p)),
        }
        row = {"offset": offset, "reference": reference, "keras": {}, "ours": {}}
        for name in reference:
            row["keras"][name] = float(logs[f"k_{name}"])
            row["ours"][name] = float(logs[name])
        rows.append(row)
        log(f"  offset {offset:g}: " + ", ".join(f"{k} {v}" for k, v in row["keras"].items()))
    return rows


def _data(batch: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(batch)
    y = rng.normal(size=batch).astype(np.float32)
    return y, (y + 0.3 * rng.normal(size=batch)).astype(np.float32)


def jax_candidates(batch: int) -> dict[str, Callable[[], Any]]:
    import jax
    import jax.numpy as jnp
    import keras

    import epochmetrics as em

    y, p = (jnp.asarray(a)[:, None] for a in _data(batch))
    theirs = keras.metrics.R2Score()
    theirs.update_state(y[:2], p[:2])  # builds its variables
    ours = em.R2Score()
    k_fn, o_fn = jax.jit(theirs.stateless_update_state), jax.jit(ours.stateless_update_state)
    k_vars, o_vars = [v.value for v in theirs.variables], [v.value for v in ours.variables]
    return {
        "ours": lambda: o_fn(o_vars, y, p),
        "keras_r2": lambda: k_fn(k_vars, y, p),
    }


def eager_candidates(batch: int, backend: str) -> dict[str, Callable[[], Any]]:
    import keras

    import epochmetrics as em

    y, p = (keras.ops.convert_to_tensor(a[:, None]) for a in _data(batch))
    theirs = keras.metrics.R2Score()
    ours = em.R2Score()
    out: dict[str, Callable[[], Any]] = {
        "ours": lambda: ours.update_state(y, p),
        "keras_r2": lambda: theirs.update_state(y, p),
    }
    if backend == "torch":
        from torchmetrics.regression import PearsonCorrCoef

        tm = PearsonCorrCoef()
        pearson = em.PearsonCorrCoef()
        y1, p1 = y[:, 0], p[:, 0]
        out["ours_pearson"] = lambda: pearson.update_state(y1, p1)
        out["torchmetrics_pearson"] = lambda: tm.update(p1, y1)
    return out


# ours candidate -> anchors it is compared with
PAIRS = {
    "ours": ("keras_r2",),
    "ours_pearson": ("torchmetrics_pearson",),
}


def summary(per_round: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seconds": {k: statistics.median(v) for k, v in per_round.items()}}
    for mine, anchors in PAIRS.items():
        for anchor in anchors:
            if mine not in per_round or anchor not in per_round:
                continue
            ratios = [a / b for a, b in zip(per_round[mine], per_round[anchor], strict=True)]
            q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
            out[f"{mine}/{anchor}"] = {
                "ratios": ratios,
                "median": statistics.median(ratios),
                "iqr": [q[0], q[2]],
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--no-values", action="store_true", help="skip the values table")
    parser.add_argument("--values-only", action="store_true", help="only the values table")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        pin_torch_threads(args.threads)
        sync: Callable[[Any], Any] = lambda out: out  # noqa: E731 (eager CPU)
    elif backend == "jax":
        import jax

        sync = jax.block_until_ready
    else:
        sync = lambda out: out  # noqa: E731
    rows = []
    sizes = [] if args.values_only else [int(s) for s in args.sizes.split(",")]
    for batch in sizes:
        if backend == "jax":
            candidates = jax_candidates(batch)
        else:
            candidates = eager_candidates(batch, backend)
        per_round: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(args.rounds):
            timed = compare(candidates, sync, repeats=3, min_time=0.1, warmup=2)
            for name, seconds in timed.items():
                per_round[name].append(seconds)
        row = {"batch": batch, **summary(per_round)}
        ratios = {k: v["median"] for k, v in row.items() if isinstance(v, dict) and "median" in v}
        log(f"  B={batch}: " + ", ".join(f"{k} x{v:.2f}" for k, v in ratios.items()))
        rows.append(row)
    result: dict[str, Any] = {"backend": backend, "rows": rows}
    if not args.no_values:
        result["values"] = values()
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
