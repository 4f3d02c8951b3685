"""Per-class PR and ROC curves from counts at thresholds, and confusion matrices over epochs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from epochmetrics._docs import docstring
from epochmetrics._files.matrix import confusion_counts
from epochmetrics.plot._mpl import new_figure
from epochmetrics.plot.history import FADED_COLOUR, TAB10

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_confusion_matrices", "plot_pr_roc"]

# Up to this many classes each has its own colour; above, the worst and best by area do.
MAX_COLOURED = 10


_ROWS = ("tp", "fp", "tn", "fn")


def _rates(curves: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp, fp, tn, fn = (np.asarray(getattr(curves, r), dtype=np.float64) for r in _ROWS)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        fpr = np.where(fp + tn > 0, fp / (fp + tn), np.nan)
    return precision, recall, fpr


def _area(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoid area of a curve given at descending thresholds (x decreasing)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    order = np.argsort(x[ok], kind="stable")
    xs, ys = x[ok][order], y[ok][order]
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))


@docstring()
def plot_pr_roc(curves: Any, *, title: str | None = None, highlight: int = 3) -> Figure:
    """Per-class precision-recall and ROC curves, side by side, from counts at thresholds.

    Args:
        curves: per-class counts at thresholds: any object with `labels` (K), `tp`, `fp`,
            `tn`, `fn` `(K, T)` (`AUROC(...).threshold_counts()`, or a run directory's
            curves.json read by `epochmetrics._files.curves`).
        title: the figure's title.
        highlight: with more than 10 classes, how many worst and best classes (by the area
            under their PR curve) are coloured; the others are drawn faded.

    Returns:
        The matplotlib Figure; each legend entry gives the class's areas (PR, ROC) computed
        from the points (trapezoids), close to AP and ROC-AUC for fine grids.

    Examples:
        >>> from epochmetrics._files.curves import Curves
        >>> import numpy as np
        >>> c = Curves(["cat"], np.linspace(0, 1, 3), np.array([[2.0, 1, 0]]),
        ...            np.array([[2.0, 0, 0]]), np.array([[0.0, 2, 2]]), np.array([[0.0, 1, 2]]))
        >>> [ax.get_title() for ax in plot_pr_roc(c).axes]
        ['Precision-recall', 'ROC']
    """
    labels = [str(label) for label in curves.labels]
    precision, recall, fpr = _rates(curves)
    pr_area = [_area(recall[k], precision[k]) for k in range(len(labels))]
    roc_area = [
        _area(np.append(fpr[k], [0.0, 1.0]), np.append(recall[k], [0.0, 1.0]))
        for k in range(len(labels))
    ]
    colours = _colours(labels, pr_area, highlight)
    fig = new_figure(11.0, 4.8)
    ax_pr, ax_roc = fig.subplots(1, 2)
    for k, label in enumerate(labels):
        colour = colours.get(label)
        style = (
            {"color": colour, "linewidth": 1.8, "zorder": 3}
            if colour
            else {"color": FADED_COLOUR, "linewidth": 0.8, "alpha": 0.7, "zorder": 1}
        )
        name = f"{label} (PR {pr_area[k]:.3f}, ROC {roc_area[k]:.3f})" if colour else None
        ax_pr.plot(recall[k], precision[k], label=name, drawstyle="steps-post", **style)
        ax_roc.plot(fpr[k], recall[k], label=name, **style)
    ax_roc.plot([0, 1], [0, 1], color="#888888", linestyle=":", linewidth=1, zorder=0)
    for ax, xlabel, ylabel, heading in (
        (ax_pr, "Recall", "Precision", "Precision-recall"),
        (ax_roc, "False positive rate", "True positive rate (recall)", "ROC"),
    ):
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel=xlabel, ylabel=ylabel)
        ax.set_title(heading)
        ax.grid(alpha=0.3)
    if colours:
        ax_roc.legend(loc="lower right", fontsize="small")
    if len(colours) < len(labels):
        note = f"{len(labels) - len(colours)} other classes in grey"
        ax_pr.text(0.02, 0.02, note, transform=ax_pr.transAxes, fontsize="small", color="#555")
    if title:
        fig.suptitle(title)
    return fig  # type: ignore[return-value]


def _colours(labels: list[str], areas: list[float], highlight: int) -> dict[str, str]:
    if len(labels) <= MAX_COLOURED:
        return {c: TAB10[i % 10] for i, c in enumerate(labels)}
    ranked = sorted(
        range(len(labels)), key=lambda i: -math.inf if math.isnan(areas[i]) else areas[i]
    )
    k = max(0, highlight)
    picked = ranked[:k] + [i for i in ranked[-k:] if i not in ranked[:k]] if k else []
    return {labels[i]: TAB10[n % 10] for n, i in enumerate(picked)}


@docstring()
def plot_confusion_matrices(
    matrices: Sequence[tuple[int, Any]],
    class_names: Sequence[str] | None = None,
    *,
    best_epoch: int | None = None,
    max_panels: int = 12,
) -> Figure:
    """Small multiples: one confusion matrix per epoch, normalised over true classes.

    Args:
        matrices: `(epoch, (C, C) counts)` pairs, oldest first.
        class_names: the C class names (tick labels up to 20 classes).
        best_epoch: its panel is framed and titled "best".
        max_panels: with more epochs, this many evenly spaced ones (the first, the last and
            the best always among them).

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: no matrices, or matrices that are not square counts of one size.
    """
    if not matrices:
        raise ValueError("`matrices` is empty: there is no confusion matrix to draw.")
    picked = _pick_epochs([e for e, _ in matrices], best_epoch, max(1, max_panels))
    chosen = [
        (e, confusion_counts(np.asarray(m, dtype=np.float64))) for e, m in matrices if e in picked
    ]
    n = chosen[0][1].shape[0]
    if any(m.shape != (n, n) for _, m in chosen):
        raise ValueError("The confusion matrices of a run must all have the same size.")
    cols = min(4, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    fig = new_figure(3.0 * cols + 0.8, 3.0 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    image = None
    for ax, (epoch, m) in zip(axes, chosen, strict=False):
        support = m.sum(axis=1, keepdims=True)
        rates = np.where(support > 0, m / np.where(support > 0, support, 1.0), 0.0)
        image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
        best = epoch == best_epoch
        heading = f"epoch {epoch}" + (" (best)" if best else "")
        ax.set_title(heading, fontweight="bold" if best else "normal", fontsize="medium")
        if best:
            for side in ax.spines.values():
                side.set(color="#d4a017", linewidth=3)
        if class_names is not None and n <= 20:
            ticks = list(range(n))
            ax.set_xticks(ticks, list(class_names), fontsize="x-small", rotation=90)
            ax.set_yticks(ticks, list(class_names), fontsize="x-small")
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax in axes[len(chosen) :]:
        ax.set_axis_off()
    if image is not None:
        label = "share of true class (recall on the diagonal)"
        fig.colorbar(image, ax=list(axes[: len(chosen)]), shrink=0.8, label=label)
    fig.suptitle("Confusion matrices by epoch (rows: true class, columns: predicted)")
    return fig  # type: ignore[return-value]


def _pick_epochs(epochs: list[int], best: int | None, limit: int) -> set[int]:
    if len(epochs) <= limit:
        return set(epochs)
    must = {epochs[0], epochs[-1]} | ({best} if best in epochs else set())
    spots = np.linspace(0, len(epochs) - 1, max(limit - len(must), 0) + 2).round().astype(int)
    picked = must | {epochs[i] for i in spots}
    while len(picked) > limit:  # rounding may have added one too many: drop a middle one
        extra = sorted(picked - must)
        picked.discard(extra[len(extra) // 2])
    return picked
