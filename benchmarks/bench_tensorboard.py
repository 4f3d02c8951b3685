"""What `em.TensorBoard` costs a `fit` epoch, per round, at 10 and 1,000 classes.

The small MLP (64 -> 128 -> 128 -> C, SGD, batch 256, 32,768 training samples = 128 steps,
4,096 validation samples) with the metrics a TensorBoard user would log: per-class F1
(`average=None`: C keys), a binned `AUROC` (`bins_per_octave=8`: its per-class PR and ROC
curves) and a `ConfusionMatrix` (an image per epoch). For each C, the same model and data
(identical initial weights):

- metrics: no callback (the baseline of the ratios);
- tensorboard: `em.TensorBoard` at its defaults (scalars, the 10 worst/best classes' PR and
  ROC curves of the training and the validation data, the validation confusion-matrix image);
- tensorboard_no_images: the same with `confusion_images=False` (what the figure costs);
- tensorboard_all (C = 1,000 only): `max_classes=None`, every class's scalars and curves.

Each model's first epoch (compilation, imports) is kept out. Every round then times one epoch
of every model, in rotating order, from `on_epoch_begin` to the end of `on_epoch_end` of the
callbacks (training steps, validation, and everything `em.TensorBoard` writes); ratios are per
round against the no-callback epoch of the same round, and "ms" is the median over rounds of
(epoch - baseline epoch): what the callback adds to an epoch. Where the epoch itself is long
and noisy (C = 1,000: the metrics' own per-step cost), that difference drowns in the noise, so
the time spent inside `em.TensorBoard`'s epoch hooks (`on_epoch_begin`, `on_train_batch_end`,
`on_test_begin`, `on_test_end`, `on_epoch_end`) is also timed directly: "hooks ms" (median per
epoch) and "hooks %" (that over the same round's no-callback epoch).

    KERAS_BACKEND=jax python benchmarks/bench_tensorboard.py --rounds 5
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import FEATURES, HIDDEN, emit, log, pin_threads, pin_torch_threads

ROUNDS = 7
CLASSES = (10, 1000)


def build(classes: int, variant: str, log_dir: str) -> tuple[Any, list[Any]]:
    import keras

    import epochmetrics as em

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(classes),
        ]
    )
    kw = {"num_classes": classes, "from_logits": True}
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            em.F1Score("multiclass", average=None, **kw),
            em.AUROC("multiclass", bins_per_octave=8, **kw),
            em.ConfusionMatrix("multiclass", **kw),
        ],
    )
    callbacks: list[Any] = []
    if variant == "tensorboard":
        callbacks.append(em.TensorBoard(log_dir))
    elif variant == "tensorboard_no_images":
        callbacks.append(em.TensorBoard(log_dir, confusion_images=False))
    elif variant == "tensorboard_all":
        callbacks.append(em.TensorBoard(log_dir, max_classes=None))
    return model, callbacks


HOOKS = ("on_epoch_begin", "on_train_batch_end", "on_test_begin", "on_test_end", "on_epoch_end")


def time_hooks(callback: Any, spent: list[float]) -> None:
    """Adds the seconds spent in `callback`'s epoch hooks to `spent[0]` (instance attributes
    shadow the methods; Keras calls them through the instance)."""
    for name in HOOKS:
        method = getattr(callback, name)

        def timed(*a: Any, _method: Any = method, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return _method(*a, **k)
            finally:
                spent[0] += time.perf_counter() - start

        setattr(callback, name, timed)


def measure(classes: int, args: Any, rounds: int) -> dict[str, Any]:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    n, nv = args.samples, args.samples // 8
    x = rng.normal(size=(n + nv, FEATURES)).astype("float32")
    y = rng.integers(0, classes, n + nv).astype("int32")
    x_tr, y_tr, x_val, y_val = x[:n], y[:n], x[n:], y[n:]

    class EpochTimer(keras.callbacks.Callback):
        """The epoch's wall time, and the time spent in the timed hooks during it."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.hooks: list[float] = []
            self.spent = [0.0]
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            self.seconds.append(time.perf_counter() - self._start)
            self.hooks.append(self.spent[0])
            self.spent[0] = 0.0

    variants = ["metrics", "tensorboard", "tensorboard_no_images"]
    variants += ["tensorboard_all"] if classes > 100 else []
    root = tempfile.mkdtemp(prefix="bench_tensorboard_")
    models = {}
    for v in variants:
        model, callbacks = build(classes, v, os.path.join(root, f"{classes}_{v}"))
        timer = EpochTimer()  # last: its on_epoch_end after everything the callback writes
        for cb in callbacks:
            time_hooks(cb, timer.spent)
        models[v] = (model, [*callbacks, timer])

    def epoch(v: str, index: int) -> None:
        model, callbacks = models[v]
        model.fit(
            x_tr,
            y_tr,
            validation_data=(x_val, y_val),
            batch_size=args.batch_size,
            initial_epoch=index,
            epochs=index + 1,
            verbose=0,
            callbacks=callbacks,
        )

    first = {}
    for v in variants:
        log(f"  tensorboard {keras.backend.backend()} C={classes} first epoch: {v}")
        epoch(v, 0)
        first[v] = models[v][1][-1].seconds.pop()
        models[v][1][-1].hooks.pop()
    for r in range(rounds):
        for v in variants[r % len(variants) :] + variants[: r % len(variants)]:
            epoch(v, r + 1)
        log(f"  tensorboard {keras.backend.backend()} C={classes} round {r + 1}/{rounds}")
    seconds = {v: models[v][1][-1].seconds for v in variants}
    hooks = {v: models[v][1][-1].hooks for v in variants}
    base = seconds["metrics"]
    summary = {}
    for v, s in seconds.items():
        ratios = [a / b for a, b in zip(s, base, strict=True)]
        extra = [a - b for a, b in zip(s, base, strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        summary[v] = {
            "epoch": statistics.median(s),
            "ratio": statistics.median(ratios),
            "ratio_q1": q1,
            "ratio_q3": q3,
            "ms": statistics.median(extra) * 1e3,
            "first_epoch": first[v],
            "hooks_ms": statistics.median(hooks[v]) * 1e3,
            "hooks_pct": statistics.median(h / b for h, b in zip(hooks[v], base, strict=True))
            * 100,
        }
    sizes = {}
    for v in variants[1:]:
        walk = os.walk(os.path.join(root, f"{classes}_{v}"))
        files = [os.path.join(d, f) for d, _, names in walk for f in names]
        sizes[v] = sum(os.path.getsize(f) for f in files) / (rounds + 1)
    return {
        "classes": classes,
        "summary": summary,
        "bytes_per_epoch": sizes,
        "seconds": seconds,
        "hooks": hooks,
    }


def table(results: list[dict[str, Any]]) -> list[str]:
    if not results:
        return []
    r0 = results[0]
    lines = [
        f"TensorBoard: small MLP (64-128-128-C, SGD), {r0['steps']} steps of batch "
        f"{r0['batch_size']} + validation of {r0['validation']:,} samples per epoch, "
        f"{r0['rounds']} rounds;",
        "metrics: per-class F1, binned AUROC (8 bins/octave), ConfusionMatrix. ratio: median "
        "over rounds of epoch / epoch without the callback;",
        "ms: median added per epoch; hooks: time inside em.TensorBoard's epoch hooks (median "
        "ms per epoch, and % of the round's no-callback epoch); MB: event files per epoch.",
        "{:<11} {:>6} {:<39} {:>8} {:>6} {:>10} {:>8} {:>9} {:>8} {:>6}".format(
            "backend", "C", "model", "s/epoch", "ratio", "IQR", "ms", "hooks ms", "hooks %", "MB"
        ),
    ]
    labels = {
        "metrics": "metrics, no callback",
        "tensorboard": "em.TensorBoard (defaults)",
        "tensorboard_no_images": "em.TensorBoard(confusion_images=False)",
        "tensorboard_all": "em.TensorBoard(max_classes=None)",
    }
    for res in results:
        first_row = True
        for row in res["rows"]:
            for v, s in row["summary"].items():
                ratio = "" if v == "metrics" else f"x{s['ratio']:.2f}"
                iqr = "" if v == "metrics" else f"{s['ratio_q1']:.2f}-{s['ratio_q3']:.2f}"
                ms = "" if v == "metrics" else f"{s['ms']:+.0f}"
                hooks = "" if v == "metrics" else f"{s.get('hooks_ms', math.nan):.0f}"
                pct = "" if v == "metrics" else f"{s.get('hooks_pct', math.nan):.1f}"
                mb = row["bytes_per_epoch"].get(v)
                lines.append(
                    f"{res['backend'] if first_row else '':<11} {row['classes']:>6,} "
                    f"{labels[v]:<39} {s['epoch']:>8.3f} {ratio:>6} {iqr:>10} {ms:>8} "
                    f"{hooks:>9} {pct:>8} {'' if mb is None else f'{mb / 1e6:.2f}':>6}".rstrip()
                )
                first_row = False
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--classes", default=",".join(str(c) for c in CLASSES))
    parser.add_argument("--samples", type=int, default=32768)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    import keras

    if keras.backend.backend() == "torch":
        pin_torch_threads(args.threads)
    from run import machine

    rounds = max(args.rounds, 1)
    rows = [measure(int(c), args, rounds) for c in args.classes.split(",")]
    result = {
        "section": "tensorboard",
        "backend": keras.backend.backend(),
        "steps": -(-args.samples // args.batch_size),
        "batch_size": args.batch_size,
        "validation": args.samples // 8,
        "rounds": rounds,
        "rows": rows,
    }
    emit(result)
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"\n{stamp}; machine: {machine()}; intra-op threads: {args.threads or 'default'}")
    print("\n".join(table([result])))


if __name__ == "__main__":
    main()
