"""DetectionMAP in Keras: the evaluator at epoch end, Keras' callbacks, compile() refused.

`TinyDetector` has keras-hub's detector interface (a `predict_step` that decodes raw outputs
into `{"boxes", "confidence", "labels", "num_detections"}` with -1 padding) without its weight:
the raw output is a linear map of the input, so a few epochs change the predictions. A real
keras-hub RetinaNet runs too where keras-hub is installed (see `docs/detection.md`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import warnings

import keras
import numpy as np
import pytest

import epochmetrics as em
from epochmetrics.functional.ranking import UndefinedMetricWarning
from epochmetrics.metrics.detection import DetectionMAP

D, C, F = 6, 3, 8  # detections per image, classes, input features


class TinyDetector(keras.Model):
    """x (B, F) -> raw (B, D * 6); predict decodes it like keras-hub's detectors."""

    def __init__(self, **kwargs):
        inputs = keras.Input((F,))
        raw = keras.layers.Dense(D * 6, kernel_initializer="glorot_uniform")(inputs)
        super().__init__(inputs, raw, **kwargs)

    def predict_step(self, *args):
        outputs = super().predict_step(*args)
        if isinstance(outputs, tuple):  # JAX: (outputs, non-trainable variables)
            return self._decode(outputs[0]), outputs[1]
        return self._decode(outputs)

    def _decode(self, raw):
        raw = keras.ops.reshape(raw, (-1, D, 6))
        xy = 40.0 + 30.0 * raw[..., :2]
        wh = 20.0 + 10.0 * keras.ops.abs(raw[..., 2:4])
        conf = keras.ops.sigmoid(raw[..., 4])
        labels = keras.ops.cast(
            keras.ops.clip(keras.ops.floor(raw[..., 5] + 1.5), 0, C - 1), "int32"
        )
        keep = conf > 0.3  # a confidence threshold, as keras-hub's NonMaxSuppression
        # By descending confidence, padding last: the first `num_detections` are valid.
        order = keras.ops.argsort(-keras.ops.where(keep, conf, -1.0), axis=1)
        boxes = keras.ops.concatenate([xy, xy + wh], -1)
        take = lambda t: keras.ops.take_along_axis(t, order, axis=1)  # noqa: E731
        keep = take(keep)
        return {
            "boxes": keras.ops.where(
                keep[..., None],
                keras.ops.stack([take(boxes[..., i]) for i in range(4)], axis=-1),
                -1.0,
            ),
            "confidence": keras.ops.where(keep, take(conf), -1.0),
            "labels": keras.ops.where(keep, take(labels), -1),
            "num_detections": keras.ops.sum(keras.ops.cast(keep, "int32"), axis=1),
        }


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, F)).astype("float32")
    boxes = np.full((n, 3, 4), -1.0, dtype="float32")
    labels = np.full((n, 3), -1, dtype="int32")
    for i in range(n):
        for j in range(rng.integers(0, 4)):
            x1, y1 = rng.uniform(10, 70, 2)
            w, h = rng.uniform(5, 40, 2)
            boxes[i, j] = [x1, y1, x1 + w, y1 + h]
            labels[i, j] = rng.integers(0, C)
    return x, {"boxes": boxes, "labels": labels}


