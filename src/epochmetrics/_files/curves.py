"""The curves file of a run directory (`curves.json`, `"format": "epochmetrics.curves/1"`):
per-class counts at uniform thresholds of one epoch (the best one), written and read here only.

    {"format": "epochmetrics.curves/1",
     "epoch": 7,                                      # 0-based, as in history.csv
     "curves": {"val_auroc": {"labels": ["cat", ...],  # one row per class
                              "thresholds": [0.0, 0.01, ..., 1.0],
                              "tp": [[...], ...], "fp": ..., "tn": ..., "fn": ...,
                              "tp_error": [[...], ...], "fp_error": ...}}}  # binned only

A sample is predicted positive at threshold t when its score is >= t. `tp_error`/`fp_error`
(absent when the counts are exact) bound how much the exact TP/FP are lower. NumPy and the
standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from epochmetrics._files.evaluation import write_atomic

__all__ = ["FORMAT", "Curves", "read_curves", "write_curves"]

FORMAT = "epochmetrics.curves/1"
_ROWS = ("tp", "fp", "tn", "fn")


@dataclass
class Curves:
    """One metric's per-class counts (K classes, T thresholds)."""

    labels: list[str]
    thresholds: np.ndarray  # (T,)
    tp: np.ndarray  # (K, T)
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray
    tp_error: np.ndarray | None = None  # (K, T), None when exact
    fp_error: np.ndarray | None = None

    @property
    def exact(self) -> bool:
        return self.tp_error is None or not (
            np.any(self.tp_error) or np.any(self.fp_error if self.fp_error is not None else 0)
        )

    def precision(self) -> np.ndarray:
        """`(K, T)` TP / (TP + FP), NaN where nothing is predicted positive."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.tp + self.fp > 0, self.tp / (self.tp + self.fp), np.nan)

    def recall(self) -> np.ndarray:
        """`(K, T)` TP / P (the true positive rate), NaN for a class without positives."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.tp + self.fn > 0, self.tp / (self.tp + self.fn), np.nan)

    def false_positive_rate(self) -> np.ndarray:
        """`(K, T)` FP / N, NaN for a class without negatives."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.fp + self.tn > 0, self.fp / (self.fp + self.tn), np.nan)


def write_curves(
    path: str | os.PathLike[str], epoch: int, curves: Mapping[str, Mapping[str, Any]]
) -> None:
    """Write curves.json atomically. `curves` maps a log name to a dict with the keys of
    `Curves` (arrays or lists); the error rows are left out when they are all zero."""
    out: dict[str, Any] = {}
    for name, c in curves.items():
        entry: dict[str, Any] = {
            "labels": [str(label) for label in c["labels"]],
            "thresholds": np.asarray(c["thresholds"], dtype=np.float64).tolist(),
        }
        for row in _ROWS:
            entry[row] = np.asarray(c[row], dtype=np.float64).tolist()
        errors = [c.get("tp_error"), c.get("fp_error")]
        if any(e is not None and np.any(e) for e in errors):
            entry["tp_error"] = np.asarray(errors[0], dtype=np.float64).tolist()
            entry["fp_error"] = np.asarray(errors[1], dtype=np.float64).tolist()
        out[str(name)] = entry
    payload = {"format": FORMAT, "epoch": int(epoch), "curves": out}
    write_atomic(path, lambda f: json.dump(payload, f, allow_nan=False))


def read_curves(path: str | os.PathLike[str]) -> tuple[int | None, dict[str, Curves]]:
    """Read curves.json: `(epoch, {name: Curves})`.

    Raises:
        ValueError: not a curves file, or an entry whose arrays disagree in shape; names the
            file and the entry.
    """
    path = Path(path)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(info, dict) or not str(info.get("format", "")).startswith(
        "epochmetrics.curves/"
    ):
        raise ValueError(f"{path}: not an epochmetrics curves file")
    epoch = info.get("epoch")
    out: dict[str, Curves] = {}
    for name, entry in (info.get("curves") or {}).items():
        try:
            labels = [str(label) for label in entry["labels"]]
            thresholds = np.asarray(entry["thresholds"], dtype=np.float64)
            rows = [np.asarray(entry[r], dtype=np.float64) for r in _ROWS]
            errors = [
                None if entry.get(r) is None else np.asarray(entry[r], dtype=np.float64)
                for r in ("tp_error", "fp_error")
            ]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: curves entry {name!r} is malformed") from None
        shape = (len(labels), thresholds.shape[0])
        if any(r.shape != shape for r in rows) or any(
            e is not None and e.shape != shape for e in errors
        ):
            raise ValueError(
                f"{path}: curves entry {name!r} needs {shape[0]} rows of {shape[1]} values"
            )
        out[str(name)] = Curves(labels, thresholds, *rows, *errors)
    return (int(epoch) if isinstance(epoch, int) else None), out
