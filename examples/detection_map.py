"""Train a small object detector with EarlyStopping and ReduceLROnPlateau on COCO mAP.

Synthetic 48x48 images hold one to three shapes (square, disc, bar) on a noisy background.
The detector is a small convolutional grid detector (one prediction per 8x8 cell: objectness,
class, box), trained on an encoded grid target. Its `predict_step` decodes the grid into the
Keras detection convention that keras-hub's detectors also return: `{"boxes", "confidence",
"labels", "num_detections"}`, the top detections by confidence, with no confidence threshold
(a threshold cuts the precision-recall curve short and lowers mAP).

`EpochEvaluator` runs one prediction pass over the validation images at each epoch end and
feeds the whole prediction dict and the ground-truth dict to `DetectionMAP`, which logs
`val_map`, `val_map_50`, ... exactly as pycocotools computes them; EarlyStopping and
ReduceLROnPlateau monitor `val_map`, wherever they sit in the callbacks list.

Run: `python examples/detection_map.py [--epochs 8]`
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import keras
import numpy as np

import epochmetrics as em
from epochmetrics.functional.ranking import UndefinedMetricWarning

SIZE, STRIDE, CLASSES, TOP_K = 48, 8, 3, 20
GRID = SIZE // STRIDE
CLASS_NAMES = ["square", "disc", "bar"]


def make_images(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """n images (n, 48, 48, 1) and their boxes (xyxy, pixels) and labels, -1 padded to 3."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.2, 0.1, (n, SIZE, SIZE)).astype("float32")
    boxes = np.full((n, 3, 4), -1.0, "float32")
    labels = np.full((n, 3), -1, "int32")
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for slot in range(3):
        present = rng.random(n) < (1.0, 0.6, 0.3)[slot]
        cls = rng.integers(0, CLASSES, n)
        w = rng.integers(8, 37, n)
        h = np.where(cls == 2, np.maximum(w // 3, 3), w)  # bars are flat
        x0 = rng.integers(0, SIZE - w + 1)
        y0 = rng.integers(0, SIZE - h + 1)
        inside = (
            (xx >= x0[:, None, None])
            & (xx < (x0 + w)[:, None, None])
            & (yy >= y0[:, None, None])
            & (yy < (y0 + h)[:, None, None])
        )
        cx, cy = x0 + w / 2, y0 + h / 2
        disc = (xx + 0.5 - cx[:, None, None]) ** 2 + (yy + 0.5 - cy[:, None, None]) ** 2 <= (
            w[:, None, None] / 2
        ) ** 2
        mask = np.where((cls == 1)[:, None, None], disc, inside) & present[:, None, None]
        images[mask] = 1.0
        boxes[present, slot] = np.stack([x0, y0, x0 + w, y0 + h], axis=1)[present]
        labels[present, slot] = cls[present]
    return images[..., None], {"boxes": boxes, "labels": labels}


def encode(y: dict[str, np.ndarray]) -> np.ndarray:
    """Ground truth -> grid target (n, GRID, GRID, 1 + CLASSES + 4): objectness, one-hot
    class, box centre offset in the cell and log size, at the cell of each box centre."""
    n = y["labels"].shape[0]
    target = np.zeros((n, GRID, GRID, 1 + CLASSES + 4), "float32")
    for i, j in zip(*np.nonzero(y["labels"] >= 0), strict=True):
        x1, y1, x2, y2 = y["boxes"][i, j]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        col, row = int(cx // STRIDE), int(cy // STRIDE)
        target[i, row, col, 0] = 1.0
        target[i, row, col, 1 + y["labels"][i, j]] = 1.0
        target[i, row, col, -4:] = [
            cx / STRIDE - col,
            cy / STRIDE - row,
            np.log((x2 - x1) / STRIDE),
            np.log((y2 - y1) / STRIDE),
        ]
    return target


def grid_loss(y_true: Any, y_pred: Any) -> Any:
    ops = keras.ops
    obj = y_true[..., 0]
    obj_loss = keras.losses.binary_crossentropy(y_true[..., :1], y_pred[..., :1], from_logits=True)
    cls_loss = keras.losses.categorical_crossentropy(
        y_true[..., 1 : 1 + CLASSES], y_pred[..., 1 : 1 + CLASSES], from_logits=True
    )
    box_loss = ops.sum(ops.square(y_true[..., -4:] - y_pred[..., -4:]), axis=-1)
    return ops.mean(obj_loss + obj * (cls_loss + box_loss), axis=(1, 2))


class GridDetector(keras.Model):
    """Raw grid outputs for training; `predict` returns decoded detections."""

    def __init__(self, **kwargs: Any) -> None:
        inputs = keras.Input((SIZE, SIZE, 1))
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Conv2D(48, 3, padding="same", activation="relu")(x)
        outputs = keras.layers.Conv2D(1 + CLASSES + 4, 1)(x)
        super().__init__(inputs, outputs, **kwargs)

    def predict_step(self, *args: Any) -> Any:
        outputs = super().predict_step(*args)
        if isinstance(outputs, tuple):  # JAX: (outputs, non-trainable variables)
            return self.decode(outputs[0]), outputs[1]
        return self.decode(outputs)

    def decode(self, raw: Any) -> dict[str, Any]:
        ops = keras.ops
        raw = ops.reshape(raw, (-1, GRID * GRID, 1 + CLASSES + 4))
        cells = np.arange(GRID * GRID)
        col = ops.convert_to_tensor((cells % GRID).astype("float32"))
        row = ops.convert_to_tensor((cells // GRID).astype("float32"))
        probs = ops.softmax(raw[..., 1 : 1 + CLASSES], axis=-1)
        confidence = ops.sigmoid(raw[..., 0]) * ops.max(probs, axis=-1)
        labels = ops.cast(ops.argmax(probs, axis=-1), "int32")
        cx, cy = (col + raw[..., -4]) * STRIDE, (row + raw[..., -3]) * STRIDE
        w = ops.exp(ops.clip(raw[..., -2], -4.0, 4.0)) * STRIDE
        h = ops.exp(ops.clip(raw[..., -1], -4.0, 4.0)) * STRIDE
        boxes = ops.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
        confidence, top = ops.top_k(confidence, TOP_K)  # by descending confidence
        return {
            "boxes": ops.take_along_axis(boxes, top[..., None], axis=1),
            "confidence": confidence,
            "labels": ops.take_along_axis(labels, top, axis=1),
            "num_detections": ops.full((ops.shape(raw)[0],), TOP_K, dtype="int32"),
        }


def main(epochs: int = 8, train_images: int = 1200, verbose: int = 0) -> dict[str, Any]:
    keras.utils.set_random_seed(0)
    x_train, y_train = make_images(train_images, seed=0)
    x_val, y_val = make_images(300, seed=1)
    model = GridDetector()
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss=grid_loss)

    coco = em.DetectionMAP(bounding_box_format="xyxy", class_names=CLASS_NAMES, per_class=True)
    evaluator = em.EpochEvaluator((x_val, y_val), {"coco": coco}, batch_size=100)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_map", patience=3, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_map", mode="max", factor=0.5, patience=1),
        evaluator,  # anywhere in the list: its values reach the callbacks of the same epoch
    ]
    with warnings.catch_warnings():
        # Shapes of 8-36 px: no ground truth in COCO's "large" range (> 96² px), so
        # val_map_large and val_mar_large are NaN (pycocotools: -1), with this warning.
        warnings.filterwarnings("ignore", "map_large", UndefinedMetricWarning)
        history = model.fit(
            x_train,
            encode(y_train),
            epochs=epochs,
            batch_size=40,
            verbose=verbose,
            callbacks=callbacks,
        )
    scalars = evaluator.history["scalars"]
    if verbose:
        for epoch, value in zip(evaluator.history["epochs"], scalars["val_map"], strict=True):
            print(
                f"epoch {epoch + 1}: val_map={value:.3f}, val_map_50="
                f"{scalars['val_map_50'][evaluator.history['epochs'].index(epoch)]:.3f}"
            )
    return {"history": evaluator.history, "keras_history": history.history}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    result = main(parser.parse_args().epochs, verbose=2)
    best = max(result["history"]["scalars"]["val_map"])
    print(f"best val_map {best:.3f}")
