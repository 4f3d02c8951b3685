"""COCO-format files -> flat arrays, with pycocotools' selection rules and one-line errors.

Ground truth: a COCO dataset dict (`images`, `annotations`, `categories`) or the path of its JSON
file. Results: a list of `{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`, the path
of such a JSON file, or an `(n, 7)` array `[image_id, x, y, w, h, score, category_id]` (as
pycocotools' `loadNumpyAnnotations`).

As pycocotools: images are evaluated in sorted id order, classes are the `categories` listed
(sorted ids), annotations and results of other categories are left out, GT annotations keep
their file order, results keep theirs (it breaks score ties), a result's area is `w * h`.
Where pycocotools fails we do not: a missing GT `area` is the box area, a missing `iscrowd`
is 0, an empty result list evaluates (every class scores 0). Results on images that the
ground truth does not list are an error, as pycocotools' assertion.

Ids: category ids are integers; image ids are integers or, as some tools write them, strings
(all of one kind: pycocotools sorts them, and so do we). An id that is a number but not an
integer (1000.5) is an error, never truncated. pycocotools uses a matched annotation's `id` as
its "matched" flag, so an annotation with id 0 is never recalled there and a detection matched
to it counts as a false positive; we match by position, so reading such a file warns that the
numbers will differ from pycocotools' (renumber the annotations from 1 to compare).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from epochmetrics._types import Progress
from epochmetrics.functional.detection.match import Detections, GroundTruth

__all__ = ["CocoGroundTruth", "load_json", "read_ground_truth", "read_results"]


def load_json(source: Any, what: str, progress: Progress | None = None) -> Any:
    """A path (str or PathLike) is read as JSON; anything else is returned as is."""
    if not isinstance(source, (str, os.PathLike)):
        return source
    path = os.fspath(source)
    if progress is not None:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        progress(f"reading {what} {path} ({size / 2**20:.1f} MiB)")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as err:
        raise ValueError(f"Cannot read the {what} file {path!r}: {err.strerror}.") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"The {what} file {path!r} is not valid JSON: {err}.") from err


class CocoGroundTruth:
    """A validated COCO ground truth: boxes, sorted image ids and sorted category ids."""

    def __init__(self, boxes: GroundTruth, image_ids: np.ndarray, category_ids: np.ndarray):
        self.boxes = boxes
        self.image_ids = image_ids
        self.category_ids = category_ids


def _field(items: list[Any], key: str, what: str, dtype: Any, optional: Any = None) -> np.ndarray:
    try:
        if optional is not None:
            return np.array([it.get(key, optional) for it in items], dtype=dtype)
        return np.array([it[key] for it in items], dtype=dtype)
    except (KeyError, TypeError, ValueError, AttributeError):
        for i, it in enumerate(items):
            if not isinstance(it, Mapping):
                raise ValueError(f"{what}[{i}] must be a dict. Received: {it!r:.80}.") from None
            if optional is None and key not in it:
                raise ValueError(f"{what}[{i}] has no {key!r}. Received: {it!r:.120}.") from None
            try:
                np.array(it.get(key, optional), dtype=dtype)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{what}[{i}][{key!r}] must be a number. Received: {it.get(key)!r:.80}."
                ) from None
        raise ValueError(f"{what}: the {key!r} values do not form an array.") from None


def _bboxes(items: list[Any], what: str) -> np.ndarray:
    try:
        out = np.array([it["bbox"] for it in items], dtype=np.float64)
        ok = out.shape == (len(items), 4) or not items
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        _field(items, "bbox", what, object)  # names a missing key or a non-dict entry
        for i, it in enumerate(items):
            b = it["bbox"]
            if not isinstance(b, (list, tuple)) or len(b) != 4:
                raise ValueError(
                    f"{what}[{i}]['bbox'] must be [x, y, width, height]. Received: {b!r:.80}."
                )
        raise ValueError(f"{what}: every 'bbox' must be four numbers.")
    out = out.reshape(len(items), 4)
    if not np.all(np.isfinite(out)):
        i = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
        raise ValueError(f"{what}[{i}]['bbox'] must be finite. Received: {out[i].tolist()}.")
    return out


def _ids(items: list[Any], key: str, what: str, *, names: bool = False) -> np.ndarray:
    """Integer ids as int64, or with `names` string ids too (image ids: all of one kind).

    A number that is not an integer is an error naming the entry, never truncated."""
    try:
        raw = [it[key] for it in items]
    except (KeyError, TypeError, AttributeError):
        _field(items, key, what, object)  # raises, naming the entry
        raise
    values = np.array(raw) if raw else np.zeros(0, np.int64)
    if values.ndim != 1:
        raise ValueError(f"{what}: every {key!r} must be one id.")
    kind = values.dtype.kind
    allowed = "an integer id or a string" if names else "an integer id"
    if kind in "iu":
        return values.astype(np.int64)
    if kind == "f":
        whole = np.isfinite(values) & (values == np.round(values))
        if whole.all():
            return values.astype(np.int64)
        i = int(np.flatnonzero(~whole)[0])
        raise ValueError(f"{what}[{i}][{key!r}] must be {allowed}. Received: {raw[i]!r}.")
    if kind == "U" and names and all(isinstance(v, str) for v in raw):
        return values
    strings = [i for i, v in enumerate(raw) if isinstance(v, str)]
    if names and strings:
        other = next(i for i, v in enumerate(raw) if not isinstance(v, str))
        raise ValueError(
            f"{what}: the {key!r} values must be all integers or all strings. Received "
            f"{raw[strings[0]]!r} at {strings[0]} and {raw[other]!r} at {other}."
        )
    i = next(
        (i for i, v in enumerate(raw) if not isinstance(v, (int, np.integer)) or v is True),
        0,
    )
    raise ValueError(f"{what}[{i}][{key!r}] must be {allowed}. Received: {raw[i]!r}.")


def _warn_zero_ids(anns: list[Any]) -> None:
    if 0 in [a.get("id") for a in anns]:
        warnings.warn(
            "The ground truth has an annotation with id 0. pycocotools uses a matched "
            "annotation's id as its 'matched' flag: it never recalls annotation 0 and counts a "
            "detection matched to it as a false positive. epochmetrics matches by position, so "
            "its numbers differ from pycocotools' on this file; renumber the annotations from 1 "
            "to compare the two.",
            UserWarning,
            stacklevel=4,
        )


def read_ground_truth(gt: Any, progress: Progress | None = None) -> CocoGroundTruth:
    data = load_json(gt, "ground truth", progress)
    if not isinstance(data, Mapping) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise ValueError(
            "The ground truth must be a COCO dataset: a dict with 'images', 'annotations' and "
            f"'categories' lists. Received: {type(data).__name__}"
            + (f" with keys {sorted(data)}." if isinstance(data, Mapping) else ".")
        )
    image_ids = np.unique(_ids(data["images"], "id", "images", names=True))
    category_ids = np.unique(_ids(data["categories"], "id", "categories"))
    anns = data["annotations"]
    ann_image = _ids(anns, "image_id", "annotations", names=True)
    ann_cat = _ids(anns, "category_id", "annotations")
    boxes = _bboxes(anns, "annotations")
    area = _field(anns, "area", "annotations", np.float64, optional=np.nan)
    area = np.where(np.isnan(area), boxes[:, 2] * boxes[:, 3], area)
    crowd = _field(anns, "iscrowd", "annotations", np.float64, optional=0) != 0
    image, image_ok = _index(ann_image, image_ids)
    label, cat_ok = _index(ann_cat, category_ids)
    keep = image_ok & cat_ok  # pycocotools' getAnnIds(imgIds, catIds) selection
    _warn_zero_ids(anns)
    return CocoGroundTruth(
        GroundTruth(image[keep], label[keep], boxes[keep], area[keep], crowd[keep]),
        image_ids,
        category_ids,
    )


def read_results(results: Any, gt: CocoGroundTruth, progress: Progress | None = None) -> Detections:
    data = load_json(results, "results", progress)
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] != 7:
            raise ValueError(
                "Results as an array must have shape (n, 7): [image_id, x, y, w, h, score, "
                f"category_id]. Received: shape={data.shape}."
            )
        arr = data.astype(np.float64)
        img, boxes, score, cat = arr[:, 0], arr[:, 1:5], arr[:, 5], arr[:, 6]
        if not np.all(np.isfinite(arr)):
            raise ValueError("Results as an array must be finite.")
        for column, name in ((img, "image_id"), (cat, "category_id")):
            bad = np.flatnonzero(column != np.round(column))
            if bad.shape[0]:
                raise ValueError(
                    f"Results as an array hold a non-integer {name} in row {int(bad[0])}: "
                    f"{float(column[bad[0]])!r}."
                )
        img, cat = img.astype(np.int64), cat.astype(np.int64)
    elif isinstance(data, list):
        img = _ids(data, "image_id", "results", names=True)
        cat = _ids(data, "category_id", "results")
        boxes = _bboxes(data, "results")
        score = _field(data, "score", "results", np.float64)
        if not np.all(np.isfinite(score)):
            i = int(np.flatnonzero(~np.isfinite(score))[0])
            raise ValueError(f"results[{i}]['score'] must be finite. Received: {score[i]}.")
    else:
        raise ValueError(
            "The results must be a list of {'image_id', 'category_id', 'bbox', 'score'} dicts "
            f"(or its JSON file). Received: {type(data).__name__}."
        )
    image, image_ok = _index(img, gt.image_ids)
    if not image_ok.all():
        unknown = sorted(set(img[~image_ok].tolist()))
        raise ValueError(
            f"The results hold image ids the ground truth does not list: {unknown[:10]}"
            f"{' ...' if len(unknown) > 10 else ''} ({int((~image_ok).sum())} results)."
        )
    label, cat_ok = _index(cat, gt.category_ids)
    return Detections(image[cat_ok], label[cat_ok], boxes[cat_ok], score[cat_ok])


def _index(values: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each value in `sorted_ids`, and whether it is there."""
    if (values.dtype.kind == "U") != (sorted_ids.dtype.kind == "U"):  # names vs numbers
        return np.zeros(values.shape, np.int64), np.zeros(values.shape, bool)
    pos = np.searchsorted(sorted_ids, values)
    ok = pos < sorted_ids.shape[0]
    ok[ok] = sorted_ids[pos[ok]] == values[ok]
    return np.where(ok, pos, 0).astype(np.int64), ok
