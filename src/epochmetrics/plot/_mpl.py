"""matplotlib, an optional dependency: figures on the Agg canvas, or an install hint."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["INSTALL_HINT", "new_figure"]

INSTALL_HINT = "pip install 'epochmetrics[plot]'"


def new_figure(width: float, height: float) -> Figure:
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
