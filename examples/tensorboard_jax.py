"""Per-class curves and confusion matrices in TensorBoard from a JAX-only environment.

Keras' own `keras.callbacks.TensorBoard` imports TensorFlow, so on JAX or torch without
TensorFlow it fails with "No module named 'tensorflow'". `em.TensorBoard` writes the event
files with the `tensorboard` package alone. This example trains a small classifier on
scikit-learn's digits (bundled, no download) with JAX and logs, each epoch:

- the scalars of the logs (`epoch_loss`, `epoch_f1_macro`, ...) and the per-class F1 grouped
  as `f1/<class>` (Scalars tab; one chart per metric in Custom Scalars);
- per-class PR and ROC curves of the binned `AUROC` in `compile` (training and validation
  data) and of the exact `AveragePrecision` in the `EpochEvaluator` (PR Curves tab);
- the validation confusion matrix as an image (Images tab);

and keeps a run directory for `epochmetrics report` with `em.RunRecorder`.

    pip install "epochmetrics[jax,tensorboard,plot]" scikit-learn     # no TensorFlow
    KERAS_BACKEND=jax python examples/tensorboard_jax.py --out runs/digits
    tensorboard --logdir runs/digits/logs        # http://localhost:6006
    epochmetrics report runs/digits/run          # the HTML report, during or after training
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from sklearn.datasets import load_digits

import epochmetrics as em

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def load_data(seed: int = 0) -> tuple[np.ndarray, ...]:
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = (x[order] / 16.0).astype("float32"), y[order].astype("int32")
    # 1,280 + 512: whole batches of 64 and 32 (a partial batch would compile its own step)
    return x[:1280], y[:1280], x[1280:1792], y[1280:1792]


def main(epochs: int = 8, out_dir: str = "runs/digits", verbose: int = 0) -> dict[str, Any]:
    """Train and log; returns where the logs and the run directory are, and the history."""
    x, y, x_val, y_val = load_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    kw = {"num_classes": 10, "class_names": NAMES}
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=[
            em.F1Score("multiclass", average=None, **kw),  # f1/<class> in TensorBoard
            em.F1Score("multiclass", name="f1_macro", **kw),
            em.AUROC("multiclass", **kw),  # PR and ROC curves from its bins
        ],
    )
    evaluator = em.EpochEvaluator(
        (x_val, y_val),
        {
            "average_precision": em.AveragePrecision("multiclass", **kw),  # exact curves
            "confusion_matrix": em.ConfusionMatrix("multiclass", **kw),  # an image per epoch
        },
    )
    logs = os.path.join(out_dir, "logs")
    run_dir = os.path.join(out_dir, "run")
    history = model.fit(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=64,
        verbose=verbose,
        callbacks=[
            em.TensorBoard(logs),
            em.RunRecorder(run_dir, monitor="val_f1_macro"),
            evaluator,
            keras.callbacks.EarlyStopping(monitor="val_f1_macro", patience=5),
        ],
    )
    return {"logs": logs, "run_dir": run_dir, "history": history.history}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="runs/digits")
    args = parser.parse_args()
    result = main(args.epochs, args.out, verbose=2)
    imported = sys.modules.get("tensorflow") is not None
    print(f"backend: {keras.backend.backend()}; TensorFlow imported: {imported}")
    print(f"tensorboard --logdir {result['logs']}")
    print(f"epochmetrics report {result['run_dir']}")
