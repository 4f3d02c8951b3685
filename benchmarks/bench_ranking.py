"""Exact ROC-AUC and average precision on 10^7 binary scores: epochmetrics vs scikit-learn and
torchmetrics, measured side by side in one run.

    python benchmarks/bench_ranking.py [--n 10000000] [--repeat 3] [--weighted]

Scores are float32 probabilities (what a Keras model outputs), continuous ("no ties") or
rounded to 3 decimals ("ties"). Times are the best of `--repeat` runs, in seconds; ratios
are the other library's time over ours. torchmetrics runs `binary_auroc` and
`binary_average_precision` with `thresholds=None` (exact) and `validate_args=False` (its
fastest setting). The last columns are the differences from scikit-learn's value.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

os.environ.setdefault(
    "KERAS_BACKEND", "jax"
)  # the host functions need no backend; keep import light


def _best(repeat: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, float]:
    """(best time in seconds, value) of `fn(*args, **kwargs)` over `repeat` runs."""
    best, value = float("inf"), float("nan")
    for _ in range(repeat):
        start = time.perf_counter()
        value = float(fn(*args, **kwargs))
        best = min(best, time.perf_counter() - start)
    return best, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="number of scores")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--weighted", action="store_true", help="also time with sample weights")
    args = parser.parse_args(argv)

    import sklearn
    import torch
    import torchmetrics
    from sklearn import metrics as skm
    from torchmetrics.functional.classification import binary_auroc, binary_average_precision

    from epochmetrics.functional import ranking

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, args.n)
    logits = rng.normal(size=args.n) + y
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    weights = rng.random(args.n)
    cases = {"no ties": scores, "ties": np.round(scores, 3).astype(np.float32)}

    print(
        f"n = {args.n:,} binary scores (float32), best of {args.repeat}; "
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"torchmetrics {torchmetrics.__version__}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    header = (
        f"{'metric':<18}{'scores':<9}{'weights':<9}{'epochmetrics':>13}{'sklearn':>9}"
        f"{'torchmetrics':>13}{'sklearn/ours':>14}{'tm/ours':>9}{'|ours-sk|':>11}{'|tm-sk|':>9}"
    )
    print(header)
    print("-" * len(header))
    target = torch.from_numpy(y)
    for metric, ours, ref, tm in [
        ("roc_auc", ranking.roc_auc, skm.roc_auc_score, binary_auroc),
        (
            "average_precision",
            ranking.average_precision,
            skm.average_precision_score,
            binary_average_precision,
        ),
    ]:
        for case, s in cases.items():
            for w in [None, weights] if args.weighted else [None]:
                t_ours, v_ours = _best(args.repeat, ours, y, s, sample_weight=w)
                t_sk, v_sk = _best(args.repeat, ref, y, s, sample_weight=w)
                if w is None:
                    preds = torch.from_numpy(s)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        t_tm, v_tm = _best(
                            args.repeat, tm, preds, target, thresholds=None, validate_args=False
                        )
                    tm_cells = (
                        f"{t_tm:>13.2f}",
                        f"{t_tm / t_ours:>9.1f}",
                        f"{abs(v_tm - v_sk):>9.0e}",
                    )
                else:  # torchmetrics' functional binary metrics take no sample weights
                    tm_cells = f"{'-':>13}", f"{'-':>9}", f"{'-':>9}"
                weighted = "yes" if w is not None else "no"
                print(
                    f"{metric:<18}{case:<9}{weighted:<9}{t_ours:>13.2f}{t_sk:>9.2f}{tm_cells[0]}"
                    f"{t_sk / t_ours:>14.1f}{tm_cells[1]}{abs(v_ours - v_sk):>11.0e}{tm_cells[2]}"
                )


if __name__ == "__main__":
    main()
