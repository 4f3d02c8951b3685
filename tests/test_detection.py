"""COCO detection mAP against pycocotools 2.0.11 (the oracle) on data that hits every rule.

The oracle side is plain pycocotools on COCO dicts. Our side gets the same boxes in the Keras
convention (padded batches with -1 labels, per-image lists, backend tensors) through
`DetectionMAP.update_state` in random batch partitions, or the COCO dicts through
`coco_evaluate`. Coordinates are multiples of 1/8 and scores multiples of 1/64, so every box
format and float32 tensor carries them exactly: the arrays must be identical.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings

import keras
import numpy as np
import pytest

from epochmetrics.cli.commands import coco_main
from epochmetrics.functional.detection import coco_evaluate, detection_map, summary_text
from epochmetrics.functional.ranking import UndefinedMetricWarning
from epochmetrics.metrics.detection import DetectionMAP

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

CATEGORY_IDS = [3, 7, 8, 20, 41]  # sparse; 41 never has ground truth


def _q(x, step=8):
    return np.round(np.asarray(x, dtype=np.float64) * step) / step


def make_coco(seed: int, n_images: int = 40):
    """A COCO dataset and results that exercise every parity rule (see COCO.md)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(1, n_images + 1) * 5)  # unsorted, sparse image ids
    images = [{"id": int(i)} for i in ids]
    gt_cats = CATEGORY_IDS[:-1]
    anns, res = [], []

    def ann(image, cat, box, area=None, crowd=0):
        box = [float(v) for v in box]
        area = box[2] * box[3] if area is None else float(area)
        anns.append(
            {
                "id": len(anns) + 1,
                "image_id": image,
                "category_id": cat,
                "bbox": box,
                "area": area,
                "iscrowd": crowd,
            }
        )

    def det(image, cat, box, score):
        res.append(
            {
                "image_id": image,
                "category_id": cat,
                "bbox": [float(v) for v in box],
                "score": float(score),
            }
        )

    for n, image in enumerate(int(i) for i in ids):
        kind = n % 8
        if kind == 0:  # no ground truth, only false positives
            for _ in range(rng.integers(1, 4)):
                det(
                    image,
                    int(rng.choice(CATEGORY_IDS)),
                    _q(rng.uniform(1, 200, 4)),
                    rng.integers(0, 64) / 64,
                )
            continue
        if kind == 1:  # no ground truth and no detections
            continue
        for _ in range(rng.integers(1, 7)):
            cat = int(rng.choice(gt_cats))
            w, h = _q(rng.choice([rng.uniform(4, 150), 32.0, 96.0, 16.0], 2))
            box = [*_q(rng.uniform(0, 300, 2)), w, h]
            # areas exactly at the range bounds (32², 96²: both ranges), or unlike the box
            area = rng.choice([None, None, 1024.0, 9216.0, float(_q(rng.uniform(0, 2e4)))])
            ann(image, cat, box, area, int(rng.random() < 0.1))
            if rng.random() < 0.15:  # an identical twin: IoU ties go to the later one
                ann(image, cat, box, area)
            for _ in range(rng.integers(0, 4)):  # jittered copies, some of another class
                jit = _q(rng.normal(0, rng.choice([0.5, 3.0, 12.0]), 4))
                c = cat if rng.random() < 0.8 else int(rng.choice(CATEGORY_IDS))
                d = [
                    box[0] + jit[0],
                    box[1] + jit[1],
                    max(w + jit[2], 0.125),
                    max(h + jit[3], 0.125),
                ]
                det(image, c, d, rng.integers(0, 64) / 64)
            if rng.random() < 0.4:  # IoU exactly 0.5, 0.75, 0.55 (sub-boxes)
                for frac in (0.5, 0.75, 0.5625):
                    det(image, cat, [box[0], box[1], w, h * frac], rng.integers(60, 64) / 64)
        if n % 3 == 0:  # equal IoU with two ground truths: the later one is taken, which
            # decides what the next detection can match (IoU 1.0, or 0.67 with the other)
            cat, (x0, y0) = int(rng.choice(gt_cats)), _q(rng.uniform(0, 300, 2))
            ann(image, cat, [x0, y0, 10, 10])
            ann(image, cat, [x0 + 2, y0, 10, 10])
            first = [x0 + 2, y0, 10, 10] if n % 2 else [x0, y0, 10, 10]
            det(image, cat, [x0 + 1, y0, 10, 10], 0.75)
            det(image, cat, first, 0.5)
        for _ in range(rng.integers(0, 3)):  # random false positives, 32x32 and 96x96 too
            side = rng.choice([32.0, 96.0, float(_q(rng.uniform(2, 120)))])
            det(
                image,
                int(rng.choice(CATEGORY_IDS)),
                [*_q(rng.uniform(0, 300, 2)), side, side],
                rng.integers(0, 64) / 64,
            )
    # One (image, class) with more detections than maxDets=100: truncation per image and class.
    crowded = int(ids[2])
    ann(crowded, gt_cats[0], [10, 10, 40, 40])
    for i in range(120):
        det(crowded, gt_cats[0], [10 + (i % 7) / 8, 10, 40, 40], (i % 50) / 64)
    categories = [{"id": c} for c in CATEGORY_IDS]
    return {"images": images, "annotations": anns, "categories": categories}, res


