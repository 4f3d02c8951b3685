"""Predictions of a regression model: predicted against true values, and the residuals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from epochmetrics._backend.host import to_numpy
from epochmetrics._docs import docstring
from epochmetrics.plot._mpl import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_predictions"]

TAB10 = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


@docstring()
def plot_predictions(
    y_true: Any,
    y_pred: Any,
    *,
    output_names: Any = None,
    title: str | None = None,
    max_points: int = 5000,
    seed: int = 0,
    ax: Any = None,
) -> Figure:
    """Predicted against true values (with the line y = x), and a histogram of the residuals.

    Args:
        y_true: Targets, `(n,)` or `(n, D)` (one colour per output); arrays or tensors.
        y_pred: Predictions, the same shape.
        output_names: Names of the D outputs in the legend (indices by default).
        title: The figure's title.
        max_points: At most this many points are drawn (a seeded sample: the histogram uses
            every residual).
        seed: The seed of that sample.
        ax: Two matplotlib Axes to draw in (scatter, histogram); a new figure without.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: shapes that differ, or no finite pair.
        ImportError: matplotlib is not installed.

    Examples:
        >>> from epochmetrics.plot import plot_predictions
        >>> fig = plot_predictions([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.7])
        >>> [a.get_xlabel() for a in fig.axes]
        ['true', 'residual (predicted - true)']
    """
    t, p = (np.asarray(to_numpy(a), dtype=np.float64) for a in (y_true, y_pred))
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape. Received: y_true.shape={t.shape}, "
            f"y_pred.shape={p.shape}."
        )
    t, p = (a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(-1, 1) for a in (t, p))
    finite = np.isfinite(t) & np.isfinite(p)
    if not finite.any():
        raise ValueError("y_true and y_pred have no finite pair of values to draw.")
    if ax is None:
        fig = new_figure(10.5, 4.4)
        scatter, hist = fig.subplots(1, 2)
    else:
        scatter, hist = ax
        fig = scatter.figure
    d = t.shape[1]
    names = (
        [str(n) for n in output_names] if output_names is not None else [str(k) for k in range(d)]
    )
    rng = np.random.default_rng(seed)
    low, high = np.inf, -np.inf
    for k in range(d):
        keep = np.flatnonzero(finite[:, k])
        shown = keep if len(keep) <= max_points else np.sort(rng.choice(keep, max_points, False))
        colour = TAB10[k % len(TAB10)]
        label = f"output {names[k]}" if d > 1 else None
        scatter.scatter(t[shown, k], p[shown, k], s=6, alpha=0.5, color=colour, label=label)
        residual = p[keep, k] - t[keep, k]
        # A constant residual (a constant bias) is one bar: 40 bins would have no width.
        spread = np.ptp(residual) > 1e-9 * max(1.0, float(np.abs(residual).max()))
        hist.hist(residual, bins=40 if spread else 1, alpha=0.6, color=colour, label=label)
        low = min(low, float(t[keep, k].min()), float(p[keep, k].min()))
        high = max(high, float(t[keep, k].max()), float(p[keep, k].max()))
    scatter.plot([low, high], [low, high], color="#555555", lw=1, ls="--", label="y = x")
    scatter.set_xlabel("true")
    scatter.set_ylabel("predicted")
    scatter.set_title("Predicted against true")
    scatter.legend(loc="upper left", fontsize=8)
    hist.axvline(0.0, color="#555555", lw=1, ls="--")
    hist.set_xlabel("residual (predicted - true)")
    hist.set_ylabel("count")
    hist.set_title("Residuals")
    if d > 1:
        hist.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
