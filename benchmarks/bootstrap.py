"""Confidence intervals in `EpochEvaluator`: what R replicates cost per epoch, and which R.

Cost: the demo's job (`epochmetrics demo`: imbalanced digits, 10 classes, its validation set
and model) evaluated at epoch end without intervals and with `confidence=0.95,
resamples=1000`, side by side (interleaved rounds, median ms per evaluation), for
- count metrics: the demo's per-class F1, macro F1 and accuracy, plus a full
  ClassificationReport (one state each: the replicates are one (R, state) read);
- exact AUROC (macro one-vs-rest on the whole arrays: R re-weightings of sorted columns);
with one training epoch of the demo's model as the yardstick.

Stability: the endpoints of the 95% and 99% intervals of F1 macro on 1,000 samples (the
simulated population of tests/test_bootstrap.py: 3 classes, 60/30/10%) computed with 40 seeds
for each R; their standard deviation across seeds is the Monte Carlo noise of the interval
itself (README, "Is it noise?", for the choice of the default `resamples`).

    KERAS_BACKEND=jax python benchmarks/bootstrap.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import compare, emit, log, pin_threads, pin_torch_threads

RESAMPLES = (100, 200, 500, 1000, 2000)
SEEDS = 40


def stability(n: int = 1000) -> dict[str, dict[str, float]]:
    """SD across seeds of the F1-macro interval's endpoints, per R."""
    import numpy as np

    import epochmetrics as em
    from epochmetrics._backend.xp import numpy_ops
    from epochmetrics.functional import bootstrap, replicates
    from epochmetrics.functional.stat_scores import stat_scores_update

    rng = np.random.default_rng(0)
    y = rng.choice(3, n, p=(0.6, 0.3, 0.1))
    logits = 1.2 * np.eye(3)[y] + rng.normal(size=(n, 3))
    f1 = em.F1Score("multiclass", num_classes=3)
    part = replicates.contributions(stat_scores_update, (f1._spec, False), y, logits, None)
    assert part is not None
    out: dict[str, dict[str, float]] = {}
    for r in RESAMPLES:
        ends = []
        for seed in range(SEEDS):
            w = bootstrap.replicate_weights(np.arange(n), r, seed)
            reps = f1._compute(replicates.replicate_states(part, w), numpy_ops)
            row = []
            for confidence in (0.95, 0.99):
                low, high = bootstrap.percentile_interval(reps, confidence)
                row += [low[0], high[0]]
            ends.append(row)
        a = np.asarray(ends)
        out[str(r)] = {
            "sd_low": float(a[:, 0].std(ddof=1)),
            "sd_high": float(a[:, 1].std(ddof=1)),
            "mean_low": float(a[:, 0].mean()),
            "mean_high": float(a[:, 1].mean()),
            "sd_low_99": float(a[:, 2].std(ddof=1)),
            "sd_high_99": float(a[:, 3].std(ddof=1)),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)
    pin_threads(args.threads)

    import keras

    if keras.backend.backend() == "torch":
        pin_torch_threads(args.threads)
    import epochmetrics as em
    from epochmetrics.cli import demo

    x_tr, y_tr, x_va, y_va = demo.imbalanced_digits(0)
    model = demo.build_model(0)
    model.fit(x_tr, y_tr, epochs=1, batch_size=32, verbose=0)  # compiled, weights of epoch 1

    def count_metrics() -> list:
        c = {"num_classes": 10}
        return [
            em.F1Score("multiclass", average=None, **c),
            em.F1Score("multiclass", name="f1_macro", **c),
            em.Accuracy("multiclass", **c),
            em.ClassificationReport("multiclass", name="report", **c),
        ]

    sets = {"count": count_metrics, "auroc": lambda: [em.AUROC("multiclass", num_classes=10)]}
    candidates = {}
    evaluators = {}
    for name, make in sets.items():
        for conf in (None, 0.95):
            ev = em.EpochEvaluator(
                (x_va, y_va), make(), confidence=conf, resamples=args.resamples, batch_size=64
            )
            key = f"{name}_{'ci' if conf else 'plain'}"
            evaluators[key] = ev
            candidates[key] = lambda ev=ev: ev.evaluate(model)
    candidates["train_epoch"] = lambda: model.fit(x_tr, y_tr, epochs=1, batch_size=32, verbose=0)
    log(f"timing {len(candidates)} candidates, {args.repeats} rounds")
    start = time.perf_counter()
    seconds = compare(candidates, repeats=args.repeats, min_time=0.2, warmup=1)
    keys = {k: len(ev.evaluate(model)) for k, ev in evaluators.items()}
    logs = evaluators["count_ci"].evaluate(model)
    log(f"timed in {time.perf_counter() - start:.0f} s; stability ...")
    emit(
        {
            "backend": keras.backend.backend(),
            "val_samples": len(y_va),
            "train_samples": len(y_tr),
            "resamples": args.resamples,
            "seconds": seconds,
            "keys": keys,
            "f1_macro": [logs[f"val_f1_macro{s}"] for s in ("_low", "", "_high")],
            "stability": stability(),
        }
    )


if __name__ == "__main__":
    main()
