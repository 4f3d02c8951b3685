"""EpochEvaluator checks its data before training: the first batch through the model and every
metric that reads batches, at `on_train_begin`, so bad validation data fails before the first
epoch has trained, not after it."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import sklearn.metrics as skm
from test_detection_keras import C as DETECTION_CLASSES
from test_detection_keras import TinyDetector
from test_detection_keras import _data as detection_data

import epochmetrics as em
from epochmetrics.callbacks import EvaluationError
from epochmetrics.metrics.detection import DetectionMAP


class _Count(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1


def _classifier() -> tuple[Any, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model, x, y


def test_a_wrong_num_classes_fails_before_the_first_batch_trains() -> None:
    model, x, y = _classifier()
    count = _Count()
    ev = em.EpochEvaluator((x, y), [em.F1Score("multiclass", num_classes=4)], batch_size=16)
    with pytest.raises(EvaluationError, match=r"checked before training.*num_classes=4"):
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[count, ev])
    assert count.batches == 0


def test_bad_label_values_fail_before_the_first_batch_trains() -> None:
    model, x, y = _classifier()
    count = _Count()
    bad = np.where(np.arange(len(y)) == 3, 7, y)  # one label outside [0, 3)
    ev = em.EpochEvaluator((x, bad), [em.AUROC("multiclass", num_classes=3)], batch_size=16)
    with pytest.raises(EvaluationError, match=r"Received 1 invalid value\(s\): 7"):
        model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[count, ev])
    assert count.batches == 0


def _xywh(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    out[..., 2:] = boxes[..., 2:] - boxes[..., :2]  # width and height where x2, y2 belong
    return np.where(boxes < 0, boxes, out)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda y: {"boxes": y["boxes"]}, "no 'labels' key"),
        (lambda y: {**y, "boxes": _xywh(y["boxes"])}, r"x2 < x1 or y2 < y1.*Check the format"),
    ],
    ids=["no-labels", "xywh-as-xyxy"],
)
def test_bad_detection_targets_fail_before_the_first_batch_trains(spoil: Any, message: str) -> None:
    pytest.importorskip("pycocotools")
    model = TinyDetector()
    model.compile(optimizer="sgd", loss="mse")
    x, y = detection_data(12, 0)
    count = _Count()
    metric = DetectionMAP(num_classes=DETECTION_CLASSES, bounding_box_format="xyxy")
    ev = em.EpochEvaluator((x, spoil(y)), {"coco": metric}, batch_size=4)
    raw = np.zeros((len(x), 36), "float32")
    with pytest.raises(EvaluationError, match=message):
        model.fit(x, raw, epochs=1, batch_size=4, verbose=0, callbacks=[count, ev])
    assert count.batches == 0


def test_the_dry_run_leaves_no_state_and_good_data_trains() -> None:
    """One batch of good data is checked, then the metrics are reset: the first epoch's
    values are those of the whole data, as without the check."""
    model, x, y = _classifier()
    metric = em.F1Score("multiclass", num_classes=3, average=None)
    ev = em.EpochEvaluator((x, y), [metric], batch_size=16)
    count = _Count()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[count, ev])
    assert count.batches == 4
    expected = skm.f1_score(y, np.argmax(model.predict(x, verbose=0), axis=1), average=None)
    got = [ev.history["scalars"][f"val_f1_{c}"][-1] for c in range(3)]
    np.testing.assert_allclose(got, expected, atol=1e-6)
