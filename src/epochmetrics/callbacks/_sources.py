"""What a run's metrics hold at an epoch end, beyond the scalars of the logs: per-class counts
at uniform thresholds (PR and ROC curves), confusion matrices and detection PR curves.

Two places hold them: the metrics of `compile(metrics=...)` (their state is the validation
data's right after Keras' validation pass, and the training data's just before it, at
`on_test_begin`), and `EpochEvaluator`s (their last evaluation). `em.TensorBoard` and
`em.RunRecorder` read both through this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from epochmetrics._backend.host import to_numpy
from epochmetrics.callbacks.evaluator import EpochEvaluator
from epochmetrics.metrics._base import SumStateMetric
from epochmetrics.metrics._keras_calls import compiled_metrics
from epochmetrics.metrics._ranking_shell import RankingMetric
from epochmetrics.metrics.confusion import ConfusionMatrix

__all__ = [
    "Snapshot",
    "class_labels",
    "evaluator_snapshot",
    "find_evaluators",
    "read_compiled",
    "run_of",
    "scalar_logs",
    "select_rows",
]

VAL_PREFIX = "val_"


@dataclass
class Snapshot:
    """One run's (train or validation) curves and matrices at one moment, by metric stem (the
    log name without "val_")."""

    curves: dict[str, Any] = field(default_factory=dict)  # stem -> ThresholdCounts
    matrices: dict[str, tuple[np.ndarray, tuple[str, ...] | None]] = field(default_factory=dict)
    detections: dict[str, Any] = field(default_factory=dict)  # stem -> DetectionMAP
    normalized: set[str] = field(default_factory=set)  # matrices of rates, not counts

    def update(self, other: Snapshot) -> None:
        self.curves.update(other.curves)
        self.matrices.update(other.matrices)
        self.detections.update(other.detections)
        self.normalized |= other.normalized

    def __bool__(self) -> bool:
        return bool(self.curves or self.matrices or self.detections)


def run_of(key: str) -> tuple[str, str]:
    """`("validation", "f1")` for `val_f1`, `("train", "f1")` for `f1`, as Keras' TensorBoard
    splits the logs."""
    if key.startswith(VAL_PREFIX):
        return "validation", key[len(VAL_PREFIX) :]
    return "train", key


def read_compiled(
    model: Any, num_thresholds: int | None, matrices: bool, max_classes: int | None = None
) -> Snapshot:
    """The compiled metrics' curves (ranking metrics, with `num_thresholds`) and confusion
    matrices (of at most `max_classes` classes), read now. Stems are the names Keras logs
    the metrics under."""
    snap = Snapshot()
    for metric, name in compiled_metrics(model):
        if num_thresholds is not None and isinstance(metric, RankingMetric):
            snap.curves[name] = metric.threshold_counts(num_thresholds)
        elif (
            matrices
            and isinstance(metric, ConfusionMatrix)
            and metric.task != "multilabel"
            and (max_classes is None or metric.num_classes <= max_classes)
        ):
            snap.matrices[name] = (metric.matrix(), metric._labels())
            if metric.normalize is not None:
                snap.normalized.add(name)
    return snap


def find_evaluators(callbacks: Iterable[Any]) -> list[EpochEvaluator]:
    return [cb for cb in callbacks if isinstance(cb, EpochEvaluator)]


def evaluator_snapshot(ev: EpochEvaluator, epoch: int) -> tuple[str, Snapshot]:
    """The run an evaluator's keys belong to, and what its evaluation at `epoch` left (empty
    when it did not evaluate then)."""
    run = "validation" if ev.prefix.startswith(VAL_PREFIX) else "train"
    snap = Snapshot()
    epochs = ev.history.get("epochs") or []
    if not epochs or epochs[-1] != epoch:
        return run, snap
    strip = len(VAL_PREFIX) if run == "validation" else 0
    snap.curves = {key[strip:]: counts for key, counts in ev.curves.items()}
    for key, entry in ev.history.get("matrices", {}).items():
        values = entry["values"][-1]
        matrix = np.asarray(values, dtype=np.float64)
        if matrix.ndim == 2 and not np.isnan(matrix).any():
            names = entry.get("class_names")
            snap.matrices[key[strip:]] = (matrix, None if names is None else tuple(names))
    for e in ev.entries:
        if e.kind == "stream" and callable(getattr(e.obj, "pr_curves", None)):
            snap.detections[(ev.prefix + e.name)[strip:]] = e.obj
        if getattr(e.obj, "normalize", None) is not None:
            snap.normalized.add((ev.prefix + e.name)[strip:])
    return run, snap


def class_labels(model: Any, evaluators: Iterable[EpochEvaluator]) -> list[str]:
    """Every class label that per-class log keys may end with: the labels of the compiled
    metrics and of the evaluators' metrics (class names, or indices)."""
    labels: dict[str, None] = {}
    objects = [m for m, _ in compiled_metrics(model)]
    objects += [e.obj for ev in evaluators for e in ev.entries]
    for obj in objects:
        if isinstance(obj, SumStateMetric):
            # Classification metrics with classes (binary keys have no class suffix; metrics
            # without a task, e.g. regression ones, have none).
            if getattr(obj, "_spec", None) is not None and obj.task != "binary":
                labels.update(dict.fromkeys(obj._labels()))
        elif getattr(obj, "class_names", None):
            labels.update(dict.fromkeys(str(c) for c in obj.class_names))
    return list(labels)


def scalar_logs(logs: Mapping[str, Any]) -> dict[str, float]:
    """The scalar values of epoch logs as floats (matrices and strings left out)."""
    out = {}
    for key, value in logs.items():
        try:
            array = np.asarray(value if isinstance(value, (int, float)) else to_numpy(value))
        except (TypeError, ValueError):
            continue
        if array.size == 1 and array.dtype.kind in "fiub":
            out[key] = float(array.reshape(()))
    return out


def select_rows(values: Any, limit: int | None) -> list[int]:
    """All rows, or with more than `limit`: the `limit // 2` lowest values and the rest from the
    highest (NaN counts as lowest), in their original order."""
    v = [(-math.inf if not math.isfinite(float(x)) else float(x)) for x in values]
    if limit is None or len(v) <= limit:
        return list(range(len(v)))
    order = sorted(range(len(v)), key=lambda i: (v[i], i))
    low = limit // 2
    return sorted(order[:low] + order[len(v) - (limit - low) :])
