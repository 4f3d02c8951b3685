"""Per-class precision, recall and F1 after every epoch, for binary and multiclass models.

The usual workaround is a callback that predicts, runs scikit-learn's `classification_report`
and stores the reports. Here one `EpochEvaluator` with a `ClassificationReport` puts
`val_recall_0`, `val_recall_1`, ... into the logs (so History, CSVLogger and EarlyStopping see
them) and `evaluator.history` keeps them per epoch, ready to plot: on imbalanced data you can
watch the minority class's recall.

Run: `python examples/per_class_metrics.py [--epochs 15] [--out runs/per_class]`
(writes PNG plots when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import keras
import numpy as np
from sklearn.datasets import make_classification

import epochmetrics as em

METRICS = ("precision", "recall", "f1")


def _model(n_out: int, activation: str, loss: str) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(n_out, activation=activation),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    return model


def run(task: str, epochs: int, verbose: int = 0) -> dict[str, Any]:
    """Train one model and return its evaluator history."""
    n_classes = 2 if task == "binary" else 3
    x, y = make_classification(
        n_samples=600,
        n_features=2,
        n_redundant=0,
        n_informative=2,
        n_clusters_per_class=1,
        n_classes=n_classes,
        weights=[0.8, 0.2] if task == "binary" else [0.6, 0.3, 0.1],
        random_state=1,
    )
    x = x.astype("float32")
    if task == "binary":
        model = _model(1, "sigmoid", "binary_crossentropy")
        target = y.astype("float32")
        report = em.ClassificationReport("binary", include=METRICS, averages=["macro"])
    else:
        model = _model(3, "softmax", "categorical_crossentropy")
        target = keras.utils.to_categorical(y, 3)  # one-hot targets work as they are
        report = em.ClassificationReport(
            "multiclass", num_classes=3, include=METRICS, averages=["macro"]
        )
    x_train, x_val, t_train, t_val = x[:400], x[400:], target[:400], target[400:]
    evaluator = em.EpochEvaluator((x_val, t_val), [report])
    model.fit(
        x_train, t_train, epochs=epochs, batch_size=32, verbose=verbose, callbacks=[evaluator]
    )
    return evaluator.history


def plot(history: dict[str, Any], title: str, path: str) -> bool:
    """One panel per metric, one line per class; returns False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed: skipping plots (pip install 'epochmetrics[plot]')")
        return False
    fig = Figure(figsize=(12, 3.5), layout="constrained")
    axes = fig.subplots(1, len(METRICS), sharey=True)
    epochs = [e + 1 for e in history["epochs"]]
    for ax, metric in zip(axes, METRICS, strict=True):
        for key, values in history["scalars"].items():
            if key.startswith(f"val_{metric}_") and not key.endswith("_macro"):
                ax.plot(epochs, values, label=f"class {key.rsplit('_', 1)[1]}")
        ax.set_title(f"{title}: {metric}")
        ax.set_xlabel("epoch")
        ax.legend(loc="lower right")
    fig.savefig(path, dpi=80)
    return True


def main(epochs: int = 15, out_dir: str | None = None, verbose: int = 0) -> dict[str, Any]:
    out_dir = out_dir or tempfile.mkdtemp(prefix="per_class_")
    os.makedirs(out_dir, exist_ok=True)
    results: dict[str, Any] = {}
    for task in ("binary", "multiclass"):
        history = run(task, epochs, verbose)
        minority = "1" if task == "binary" else "2"
        recall = history["scalars"][f"val_recall_{minority}"]
        best = int(np.argmax(recall))
        print(
            f"{task}: minority class {minority} recall peaks at {recall[best]:.3f} "
            f"(epoch {best + 1}), ends at {recall[-1]:.3f}"
        )
        plotted = plot(history, task, os.path.join(out_dir, f"{task}_per_class.png"))
        results[task] = {"history": history, "plotted": plotted}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", default=None, help="directory for the plots")
    args = parser.parse_args()
    main(args.epochs, args.out)
