"""Binned AUROC / AveragePrecision update cost on torch, against torchmetrics and Keras' AUC.

Run by `run.py` in a fresh process (torch eager, one intra-op thread):

    KERAS_BACKEND=torch python benchmarks/ranking_update.py

Per batch of B scores (binary) or B x 10 class probabilities, side by side in each round:
`em.AUROC(...).update_state` and `em.AveragePrecision(...).update_state` (binned, the default:
the direct-torch in-place kernel, `_backend/torch_ranking.py`), torchmetrics'
`BinaryAUROC(thresholds=200)` / `MulticlassAUROC(10, thresholds=200)` `.update` (its binned
mode, with its default argument validation), and `keras.metrics.AUC()` /
`AUC(multi_label=True, num_labels=10)` (one-hot targets, one AUC per class like our macro
one-vs-rest) `.update_state`. `generic`: our AUROC through the `keras.ops` function and the
dense pair update (the path before the kernel; the kernel switched off for that call only).
The ratio ours / anchor is taken per round; the median and interquartile range are reported.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, log, pin_threads, pin_torch_threads
from dense import rounds_of, summary

SIZES = [(32, 2), (32, 10), (4096, 2), (4096, 10)]  # (B, classes); 2 = binary


def candidates(batch: int, classes: int) -> dict[str, Callable[[], Any]]:
    import keras
    import numpy as np
    import torch
    from torchmetrics.classification import BinaryAUROC, MulticlassAUROC

    import epochmetrics as em
    from epochmetrics._backend import kernels

    rng = np.random.default_rng(batch + classes)
    if classes == 2:
        t = torch.from_numpy(rng.integers(0, 2, batch))
        p = torch.from_numpy(rng.random(batch, dtype=np.float32))
        auroc, ap, generic = (em.AUROC("binary"), em.AveragePrecision("binary"), em.AUROC("binary"))
        theirs: Any = BinaryAUROC(thresholds=200)
        keras_auc, keras_t = keras.metrics.AUC(), t
    else:
        t = torch.from_numpy(rng.integers(0, classes, batch))
        p = torch.softmax(torch.from_numpy(rng.normal(size=(batch, classes))).float(), dim=-1)
        kw = {"num_classes": classes}
        auroc, ap = em.AUROC("multiclass", **kw), em.AveragePrecision("multiclass", **kw)
        generic = em.AUROC("multiclass", **kw)
        theirs = MulticlassAUROC(classes, thresholds=200)
        keras_auc = keras.metrics.AUC(multi_label=True, num_labels=classes)
        keras_t = torch.nn.functional.one_hot(t, classes).float()

    def generic_update() -> None:
        in_place = kernels.in_place
        kernels.in_place = lambda name: None  # type: ignore[assignment]
        try:
            generic.update_state(t, p)
        finally:
            kernels.in_place = in_place  # type: ignore[assignment]

    return {
        "ours": lambda: auroc.update_state(t, p),
        "ours_ap": lambda: ap.update_state(t, p),
        "torchmetrics": lambda: theirs.update(p, t),
        "keras_auc": lambda: keras_auc.update_state(keras_t, p),
        "generic": generic_update,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default=",".join(f"{b}x{c}" for b, c in SIZES))
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    import keras
    import torch

    if keras.backend.backend() != "torch":
        raise SystemExit("run with KERAS_BACKEND=torch")
    pin_torch_threads(args.threads)
    torch.set_grad_enabled(False)
    rows = []
    for item in args.sizes.split(","):
        batch, classes = (int(v) for v in item.split("x"))
        per_round = rounds_of(candidates(batch, classes), lambda out: out, args.rounds)
        row = {"B": batch, "classes": classes}
        row.update(summary(per_round, ("torchmetrics", "keras_auc", "generic")))
        ap_round = [a / b for a, b in zip(per_round["ours_ap"], per_round["ours"], strict=True)]
        row["ap_over_auroc"] = sorted(ap_round)[len(ap_round) // 2]
        log(
            f"  B={batch} C={classes}: "
            + ", ".join(f"{a} x{row[a]['median']:.2f}" for a in ("torchmetrics", "keras_auc"))
        )
        rows.append(row)
    emit({"section": "ranking_update", "backend": "torch", "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
