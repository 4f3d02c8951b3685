"""Exact COCO bbox evaluation on the host: pycocotools 2.0.11's numbers, vectorised NumPy.

The precision `[T, R, K, A, M]` and recall `[T, K, A, M]` arrays equal pycocotools' `COCOeval`
(`iouType="bbox"`) bit for bit, and so do the 12 summary numbers: IoU thresholds .50:.05:.95,
101 recall points on the precision envelope, `maxDets` 1/10/100 per image *and class*, area
ranges all/small/medium/large (bounds inclusive, from the ground truth's `area`), crowd ground
truth (IoU over the detection's area, any number of matches, matched detections ignored),
greedy matching in score order, score ties across images broken by image order, classes
without ground truth excluded. Matching is per image and vectorised over all images at once
(see `match`); accumulation loops over classes only (see `accumulate`). On 5,000
images x 100 detections it runs tens of times faster than pycocotools (`benchmarks/`).

Conventions where pycocotools has none, or a trap:

- A summary value pycocotools reports as -1 (no ground truth in that area range) is NaN in
  `COCOEvaluation.stats`; `summary_text` prints it as -1.000, as pycocotools does.
- `max_detections` other than (1, 10, 100): the AP values and the area-range ARs use the
  largest value, and there is one `mar_<m>` per value. (pycocotools computes `stats[0]` at a
  hard-coded 100, so it reports -1 when 100 is not among them, and uses `maxDets[2]` for the
  rest.) `map_50` / `map_75` exist when 0.5 / 0.75 are among `iou_thresholds`.

The package, one stage per module, all with one `Params` (`params.py`):

- `params`: the frozen parameters and the one function that builds them (`make_params`);
- `coco_files`: COCO JSON files -> flat arrays (`coco_evaluate`'s input);
- `inputs`: batches in the Keras convention -> flat arrays, the box formats and the one
  check of `num_classes` (`detection_map`'s and `DetectionMAP`'s input);
- `match`: greedy matching -> per-detection records;
- `accumulate`: records -> precision and recall arrays;
- `summary`: the table of the summary numbers: the numbers, the printed lines, the keys;
- `evaluate`: `coco_evaluate`, `detection_map`, and `match_batch`, the batch matching that
  `DetectionMAP` shares with `detection_map`.
"""

from __future__ import annotations

from epochmetrics.functional.detection.evaluate import (
    COCOEvaluation,
    coco_evaluate,
    detection_map,
)
from epochmetrics.functional.detection.summary import summary_text

__all__ = ["COCOEvaluation", "coco_evaluate", "detection_map", "summary_text"]
