"""Metric curves per epoch, per class too: what to draw of a history, and how.

The history is read by `epochmetrics._files.history` and its keys grouped into panels by
`epochmetrics._files.keys`; here: which panels to draw, which classes to colour, which epoch
to mark as the best, and the drawing itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from epochmetrics._docs import docstring
from epochmetrics._files.history import History, read_history
from epochmetrics._files.keys import (
    VAL_PREFIX,
    Panel,
    Series,
    best_index,
    group_panels,
    split_key,
)
from epochmetrics.plot._mpl import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_history"]

# Up to this many classes every class gets its own colour; above, only the best and worst do.
MAX_COLOURED_CLASSES = 10
SCALAR_COLOUR = "#1f4e79"
FADED_COLOUR = "#b8b8b8"
STYLE: dict[str, Any] = {"train": "--", "val": "-"}
# matplotlib's "tab10" colours, as hex for stable use in legends and tests.
# Per-class families not drawn unless asked for: support is constant.
QUIET_FAMILIES = ("support",)
TAB10 = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


@docstring()
def plot_history(
    source: Any,
    metrics: str | Sequence[str] | None = None,
    per_class: bool = True,
    ax: Axes | Sequence[Axes] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    highlight: int = 3,
) -> Figure:
    """Plot metrics per epoch: one panel per metric, train dashed and validation solid.

    Log keys are grouped into metrics: `f1_macro` and `val_f1_macro` make the panel
    "f1_macro"; per-class keys `f1_<class>` / `val_f1_<class>` make the panel "f1" with one
    line per class, each class in the same colour in every panel. Per-class keys are recognised
    from the class names (`class_names=`, else those an evaluator history declares, else the
    `class_names` of a run.json next to a history file), else as a family `<base>_<digits>`
    with at least two suffixes. With more than 10 classes only the
    `highlight` worst and best classes (by the first per-class metric at its best epoch) are
    coloured; the others are drawn faded. The best epoch of each panel is marked: highest value,
    or lowest for names containing "loss" (or as the evaluator's `directions` say). Where the
    history has an `EpochEvaluator(confidence=...)` interval of a line (`K_low`, `K_high`) it
    is drawn as a band around it, and a noise-aware monitor (`K_sig`) as a dotted held line.

    Args:
        source: a keras `History`, a `history.history` dict, the path of a CSVLogger file, an
            `EpochEvaluator.history` dict or the path of its saved JSON.
        metrics: metric names to draw (e.g. `["f1", "f1_macro", "loss"]`, a `val_` prefix is
            ignored); None draws all of them except constant per-class `support`.
        per_class: whether to draw per-class panels.
        ax: an Axes to draw a single panel into, or a sequence of Axes, one per panel;
            None creates a new figure.
        class_names: names of the classes, to recognise per-class keys such as `f1_cat`.
        highlight: number of worst and of best classes coloured when there are many classes.

    Returns:
        The matplotlib Figure.

    Raises:
        ImportError: matplotlib is not installed.
        FileNotFoundError: `source` is a path that does not exist.
        ValueError: a malformed history, an unknown metric name, or `ax` not matching the panels.

    Examples:
        >>> import epochmetrics as em
        >>> logs = {"f1_macro": [0.5, 0.7, 0.6], "val_f1_macro": [0.4, 0.6, 0.65],
        ...         "val_f1_0": [0.5, 0.7, 0.8], "val_f1_1": [0.3, 0.5, 0.5],
        ...         "loss": [1.0, 0.6, 0.5]}
        >>> fig = em.plot_history(logs)
        >>> [a.get_title() for a in fig.axes]
        ['f1_macro (best val 0.65 at epoch 2)', 'f1 per class (best val_f1_macro at epoch 2)', \
'loss (best train 0.5 at epoch 2)']
    """
    history = read_history(source)
    panels, classes = group_panels(history, class_names)
    selected = _select(panels, metrics, per_class)
    axes = _axes_for(selected, ax)
    fig = axes[0].figure
    drawn_classes = [c for c in classes if any(s.cls == c for p in selected for s in p.series)]
    colours, ranked = _class_colours(history, selected, drawn_classes, highlight)

    for a, panel in zip(axes, selected, strict=True):
        _draw_panel(a, panel, history, colours)

    keys = [s.key for p in selected for s in p.series]
    bands = any(k + "_low" in history.scalars for k in keys)
    held = any(k + "_sig" in history.scalars for k in keys)
    handles = _legend_handles(selected, drawn_classes, colours, ranked, bands, held)
    if ax is None:
        fig.legend(handles=handles, loc="outside right upper", fontsize="small", frameon=False)
    else:
        axes[-1].legend(handles=handles, fontsize="small", loc="best")
    return fig  # type: ignore[return-value]


def _select(panels: list[Panel], metrics: Any, per_class: bool) -> list[Panel]:
    available = [p for p in panels if per_class or not p.per_class]
    if metrics is None:
        selected = [p for p in available if not _is_quiet(p)]
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        selected = []
        for name in names:
            base = name.removeprefix(VAL_PREFIX)
            found = [p for p in available if p.metric == base]
            if not found:
                if any(p.metric == base for p in panels):
                    raise ValueError(
                        f"{name!r} is a per-class metric: pass per_class=True to draw it."
                    )
                known = sorted({p.metric for p in available})
                raise ValueError(f"Unknown metric {name!r}. Available metrics: {known}.")
            selected.extend(p for p in found if p not in selected)
    if not selected:
        raise ValueError("Nothing to plot: the history has no metric series to draw.")
    return selected


def _is_quiet(panel: Panel) -> bool:
    """Panels not drawn by default (constant per-class support)."""
    return panel.per_class and panel.metric.split("_")[-1] in QUIET_FAMILIES


def _axes_for(selected: list[Panel], ax: Any) -> list[Axes]:
    n = len(selected)
    if ax is not None:
        axes = [ax] if hasattr(ax, "plot") else list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != n:
            raise ValueError(
                f"`ax` gives {len(axes)} Axes for {n} panels "
                f"({[p.metric for p in selected]}): pass one Axes per panel, select fewer "
                "`metrics`, or leave ax=None."
            )
        return axes
    ncols = 1 if n == 1 else 2
    nrows = math.ceil(n / ncols)
    fig = new_figure(5.2 * ncols + 2.2, 3.4 * nrows + 0.4)
    grid = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for extra in grid[n:]:
        extra.remove()
    return grid[:n]


def _reference(panel: Panel, history: History) -> tuple[str, list[float], str] | None:
    """The series whose best epoch a panel marks: (name, values, direction)."""
    val = [s for s in panel.series if s.split == "val"]
    if not panel.per_class:
        s = val[0] if val else panel.series[0]
        return s.split, s.values, panel.direction
    splits = ("val", "train") if val else ("train",)
    for split in splits:
        for avg in ("macro", "weighted", "micro"):
            key = f"{panel.metric}_{avg}"
            for k in (f"{VAL_PREFIX}{key}", key):
                if k in history.scalars and split_key(k, history)[0] == split:
                    return k, history.scalars[k], panel.direction
    chosen = val or panel.series
    rows = np.array([s.values for s in chosen], dtype=np.float64)  # (classes, epochs)
    finite = np.isfinite(rows)
    count = finite.sum(axis=0)
    mean = np.where(
        count > 0, np.where(finite, rows, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan
    )
    return (
        f"mean {chosen[0].split} over classes",
        list(np.asarray(mean, dtype=np.float64)),
        (panel.direction),
    )


def _class_colours(
    history: History, selected: list[Panel], classes: list[str], highlight: int
) -> tuple[dict[str, str], list[tuple[str, float]]]:
    """Colour per class; with many classes only the worst and best are coloured.

    Returns the colours and, in highlight mode, a legend header then the (class, value) pairs
    coloured, worst first.
    """
    hexes = TAB10
    if len(classes) <= MAX_COLOURED_CLASSES:
        return {c: hexes[i % 10] for i, c in enumerate(classes)}, []
    per_class = [p for p in selected if p.per_class]
    ref_panel = next((p for p in per_class if p.metric.split("_")[-1] == "f1"), per_class[0])
    ref = _reference(ref_panel, history)
    idx = best_index(ref[1], ref_panel.direction) if ref else None
    val = [s for s in ref_panel.series if s.split == "val"] or ref_panel.series
    scores = []
    for s in val:
        v = s.values[idx if idx is not None else -1]
        if math.isfinite(v):
            scores.append((s.cls, v))
    scores.sort(key=lambda cv: cv[1], reverse=ref_panel.direction == "down")
    k = max(0, highlight)
    picked = scores[:k] + [cv for cv in scores[-k:] if cv not in scores[:k]] if k else []
    colours = {cls: hexes[i % 10] for i, (cls, _) in enumerate(picked) if cls is not None}
    epoch = history.epochs[idx if idx is not None else -1]
    header = f"worst and best {val[0].split} {ref_panel.metric}, epoch {epoch}:"
    return colours, [(header, math.nan)] + [(str(c), v) for c, v in picked]


def _draw_panel(ax: Axes, panel: Panel, history: History, colours: dict[str, str]) -> None:
    from matplotlib.ticker import MaxNLocator

    x = history.epochs
    marker = "." if len(x) <= 40 else None
    for s in panel.series:
        _draw_series(ax, x, s, panel.per_class, colours, marker)
        _draw_companions(ax, x, s, history, panel.per_class, colours)
    ref = _reference(panel, history)
    title = f"{panel.metric} per class" if panel.per_class else panel.metric
    if ref is not None:
        name, values, direction = ref
        i = best_index(values, direction)
        if i is not None:
            ax.axvline(x[i], color="#555555", linestyle=":", linewidth=1.2, zorder=0, label="best")
            if panel.per_class:
                title += f" (best {name} at epoch {x[i]})"
            else:
                ax.plot(
                    [x[i]],
                    [values[i]],
                    marker="*",
                    markersize=12,
                    color="#d4a017",
                    markeredgecolor="black",
                    zorder=5,
                    linestyle="none",
                    label="best value",
                )
                title += f" (best {name} {values[i]:.4g} at epoch {x[i]})"
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel("epoch")
    ax.set_ylabel(panel.metric)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


def _draw_series(
    ax: Axes, x: list[int], s: Series, per_class: bool, colours: dict[str, str], marker: Any
) -> None:
    style = STYLE[s.split]
    if not per_class:
        ax.plot(x, s.values, style, color=SCALAR_COLOUR, label=s.key, linewidth=1.8, marker=marker)
    elif s.cls in colours:
        ax.plot(
            x,
            s.values,
            style,
            color=colours[s.cls],
            label=s.key,
            linewidth=1.8,
            zorder=3,
            marker=marker if s.split == "val" else None,
            markersize=4,
        )
    else:
        ax.plot(
            x, s.values, style, color=FADED_COLOUR, label=s.key, linewidth=0.8, alpha=0.7, zorder=1
        )


def _draw_companions(
    ax: Axes, x: list[int], s: Series, history: History, per_class: bool, colours: dict[str, str]
) -> None:
    """The evaluator's interval of a line (`K_low`, `K_high`) as a band around it, and its
    noise-aware monitor (`K_sig`) as a held line."""
    if per_class and s.cls not in colours:
        return  # faded lines: no band
    colour = colours[s.cls] if per_class and s.cls is not None else SCALAR_COLOUR
    low, high = history.scalars.get(s.key + "_low"), history.scalars.get(s.key + "_high")
    if low is not None and high is not None:
        ax.fill_between(
            x, low, high, color=colour, alpha=0.12 if per_class else 0.2, linewidth=0,
            label=f"{s.key} interval", zorder=0,
        )  # fmt: skip
    held = history.scalars.get(s.key + "_sig")
    if held is not None:
        ax.plot(
            x, held, color=colour, linestyle=(0, (1, 1)), drawstyle="steps-post",
            linewidth=1.4, label=f"{s.key}_sig (noise-aware)", zorder=2,
        )  # fmt: skip


def _legend_handles(
    selected: list[Panel],
    classes: list[str],
    colours: dict[str, str],
    ranked: list[Any],
    bands: bool = False,
    held: bool = False,
) -> list[Any]:
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    if any(p.per_class for p in selected):
        if ranked:
            handles.append(Line2D([], [], linestyle="none", label=ranked[0][0]))
            ranked = ranked[1:]
            for cls, v in ranked:
                handles.append(
                    Line2D([], [], color=colours[cls], lw=2, label=f"class {cls}: {v:.3g}")
                )
            rest = len(classes) - len(ranked)
            if rest > 0:
                handles.append(
                    Line2D([], [], color=FADED_COLOUR, lw=1, label=f"{rest} other classes")
                )
        else:
            handles += [Line2D([], [], color=colours[c], lw=2, label=f"class {c}") for c in classes]
    splits = {s.split for p in selected for s in p.series}
    for split, name in (("train", "train"), ("val", "validation")):
        if split in splits:
            handles.append(Line2D([], [], color="black", linestyle=STYLE[split], label=name))
    if bands:
        from matplotlib.patches import Patch

        handles.append(Patch(color=SCALAR_COLOUR, alpha=0.2, label="confidence interval"))
    if held:
        handles.append(
            Line2D([], [], color="black", linestyle=(0, (1, 1)), label="noise-aware best (_sig)")
        )
    handles.append(Line2D([], [], color="#555555", linestyle=":", label="best epoch"))
    return handles
