"""Where an epoch's scalar logs go in TensorBoard: tags per run, classes grouped, charts.

Keras' TensorBoard callback writes `val_<key>` as `epoch_<key>` in the `validation` run and
`<key>` as `epoch_<key>` in the `train` run; `em.TensorBoard` does the same, and groups
per-class keys (`val_f1_cat` -> tag `f1/cat`), keeping at most `max_classes` classes per
metric. An interval `K_low`, `K_high` (`EpochEvaluator(confidence=...)`) is written next to
K (`epoch_K_low`, or `f1_low/cat` for the per-class `f1/cat`) and drawn as a band: a Custom
Scalars margin chart (value, lower, upper tags), beside the multiline chart of each per-class
metric.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from epochmetrics._files.keys import companion_of, digit_families, per_class_key
from epochmetrics.callbacks._sources import run_of, select_rows

__all__ = ["BOUNDS", "EpochScalars", "Margin", "epoch_scalars", "layout"]

RUNS = ("train", "validation")
BOUNDS = ("_low", "_high")  # an interval's keys: K_low, K_high
# A margin chart: (category, title, value tag, lower tag, upper tag).
Margin = tuple[str, str, str, str, str]


@dataclass
class EpochScalars:
    """One epoch's scalars: `{run: {tag: value}}`, the per-class families among them, and the
    margin charts of the intervals."""

    tags: dict[str, dict[str, float]] = field(default_factory=lambda: {r: {} for r in RUNS})
    families: set[str] = field(default_factory=set)
    margins: set[Margin] = field(default_factory=set)


def epoch_scalars(
    values: Mapping[str, float],
    labels: Collection[str],
    max_classes: int | None,
    *,
    plain: bool = True,
) -> EpochScalars:
    """The tags of the scalar logs `values` (keys as in the logs, `val_` for validation).

    `labels`: the class names of per-class keys; `plain=False` leaves out the `epoch_<key>`
    scalars (Keras' own callback writes them) but keeps their margin charts.
    """
    split: dict[str, dict[str, float]] = {run: {} for run in RUNS}
    for key, value in values.items():
        run, name = run_of(key)
        split[run][name] = value
    lookup = frozenset(labels)
    bases = digit_families(name for run in split.values() for name in run)
    out = EpochScalars()
    families: dict[str, dict[str, dict[str, float]]] = {}  # family -> run -> class -> value
    # family -> run -> (class, "_low" | "_high") -> a bound of a per-class key's interval
    bounds: dict[str, dict[str, dict[tuple[str, str], float]]] = {}
    for run, items in split.items():
        for name, value in items.items():
            companion = companion_of(name, items)
            if companion is not None and companion[1] in BOUNDS:
                base, bound = companion
                found = per_class_key(base, lookup, bases)
                if found is not None:  # goes with its class: `f1_low/cat`, kept as `f1/cat` is
                    bounds.setdefault(found[0], {}).setdefault(run, {})[found[1], bound] = value
                    continue
                if all(base + b in items for b in BOUNDS):
                    low, high = (f"epoch_{base}{b}" for b in BOUNDS)
                    out.margins.add(("intervals", base, f"epoch_{base}", low, high))
            found = per_class_key(name, lookup, bases)
            if found is None:
                if plain:
                    out.tags[run][f"epoch_{name}"] = value
                continue
            family, cls = found
            families.setdefault(family, {}).setdefault(run, {})[cls] = value
    for family, runs in families.items():
        ranked = runs.get("validation") or runs["train"]
        names = list(ranked)
        keep = {names[i] for i in select_rows(ranked.values(), max_classes)}
        for run, per_class in runs.items():
            for cls, value in per_class.items():
                if cls in keep:
                    out.tags[run][f"{family}/{cls}"] = value
        for run, per_bound in bounds.get(family, {}).items():
            for (cls, bound), value in per_bound.items():
                if cls not in keep:
                    continue
                out.tags[run][f"{family}{bound}/{cls}"] = value
                if all((cls, b) in per_bound for b in BOUNDS):
                    tag = f"{family}/{cls}"
                    low, high = (f"{family}{b}/{cls}" for b in BOUNDS)
                    out.margins.add((f"{family} intervals", tag, tag, low, high))
    out.families = set(families)
    return out


def layout(
    families: Collection[str], margins: Collection[Margin]
) -> tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, list[tuple[str, str, str]]]]]:
    """The Custom Scalars layout for `EventWriter.layout`: one multiline chart per per-class
    family (category "per class"), and one margin chart per interval (category "intervals"
    for plain keys, "<family> intervals" for a family's classes)."""
    charts = {"per class": {f: [f"^{re.escape(f)}/"] for f in sorted(families)}}
    bands: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
    for category, title, value, lower, upper in sorted(margins):
        bands.setdefault(category, {})[title] = [(value, lower, upper)]
    return charts, bands
