"""Bad detection inputs and options: a ValueError that names the argument and what it got."""

from __future__ import annotations

import numpy as np
import pytest

from epochmetrics.functional.detection import coco_evaluate, detection_map
from epochmetrics.metrics.detection import DetectionMAP

BOXES = np.array([[[0.0, 0, 10, 10], [5, 5, 20, 20]]])
LABELS = np.array([[0, 1]])
Y_TRUE = {"boxes": BOXES, "labels": LABELS}
Y_PRED = {"boxes": BOXES, "confidence": np.array([[0.9, 0.4]]), "labels": LABELS}


def _with(side, **changes):
    return {**side, **changes}


CONSTRUCTOR_CASES = [
    (
        {"bounding_box_format": "xyxy2"},
        r"`bounding_box_format` must be one of 'xyxy'.*Received: bounding_box_format='xyxy2'",
    ),
    (
        {"bounding_box_format": "rel_xyxy"},
        r"bounding_box_format='rel_xyxy'.*pass `image_shape=\(height, width\)`",
    ),
    (
        {"bounding_box_format": "rel_xyxy", "image_shape": (0, 10)},
        r"`image_shape` must be .*Received: image_shape=\(0, 10\)",
    ),
    (
        {"max_detections": (10, 1, 100)},
        r"`max_detections` must be increasing positive integers.*Received: max_detections=\(10, 1, 100\)",
    ),
    ({"max_detections": (1, 10, 10)}, r"`max_detections` must be increasing"),
    ({"max_detections": ()}, r"`max_detections` must be increasing"),
    ({"max_detections": (0, 10)}, r"`max_detections` must be increasing positive"),
    (
        {"iou_thresholds": [0.5, 1.5]},
        r"`iou_thresholds` must be increasing values in \[0, 1\].*Received: iou_thresholds=\[0.5, 1.5\]",
    ),
    ({"iou_thresholds": [0.75, 0.5]}, r"`iou_thresholds` must be increasing"),
    ({"num_classes": 0}, r"`num_classes` must be a positive integer or None. Received: 0"),
    ({"num_classes": 2.5}, r"`num_classes` must be a positive integer or None. Received: 2.5"),
    ({"num_classes": "3"}, r"`num_classes` must be a positive integer or None. Received: '3'"),
    ({"per_class": 0}, r"`per_class` must be True or False. Received: per_class=0"),
    ({"num_classes": 3, "class_names": ["a", "b"]}, r"`class_names` has 2 names but num_classes=3"),
    ({"class_names": ["a", "a"]}, r"`class_names` must be distinct"),
    (
        {"class_names": ["cat", "small"], "per_class": True},
        r"`class_names` \['small'\] would give per-class keys equal to summary keys \(e.g. 'map_small'\)",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), CONSTRUCTOR_CASES)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DetectionMAP(**kwargs)


