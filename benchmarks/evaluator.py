"""Epoch-end evaluation cost: `EpochEvaluator` against the hand-written callback it replaces.

The "seed-style" callback is what users write without the library: `model.predict` on the
validation arrays, then scikit-learn's `classification_report` and `matthews_corrcoef` on the
arg-maxed predictions, values pushed into `logs`. The evaluator computes the same values
(per-class precision/recall/F1/support, macro and weighted averages, accuracy, MCC) with one
`ClassificationReport`. Same model, same data (10,000 x 64, 10 classes), same batch size
(256); each callback's `on_epoch_end` is timed side by side after a warm-up, with
`model.predict` alone as a reference. Both callbacks' `val_f1_macro` are checked equal.

    KERAS_BACKEND=jax python benchmarks/evaluator.py
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import CLASSES, compare, emit, log, mlp, model_section


def main(argv: list[str] | None = None) -> None:
    args, x, y = model_section(__doc__, 10_000, argv)

    import keras
    from sklearn.metrics import classification_report, matthews_corrcoef

    import epochmetrics as em

    backend = keras.backend.backend()
    model = mlp("softmax")
    batch_size = args.batch_size

    class SeedCallback(keras.callbacks.Callback):
        """The hand-written epoch-end callback: predict, then scikit-learn."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = {} if logs is None else logs
            pred = self.model.predict(x, batch_size=batch_size, verbose=0).argmax(axis=1)
            report = classification_report(y, pred, output_dict=True, zero_division=0.0)
            for label in range(CLASSES):
                row = report[str(label)]
                for key in ("precision", "recall", "f1-score", "support"):
                    logs[f"val_{key.replace('-score', '')}_{label}"] = float(row[key])
            for avg in ("macro", "weighted"):
                row = report[f"{avg} avg"]
                for key in ("precision", "recall", "f1-score"):
                    logs[f"val_{key.replace('-score', '')}_{avg}"] = float(row[key])
            logs["val_accuracy"] = float(report["accuracy"])
            logs["val_mcc"] = float(matthews_corrcoef(y, pred))

    seed = SeedCallback()
    evaluator = em.EpochEvaluator(
        (x, y), [em.ClassificationReport("multiclass", num_classes=CLASSES)], batch_size=batch_size
    )
    for cb in (seed, evaluator):
        cb.set_model(model)
        cb.set_params({"epochs": 1_000_000, "steps": 1, "verbose": 0})
    evaluator.on_train_begin()
    seed_logs: dict = {}
    ev_logs: dict = {}
    seed.on_epoch_end(0, seed_logs)
    evaluator.on_epoch_end(0, ev_logs)
    keys = sorted(seed_logs)
    if sorted(k for k in ev_logs if k in seed_logs) != keys:
        raise SystemExit(f"key mismatch: {sorted(set(keys) ^ set(ev_logs))}")
    worst = max(abs(seed_logs[k] - ev_logs[k]) for k in keys)
    if worst > 1e-6:
        raise SystemExit(f"the evaluator and scikit-learn disagree by {worst}")
    epoch = [1]

    def run(cb: keras.callbacks.Callback) -> None:
        epoch[0] += 1
        cb.on_epoch_end(epoch[0], {})

    log(f"  evaluator {backend}")
    times = compare(
        {
            "seed_predict_sklearn": lambda: run(seed),
            "evaluator": lambda: run(evaluator),
            "predict_only": lambda: model.predict(x, batch_size=batch_size, verbose=0),
        },
        repeats=args.repeats,
        min_time=0.0,
        warmup=1,
    )
    emit(
        {
            "section": "evaluator",
            "backend": backend,
            "samples": args.samples,
            "keys": len(keys),
            "max_abs_diff": worst,
            "epoch_seconds": times,
        }
    )


if __name__ == "__main__":
    main()
