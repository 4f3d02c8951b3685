"""A run directory read as a whole: what a report shows of it.

Its files (names and run.json layout: `epochmetrics._files.run_dir`) are each optional, but one
history is needed. Reading reconciles them: the curves (history.csv, else evaluation.json), the
class names, the best epoch, the confusion matrix of the best model (run.json, else
evaluation.json at the evaluated epoch closest to the best one), the per-class table
(run.json, else the best epoch's row of the history, else the matrix), the confusion matrix of
every evaluated epoch (evaluation.json) and the per-class PR/ROC counts (curves.json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from epochmetrics._docs import docstring
from epochmetrics._files.curves import Curves, read_curves
from epochmetrics._files.history import History, read_history
from epochmetrics._files.keys import best_index, group_panels, metric_direction
from epochmetrics._files.matrix import confusion_counts, per_class_table
from epochmetrics._files.run_dir import (
    CURVES_JSON,
    EVALUATION_JSON,
    HISTORY_CSV,
    RUN_FILES,
    RUN_JSON,
    TABLE_METRICS,
    read_run_json,
)

__all__ = ["Run", "load_run"]

# Monitors tried, in order, when run.json does not name one.
DEFAULT_MONITORS = ("val_f1_macro", "f1_macro", "val_loss", "loss")


@dataclass
class Run:
    """What a report shows of a run directory.

    Attributes:
        run_dir: the directory.
        files: the run files found in it.
        history: the curves (history.csv, else evaluation.json).
        evaluation: the evaluator history (evaluation.json), if any.
        settings: run.json "settings".
        class_names: from run.json, else the evaluator history, else the per-class keys.
        monitor: the monitored log key; best_epoch, best_value: its best epoch and value.
        confusion: the confusion matrix shown, confusion_epoch its epoch, confusion_note its
            source (or why there is none).
        per_class_rows: one dict per class: "class", and "precision", "recall", "f1",
            "support" where known (and "<metric>_low", "<metric>_high", the best epoch's
            intervals, where the evaluator logged them); per_class_note says where they come
            from.
        epoch_matrices: `(epoch, matrix)` for every evaluated epoch of the matrix shown
            (evaluation.json), oldest first.
        curves: per metric (log name), per-class counts at uniform thresholds (curves.json),
            recorded at `curves_epoch`.
        predictions: a regression run's `(y_true, y_pred)` float64 arrays (run.json's
            "predictions": the best model on the validation data), else None;
            predictions_note says where they come from (or why there are none).
        regression: a regression run (predictions, or regression keys and no class).
        notes: what was missing or odd.
    """

    run_dir: Path
    files: list[str]
    history: History
    evaluation: History | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] | None = None
    monitor: str | None = None
    best_epoch: int | None = None
    best_value: float | None = None
    confusion: np.ndarray | None = None
    confusion_epoch: int | None = None
    confusion_note: str = ""
    per_class_rows: list[dict[str, Any]] = field(default_factory=list)
    per_class_note: str = ""
    epoch_matrices: list[tuple[int, np.ndarray]] = field(default_factory=list)
    curves: dict[str, Curves] = field(default_factory=dict)
    curves_epoch: int | None = None
    predictions: tuple[np.ndarray, np.ndarray] | None = None
    predictions_note: str = ""
    regression: bool = False
    notes: list[str] = field(default_factory=list)


@docstring()
def load_run(run_dir: str | Path) -> Run:
    """Read a run directory.

    Args:
        run_dir: The directory a training run wrote (history.csv or evaluation.json, and
            run.json, best.keras, ... when present).

    Returns:
        A `Run`: the curves, class names, best epoch, the confusion matrix at the best epoch
        and the per-class table.

    Raises:
        FileNotFoundError: the directory is missing, or has neither history.csv nor
            evaluation.json.
        ValueError: a malformed file, with its name and the reason.
    """
    root = Path(run_dir)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such directory")
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory (expected a run directory with history.csv)")
    files = [f for f in RUN_FILES if (root / f).is_file()]
    info = read_run_json(root / RUN_JSON) if RUN_JSON in files else {}
    evaluation = None
    if EVALUATION_JSON in files:
        evaluation = read_history(root / EVALUATION_JSON)
        if not evaluation.evaluation_only:
            raise ValueError(f"{root / EVALUATION_JSON}: not an EpochEvaluator history")
    if HISTORY_CSV in files:
        curves = read_history(root / HISTORY_CSV)
    elif evaluation is not None:
        curves = evaluation
    else:
        raise FileNotFoundError(f"{root}: no history.csv or evaluation.json in this directory")

    run = Run(root, files, curves, evaluation, dict(info.get("settings") or {}))
    if HISTORY_CSV not in files:
        run.notes.append("No history.csv: the curves show the evaluator's results only.")
    run.class_names = _class_names(info, evaluation, curves)
    _find_best(run, info)
    _find_predictions(run, info)
    if run.regression:
        run.confusion_note = "A regression run: no confusion matrix."
        run.per_class_note = "A regression run: no per-class table."
        return run
    _find_confusion(run, info)
    _find_per_class(run, info)
    _find_intervals(run)
    _find_epoch_matrices(run)
    if CURVES_JSON in files:
        run.curves_epoch, run.curves = read_curves(root / CURVES_JSON)
    return run


def _find_epoch_matrices(run: Run) -> None:
    ev = run.evaluation
    if ev is None or not ev.matrices:
        return
    name = (
        "val_confusion_matrix" if "val_confusion_matrix" in ev.matrices else next(iter(ev.matrices))
    )
    for epoch, values in zip(ev.epochs, ev.matrices[name]["values"], strict=False):
        m = np.asarray(values, dtype=np.float64)
        if m.ndim == 2 and m.shape[0] == m.shape[1] and np.isfinite(m).all():
            run.epoch_matrices.append((epoch, _matrix(m, run, EVALUATION_JSON)))


# Log keys of the regression metrics (and the losses they are trained on).
_REGRESSION_KEYS = ("r2", "mse", "rmse", "mae", "mape", "pearson", "concordance", "spearman")
_CLASSIFICATION_KEYS = ("f1", "precision", "recall", "accuracy", "auroc", "iou", "jaccard")


def _find_predictions(run: Run, info: dict[str, Any]) -> None:
    """A regression run: predictions in run.json, or regression keys and no class at all."""
    data = info.get("predictions")
    if data:
        try:
            t = np.asarray(data["y_true"], dtype=np.float64)
            p = np.asarray(data["y_pred"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{run.run_dir / RUN_JSON}: 'predictions' needs numeric 'y_true' and 'y_pred'"
            ) from None
        if t.shape != p.shape or t.size == 0:
            raise ValueError(
                f"{run.run_dir / RUN_JSON}: 'predictions' y_true {t.shape} and y_pred "
                f"{p.shape} must be non-empty and of one shape"
            )
        run.predictions = (t, p)
        run.regression = True
        where = f" at epoch {run.best_epoch}" if run.best_epoch is not None else ""
        run.predictions_note = f"From run.json: the best model{where} on the validation data."
        return
    words = {w for key in run.history.scalars for w in key.lower().split("_")}
    # Per-output keys (`r2_0`, `r2_1`) read as per-class families: only the words decide.
    if words & set(_REGRESSION_KEYS) and not words & set(_CLASSIFICATION_KEYS):
        run.regression = True
        run.predictions_note = (
            "No predictions: run.json has none (em.report.write_run_json(..., "
            "predictions=(y_true, y_pred)) stores the best model's, as examples/regression.py "
            "does)."
        )


def _class_names(
    info: dict[str, Any], evaluation: History | None, curves: History
) -> list[str] | None:
    if info.get("class_names"):
        return [str(c) for c in info["class_names"]]
    if evaluation is not None and evaluation.class_names:
        return evaluation.class_names
    _, classes = group_panels(curves)
    if classes:
        return classes
    cm = info.get("confusion_matrix")
    if cm:
        return [str(i) for i in range(len(cm))]
    return None


def _find_best(run: Run, info: dict[str, Any]) -> None:
    h = run.history
    monitor = info.get("monitor")
    if monitor is None:
        monitor = next((m for m in DEFAULT_MONITORS if m in h.scalars), None)
    run.monitor = monitor
    series = h.scalars.get(monitor) if monitor else None
    if isinstance(info.get("best_epoch"), int):
        run.best_epoch = info["best_epoch"]
    elif series is not None:
        i = best_index(series, metric_direction(monitor or "", h.directions))
        run.best_epoch = h.epochs[i] if i is not None else None
    if series is not None and run.best_epoch in h.epochs:
        v = series[h.epochs.index(run.best_epoch)]
        run.best_value = v if math.isfinite(v) else None
    if monitor is not None and series is None:
        run.notes.append(f"The monitor {monitor!r} is not in the history.")


def _find_confusion(run: Run, info: dict[str, Any]) -> None:
    if info.get("confusion_matrix"):
        run.confusion = _matrix(info["confusion_matrix"], run, RUN_JSON)
        run.confusion_epoch = run.best_epoch
        run.confusion_note = "From run.json: the best model on the validation data."
        return
    ev = run.evaluation
    if ev is None or not ev.matrices:
        run.confusion_note = (
            "No confusion matrix: run.json has none and there is no evaluation.json with one."
        )
        return
    name = (
        "val_confusion_matrix" if "val_confusion_matrix" in ev.matrices else next(iter(ev.matrices))
    )
    values = ev.matrices[name]["values"]
    epochs = ev.epochs
    if len(values) != len(epochs) or not values:
        raise ValueError(
            f"{run.run_dir / EVALUATION_JSON}: matrix {name!r} needs one matrix per epoch"
        )
    target = run.best_epoch if run.best_epoch is not None else epochs[-1]
    # The evaluated epoch closest to the best one (the evaluator may skip epochs).
    i = min(range(len(epochs)), key=lambda k: (abs(epochs[k] - target), -epochs[k]))
    run.confusion = _matrix(values[i], run, EVALUATION_JSON)
    run.confusion_epoch = epochs[i]
    run.confusion_note = f"From evaluation.json ({name}) at epoch {epochs[i]}."
    if epochs[i] != target:
        run.confusion_note += f" Epoch {target} was not evaluated; this is the closest one."
    if run.class_names is None:
        names = ev.matrices[name].get("class_names")
        run.class_names = [str(c) for c in names] if names else None


def _matrix(values: Any, run: Run, source: str) -> np.ndarray:
    try:
        m = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{run.run_dir / source}: the confusion matrix is not numeric") from None
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{run.run_dir / source}: the confusion matrix is not square ({m.shape})")
    try:
        confusion_counts(m)  # the plot's own checks (finite, non-negative), named by file here
    except ValueError as e:
        raise ValueError(f"{run.run_dir / source}: {e}") from None
    if run.class_names is not None and len(run.class_names) != m.shape[0]:
        raise ValueError(
            f"{run.run_dir / source}: the confusion matrix has {m.shape[0]} classes, "
            f"class_names has {len(run.class_names)}"
        )
    return m


def _find_per_class(run: Run, info: dict[str, Any]) -> None:
    per_class = info.get("per_class")
    names = run.class_names
    if per_class and names:
        rows: list[dict[str, Any]] = [{"class": c} for c in names]
        for metric in TABLE_METRICS:
            values = per_class.get(metric)
            if values is None:
                continue
            if not isinstance(values, list) or len(values) != len(names):
                raise ValueError(
                    f"{run.run_dir / RUN_JSON}: per_class[{metric!r}] needs {len(names)} values"
                )
            for row, v in zip(rows, values, strict=True):
                row[metric] = _float(v)
        run.per_class_rows = rows
        run.per_class_note = "From run.json: the best model on the validation data."
        return
    if _per_class_from_history(run):
        return
    if run.confusion is not None:
        table = per_class_table(run.confusion)
        labels = names or [str(i) for i in range(len(run.confusion))]
        run.per_class_rows = [
            {"class": c, **{k: float(table[k][i]) for k in TABLE_METRICS}}
            for i, c in enumerate(labels)
        ]
        run.per_class_note = f"Computed from the confusion matrix at epoch {run.confusion_epoch}."
        return
    run.per_class_note = "No per-class results: no run.json and no per-class keys in the history."


def _per_class_from_history(run: Run) -> bool:
    h = run.history
    if run.best_epoch is None or run.best_epoch not in h.epochs:
        return False
    row = h.epochs.index(run.best_epoch)
    panels, classes = group_panels(h, run.class_names)
    table: dict[str, dict[str, float]] = {}
    split_used = None
    for split in ("val", "train"):
        for p in panels:
            metric = next(
                (m for m in TABLE_METRICS if p.metric == m or p.metric.endswith("_" + m)), None
            )
            if not p.per_class or metric is None:
                continue
            for s in p.series:
                if s.split == split and s.cls is not None:
                    table.setdefault(s.cls, {})[metric] = _float(s.values[row])
        if table:
            split_used = split
            break
    if not table:
        return False
    order = [c for c in (run.class_names or classes) if c in table]
    run.per_class_rows = [{"class": c, **table[c]} for c in order]
    where = "validation" if split_used == "val" else "training (no validation keys)"
    run.per_class_note = f"From history.csv at the best epoch ({run.best_epoch}), {where}."
    return True


def _find_intervals(run: Run) -> None:
    """The per-class table's intervals at the best epoch: `<metric>_low` / `<metric>_high` in
    each row, from the validation keys' `K_low` / `K_high` (`EpochEvaluator(confidence=...)`)
    in the curves, else in the evaluator's history."""
    if run.best_epoch is None or not run.per_class_rows:
        return
    for h in (run.history, run.evaluation):
        if h is None or run.best_epoch not in h.epochs:
            continue
        row = h.epochs.index(run.best_epoch)
        panels, _ = group_panels(h, run.class_names)
        found: dict[str, dict[str, tuple[float, float]]] = {}
        for p in panels:
            metric = next(
                (m for m in TABLE_METRICS if p.metric == m or p.metric.endswith("_" + m)), None
            )
            if not p.per_class or metric is None or metric == "support":
                continue
            for s in p.series:
                low, high = h.scalars.get(s.key + "_low"), h.scalars.get(s.key + "_high")
                if s.split == "val" and s.cls is not None and low is not None and high is not None:
                    found.setdefault(s.cls, {})[metric] = (_float(low[row]), _float(high[row]))
        if not found:
            continue
        for r in run.per_class_rows:
            for metric, (lo, hi) in found.get(str(r["class"]), {}).items():
                r[f"{metric}_low"], r[f"{metric}_high"] = lo, hi
        run.per_class_note += (
            f" Intervals: the evaluator's bootstrap intervals at epoch {run.best_epoch}."
        )
        return


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan
