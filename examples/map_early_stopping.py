"""Early stopping and learning-rate reduction on mean average precision (mAP).

The usual workaround subclasses EarlyStopping and ReduceLROnPlateau so that each predicts on
the validation data and fakes a log entry (predicting twice per epoch), or adds a
LambdaCallback that must come before them in the list. Here:

- `{"map": average_precision_score}` is computed by one `EpochEvaluator` from a single
  prediction pass (scikit-learn gets the whole arrays: macro average precision over the one-hot
  classes is the mAP);
- an evaluation that runs its own inference, like an object-detection evaluator that only
  takes the model, is wrapped in `ModelEvaluator`;
- EarlyStopping and ReduceLROnPlateau monitor the logged keys, placed anywhere in the list;
  `directions=` tells `mode="auto"` that mAP goes up.

Run: `python examples/map_early_stopping.py [--epochs 20]`
"""

from __future__ import annotations

import argparse
from typing import Any

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import average_precision_score

import epochmetrics as em
from epochmetrics.callbacks import ModelEvaluator


class HeldOutEvaluation:
    """Stands in for an external evaluation class (e.g. a detection evaluator) that takes a
    model and returns its own metric, running its own inference."""

    def __init__(self, x: Any, y_onehot: Any) -> None:
        self.x, self.y = x, y_onehot

    def evaluate(self, model: keras.Model) -> float:
        scores = model.predict(self.x, batch_size=256, verbose=0)
        return float(average_precision_score(self.y, scores))


def main(epochs: int = 20, verbose: int = 0) -> dict[str, Any]:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], keras.utils.to_categorical(y[order], 10)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        (x[:1000], y[:1000]),
        (x[1000:1400], y[1000:1400]),
        (x[1400:], y[1400:]),
    )

    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")

    held_out = HeldOutEvaluation(x_test, y_test)
    evaluator = em.EpochEvaluator(
        (x_val, y_val),
        {
            "map": average_precision_score,  # (y_true, y_score) -> float, on the whole arrays
            "heldout_map": ModelEvaluator(held_out.evaluate, direction="up"),
        },
        directions={"map": "up"},
        batch_size=128,
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_map", patience=3, restore_best_weights=True)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_map", mode="max", patience=2, factor=0.5, min_lr=1e-4
    )
    model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=64,
        verbose=verbose,
        callbacks=[stop, plateau, evaluator],  # the evaluator may come last
    )
    maps = evaluator.history["scalars"]["val_map"]
    ran = len(maps)
    lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    heldout = evaluator.history["scalars"]["val_heldout_map"][-1]
    best = int(np.argmax(maps))
    print(
        f"ran {ran}/{epochs} epochs; best val mAP {maps[best]:.4f} at epoch {best + 1}; "
        f"held-out mAP {heldout:.4f}; learning rate {lr:g}"
    )
    return {"history": evaluator.history, "stopped_epoch": stop.stopped_epoch, "learning_rate": lr}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    main(args.epochs, verbose=2)
