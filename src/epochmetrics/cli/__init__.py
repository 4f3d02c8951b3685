"""The `epochmetrics` command: `demo`, `plot`, `report`, `coco`. Also `python -m epochmetrics`.

Exit codes: 0 success, 1 the work failed, 2 bad usage or unreadable input (one-line message on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def _demo(args: argparse.Namespace) -> int:
    from epochmetrics.cli import demo as _demo

    return _demo.run(out=args.out, epochs=args.epochs, seed=args.seed)


def _fail(command: str, message: str) -> int:
    """A failure that is not the user's input: one line on stderr, exit code 1."""
    print(f"epochmetrics {command}: error: {message}", file=sys.stderr)
    return 1


def _plot(args: argparse.Namespace) -> int:
    from epochmetrics import plot

    source = Path(args.history)
    out = Path(args.out) if args.out else source.with_suffix(".png")
    names = [c.strip() for c in args.class_names.split(",")] if args.class_names else None
    try:
        fig = plot.plot_history(
            source, metrics=args.metrics, per_class=not args.no_per_class, class_names=names
        )
    except ImportError as e:
        return _fail("plot", str(e))
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    formats = fig.canvas.get_supported_filetypes()
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in formats:
        raise UsageError(
            f"cannot write {out}: unsupported image format {out.suffix or '(none)'!r}; "
            f"use one of: {', '.join('.' + f for f in sorted(formats))}"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=args.dpi)
    except OSError as e:
        return _fail("plot", f"cannot write {out}: {e.strerror or e}")
    print(f"wrote {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from epochmetrics import report

    def progress(message: str) -> None:
        print(f"epochmetrics report: {message}", file=sys.stderr, flush=True)

    try:
        path = report.write_report(
            args.run_dir, args.out, save_figures=args.figures, progress=progress
        )
    except ImportError as e:
        return _fail("report", str(e))
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        return _fail("report", f"cannot write {args.out or 'the report'}: {e.strerror or e}")
    print(f"wrote {path}")
    return 0


def _coco(args: argparse.Namespace) -> int:
    from epochmetrics.functional import detection

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"epochmetrics coco: {message}", file=sys.stderr, flush=True)

    try:
        text = detection.coco_main(
            args.ground_truth, args.results, as_json=args.json, progress=progress
        )
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epochmetrics",
        description=(
            "Exact epoch-level metrics for Keras: demo, plots, reports and COCO evaluation."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser(
        "demo",
        help="train a small model on imbalanced digits with per-class F1 driving early stopping",
        description=(
            "Train a small Keras model on an imbalanced split of scikit-learn's bundled digits "
            "data, with per-class and macro F1 in metrics=, EarlyStopping and ModelCheckpoint on "
            "val_f1_macro and a CSVLogger. Writes history.csv, best.keras, evaluation.json, "
            "run.json, plots and report.html into OUT."
        ),
    )
    demo.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    demo.add_argument(
        "--epochs", type=int, default=30, help="maximum number of epochs (default: 30)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.set_defaults(func=_demo)

    plot = sub.add_parser(
        "plot",
        help="plot metric curves per epoch, per class too, from a CSVLogger file",
        description=(
            "Draw one panel per metric from a Keras CSVLogger file (or a saved EpochEvaluator "
            "history .json): training dashed, validation solid, one colour per class for "
            "per-class keys such as val_f1_3, the best epoch marked."
        ),
    )
    plot.add_argument(
        "history", metavar="HISTORY", help="CSVLogger .csv or evaluator history .json"
    )
    plot.add_argument(
        "--out",
        metavar="FILE",
        help="image to write: .png, .svg, .pdf (default: HISTORY with .png)",
    )
    plot.add_argument(
        "--metrics",
        nargs="+",
        metavar="NAME",
        help="metrics to draw, e.g. f1 f1_macro loss (default: all)",
    )
    plot.add_argument("--no-per-class", action="store_true", help="leave out per-class panels")
    plot.add_argument(
        "--class-names",
        metavar="A,B,...",
        help="comma-separated class names, to recognise per-class keys such as f1_cat",
    )
    plot.add_argument("--dpi", type=int, default=120, help="image resolution (default: 120)")
    plot.set_defaults(func=_plot)

    rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run directory",
        description=(
            "Write one HTML file (images embedded, no network access) with the training curves, "
            "the confusion matrix of the best epoch, per-class precision, recall, F1 and support, "
            "and the run's settings. RUN_DIR holds history.csv and optionally run.json and "
            "evaluation.json, as written by `epochmetrics demo`."
        ),
    )
    rep.add_argument("run_dir", metavar="RUN_DIR", help="run directory")
    rep.add_argument("--out", metavar="FILE", help="HTML file (default: RUN_DIR/report.html)")
    rep.add_argument(
        "--figures",
        action="store_true",
        help="also write curves.png and confusion_matrix.png next to the report",
    )
    rep.set_defaults(func=_report)

    coco = sub.add_parser(
        "coco",
        help="COCO bbox evaluation of a results file, as pycocotools prints it",
        description=(
            "Evaluate detections in COCO results format against COCO ground truth, with "
            "pycocotools 2.0.11's rules (identical precision/recall arrays), and print its "
            "12-line summary (AP and AR at IoU .50:.95, .50, .75, per area range)."
        ),
    )
    coco.add_argument("ground_truth", metavar="GT.json", help="COCO ground-truth annotations")
    coco.add_argument("results", metavar="RESULTS.json", help="COCO results (a list of detections)")
    coco.add_argument(
        "--json", action="store_true", help="print JSON: the 12 numbers, per-class AP"
    )
    coco.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    coco.set_defaults(func=_coco)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"epochmetrics {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
