"""What metrics in `model.compile(metrics=...)` cost a `fit` epoch, per round, against no metric.

One small MLP (64 -> 128 -> 128 -> 10, SGD, batch 256, 32,768 samples = 128 steps), the same
data and initial weights for every model:

- none: no metric (the baseline of every ratio);
- keras_accuracy: Keras' own `SparseCategoricalAccuracy`, the anchor (what the cheapest
  one-key metric costs in this loop);
- report: the full per-class `ClassificationReport` at its default settings
  (`per_step="none"`: train steps return none of its keys, the epoch's logs all 48);
- report_averages: the same report with `per_step="averages"` (its 8 averaged keys per step);
- report_all: the same report with `per_step="all"` (every key at every step);
- report_averages_only: the report's averages only (`per_class=False`, default `per_step`);
- f1_macro: one macro `F1Score` (its one key at every step, the default for single metrics).

Each model's first epoch (compilation) is timed on its own and kept out. Then every round
times one epoch of every model (one-epoch `fit` calls, in an order rotated each round, timed
from `on_epoch_begin` to `on_epoch_end`). Within a round each model's epoch is divided by the
no-metric epoch of the same round, so a slow spell of the shared machine hits both sides of
a ratio; the table gives the median of these per-round ratios (and their interquartile range),
and the overhead in ms per step: the median over rounds of (epoch - no-metric epoch) / steps.
Log keys are counted per step (`train_on_batch`, after the timed rounds) and in the epoch's
History.

    KERAS_BACKEND=jax python benchmarks/fit.py              # 15 rounds, prints the table
    KERAS_BACKEND=torch python benchmarks/fit.py --rounds 5 --models none,report,report_all
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import CLASSES, emit, log, mlp, model_section

ROUNDS = 15
# Targets for the full report at its default settings: per-round ratio to no metric.
TARGETS = {"jax": 1.10, "tensorflow": 1.10, "torch": 1.20}
LABELS = {
    "none": "no metric",
    "keras_accuracy": "keras accuracy (anchor)",
    "report": 'report (default: per_step="none")',
    "report_averages": 'report, per_step="averages"',
    "report_all": 'report, per_step="all"',
    "report_averages_only": "report, per_class=False",
    "f1_macro": "F1 macro",
}
MODELS = tuple(LABELS)
DEFAULT_MODELS = MODELS


def build_metrics(name: str) -> list[Any]:
    """The compiled metrics of model `name` (see the module docstring)."""
    import keras

    import epochmetrics as em

    report = em.ClassificationReport
    return {
        "none": lambda: [],
        "keras_accuracy": lambda: [keras.metrics.SparseCategoricalAccuracy()],
        "report": lambda: [report("multiclass", num_classes=CLASSES)],
        "report_averages": lambda: [report("multiclass", num_classes=CLASSES, per_step="averages")],
        "report_all": lambda: [report("multiclass", num_classes=CLASSES, per_step="all")],
        "report_averages_only": lambda: [
            report("multiclass", num_classes=CLASSES, per_class=False)
        ],
        "f1_macro": lambda: [em.F1Score("multiclass", num_classes=CLASSES)],
    }[name]()


def measure(x: Any, y: Any, batch_size: int, rounds: int, names: list[str]) -> dict[str, Any]:
    """First epochs, per-round epoch seconds and log key counts of the models `names`."""
    import keras

    def build(name: str) -> keras.Model:
        model = mlp()
        model.compile(
            keras.optimizers.SGD(0.01),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=build_metrics(name),
        )
        return model

    class EpochTimer(keras.callbacks.Callback):
        # Epoch hooks only: a batch hook would make Keras convert the step logs synchronously
        # (no async dispatch), which changes what is measured.
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            self.seconds.append(time.perf_counter() - self._start)

    models = {name: build(name) for name in names}
    timers = {name: EpochTimer() for name in names}
    epoch_keys = {}
    for name, model in models.items():  # first epoch: compilation, timed apart
        log(f"  fit {keras.backend.backend()} first epoch: {name}")
        history = model.fit(
            x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timers[name]]
        )
        epoch_keys[name] = len(history.history) - 1  # without the loss
    first = {name: t.seconds.pop() for name, t in timers.items()}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            models[name].fit(
                x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timers[name]]
            )
        if (r + 1) % 5 == 0:
            log(f"  fit {keras.backend.backend()} round {r + 1}/{rounds}")
    # The keys one train step returns (what the progress bar and batch callbacks get); after
    # the timed rounds, so that nothing else runs between them.
    step_keys = {
        name: len(m.train_on_batch(x[:batch_size], y[:batch_size], return_dict=True)) - 1
        for name, m in models.items()
    }
    return {
        "first_epoch_seconds": first,
        "epoch_seconds": {name: t.seconds for name, t in timers.items()},
        "step_keys": step_keys,
        "epoch_keys": epoch_keys,
    }


def summarise(raw: dict[str, Any], steps: int) -> dict[str, dict[str, float]]:
    """Per model: median epoch, per-round ratio (median, quartiles), overhead ms/step."""
    seconds = raw["epoch_seconds"]
    base = seconds["none"]
    out = {}
    for name, s in seconds.items():
        ratios = [a / b for a, b in zip(s, base, strict=True)]
        extra = [(a - b) / steps * 1e3 for a, b in zip(s, base, strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios * 3)
        median = statistics.median(s)
        out[name] = {
            "epoch": median,
            "ratio": statistics.median(ratios),
            "ratio_q1": q1,
            "ratio_q3": q3,
            "ms_per_step": statistics.median(extra),
            "first_epoch_extra": raw["first_epoch_seconds"][name] - median,
        }
    return out


def table(
    results: list[dict[str, Any]], targets: dict[str, float] | None = None
) -> tuple[list[str], list[bool]]:
    """The fit table of one or more backends' results, and the checks of `targets` (the full
    report's ratio per backend; default `TARGETS`, measured on the 2-core CPU machine)."""
    targets = TARGETS if targets is None else targets
    if not results:
        return [], []
    r0 = results[0]
    lines = [
        f"fit: small MLP (64-128-128-10, SGD), {r0['steps']} steps of batch {r0['batch_size']} per "
        f"epoch, {r0['rounds']} rounds; each round one epoch of every model in rotating order.",
        "ratio: median over rounds of epoch / no-metric epoch of the same round (IQR: its "
        "interquartile range);",
        "ms/step: median over rounds of (epoch - no-metric epoch) / steps (no metric: its "
        "own ms/step); first: the first",
        "(compiling) epoch's extra seconds over the model's median epoch; keys: metric log keys "
        "per step / in the epoch's logs.",
        "{:<11} {:<34} {:>6} {:>8} {:>6} {:>10} {:>8} {:>7}  {}".format(
            "backend", "model", "keys", "s/epoch", "ratio", "IQR", "ms/step", "first", "target"
        ),
    ]
    checks = []
    for res in results:
        backend, s = res["backend"], res["summary"]
        for i, name in enumerate(s):
            row = s[name]
            keys = f"{res['step_keys'][name]}/{res['epoch_keys'][name]}"
            if name == "none":
                ratio, iqr = "", ""
                ms = f"{row['epoch'] / res['steps'] * 1e3:.2f}"
            else:
                ratio = f"x{row['ratio']:.2f}"
                iqr = f"{row['ratio_q1']:.2f}-{row['ratio_q3']:.2f}"
                ms = f"{row['ms_per_step']:+.2f}"
            target = ""
            if name == "report" and backend in targets:
                ok = row["ratio"] <= targets[backend]
                checks.append(ok)
                target = f"{'PASS' if ok else 'MISS'} <= x{targets[backend]:.2f}"
            lines.append(
                f"{backend if i == 0 else '':<11} {LABELS[name]:<34} {keys:>6} "
                f"{row['epoch']:>8.3f} {ratio:>6} {iqr:>10} {ms:>8} "
                f"{row['first_epoch_extra']:>+6.1f}s  {target}".rstrip()
            )
    return lines, checks


def main(argv: list[str] | None = None) -> None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--rounds", type=int, default=ROUNDS)
    pre.add_argument("--models", default=",".join(DEFAULT_MODELS), help="from MODELS, with none")
    own, rest = pre.parse_known_args(argv)
    names = own.models.split(",")
    if "none" not in names or not set(names) <= set(MODELS):
        raise SystemExit(f"--models: a comma-separated subset of {MODELS} holding 'none'")
    # --samples, --batch-size, --threads (and --repeats, unused here: rounds are --rounds).
    args, x, y = model_section(__doc__, 32768, rest)
    names = ["none", *(n for n in names if n != "none")]

    import keras
    from run import machine

    backend = keras.backend.backend()
    steps = -(-args.samples // args.batch_size)
    raw = measure(x, y, args.batch_size, max(own.rounds, 1), names)
    result = {
        "section": "fit",
        "backend": backend,
        "steps": steps,
        "batch_size": args.batch_size,
        "rounds": max(own.rounds, 1),
        "threads": args.threads,
        "summary": summarise(raw, steps),
        **raw,
    }
    emit(result)
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"\n{stamp}; machine: {machine()}; intra-op threads: {args.threads or 'default'}")
    lines, _ = table([result])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
