"""The four commands: their arguments, help texts, and the call each one makes.

Only the standard library is imported here: the work (training, plots, reports, COCO
evaluation) is imported inside each command, so `epochmetrics --help` starts at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epochmetrics._files.run_dir import (
    EVALUATION_JSON,
    FIGURES,
    HISTORY_CSV,
    MODEL,
    REPORT_HTML,
    RUN_JSON,
)

__all__ = ["COMMANDS", "Command", "Failure", "UsageError", "coco_main"]


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class Failure(Exception):
    """The work failed, not through the user's input: reported in one line, exit code 1."""


@dataclass(frozen=True)
class Command:
    """One subcommand: `add_arguments(parser)` declares its arguments, `run(args)` does it."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


@contextlib.contextmanager
def _reading_input() -> Iterator[None]:
    """An unreadable input is a usage error; a missing optional dependency is a failure."""
    try:
        yield
    except ImportError as e:
        raise Failure(str(e)) from None
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None


def _progress(command: str, quiet: bool = False) -> Callable[[str], None]:
    def say(message: str) -> None:
        if not quiet:
            print(f"epochmetrics {command}: {message}", file=sys.stderr, flush=True)

    return say


# --- demo ----------------------------------------------------------------------------------------
def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    p.add_argument("--epochs", type=int, default=30, help="maximum number of epochs (default: 30)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def _demo(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1. Received: {args.epochs}.")
    from epochmetrics.cli.demo import run

    return run(out=args.out, epochs=args.epochs, seed=args.seed)


# --- plot ----------------------------------------------------------------------------------------
def _plot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("history", metavar="HISTORY", help="CSVLogger .csv or evaluator history .json")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="image to write: .png, .svg, .pdf (default: HISTORY with .png)",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="NAME",
        help="metrics to draw, e.g. f1 f1_macro loss (default: all)",
    )
    p.add_argument("--no-per-class", action="store_true", help="leave out per-class panels")
    p.add_argument(
        "--class-names",
        metavar="A,B,...",
        help="comma-separated class names, to recognise per-class keys such as f1_cat",
    )
    p.add_argument("--dpi", type=int, default=120, help="image resolution (default: 120)")


def _plot(args: argparse.Namespace) -> int:
    source = Path(args.history)
    out = Path(args.out) if args.out else source.with_suffix(".png")
    names = [c.strip() for c in args.class_names.split(",")] if args.class_names else None
    with _reading_input():
        from epochmetrics import plot

        fig = plot.plot_history(
            source, metrics=args.metrics, per_class=not args.no_per_class, class_names=names
        )
    formats = fig.canvas.get_supported_filetypes()
    if out.suffix.lower().lstrip(".") not in formats:
        raise UsageError(
            f"cannot write {out}: unsupported image format {out.suffix or '(none)'!r}; "
            f"use one of: {', '.join('.' + f for f in sorted(formats))}"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=args.dpi)
    except OSError as e:
        raise Failure(f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {out}")
    return 0


# --- report --------------------------------------------------------------------------------------
def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory")
    p.add_argument("--out", metavar="FILE", help=f"HTML file (default: RUN_DIR/{REPORT_HTML})")
    p.add_argument(
        "--figures",
        action="store_true",
        help=f"also write {' and '.join(FIGURES.values())} next to the report",
    )


def _report(args: argparse.Namespace) -> int:
    try:
        with _reading_input():
            from epochmetrics import report

            path = report.write_report(
                args.run_dir, args.out, save_figures=args.figures, progress=_progress("report")
            )
    except OSError as e:  # not FileNotFoundError: that one is the input's, a UsageError now
        raise Failure(f"cannot write {args.out or 'the report'}: {e.strerror or e}") from None
    print(f"wrote {path}")
    return 0


# --- coco ----------------------------------------------------------------------------------------
def _coco_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ground_truth", metavar="GT.json", help="COCO ground-truth annotations")
    p.add_argument("results", metavar="RESULTS.json", help="COCO results (a list of detections)")
    p.add_argument("--json", action="store_true", help="print JSON: the 12 numbers, per-class AP")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")


def coco_main(
    gt_path: Any,
    results_path: Any,
    *,
    as_json: bool = False,
    progress: Callable[[str], None] | None = None,
) -> str:
    """What `epochmetrics coco GT.json RESULTS.json` prints: pycocotools' summary, or with
    `as_json` `{"stats": {...}, "per_class_ap": {category_id: AP}}` (null where undefined).

    Raises:
        ValueError: a one-line message for unreadable or malformed files.
    """
    import math

    from epochmetrics.functional import detection  # NumPy only

    result = detection.coco_evaluate(gt_path, results_path, progress=progress)
    if not as_json:
        return detection.summary_text(result)

    def clean(v: float) -> float | None:
        return None if math.isnan(v) else v

    payload = {
        "stats": {k: clean(v) for k, v in result.stats.items()},
        "per_class_ap": {str(k): clean(v) for k, v in result.per_class_ap.items()},
    }
    return json.dumps(payload, indent=2)


def _coco(args: argparse.Namespace) -> int:
    with _reading_input(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = coco_main(
            args.ground_truth,
            args.results,
            as_json=args.json,
            progress=_progress("coco", quiet=args.quiet),
        )
    for warning in caught:  # e.g. an annotation id 0, which pycocotools scores differently
        print(f"epochmetrics coco: warning: {warning.message}", file=sys.stderr)
    print(text)
    return 0


COMMANDS = (
    Command(
        "demo",
        help="train a small model on imbalanced digits with per-class F1 driving early stopping",
        description=(
            "Train a small Keras model on an imbalanced split of scikit-learn's bundled digits "
            "data, with per-class and macro F1 in metrics=, EarlyStopping and ModelCheckpoint on "
            f"val_f1_macro and a CSVLogger. Writes {HISTORY_CSV}, {MODEL}, {EVALUATION_JSON}, "
            f"{RUN_JSON}, plots and {REPORT_HTML} into OUT."
        ),
        add_arguments=_demo_arguments,
        run=_demo,
    ),
    Command(
        "plot",
        help="plot metric curves per epoch, per class too, from a CSVLogger file",
        description=(
            "Draw one panel per metric from a Keras CSVLogger file (or a saved EpochEvaluator "
            "history .json): training dashed, validation solid, one colour per class for "
            "per-class keys such as val_f1_3, the best epoch marked."
        ),
        add_arguments=_plot_arguments,
        run=_plot,
    ),
    Command(
        "report",
        help="write a self-contained HTML report of a run directory",
        description=(
            "Write one HTML file (images embedded, no network access) with the training curves, "
            "the confusion matrix of the best epoch, per-class precision, recall, F1 and support, "
            f"and the run's settings. RUN_DIR holds {HISTORY_CSV} and optionally {RUN_JSON} and "
            f"{EVALUATION_JSON}, as written by `epochmetrics demo`."
        ),
        add_arguments=_report_arguments,
        run=_report,
    ),
    Command(
        "coco",
        help="COCO bbox evaluation of a results file, as pycocotools prints it",
        description=(
            "Evaluate detections in COCO results format against COCO ground truth, with "
            "pycocotools 2.0.11's rules (identical precision/recall arrays), and print its "
            "12-line summary (AP and AR at IoU .50:.95, .50, .75, per area range)."
        ),
        add_arguments=_coco_arguments,
        run=_coco,
    ),
)
