"""A self-contained HTML report of a run directory, and its figures as PNG files.

A run directory (as `epochmetrics demo` or `em.RunRecorder` writes it) holds `history.csv`
(CSVLogger), and optionally `run.json` (settings, monitor, best epoch, class names, per-class
results and the confusion matrix of the best model, or a regression run's best predictions),
`evaluation.json` (an `EpochEvaluator` history with one confusion matrix per evaluated epoch)
and `curves.json` (per-class counts at 101 thresholds of the best epoch: PR and ROC curves).
Whatever is missing is left out of the report with a note. `write_run_json` (re-exported)
writes run.json from a training script.

The report is one HTML file: figures embedded as base64 PNG, inline CSS, no script and no
network access (a Content-Security-Policy forbids any fetch).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from epochmetrics import plot
from epochmetrics._docs import docstring
from epochmetrics._files.run import Run, load_run
from epochmetrics._files.run_dir import FIGURES, REPORT_HTML, write_run_json
from epochmetrics._types import Progress
from epochmetrics.plot.curves import plot_confusion_matrices, plot_pr_roc
from epochmetrics.report._html import render_html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Run",
    "figure_file",
    "load_run",
    "render_figures",
    "write_figures",
    "write_report",
    "write_run_json",
]

DPI = 110


@docstring()
def render_figures(run: Run) -> dict[str, Figure]:
    """The run's figures: "curves" (always), "confusion_matrix" (when the run has one),
    "confusion_matrices" (the matrix of each evaluated epoch, when there are several),
    "pr_roc_<metric>" (per-class PR and ROC curves of curves.json) and "predictions" (a
    regression run's, when run.json has them); each is saved as `figure_file(name)`.

    Args:
        run: A run directory as read by `load_run`.

    Returns:
        `{name: matplotlib Figure}`.
    """
    figures = {"curves": plot.plot_history(run.history, class_names=run.class_names)}
    if run.predictions is not None:
        where = f" at epoch {run.best_epoch}" if run.best_epoch is not None else ""
        figures["predictions"] = plot.plot_predictions(
            *run.predictions, title=f"Best model{where}, validation data"
        )
    if run.confusion is not None:
        figures["confusion_matrix"] = plot.plot_confusion_matrix(
            run.confusion,
            run.class_names,
            normalize="true",
            title=f"Confusion matrix at epoch {run.confusion_epoch}",
        )
    if len(run.epoch_matrices) > 1:
        figures["confusion_matrices"] = plot_confusion_matrices(
            run.epoch_matrices, run.class_names, best_epoch=run.best_epoch
        )
    for name, curves in run.curves.items():
        figures[f"pr_roc_{name}"] = plot_pr_roc(
            curves, title=f"{name}: per-class curves at epoch {run.curves_epoch}"
        )
    return figures


@docstring()
def figure_file(name: str) -> str:
    """The file a figure of `render_figures` is saved as.

    Args:
        name: A figure's name, a key of `render_figures`' result.

    Returns:
        The file name, e.g. "curves.png".
    """
    return FIGURES.get(name, f"{name}.png")


@docstring()
def write_figures(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write curves.png and the run's other figures (see `render_figures`).

    Args:
        run_dir: the run directory.
        out_dir: where to write them; defaults to `run_dir`.

    Returns:
        The paths written.

    Raises:
        ImportError: matplotlib is not installed.
        FileNotFoundError: `run_dir` or its history is missing.
        ValueError: a malformed file in the run directory.
    """
    run = load_run(run_dir)
    target = Path(out_dir) if out_dir is not None else run.run_dir
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in render_figures(run).items():
        path = target / figure_file(name)
        fig.savefig(path, dpi=DPI)
        written.append(path)
    return written


@docstring()
def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    save_figures: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Write a self-contained HTML report of a run directory.

    The report holds the training curves, the confusion matrix of the best epoch (from
    run.json, else evaluation.json at the best epoch), the confusion matrices of every
    evaluated epoch (small multiples, from evaluation.json), the per-class PR and ROC curves of
    the best epoch (curves.json), a per-class table (precision, recall, F1, support: from
    run.json, else the best epoch's row of history.csv, else the matrix) and the run's
    settings.

    Args:
        run_dir: the run directory (history.csv, and optionally run.json, evaluation.json).
        out: the HTML file to write; defaults to `run_dir/report.html`.
        save_figures: also write the figures (curves.png, confusion_matrix.png, ...) next to
            the report.
        progress: called with a short message before each step (e.g. `print`).

    Returns:
        The path of the report.

    Raises:
        ImportError: matplotlib is not installed.
        FileNotFoundError: `run_dir` is missing or holds neither history.csv nor
            evaluation.json.
        ValueError: a malformed file in the run directory.

    Examples:
        >>> import tempfile
        >>> from epochmetrics._files.synthetic import write_fake_run
        >>> from epochmetrics.report import write_report
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     run_dir = write_fake_run(tmp, num_classes=3, epochs=4)  # a fake run directory
        ...     print(write_report(run_dir).name)
        report.html
    """
    say = progress or (lambda _msg: None)
    run = load_run(run_dir)
    path = Path(out) if out is not None else run.run_dir / REPORT_HTML
    say(
        f"read {run.run_dir}: {len(run.history.epochs)} epochs, "
        f"{len(run.class_names) if run.class_names else 'unknown number of'} classes"
    )
    extra = " and confusion matrix" if run.confusion is not None else ""
    extra = " and predictions" if run.predictions is not None else extra
    say("drawing curves" + extra)
    figures = render_figures(run)
    images = {name: _png(fig) for name, fig in figures.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if save_figures:
        for name, data in images.items():
            (path.parent / figure_file(name)).write_bytes(data)
    say(f"writing {path}")
    path.write_text(render_html(run, images), encoding="utf-8")
    return path


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()
