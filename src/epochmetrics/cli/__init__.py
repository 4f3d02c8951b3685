"""The `epochmetrics` command: `demo`, `plot`, `report`, `coco`. Also `python -m epochmetrics`.

Exit codes: 0 success, 1 the work failed, 2 bad usage or unreadable input (one-line message on
stderr, no traceback). The commands are declared in `epochmetrics.cli.commands`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from epochmetrics.cli.commands import COMMANDS, Failure, UsageError

__all__ = ["UsageError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epochmetrics",
        description=(
            "Exact epoch-level metrics for Keras: demo, plots, reports and COCO evaluation."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.description)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"epochmetrics {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Failure as e:
        print(f"epochmetrics {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