UPDATE_CASES = [
    (
        "y_true not a dict",
        ([1, 2], Y_PRED),
        r"y_true as a list must hold one dict per image. Received a int at index 0",
    ),
    (
        "y_true array",
        (BOXES, Y_PRED),
        r"y_true must be a dict \{'boxes': \(batch, n, 4\), 'labels': \(batch, n\), \.\.\.\} or a list of per-image dicts",
    ),
    ("no labels", ({"boxes": BOXES}, Y_PRED), r"y_true has no 'labels' key"),
    (
        "boxes shape",
        (_with(Y_TRUE, boxes=BOXES[..., :3]), Y_PRED),
        r"y_true\['boxes'\] must have shape \(batch, num_boxes, 4\). Received: shape=\(1, 2, 3\)",
    ),
    (
        "labels shape",
        (_with(Y_TRUE, labels=LABELS[:, :1]), Y_PRED),
        r"y_true\['labels'\] must have shape \(1, 2\) to match the boxes. Received: shape=\(1, 1\)",
    ),
    (
        "batch sizes",
        (
            Y_TRUE,
            _with(
                Y_PRED,
                boxes=np.concatenate([BOXES, BOXES]),
                confidence=np.ones((2, 2)),
                labels=np.zeros((2, 2), int),
            ),
        ),
        r"y_true and y_pred must hold the same images. Received 1 images in y_true and 2 in y_pred",
    ),
    (
        "list lengths",
        ([{"boxes": BOXES[0], "labels": LABELS[0]}], []),
        r"Received 1 images in y_true and 0 in y_pred",
    ),
    (
        "no scores",
        (Y_TRUE, {"boxes": BOXES, "labels": LABELS}),
        r"y_pred needs detection scores under one key, 'confidence' \(keras-hub\) or 'scores'. Received keys: \['boxes', 'labels'\]",
    ),
    (
        "two score keys",
        (Y_TRUE, _with(Y_PRED, scores=np.ones((1, 2)))),
        r"needs detection scores under one key",
    ),
    (
        "label too large",
        (_with(Y_TRUE, labels=np.array([[0, 3]])), Y_PRED),
        r"y_true\['labels'\] must be class ids in \[0, num_classes=3\), or -1 for padding. Received: \[3\]",
    ),
    (
        "label -2",
        (Y_TRUE, _with(Y_PRED, labels=np.array([[0, -2]]))),
        r"y_pred\['labels'\] must be class ids in \[0, num_classes=3\), or -1 for padding. Received: \[-2\]",
    ),
    (
        "fractional label",
        (_with(Y_TRUE, labels=np.array([[0.5, 1.0]])), Y_PRED),
        r"y_true\['labels'\] must hold integer class ids \(-1 for padding\). Received: \[0.5\]",
    ),
    (
        "x2 < x1",
        (_with(Y_TRUE, boxes=np.array([[[10.0, 0, 0, 10], [5, 5, 20, 20]]])), Y_PRED),
        r"y_true\['boxes'\] holds 1 boxes with x2 < x1 or y2 < y1 in bounding_box_format='xyxy', e.g. \[10.0, 0.0, 0.0, 10.0\]",
    ),
    (
        "nan box",
        (Y_TRUE, _with(Y_PRED, boxes=np.array([[[0.0, 0, np.nan, 10], [5, 5, 20, 20]]]))),
        r"y_pred\['boxes'\] must be finite. Received 1 boxes with NaN or inf",
    ),
    (
        "inf score",
        (Y_TRUE, _with(Y_PRED, confidence=np.array([[np.inf, 0.4]]))),
        r"y_pred's scores must be finite. Received 1 non-finite scores",
    ),
    (
        "num_detections shape",
        (Y_TRUE, _with(Y_PRED, num_detections=np.array([1, 2]))),
        r"y_pred\['num_detections'\] must have shape \(1,\). Received: \(2,\)",
    ),
    (
        "bad area",
        (_with(Y_TRUE, area=np.array([[np.nan, 1.0]])), Y_PRED),
        r"y_true\['area'\] must be finite and >= 0",
    ),
    (
        "not numbers",
        (_with(Y_TRUE, labels=np.array([["a", "b"]])), Y_PRED),
        r"y_true\['labels'\] must hold numbers. Received dtype <U1",
    ),
]


@pytest.mark.parametrize(
    ("case", "args", "message"), UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES]
)
def test_bad_batches(case, args, message):
    metric = DetectionMAP(num_classes=3)
    with pytest.raises(ValueError, match=message):
        metric.update_state(*args)
    # Nothing of a rejected batch is kept.
    assert metric._state.num_images == 0


def test_sample_weight_and_merge_errors():
    metric = DetectionMAP(num_classes=3)
    with pytest.raises(ValueError, match="DetectionMAP does not take `sample_weight`"):
        metric.update_state(Y_TRUE, Y_PRED, sample_weight=np.ones(1))
    with pytest.raises(ValueError, match="merge_state needs DetectionMAP metrics with the same"):
        metric.merge_state(DetectionMAP(num_classes=3, max_detections=(1, 100)))
    with pytest.raises(ValueError, match="cannot merge a metric with itself"):
        metric.merge_state(metric)


