"""The summary of a COCO evaluation: one table drives its numbers, its printed lines and the
metric's keys.

`SUMMARY` lists pycocotools' `_summarizeDets` in order: for each line its key, AP or AR, the IoU
threshold (None: all of them), the area range and which `max_detections` value it uses.
`summary_lines(params)` expands it for an evaluation's parameters (one AR line per
`max_detections` value); `summarize` computes the numbers, `summary_text` prints them as
pycocotools does, and `DetectionMAP` takes its keys from it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from epochmetrics._docs import docstring
from epochmetrics.functional.detection.params import Params

if TYPE_CHECKING:
    from epochmetrics.functional.detection.evaluate import COCOEvaluation

__all__ = ["SUMMARY", "Line", "summarize", "summary_keys", "summary_lines", "summary_text"]


class Line(NamedTuple):
    """One summary number: `key` (with "{}" for the `max_detections` value), AP or AR, the IoU
    threshold (None: the mean over all), the area range's label, and the `max_detections`
    index it uses (-1: the largest; None: one line per value)."""

    key: str
    ap: bool
    iou: float | None
    area: str
    max_det: int | None


SUMMARY: tuple[Line, ...] = (
    Line("map", True, None, "all", -1),
    Line("map_50", True, 0.5, "all", -1),
    Line("map_75", True, 0.75, "all", -1),
    Line("map_small", True, None, "small", -1),
    Line("map_medium", True, None, "medium", -1),
    Line("map_large", True, None, "large", -1),
    Line("mar_{}", False, None, "all", None),
    Line("mar_small", False, None, "small", -1),
    Line("mar_medium", False, None, "medium", -1),
    Line("mar_large", False, None, "large", -1),
)


class Expanded(NamedTuple):
    """A summary line for given parameters: its key, kind, IoU, area index and maxDets index."""

    key: str
    ap: bool
    iou: float | None
    area: int
    m: int


def summary_lines(params: Params) -> list[Expanded]:
    """The summary's lines in pycocotools' order for `params` (12 with the defaults)."""
    out = []
    for line in SUMMARY:
        slots = range(len(params.max_detections)) if line.max_det is None else [line.max_det]
        for slot in slots:
            m = slot % len(params.max_detections)
            key = line.key.format(params.max_detections[m])
            area = params.area_labels.index(line.area)
            out.append(Expanded(key, line.ap, line.iou, area, m))
    return out


def summary_keys(params: Params, *, ap: bool | None = None) -> tuple[str, ...]:
    """The keys of the summary (only the AP or AR ones with `ap`), in order. A key whose IoU
    threshold is not among `params.iou_thresholds` is left out."""
    thresholds = params.iou_array
    return tuple(
        line.key
        for line in summary_lines(params)
        if (ap is None or line.ap == ap) and _iou_index(line.iou, thresholds) != []
    )


def _iou_index(iou: float | None, thresholds: np.ndarray) -> list[int] | None:
    """Where `iou` is among the thresholds ([] when it is not); None for all of them."""
    if iou is None:
        return None
    return np.flatnonzero(np.abs(thresholds - iou) < 1e-12).tolist()


def _entry(precision: np.ndarray, recall: np.ndarray, t: list[int] | None, line: Expanded) -> float:
    """`_summarize`: the mean of the cells > -1, or -1 when there is none."""
    s = precision if line.ap else recall
    if t is not None:
        s = s[t]
    s = s[:, :, :, [line.area], [line.m]] if line.ap else s[:, :, [line.area], [line.m]]
    kept = s[s > -1]
    return -1.0 if kept.shape[0] == 0 else float(np.mean(kept))


def summarize(precision: np.ndarray, recall: np.ndarray, params: Params) -> dict[str, float]:
    """The summary numbers by key, -1 where pycocotools gives -1 (no GT in that range).

    With the default parameters these are exactly `COCOeval.stats`. Otherwise AP and the
    area-range ARs use the largest `max_detections` (pycocotools uses `maxDets[2]`, and a
    hard-coded 100 for the first AP, so it prints -1 when 100 is not among them), there is one
    `mar_<m>` per `max_detections` value, and `map_50` / `map_75` exist only when 0.5 / 0.75
    are among the IoU thresholds (pycocotools would print -1 for them).
    """
    thresholds = params.iou_array
    out: dict[str, float] = {}
    for line in summary_lines(params):
        t = _iou_index(line.iou, thresholds)
        if t != []:
            out[line.key] = _entry(precision, recall, t, line)
    return out


@docstring({"result": "A `COCOEvaluation` (`coco_evaluate`, `detection_map`)."})
def summary_text(result: COCOEvaluation) -> str:
    """The summary lines exactly as pycocotools' `COCOeval.summarize()` prints them.

    With the default parameters the 12 lines are character for character pycocotools'; NaN
    values print as -1.000. With other `max_detections` there is one AR line per value.

    Args:
        $args

    Returns:
        The lines, joined by newlines (no newline at the end).

    Examples:
        >>> from epochmetrics.functional.detection import detection_map, summary_text
        >>> ev = detection_map({"boxes": [[[0, 0, 10, 10]]], "labels": [[0]]},
        ...                    {"boxes": [[[0, 0, 10, 10]]], "scores": [[1.0]], "labels": [[0]]})
        >>> print(summary_text(ev).splitlines()[0])
         Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000
    """
    params = result.params
    thr, stats = result.iou_thresholds, result.stats
    text = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
    lines = []
    for line in summary_lines(params):
        value = stats.get(line.key, math.nan)
        iou = f"{thr[0]:0.2f}:{thr[-1]:0.2f}" if line.iou is None else f"{line.iou:0.2f}"
        title, kind = ("Average Precision", "(AP)") if line.ap else ("Average Recall", "(AR)")
        area, m = params.area_labels[line.area], params.max_detections[line.m]
        lines.append(text.format(title, kind, iou, area, m, -1.0 if math.isnan(value) else value))
    return "\n".join(lines)
