"""Dense (segmentation) update cost: mean IoU over B = 8 images of 256 x 256 pixels.

Run by `run.py` once per backend, in a fresh process:

    KERAS_BACKEND=jax   python benchmarks/dense.py
    KERAS_BACKEND=torch python benchmarks/dense.py

JAX: `em.JaccardIndex("multiclass", ignore_index=255)` against `keras.metrics.MeanIoU(C,
sparse_y_pred=False, ignore_class=255)`, each as `jax.jit(metric.stateless_update_state)` on
device arrays `y_true (8, 256, 256)` int32 and `y_pred (8, 256, 256, C)` float32 probabilities.
torch (eager): `em.JaccardIndex(...).update_state` against torchmetrics'
`MulticlassJaccardIndex(C, ignore_index=255)` (`update`, with and without argument validation);
torchmetrics takes channels-first `(8, C, 256, 256)` scores, prepared outside the timing (each
gets its native layout). `floor`: an argmax over the class axis and one bincount of the
pixels' (true, predicted) pairs, no validation, no state: what no implementation can skip,
done with each framework's plain argmax. On XLA's CPU past ~24 classes ours beats it: that
argmax slows down 10-20x per class there, and ours takes it over slices of 21 classes
(`_backend/ops.py`).

Each round times every candidate side by side (interleaved, calibrated call counts); the
ratio ours / anchor is taken per round, and the median and interquartile range are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import compare, emit, log, pin_threads, pin_torch_threads

BATCH, SIDE, VOID = 8, 256, 255
CLASSES = (21, 150)  # Pascal VOC, ADE20K


def make_data(classes: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, classes, (BATCH, SIDE, SIDE)).astype(np.int32)
    y_true[:, :4] = VOID  # a void border row band
    z = rng.random((BATCH, SIDE, SIDE, classes), dtype=np.float32)
    return y_true, z / z.sum(-1, keepdims=True)


def jax_candidates(classes: int) -> tuple[dict[str, Callable[[], Any]], dict[str, int]]:
    import jax
    import jax.numpy as jnp
    import keras

    import epochmetrics as em

    y_true, y_pred = (jnp.asarray(a) for a in make_data(classes))
    theirs = keras.metrics.MeanIoU(classes, sparse_y_pred=False, ignore_class=VOID)
    ours = em.JaccardIndex("multiclass", num_classes=classes, ignore_index=VOID)
    k_fn, o_fn = jax.jit(theirs.stateless_update_state), jax.jit(ours.stateless_update_state)
    k_vars = [v.value for v in theirs.variables]
    o_vars = [v.value for v in ours.variables]

    @jax.jit
    def floor(t: Any, p: Any) -> Any:
        pairs = jnp.where(t == VOID, classes * classes, t * classes + jnp.argmax(p, -1))
        return jnp.bincount(pairs.ravel(), length=classes * classes + 1)

    state = {
        "ours": sum(int(v.size) * v.dtype.itemsize for v in o_vars),
        "keras_mean_iou": sum(int(v.size) * v.dtype.itemsize for v in k_vars),
    }
    candidates = {
        "ours": lambda: o_fn(o_vars, y_true, y_pred),
        "keras_mean_iou": lambda: k_fn(k_vars, y_true, y_pred),
        "floor": lambda: floor(y_true, y_pred),
    }
    return candidates, state


def torch_candidates(classes: int) -> tuple[dict[str, Callable[[], Any]], dict[str, int]]:
    import torch
    from torchmetrics.classification import MulticlassJaccardIndex

    import epochmetrics as em

    t_np, p_np = make_data(classes)
    y_true, y_pred = torch.from_numpy(t_np), torch.from_numpy(p_np)
    channels_first = y_pred.permute(0, 3, 1, 2).contiguous()
    target = y_true.long()
    ours = em.JaccardIndex("multiclass", num_classes=classes, ignore_index=VOID)
    theirs = MulticlassJaccardIndex(classes, ignore_index=VOID)
    unchecked = MulticlassJaccardIndex(classes, ignore_index=VOID, validate_args=False)

    def floor() -> Any:
        predicted = y_pred.argmax(-1)
        pairs = torch.where(y_true == VOID, classes * classes, y_true * classes + predicted)
        return torch.bincount(pairs.ravel(), minlength=classes * classes + 1)

    state = {
        "ours": sum(v.numel() * v.element_size() for v in (ours._hi.value, ours._lo.value)),
        "torchmetrics": sum(t.numel() * t.element_size() for t in theirs.metric_state.values()),
    }
    candidates = {
        "ours": lambda: ours.update_state(y_true, y_pred),
        "torchmetrics": lambda: theirs.update(channels_first, target),
        "torchmetrics_unchecked": lambda: unchecked.update(channels_first, target),
        "floor": floor,
    }
    return candidates, state


def rounds_of(
    candidates: dict[str, Callable[[], Any]], sync: Callable[[Any], Any], rounds: int
) -> dict[str, list[float]]:
    """Seconds per call of every candidate, one value per round (each round side by side)."""
    per_round: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        timed = compare(candidates, sync, repeats=3, min_time=0.2, warmup=1)
        for name, seconds in timed.items():
            per_round[name].append(seconds)
    return per_round


def summary(per_round: dict[str, list[float]], anchors: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"seconds": {k: statistics.median(v) for k, v in per_round.items()}}
    for anchor in anchors:
        ratios = [a / b for a, b in zip(per_round["ours"], per_round[anchor], strict=True)]
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        out[anchor] = {"ratios": ratios, "median": statistics.median(ratios), "iqr": [q[0], q[2]]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--classes", default=",".join(map(str, CLASSES)))
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        pin_torch_threads(args.threads)
    rows = []
    for classes in (int(c) for c in args.classes.split(",")):
        if backend == "jax":
            import jax

            candidates, state = jax_candidates(classes)
            anchors: tuple[str, ...] = ("keras_mean_iou", "floor")
            sync: Callable[[Any], Any] = jax.block_until_ready
        else:
            candidates, state = torch_candidates(classes)
            anchors = ("torchmetrics", "torchmetrics_unchecked", "floor")
            sync = lambda out: out  # noqa: E731 (eager CPU: nothing pending)
        row = {"classes": classes, "state_bytes": state}
        row.update(summary(rounds_of(candidates, sync, args.rounds), anchors))
        log(f"  C={classes}: " + ", ".join(f"{a} x{row[a]['median']:.2f}" for a in anchors))
        rows.append(row)
    emit({"backend": backend, "pixels": BATCH * SIDE * SIDE, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
