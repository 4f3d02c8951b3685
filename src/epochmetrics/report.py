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

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from epochmetrics import plot
from epochmetrics._docs import docstring
from epochmetrics._files.run import Run, load_run
from epochmetrics._files.run_dir import FIGURES, REPORT_HTML, write_run_json
from epochmetrics._types import Progress
from epochmetrics.plot.curves import plot_confusion_matrices, plot_pr_roc

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


# --- HTML -------------------------------------------------------------------------------------

CSS = """
:root { --ink: #1d2733; --muted: #5b6673; --line: #dde3ea; --accent: #1f4e79; --bad: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f5f7fa; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 19px; margin: 0 0 12px; color: var(--accent); }
.sub { color: var(--muted); margin: 0 0 18px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 18px 22px; margin: 0 0 18px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; background: none; border: 0; padding: 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px;
        min-width: 150px; }
.card b { display: block; font-size: 22px; }
.card span { color: var(--muted); font-size: 13px; }
img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
img.small { max-width: 760px; }
.note { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid var(--line); text-align: right; }
th { background: #eef2f6; font-weight: 600; }
td:first-child, th:first-child { text-align: left; }
tr.weak td { color: var(--bad); font-weight: 600; }
tr.avg td { border-top: 2px solid var(--ink); font-style: italic; }
.bar { display: inline-block; height: 9px; background: var(--accent); border-radius: 2px;
       margin-left: 8px; vertical-align: middle; opacity: .75; }
small.ci { display: block; color: #667; font-weight: 400; font-size: 80%; }
.cols { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
ol { margin: 0; padding-left: 22px; }
"""
# No network, no script: everything the page shows is inline.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.{digits}f}"
    return f"{x:.0f}" if isinstance(x, float) else _esc(x)


def render_html(run: Run, images: dict[str, bytes]) -> str:
    """The report page for a loaded run and its figures as PNG bytes."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>epochmetrics report: {_esc(run.run_dir.name)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Training report</h1>",
        f'<p class="sub">{_esc(run.run_dir)} · files: {_esc(", ".join(run.files))}</p>',
        _cards(run),
        '<section id="curves"><h2>Training curves</h2>',
        _img(images.get("curves"), "Training curves: one panel per metric, per epoch"),
        '<p class="note">Dashed: training; solid: validation; dotted vertical line: best epoch.'
        "</p></section>",
        *(
            [_predictions_section(run, images.get("predictions"))]
            if run.regression
            else [
                _confusion_section(run, images.get("confusion_matrix")),
                _epoch_matrices_section(run, images.get("confusion_matrices")),
                _pr_roc_section(run, images),
                _per_class_section(run),
            ]
        ),
        _settings_section(run),
    ]
    if run.notes:
        items = "".join(f"<li>{_esc(n)}</li>" for n in run.notes)
        parts.append(f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>')
    from epochmetrics import __version__

    parts.append(f'<p class="note">Generated by epochmetrics {_esc(__version__)}.</p>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _img(data: bytes | None, alt: str, small: bool = False) -> str:
    if data is None:
        return ""
    b64 = base64.b64encode(data).decode("ascii")
    cls = ' class="small"' if small else ""
    return f'<img{cls} alt="{_esc(alt)}" src="data:image/png;base64,{b64}">'


def _cards(run: Run) -> str:
    cards = []
    if run.monitor and run.best_value is not None:
        cards.append((_num(run.best_value, 4), f"best {run.monitor}"))
    if run.best_epoch is not None:
        cards.append((str(run.best_epoch), "best epoch"))
    cards.append((str(len(run.history.epochs)), "epochs recorded"))
    if run.class_names:
        cards.append((str(len(run.class_names)), "classes"))
    if run.regression:
        cards.append(("regression", "task"))
    rows = run.per_class_rows
    f1s = [(r["class"], r["f1"]) for r in rows if _finite(r.get("f1"))]
    if f1s:
        worst = min(f1s, key=lambda cv: cv[1])
        cards.append((f"{worst[1]:.3f}", f"lowest F1 (class {worst[0]})"))
    body = "".join(
        f'<div class="card"><b>{_esc(v)}</b><span>{_esc(k)}</span></div>' for v, k in cards
    )
    return f'<section class="cards">{body}</section>'


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _confusion_section(run: Run, image: bytes | None) -> str:
    head = '<section id="confusion"><h2>Confusion matrix'
    if run.confusion is None:
        return f'{head}</h2><p class="note">{_esc(run.confusion_note)}</p></section>'
    head += f" at epoch {run.confusion_epoch}</h2>"
    # Ranked as in the figure (normalised over true classes): by share of the true class.
    pairs = plot.most_confused(run.confusion, run.class_names, k=8, by="rate")
    items = "".join(
        f"<li>true <b>{_esc(p.true)}</b> predicted as <b>{_esc(p.pred)}</b>: "
        f"{_num(p.count)} ({p.rate:.0%} of {_esc(p.true)})</li>"
        for p in pairs
    )
    listing = f"<div><h3>Most confused pairs</h3><ol>{items}</ol></div>" if items else ""
    figure = _img(image, "Confusion matrix", small=len(run.confusion) <= 20)
    return (
        f'{head}<div class="cols"><div>{figure}</div>{listing}</div>'
        f'<p class="note">{_esc(run.confusion_note)} Rows: true class; columns: predicted class; '
        "cells: share of the true class (recall on the diagonal).</p></section>"
    )


def _epoch_matrices_section(run: Run, image: bytes | None) -> str:
    if image is None:
        return ""
    epochs = [e for e, _ in run.epoch_matrices]
    return (
        '<section id="confusion-by-epoch"><h2>Confusion matrices by epoch</h2>'
        f"{_img(image, 'Confusion matrices by epoch')}"
        f'<p class="note">From evaluation.json: {len(epochs)} evaluated epochs '
        f"({epochs[0]} to {epochs[-1]}; at most 12 shown, evenly spaced, with the best one "
        "framed). Cells: share of the true class.</p></section>"
    )


def _pr_roc_section(run: Run, images: dict[str, bytes]) -> str:
    if not run.curves:
        return ""
    parts = [
        f'<section id="pr-roc"><h2>Per-class PR and ROC curves at epoch {run.curves_epoch}</h2>'
    ]
    for name, curves in run.curves.items():
        parts.append(f"<h3>{_esc(name)}</h3>")
        parts.append(_img(images.get(f"pr_roc_{name}"), f"PR and ROC curves of {name}"))
        how = (
            "exact counts"
            if curves.exact
            else "counts of the metric's score bins (the bin holding each threshold and all "
            "above it: exact TP and FP are lower by at most one bin's mass)"
        )
        parts.append(
            f'<p class="note">{len(curves.labels)} classes, {len(curves.thresholds)} thresholds '
            f"from 0 to 1 (positive when score &gt;= threshold), {how}. Legend: area under "
            "each curve from these points.</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def _predictions_section(run: Run, image: bytes | None) -> str:
    """A regression run: the best model's predictions against the true values, residuals."""
    head = '<section id="predictions"><h2>Predictions of the best model</h2>'
    if run.predictions is None or image is None:
        return f'{head}<p class="note">{_esc(run.predictions_note)}</p></section>'
    t, p = run.predictions
    residual = p - t
    finite = residual[np.isfinite(residual)]
    stats = [
        ("samples", f"{t.shape[0]:,}"),
        ("mean residual", _num(float(finite.mean()), 4) if finite.size else "—"),
        ("residual standard deviation", _num(float(finite.std()), 4) if finite.size else "—"),
        ("largest |residual|", _num(float(np.abs(finite).max()), 4) if finite.size else "—"),
    ]
    rows = "".join(f"<tr><td>{_esc(k)}</td><td>{v}</td></tr>" for k, v in stats)
    table = f"<table><tbody>{rows}</tbody></table>"
    return (
        f'{head}<div class="cols"><div>{_img(image, "Predicted against true values")}</div>'
        f'{table}</div><p class="note">{_esc(run.predictions_note)} Left: each point a '
        "validation sample (the dashed line: perfect predictions); right: the residuals, "
        "predicted minus true.</p></section>"
    )