def _pycocotools_stats(y_true, y_pred):
    """The oracle: pycocotools on the same boxes as COCO dicts (xyxy -> xywh in float64)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, res = [], [], []
    for i in range(y_true["labels"].shape[0]):
        images.append({"id": i + 1})
        for b, c in zip(y_true["boxes"][i].astype(float), y_true["labels"][i], strict=True):
            if c >= 0:
                w, h = b[2] - b[0], b[3] - b[1]
                anns.append(
                    {
                        "id": len(anns) + 1,
                        "image_id": i + 1,
                        "category_id": int(c),
                        "bbox": [b[0], b[1], w, h],
                        "area": w * h,
                        "iscrowd": 0,
                    }
                )
        for b, s, c in zip(
            y_pred["boxes"][i].astype(float),
            y_pred["confidence"][i].astype(float),
            y_pred["labels"][i],
            strict=True,
        ):
            if c >= 0:
                res.append(
                    {
                        "image_id": i + 1,
                        "category_id": int(c),
                        "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                        "score": s,
                    }
                )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": anns,
            "categories": [{"id": c} for c in range(C)],
        }
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(res), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_evaluator_logs_pycocotools_numbers_from_structured_predictions():
    pytest.importorskip("pycocotools")
    model = TinyDetector()
    x, y = _data(40, 0)
    # Ground truth near some of the model's own detections, so that AP is not trivially 0.
    pred = model.predict_on_batch(x)
    rng = np.random.default_rng(1)
    for i in range(0, 40, 2):
        j = rng.integers(0, 3)
        if pred["labels"][i, j] >= 0:
            y["boxes"][i, 0] = pred["boxes"][i, j] + rng.normal(0, 2, 4).astype("float32")
            y["labels"][i, 0] = pred["labels"][i, j]
    ev = em.EpochEvaluator((x, y), {"coco": DetectionMAP(num_classes=C)}, batch_size=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # no "large" ground truth
        logs = ev.evaluate(model)
    preds = [model.predict_on_batch(x[a : a + 7]) for a in range(0, 40, 7)]
    y_pred = {k: np.concatenate([np.asarray(p[k]) for p in preds]) for k in preds[0]}
    expected = _pycocotools_stats(y, y_pred)
    ours = [
        logs[f"val_{k}"]
        for k in (
            "map",
            "map_50",
            "map_75",
            "map_small",
            "map_medium",
            "map_large",
            "mar_1",
            "mar_10",
            "mar_100",
            "mar_small",
            "mar_medium",
            "mar_large",
        )
    ]
    np.testing.assert_array_equal(np.nan_to_num(ours, nan=-1.0), expected)
    assert 0.0 < logs["val_map_50"] <= 1.0


def test_fit_callbacks_monitor_val_map(tmp_path):
    model = TinyDetector()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x, y = _data(48, 1)
    raw_target = np.random.default_rng(2).normal(size=(48, D * 6)).astype("float32")
    y_val = {k: v[:24] for k, v in y.items()}
    ev = em.EpochEvaluator((x[:24], y_val), {"coco": DetectionMAP(name="coco", num_classes=C)})
    csv_path = tmp_path / "log.csv"
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_coco_map", patience=3),
        keras.callbacks.ReduceLROnPlateau(monitor="val_coco_map", patience=1, factor=0.5),
        keras.callbacks.ModelCheckpoint(
            str(tmp_path / "best.keras"), monitor="val_coco_map", save_best_only=True
        ),
        keras.callbacks.CSVLogger(str(csv_path)),
        em.TensorBoard(tmp_path / "logs"),
        ev,  # last in the list: it moves itself to the front
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        history = model.fit(x, raw_target, epochs=3, batch_size=16, verbose=0, callbacks=callbacks)
    assert len(history.history["val_coco_map"]) == 3
    assert history.history["val_coco_map"] == ev.history["scalars"]["val_coco_map"]
    assert ev.history["directions"]["val_coco_map"] == "up"
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert {"val_coco_map", "val_coco_map_50", "val_coco_mar_100", "learning_rate"} <= set(rows[0])
    assert [float(r["val_coco_map"]) for r in rows] == pytest.approx(
        history.history["val_coco_map"], nan_ok=True
    )
    assert os.path.exists(tmp_path / "best.keras")
    _check_tensorboard_curves(tmp_path / "logs" / "validation", ev.entries[0].obj)


def _check_tensorboard_curves(run_dir, metric):
    """The last epoch's COCO curves in TensorBoard: precision at the recall points of the
    evaluation that logged `val_coco_map` (COCO's arrays, tested against pycocotools)."""
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from test_tensorboard import decode

    acc = ea.EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    checked = 0
    for key, iou in (("coco_map_50", 0.5), ("coco_map", None)):
        curves = metric.pr_curves(iou)
        for k, label in enumerate(curves.labels):
            tag = f"pr_curve/{key}/{label}"
            if np.isnan(curves.precision[k]).all():  # no ground truth of this class: no curve
                assert tag not in tags
                continue
            events = acc.Tensors(tag)
            assert [e.step for e in events] == [0, 1, 2]
            rows = decode(events[-1].tensor_proto)
            np.testing.assert_allclose(rows[4], curves.precision[k], rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(rows[5], np.linspace(0, 1, 101), atol=1e-7)
            np.testing.assert_allclose(rows[0] + rows[3], curves.ground_truth[k], rtol=1e-6)
            checked += 1
    assert checked >= 2


def test_compile_metrics_is_a_clear_error():
    # A single-output model: Keras gives DetectionMAP the tensors inside its train/test step
    # (traced on JAX and TensorFlow, eager on torch): the error points to EpochEvaluator.
    inputs = keras.Input((F,))
    model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    model.compile(optimizer="sgd", loss="mse", metrics=[DetectionMAP()])
    x, y = np.ones((4, F), "float32"), np.ones((4, 4), "float32")
    for call in (
        lambda: model.fit(x, y, epochs=1, verbose=0),
        lambda: model.evaluate(x, y, verbose=0),
    ):
        with pytest.raises(ValueError, match=r"host metric.*EpochEvaluator"):
            call()


def fix_keras_hub_predict_on_batch(detector):
    """keras-hub 0.32's detectors fail in `predict_on_batch` (their `decode_predictions`
    unpacks `(images, _)` from the 1-tuple `(x,)` Keras passes): unwrap it. The same lines
    are in docs/detection.md."""
    decode = detector.decode_predictions

    def decode_predictions(predictions, data):
        if isinstance(data, (tuple, list)) and len(data) == 1:
            data = data[0]
        return decode(predictions, data)

    detector.decode_predictions = decode_predictions
    return detector


def test_keras_hub_retinanet_in_the_evaluator():
    """A real keras-hub RetinaNet (tiny config, random weights, no download)."""
    pytest.importorskip("pycocotools")
    keras_hub = pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(0)
    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16, 16],
        stackwise_num_blocks=[1, 1, 1],
        stackwise_num_strides=[1, 2, 2],
        block_type="basic_block",
    )
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder, min_level=3, max_level=4, use_p5=False
    )
    converter = keras_hub.layers.RetinaNetImageConverter(image_size=(64, 64), scale=1 / 255)
    detector = keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone,
        num_classes=C,
        bounding_box_format="xyxy",
        preprocessor=keras_hub.models.RetinaNetObjectDetectorPreprocessor(converter),
    )
    # Evaluate without a confidence threshold (keras-hub's default 0.5 cuts the PR curve).
    detector.prediction_decoder = keras_hub.layers.NonMaxSuppression(
        bounding_box_format="xyxy", from_logits=True, confidence_threshold=0.0, max_detections=50
    )
    fix_keras_hub_predict_on_batch(detector)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (6, 64, 64, 3)).astype("float32")  # already at image_size
    # keras-hub's own predict (its documented path) gives the oracle's detections.
    y_pred = {k: np.asarray(v) for k, v in detector.predict(x, batch_size=3, verbose=0).items()}
    assert set(y_pred) == {"boxes", "confidence", "labels", "num_detections"}
    # Ground truth: random boxes, plus one detection's box per image (AP above 0).
    _, y = _data(6, 3)
    y["boxes"][:, 2] = y_pred["boxes"][:, 1]
    y["labels"][:, 2] = y_pred["labels"][:, 1]
    ev = em.EpochEvaluator((x, y), {"coco": DetectionMAP(num_classes=C)}, batch_size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        logs = ev.evaluate(detector)
    expected = _pycocotools_stats(y, y_pred)
    keys = (
        "map",
        "map_50",
        "map_75",
        "map_small",
        "map_medium",
        "map_large",
        "mar_1",
        "mar_10",
        "mar_100",
        "mar_small",
        "mar_medium",
        "mar_large",
    )
    ours = np.nan_to_num([logs[f"val_{k}"] for k in keys], nan=-1.0)
    np.testing.assert_array_equal(ours, expected)
    assert logs["val_map_50"] > 0


def test_evaluator_data_forms_give_the_same_numbers():
    """Arrays, a tf.data.Dataset of dicts, and a generator of per-image lists (ragged)."""
    tf = pytest.importorskip("tensorflow")
    model = TinyDetector()
    x, y = _data(20, 4)
    pred = model.predict_on_batch(x)
    y["boxes"][:, 0], y["labels"][:, 0] = pred["boxes"][:, 0], pred["labels"][:, 0]

    def ragged():
        for a in range(0, 20, 6):
            images = [
                {
                    "boxes": y["boxes"][i][y["labels"][i] >= 0],
                    "labels": y["labels"][i][y["labels"][i] >= 0],
                }
                for i in range(a, min(a + 6, 20))
            ]
            yield x[a : a + 6], images

    forms = {
        "arrays": (x, y),
        "tf.data": tf.data.Dataset.from_tensor_slices((x, y)).batch(6),
        "generator": ragged,
    }
    results = {}
    for form, data in forms.items():
        ev = em.EpochEvaluator(
            data, [DetectionMAP(num_classes=C)], batch_size=6 if form == "arrays" else None
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            results[form] = ev.evaluate(model)
    assert results["arrays"]["val_map_50"] > 0
    for form in ("tf.data", "generator"):
        np.testing.assert_array_equal(
            list(results[form].values()), list(results["arrays"].values())
        )
        assert list(results[form]) == list(results["arrays"])