def test_functional_errors():
    with pytest.raises(ValueError, match=r"Received: bounding_box_format='cxcywh'"):
        detection_map(Y_TRUE, Y_PRED, bounding_box_format="cxcywh")
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
    }
    cases = [
        (
            [{"image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 1.0}],
            r"image ids the ground truth does not list: \[2\]",
        ),
        (
            [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5], "score": 1.0}],
            r"results\[0\]\['bbox'\] must be \[x, y, width, height\]",
        ),
        ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}], r"results\[0\] has no 'score'"),
        (
            [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": "high"}],
            r"results\[0\]\['score'\] must be a number",
        ),
        (np.zeros((2, 6)), r"Results as an array must have shape \(n, 7\)"),
        ({"image_id": 1}, r"The results must be a list"),
    ]
    for results, message in cases:
        with pytest.raises(ValueError, match=message):
            coco_evaluate(gt, results)
    with pytest.raises(ValueError, match=r"annotations\[0\] has no 'image_id'"):
        coco_evaluate({**gt, "annotations": [{"category_id": 1, "bbox": [0, 0, 1, 1]}]}, [])


# detection_map checks its options as DetectionMAP does (one check of `num_classes`).
FUNCTIONAL_CASES = [
    ({"num_classes": 2.5}, r"`num_classes` must be a positive integer or None. Received: 2.5\."),
    ({"num_classes": "3"}, r"`num_classes` must be a positive integer or None. Received: '3'\."),
    ({"num_classes": True}, r"`num_classes` must be a positive integer or None. Received: True"),
    ({"num_classes": 0}, r"`num_classes` must be a positive integer or None. Received: 0\."),
    ({"max_detections": (1, 10.0)}, r"`max_detections` must be increasing positive integers"),
    (
        {"bounding_box_format": "rel_xyxy", "image_shape": (20, 20)},
        r"bounding_box_format='rel_xyxy' takes coordinates relative to the image size \(0 to 1\), "
        r"but y_true\['boxes'\] holds values up to 20: pixel coordinates\? Use 'xyxy'",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), FUNCTIONAL_CASES)
def test_bad_detection_map_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detection_map(Y_TRUE, Y_PRED, **kwargs)


def test_detection_map_takes_numpy_integers():
    ev = detection_map(Y_TRUE, Y_PRED, num_classes=np.int64(3), max_detections=np.array([1, 5]))
    assert ev.class_ids == (0, 1, 2) and ev.max_detections == (1, 5)


_GT = {
    "images": [{"id": 1}, {"id": 2}],
    "categories": [{"id": 1}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
}
_RESULT = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 1.0}

# COCO ids: an id that is a number but not an integer is an error, never truncated.
COCO_ID_CASES = [
    (
        _GT,
        [{**_RESULT, "image_id": 1000.5}],
        r"results\[0\]\['image_id'\] must be an integer id or a string. Received: 1000.5",
    ),
    (
        _GT,
        [{**_RESULT, "category_id": 1.7}],
        r"results\[0\]\['category_id'\] must be an integer id. Received: 1.7",
    ),
    (
        _GT,
        [{**_RESULT, "category_id": "cat"}],
        r"results\[0\]\['category_id'\] must be an integer id. Received: 'cat'",
    ),
    (
        {**_GT, "annotations": [{**_GT["annotations"][0], "image_id": 1.5}]},
        [],
        r"annotations\[0\]\['image_id'\] must be an integer id or a string. Received: 1.5",
    ),
    (
        {**_GT, "images": [{"id": 1}, {"id": "b"}]},
        [],
        r"images: the 'id' values must be all integers or all strings. Received 'b' at 1 and 1 at 0",
    ),
    (
        _GT,
        [{**_RESULT, "image_id": "1"}],
        r"The results hold image ids the ground truth does not list: \['1'\]",
    ),
    (
        _GT,
        np.array([[1.5, 0, 0, 5, 5, 1.0, 1]]),
        r"Results as an array hold a non-integer image_id in row 0: 1.5",
    ),
    (
        _GT,
        np.array([[1, 0, 0, 5, 5, 1.0, 1.25]]),
        r"Results as an array hold a non-integer category_id in row 0: 1.25",
    ),
]


@pytest.mark.parametrize(("gt", "results", "message"), COCO_ID_CASES)
def test_bad_coco_ids(gt, results, message):
    with pytest.raises(ValueError, match=message):
        coco_evaluate(gt, results)
