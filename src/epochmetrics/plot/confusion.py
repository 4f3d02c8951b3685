"""Confusion-matrix figures and the most confused pairs (re-exported by `epochmetrics.plot`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from epochmetrics._backend.host import to_numpy
from epochmetrics._docs import docstring
from epochmetrics._files.matrix import confusion_counts
from epochmetrics._types import Normalize
from epochmetrics.plot._mpl import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ConfusedPair", "most_confused", "plot_confusion_matrix"]

# Above this many classes the cells of a confusion matrix are too small to annotate.
MAX_ANNOTATED_CLASSES = 30


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
    # Tensors of any framework (bfloat16 included) without importing one.
    return confusion_counts(to_numpy(cm))


def _names(class_names: Sequence[Any] | None, n: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(n)]
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(
            f"`class_names` must name the {n} classes of the matrix. Received {len(names)} names."
        )
    return names


@docstring()
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


@docstring()
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
        fig = new_figure(side + 1.6, side + 0.6)
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
