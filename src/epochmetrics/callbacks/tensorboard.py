"""`TensorBoard`: epoch scalars, per-class PR and ROC curves and confusion-matrix images in
TensorBoard, on every Keras backend, with the `tensorboard` package alone (no TensorFlow)."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import keras
import numpy as np

from epochmetrics._backend.process import is_process_zero
from epochmetrics._docs import docstring
from epochmetrics._types import UpdateFreq
from epochmetrics.callbacks import _keras, _sources
from epochmetrics.callbacks._events import EventWriter, detection_rows, require_tensorboard
from epochmetrics.callbacks._sources import Snapshot
from epochmetrics.callbacks._tb_scalars import Margin, epoch_scalars, layout
from epochmetrics.functional._args import check_bool, check_int, check_num_thresholds, check_path

__all__ = ["TensorBoard"]

RUNS = ("train", "validation")
IMAGE_DPI = 72
# The figure's side stops growing at 14 inches (~860 pixels of matrix at 72 dpi): up to 100
# classes a cell keeps ~9 pixels and the heatmap reads; at 1,000 a cell is under a pixel and
# the figure still costs ~0.3 s an epoch. RunRecorder keeps matrices up to 100 classes too.
MAX_IMAGE_CLASSES = 100
PLOT_HINT = "pip install 'epochmetrics[plot]'"

_PR_HELP = (
    "Precision-recall curve of one class, one point per threshold t = 0, 0.01, ..., 1 "
    "(predicted positive when the score, as a probability, is >= t). {how}"
)
_ROC_HELP = (
    "ROC curve of one class drawn in the PR-curves dashboard: the y axis (labelled precision) "
    "is the true positive rate, the x axis (labelled recall) the false positive rate; one point "
    "per threshold t = 0, 0.01, ..., 1. {how}"
)
_EXACT = "Exact counts at every threshold."
_BINNED = (
    "From the metric's binned state: at each threshold, the counts of the bin holding it and "
    "every bin above (exact where the threshold starts a bin: 0, 1/4, 1/2, 3/4, 1); the exact "
    "TP and FP are lower by at most that bin's mass (a bin spans at most 1.6% of "
    "min(t, 1 - t)). Use exact=True, or the metric in an EpochEvaluator, for exact counts."
)
_DETECTION_HELP = (
    "COCO precision-recall curve of one class ({iou}), at COCO's 101 recall points: the "
    "threshold shown is the recall point, not a score."
)


@docstring()
class TensorBoard(keras.callbacks.Callback):
    """Writes a training run for TensorBoard: scalars, per-class curves, confusion matrices.

    Works on JAX, torch and TensorFlow with only the `tensorboard` package installed
    (`pip install 'epochmetrics[tensorboard]'`): it writes the event files itself and never
    imports TensorFlow. Each epoch (step = epoch index), in `log_dir/train` and
    `log_dir/validation` as Keras' own TensorBoard callback lays them out:

    - **Scalars**: every scalar of the epoch's logs (the `val_` keys in the validation run,
      without the prefix), as `epoch_<key>` (`epoch_loss`, `epoch_f1_macro`), and the
      optimizer's `epoch_learning_rate`. Per-class keys are grouped: `val_f1_cat` is tag
      `f1/cat` (one section per metric), and the Custom Scalars tab holds one chart per
      metric with all its classes. An interval `K_low`, `K_high`
      (`EpochEvaluator(confidence=...)`) is a band around K in Custom Scalars (a margin
      chart; a per-class key's bounds are tags `f1_low/cat`, `f1_high/cat`).
    - **PR curves**: per class, at `num_thresholds` thresholds `linspace(0, 1, n)`, for every
      `AUROC`, `AveragePrecision` and operating-point metric in `compile` (the training
      curves from the training data, the validation curves after Keras' validation pass) or in
      an `EpochEvaluator` (exact, on its whole arrays), as tags `pr_curve/<metric>/<class>`;
      and the ROC curves as `roc_curve/<metric>/<class>` (y: true positive rate, x: false
      positive rate). Exact for exact metrics; binned metrics give the counts of the bin
      holding each threshold (see `AUROC.threshold_counts`). `DetectionMAP` in an evaluator
      gives COCO's per-class curves at IoU .50 (`pr_curve/map_50/<class>`) and averaged over
      .50:.95 (`pr_curve/map/<class>`).
    - **Images**: each `ConfusionMatrix` (compiled, or recorded by an evaluator) of the
      validation data (of the training data in epochs without validation) as the figure of
      `plot_confusion_matrix` (normalised over true classes), tag = its log name, up to
      `max_image_classes` (default 100) classes: above that a cell would be under ~9 pixels
      and no image is drawn. Needs matplotlib (`pip install 'epochmetrics[plot]'`); a figure
      costs ~0.1-0.3 s of CPU an epoch.

    With more than `max_classes` classes, each metric's per-class scalars and curves are
    those of its `max_classes // 2` lowest and the rest of its highest classes at that epoch
    (curves ranked by their area); `max_classes=None` writes every class.

    It coexists with `keras.callbacks.TensorBoard` on the same `log_dir`: its event files have
    their own names, and the `epoch_*` scalars that Keras' callback writes are left to it.
    With several processes, only process 0 writes.

    Args:
        log_dir: the directory TensorBoard reads (`tensorboard --logdir log_dir`).
        update_freq: "epoch" (default); "batch" or an integer N also write the training
            step's logs as `batch_<key>` every N batches (step = batch count), as Keras does.
        max_classes: per metric, at most this many classes' scalars and curves; None: all.
        num_thresholds: thresholds of the PR and ROC curves (TensorBoard's grid).
        pr_curves: write PR curves.
        roc_curves: write ROC curves.
        confusion_images: write confusion-matrix images: None (default) when matplotlib is
            installed (warning once when it is not and a matrix is there to draw), True
            (required: an ImportError at the start of `fit` without matplotlib), False.
        max_image_classes: draw confusion matrices of at most this many classes (default
            100); None: any number.

    Examples:
        In `fit`, on any backend::

            model.compile(..., metrics=[em.AUROC("multiclass", num_classes=10, average=None)])
            model.fit(x, y, validation_data=(xv, yv), epochs=20,
                      callbacks=[em.TensorBoard("logs/run1")])
            # then: tensorboard --logdir logs
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        *,
        update_freq: UpdateFreq = "epoch",
        max_classes: int | None = 10,
        num_thresholds: int = 101,
        pr_curves: bool = True,
        roc_curves: bool = True,
        confusion_images: bool | None = None,
        max_image_classes: int | None = MAX_IMAGE_CLASSES,
    ) -> None:
        super().__init__()
        check_path("log_dir", log_dir)
        if update_freq not in ("epoch", "batch"):
            update_freq = check_int(
                "update_freq",
                update_freq,
                minimum=1,
                what="'epoch', 'batch' or a positive integer",
            )
        if max_classes is not None:
            max_classes = check_int(
                "max_classes", max_classes, minimum=2, what="an integer >= 2 or None (every class)"
            )
        if max_image_classes is not None:
            max_image_classes = check_int(
                "max_image_classes",
                max_image_classes,
                minimum=1,
                what="a positive integer or None (any number of classes)",
            )
        num_thresholds = check_num_thresholds(num_thresholds)
        pr_curves = check_bool("pr_curves", pr_curves)
        roc_curves = check_bool("roc_curves", roc_curves)
        confusion_images = check_bool("confusion_images", confusion_images, none=True)
        self.log_dir = os.fspath(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.max_classes = max_classes
        self.num_thresholds = num_thresholds
        self.pr_curves = pr_curves
        self.roc_curves = roc_curves
        self.confusion_images = confusion_images
        self.max_image_classes = max_image_classes
        self._writers: dict[str, EventWriter] = {}
        self._active = False
        self._images = False
        self._warned_images = False
        self._keras_scalars = False
        self._evaluators: list[Any] = []
        self._in_epoch = False
        self._validated = False
        self._train_snapshot = Snapshot()
        self._batches = 0
        self._families: set[str] = set()
        self._margins: set[Margin] = set()

    # --- Keras hooks -----------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._close()
        self._active = is_process_zero()
        if not self._active:
            return
        require_tensorboard()
        self._images = self._images_available()
        callback_list = _keras.find_callback_list(self)
        others = list(getattr(callback_list, "callbacks", ()))
        self._evaluators = _sources.find_evaluators(others)
        if self.pr_curves or self.roc_curves:
            for ev in self._evaluators:
                ev.curve_thresholds = self.num_thresholds
        here = os.path.abspath(self.log_dir)
        self._keras_scalars = any(
            isinstance(cb, keras.callbacks.TensorBoard)
            and os.path.abspath(os.fspath(cb.log_dir)) == here
            for cb in others
        )
        self._batches = 0
        self._families = set()
        self._margins = set()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._in_epoch, self._validated = True, False
        self._train_snapshot = Snapshot()

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        # Inside fit, Keras' validation pass resets the compiled metrics after this hook: their
        # state is still the training data's.
        if self._active and self._in_epoch and not self._validated:
            self._validated = True
            self._train_snapshot = self._read_compiled()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if not self._active or self.update_freq == "epoch" or self._keras_scalars:
            return
        if self._batches % int(self.update_freq) == 0:
            for key, value in _sources.scalar_logs(logs or {}).items():
                self._writer("train").scalar(f"batch_{key}", value, self._batches)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._in_epoch = False
        if not self._active:
            return
        snaps = {run: Snapshot() for run in RUNS}
        now = self._read_compiled()
        if self._validated:
            snaps["train"], snaps["validation"] = self._train_snapshot, now
        else:
            snaps["train"] = now
        for ev in self._evaluators:
            run, snap = _sources.evaluator_snapshot(ev, epoch)
            snaps[run].update(snap)
        self._write_scalars(epoch, dict(logs or {}))
        for run, snap in snaps.items():
            self._write_curves(run, snap, epoch)
        # A figure costs ~0.1-0.3 s to draw: the validation data's matrices, else the training
        # data's.
        shown = snaps["validation"] if snaps["validation"].matrices else snaps["train"]
        self._write_images("validation" if shown is snaps["validation"] else "train", shown, epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._close()
        for ev in self._evaluators:
            ev.curve_thresholds = None  # a later fit without this callback records none
        self._evaluators = []

    # --- what is written -------------------------------------------------------------------------
    def _write_scalars(self, epoch: int, logs: dict[str, Any]) -> None:
        values = _sources.scalar_logs(logs)
        if "learning_rate" not in values:
            lr = _learning_rate(self.model)
            if lr is not None:
                values["learning_rate"] = lr
        labels = _sources.class_labels(self.model, self._evaluators)
        found = epoch_scalars(values, labels, self.max_classes, plain=not self._keras_scalars)
        for run, tags in found.tags.items():
            for tag, value in tags.items():
                self._writer(run).scalar(tag, value, epoch)
        if found.families - self._families or found.margins - self._margins:
            self._families |= found.families
            self._margins |= found.margins
            charts, bands = layout(self._families, self._margins)
            self._writer("train").layout(charts, step=epoch, margins=bands)

    def _write_curves(self, run: str, snap: Snapshot, epoch: int) -> None:
        for stem, counts in snap.curves.items():
            rows = _sources.select_rows(counts.average_precision(), self.max_classes)
            how = _EXACT if counts.exact else _BINNED
            recall, precision = counts.recall(), counts.precision()
            fpr = counts.false_positive_rate()
            for i in rows:
                # One problem (binary): the metric's tag alone; else one tag per class.
                suffix = "" if counts.tp.shape[0] == 1 else f"/{counts.labels[i]}"
                four = [counts.tp[i], counts.fp[i], counts.tn[i], counts.fn[i]]
                if self.pr_curves:
                    pr = np.stack([*four, precision[i], recall[i]])
                    tag = f"pr_curve/{stem}{suffix}"
                    self._writer(run).pr_curve(tag, pr, epoch, _PR_HELP.format(how=how))
                if self.roc_curves:
                    roc = np.stack([*four, recall[i], fpr[i]])
                    tag = f"roc_curve/{stem}{suffix}"
                    self._writer(run).pr_curve(tag, roc, epoch, _ROC_HELP.format(how=how))
        if self.pr_curves:
            for metric in snap.detections.values():
                self._write_detection(run, metric, epoch)

    def _write_detection(self, run: str, metric: Any, epoch: int) -> None:
        prefix = metric._prefix  # the metric's keys: map, map_50 (or <name>_map, ...)
        for key, iou, what in (
            (f"{prefix}map_50", 0.5, "IoU .50"),
            (f"{prefix}map", None, "mean over IoU .50:.95"),
        ):
            curves = metric.pr_curves(iou)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # classes without boxes
                ap = np.nanmean(curves.precision, axis=1)
            help_text = _DETECTION_HELP.format(iou=what)
            for i in _sources.select_rows(ap, self.max_classes):
                rows = detection_rows(curves, i)
                if rows is not None:
                    tag = f"pr_curve/{key}/{curves.labels[i]}"
                    self._writer(run).pr_curve(tag, rows, epoch, help_text)

    def _write_images(self, run: str, snap: Snapshot, epoch: int) -> None:
        limit = self.max_image_classes
        matrices = {
            stem: entry
            for stem, entry in snap.matrices.items()
            if limit is None or entry[0].shape[0] <= limit
        }
        if not matrices:
            return
        if not self._images:
            if self.confusion_images is None and not self._warned_images:
                self._warned_images = True
                warnings.warn(
                    "em.TensorBoard draws confusion matrices with matplotlib, which is not "
                    f"installed: no confusion-matrix images ({PLOT_HINT}). Everything else "
                    "is written.",
                    UserWarning,
                    stacklevel=2,
                )
            return
        from epochmetrics.plot import plot_confusion_matrix
        from epochmetrics.plot._mpl import png_bytes

        for stem, (matrix, names) in matrices.items():
            fig = plot_confusion_matrix(
                matrix, names, normalize="true", title=f"{stem} ({run}), epoch {epoch}"
            )
            png, width, height = png_bytes(fig, IMAGE_DPI)  # savefig's pixels, drawn once
            self._writer(run).image(
                stem,
                png,
                width,
                height,
                epoch,
                "Confusion matrix (rows: true class, columns: predicted class), normalised "
                "over true classes (recall on the diagonal), as em.plot_confusion_matrix draws "
                "it.",
            )

    # --- helpers ---------------------------------------------------------------------------------
    def _read_compiled(self) -> Snapshot:
        want_curves = self.pr_curves or self.roc_curves
        return _sources.read_compiled(
            self.model,
            self.num_thresholds if want_curves else None,
            self._images,
            self.max_image_classes,
        )

    def _images_available(self) -> bool:
        if self.confusion_images is False:
            return False
        try:
            import matplotlib  # noqa: F401
        except ImportError as e:
            if self.confusion_images:
                raise ImportError(
                    "em.TensorBoard(confusion_images=True) draws confusion matrices with "
                    f"matplotlib, which is not installed. Install it with: {PLOT_HINT}"
                ) from e
            return False
        return True

    def _writer(self, run: str) -> EventWriter:
        if run not in self._writers:
            self._writers[run] = EventWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _learning_rate(model: Any) -> float | None:
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        return None
    try:
        value = float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)).reshape(()))
    except (TypeError, ValueError, AttributeError):
        return None
    return value if math.isfinite(value) else None
