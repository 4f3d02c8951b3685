"""Read training histories into one shape, and tell per-class log keys from the others.

Sources: a Keras `History`, its `history.history` dict, a CSVLogger file, an
`EpochEvaluator.history` dict or its JSON file (format `epochmetrics.history/1`), or a JSON dump of
`history.history`. Everything becomes a `History`: epoch indices plus one float series per log
key (NaN where a value is missing).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "History",
    "Panel",
    "Series",
    "best_index",
    "group_panels",
    "is_quiet",
    "load_history",
    "metric_direction",
    "split_key",
]

Split = Literal["train", "val"]
Direction = Literal["up", "down"]

HISTORY_FORMAT = "epochmetrics.history/"
VAL_PREFIX = "val_"
# Lower-is-better metric names; everything else (our metrics) is higher-is-better.
_DOWN_WORDS = ("loss", "error", "mse", "mae")
_MISSING = {"", "na", "nan", "none", "null"}
_DIGITS = re.compile(r"^(.+)_(\d+)$")
_AVERAGE = re.compile(r"_(macro|micro|weighted)$")
# Per-class families that are not worth a panel unless asked for: support is constant.
_QUIET_FAMILIES = ("support",)


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


@dataclass
class Series:
    """One line of a panel: a log key, its split and its class (None for a scalar metric)."""

    key: str
    split: Split
    cls: str | None
    values: list[float]


@dataclass
class Panel:
    """One metric: a scalar metric with train/val lines, or a per-class family."""

    metric: str
    per_class: bool
    series: list[Series]
    direction: Direction


def metric_direction(name: str, directions: Mapping[str, str] | None = None) -> Direction:
    """Whether higher ("up") or lower ("down") values of log key `name` are better."""
    if directions:
        for key in (name, VAL_PREFIX + name):
            if directions.get(key) in ("up", "down"):
                return directions[key]  # type: ignore[return-value]
    low = name.lower()
    return "down" if any(w in low for w in _DOWN_WORDS) else "up"


# --- loading ----------------------------------------------------------------------------------


def load_history(source: Any) -> History:
    """Turn any supported history source into a `History`.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a malformed file or dict, with the reason.
        TypeError: an unsupported source type.
    """
    if isinstance(source, History):
        return source
    if isinstance(source, (str, os.PathLike)):
        return _load_path(Path(source))
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


def _load_path(path: Path) -> History:
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
        history.class_names = _sibling_class_names(path)
    return history


def _sibling_class_names(path: Path) -> list[str] | None:
    """Class names from a run.json next to the history file (a run directory), if readable."""
    try:
        info = json.loads((path.parent / "run.json").read_text(encoding="utf-8"))
        names = info["class_names"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    return None


def _from_mapping(data: Mapping[str, Any], where: str) -> History:
    fmt = data.get("format")
    if isinstance(fmt, str) and not fmt.startswith(HISTORY_FORMAT):
        raise ValueError(f"{where}: unknown history format {fmt!r}")
    if "scalars" in data:
        return _from_evaluator(data, where)
    return _from_keras_dict(data, None, where)


def _from_evaluator(data: Mapping[str, Any], where: str) -> History:
    scalars_in = data.get("scalars")
    epochs = data.get("epochs")
    if not isinstance(scalars_in, Mapping) or not isinstance(epochs, list):
        raise ValueError(
            f"{where}: an evaluator history needs 'epochs' (list) and 'scalars' (dict)"
        )
    try:
        epoch_ids = [int(e) for e in epochs]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: 'epochs' must be integers") from None
    scalars: dict[str, list[float]] = {}
    for key, values in scalars_in.items():
        series = _float_series(values)
        if series is None or len(series) != len(epoch_ids):
            raise ValueError(
                f"{where}: scalar {key!r} needs {len(epoch_ids)} numbers, one per epoch"
            )
        scalars[str(key)] = series
    matrices = {}
    class_names = None
    for name, m in (data.get("matrices") or {}).items():
        if isinstance(m, Mapping) and isinstance(m.get("values"), list):
            matrices[str(name)] = dict(m)
            if class_names is None and m.get("class_names"):
                class_names = [str(c) for c in m["class_names"]]
    directions = {str(k): str(v) for k, v in (data.get("directions") or {}).items()}
    return History(epoch_ids, scalars, directions, matrices, class_names, evaluation_only=True)


def _from_keras_dict(data: Mapping[str, Any], epochs: Any, where: str) -> History:
    scalars: dict[str, list[float]] = {}
    for key, values in data.items():
        if key == "epoch":
            continue
        series = _float_series(values)
        if series is not None:  # non-scalar logs (e.g. a confusion matrix per epoch) are skipped
            scalars[str(key)] = series
    if not scalars:
        raise ValueError(f"{where}: no scalar metric series found")
    n = max(len(v) for v in scalars.values())
    scalars = {k: v + [math.nan] * (n - len(v)) for k, v in scalars.items()}
    epoch_ids = [int(e) for e in epochs] if epochs is not None and len(epochs) == n else None
    if epoch_ids is None and "epoch" in data:
        raw = _float_series(data["epoch"])
        if raw is not None and len(raw) == n and not any(math.isnan(e) for e in raw):
            epoch_ids = [int(e) for e in raw]
    return History(epoch_ids if epoch_ids is not None else list(range(n)), scalars)


def _float_series(values: Any) -> list[float] | None:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        return None
    out = []
    for v in values:
        if v is None:
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            return None
    return out


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


# --- grouping keys into panels ----------------------------------------------------------------


def split_key(key: str, history: History) -> tuple[Split, str]:
    """`val_f1_macro` -> ("val", "f1_macro"); evaluator keys are all validation results."""
    if key.startswith(VAL_PREFIX):
        return "val", key[len(VAL_PREFIX) :]
    return ("val" if history.evaluation_only else "train"), key


def _class_of(name: str, class_names: Sequence[str]) -> tuple[str, str] | None:
    # Longest names first so that class "b_c" wins over class "c" for key "f1_b_c".
    for cls in sorted(class_names, key=len, reverse=True):
        if name.endswith("_" + cls) and len(name) > len(cls) + 1:
            return name[: -len(cls) - 1], cls
    return None


def group_panels(
    history: History,
    class_names: Sequence[str] | None = None,
) -> tuple[list[Panel], list[str]]:
    """Group log keys into panels and return them with the ordered class names.

    A key is per-class when it ends with `_<class>` for a known class name (argument, else the
    history's own), or when it belongs to a family `<base>_<digits>` with at least two different
    digit suffixes. `f1_macro` is never a class: averages are not in the class names and have
    no digits. Panel order: other scalar metrics; each per-class family right after its
    averages (`f1_macro`, `f1_weighted`, then f1 per class); losses last.
    """
    names = list(class_names) if class_names is not None else (history.class_names or [])
    parsed: dict[str, tuple[Split, str]] = {k: split_key(k, history) for k in history.scalars}

    families: dict[str, set[str]] = {}
    for _, name in parsed.values():
        m = _DIGITS.match(name)
        if m:
            families.setdefault(m.group(1), set()).add(m.group(2))
    digit_bases = {base for base, suffixes in families.items() if len(suffixes) >= 2}

    classes: list[str] = list(names)
    order: list[str] = []
    panels: dict[str, Panel] = {}
    for key, (split, name) in parsed.items():
        found = _class_of(name, names) if names else None
        if found is None:
            m = _DIGITS.match(name)
            if m and m.group(1) in digit_bases:
                found = (m.group(1), m.group(2))
                if m.group(2) not in classes:
                    classes.append(m.group(2))
        metric, cls = found if found else (name, None)
        pkey = metric + ("\0per-class" if cls is not None else "")
        if pkey not in panels:
            direction = metric_direction(key, history.directions)
            panels[pkey] = Panel(metric, cls is not None, [], direction)
            order.append(pkey)
        panels[pkey].series.append(Series(key, split, cls, history.scalars[key]))

    if not names:  # digit suffixes only: order classes numerically
        classes.sort(key=int)
    rank = {c: i for i, c in enumerate(classes)}
    for p in panels.values():
        p.series.sort(key=lambda s: (rank.get(s.cls, -1) if s.cls else -1, s.split != "train"))

    # Each per-class family comes right after its averages (f1_macro, then f1 per class).
    families_order = [panels[k].metric for k in order if panels[k].per_class]

    def position(p: Panel) -> tuple[int, int, int]:
        if p.direction == "down" and not p.per_class:
            return (2, 0, 0)
        base = p.metric if p.per_class else _AVERAGE.sub("", p.metric)
        if base in families_order:
            return (1, families_order.index(base), int(p.per_class))
        return (0, 0, 0)

    ordered = sorted((panels[k] for k in order), key=position)
    used = {s.cls for p in ordered for s in p.series if s.cls is not None}
    return ordered, [c for c in classes if c in used]


def is_quiet(panel: Panel) -> bool:
    """Panels not drawn by default (constant per-class support)."""
    return panel.per_class and panel.metric.split("_")[-1] in _QUIET_FAMILIES


def best_index(values: Sequence[float], direction: str) -> int | None:
    """Index of the best finite value (first one on ties), or None when there is none."""
    arr = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        return None
    masked = np.where(finite, arr, -np.inf if direction == "up" else np.inf)
    return int(np.argmax(masked) if direction == "up" else np.argmin(masked))
