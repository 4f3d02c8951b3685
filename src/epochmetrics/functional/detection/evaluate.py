"""Exact COCO bbox evaluation on the host: the public functions and the batch matching.

`coco_evaluate` reads COCO files (`coco_files`), `detection_map` and `DetectionMAP` take
batches in the Keras convention (`inputs`); both match with `match_batch`/`match_all`
(`match`), accumulate (`accumulate`) and summarize (`summary`) with one `Params` (`params`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from epochmetrics._docs import DETECTION_ARGS, docstring
from epochmetrics._types import Progress
from epochmetrics.functional.detection.accumulate import accumulate
from epochmetrics.functional.detection.coco_files import read_ground_truth, read_results
from epochmetrics.functional.detection.inputs import check_box_format, check_classes, format_batch
from epochmetrics.functional.detection.match import Detections, GroundTruth, Records, match
from epochmetrics.functional.detection.params import Params, make_params
from epochmetrics.functional.detection.summary import summarize, summary_text

__all__ = [
    "COCOEvaluation",
    "coco_evaluate",
    "detection_map",
    "evaluate_records",
    "match_all",
    "match_batch",
]

_COCO = {
    "gt": "A COCO dataset dict (`images`, `annotations`, `categories`) or its JSON path.",
    "results": 'A list of `{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`, its '
    "JSON path, or an `(n, 7)` array `[image_id, x, y, w, h, score, category_id]`.",
    "progress": "Called with a short message at each stage (reading, matching, ...).",
}
# Detections matched per call: bounds the memory of the candidate pairs on large files.
CHUNK_DETECTIONS = 2**18


@dataclass(frozen=True)
class COCOEvaluation:
    """The result of a COCO bbox evaluation.

    Attributes:
        precision: `[T, R, K, A, M]` interpolated precision (IoU threshold, recall point,
            class, area range, maxDets), -1 where the class has no ground truth in the range:
            pycocotools' `eval["precision"]`.
        recall: `[T, K, A, M]` final recall, -1 likewise: pycocotools' `eval["recall"]`.
        stats: the summary numbers by name (`map`, `map_50`, `map_75`, `map_small`,
            `map_medium`, `map_large`, `mar_1`, `mar_10`, `mar_100`, `mar_small`,
            `mar_medium`, `mar_large`), NaN where pycocotools reports -1.
        class_ids: the K classes (COCO category ids, or class indices).
        iou_thresholds: the T IoU thresholds.
        max_detections: the M maxDets values.
    """

    precision: np.ndarray
    recall: np.ndarray
    stats: dict[str, float]
    class_ids: tuple[int, ...]
    iou_thresholds: np.ndarray
    max_detections: tuple[int, ...]

    @property
    def per_class_ap(self) -> dict[int, float]:
        """AP@[.50:.95] per class (area "all", largest maxDets); NaN without ground truth."""
        s = self.precision[:, :, :, 0, -1]  # (T, R, K)
        out = {}
        for k, cid in enumerate(self.class_ids):
            kept = s[:, :, k][s[:, :, k] > -1]
            out[cid] = float(np.mean(kept)) if kept.shape[0] else math.nan
        return out

    @property
    def params(self) -> Params:
        """The parameters this evaluation was computed with."""
        return Params(tuple(self.iou_thresholds.tolist()), self.max_detections)

    def summary(self) -> str:
        """pycocotools' 12-line summary text (see `summary_text`)."""
        return summary_text(self)


def evaluate_records(
    records: Records, npig: np.ndarray, params: Params, class_ids: tuple[Any, ...]
) -> COCOEvaluation:
    """Accumulate matched records (from `match`) into a `COCOEvaluation`."""
    precision, recall = accumulate(records, npig, params)
    stats = summarize(precision, recall, params)
    stats = {k: (math.nan if v == -1 else v) for k, v in stats.items()}
    return COCOEvaluation(
        precision, recall, stats, class_ids, params.iou_array, params.max_detections
    )


def match_batch(
    y_true: Any,
    y_pred: Any,
    params: Params,
    *,
    bounding_box_format: str,
    size: tuple[float, float] | None,
    num_classes: int | None,
) -> tuple[Records, np.ndarray, int]:
    """One batch in the Keras convention, checked and matched: `(records, npig, images)`.

    Classes are `0 .. num_classes - 1`, or up to the largest label seen (`npig` has one row
    per class). The one matching of `detection_map` and `DetectionMAP.update_state`.
    """
    gt, dt, n = format_batch(
        y_true, y_pred, fmt=bounding_box_format, size=size, num_classes=num_classes
    )
    largest = max(gt.label.max(initial=-1), dt.label.max(initial=-1))
    k = num_classes if num_classes is not None else int(largest) + 1
    records, npig = match_all(gt, dt, num_images=n, num_classes=k, params=params)
    return records, npig, n


