"""The parameters of a COCO bbox evaluation, in one frozen object built by one function.

pycocotools' `Params` (`setDetParams`, iouType="bbox"): IoU thresholds, recall points, the
detections kept per image and class, and the area ranges with their labels. `make_params`
checks the two that users choose (`iou_thresholds`, `max_detections`) and fills in the rest
exactly as pycocotools builds them (`linspace`, not `arange`: the same float64 values). Every
stage reads its parameters from a `Params`: matching (`match`), accumulation
(`accumulate`), the summary (`summary`) and the metric's state.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from epochmetrics.functional._args import is_int

__all__ = [
    "AREA_LABELS",
    "AREA_RANGES",
    "IOU_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "Params",
    "make_params",
]

# Exactly as pycocotools' `Params.setDetParams` builds them (linspace, not arange).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = ((0.0**2, 1e5**2), (0.0**2, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")


@dataclass(frozen=True)
class Params:
    """What a COCO bbox evaluation is computed with (values as tuples: comparable, hashable).

    Attributes:
        iou_thresholds: the T increasing IoU thresholds.
        max_detections: the M increasing detections kept per image and class (`maxDets`);
            matching keeps the largest, AP and the area-range ARs use it.
        recall_thresholds: the R recall points of the precision envelope.
        area_ranges: the A `(low, high)` area ranges, both bounds inclusive.
        area_labels: their names; the first ("all") is the whole range.
    """

    iou_thresholds: tuple[float, ...]
    max_detections: tuple[int, ...]
    recall_thresholds: tuple[float, ...] = tuple(RECALL_THRESHOLDS.tolist())
    area_ranges: tuple[tuple[float, float], ...] = AREA_RANGES
    area_labels: tuple[str, ...] = AREA_LABELS

    @property
    def iou_array(self) -> np.ndarray:
        """`(T,)` float64 IoU thresholds."""
        return np.array(self.iou_thresholds, dtype=np.float64)

    @property
    def recall_array(self) -> np.ndarray:
        """`(R,)` float64 recall points."""
        return np.array(self.recall_thresholds, dtype=np.float64)

    @property
    def area_array(self) -> np.ndarray:
        """`(A, 2)` float64 area ranges."""
        return np.array(self.area_ranges, dtype=np.float64)

    @property
    def max_det(self) -> int:
        """The detections matched per image and class: the largest `max_detections`."""
        return self.max_detections[-1]

    @property
    def num_areas(self) -> int:
        return len(self.area_ranges)


def make_params(iou_thresholds: Any = None, max_detections: Any = (1, 10, 100)) -> Params:
    """Check the user's choices and build the `Params` (None: pycocotools' 0.5:0.05:0.95).

    Raises:
        ValueError: thresholds that are not increasing values in [0, 1], or `max_detections`
            that are not increasing positive integers.
    """
    return Params(tuple(_iou_thresholds(iou_thresholds).tolist()), _max_detections(max_detections))


def _iou_thresholds(iou_thresholds: Any) -> np.ndarray:
    if iou_thresholds is None:
        return IOU_THRESHOLDS.copy()
    try:
        thr = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
        ok = np.ndim(iou_thresholds) <= 1 and thr.shape[0] > 0
        ok = ok and bool(np.all((thr >= 0) & (thr <= 1)) and np.all(np.diff(thr) > 0))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            "`iou_thresholds` must be increasing values in [0, 1] (None: 0.5, 0.55, ..., 0.95). "
            f"Received: iou_thresholds={iou_thresholds!r}."
        )
    return thr


def _max_detections(max_detections: Any) -> tuple[int, ...]:
    try:
        values = tuple(max_detections)
        ok = len(values) > 0 and all(is_int(v) and v > 0 for v in values)
        ok = ok and all(b > a for a, b in itertools.pairwise(values))
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            "`max_detections` must be increasing positive integers, e.g. (1, 10, 100). "
            f"Received: max_detections={max_detections!r}."
        )
    return tuple(int(v) for v in values)
