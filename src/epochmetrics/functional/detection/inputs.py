"""Detection batches in the Keras convention -> validated flat boxes for the COCO kernels.

A batch is either padded dicts (`y_true = {"boxes": (B, G, 4), "labels": (B, G)}`, entries with
label -1 are padding, as keras-hub's `predict` and `keras.utils.bounding_boxes` produce) or a
list of per-image dicts of any length. Boxes are converted to COCO's `[x, y, width, height]` in
float64: `xywh` boxes pass unchanged, so COCO-format boxes give pycocotools' exact IoUs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from epochmetrics._backend import host as _host
from epochmetrics.functional._args import check_bool, check_choice, check_int
from epochmetrics.functional.detection.match import Detections, GroundTruth

__all__ = [
    "BOX_FORMATS",
    "check_box_format",
    "check_classes",
    "check_image_shape",
    "check_per_class",
    "format_batch",
    "to_xywh",
]

# Keras' names (`keras.utils.bounding_boxes.convert_format`).
BOX_FORMATS = (
    "xyxy",
    "yxyx",
    "xywh",
    "center_xywh",
    "center_yxhw",
    "rel_xyxy",
    "rel_yxyx",
    "rel_xywh",
    "rel_center_xywh",
)


def check_box_format(fmt: Any, image_shape: Any) -> tuple[float, float] | None:
    """Validate `bounding_box_format` and `image_shape`; returns `(height, width)` or None."""
    what = f"one of {', '.join(repr(f) for f in BOX_FORMATS)}"
    check_choice("bounding_box_format", fmt, BOX_FORMATS, what=what)
    size = check_image_shape(image_shape)
    if fmt.startswith("rel_") and size is None:
        raise ValueError(
            f"bounding_box_format={fmt!r} gives boxes relative to the image size, and COCO's "
            "area ranges are in pixels: pass `image_shape=(height, width)`. "
            "Received: image_shape=None."
        )
    return size


def check_classes(
    num_classes: Any, class_names: Sequence[Any] | None = None
) -> tuple[int | None, tuple[str, ...] | None]:
    """`(num_classes, class_names)`: class ids are `0 .. num_classes - 1` (None: any label
    >= 0); names, if given, fix their number. The one check of `num_classes` for detection."""
    k = check_int("num_classes", num_classes, minimum=1, none=True, received=repr(num_classes))
    if class_names is None:
        return k, None
    names = tuple(str(c) for c in class_names)
    if k is not None and k != len(names):
        raise ValueError(f"`class_names` has {len(names)} names but num_classes={k}.")
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"`class_names` must be distinct names. Received: {list(names)}.")
    return len(names), names


def check_per_class(per_class: Any) -> bool:
    return check_bool("per_class", per_class)


def check_image_shape(image_shape: Any) -> tuple[float, float] | None:
    if image_shape is None:
        return None
    try:
        dims = [float(v) for v in tuple(image_shape)[:2]]
        ok = len(tuple(image_shape)) in (2, 3) and all(np.isfinite(dims)) and min(dims) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            "`image_shape` must be `(height, width)` (or `(height, width, channels)`) with "
            f"positive sizes. Received: image_shape={image_shape!r}."
        )
    return dims[0], dims[1]


def to_xywh(boxes: np.ndarray, fmt: str, size: tuple[float, float] | None) -> np.ndarray:
    """(n, 4) boxes in `fmt` -> float64 `[x, y, width, height]` (absolute pixels)."""
    b = np.asarray(boxes, dtype=np.float64)
    c0, c1, c2, c3 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    height, width = size if size is not None else (1.0, 1.0)
    if fmt == "xywh":
        return b.copy()
    if fmt in ("xyxy", "yxyx", "rel_xyxy", "rel_yxyx"):
        x1, y1, x2, y2 = (c0, c1, c2, c3) if "xyxy" in fmt else (c1, c0, c3, c2)
        if fmt.startswith("rel_"):
            x1, y1, x2, y2 = x1 * width, y1 * height, x2 * width, y2 * height
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    if fmt == "rel_xywh":
        return np.stack([c0 * width, c1 * height, c2 * width, c3 * height], axis=1)
    # Centre formats keep the width and height as given.
    cx, cy, w, h = (c1, c0, c3, c2) if fmt == "center_yxhw" else (c0, c1, c2, c3)
    if fmt == "rel_center_xywh":
        return np.stack([(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height], 1)
    return np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)


def _array(x: Any, what: str) -> np.ndarray:
    try:
        out = np.asarray(_host.to_numpy(x, widen_floats=False))
    except Exception as err:  # symbolic or traced tensors, objects that are not arrays
        raise ValueError(
            f"{what} must be an array or tensor. Received: {type(x).__name__}."
        ) from err
    if not (np.issubdtype(out.dtype, np.number) or out.dtype == np.bool_):
        raise ValueError(f"{what} must hold numbers. Received dtype {out.dtype}.")
    return out


def _labels(raw: np.ndarray, what: str, num_classes: int | None) -> np.ndarray:
    if np.issubdtype(raw.dtype, np.floating):
        bad = ~(np.isfinite(raw) & (raw == np.round(raw)))
        if bad.any():
            raise ValueError(
                f"{what} must hold integer class ids (-1 for padding). "
                f"Received: {raw[bad][:5].tolist()}."
            )
    labels = raw.astype(np.int64)
    bad = (labels < -1) | ((labels >= num_classes) if num_classes is not None else False)
    if bad.any():
        allowed = f"[0, num_classes={num_classes})" if num_classes is not None else ">= 0"
        raise ValueError(
            f"{what} must be class ids in {allowed}, or -1 for padding. "
            f"Received: {sorted(set(labels[bad].tolist()))[:10]}."
        )
    return labels


def _side(y: Any, which: str) -> tuple[list[dict[str, np.ndarray]], int]:
    """One side of a batch as per-image dicts of arrays (padding kept), and the image count."""
    if isinstance(y, Mapping):
        parts = {k: _array(v, f"{which}[{k!r}]") for k, v in y.items()}
        return [parts], -1
    if isinstance(y, Sequence) and not isinstance(y, (str, bytes)):
        images = []
        for i, item in enumerate(y):
            if not isinstance(item, Mapping):
                raise ValueError(
                    f"{which} as a list must hold one dict per image. Received a "
                    f"{type(item).__name__} at index {i}."
                )
            images.append({k: _array(v, f"{which}[{i}][{k!r}]") for k, v in item.items()})
        return images, len(images)
    raise ValueError(
        f"{which} must be a dict {{'boxes': (batch, n, 4), 'labels': (batch, n), ...}} or a list "
        f"of per-image dicts {{'boxes': (n, 4), 'labels': (n,), ...}}. "
        f"Received: {type(y).__name__}."
    )


# Optional per-box keys and their value when an image's dict lacks them (NaN area: box area).
_DEFAULTS = {"iscrowd": 0.0, "area": np.nan}


def _flatten(
    parts: list[dict[str, np.ndarray]], count: int, which: str, keys: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-image or padded arrays -> (image index per row, flat arrays per key).

    Keys in `_DEFAULTS` are optional: present in some images only, the others get defaults.
    """
    padded = count < 0
    rows: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    images: list[np.ndarray] = []
    for i, part in enumerate(parts):
        where = which if padded else f"{which}[{i}]"
        missing = [k for k in ("boxes", "labels") if k not in part]
        if missing:
            raise ValueError(f"{where} has no {missing[0]!r} key. Received keys: {sorted(part)}.")
        boxes = part["boxes"]
        if not padded and boxes.size == 0:  # an image without boxes: [] or shape (0,)
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != (3 if padded else 2) or boxes.shape[-1] != 4:
            want = "(batch, num_boxes, 4)" if padded else "(num_boxes, 4)"
            raise ValueError(
                f"{where}['boxes'] must have shape {want}. Received: shape={boxes.shape}."
            )
        images.append(np.repeat(np.arange(boxes.shape[0]) if padded else i, boxes.shape[-2]))
        rows["boxes"].append(boxes.reshape(-1, 4))
        for k in keys[1:]:
            if k not in part:
                rows[k].append(np.full(boxes.shape[:-1], _DEFAULTS[k]).reshape(-1))
                continue
            v = part[k]
            if v.shape != boxes.shape[:-1] and not (v.size == 0 == boxes.size):
                raise ValueError(
                    f"{where}[{k!r}] must have shape {boxes.shape[:-1]} to match the boxes. "
                    f"Received: shape={v.shape}."
                )
            if k == "area":  # NaN stands for "not given" below: reject it from the user
                used = np.asarray(part["labels"]).reshape(v.shape) >= 0
                if not np.all(np.isfinite(v[used]) & (v[used] >= 0)):
                    raise ValueError(
                        f"{where}['area'] must be finite and >= 0 (rows with label -1 excepted)."
                    )
            rows[k].append(v.reshape(-1))
    if not images:  # no images at all (an empty list): nothing to add
        return np.zeros(0, np.int64), {
            k: np.zeros((0, 4) if k == "boxes" else 0, np.float64) for k in keys
        }
    return np.concatenate(images), {k: np.concatenate(v) for k, v in rows.items()}


def format_batch(
    y_true: Any,
    y_pred: Any,
    *,
    fmt: str,
    size: tuple[float, float] | None,
    num_classes: int | None,
) -> tuple[GroundTruth, Detections, int]:
    """Validate one batch; returns its ground truth, detections and number of images."""
    t_parts, t_count = _side(y_true, "y_true")
    p_parts, p_count = _side(y_pred, "y_pred")
    n_true = t_parts[0]["boxes"].shape[0] if t_count < 0 and "boxes" in t_parts[0] else t_count
    n_pred = p_parts[0]["boxes"].shape[0] if p_count < 0 and "boxes" in p_parts[0] else p_count
    if n_true != n_pred:
        raise ValueError(
            f"y_true and y_pred must hold the same images. Received {n_true} images in y_true "
            f"and {n_pred} in y_pred."
        )
    for i, part in enumerate(p_parts):
        where = "y_pred" if p_count < 0 else f"y_pred[{i}]"
        if ("confidence" in part) == ("scores" in part):
            raise ValueError(
                f"{where} needs detection scores under one key, 'confidence' (keras-hub) or "
                f"'scores'. Received keys: {sorted(part)}."
            )
        if "confidence" in part:
            part["scores"] = part.pop("confidence")
    g_img, g = _flatten(t_parts, t_count, "y_true", ("boxes", "labels", "iscrowd", "area"))
    d_img, d = _flatten(p_parts, p_count, "y_pred", ("boxes", "labels", "scores"))
    g_label = _labels(g["labels"], "y_true['labels']", num_classes)
    read = np.ones(d_img.shape[0], dtype=bool)
    if p_count < 0 and "num_detections" in p_parts[0]:  # rows past it are not read at all
        nd = _labels(p_parts[0]["num_detections"], "y_pred['num_detections']", None)
        per = p_parts[0]["boxes"].shape[1]
        if nd.shape != (n_pred,):
            raise ValueError(
                f"y_pred['num_detections'] must have shape ({n_pred},). Received: {nd.shape}."
            )
        read = np.tile(np.arange(per), n_pred) < np.repeat(nd, per)
    d_label = np.full(d_img.shape[0], -1, dtype=np.int64)
    d_label[read] = _labels(d["labels"][read], "y_pred['labels']", num_classes)
    d_valid = d_label >= 0
    g_valid = g_label >= 0
    g_xywh = _boxes(g["boxes"][g_valid], fmt, size, "y_true['boxes']")
    d_xywh = _boxes(d["boxes"][d_valid], fmt, size, "y_pred['boxes']")
    score = d["scores"][d_valid].astype(np.float64)
    if not np.all(np.isfinite(score)):
        raise ValueError(
            f"y_pred's scores must be finite. Received {int((~np.isfinite(score)).sum())} "
            "non-finite scores (NaN or inf)."
        )
    crowd = g["iscrowd"][g_valid].astype(bool)
    given = g["area"][g_valid].astype(np.float64)
    # COCO's area ranges use the annotation's area (for COCO, the mask's), else the box's.
    area = np.where(np.isnan(given), g_xywh[:, 2] * g_xywh[:, 3], given)
    gt = GroundTruth(g_img[g_valid], g_label[g_valid], g_xywh, area, crowd)
    dt = Detections(d_img[d_valid], d_label[d_valid], d_xywh, score)
    return gt, dt, int(n_true)


