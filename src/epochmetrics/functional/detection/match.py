"""COCO bbox matching, vectorised: flat boxes of many images -> per-detection records.

pycocotools 2.0.11 (`cocoeval.py`, `evaluateImg`) matches each (image, category) separately:
detections in score order greedily take the best free ground truth. Here every image and
category of a batch is matched at once, with no Python loop per image or per detection:

1. Detections are ranked by score within their (image, class) group (stable: input order
   breaks ties) and cut at `max_det`, as `evaluateImg` does before matching.
2. Candidate pairs join each ground truth with the detections of its (image, class) group;
   IoU is computed per pair exactly as `maskApi.c bbIou` computes it (same float64 operations
   in the same order, so bit-identical for the same `xywh` boxes). Only pairs with IoU >= the
   lowest threshold can ever match; most detections have none and skip step 3.
3. Greedy matching loops over *slots*: slot s holds the s-th candidate detection of every
   (image, class) group, so one slot is one vectorised step over all groups and a later
   slot sees what the earlier ones took. Groups never share a ground truth, so detections of
   the same slot cannot conflict.

The result is one record per kept detection: its image, class, score, rank in its group and a
status per (area range, IoU threshold): TP, FP or ignored. Records are all `accumulate`
needs, so a streamed metric stores them instead of boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epochmetrics.functional.detection.params import Params

__all__ = ["FP", "IGNORED", "TP", "Detections", "GroundTruth", "Records", "match"]

IGNORED, TP, FP = 0, 1, 2  # detection status codes, per (area range, IoU threshold)


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth boxes of several images, one row each, annotation order within an image."""

    image: np.ndarray  # (G,) int64 image index (images in evaluation order)
    label: np.ndarray  # (G,) int64 class index in [0, K)
    xywh: np.ndarray  # (G, 4) float64 [x, y, width, height]
    area: np.ndarray  # (G,) float64, decides the area range (COCO: the annotation's `area`)
    crowd: np.ndarray  # (G,) bool


@dataclass(frozen=True)
class Detections:
    """Detections of several images, one row each, input order within an image."""

    image: np.ndarray  # (D,) int64
    label: np.ndarray  # (D,) int64 class index in [0, K)
    xywh: np.ndarray  # (D, 4) float64
    score: np.ndarray  # (D,) float64


@dataclass(frozen=True)
class Records:
    """Matched detections: everything the accumulation needs, no boxes.

    `status[i, a, t]` is TP, FP or IGNORED for detection i in area range a at IoU threshold t.
    `rank` is the detection's position in its (image, class) group by descending score.
    """

    image: np.ndarray  # (n,) int64
    label: np.ndarray  # (n,) int64
    score: np.ndarray  # (n,) float64
    rank: np.ndarray  # (n,) int32
    status: np.ndarray  # (n, A, T) int8

    @staticmethod
    def empty(num_areas: int, num_thresholds: int) -> Records:
        return Records(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.float64),
            np.zeros(0, np.int32),
            np.zeros((0, num_areas, num_thresholds), np.int8),
        )

    def __len__(self) -> int:
        return int(self.image.shape[0])

    @staticmethod
    def concat(parts: list[Records], image_offsets: list[int]) -> Records:
        """Records of consecutive image ranges as one (image indices shifted by the offsets)."""
        return Records(
            np.concatenate([p.image + off for p, off in zip(parts, image_offsets, strict=True)]),
            np.concatenate([p.label for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.rank for p in parts]),
            np.concatenate([p.status for p in parts]),
        )


def _group_starts(key: np.ndarray) -> np.ndarray:
    """For a sorted key, the index where each element's run of equal keys starts."""
    n = key.shape[0]
    new = np.ones(n, dtype=bool)
    new[1:] = key[1:] != key[:-1]
    return np.maximum.accumulate(np.where(new, np.arange(n), 0))