def _per_class_section(run: Run) -> str:
    rows = run.per_class_rows
    head = '<section id="per-class"><h2>Per-class results</h2>'
    if not rows:
        return f'{head}<p class="note">{_esc(run.per_class_note)}</p></section>'
    cols = [c for c in ("precision", "recall", "f1", "support") if any(c in r for r in rows)]
    titles = {"precision": "precision", "recall": "recall", "f1": "F1", "support": "support"}
    f1s = sorted((r["f1"], i) for i, r in enumerate(rows) if _finite(r.get("f1")))
    weak = {i for _, i in f1s[: min(3, max(1, len(rows) // 4))]} if len(rows) > 2 else set()
    out = ["<table><thead><tr><th>class</th>"]
    out += [f"<th>{titles[c]}</th>" for c in cols]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        cls = ' class="weak"' if i in weak else ""
        out.append(f"<tr{cls}><td>{_esc(r['class'])}</td>")
        for c in cols:
            v = r.get(c)
            bar = ""
            if c == "f1" and _finite(v):
                width = max(0.0, min(1.0, float(v))) * 80  # type: ignore[arg-type]
                bar = f'<span class="bar" style="width:{width:.0f}px"></span>'
            low, high = r.get(f"{c}_low"), r.get(f"{c}_high")
            band = ""
            if _finite(low) and _finite(high):
                band = f'<small class="ci">[{_num(low)}, {_num(high)}]</small>'
            out.append(f"<td>{_num(v)}{bar}{band}</td>")
        out.append("</tr>")
    out.append('<tr class="avg"><td>macro average</td>')
    for c in cols:
        vals = [r[c] for r in rows if _finite(r.get(c))]
        if c == "support":
            out.append(f"<td>{_num(float(sum(vals))) if vals else '—'}</td>")
        else:
            out.append(f"<td>{_num(sum(vals) / len(vals)) if vals else '—'}</td>")
    out.append("</tr></tbody></table>")
    note = f'<p class="note">{_esc(run.per_class_note)}'
    if weak:
        note += " Rows in red: the lowest F1."
    return head + "".join(out) + note + "</p></section>"


def _settings_section(run: Run) -> str:
    items: list[tuple[str, Any]] = []
    if run.monitor:
        items.append(("monitor", run.monitor))
    if run.best_epoch is not None:
        items.append(("best epoch", run.best_epoch))
    items += list(run.settings.items())
    note = ""
    if "run.json" not in run.files:
        note = '<p class="note">No run.json: the run\'s settings are unknown.</p>'
    elif not run.settings:
        note = '<p class="note">run.json has no settings.</p>'
    rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(_setting(v))}</td></tr>" for k, v in items)
    table = (
        f"<table><thead><tr><th>setting</th><th>value</th></tr></thead><tbody>{rows}</tbody></table>"
        if items
        else ""
    )
    return f'<section id="settings"><h2>Settings</h2>{table}{note}</section>'


def _setting(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)
