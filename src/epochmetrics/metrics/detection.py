"""`DetectionMAP`: COCO mAP of an object detector, streamed batch by batch on the host."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import keras
import numpy as np

from epochmetrics._backend import ops as _backend
from epochmetrics._docs import DETECTION_ARGS, docstring
from epochmetrics.functional._args import UndefinedMetricWarning
from epochmetrics.functional.detection.evaluate import (
    COCOEvaluation,
    evaluate_records,
    match_batch,
)
from epochmetrics.functional.detection.inputs import (
    check_box_format,
    check_classes,
    check_per_class,
)
from epochmetrics.functional.detection.match import Records
from epochmetrics.functional.detection.params import Params, make_params
from epochmetrics.functional.detection.summary import summary_keys
from epochmetrics.metrics import _combine
from epochmetrics.metrics._keras_calls import called_by_compiled_metrics
from epochmetrics.metrics._portable import Portable

__all__ = ["DetectionCurves", "DetectionMAP"]

_HOST_ONLY = (
    "DetectionMAP is a host metric: it matches boxes in NumPy and keeps per-detection "
    "records for the whole epoch, so it cannot run inside a Keras train/test step. Remove it "
    "from `model.compile(metrics=...)` and give it to the evaluator instead: "
    "`epochmetrics.EpochEvaluator(val_data, {{'coco': DetectionMAP(...)}})`, a callback that "
    "logs {keys} for EarlyStopping, ReduceLROnPlateau, ModelCheckpoint and CSVLogger."
)


class _State:
    """Records of the matched detections so far (a plain object: Keras tracks lists)."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.parts: list[Records] = []
        self.offsets: list[int] = []
        self.npig = np.zeros((0, params.num_areas), np.int64)  # (K, A) non-ignored GT counts
        self.num_images = 0

    def add(self, records: Records, npig: np.ndarray, num_images: int) -> None:
        self.parts.append(records)
        self.offsets.append(self.num_images)
        k = max(self.npig.shape[0], npig.shape[0])
        grown = np.zeros((k, self.params.num_areas), np.int64)
        grown[: self.npig.shape[0]] += self.npig
        grown[: npig.shape[0]] += npig
        self.npig = grown
        self.num_images += num_images

    def count(self) -> tuple[int, int]:
        """What changes with every update and merge (to know when to evaluate again)."""
        return self.num_images, sum(len(p) for p in self.parts)

    def records(self) -> Records:
        if not self.parts:
            return Records.empty(self.params.num_areas, len(self.params.iou_thresholds))
        merged = Records.concat(self.parts, self.offsets)
        self.parts, self.offsets = [merged], [0]  # concatenate once, not at every result()
        return merged


class DetectionCurves(NamedTuple):
    """Per-class precision-recall points of a COCO evaluation (`DetectionMAP.pr_curves`)."""

    recall: np.ndarray  # (R,) COCO's recall points, 0.00, 0.01, ..., 1.00
    precision: np.ndarray  # (K, R) interpolated precision
    ground_truth: np.ndarray  # (K,) ground-truth boxes per class (not ignored, area "all")
    labels: tuple[str, ...]  # (K,) class names, or indices


