"""matplotlib, an optional dependency: figures on the Agg canvas, or an install hint."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["INSTALL_HINT", "new_figure", "png_bytes"]

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


def png_bytes(fig: Figure, dpi: float) -> tuple[bytes, int, int]:
    """A figure of `new_figure` as PNG at `dpi`, drawn once: `(png, width, height)`.

    The same pixels as `fig.savefig(f, format="png", dpi=dpi)`, for about 20% less time: with
    a layout engine, `savefig` draws the figure twice (a first draw without pixels so that the
    constrained layout settles, then the real one, which runs the layout again); the canvas'
    own `draw` lays out and renders once. It sets the figure's dpi to `dpi`.
    """
    from PIL import Image  # a dependency of matplotlib

    fig.set_dpi(dpi)
    canvas = fig.canvas
    canvas.draw()
    rgba = canvas.buffer_rgba()  # type: ignore[attr-defined]  # Agg canvas
    image = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return buffer.getvalue(), image.width, image.height
