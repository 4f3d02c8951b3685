"""What log keys mean: train or validation, metric and class, better up or down.

`val_f1_cat` is the validation F1 of class "cat"; `f1_macro` the training macro F1; keys that
end with a class name, or families `<base>_<digits>`, are per-class. `group_panels` groups a
history's keys into panels (one metric each, its train and validation series, one series per
class for a per-class metric); the plots draw them, the run reader takes class names, best
epochs and per-class tables from them. Nothing here draws.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from epochmetrics._files.history import History
from epochmetrics._types import Direction

__all__ = [
    "COMPANIONS",
    "VAL_PREFIX",
    "Panel",
    "Series",
    "best_index",
    "class_of",
    "companion_of",
    "digit_families",
    "group_panels",
    "metric_direction",
    "per_class_key",
    "split_key",
]

Split = Literal["train", "val"]

VAL_PREFIX = "val_"
# Lower-is-better metric names; everything else (our metrics) is higher-is-better.
_DOWN_WORDS = ("loss", "error", "mse", "mae", "mape")  # rmse contains mse
_DIGITS = re.compile(r"^(.+)_(\d+)$")
_AVERAGE = re.compile(r"_(macro|micro|weighted)$")
# What the evaluator derives from a key K (`EpochEvaluator(confidence=..., noise_aware=...)`):
# its interval `K_low`, `K_high` and its noise-aware monitor `K_sig`, `K_p_better`. Drawn with
# K (a band, a held line), never as metrics of their own.
COMPANIONS = ("_low", "_high", "_sig", "_p_better")


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


def split_key(key: str, history: History) -> tuple[Split, str]:
    """`val_f1_macro` -> ("val", "f1_macro"); evaluator keys are all validation results."""
    if key.startswith(VAL_PREFIX):
        return "val", key[len(VAL_PREFIX) :]
    return ("val" if history.evaluation_only else "train"), key


def companion_of(key: str, keys: Mapping[str, object]) -> tuple[str, str] | None:
    """`("val_f1_macro", "_low")` for `val_f1_macro_low` when `val_f1_macro` is among `keys`."""
    for suffix in COMPANIONS:
        if key.endswith(suffix) and key[: -len(suffix)] in keys:
            return key[: -len(suffix)], suffix
    return None


def class_of(name: str, class_names: Collection[str]) -> tuple[str, str] | None:
    """`("f1", "cat")` for `f1_cat` when "cat" is a class name; None otherwise.

    The longest class name wins: class "b_c" over class "c" for key "f1_b_c". One set lookup
    per "_" of the key (pass a set to look up many keys against 1,000 classes cheaply).
    """
    names = class_names if isinstance(class_names, (set, frozenset)) else set(class_names)
    start = name.find("_", 1)  # a non-empty metric name before the class
    while start != -1:
        if name[start + 1 :] in names:
            return name[:start], name[start + 1 :]
        start = name.find("_", start + 1)
    return None


def digit_families(names: Iterable[str]) -> set[str]:
    """Bases `b` of keys `b_<digits>` with at least two different digit suffixes: families of
    per-class keys without class names (`f1_0`, `f1_1`), never a lone renamed `recall_1`."""
    families: dict[str, set[str]] = {}
    for name in names:
        m = _DIGITS.match(name)
        if m:
            families.setdefault(m.group(1), set()).add(m.group(2))
    return {base for base, suffixes in families.items() if len(suffixes) >= 2}


def per_class_key(
    name: str, class_names: Collection[str], digit_bases: set[str]
) -> tuple[str, str] | None:
    """`(metric, class)` when log key `name` (without "val_") is a per-class key: it ends
    with `_<class>` for a known class name, or is `<base>_<digits>` of a digit family."""
    found = class_of(name, class_names) if class_names else None
    if found is None:
        m = _DIGITS.match(name)
        if m and m.group(1) in digit_bases:
            found = (m.group(1), m.group(2))
    return found


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
    parsed: dict[str, tuple[Split, str]] = {
        k: split_key(k, history)
        for k in history.scalars
        if companion_of(k, history.scalars) is None  # drawn with their key
    }

    digit_bases = digit_families(name for _, name in parsed.values())
    lookup = frozenset(names)

    classes: list[str] = list(names)
    order: list[str] = []
    panels: dict[str, Panel] = {}
    for key, (split, name) in parsed.items():
        found = per_class_key(name, lookup, digit_bases)
        if found is not None and found[1] not in classes:
            classes.append(found[1])  # a digit suffix
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


def best_index(values: Sequence[float], direction: str) -> int | None:
    """Index of the best finite value (first one on ties), or None when there is none."""
    arr = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        return None
    masked = np.where(finite, arr, -np.inf if direction == "up" else np.inf)
    return int(np.argmax(masked) if direction == "up" else np.argmin(masked))
