"""The `epochmetrics` command: `demo`, `plot`, `report`. Also `python -m epochmetrics`.

Exit codes: 0 success, 1 the work failed, 2 bad usage or unreadable input (one-line message on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def _demo(args: argparse.Namespace) -> int:
    from epochmetrics import _demo

    return _demo.run(out=args.out, epochs=args.epochs, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epochmetrics",
        description="Exact epoch-level classification metrics for Keras: demo, plots and reports.",
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
    demo.add_argument("--epochs", type=int, default=30, help="maximum number of epochs (default: 30)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.set_defaults(func=_demo)
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
