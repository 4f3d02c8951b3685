"""The run directory: its file names and the run.json layout, written and read here only.

A run directory (as `epochmetrics demo` writes it)::

    history.csv        keras.callbacks.CSVLogger: "epoch", then one column per log key
    evaluation.json    an EpochEvaluator history (format: `epochmetrics._files.evaluation`)
    run.json           what the run knew at its end (below)
    curves.json        per-class PR/ROC counts at the best epoch (`epochmetrics._files.curves`)
    best.keras         the best model (ModelCheckpoint)
    curves.png  confusion_matrix.png  report.html      written by `epochmetrics report`

run.json, every key optional::

    {"settings": {...},                  # shown as is in the report
     "monitor": "val_f1_macro",          # the log key that chose the best epoch
     "best_epoch": 7,                    # 0-based, as in history.csv
     "class_names": ["0", "1", ...],
     "per_class": {"precision": [...], "recall": [...], "f1": [...], "support": [...]},
     "confusion_matrix": [[...], ...],   # of the best model on the validation data
     "predictions": {"y_true": [...], "y_pred": [...]}}   # a regression run's best model on
                                         # the validation data (at most MAX_PREDICTIONS rows)

Standard library only: the command line imports this module for its help texts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from epochmetrics._docs import docstring

__all__ = [
    "CURVES_JSON",
    "EVALUATION_JSON",
    "FIGURES",
    "HISTORY_CSV",
    "MAX_PREDICTIONS",
    "MODEL",
    "REPORT_HTML",
    "RUN_FILES",
    "RUN_JSON",
    "TABLE_METRICS",
    "class_names_beside",
    "read_run_json",
    "write_run_json",
]

HISTORY_CSV = "history.csv"
RUN_JSON = "run.json"
EVALUATION_JSON = "evaluation.json"
CURVES_JSON = "curves.json"
# The files a report reads, in the order it looks for them.
RUN_FILES = (HISTORY_CSV, RUN_JSON, EVALUATION_JSON, CURVES_JSON)
MODEL = "best.keras"
REPORT_HTML = "report.html"
# Figures a report can write next to itself: figure name -> file name.
FIGURES = {
    "curves": "curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "predictions": "predictions.png",
}
# A regression run's predictions in run.json: at most this many rows (a seeded sample).
MAX_PREDICTIONS = 5000
# The per-class results run.json holds ("per_class"), in table order.
TABLE_METRICS = ("precision", "recall", "f1", "support")

# run.json: key -> the JSON type its value must have (when present and not null).
_LAYOUT: dict[str, type] = {
    "settings": dict,
    "monitor": str,
    "best_epoch": int,
    "class_names": list,
    "per_class": dict,
    "confusion_matrix": list,
    "predictions": dict,
}


@docstring()
def write_run_json(
    run_dir: str | Path,
    *,
    settings: Mapping[str, Any],
    monitor: str | None,
    best_epoch: int | None,
    class_names: Sequence[str] | None = None,
    per_class: Mapping[str, Sequence[float]] | None = None,
    confusion_matrix: Sequence[Sequence[float]] | None = None,
    predictions: tuple[Any, Any] | None = None,
) -> Path:
    """Write run.json into `run_dir` (which must exist) and return its path.

    A classification run gives `class_names`, `per_class` (some or all of `TABLE_METRICS`, each
    to one value per class) and `confusion_matrix`; a regression run gives `predictions`, the
    best model's `(y_true, y_pred)` on the validation data (nested lists or arrays of numbers,
    as `tolist()` gives them; at most `MAX_PREDICTIONS` rows: sample them first). None leaves
    a key out (`monitor` and `best_epoch` too, before a best epoch is known). The file is
    replaced atomically (a report may read it meanwhile).

    Args:
        run_dir: The run directory (it must exist).
        settings: The run's settings, shown as they are in the report.
        monitor: The log key that chose the best epoch (e.g. "val_f1_macro"), or None.
        best_epoch: The best epoch, 0-based as in history.csv, or None.
        class_names: A classification run's class names, in class order.
        per_class: A classification run's per-class results: some or all of
            `TABLE_METRICS` ("precision", "recall", "f1", "support"), each to one value per
            class.
        confusion_matrix: A classification run's confusion matrix of the best model on the
            validation data, rows the true classes.
        predictions: A regression run's `(y_true, y_pred)` of the best model on the
            validation data, at most `MAX_PREDICTIONS` rows.

    Returns:
        The path of run.json.

    Raises:
        ValueError: `predictions` of different lengths or more than `MAX_PREDICTIONS` rows,
            or a value of the wrong JSON type.
    """
    info: dict[str, Any] = {"settings": dict(settings)}
    if monitor is not None:
        info["monitor"] = monitor
    if best_epoch is not None:
        info["best_epoch"] = best_epoch
    if class_names is not None:
        info["class_names"] = list(class_names)
    if per_class is not None:
        info["per_class"] = {k: list(per_class[k]) for k in TABLE_METRICS if k in per_class}
    if confusion_matrix is not None:
        info["confusion_matrix"] = [list(row) for row in confusion_matrix]
    if predictions is not None:
        y_true, y_pred = (getattr(a, "tolist", lambda a=a: list(a))() for a in predictions)
        if len(y_true) != len(y_pred) or len(y_true) > MAX_PREDICTIONS:
            raise ValueError(
                f"`predictions` must be two arrays of the same length, at most "
                f"{MAX_PREDICTIONS} rows. Received {len(y_true)} and {len(y_pred)}."
            )
        info["predictions"] = {"y_true": y_true, "y_pred": y_pred}
    path = Path(run_dir) / RUN_JSON
    _check(info, path)
    text = json.dumps(info, indent=2)
    tmp = path.with_name(f".{RUN_JSON}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_run_json(path: str | Path) -> dict[str, Any]:
    """Read a run.json, checking the type of every known key.

    Raises:
        ValueError: invalid JSON, not an object, or a key of the wrong type; names the file.
    """
    path = Path(path)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(info, dict):
        raise ValueError(f"{path}: expected a JSON object")
    _check(info, path)
    return info


def _check(info: Mapping[str, Any], path: Path) -> None:
    for key, kind in _LAYOUT.items():
        if info.get(key) is not None and not isinstance(info[key], kind):
            raise ValueError(f"{path}: {key!r} must be a {kind.__name__}")


def class_names_beside(history_file: str | Path) -> list[str] | None:
    """The class names of the run.json next to a history file (a run directory), if readable.

    Lenient: a missing or unreadable run.json, or one without class names, gives None.
    """
    try:
        info = json.loads((Path(history_file).parent / RUN_JSON).read_text(encoding="utf-8"))
        names = info["class_names"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    return None