@keras.saving.register_keras_serializable(package="epochmetrics")
@docstring(
    {
        "per_class": "Also return AP per class.",
        "name": '"map", or a prefix for every key.',
        "dtype": "Keras dtype policy of the metric (the results are Python floats).",
    },
    DETECTION_ARGS,
)
class DetectionMAP(Portable, keras.metrics.Metric):
    """COCO mean average precision and recall of object detections, exactly as pycocotools.

    The 12 numbers of pycocotools 2.0.11's `COCOeval` (`iouType="bbox"`), bit for bit: AP over
    IoU thresholds .50:.05:.95 and 101 recall points, AP at IoU .50 and .75, AP per area range
    (small < 32², medium, large > 96² pixels, from the ground truth's `area`, else its box), and
    average recall at 1, 10 and 100 detections per image and class, and per area range.
    Matching is per image, so each batch is matched when it arrives and only per-detection
    records are kept (image, class, score, TP/FP/ignored per area range and threshold): the
    memory grows with the detections, not with the images.

    It is a host metric for `EpochEvaluator`, which passes it the model's whole structured
    prediction. Inside `model.compile(metrics=...)` it raises an error that says so.

    Inputs, per batch (Keras' convention; tensors of any backend or NumPy arrays):

    - `y_true = {"boxes": (B, G, 4), "labels": (B, G)}`, optionally `"iscrowd": (B, G)` and
      `"area": (B, G)`; label -1 marks padding (as `keras.utils.bounding_boxes` densifies).
    - `y_pred = {"boxes": (B, D, 4), "confidence"` (keras-hub) or `"scores": (B, D),
      "labels": (B, D)}`, optionally `"num_detections": (B,)`; label -1 marks padding.
    - either side may instead be a list of per-image dicts of any length.

    Keys of `result()`: `map, map_50, map_75, map_small, map_medium, map_large, mar_1, mar_10,
    mar_100, mar_small, mar_medium, mar_large` (`mar_<m>` per `max_detections` value), each
    prefixed with `name + "_"` when `name` is not "map"; with `per_class=True` also
    `map_<class name>`, or `map_class_<index>` without `class_names` (a bare `map_50` would
    read as AP at IoU .50). A value pycocotools reports as -1 (no ground truth in that area
    range or class) is NaN with an `UndefinedMetricWarning`. Detections of a class without
    ground truth are not penalised (pycocotools).

    Args:
        $args

    Examples:
        >>> import numpy as np
        >>> from epochmetrics.metrics.detection import DetectionMAP
        >>> m = DetectionMAP(bounding_box_format="xyxy", num_classes=2)
        >>> y_true = {"boxes": np.array([[[0, 0, 10, 10], [20, 20, 60, 60], [100, 100, 200, 200]]]),
        ...           "labels": np.array([[0, 1, 1]])}
        >>> y_pred = {"boxes": np.array([[[0, 0, 10, 10], [20, 20, 60, 50], [100, 100, 200, 200]]]),
        ...           "confidence": np.array([[0.9, 0.8, 0.7]]), "labels": np.array([[0, 1, 1]])}
        >>> m.update_state(y_true, y_pred)  # a batch of one image
        >>> r = m.result()
        >>> [round(r[k], 4) for k in ("map", "map_50", "map_medium", "mar_1")]
        [0.8505, 1.0, 0.6, 0.65]

        At every epoch end, driving the usual callbacks::

            ev = em.EpochEvaluator(val_data, {"coco": DetectionMAP(bounding_box_format="xyxy")})
            stop = keras.callbacks.EarlyStopping(monitor="val_map", patience=5)
            model.fit(train_data, epochs=50, callbacks=[ev, stop])
    """

    _direction = "up"
    # EpochEvaluator passes the model's whole (dict) prediction and target, not one output.
    _structured_inputs = True

    def __init__(
        self,
        *,
        bounding_box_format: str = "xyxy",
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        iou_thresholds: Sequence[float] | None = None,
        max_detections: Sequence[int] = (1, 10, 100),
        per_class: bool = False,
        image_shape: Sequence[int] | None = None,
        name: str = "map",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self._size = check_box_format(bounding_box_format, image_shape)
        self.bounding_box_format = bounding_box_format
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self._iou_arg = None if iou_thresholds is None else [float(t) for t in iou_thresholds]
        self._params = make_params(iou_thresholds, max_detections)
        self.max_detections = self._params.max_detections
        self.num_classes, self.class_names = check_classes(num_classes, class_names)
        self.per_class = check_per_class(per_class)
        self._prefix = "" if name == "map" else f"{name}_"
        if self.class_names is not None and per_class:
            ap_keys = summary_keys(self._params, ap=True)  # map, map_50, ...: map_<class> too
            clash = sorted(set(self.class_names) & {k[4:] for k in ap_keys})
            if clash:
                raise ValueError(
                    f"`class_names` {clash} would give per-class keys equal to summary keys "
                    f"(e.g. 'map_{clash[0]}'). Rename those classes."
                )
        self._state = _State(self._params)

    # --- Keras metric API ------------------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Match one batch of images and keep its records. Inputs: see the class docstring."""
        leaves = keras.tree.flatten((y_true, y_pred))
        if called_by_compiled_metrics() or not all(_backend.is_concrete(x) for x in leaves):
            raise ValueError(_HOST_ONLY.format(keys=f"'val_{self._prefix}map'"))
        if sample_weight is not None:
            raise ValueError(
                "DetectionMAP does not take `sample_weight`: COCO weighs every ground-truth "
                "box alike. Mark boxes to leave out with `iscrowd` or label -1 instead."
            )
        records, npig, n = match_batch(
            y_true,
            y_pred,
            self._params,
            bounding_box_format=self.bounding_box_format,
            size=self._size,
            num_classes=self.num_classes,
        )
        self._state.add(records, npig, n)

    def evaluation(self) -> COCOEvaluation:
        """The full evaluation so far: precision/recall arrays, summary, per-class AP.

        Under a torch.distributed group of several processes, the images of every process
        (gathered in process order), as `result()`.
        """
        processes = _combine.reader(self)
        if processes is not None:
            with _combine.global_reads([self], processes):
                return self.evaluation()
        cached = getattr(self, "_evaluated", None)
        # Computed once per state: result() and the curves of one epoch read the same one.
        if cached is not None and cached[0] is self._state and cached[1] == self._state.count():
            return cached[2]  # type: ignore[no-any-return]
        evaluation = self._evaluate()
        self._evaluated = (self._state, self._state.count(), evaluation)
        return evaluation

    def pr_curves(self, iou_threshold: float | None = 0.5) -> DetectionCurves:
        """Per-class precision at COCO's recall points (area "all", the largest maxDets).

        The curves COCO averages into AP: `iou_threshold=0.5` gives those of `map_50`, None
        the mean over the IoU thresholds (.50:.95 by default) of those of `map`.

        Returns:
            `DetectionCurves(recall (R,), precision (K, R), ground_truth (K,), labels)`:
            precision NaN for a class without ground truth, 0.0 past the recall it reaches.

        Raises:
            ValueError: `iou_threshold` is not one of the metric's IoU thresholds.
        """
        processes = _combine.reader(self)
        if processes is not None:  # several processes: every image, as `result()`
            with _combine.global_reads([self], processes):
                return self.pr_curves(iou_threshold)
        ev = self.evaluation()
        p = ev.precision[:, :, :, 0, -1]  # (T, R, K)
        p = np.where(p > -1, p, np.nan)
        if iou_threshold is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no ground truth
                precision = np.nanmean(p, axis=0).T
        else:
            hits = np.nonzero(np.isclose(ev.iou_thresholds, float(iou_threshold)))[0]
            if hits.shape[0] == 0:
                raise ValueError(
                    f"`iou_threshold` must be one of the metric's IoU thresholds "
                    f"{ev.iou_thresholds.tolist()} or None. Received: {iou_threshold!r}."
                )
            precision = p[hits[0]].T
        k = precision.shape[0]
        ground_truth = np.zeros(k)
        npig = self._state.npig[:k, 0]
        ground_truth[: npig.shape[0]] = npig
        labels = tuple(self.class_names or (str(i) for i in range(k)))
        recall = np.linspace(0.0, 1.0, precision.shape[1])
        return DetectionCurves(recall, precision, ground_truth, labels)

    def _evaluate(self) -> COCOEvaluation:
        k = self.num_classes or max(self._state.npig.shape[0], 1)
        npig = np.zeros((k, self._params.num_areas), np.int64)
        npig[: self._state.npig.shape[0]] = self._state.npig
        return evaluate_records(self._state.records(), npig, self._params, tuple(range(k)))

    def result(self) -> dict[str, float]:
        """`{key: float}` (see the class docstring); NaN, with a warning, where undefined.

        Under a torch.distributed group of several processes the images of every process,
        gathered in process order (see `epochmetrics.distributed.sync_on_read`).
        """
        processes = _combine.reader(self)
        if processes is not None:
            with _combine.global_reads([self], processes):
                return self.result()
        ev = self.evaluation()
        out = {self._prefix + k: float(v) for k, v in ev.stats.items()}
        if self.per_class:
            for cid, ap in ev.per_class_ap.items():
                label = self.class_names[cid] if self.class_names else f"class_{cid}"
                out[f"{self._prefix}map_{label}"] = ap
        undefined = [k for k, v in out.items() if math.isnan(v)]
        if undefined:
            warnings.warn(
                f"{', '.join(undefined)} undefined (NaN): no ground truth in that area range "
                f"or class in the {self._state.num_images} images evaluated "
                "(pycocotools reports -1).",
                UndefinedMetricWarning,
                stacklevel=2,
            )
        return out

    def reset_state(self) -> None:
        self._state = _State(self._params)

    def merge_state(self, other: DetectionMAP | Sequence[DetectionMAP]) -> None:
        """Append the images of `other` (a DetectionMAP or a list of them) after this one's.

        The result equals one pass over this metric's batches followed by the others'.
        """
        others = [other] if isinstance(other, DetectionMAP) else list(other)
        for o in others:
            if not isinstance(o, DetectionMAP) or o._signature() != self._signature():
                raise ValueError(
                    "merge_state needs DetectionMAP metrics with the same `num_classes`, "
                    f"`iou_thresholds` and `max_detections`. This one has {self._signature()}; "
                    f"received {o._signature() if isinstance(o, DetectionMAP) else type(o)}."
                )
        for o in others:
            if o is self:
                raise ValueError("merge_state cannot merge a metric with itself.")
            self._state.add(o._state.records(), o._state.npig, o._state.num_images)

    def get_config(self) -> dict[str, Any]:
        return {
            "bounding_box_format": self.bounding_box_format,
            "num_classes": self.num_classes,
            "class_names": None if self.class_names is None else list(self.class_names),
            "iou_thresholds": self._iou_arg,
            "max_detections": list(self.max_detections),
            "per_class": self.per_class,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "name": self.name,
            "dtype": self.dtype_policy.name if hasattr(self, "dtype_policy") else self.dtype,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DetectionMAP:
        return cls(**config)

    def __repr__(self) -> str:
        # Keras quotes the metrics in its own compile errors: point to the evaluator there too.
        return f"<DetectionMAP name={self.name} (a host metric: use it in EpochEvaluator)>"

    # --- state export (see `_portable`): the records, per-class GT counts, image count --------
    _RECORDS = ("image", "label", "score", "rank", "status")

    def _export_arrays(self) -> dict[str, np.ndarray]:
        records = self._state.records()
        out = {k: getattr(records, k) for k in self._RECORDS}
        return {**out, "npig": self._state.npig, "num_images": np.int64(self._state.num_images)}

    def _import_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        dtypes = {"image": np.int64, "label": np.int64, "score": np.float64, "rank": np.int32}
        parts = {k: arrays[k].astype(dtypes.get(k, np.int8)) for k in self._RECORDS}
        self._state = _State(self._params)
        npig = arrays["npig"].astype(np.int64).reshape(-1, self._params.num_areas)
        self._state.add(Records(**parts), npig, int(arrays["num_images"]))

    def _expected_shapes(self) -> dict[str, tuple[int, ...] | None]:
        return {**dict.fromkeys((*self._RECORDS, "npig")), "num_images": ()}

    def _renumber_images(self, order: np.ndarray) -> None:
        """Put the images in the order of `order` (one sort key per image, in the current
        order: e.g. their positions in a dataset that several processes read interleaved),
        as if they had arrived in that order. Detections keep their order within an image."""
        records = self._state.records()
        order = np.asarray(order)
        if len(order) != self._state.num_images:
            raise ValueError(
                f"{len(order)} image positions for the {self._state.num_images} images evaluated."
            )
        rank = np.empty(len(order), np.int64)
        rank[np.argsort(order, kind="stable")] = np.arange(len(order))
        image = rank[records.image]
        perm = np.argsort(image, kind="stable")
        moved = {k: getattr(records, k)[perm] for k in self._RECORDS if k != "image"}
        npig, n = self._state.npig, self._state.num_images
        self._state = _State(self._params)
        self._state.add(Records(image=image[perm], **moved), npig, n)

    # --- helpers ---------------------------------------------------------------------------
    def _signature(self) -> tuple[Any, ...]:
        return (self.num_classes, self._params.iou_thresholds, self.max_detections)
