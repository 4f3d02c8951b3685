"""COCO ids and degenerate batches against pycocotools 2.0.11 (the oracle), and what we say
where our numbers differ from it on purpose."""

from __future__ import annotations

import copy
import json
import math
import warnings

import numpy as np
import pytest
from test_detection import CATEGORY_IDS, assert_same_arrays, make_coco, pycocotools_eval

from epochmetrics.functional.detection import coco_evaluate, detection_map
from epochmetrics.functional.ranking import UndefinedMetricWarning
from epochmetrics.metrics.detection import DetectionMAP

pytest.importorskip("pycocotools")


def _renamed_images(gt, results, name):
    """The same data with image ids renamed by `name` (annotations and results follow)."""
    gt, results = copy.deepcopy(gt), copy.deepcopy(results)
    for image in gt["images"]:
        image["id"] = name(image["id"])
    for item in (*gt["annotations"], *results):
        item["image_id"] = name(item["image_id"])
    return gt, results


@pytest.mark.parametrize("seed", [0, 1])
def test_string_image_ids_equal_pycocotools(seed):
    """Tools that write string image ids: images in pycocotools' (sorted string) order, which
    is not the numeric one here ("im10" < "im5"), so score ties across images are broken as
    pycocotools breaks them."""
    gt, results = _renamed_images(*make_coco(seed), lambda i: f"im{i}")
    ours = coco_evaluate(gt, results)
    oracle, _ = pycocotools_eval(gt, results)
    assert_same_arrays(ours, oracle)
    stats = [-1.0 if math.isnan(v) else v for v in ours.stats.values()]
    np.testing.assert_array_equal(stats, oracle.stats)


def test_annotation_id_0_is_matched_by_position_and_warned():
    """pycocotools uses a matched annotation's id as its "matched" flag, so annotation 0 is
    never recalled there. We match by position: our numbers on a file with id 0 are
    pycocotools' on the same file numbered from 1, and reading it warns."""
    gt, results = make_coco(4)
    from_zero = copy.deepcopy(gt)
    for a in from_zero["annotations"]:
        a["id"] -= 1  # 0, 1, 2, ...
    with pytest.warns(UserWarning, match="annotation with id 0.*renumber the annotations"):
        ours = coco_evaluate(from_zero, results)
    assert_same_arrays(ours, pycocotools_eval(gt, results)[0])
    oracle_zero, _ = pycocotools_eval(from_zero, results)
    assert not np.array_equal(ours.recall, oracle_zero.eval["recall"])  # why we warn


def test_cli_warns_about_annotation_id_0(tmp_path, capsys):
    from epochmetrics.cli import main

    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
    }
    results = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    args = ["coco", str(tmp_path / "gt.json"), str(tmp_path / "res.json"), "--quiet"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert err.startswith("epochmetrics coco: warning: The ground truth has an annotation")
    assert out.splitlines()[0].endswith("= 1.000")  # pycocotools would print 0.000


def test_an_empty_batch_adds_nothing():
    """`update_state([], [])` (a batch of no images), as the README says."""
    gt, results = make_coco(5, n_images=6)
    ids = sorted(image["id"] for image in gt["images"])
    cat = {c: i for i, c in enumerate(CATEGORY_IDS)}

    def image(i, items, key):
        rows = [r for r in items if r["image_id"] == i]
        boxes = np.array([r["bbox"] for r in rows], dtype=np.float64).reshape(-1, 4)
        out = {"boxes": boxes, "labels": np.array([cat[r["category_id"]] for r in rows])}
        if key == "scores":
            out["scores"] = np.array([r["score"] for r in rows])
        else:
            out["iscrowd"] = np.array([r["iscrowd"] for r in rows])
            out["area"] = np.array([r["area"] for r in rows])
        return out

    y_true = [image(i, gt["annotations"], "truth") for i in ids]
    y_pred = [image(i, results, "scores") for i in ids]
    metrics = [DetectionMAP(bounding_box_format="xywh", num_classes=5) for _ in range(2)]
    metrics[0].update_state([], [])
    metrics[0].update_state(y_true[:3], y_pred[:3])
    metrics[0].update_state([], [])
    metrics[0].update_state(y_true[3:], y_pred[3:])
    metrics[1].update_state(y_true, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        a, b = (m.evaluation() for m in metrics)
    np.testing.assert_array_equal(a.precision, b.precision)
    assert metrics[0]._state.num_images == len(ids)
    assert_same_arrays(a, pycocotools_eval(gt, results)[0])
    empty = detection_map([], [], num_classes=2)
    assert empty.precision.shape == (10, 101, 2, 4, 3) and (empty.precision == -1).all()


def test_a_keras_hub_detector_without_the_fix_names_it():
    """keras-hub 0.32's detectors fail in `predict_on_batch`: the evaluator says what to do."""
    keras_hub = pytest.importorskip("keras_hub")
    import epochmetrics as em

    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 8, 8],
        stackwise_num_blocks=[1, 1, 1],
        stackwise_num_strides=[1, 2, 2],
        block_type="basic_block",
    )
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder, min_level=3, max_level=4, use_p5=False
    )
    converter = keras_hub.layers.RetinaNetImageConverter(image_size=(32, 32), scale=1 / 255)
    detector = keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone,
        num_classes=2,
        bounding_box_format="xyxy",
        preprocessor=keras_hub.models.RetinaNetObjectDetectorPreprocessor(converter),
    )
    x = np.zeros((2, 32, 32, 3), "float32")
    y = {"boxes": np.zeros((2, 1, 4), "float32"), "labels": -np.ones((2, 1), "int32")}
    ev = em.EpochEvaluator((x, y), {"coco": DetectionMAP(num_classes=2)}, batch_size=2)
    with pytest.raises(em.callbacks.EvaluationError, match=r"keras-hub's object detectors") as e:
        ev.evaluate(detector)
    assert "detector.decode_predictions = lambda predictions, data:" in str(e.value)
    assert "docs/detection.md" in str(e.value)
    assert isinstance(e.value.original, ValueError)