# Relative coordinates past this are pixels given in a `rel_*` format (a predicted box may
# overhang the image a little, never by its whole size).
REL_LIMIT = 2.0


def _boxes(raw: np.ndarray, fmt: str, size: tuple[float, float] | None, what: str) -> np.ndarray:
    if not np.all(np.isfinite(raw)):
        raise ValueError(
            f"{what} must be finite. Received {int((~np.isfinite(raw).all(axis=1)).sum())} boxes "
            "with NaN or inf coordinates (label -1 marks padding)."
        )
    if fmt.startswith("rel_") and raw.size and np.abs(raw).max() > REL_LIMIT:
        raise ValueError(
            f"bounding_box_format={fmt!r} takes coordinates relative to the image size (0 to 1), "
            f"but {what} holds values up to {np.abs(raw).max():g}: pixel coordinates? Use "
            f"{fmt[4:]!r} for boxes in pixels."
        )
    xywh = to_xywh(raw, fmt, size)
    bad = (xywh[:, 2] < 0) | (xywh[:, 3] < 0)
    if bad.any():
        raise ValueError(
            f"{what} holds {int(bad.sum())} boxes with x2 < x1 or y2 < y1 in "
            f"bounding_box_format={fmt!r}, e.g. {raw[bad][0].tolist()}. Check the format."
        )
    return xywh
