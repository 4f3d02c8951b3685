"""`EpochEvaluator.history`: per-epoch scalars and matrices, and its JSON file.

In memory (the shared contract, keys exactly as pushed into the Keras logs)::

    {"epochs": [0, 1, ...],
     "scalars": {"val_f1_macro": [0.5, 0.6, ...], ...},             # one float per epoch
     "matrices": {"val_confusion_matrix": {"class_names": [...] | None,
                                           "values": [C x C nested lists, one per epoch]}},
     "directions": {"val_f1_macro": "up", ...}}

On disk the same keys plus `"format": "epochmetrics.history/1"`. JSON has no NaN: non-finite
values are written as `null` and read back as NaN.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["FORMAT", "HistoryRecord", "load_history"]

FORMAT = "epochmetrics.history/1"


class HistoryRecord:
    """Accumulates one row per evaluated epoch, keeping every series aligned with `epochs`."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        self.data = {"epochs": [], "scalars": {}, "matrices": {}, "directions": {}}

    def add(
        self,
        epoch: int,
        scalars: Mapping[str, float],
        matrices: Mapping[str, tuple[np.ndarray, Any]],
        directions: Mapping[str, str | None],
    ) -> None:
        rows = len(self.data["epochs"])
        self.data["epochs"].append(int(epoch))
        series = self.data["scalars"]
        for key, value in scalars.items():
            series.setdefault(key, [math.nan] * rows).append(float(value))
        for values in series.values():
            if len(values) == rows:  # a key this evaluation did not produce
                values.append(math.nan)
        mats = self.data["matrices"]
        for key, (matrix, names) in matrices.items():
            entry = mats.setdefault(key, {"class_names": names, "values": []})
            entry["values"].extend([_nan_like(matrix)] * (rows - len(entry["values"])))
            entry["values"].append(np.asarray(matrix, dtype=np.float64).tolist())
        for entry in mats.values():
            if len(entry["values"]) == rows:
                entry["values"].append(_nan_like(entry["values"][-1]))
        for key, direction in directions.items():
            if direction is not None:
                self.data["directions"][key] = direction

    def save(self, path: str | os.PathLike[str]) -> None:
        payload = {"format": FORMAT, **_json_safe(self.data)}
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(payload, f, allow_nan=False)
        os.replace(tmp, path)  # a reader never sees a half-written file


def _nan_like(matrix: Any) -> Any:
    return np.full(np.shape(matrix), math.nan).tolist()


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if value is None:
        return math.nan
    return float(value)


def load_history(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a history written by `EpochEvaluator.save_history` (or `history_path=`).

    Args:
        path: the JSON file.

    Returns:
        The dict `EpochEvaluator.history` held when it was saved: `epochs`, `scalars`,
        `matrices`, `directions` (`null` values come back as NaN).

    Raises:
        ValueError: if the file is not an epochmetrics history.

    Examples:
        >>> import os, tempfile
        >>> from epochmetrics.callbacks import load_history
        >>> from epochmetrics.callbacks._record import HistoryRecord
        >>> record = HistoryRecord()
        >>> record.add(0, {"val_f1": 0.5}, {}, {"val_f1": "up"})
        >>> path = os.path.join(tempfile.mkdtemp(), "history.json")
        >>> record.save(path)
        >>> load_history(path)["scalars"]
        {'val_f1': [0.5]}
    """
    with open(path, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{os.fspath(path)} is not valid JSON: {err}") from err
    fmt = raw.get("format") if isinstance(raw, dict) else None
    if not isinstance(fmt, str) or not fmt.startswith("epochmetrics.history/"):
        raise ValueError(
            f"{os.fspath(path)} is not an epochmetrics history (expected "
            f"'format': {FORMAT!r}, found {fmt!r})."
        )
    return {
        "epochs": [int(e) for e in raw.get("epochs", [])],
        "scalars": {k: _from_json(v) for k, v in raw.get("scalars", {}).items()},
        "matrices": {
            k: {"class_names": m.get("class_names"), "values": _from_json(m.get("values", []))}
            for k, m in raw.get("matrices", {}).items()
        },
        "directions": dict(raw.get("directions", {})),
    }
