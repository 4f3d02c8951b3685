"""Read training histories of every kind into one shape, `History`.

Sources: a Keras `History`, its `history.history` dict, a CSVLogger file, an
`EpochEvaluator.history` dict or its JSON file (read by `epochmetrics._files.evaluation`), or a
JSON dump of `history.history`. Everything becomes epoch indices plus one float series per log
key (NaN where a value is missing). What the keys mean is `epochmetrics._files.keys`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epochmetrics._files import evaluation
from epochmetrics._files.run_dir import class_names_beside

__all__ = ["History", "read_history", "write_csv_history"]

_MISSING = {"", "na", "nan", "none", "null"}


@dataclass
class History:
    """A training history as epoch indices and one float series per log key.

    Attributes:
        epochs: epoch index of each recorded row, as logged (Keras counts from 0).
        scalars: log key -> one float per epoch, NaN where missing.
        directions: log key -> "up" or "down" where the source declares it.
        matrices: matrix name -> {"class_names": [...] | None, "values": [C x C per epoch]}.
        class_names: class names declared by the source (evaluator matrices), if any.
        evaluation_only: True for an evaluator history: every key is an evaluation result.
    """

    epochs: list[int]
    scalars: dict[str, list[float]]
    directions: dict[str, str] = field(default_factory=dict)
    matrices: dict[str, dict[str, Any]] = field(default_factory=dict)
    class_names: list[str] | None = None
    evaluation_only: bool = False


def read_history(source: Any) -> History:
    """Turn any supported history source into a `History`.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a malformed file or dict, with the reason.
        TypeError: an unsupported source type.
    """
    if isinstance(source, History):
        return source
    if isinstance(source, (str, os.PathLike)):
        return _read_path(Path(source))
    if isinstance(source, Mapping):
        return _from_mapping(source, where="history dict")
    history = getattr(source, "history", None)
    if isinstance(history, Mapping):  # keras.callbacks.History
        epochs = getattr(source, "epoch", None)
        return _from_keras_dict(history, epochs, where="History")
    raise TypeError(
        "`source` must be a keras History, a `history.history` dict, an EpochEvaluator history "
        "dict, or the path of a CSVLogger file or saved evaluator history (.json). "
        f"Received: {type(source).__name__}."
    )


def _read_path(path: Path) -> History:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a history file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (expected CSV or JSON)") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object, found {type(data).__name__}")
        history = _from_mapping(data, where=str(path))
    else:
        history = _from_csv(text, where=str(path))
    if history.class_names is None:
        history.class_names = class_names_beside(path)
    return history


def _from_mapping(data: Mapping[str, Any], where: str) -> History:
    fmt = data.get("format")
    if isinstance(fmt, str) and not fmt.startswith(evaluation.FORMAT_PREFIX):
        raise ValueError(f"{where}: unknown history format {fmt!r}")
    if "scalars" in data:
        return _from_evaluator(data, where)
    return _from_keras_dict(data, None, where)


def _from_evaluator(data: Mapping[str, Any], where: str) -> History:
    h = evaluation.decode(data, where)
    names = next((m["class_names"] for m in h["matrices"].values() if m["class_names"]), None)
    return History(
        h["epochs"],
        h["scalars"],
        h["directions"],
        h["matrices"],
        [str(c) for c in names] if names else None,
        evaluation_only=True,
    )


def _from_keras_dict(data: Mapping[str, Any], epochs: Any, where: str) -> History:
    scalars: dict[str, list[float]] = {}
    for key, values in data.items():
        if key == "epoch":
            continue
        series = evaluation.float_series(values)
        if series is not None:  # non-scalar logs (e.g. a confusion matrix per epoch) are skipped
            scalars[str(key)] = series
    if not scalars:
        raise ValueError(f"{where}: no scalar metric series found")
    n = max(len(v) for v in scalars.values())
    scalars = {k: v + [math.nan] * (n - len(v)) for k, v in scalars.items()}
    epoch_ids = [int(e) for e in epochs] if epochs is not None and len(epochs) == n else None
    if epoch_ids is None and "epoch" in data:
        raw = evaluation.float_series(data["epoch"])
        if raw is not None and len(raw) == n and not any(math.isnan(e) for e in raw):
            epoch_ids = [int(e) for e in raw]
    return History(epoch_ids if epoch_ids is not None else list(range(n)), scalars)


def _from_csv(text: str, where: str) -> History:
    rows = [r for r in csv.reader(text.splitlines()) if r]
    if not rows:
        raise ValueError(f"{where}: empty file")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header) or any(not h for h in header):
        raise ValueError(f"{where}: the header row must name every column once")
    columns: list[list[str]] = [[] for _ in header]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{where}: line {line} has {len(row)} values, the header has {len(header)}"
            )
        for col, value in zip(columns, row, strict=True):
            col.append(value.strip())
    if not columns[0]:
        raise ValueError(f"{where}: no data rows")
    parsed = {}
    for name, col in zip(header, columns, strict=True):
        series = _parse_column(col)
        if series is not None:  # non-numeric columns (matrices written as lists) are skipped
            parsed[name] = series
    epochs = parsed.pop("epoch", None)
    if not parsed:
        raise ValueError(f"{where}: no numeric metric columns (is this a CSVLogger file?)")
    n = len(columns[0])
    if epochs is None or any(math.isnan(e) for e in epochs):
        epoch_ids = list(range(n))
    else:
        epoch_ids = [int(e) for e in epochs]
    return History(epoch_ids, parsed)


def _parse_column(col: list[str]) -> list[float] | None:
    out = []
    for v in col:
        if v.lower() in _MISSING:
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except ValueError:
            return None
    if all(math.isnan(v) for v in out):
        return None
    return out


def write_csv_history(
    path: str | os.PathLike[str], epochs: Sequence[int], rows: Sequence[Mapping[str, float]]
) -> None:
    """Write scalar logs as keras.callbacks.CSVLogger does: "epoch", then every key sorted,
    one row per epoch ("NA" where an epoch lacks a key). Replaced atomically."""
    keys = sorted({k for row in rows for k in row})

    def write(f: Any) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epoch", *keys])
        for epoch, row in zip(epochs, rows, strict=True):
            w.writerow([epoch, *(repr(float(row[k])) if k in row else "NA" for k in keys)])

    evaluation.write_atomic(path, write)
