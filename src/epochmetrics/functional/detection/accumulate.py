"""COCO accumulation: per-detection records -> precision and recall arrays.

Follows pycocotools 2.0.11's `COCOeval.accumulate` and `summarize` operation by operation, so
the arrays are bit-identical: per (class k, area range a, maxDets m) the detections of every
image with rank < m are ordered by descending score, ties by image order then rank (what a
stable sort of the per-image lists concatenated in image order gives); TP/FP counts are
cumulated as integers, `rc = tp / npig`, `pr = tp / (fp + tp + eps)`, the precision envelope
is the running maximum from the right, and `q[r] = pr[searchsorted(rc, recThrs[r], "left")]`,
0 for recall levels never reached. Classes without non-ignored ground truth in a range keep
-1 (pycocotools' "absent"), so their false positives are never penalised.

The loop runs over classes and `max_dets` (K x M iterations); everything inside is vectorised
over area ranges, IoU thresholds and detections.
"""

from __future__ import annotations

import numpy as np

from epochmetrics.functional.detection.match import FP, TP, Records
from epochmetrics.functional.detection.params import Params

__all__ = ["accumulate"]

_EPS = np.spacing(1)


def accumulate(records: Records, npig: np.ndarray, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """Precision `[T, R, K, A, M]` and recall `[T, K, A, M]`, -1 where a class has no GT."""
    num_classes, num_areas = npig.shape
    num_thr = records.status.shape[2]
    recall_thresholds, max_dets = params.recall_array, params.max_detections
    num_rec, num_m = recall_thresholds.shape[0], len(max_dets)
    precision = -np.ones((num_classes, num_areas, num_m, num_thr, num_rec))
    recall = -np.ones((num_classes, num_areas, num_m, num_thr))
    order = np.lexsort((records.rank, records.image, -records.score, records.label))
    label = records.label[order]
    bounds = np.searchsorted(label, np.arange(num_classes + 1))
    for k in range(num_classes):
        areas = np.flatnonzero(npig[k] > 0)
        if areas.shape[0] == 0:
            continue
        rows = order[bounds[k] : bounds[k + 1]]
        rank = records.rank[rows]
        status = records.status[rows][:, areas, :].transpose(1, 2, 0)  # (A', T, n)
        counts = npig[k, areas].astype(np.float64)
        need = _tp_needed(npig[k, areas], recall_thresholds)  # (A', R)
        kept = -1
        for m in range(num_m - 1, -1, -1):  # largest maxDets first
            keep = rank < max_dets[m]
            if int(keep.sum()) != kept:  # else: the same detections as the larger maxDets
                kept = int(keep.sum())
                q, rc = _curve(status[:, :, keep], counts, need)
            precision[k, areas, m] = q
            recall[k, areas, m] = rc
    return precision.transpose(3, 4, 0, 1, 2), recall.transpose(3, 0, 1, 2)


def _tp_needed(npig: np.ndarray, recall_thresholds: np.ndarray) -> np.ndarray:
    """need[a, r]: the fewest TPs j with `j / npig[a] >= recThrs[r]` (float64, as computed).

    `rc` only takes the values j / npig, so `searchsorted(rc, thr, "left")` is the position
    of the need-th TP (the first detection, for need 0).
    """
    return np.stack(
        [np.searchsorted(np.arange(n + 1) / n, recall_thresholds, side="left") for n in npig]
    )


def _curve(status: np.ndarray, npig: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision (A, T, R) and final recall (A, T) for one class and maxDets."""
    num_areas, num_thr, n = status.shape
    num_rec = need.shape[1]
    if n == 0:
        return np.zeros((num_areas, num_thr, num_rec)), np.zeros((num_areas, num_thr))
    # Counts cumulated directly in float64: exact integers, as pycocotools' int cumsum cast.
    tp = np.cumsum(status == TP, axis=2, dtype=np.float64)
    fp = np.cumsum(status == FP, axis=2, dtype=np.float64)
    rc_last = tp[:, :, -1] / npig[:, None]
    pr = tp / (fp + tp + _EPS)
    envelope = np.maximum.accumulate(pr[:, :, ::-1], axis=2)[:, :, ::-1]
    # searchsorted(rc, recThrs) for every row at once: tp counts are integers, non-decreasing
    # along a row, so offsetting row r by r * (n + 2) keeps the flat array sorted.
    rows = np.arange(num_areas * num_thr).reshape(num_areas, num_thr)
    offset = rows * (n + 2)
    flat = (tp + offset[:, :, None]).reshape(-1)
    queries = need[:, None, :] + offset[:, :, None]  # (A, T, R)
    idx = np.searchsorted(flat, queries.reshape(-1), side="left").reshape(queries.shape)
    idx = idx - (rows * n)[:, :, None]
    inside = idx < n
    q = np.where(inside, np.take_along_axis(envelope, np.minimum(idx, n - 1), axis=2), 0.0)
    return q, rc_last