def _pair_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of paired `xywh` rows as `maskApi.c bbIou` computes it (crowd: over the dt area)."""
    w = np.minimum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(dt[:, 0], gt[:, 0])
    h = np.minimum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(dt[:, 1], gt[:, 1])
    overlap = (w > 0) & (h > 0)
    inter = w * h
    dt_area = dt[:, 2] * dt[:, 3]
    union = np.where(crowd, dt_area, dt_area + gt[:, 2] * gt[:, 3] - inter)
    out = np.zeros(dt.shape[0], dtype=np.float64)
    np.divide(inter, union, out=out, where=overlap)
    return out


def match(
    gt: GroundTruth, dt: Detections, *, num_classes: int, params: Params
) -> tuple[Records, np.ndarray]:
    """Match the detections of a set of images to their ground truth.

    Args:
        gt, dt: the boxes of the same images (image indices shared).
        num_classes: K; labels are in [0, K).
        params: the IoU thresholds, area ranges and detections kept per (image, class).

    Returns:
        `(records, npig)`: the records of the kept detections in (image, class, rank) order,
        and `npig[k, a]`, the number of non-ignored ground truths of class k in area range a.
    """
    iou_thresholds, area_ranges, max_det = params.iou_array, params.area_array, params.max_det
    num_areas, num_thr = area_ranges.shape[0], iou_thresholds.shape[0]
    lo, hi = area_ranges[:, 0], area_ranges[:, 1]
    # Ground truth in (image, class, annotation order); ignored per area range: crowd or area
    # outside the range, both bounds inclusive (pycocotools: area < lo or area > hi).
    g_order = np.lexsort((gt.label, gt.image))
    g_key = gt.image[g_order] * num_classes + gt.label[g_order]
    g_xywh, g_crowd = gt.xywh[g_order], gt.crowd[g_order]
    g_area = gt.area[g_order]
    g_ignore = g_crowd[:, None] | (g_area[:, None] < lo) | (g_area[:, None] > hi)  # (G, A)
    npig = np.stack(
        [
            np.bincount(gt.label[g_order][~g_ignore[:, a]], minlength=num_classes)
            for a in range(num_areas)
        ],
        axis=1,
    ).astype(np.int64)

    # Detections by (image, class, -score), input order breaking ties (lexsort is stable).
    d_order = np.lexsort((-dt.score, dt.label, dt.image))
    d_key = dt.image[d_order] * num_classes + dt.label[d_order]
    rank = np.arange(d_order.shape[0]) - _group_starts(d_key)
    keep = rank < max_det
    d_order, d_key, rank = d_order[keep], d_key[keep], rank[keep]
    d_xywh = dt.xywh[d_order]
    n_det = d_order.shape[0]

    d_area = d_xywh[:, 2] * d_xywh[:, 3]  # pycocotools' loadRes: area = w * h
    status = np.where(
        ((d_area[:, None] < lo) | (d_area[:, None] > hi))[:, :, None], IGNORED, FP
    ).astype(np.int8)
    status = np.broadcast_to(status, (n_det, num_areas, num_thr)).copy()

    # Candidate pairs: each ground truth with every detection of its (image, class) group.
    first = np.searchsorted(d_key, g_key, side="left")
    count = np.searchsorted(d_key, g_key, side="right") - first
    total = int(count.sum())
    if total:
        pair_g = np.repeat(np.arange(g_key.shape[0]), count)
        offsets = np.repeat(np.cumsum(count) - count, count)
        pair_d = np.repeat(first, count) + (np.arange(total) - offsets)
        iou = _pair_iou(d_xywh[pair_d], g_xywh[pair_g], g_crowd[pair_g])
        thr = np.minimum(iou_thresholds, 1 - 1e-10)  # as `evaluateImg`: iou = min(t, 1-1e-10)
        useful = iou >= thr.min()
        pair_g, pair_d, iou = pair_g[useful], pair_d[useful], iou[useful]
        if pair_d.shape[0]:
            _greedy(pair_g, pair_d, iou, d_key, g_ignore, g_crowd, thr, status)

    records = Records(
        dt.image[d_order].astype(np.int64),
        dt.label[d_order].astype(np.int64),
        dt.score[d_order].astype(np.float64),
        rank.astype(np.int32),
        status,
    )
    return records, npig


def _greedy(
    pair_g: np.ndarray,
    pair_d: np.ndarray,
    iou: np.ndarray,
    d_key: np.ndarray,
    g_ignore: np.ndarray,
    g_crowd: np.ndarray,
    thr: np.ndarray,
    status: np.ndarray,
) -> None:
    """`evaluateImg`'s greedy matching for every group at once; writes TP/IGNORED into status.

    For a detection and threshold t, a ground truth qualifies with IoU >= t if it is free or
    crowd; among regular (non-ignored) ones the highest IoU wins, ties going to the later one
    in annotation order; ignored ones are used only when no regular one qualifies.
    """
    num_areas, num_thr = g_ignore.shape[1], thr.shape[0]
    # Slot of each candidate detection: its position among its group's candidates.
    cand = np.unique(pair_d)  # sorted = (image, class, rank) order
    slot_of = np.zeros(d_key.shape[0], dtype=np.int64)
    slot_of[cand] = np.arange(cand.shape[0]) - _group_starts(d_key[cand])
    # Pairs by (slot, detection, ground truth): one slot is one contiguous range, one detection
    # one contiguous segment of it, ground truths in annotation order within the segment.
    order = np.lexsort((pair_g, pair_d, slot_of[pair_d]))
    pair_g, pair_d, iou = pair_g[order], pair_d[order], iou[order]
    slot_bounds = np.searchsorted(slot_of[pair_d], np.arange(int(slot_of[cand].max()) + 2))
    taken = np.zeros((g_ignore.shape[0], num_areas, num_thr), dtype=bool)
    for s in range(slot_bounds.shape[0] - 1):
        a, b = int(slot_bounds[s]), int(slot_bounds[s + 1])
        g, d, v = pair_g[a:b], pair_d[a:b], iou[a:b]
        seg = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])  # segment start per detection
        seg_id = np.cumsum(np.r_[True, d[1:] != d[:-1]]) - 1
        ok = (v[:, None] >= thr)[:, None, :]  # (P, 1, T)
        free = ~taken[g] | g_crowd[g][:, None, None]  # (P, A, T)
        ign = g_ignore[g][:, :, None]  # (P, A, 1)
        eligible = ok & free
        pick_reg = _last_best(eligible & ~ign, v, seg, seg_id)
        pick_ign = _last_best(eligible & ign, v, seg, seg_id)
        regular = pick_reg >= 0
        pick = np.where(regular, pick_reg, pick_ign)  # (n_seg, A, T) pair index or -1
        dets = d[seg]
        st = status[dets]
        st[regular] = TP
        st[~regular & (pick_ign >= 0)] = IGNORED
        status[dets] = st
        i, aa, tt = np.nonzero(pick >= 0)
        taken[g[pick[i, aa, tt]], aa, tt] = True


def _last_best(
    mask: np.ndarray, value: np.ndarray, seg: np.ndarray, seg_id: np.ndarray
) -> np.ndarray:
    """Per segment and (area, threshold): index of the last row with the highest value among
    rows where `mask` holds, or -1. mask: (P, A, T); value: (P,); segments start at `seg`."""
    v = np.where(mask, value[:, None, None], -1.0)
    best = np.maximum.reduceat(v, seg, axis=0)  # (n_seg, A, T)
    rows = np.arange(mask.shape[0])[:, None, None]
    hit = mask & (v == best[seg_id])
    return np.maximum.reduceat(np.where(hit, rows, -1), seg, axis=0)