def match_all(
    gt: GroundTruth,
    dt: Detections,
    *,
    num_images: int,
    num_classes: int,
    params: Params,
    progress: Progress | None = None,
) -> tuple[Records, np.ndarray]:
    """`match` over consecutive image ranges of about `CHUNK_DETECTIONS` detections each."""
    d_cut = np.searchsorted(np.sort(dt.image), np.arange(num_images + 1))
    bounds = [0]
    while bounds[-1] < num_images:
        target = d_cut[bounds[-1]] + CHUNK_DETECTIONS
        bounds.append(max(bounds[-1] + 1, int(np.searchsorted(d_cut, target, side="right")) - 1))
        bounds[-1] = min(bounds[-1], num_images)
    parts, npig = [], np.zeros((num_classes, params.num_areas), np.int64)
    for a, b in itertools.pairwise(bounds):
        g = (gt.image >= a) & (gt.image < b)
        d = (dt.image >= a) & (dt.image < b)
        rec, counts = match(
            GroundTruth(gt.image[g], gt.label[g], gt.xywh[g], gt.area[g], gt.crowd[g]),
            Detections(dt.image[d], dt.label[d], dt.xywh[d], dt.score[d]),
            num_classes=num_classes,
            params=params,
        )
        parts.append(rec)
        npig += counts
        if progress is not None and len(bounds) > 2:
            progress(f"matched {b}/{num_images} images")
    if not parts:
        return Records.empty(params.num_areas, len(params.iou_thresholds)), npig
    return Records.concat(parts, [0] * len(parts)), npig


@docstring(_COCO, DETECTION_ARGS)
def coco_evaluate(
    gt: Any,
    results: Any,
    *,
    iou_thresholds: Any = None,
    max_detections: Any = (1, 10, 100),
    progress: Progress | None = None,
) -> COCOEvaluation:
    """COCO bbox evaluation of results against a ground truth, as pycocotools' `COCOeval`.

    A drop-in for `COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")` followed by
    `evaluate()`, `accumulate()` and `summarize()`, with the same arrays and numbers.

    Args:
        $args

    Returns:
        A `COCOEvaluation`.

    Raises:
        ValueError: on an unreadable file, a malformed dataset or results (the message names
            the entry), results on images the ground truth does not list.

    Examples:
        >>> from epochmetrics.functional.detection import coco_evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1}, {"id": 2}],
        ...       "annotations": [
        ...           {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10],
        ...            "area": 100, "iscrowd": 0},
        ...           {"id": 2, "image_id": 1, "category_id": 2, "bbox": [20, 20, 20, 20],
        ...            "area": 400, "iscrowd": 0}]}
        >>> results = [
        ...     {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        ...     {"image_id": 1, "category_id": 2, "bbox": [20, 20, 20, 10], "score": 0.8}]
        >>> ev = coco_evaluate(gt, results)
        >>> [round(ev.stats[k], 4) for k in ("map", "map_50", "map_75")]
        [0.55, 1.0, 0.5]
        >>> ev.stats["map_large"]  # no ground truth in that range (pycocotools: -1)
        nan
        >>> ev.precision.shape
        (10, 101, 2, 4, 3)
    """
    params = make_params(iou_thresholds, max_detections)
    truth = read_ground_truth(gt, progress)
    dt = read_results(results, truth, progress)
    num_classes = truth.category_ids.shape[0]
    records, npig = match_all(
        truth.boxes,
        dt,
        num_images=truth.image_ids.shape[0],
        num_classes=num_classes,
        params=params,
        progress=progress,
    )
    if progress is not None:
        progress(f"accumulating {len(records)} detections over {num_classes} classes")
    ids = tuple(int(c) for c in truth.category_ids)
    return evaluate_records(records, npig, params, ids)


@docstring(DETECTION_ARGS)
def detection_map(
    y_true: Any,
    y_pred: Any,
    *,
    bounding_box_format: str = "xyxy",
    num_classes: int | None = None,
    iou_thresholds: Any = None,
    max_detections: Any = (1, 10, 100),
    image_shape: Any = None,
) -> COCOEvaluation:
    """COCO mAP of detections in the Keras convention, in one call (`DetectionMAP`'s math).

    Args:
        $args

    Returns:
        A `COCOEvaluation` whose classes are the label indices.

    Examples:
        >>> from epochmetrics.functional.detection import detection_map
        >>> y_true = {"boxes": [[[0, 0, 10, 10], [20, 20, 40, 40]]], "labels": [[0, 1]]}
        >>> y_pred = {"boxes": [[[0, 0, 10, 10], [20, 20, 40, 30], [0, 0, 0, 0]]],
        ...           "scores": [[0.9, 0.8, 0.0]], "labels": [[0, 1, -1]]}
        >>> ev = detection_map(y_true, y_pred)
        >>> round(ev.stats["map"], 4), round(ev.stats["mar_100"], 4)
        (0.55, 0.55)
        >>> {k: round(v, 4) for k, v in ev.per_class_ap.items()}
        {0: 1.0, 1: 0.1}
    """
    size = check_box_format(bounding_box_format, image_shape)
    params = make_params(iou_thresholds, max_detections)
    k, _ = check_classes(num_classes)
    records, npig, _ = match_batch(
        y_true, y_pred, params, bounding_box_format=bounding_box_format, size=size, num_classes=k
    )
    return evaluate_records(records, npig, params, tuple(range(npig.shape[0])))
