"""`EpochEvaluator.history`: one row per evaluated epoch, every series aligned with `epochs`.

The layout of the dict, its JSON file, and where that file may be written are
`epochmetrics._files.evaluation`'s; this module only accumulates the rows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from epochmetrics._files.evaluation import write_history

__all__ = ["HistoryRecord"]


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
        """Write the history to `path` (atomically, as `epochmetrics._files.evaluation` does)."""
        write_history(path, self.data)


def _nan_like(matrix: Any) -> Any:
    return np.full(np.shape(matrix), math.nan).tolist()
