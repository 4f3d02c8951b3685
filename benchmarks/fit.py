"""Cost of a full `ClassificationReport` in `model.compile(metrics=...)` during `fit`.

One small MLP (64 -> 128 -> 128 -> 10, SGD, batch 256, 32,768 samples = 128 steps) fitted with
no metric, with the full report (per-class precision/recall/F1/support, macro and weighted
averages, accuracy, MCC), and, to show where the cost comes from, with the report's averages
only (`per_class=False`) and with one macro F1. Same data, same initial weights; each model's
first (compiling) epoch is excluded, then the epochs are timed side by side, one-epoch `fit`
calls in rotating order, from `on_epoch_begin` to `on_epoch_end`.

    KERAS_BACKEND=jax python benchmarks/fit.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import CLASSES, emit, log, mlp, model_section


def main(argv: list[str] | None = None) -> None:
    args, x, y = model_section(__doc__, 32768, argv)

    import keras

    import epochmetrics as em

    backend = keras.backend.backend()

    def build(metrics: list[object]) -> keras.Model:
        model = mlp()
        model.compile(
            keras.optimizers.SGD(0.01),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=metrics,
        )
        return model

    models = {
        "none": build([]),
        "report": build([em.ClassificationReport("multiclass", num_classes=CLASSES)]),
        "report_averages_only": build(
            [em.ClassificationReport("multiclass", num_classes=CLASSES, per_class=False)]
        ),
        "f1_macro": build([em.F1Score("multiclass", num_classes=CLASSES)]),
        # Anchor: Keras' own cheapest metric, to show what any metric costs in this loop.
        "keras_accuracy": build([keras.metrics.SparseCategoricalAccuracy()]),
    }
    keys = {}

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            self.seconds.append(time.perf_counter() - self._start)

    timers = {name: EpochTimer() for name in models}
    for name, model in models.items():  # first epoch: compilation, excluded
        log(f"  fit {backend} warm-up: {name}")
        history = model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
        keys[name] = len(history.history)
    names = list(models)
    for r in range(args.repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            models[name].fit(
                x, y, batch_size=args.batch_size, epochs=1, verbose=0, callbacks=[timers[name]]
            )
    epoch = {name: statistics.median(t.seconds) for name, t in timers.items()}
    steps = -(-args.samples // args.batch_size)
    emit(
        {
            "section": "fit",
            "backend": backend,
            "steps": steps,
            "batch_size": args.batch_size,
            "epoch_seconds": epoch,
            "log_keys": keys,
        }
    )


if __name__ == "__main__":
    main()
