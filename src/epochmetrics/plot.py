"""Figures of a training run: metric curves per epoch (per class too) and confusion matrices.

matplotlib is optional (`pip install 'epochmetrics[plot]'`) and imported inside the functions.
Figures are built on matplotlib's Agg canvas without pyplot: nothing is shown, no global
backend is switched, and the caller owns the returned `Figure` (`fig.savefig(...)`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from epochmetrics import _history
from epochmetrics._history import Panel, Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ConfusedPair", "most_confused", "plot_confusion_matrix", "plot_history"]

INSTALL_HINT = "pip install 'epochmetrics[plot]'"
# Up to this many classes every class gets its own colour; above, only the best and worst do.
MAX_COLOURED_CLASSES = 10
# Above this many classes the cells of a confusion matrix are too small to annotate.
MAX_ANNOTATED_CLASSES = 30
SCALAR_COLOUR = "#1f4e79"
FADED_COLOUR = "#b8b8b8"
STYLE: dict[str, Any] = {"train": "--", "val": "-"}
# matplotlib's "tab10" colours, as hex for stable use in legends and tests.
TAB10 = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip
Normalize = Literal["true", "pred", "all"] | None


def _new_figure(width: float, height: float) -> Figure:
    """A Figure on the Agg canvas (no pyplot); ImportError with a hint without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            f"epochmetrics plots need matplotlib, an optional dependency. Install it with: "
            f"{INSTALL_HINT}"
        ) from e
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# --- training curves --------------------------------------------------------------------------


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
    or lowest for names containing "loss" (or as the evaluator's `directions` say).

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
    history = _history.load_history(source)
    panels, classes = _history.group_panels(history, class_names)
    selected = _select(panels, metrics, per_class)
    axes = _axes_for(selected, ax)
    fig = axes[0].figure
    drawn_classes = [c for c in classes if any(s.cls == c for p in selected for s in p.series)]
    colours, ranked = _class_colours(history, selected, drawn_classes, highlight)

    for a, panel in zip(axes, selected, strict=True):
        _draw_panel(a, panel, history, colours)

    handles = _legend_handles(selected, drawn_classes, colours, ranked)
    if ax is None:
        fig.legend(handles=handles, loc="outside right upper", fontsize="small", frameon=False)
    else:
        axes[-1].legend(handles=handles, fontsize="small", loc="best")
    return fig  # type: ignore[return-value]


def _select(panels: list[Panel], metrics: Any, per_class: bool) -> list[Panel]:
    available = [p for p in panels if per_class or not p.per_class]
    if metrics is None:
        selected = [p for p in available if not _history.is_quiet(p)]
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        selected = []
        for name in names:
            base = name.removeprefix(_history.VAL_PREFIX)
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
    fig = _new_figure(5.2 * ncols + 2.2, 3.4 * nrows + 0.4)
    grid = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for extra in grid[n:]:
        extra.remove()
    return grid[:n]


def _reference(panel: Panel, history: _history.History) -> tuple[str, list[float], str] | None:
    """The series whose best epoch a panel marks: (name, values, direction)."""
    val = [s for s in panel.series if s.split == "val"]
    if not panel.per_class:
        s = val[0] if val else panel.series[0]
        return s.split, s.values, panel.direction
    splits = ("val", "train") if val else ("train",)
    for split in splits:
        for avg in ("macro", "weighted", "micro"):
            key = f"{panel.metric}_{avg}"
            for k in (f"{_history.VAL_PREFIX}{key}", key):
                if k in history.scalars and _history.split_key(k, history)[0] == split:
                    return k, history.scalars[k], panel.direction
    chosen = val or panel.series
    with np.errstate(all="ignore"):
        rows = np.array([s.values for s in chosen], dtype=np.float64)
        mean = np.nanmean(np.where(np.isfinite(rows), rows, np.nan), axis=0) if rows.size else []
    return (
        f"mean {chosen[0].split} over classes",
        list(np.asarray(mean, dtype=np.float64)),
        (panel.direction),
    )


def _class_colours(
    history: _history.History, selected: list[Panel], classes: list[str], highlight: int
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
    idx = _history.best_index(ref[1], ref_panel.direction) if ref else None
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


def _draw_panel(ax: Axes, panel: Panel, history: _history.History, colours: dict[str, str]) -> None:
    from matplotlib.ticker import MaxNLocator

    x = history.epochs
    marker = "." if len(x) <= 40 else None
    for s in panel.series:
        _draw_series(ax, x, s, panel.per_class, colours, marker)
    ref = _reference(panel, history)
    title = f"{panel.metric} per class" if panel.per_class else panel.metric
    if ref is not None:
        name, values, direction = ref
        i = _history.best_index(values, direction)
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


def _legend_handles(
    selected: list[Panel], classes: list[str], colours: dict[str, str], ranked: list[Any]
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
    handles.append(Line2D([], [], color="#555555", linestyle=":", label="best epoch"))
    return handles


# --- confusion matrix -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfusedPair:
    """An off-diagonal cell: `count` samples of class `true` predicted as `pred`.

    `rate` is the share of the true class sent there: count / (samples of `true`).
    """

    true: str
    pred: str
    count: float
    rate: float


def _as_matrix(cm: Any) -> np.ndarray:
    try:
        m = np.asarray(cm, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        import keras

        m = np.asarray(keras.ops.convert_to_numpy(cm), dtype=np.float64)
    if m.ndim == 3 and m.shape[1:] == (2, 2):
        raise ValueError(
            f"Expected a (C, C) confusion matrix. Received shape {m.shape}: multilabel "
            "matrices are one (2, 2) matrix per label; pass one of them, e.g. cm[i]."
        )
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"Expected a square (C, C) confusion matrix. Received shape {m.shape}.")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ValueError("A confusion matrix holds finite, non-negative counts.")
    return m


def _names(class_names: Sequence[Any] | None, n: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(n)]
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(
            f"`class_names` must name the {n} classes of the matrix. Received {len(names)} names."
        )
    return names


def most_confused(
    cm: Any,
    class_names: Sequence[Any] | None = None,
    k: int = 5,
    *,
    by: Literal["count", "rate"] = "count",
) -> list[ConfusedPair]:
    """The `k` largest off-diagonal cells of a confusion matrix (rows true, columns predicted).

    Args:
        cm: a `(C, C)` matrix of counts (NumPy array, nested lists or a tensor).
        class_names: names of the C classes; indices by default.
        k: how many pairs to return at most; cells with no samples are never returned.
        by: rank by "count" or by "rate" (share of the true class sent to that prediction,
            which favours small classes).

    Returns:
        A list of `ConfusedPair(true, pred, count, rate)`, most confused first.

    Raises:
        ValueError: a matrix that is not square, non-finite or negative, or a wrong `by`.

    Examples:
        >>> from epochmetrics.plot import most_confused
        >>> cm = [[50, 2, 0], [9, 30, 1], [0, 4, 6]]
        >>> [(p.true, p.pred, p.count) for p in most_confused(cm, ["cat", "dog", "fox"], k=2)]
        [('dog', 'cat', 9.0), ('fox', 'dog', 4.0)]
        >>> most_confused(cm, ["cat", "dog", "fox"], k=1, by="rate")[0].true
        'fox'
    """
    if by not in ("count", "rate"):
        raise ValueError(f"`by` must be 'count' or 'rate'. Received: by={by!r}.")
    m = _as_matrix(cm)
    names = _names(class_names, m.shape[0])
    support = m.sum(axis=1)
    pairs = []
    for i, j in zip(*np.nonzero(m), strict=True):
        if i != j:
            rate = float(m[i, j] / support[i])
            pairs.append(ConfusedPair(names[i], names[j], float(m[i, j]), rate))
    first, second = ("count", "rate") if by == "count" else ("rate", "count")
    pairs.sort(key=lambda p: (-getattr(p, first), -getattr(p, second)))
    return pairs[: max(0, k)]


def _normalized(m: np.ndarray, normalize: Normalize) -> np.ndarray:
    if normalize is None:
        return m
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    total = m.sum(axis=axis, keepdims=axis is not None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, m / np.where(total > 0, total, 1), 0.0)


def _count_text(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3g}"


def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[Any] | None = None,
    normalize: Normalize = None,
    ax: Axes | None = None,
    *,
    annotate: bool | None = None,
    top_k: int = 3,
    title: str | None = None,
) -> Figure:
    """Draw a confusion matrix (rows true, columns predicted) with a colour bar.

    Cells show counts, or rates with `normalize` ("true": share of each true class, i.e. recall
    on the diagonal; "pred": share of each predicted class, i.e. precision on the diagonal;
    "all": share of all samples), with the counts under the rates up to 10 classes. Cells are
    annotated up to 30 classes. The title lists the most confused pairs (by rate of the true
    class with normalize="true", else by count); see `most_confused`.

    Args:
        cm: a `(C, C)` matrix of counts (NumPy array, nested lists, a tensor, or the result of
            `em.ConfusionMatrix(...).matrix()`).
        class_names: names of the C classes; indices by default.
        normalize: None (counts), "true", "pred" or "all".
        ax: Axes to draw into; None creates a new figure.
        annotate: write values in the cells; None does so up to 30 classes.
        top_k: how many most confused pairs the title lists (0: none).
        title: first line of the title; default "Confusion matrix".

    Returns:
        The matplotlib Figure.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: a matrix that is not square, non-finite or negative; wrong `class_names`
            length or `normalize` value.

    Examples:
        >>> import epochmetrics as em
        >>> fig = em.plot_confusion_matrix([[8, 2], [1, 9]], ["neg", "pos"], normalize="true")
        >>> print(fig.axes[0].get_title())
        Confusion matrix (normalised over true classes)
        Most confused (true → predicted): neg → pos: 2 (20%), pos → neg: 1 (10%)
        >>> [t.get_text() for t in fig.axes[0].texts]
        ['0.80\\n(8)', '0.20\\n(2)', '0.10\\n(1)', '0.90\\n(9)']
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(
            f"`normalize` must be None, 'true', 'pred' or 'all'. Received: normalize={normalize!r}."
        )
    m = _as_matrix(cm)
    n = m.shape[0]
    names = _names(class_names, n)
    values = _normalized(m, normalize)
    if ax is None:
        side = min(max(4.0 + 0.34 * n, 5.0), 14.0)
        fig = _new_figure(side + 1.6, side + 0.6)
        ax = fig.add_subplot()
    else:
        fig = ax.figure  # type: ignore[assignment]

    vmax = 1.0 if normalize is not None else max(float(values.max()), 1.0)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    bar_label = {
        None: "count",
        "true": "share of true class",
        "pred": "share of predicted class",
        "all": "share of all samples",
    }[normalize]
    fig.colorbar(image, ax=ax, label=bar_label, shrink=0.8)

    step = max(1, math.ceil(n / MAX_ANNOTATED_CLASSES))
    ticks = list(range(0, n, step))
    rotate = 90 if n > 20 else (45 if max(len(s) for s in names) > 3 else 0)
    tick_size = "small" if n <= 15 else "x-small"
    ax.set_xticks(
        ticks,
        [names[i] for i in ticks],
        rotation=rotate,
        fontsize=tick_size,
        ha="right" if rotate == 45 else "center",
        rotation_mode="anchor" if rotate == 45 else "default",
    )
    ax.set_yticks(ticks, [names[i] for i in ticks], fontsize=tick_size)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")

    if annotate if annotate is not None else n <= MAX_ANNOTATED_CLASSES:
        _annotate(ax, m, values, normalize, vmax)

    heading = title if title is not None else "Confusion matrix"
    if normalize is not None and title is None:
        heading += {
            "true": " (normalised over true classes)",
            "pred": " (normalised over predicted classes)",
            "all": " (normalised over all samples)",
        }[normalize]
    pairs = most_confused(m, names, top_k, by="rate" if normalize == "true" else "count")
    if pairs:
        heading += "\n" + _wrap_pairs(pairs)
    ax.set_title(heading, fontsize="medium")
    return fig  # type: ignore[return-value]


def _wrap_pairs(pairs: list[ConfusedPair], width: int = 90) -> str:
    """'Most confused (true → predicted): a → b: 12 (9%), ...', broken only between pairs."""
    lines = ["Most confused (true → predicted):"]
    for k, p in enumerate(pairs):
        item = f"{p.true} → {p.pred}: {_count_text(p.count)} ({p.rate:.0%})"
        item += "," if k < len(pairs) - 1 else ""
        if len(lines[-1]) + 1 + len(item) > width:
            lines.append(item)
        else:
            lines[-1] += " " + item
    return "\n".join(lines)


def _annotate(
    ax: Axes, m: np.ndarray, values: np.ndarray, normalize: Normalize, vmax: float
) -> None:
    n = m.shape[0]
    size = float(np.clip(100 / n, 5, 12))
    with_counts = normalize is not None and n <= 10
    for i in range(n):
        for j in range(n):
            v = values[i, j]
            if m[i, j] == 0 and n > 5:
                continue  # empty cells stay blank so the errors stand out
            if normalize is None:
                text = _count_text(v)
            else:
                text = f"{v:.2f}" + (f"\n({_count_text(m[i, j])})" if with_counts else "")
            colour = "white" if v > 0.6 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=size)
