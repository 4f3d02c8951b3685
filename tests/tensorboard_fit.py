"""A short `fit` with `em.TensorBoard`, run in a fresh process by tests/test_tensorboard.py.

On JAX and torch, TensorFlow is blocked from import before anything else (`import tensorflow`
raises ImportError, as where it is not installed). Writes into OUT: `logs/` (the event files),
`history.json`, the validation predictions after each epoch (`pred.npy`), the validation
labels (`y_val.npy`), and `info.json` (whether TensorFlow was imported).

    KERAS_BACKEND=jax python tests/tensorboard_fit.py OUT
"""

from __future__ import annotations

import json
import os
import sys

NAMES = ["cat", "dog", "fox"]


def main(out: str) -> None:
    backend = os.environ.get("KERAS_BACKEND", "jax")
    if backend != "tensorflow":
        sys.modules["tensorflow"] = None  # type: ignore[assignment]  # import fails, as if absent

    import keras
    import numpy as np

    import epochmetrics as em

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.5, (3, 6))
    y = rng.integers(0, 3, 360)
    x = (centres[y] + rng.normal(0, 1.6, (360, 6))).astype("float32")
    x_tr, y_tr, x_val, y_val = x[:240], y[:240], x[240:], y[240:]
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )
    model.add(keras.layers.Softmax())
    kw = {"num_classes": 3, "class_names": NAMES}
    # Keras' own TensorBoard callback (tried on TensorFlow) fails on a matrix in the logs, so
    # there the confusion matrix is the evaluator's.
    matrix = em.ConfusionMatrix("multiclass", **kw)
    compiled_matrix = [] if backend == "tensorflow" else [matrix]
    model.compile(
        keras.optimizers.Adam(0.02),
        "sparse_categorical_crossentropy",
        metrics=[
            em.F1Score("multiclass", average=None, **kw),
            em.F1Score("multiclass", name="f1_macro", **kw),
            em.AUROC("multiclass", average=None, **kw),  # binned
            em.AveragePrecision("multiclass", exact=True, capacity=240, name="ap_exact", **kw),
            *compiled_matrix,
        ],
    )
    # Batches of 40 everywhere: one compiled step each (a partial batch compiles another).
    entries = {"roc": em.AUROC("multiclass", **kw)}
    if not compiled_matrix:
        entries["confusion_matrix"] = matrix
    evaluator = em.EpochEvaluator((x_val, y_val), entries, batch_size=40)
    predictions = []

    class Predictions(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            predictions.append(model.predict(x_val, batch_size=40, verbose=0))

    logs = os.path.join(out, "logs")
    callbacks = [em.TensorBoard(logs), evaluator, Predictions()]
    if backend == "tensorflow":  # Keras' own callback on the same directory
        callbacks.append(keras.callbacks.TensorBoard(logs))
    history = model.fit(
        x_tr,
        y_tr,
        validation_data=(x_val, y_val),
        epochs=2,
        batch_size=60,
        validation_batch_size=40,
        callbacks=callbacks,
        verbose=0,
    )
    scalars = {
        k: [float(v) for v in vs]
        for k, vs in history.history.items()
        if all(np.size(v) == 1 for v in vs)
    }
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(scalars, f)
    np.save(os.path.join(out, "pred.npy"), np.stack(predictions))
    np.save(os.path.join(out, "y_val.npy"), y_val)
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump({"tensorflow_imported": sys.modules.get("tensorflow") is not None}, f)


if __name__ == "__main__":
    main(sys.argv[1])