def pycocotools_eval(gt, results, *, iou_thresholds=None, max_detections=None):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        if iou_thresholds is not None:
            ev.params.iouThrs = np.asarray(iou_thresholds)
        if max_detections is not None:
            ev.params.maxDets = list(max_detections)
        ev.evaluate()
        ev.accumulate()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        ev.summarize()
    return ev, out.getvalue()


def assert_same_arrays(ours, oracle):
    np.testing.assert_array_equal(ours.precision, oracle.eval["precision"])
    np.testing.assert_array_equal(ours.recall, oracle.eval["recall"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_evaluate_equals_pycocotools(seed):
    gt, results = make_coco(seed)
    ours = coco_evaluate(gt, results)
    oracle, text = pycocotools_eval(gt, results)
    assert_same_arrays(ours, oracle)
    stats = [-1.0 if np.isnan(v) else v for v in ours.stats.values()]
    np.testing.assert_array_equal(stats, oracle.stats)
    assert summary_text(ours) == text.rstrip("\n")
    assert list(ours.stats) == [
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
    ]


@pytest.mark.parametrize(
    ("iou_thresholds", "max_detections"),
    [(None, (1, 3, 5)), ([0.3, 0.5, 0.75, 1.0], (1, 10, 100)), ([0.5], (2, 100, 200))],
)
def test_custom_parameters_equal_pycocotools_arrays(iou_thresholds, max_detections):
    gt, results = make_coco(3)
    ours = coco_evaluate(gt, results, iou_thresholds=iou_thresholds, max_detections=max_detections)
    oracle, _ = pycocotools_eval(
        gt, results, iou_thresholds=iou_thresholds, max_detections=max_detections
    )
    assert_same_arrays(ours, oracle)
    assert f"mar_{max_detections[0]}" in ours.stats
    assert ("map_75" in ours.stats) == (iou_thresholds is None or 0.75 in iou_thresholds)


def _keras_batches(gt, results, rng, *, fmt):
    """The COCO data in the Keras convention, images in sorted id order, random partitions."""
    cat_index = {c: i for i, c in enumerate(CATEGORY_IDS)}
    image_ids = sorted(im["id"] for im in gt["images"])
    per_true = {i: [] for i in image_ids}
    per_pred = {i: [] for i in image_ids}
    for a in gt["annotations"]:
        per_true[a["image_id"]].append(a)
    for r in results:
        per_pred[r["image_id"]].append(r)

    def boxes(rows):
        xywh = np.array([r["bbox"] for r in rows], dtype=np.float64).reshape(-1, 4)
        x, y, w, h = xywh.T
        if fmt == "xyxy":
            return np.stack([x, y, x + w, y + h], axis=1)
        if fmt == "center_yxhw":
            return np.stack([y + h / 2, x + w / 2, h, w], axis=1)
        return xywh

    cuts = np.sort(rng.choice(np.arange(1, len(image_ids)), size=8, replace=False))
    for part in np.split(np.array(image_ids), cuts):
        trues = [per_true[i] for i in part]
        preds = [per_pred[i] for i in part]
        style = rng.integers(0, 3)
        if style == 0:  # per-image lists of any length
            y_true = [
                {
                    "boxes": boxes(t),
                    "labels": np.array([cat_index[a["category_id"]] for a in t]),
                    "iscrowd": np.array([a["iscrowd"] for a in t]),
                    "area": np.array([a["area"] for a in t]),
                }
                for t in trues
            ]
            y_pred = [
                {
                    "boxes": boxes(p),
                    "scores": np.array([r["score"] for r in p]),
                    "labels": np.array([cat_index[r["category_id"]] for r in p]),
                }
                for p in preds
            ]
            yield y_true, y_pred
            continue
        g = max(len(t) for t in trues) + int(rng.integers(0, 3))
        d = max(len(p) for p in preds) + int(rng.integers(0, 3))
        y_true = {
            "boxes": np.full((len(part), g, 4), -1.0),
            "labels": np.full((len(part), g), -1),
            "iscrowd": np.zeros((len(part), g)),
            "area": np.full((len(part), g), -1.0),
        }
        y_pred = {
            "boxes": np.full((len(part), d, 4), -1.0),
            "confidence": np.zeros((len(part), d)),
            "labels": np.full((len(part), d), -1),
            "num_detections": np.zeros(len(part), int),
        }
        for i, (t, p) in enumerate(zip(trues, preds, strict=True)):
            y_true["boxes"][i, : len(t)] = boxes(t)
            y_true["labels"][i, : len(t)] = [cat_index[a["category_id"]] for a in t]
            y_true["iscrowd"][i, : len(t)] = [a["iscrowd"] for a in t]
            y_true["area"][i, : len(t)] = [a["area"] for a in t]
            y_pred["boxes"][i, : len(p)] = boxes(p)
            y_pred["confidence"][i, : len(p)] = [r["score"] for r in p]
            y_pred["labels"][i, : len(p)] = [cat_index[r["category_id"]] for r in p]
            y_pred["num_detections"][i] = len(p)
            # Rows past num_detections are not read, whatever their labels say.
            y_pred["labels"][i, len(p) :] = 0
            y_pred["confidence"][i, len(p) :] = 1.0
        if style == 2:  # backend tensors (float32 carries these values exactly)
            y_true = {
                k: keras.ops.convert_to_tensor(v, "int32" if k == "labels" else "float32")
                for k, v in y_true.items()
            }
            y_pred = {
                k: keras.ops.convert_to_tensor(
                    v, "int32" if k in ("labels", "num_detections") else "float32"
                )
                for k, v in y_pred.items()
            }
        yield y_true, y_pred


@pytest.mark.parametrize(("seed", "fmt"), [(0, "xywh"), (1, "xyxy"), (2, "center_yxhw")])
def test_streamed_metric_equals_pycocotools(seed, fmt):
    gt, results = make_coco(seed)
    oracle, _ = pycocotools_eval(gt, results)
    metric = DetectionMAP(bounding_box_format=fmt, num_classes=len(CATEGORY_IDS))
    for y_true, y_pred in _keras_batches(gt, results, np.random.default_rng(seed), fmt=fmt):
        metric.update_state(y_true, y_pred)
    assert_same_arrays(metric.evaluation(), oracle)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = metric.result()  # every range has ground truth here: no warning
    np.testing.assert_array_equal(list(result.values()), oracle.stats)


def test_pr_curves_are_pycocotools_precision_at_recall_points():
    gt, results = make_coco(0)
    oracle, _ = pycocotools_eval(gt, results)
    metric = DetectionMAP(bounding_box_format="xywh", num_classes=len(CATEGORY_IDS))
    batches = list(_keras_batches(gt, results, np.random.default_rng(0), fmt="xywh"))
    for y_true, y_pred in batches[: len(batches) // 2]:
        metric.update_state(y_true, y_pred)
    half = metric.pr_curves(0.5).precision  # evaluated once here; the next updates count
    for y_true, y_pred in batches[len(batches) // 2 :]:
        metric.update_state(y_true, y_pred)
    p = oracle.eval["precision"][:, :, :, 0, -1]  # (T, R, K): area "all", maxDets 100
    at50 = metric.pr_curves(0.5)
    np.testing.assert_array_equal(at50.recall, oracle.params.recThrs)
    np.testing.assert_array_equal(np.nan_to_num(at50.precision, nan=-1.0), p[0].T)
    assert not np.array_equal(np.nan_to_num(half, nan=-1.0), p[0].T)
    mean = metric.pr_curves(None).precision
    for k in range(len(CATEGORY_IDS)):
        for r in range(p.shape[1]):
            kept = [v for v in p[:, r, k] if v > -1]
            expected = sum(kept) / len(kept) if kept else np.nan
            np.testing.assert_allclose(mean[k, r], expected, rtol=1e-12, equal_nan=True)
    counted = [a["category_id"] for a in gt["annotations"] if not a.get("iscrowd", 0)]
    assert at50.ground_truth.tolist() == [counted.count(c) for c in CATEGORY_IDS]
    assert at50.labels == tuple(str(i) for i in range(len(CATEGORY_IDS)))
    with pytest.raises(ValueError, match="`iou_threshold` must be one of"):
        metric.pr_curves(0.52)


def test_merge_of_shards_equals_one_pass():
    gt, results = make_coco(4)
    batches = list(_keras_batches(gt, results, np.random.default_rng(4), fmt="xywh"))
    one = DetectionMAP(bounding_box_format="xywh", num_classes=len(CATEGORY_IDS))
    shards = [
        DetectionMAP(bounding_box_format="xywh", num_classes=len(CATEGORY_IDS)) for _ in range(3)
    ]
    for i, (y_true, y_pred) in enumerate(batches):
        one.update_state(y_true, y_pred)
        shards[min(i // 3, 2)].update_state(y_true, y_pred)
    empty = DetectionMAP(bounding_box_format="xywh", num_classes=len(CATEGORY_IDS))
    merged = DetectionMAP(bounding_box_format="xywh", num_classes=len(CATEGORY_IDS))
    merged.merge_state([empty, shards[0]])
    merged.merge_state(shards[1])
    merged.merge_state([shards[2], empty])
    a, b = one.evaluation(), merged.evaluation()
    np.testing.assert_array_equal(a.precision, b.precision)
    np.testing.assert_array_equal(a.recall, b.recall)
    oracle, _ = pycocotools_eval(gt, results)
    assert_same_arrays(b, oracle)
    # reset empties the state; the metric is reusable
    one.reset_state()
    assert one.evaluation().recall.max() == -1


def test_functional_detection_map_equals_streamed():
    gt, results = make_coco(5)
    batches = list(_keras_batches(gt, results, np.random.default_rng(5), fmt="xyxy"))
    trues = [t for y_true, _ in batches for t in _as_list(y_true)]
    preds = [p for _, y_pred in batches for p in _as_list(y_pred)]
    ev = detection_map(trues, preds, num_classes=len(CATEGORY_IDS))
    oracle, _ = pycocotools_eval(gt, results)
    assert_same_arrays(ev, oracle)


def _as_list(side):
    if isinstance(side, list):
        return side
    side = {k: keras.ops.convert_to_numpy(v) for k, v in side.items()}
    n = side["boxes"].shape[0]
    out = []
    for i in range(n):
        keep = side["labels"][i] >= 0
        if "num_detections" in side:
            keep &= np.arange(keep.shape[0]) < side["num_detections"][i]
        out.append({k: v[i][keep] for k, v in side.items() if k != "num_detections"})
    return out


@pytest.mark.parametrize(
    "fmt",
    [
        "xyxy",
        "yxyx",
        "xywh",
        "center_xywh",
        "center_yxhw",
        "rel_xyxy",
        "rel_yxyx",
        "rel_xywh",
        "rel_center_xywh",
    ],
)
def test_box_formats_agree(fmt):
    # xyxy boxes with coordinates in 1/8 and an image of 512 x 256: exact in every format.
    rng = np.random.default_rng(0)
    x1y1 = _q(rng.uniform(0, 100, (2, 6, 2)))
    wh = _q(rng.uniform(4, 100, (2, 6, 2)))
    xyxy = np.concatenate([x1y1, x1y1 + wh], axis=-1)
    pred_xyxy = xyxy + _q(rng.normal(0, 2, xyxy.shape))
    pred_xyxy[..., 2:] = np.maximum(pred_xyxy[..., 2:], pred_xyxy[..., :2])
    h, w = 256.0, 512.0
    labels = rng.integers(0, 3, (2, 6))
    scores = rng.integers(0, 64, (2, 6)) / 64

    def convert(b):
        x1, y1, x2, y2 = np.moveaxis(b, -1, 0)
        cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        forms = {
            "xyxy": (x1, y1, x2, y2),
            "yxyx": (y1, x1, y2, x2),
            "xywh": (x1, y1, bw, bh),
            "center_xywh": (cx, cy, bw, bh),
            "center_yxhw": (cy, cx, bh, bw),
        }
        rel = fmt.startswith("rel_")
        parts = forms[fmt[4:] if rel else fmt]
        if rel:
            scale = {"x": w, "y": h}
            axes = {"xyxy": "xyxy", "yxyx": "yxyx", "xywh": "xyxy", "center_xywh": "xyxy"}
            parts = [p / scale[a] for p, a in zip(parts, axes[fmt[4:]], strict=True)]
        return np.stack(parts, axis=-1)

    def run(form, boxes_true, boxes_pred):
        return detection_map(
            {"boxes": boxes_true, "labels": labels},
            {"boxes": boxes_pred, "scores": scores, "labels": labels},
            bounding_box_format=form,
            image_shape=(h, w),
            num_classes=3,
        )

    ref = run("xyxy", xyxy, pred_xyxy)
    ours = run(fmt, convert(xyxy), convert(pred_xyxy))
    np.testing.assert_array_equal(ours.precision, ref.precision)
    np.testing.assert_array_equal(ours.recall, ref.recall)


def test_result_keys_prefix_per_class_and_nan_warning():
    y_true = {"boxes": np.array([[[0, 0, 10, 10], [20, 20, 40, 40]]]), "labels": np.array([[0, 2]])}
    y_pred = {
        "boxes": np.array([[[0, 0, 10, 10], [20, 20, 40, 30]]]),
        "scores": np.array([[0.9, 0.8]]),
        "labels": np.array([[0, 2]]),
    }
    m = DetectionMAP(class_names=["cat", "dog", "owl"], per_class=True, name="coco")
    m.update_state(y_true, y_pred)
    with pytest.warns(UndefinedMetricWarning, match="coco_map_large") as record:
        result = m.result()
    assert len(record) == 1 and "coco_map_dog" in str(record[0].message)
    assert list(result)[:3] == ["coco_map", "coco_map_50", "coco_map_75"]
    assert result["coco_map_cat"] == pytest.approx(1.0)
    assert result["coco_map_owl"] == pytest.approx(0.1)
    assert np.isnan(result["coco_map_dog"]) and np.isnan(result["coco_map_large"])
    assert all(isinstance(v, float) for v in result.values())
    plain = DetectionMAP(num_classes=3, per_class=True)
    plain.update_state(y_true, y_pred)
    with pytest.warns(UndefinedMetricWarning):
        keys = set(plain.result())
    assert {"map", "map_50", "map_class_0", "map_class_1", "map_class_2"} <= keys
    # A copy from the config has the same keys and settings.
    clone = DetectionMAP.from_config(m.get_config())
    assert clone.get_config() == m.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(m))
    assert isinstance(restored, DetectionMAP) and restored.get_config() == m.get_config()


def test_no_detections_is_zero_not_an_error():
    m = DetectionMAP(num_classes=2)
    y_true = {
        "boxes": np.array([[[0, 0, 50, 50]], [[0, 0, 10, 10]]]),
        "labels": np.array([[0], [1]]),
    }
    y_pred = {
        "boxes": np.zeros((2, 3, 4)),
        "confidence": np.zeros((2, 3)),
        "labels": np.full((2, 3), -1),
    }
    m.update_state(y_true, y_pred)
    with pytest.warns(UndefinedMetricWarning, match="map_large"):
        result = m.result()
    assert result["map"] == 0.0 and result["mar_100"] == 0.0 and result["map_small"] == 0.0


def test_coco_main_summary_json_progress_and_file_errors(tmp_path):
    gt, results = make_coco(6)
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(results))
    _, text = pycocotools_eval(gt, results)
    messages = []
    assert coco_main(str(gt_path), res_path, progress=messages.append) == text.rstrip("\n")
    assert any("reading ground truth" in m for m in messages)
    payload = json.loads(coco_main(gt_path, res_path, as_json=True))
    assert set(payload["stats"]) >= {"map", "mar_large"}
    assert payload["per_class_ap"]["41"] is None  # a category without ground truth
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    cases = [
        (tmp_path / "missing.json", res_path, "Cannot read the ground truth file"),
        (bad, res_path, "not valid JSON"),
        (res_path, res_path, "must be a COCO dataset"),
        (gt_path, gt_path, "The results must be a list"),
    ]
    for g, r, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            coco_main(g, r)
        assert "\n" not in str(info.value)


def test_rows_past_num_detections_and_optional_keys_per_image():
    boxes = np.array([[[0.0, 0, 10, 10], [0, 0, 40, 40], [50, 50, 90, 90]]])
    y_true = [
        {"boxes": boxes[0, :2], "labels": np.array([0, 1]), "iscrowd": np.array([0, 1])},
        {"boxes": boxes[0], "labels": np.array([0, 1, 1]), "area": np.array([5.0, 2e3, 1e4])},
        {"boxes": np.zeros((0, 4)), "labels": np.zeros(0)},
    ]
    y_pred = {
        "boxes": np.concatenate([boxes, boxes, boxes]),
        "scores": np.full((3, 3), 0.5),
        "labels": np.array([[0, 1, 99], [0, 1, 1], [5, 5, 5]]),  # 99 and 5: never read
        "num_detections": np.array([2, 3, 0]),
    }
    ours = detection_map(y_true, y_pred, num_classes=2)
    clean = [
        {"boxes": boxes[0, :2], "scores": np.full(2, 0.5), "labels": np.array([0, 1])},
        {"boxes": boxes[0], "scores": np.full(3, 0.5), "labels": np.array([0, 1, 1])},
        {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0)},
    ]
    full_true = [
        {**y_true[0], "area": np.array([100.0, 1600.0])},
        {**y_true[1], "iscrowd": np.zeros(3)},
        y_true[2],
    ]
    reference = detection_map(full_true, clean, num_classes=2)
    np.testing.assert_array_equal(ours.precision, reference.precision)
    np.testing.assert_array_equal(ours.recall, reference.recall)
    assert ours.stats["map_medium"] == reference.stats["map_medium"]


def test_cli_coco_prints_the_pycocotools_summary(tmp_path, capsys):
    from epochmetrics.cli import main

    gt, results = make_coco(7)
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(results))
    _, text = pycocotools_eval(gt, results)
    assert main(["coco", str(gt_path), str(res_path)]) == 0
    out, err = capsys.readouterr()
    assert out == text.rstrip("\n") + "\n"
    assert len(out.splitlines()) == 12 and "reading" in err  # progress on stderr
    assert main(["coco", str(gt_path), str(res_path), "--json", "--quiet"]) == 0
    out, err = capsys.readouterr()
    oracle_stats = [float(line.rsplit("=", 1)[1]) for line in text.strip().splitlines()]
    assert json.loads(out)["stats"]["map"] == pytest.approx(oracle_stats[0], abs=5e-4)
    assert err == ""
    assert main(["coco", str(tmp_path / "none.json"), str(res_path), "--quiet"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("epochmetrics coco: error: Cannot read the ground truth file")
    assert len(err.strip().splitlines()) == 1
