"""Keep the model with the best validation F1, with no hand-written callback.

The classic answer to "save the model with the highest F1 per epoch" is a custom callback that
predicts on the validation data, calls scikit-learn and saves the weights itself, because F1
compiled into the model is averaged over batches and wrong. Here `EpochEvaluator` computes the
exact epoch-level F1 (streamed: counts summed over batches) and `ModelCheckpoint` does the
saving; `mode="auto"` knows that F1 goes up. The checkpoint may come before the evaluator in
the list: the evaluator moves itself to the front.

Run: `python examples/keep_best_f1.py [--epochs 10] [--out runs/best_f1]`
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import keras
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import f1_score

import epochmetrics as em


def load_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype("int32")
    split = int(0.7 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def main(epochs: int = 10, out_dir: str | None = None, verbose: int = 0) -> dict[str, Any]:
    """Train, keep the best-F1 model, and check it against scikit-learn."""
    out_dir = out_dir or tempfile.mkdtemp(prefix="best_f1_")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "best_f1.keras")
    x_train, y_train, x_val, y_val = load_data()

    model = keras.Sequential(
        [
            keras.Input((x_train.shape[1],)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")

    evaluator = em.EpochEvaluator(
        (x_val, y_val), [em.F1Score("binary"), em.Precision("binary"), em.Recall("binary")]
    )
    checkpoint = keras.callbacks.ModelCheckpoint(
        path, monitor="val_f1", mode="max", save_best_only=True
    )
    model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        verbose=verbose,
        callbacks=[checkpoint, evaluator],
    )

    f1s = evaluator.history["scalars"]["val_f1"]
    best_epoch = int(np.argmax(f1s))
    best = keras.models.load_model(path)
    sklearn_f1 = f1_score(y_val, best.predict(x_val, verbose=0)[:, 0] > 0.5)
    print(
        f"best val F1 {f1s[best_epoch]:.4f} at epoch {best_epoch + 1}/{epochs}; "
        f"the saved model scores {sklearn_f1:.4f} with scikit-learn ({path})"
    )
    return {
        "best_f1": f1s[best_epoch],
        "best_epoch": best_epoch,
        "sklearn_f1": sklearn_f1,
        "path": path,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=None, help="directory for best_f1.keras")
    args = parser.parse_args()
    main(args.epochs, args.out, verbose=2)
