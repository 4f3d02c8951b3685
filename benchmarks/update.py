"""Per-batch update cost of multiclass macro F1: epochmetrics against Keras and torchmetrics.

Run by `run.py` (and `gpu.py`) once per backend, in a fresh process:

    KERAS_BACKEND=jax   python benchmarks/update.py --backend jax
    KERAS_BACKEND=torch python benchmarks/update.py --backend torch

JAX: `keras.metrics.F1Score(average="macro", threshold=None)` and `em.F1Score("multiclass")`,
each as `jax.jit(metric.stateless_update_state)` on device arrays. Keras' metric takes only
one-hot `y_true`, ours gets sparse integer labels (its usual input); `ours_onehot` feeds ours the
same one-hot array for an equal-input comparison. torch: torchmetrics' `MulticlassF1Score`
(`update`, with and without argument validation) and `em.F1Score(...).update_state`, eager.
`argmax` times `argmax(y_pred, -1)` alone, and `argmax_bincount` a bare argmax plus per-class
counts (no validation, no state). torch also times the kernel floor, the work no exact
implementation can skip, done by bare torch calls: the predicted class (`floor_max`:
`torch.max(dim=-1)`, `floor_argmax`: `torch.argmax`, `floor_compare`: a column compare for
C = 2) plus its counts (one `bincount(t * C + p)` when C * C <= 4B, else bincounts of the true,
predicted and hit classes); the floor is the fastest of them. `amax` reads the scores once
without picking a class (what a NaN check alone costs).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import compare, emit, log, pin_threads, pin_torch_threads

SIZES = [(4096, 2), (4096, 10), (4096, 1000), (65536, 2), (65536, 10), (65536, 1000)]


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [(int(b), int(c)) for b, c in (item.split("x") for item in text.split(","))]


def make_data(batch: int, classes: int, seed: int = 0) -> tuple[object, object, object]:
    import numpy as np

    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, classes, batch).astype(np.int32)
    y_pred = rng.random((batch, classes), dtype=np.float32)
    one_hot = np.zeros((batch, classes), np.float32)
    one_hot[np.arange(batch), y_true] = 1.0
    return y_true, y_pred, one_hot


def jax_candidates(batch: int, classes: int) -> dict[str, Callable[[], object]]:
    import jax
    import jax.numpy as jnp
    import keras

    import epochmetrics as em

    y_true, y_pred, one_hot = (jnp.asarray(a) for a in make_data(batch, classes))
    theirs = keras.metrics.F1Score(average="macro", threshold=None)
    theirs.update_state(one_hot[:2], y_pred[:2])  # builds its (C,) variables
    ours = em.F1Score("multiclass", num_classes=classes)
    k_fn = jax.jit(theirs.stateless_update_state)
    o_fn = jax.jit(ours.stateless_update_state)
    k_vars = [v.value for v in theirs.variables]
    o_vars = [v.value for v in ours.variables]
    argmax = jax.jit(lambda p: jnp.argmax(p, axis=-1))

    @jax.jit
    def argmax_bincount(t: jax.Array, p: jax.Array) -> jax.Array:
        label = jnp.argmax(p, axis=-1)
        hits = jnp.bincount(2 * t + (label == t), length=2 * classes)
        return hits, jnp.bincount(label, length=classes)

    return {
        "keras": lambda: k_fn(k_vars, one_hot, y_pred),
        "ours": lambda: o_fn(o_vars, y_true, y_pred),
        "ours_onehot": lambda: o_fn(o_vars, one_hot, y_pred),
        "argmax": lambda: argmax(y_pred),
        "argmax_bincount": lambda: argmax_bincount(y_true, y_pred),
    }


def bench_jax(sizes: list[tuple[int, int]], repeats: int) -> list[dict[str, object]]:
    import jax

    rows = []
    for batch, classes in sizes:
        log(f"  jax B={batch} C={classes}")
        times = compare(jax_candidates(batch, classes), jax.block_until_ready, repeats=repeats)
        rows.append({"B": batch, "C": classes, "times": times})
    return rows


def torch_candidates(batch: int, classes: int, device: str) -> dict[str, Callable[[], object]]:
    import torch
    from torchmetrics.classification import MulticlassF1Score

    import epochmetrics as em

    y_true, y_pred, _ = make_data(batch, classes)
    t = torch.from_numpy(y_true).long().to(device)
    p = torch.from_numpy(y_pred).to(device)
    tm = MulticlassF1Score(classes, average="macro").to(device)
    tm_fast = MulticlassF1Score(classes, average="macro", validate_args=False).to(device)
    ours = em.F1Score("multiclass", num_classes=classes)
    candidates = {
        "torchmetrics": lambda: tm.update(p, t),
        "torchmetrics_noval": lambda: tm_fast.update(p, t),
        "ours": lambda: ours.update_state(t, p),
        "argmax": lambda: torch.argmax(p, dim=-1),
        "argmax_bincount": lambda: _argmax_bincount(t, p, classes),
        "amax": lambda: torch.amax(p, dim=-1),
        "floor_max": lambda: _counts(t, torch.max(p, dim=-1)[1], classes),
        "floor_argmax": lambda: _counts(t, torch.argmax(p, dim=-1), classes),
    }
    if classes == 2:
        candidates["floor_compare"] = lambda: _counts(t, p[:, 1] > p[:, 0], classes)
    return candidates


def _counts(t: object, label: object, classes: int) -> object:
    """Per-class counts of predicted labels, as the kernel takes them: the confusion matrix
    when it has at most 4B cells, else the true, predicted and hit classes."""
    import torch

    if classes * classes <= 4 * len(t):  # type: ignore[arg-type]
        return torch.bincount(torch.add(label, t, alpha=classes), minlength=classes * classes)
    label = label.long()  # type: ignore[attr-defined]
    hits = torch.where(t == label, t, classes)
    return (
        torch.bincount(t, minlength=classes),
        torch.bincount(label, minlength=classes),
        torch.bincount(hits, minlength=classes + 1),
    )


def _argmax_bincount(t: object, p: object, classes: int) -> object:
    import torch

    label = torch.argmax(p, dim=-1)
    hits = torch.bincount(2 * t + (label == t), minlength=2 * classes)
    return hits, torch.bincount(label, minlength=classes)


def bench_torch(sizes: list[tuple[int, int]], repeats: int, device: str) -> list[dict[str, object]]:
    import torch

    torch.set_grad_enabled(False)

    def sync(out: object) -> object:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    rows = []
    for batch, classes in sizes:
        log(f"  torch B={batch} C={classes}")
        times = compare(torch_candidates(batch, classes, device), sync, repeats=repeats)
        floors = {k[len("floor_") :]: v for k, v in times.items() if k.startswith("floor_")}
        kind = min(floors, key=floors.__getitem__)
        rows.append(
            {
                "B": batch,
                "C": classes,
                "times": times,
                "kernel_floor": floors[kind],
                "floor_kind": kind,
            }
        )
    return rows


def copy_floor(batch: int, classes: int, device: str, repeats: int) -> dict[str, float]:
    """Time to read the predictions once: their bytes / the device's measured copy bandwidth.

    The copy bandwidth counts bytes read plus bytes written (a 1 GiB device-to-device copy,
    or the predictions' size if larger), the rate at which a kernel streams memory.
    """
    import torch

    pred_bytes = batch * classes * 4
    n = max(pred_bytes, 2**30) // 4
    src = torch.empty(n, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)

    def sync(out: object) -> object:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    seconds = compare({"copy": lambda: dst.copy_(src)}, sync, repeats=repeats)["copy"]
    bandwidth = 2 * n * 4 / seconds
    return {"bandwidth": bandwidth, "pred_bytes": pred_bytes, "floor": pred_bytes / bandwidth}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["jax", "torch"], required=True)
    parser.add_argument("--sizes", type=parse_sizes, default=SIZES, help="e.g. 4096x10,65536x1000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (0: default)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument(
        "--floor", action="store_true", help="torch: also measure the memory floor per size"
    )
    args = parser.parse_args(argv)
    if os.environ.get("KERAS_BACKEND") != args.backend:
        raise SystemExit(f"run with KERAS_BACKEND={args.backend} (Keras fixes it at import)")
    pin_threads(args.threads)
    if args.backend == "jax":
        import jax

        rows = bench_jax(args.sizes, args.repeats)
        device = str(jax.devices()[0].device_kind)
    else:
        pin_torch_threads(args.threads)
        rows = bench_torch(args.sizes, args.repeats, args.device)
        device = args.device
        if args.floor:
            for row in rows:
                row["floor"] = copy_floor(row["B"], row["C"], args.device, args.repeats)
    emit({"section": "update", "backend": args.backend, "device": device, "rows": rows})


if __name__ == "__main__":
    main()
