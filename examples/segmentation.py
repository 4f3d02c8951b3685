"""Train a miniature U-Net on synthetic shapes; per-class IoU drives ModelCheckpoint.

Synthetic 32x32 images hold a square and a disc on a noisy background; every pixel is labelled
background (0), square (1) or disc (2), and a 2-pixel border is void (255, the VOC/Cityscapes
convention for "not labelled"). The model is a U-Net in miniature (two convolutions, one
down- and one up-sampling step, a skip connection) with a softmax over the 3 classes.

Metrics, computed over every validation pixel of the epoch (void pixels skipped):
- `iou_<class>`: per-class IoU (`JaccardIndex(average=None)`), scalar log keys;
- `miou`: mean IoU (`JaccardIndex`, macro), the value `keras.metrics.MeanIoU` gives too
  (logged beside it as `keras_miou`: MeanIoU needs `sparse_y_pred=False` for probabilities);
- `dice_per_image`: the mean over images of each image's Dice (`F1Score` with
  `multidim_average="samplewise"`).
ModelCheckpoint keeps the weights with the best `val_iou_disc` (the harder class). After
training, the pixels' confusion matrix is plotted with `em.plot_confusion_matrix`.

Run: `python examples/segmentation.py [--epochs 6] [--out segmentation_out]`
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import keras
import numpy as np

import epochmetrics as em

SIZE, VOID, BORDER = 32, 255, 2
CLASS_NAMES = ["background", "square", "disc"]


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` images `(n, 32, 32, 1)` and label maps `(n, 32, 32)` with a void border."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.2, 0.1, (n, SIZE, SIZE)).astype("float32")
    labels = np.zeros((n, SIZE, SIZE), "int32")
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for cls, brightness in ((1, 1.0), (2, 0.6)):
        r = rng.integers(4, 8, n)[:, None, None]
        cx = rng.integers(8, SIZE - 8, n)[:, None, None]
        cy = rng.integers(8, SIZE - 8, n)[:, None, None]
        if cls == 1:
            mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)
        else:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        images = np.where(mask, brightness + rng.normal(0, 0.1, images.shape), images)
        labels = np.where(mask, cls, labels)
    edge = np.ones((SIZE, SIZE), bool)
    edge[BORDER:-BORDER, BORDER:-BORDER] = False
    labels[:, edge] = VOID
    return images[..., None].astype("float32"), labels


def pixel_loss(y_true: Any, y_pred: Any) -> Any:
    """Cross-entropy per pixel, 0 on void pixels: shaped `(B, H, W)`.

    What `SparseCategoricalCrossentropy(ignore_class=255)` computes; written out because that
    loss fails in torch's backward pass on `(B, H, W, C)` outputs ("grad_input must be
    contiguous")."""
    ops = keras.ops
    valid = ops.not_equal(y_true, VOID)
    one_hot = ops.one_hot(ops.where(valid, y_true, 0), len(CLASS_NAMES))
    loss = -ops.sum(one_hot * ops.log(ops.clip(y_pred, 1e-7, 1.0)), axis=-1)
    return loss * ops.cast(valid, loss.dtype)


def build_model() -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 1))
    skip = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(skip)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.UpSampling2D()(x)
    x = keras.layers.Concatenate()([x, skip])
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    outputs = keras.layers.Conv2D(len(CLASS_NAMES), 1, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def main(
    epochs: int = 6, train_images: int = 512, out: str | Path = "segmentation_out", verbose: int = 0
) -> dict[str, Any]:
    keras.utils.set_random_seed(0)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train = make_images(train_images, seed=1)
    x_val, y_val = make_images(128, seed=2)
    c = len(CLASS_NAMES)
    dense = {"num_classes": c, "ignore_index": VOID}
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=pixel_loss,
        metrics=[
            em.JaccardIndex(
                "multiclass", **dense, average=None, class_names=CLASS_NAMES, name="iou"
            ),
            em.JaccardIndex("multiclass", **dense, name="miou"),
            em.F1Score("multiclass", **dense, multidim_average="samplewise", name="dice_per_image"),
            keras.metrics.MeanIoU(c, sparse_y_pred=False, ignore_class=VOID, name="keras_miou"),
        ],
    )
    checkpoint = out / "best.weights.h5"
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=16,
        verbose=verbose,
        callbacks=[
            keras.callbacks.ModelCheckpoint(
                checkpoint,
                monitor="val_iou_disc",
                mode="max",
                save_best_only=True,
                save_weights_only=True,
            )
        ],
    )
    # The pixels' confusion matrix of the best weights, void pixels skipped.
    model.load_weights(checkpoint)
    matrix = em.ConfusionMatrix("multiclass", **dense)
    matrix.update_state(y_val, model.predict(x_val, batch_size=64, verbose=0))
    figure = em.plot_confusion_matrix(matrix.matrix(), CLASS_NAMES, normalize="true")
    figure.savefig(out / "confusion_matrix.png", dpi=100)
    return {
        "history": history.history,
        "checkpoint": checkpoint,
        "confusion_matrix": np.asarray(matrix.matrix()),
        "plot": out / "confusion_matrix.png",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", default="segmentation_out")
    args = parser.parse_args()
    result = main(args.epochs, out=args.out, verbose=2)
    logs = result["history"]
    best = int(np.argmax(logs["val_iou_disc"]))
    print(
        f"best epoch {best + 1}: val_iou_disc={logs['val_iou_disc'][best]:.4f} "
        f"val_miou={logs['val_miou'][best]:.4f} (keras MeanIoU {logs['val_keras_miou'][best]:.4f})"
    )
    print(f"weights: {result['checkpoint']}; confusion matrix: {result['plot']}")
