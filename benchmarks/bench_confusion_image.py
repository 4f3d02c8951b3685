"""What one confusion-matrix image of `em.TensorBoard` costs, and what drawing it once saves.

For C = 10, 30, 100 and 1,000 classes, the figure of `plot_confusion_matrix` (normalised over
true classes, as the callback draws it) rendered to PNG at 72 dpi two ways, side by side:

- savefig (the anchor): `fig.savefig(buffer, format="png", dpi=72)`, how the callback rendered
  it before; with the figure's constrained layout, savefig draws the figure twice;
- png_bytes: `epochmetrics.plot._mpl.png_bytes(fig, 72)`, the callback's path now: one draw
  of the Agg canvas, its pixels encoded (the same pixels: tests/test_plot_confusion.py).

Each call builds a fresh figure (as every epoch does). A round runs each way once per C, in
rotating order; ratios are per round (png_bytes / savefig, process CPU seconds: the machine
is shared), summarised by their median and interquartile range. NumPy and matplotlib only:
run on one backend.

    python benchmarks/bench_confusion_image.py --rounds 9
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, log, pin_threads

ROUNDS = 9
CLASSES = (10, 30, 100, 1000)
DPI = 72


def matrix(classes: int) -> Any:
    """Counts of 50 samples a class, 70% on the diagonal, the rest spread at random."""
    import numpy as np

    rng = np.random.default_rng(classes)
    y = rng.integers(0, classes, 50 * classes)
    pred = np.where(rng.random(y.size) < 0.7, y, rng.integers(0, classes, y.size))
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def measure(classes: int, rounds: int) -> dict[str, Any]:
    from epochmetrics.plot import plot_confusion_matrix
    from epochmetrics.plot._mpl import png_bytes

    m = matrix(classes)

    def figure() -> Any:
        return plot_confusion_matrix(m, normalize="true", title=f"confusion_matrix, C={classes}")

    def savefig() -> bytes:
        buffer = io.BytesIO()
        figure().savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()

    def one_draw() -> bytes:
        return png_bytes(figure(), DPI)[0]

    ways = {"savefig": savefig, "png_bytes": one_draw}
    for fn in ways.values():
        fn()  # fonts, caches
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for r in range(rounds):
        for name in names[r % 2 :] + names[: r % 2]:
            start = time.process_time()
            ways[name]()
            seconds[name].append(time.process_time() - start)
    ratios = [a / b for a, b in zip(seconds["png_bytes"], seconds["savefig"], strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    log(f"  confusion image C={classes}: ratio {statistics.median(ratios):.2f}")
    return {
        "classes": classes,
        "savefig": statistics.median(seconds["savefig"]),
        "png_bytes": statistics.median(seconds["png_bytes"]),
        "ratio": statistics.median(ratios),
        "ratio_q1": q1,
        "ratio_q3": q3,
        "ratios": ratios,
    }


def table(results: list[dict[str, Any]]) -> list[str]:
    if not results:
        return []
    res = results[0]
    lines = [
        f"Confusion-matrix image of em.TensorBoard (plot_confusion_matrix, normalize='true', "
        f"PNG at {DPI} dpi), {res['rounds']} rounds;",
        "process CPU ms per image (median); ratio: median over rounds of png_bytes / savefig "
        "[IQR]. Not drawn by default above 100 classes.",
        "{:>6} {:>12} {:>12} {:>7} {:>12}".format(
            "C", "savefig ms", "png_bytes ms", "ratio", "IQR"
        ),
    ]
    for row in res["rows"]:
        lines.append(
            f"{row['classes']:>6,} {row['savefig'] * 1e3:>12.0f} {row['png_bytes'] * 1e3:>12.0f} "
            f"{row['ratio']:>7.2f} {row['ratio_q1']:>5.2f}-{row['ratio_q3']:.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--classes", default=",".join(str(c) for c in CLASSES))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    from run import machine

    rounds = max(args.rounds, 1)
    rows = [measure(int(c), rounds) for c in args.classes.split(",")]
    result = {"section": "confusion_image", "rounds": rounds, "rows": rows}
    emit(result)
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"\n{stamp}; machine: {machine()}")
    print("\n".join(table([result])))


if __name__ == "__main__":
    main()
