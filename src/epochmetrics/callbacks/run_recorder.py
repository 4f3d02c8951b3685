"""`RunRecorder`: keeps a run directory current each epoch, for `epochmetrics report RUN_DIR`."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from epochmetrics._backend.process import is_process_zero
from epochmetrics._docs import docstring
from epochmetrics._files.curves import write_curves
from epochmetrics._files.evaluation import write_history
from epochmetrics._files.history import write_csv_history
from epochmetrics._files.keys import metric_direction
from epochmetrics._files.matrix import per_class_table
from epochmetrics._files.run import DEFAULT_MONITORS
from epochmetrics._files.run_dir import (
    CURVES_JSON,
    EVALUATION_JSON,
    HISTORY_CSV,
    write_run_json,
)
from epochmetrics._types import Mode
from epochmetrics.callbacks import _keras, _sources
from epochmetrics.callbacks._sources import VAL_PREFIX, Snapshot
from epochmetrics.functional._args import (
    check_choice,
    check_num_thresholds,
    check_path,
    check_str,
)

__all__ = ["RunRecorder"]

# Confusion matrices with more classes are kept for the best epoch only (run.json).
MAX_EPOCH_MATRIX_CLASSES = 100


@docstring()
class RunRecorder(keras.callbacks.Callback):
    """Writes a run directory during `fit`, rewritten at every epoch end, for the report.

    `epochmetrics report RUN_DIR` (or `epochmetrics.report.write_report`) then shows the run,
    during training and after it, from any model and any metrics:

    - `history.csv`: every scalar of the epoch's logs, as CSVLogger writes it;
    - `evaluation.json`: the confusion matrix of every epoch (from `ConfusionMatrix` metrics in
      `compile`, on the validation data when there is some, and from every `EpochEvaluator`;
      up to 100 classes), in the evaluator history format, with the validation scalars;
    - `run.json`: the settings (backend, epochs, optimizer, model; plus `settings=`), the
      monitor and its best epoch so far, the class names, and the best epoch's confusion
      matrix with its per-class precision, recall, F1 and support;
    - `curves.json`: at the best epoch, the per-class counts at `num_thresholds` thresholds of
      every `AUROC` / `AveragePrecision` / operating-point metric (compiled, or in an
      evaluator: exact there): the report's PR and ROC curves.

    Files are replaced atomically, so a report made during training reads whole files. With
    several processes, only process 0 writes.

    Args:
        run_dir: the run directory (created if needed).
        monitor: the log key that picks the best epoch; default: the first of `val_f1_macro`,
            `f1_macro`, `val_loss`, `loss` in the logs.
        mode: "max", "min" or "auto" (from the evaluators' directions, else "min" for
            losses and errors and "max" for the rest).
        settings: extra entries for run.json's settings (shown in the report).
        num_thresholds: thresholds of the curves.

    Examples:
        In `fit`, then from a shell while it runs or after::

            model.fit(x, y, validation_data=(xv, yv), epochs=20,
                      callbacks=[em.RunRecorder("runs/exp1", monitor="val_f1_macro")])
            # epochmetrics report runs/exp1
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        monitor: str | None = None,
        mode: Mode = "auto",
        settings: Mapping[str, Any] | None = None,
        num_thresholds: int = 101,
    ) -> None:
        super().__init__()
        check_path("run_dir", run_dir)
        if monitor is not None:
            check_str("monitor", monitor, what="a log key or None")
        check_choice("mode", mode, ("auto", "max", "min"))
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"`settings` must be a dict. Received: settings={settings!r}.")
        num_thresholds = check_num_thresholds(num_thresholds)
        self.run_dir = Path(run_dir)
        self.monitor = monitor
        self.mode = mode
        self.settings = dict(settings or {})
        self.num_thresholds = num_thresholds
        self._active = False
        self._evaluators: list[Any] = []
        self._in_epoch = self._validated = False
        self._reset()

    def _reset(self) -> None:
        self._epochs: list[int] = []
        self._rows: list[dict[str, float]] = []
        self._record: dict[str, Any] = {"epochs": [], "scalars": {}, "matrices": {}}
        self._best: tuple[int, float] | None = None
        self._best_matrix: tuple[np.ndarray, tuple[str, ...] | None] | None = None
        self._monitor: str | None = self.monitor

    # --- Keras hooks -----------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._active = is_process_zero()
        if not self._active:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        callback_list = _keras.find_callback_list(self)
        self._evaluators = _sources.find_evaluators(getattr(callback_list, "callbacks", ()))
        for ev in self._evaluators:
            ev.curve_thresholds = self.num_thresholds
        self._reset()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._in_epoch, self._validated = True, False

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._in_epoch:
            self._validated = True  # the compiled metrics will hold the validation data's state

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._in_epoch = False
        if not self._active:
            return
        scalars = _sources.scalar_logs(logs or {})
        self._epochs.append(int(epoch))
        self._rows.append(scalars)
        write_csv_history(self.run_dir / HISTORY_CSV, self._epochs, self._rows)
        snap = self._snapshot(epoch)
        if snap.matrices or self._record["matrices"]:
            self._add_evaluation(epoch, scalars, snap)
            write_history(self.run_dir / EVALUATION_JSON, self._record)
        if self._improved(epoch, scalars):
            self._best_matrix = _count_matrix(snap)
            if snap.curves:
                curves = {
                    name: {**vars(c), "labels": list(c.labels)} for name, c in snap.curves.items()
                }
                write_curves(self.run_dir / CURVES_JSON, epoch, curves)
        self._write_run_json()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        for ev in self._evaluators:
            ev.curve_thresholds = None  # a later fit without this callback records none
        self._evaluators = []

    # --- internals -------------------------------------------------------------------------------
    def _snapshot(self, epoch: int) -> Snapshot:
        """Curves and matrices of this epoch by log name (`val_...` for validation data)."""
        snap = Snapshot()
        compiled = _sources.read_compiled(self.model, self.num_thresholds, matrices=True)
        prefix = VAL_PREFIX if self._validated else ""
        _add(snap, compiled, prefix)
        for ev in self._evaluators:
            run, part = _sources.evaluator_snapshot(ev, epoch)
            _add(snap, part, VAL_PREFIX if run == "validation" else "")
        return snap

    def _add_evaluation(self, epoch: int, scalars: dict[str, float], snap: Snapshot) -> None:
        record = self._record
        rows = len(record["epochs"])
        record["epochs"].append(epoch)
        for key, value in scalars.items():
            if key.startswith(VAL_PREFIX):
                record["scalars"].setdefault(key, [math.nan] * rows).append(value)
        for series in record["scalars"].values():
            series.extend([math.nan] * (rows + 1 - len(series)))
        for key, (matrix, names) in snap.matrices.items():
            if matrix.shape[0] > MAX_EPOCH_MATRIX_CLASSES:
                continue  # C x C per epoch would swamp the file: the best one is in run.json
            entry = record["matrices"].setdefault(
                key, {"class_names": None if names is None else list(names), "values": []}
            )
            blank = np.full(matrix.shape, math.nan).tolist()
            entry["values"].extend([blank] * (rows - len(entry["values"])))
            entry["values"].append(np.asarray(matrix, dtype=np.float64).tolist())
        for entry in record["matrices"].values():
            if len(entry["values"]) == rows:  # a matrix this epoch did not give
                entry["values"].append(np.full(np.shape(entry["values"][-1]), math.nan).tolist())
        directions: dict[str, str] = {}
        for ev in self._evaluators:
            directions.update(ev.history.get("directions", {}))
        record["directions"] = directions

    def _improved(self, epoch: int, scalars: dict[str, float]) -> bool:
        if self._monitor is None:
            self._monitor = next((m for m in DEFAULT_MONITORS if m in scalars), None)
        value = scalars.get(self._monitor) if self._monitor else None
        if value is None or not math.isfinite(value):
            return False
        up = self._direction() == "up"
        if self._best is None or (value > self._best[1] if up else value < self._best[1]):
            self._best = (epoch, value)
            return True
        return False

    def _direction(self) -> str:
        if self.mode != "auto":
            return "up" if self.mode == "max" else "down"
        directions: dict[str, str] = {}
        for ev in self._evaluators:
            directions.update(ev.history.get("directions", {}))
        return metric_direction(self._monitor or "", directions)

    def _write_run_json(self) -> None:
        settings = {**_auto_settings(self.model, self.params), **self.settings}
        matrix = names = None
        if self._best_matrix is not None:
            matrix, names = self._best_matrix
        if names is None:
            labels = tuple(_sources.class_labels(self.model, self._evaluators))
            if labels and (matrix is None or len(labels) == len(matrix)):
                names = labels
        write_run_json(
            self.run_dir,
            settings=settings,
            monitor=self._monitor,
            best_epoch=None if self._best is None else self._best[0],
            class_names=None if names is None else list(names),
            per_class=None if matrix is None else per_class_table(matrix),
            confusion_matrix=None if matrix is None else matrix.tolist(),
        )


def _add(snap: Snapshot, part: Snapshot, prefix: str) -> None:
    snap.curves.update({prefix + k: v for k, v in part.curves.items()})
    snap.matrices.update({prefix + k: v for k, v in part.matrices.items()})
    snap.normalized |= {prefix + k for k in part.normalized}


def _count_matrix(snap: Snapshot) -> tuple[np.ndarray, tuple[str, ...] | None] | None:
    """The confusion matrix of counts the run.json table comes from: validation first."""
    counts = [k for k in snap.matrices if k not in snap.normalized]
    for key in sorted(counts, key=lambda k: (not k.startswith(VAL_PREFIX), k)):
        return snap.matrices[key]
    return None


def _auto_settings(model: Any, params: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": keras.backend.backend()}
    params = params or {}
    for key in ("epochs", "steps"):
        if params.get(key) is not None:
            out["steps_per_epoch" if key == "steps" else key] = params[key]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        out["optimizer"] = type(optimizer).__name__
        try:
            out["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        except (TypeError, ValueError, AttributeError):
            pass
    if model is not None:
        out["model"] = getattr(model, "name", type(model).__name__)
        try:
            out["parameters"] = int(model.count_params())
        except ValueError:  # not built
            pass
    return out
