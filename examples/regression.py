"""Epoch-level regression metrics on scikit-learn's diabetes data; a report of the run.

`load_diabetes` ships with scikit-learn (442 patients, 10 features, a disease-progression
score from 25 to 346; no download). A small MLP learns the score, standardised. Metrics, each
over the whole validation set at every epoch end (never a mean of batch values):

- in `compile`: `R2Score`, `RootMeanSquaredError`, `MeanAbsoluteError`, `PearsonCorrCoef`,
  `ConcordanceCorrCoef`, and beside them Keras' own `R2Score` and `PearsonCorrelation`
  (`keras_r2`, `keras_pearson`: Keras' Pearson correlates within each sample, NaN here);
- in `EpochEvaluator` (ranks: no streaming sums): `SpearmanCorrCoef` and `KendallTau`.

The targets are offset by 10,000 (an unstandardised quantity far from zero, such as a price
or a temperature in kelvin): ours give scikit-learn's values, Keras' R2Score drifts. Early
stopping and checkpointing follow `val_r2` (higher is better). At the end the run
directory gets history.csv, run.json with the best model's validation predictions, and
report.html (curves, predicted against true values, residuals).

Run: `python examples/regression.py [--epochs 40] [--out regression_out]`
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import keras
import numpy as np
from sklearn.datasets import load_diabetes

import epochmetrics as em

OFFSET = 1e4


def data(seed: int = 0) -> tuple[np.ndarray, ...]:
    """Standardised features; targets standardised, then offset by `OFFSET` (float32)."""
    x, y = load_diabetes(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std() + OFFSET
    split = 342
    return (
        x[:split].astype("float32"),
        y[:split].astype("float32"),
        x[split:].astype("float32"),
        y[split:].astype("float32"),
    )


def build() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    # The bias starts at the offset: the network learns the standardised score around it.
    output = keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(OFFSET))(hidden)
    model = keras.Model(inputs, output)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="mse",
        metrics=[
            em.R2Score(),
            em.RootMeanSquaredError(),
            em.MeanAbsoluteError(),
            em.PearsonCorrCoef(),
            em.ConcordanceCorrCoef(),
            keras.metrics.R2Score(name="keras_r2"),
            keras.metrics.PearsonCorrelation(name="keras_pearson"),
        ],
    )
    return model


def main(epochs: int = 40, out: str | Path = "regression_out") -> dict[str, Any]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x, y, x_val, y_val = data()
    model = build()
    evaluator = em.EpochEvaluator((x_val, y_val), [em.SpearmanCorrCoef(), em.KendallTau()])
    checkpoint = out / "best.keras"
    history = model.fit(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=32,
        verbose=0,
        callbacks=[
            evaluator,
            # mode="max" spelled out: Keras 3.8's ModelCheckpoint picks an "auto" mode by the
            # name alone ("acc" in it or "min"); EarlyStopping reads the metric's direction.
            keras.callbacks.ModelCheckpoint(
                checkpoint, monitor="val_r2", mode="max", save_best_only=True
            ),
            keras.callbacks.EarlyStopping(monitor="val_r2", patience=10),
            keras.callbacks.CSVLogger(str(out / "history.csv")),
        ],
    )
    logs = history.history
    best_epoch = int(np.argmax(logs["val_r2"]))
    best = keras.models.load_model(checkpoint)  # no custom_objects: our metrics are registered
    y_pred = np.asarray(best.predict(x_val, verbose=0), np.float64).ravel()
    em.report.write_run_json(
        out,
        settings={"data": "sklearn load_diabetes", "target offset": OFFSET, "epochs": epochs},
        monitor="val_r2",
        best_epoch=best_epoch,
        predictions=(y_val.astype(np.float64), y_pred),
    )
    report = em.report.write_report(out)
    for key in ("val_r2", "val_keras_r2", "val_pearson", "val_keras_pearson", "val_spearman"):
        print(f"{key:>20}: {logs[key][best_epoch]:.6f}")
    return {
        "history": logs,
        "best_epoch": best_epoch,
        "y_val": y_val,
        "y_pred": y_pred,
        "checkpoint": checkpoint,
        "report": report,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", default="regression_out")
    args = parser.parse_args()
    main(args.epochs, args.out)
