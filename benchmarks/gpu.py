"""GPU figures (not part of CI): the update benchmark at B=262,144, C=1,000 and the memory floor.

For the lent device machine. Runs `update.py` on JAX and on torch (each in its own process,
on the GPU) for multiclass macro F1 at B=262,144 and C=1,000, measures the device's copy
bandwidth, and prints each implementation's time against the floor: the time to read the
(B, C) float32 predictions once, bytes / copy bandwidth. Target: ours within 1.5x of the floor.

    python benchmarks/gpu.py            # on the GPU machine
    python benchmarks/gpu.py --small    # smoke check anywhere (B=4,096, C=100, CPU if no GPU)

The device image has jax, torch and torchmetrics; Keras (and its pure-Python needs: namex,
optree) travel as wheels, see benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import machine, section, us, verdict  # noqa: E402

FLOOR_TARGET = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="B=4096, C=100: a smoke check")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default=None, help="torch device (default: cuda if found)")
    args = parser.parse_args(argv)
    size = "4096x100" if args.small else "262144x1000"
    device = args.device
    if device is None:
        try:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            device = "cpu"
    # On the GPU the frameworks keep their own thread settings (--threads 0).
    common = ["--sizes", size, "--repeats", str(args.repeats), "--threads", "0"]
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"epochmetrics GPU benchmark, {stamp}\nmachine: {machine()}")
    jax_res = section("update.py", "jax", ["--backend", "jax", *common])
    torch_res = section(
        "update.py", "torch", ["--backend", "torch", "--device", device, "--floor", *common]
    )
    jt, row = jax_res["rows"][0]["times"], torch_res["rows"][0]
    tt, floor = row["times"], row["floor"]
    b, c = row["B"], row["C"]
    print(
        f"\nB={b:,} C={c:,}: predictions {floor['pred_bytes'] / 1e9:.2f} GB, copy bandwidth "
        f"{floor['bandwidth'] / 1e12:.2f} TB/s (read + write), floor {us(floor['floor'])} us"
    )
    print(f"JAX on {jax_res['device']}, torch on {torch_res['device']}; median us per update")
    print(f"{'implementation':>34} {'us':>10} {'x floor':>8} {'vs ours':>8}")
    rows = [
        ("keras.metrics.F1Score (JAX, jit)", jt["keras"], jt["ours"]),
        ("epochmetrics F1Score (JAX, jit)", jt["ours"], jt["ours"]),
        ("epochmetrics, one-hot y (JAX)", jt["ours_onehot"], jt["ours"]),
        ("argmax + bincount (JAX)", jt["argmax_bincount"], jt["ours"]),
        ("torchmetrics MulticlassF1Score", tt["torchmetrics"], tt["ours"]),
        ("torchmetrics, validate_args=False", tt["torchmetrics_noval"], tt["ours"]),
        ("epochmetrics F1Score (torch)", tt["ours"], tt["ours"]),
        ("argmax + bincount (torch)", tt["argmax_bincount"], tt["ours"]),
    ]
    for name, t, ours in rows:
        print(f"{name:>34} {us(t):>10} {t / floor['floor']:>8.2f} {t / ours:>8.2f}")
    print("\nTargets:")
    for label, t in (("JAX", jt["ours"]), ("torch", tt["ours"])):
        ratio = t / floor["floor"]
        print(
            f"  {verdict(ratio <= FLOOR_TARGET)}  ours ({label}) within 1.5x of the floor: "
            f"x{ratio:.2f}"
        )
    for label, ours, theirs in (
        ("keras.metrics.F1Score", jt["ours"], jt["keras"]),
        ("torchmetrics", tt["ours"], tt["torchmetrics"]),
    ):
        r = ours / theirs
        print(f"  {verdict(r <= 0.5)}  ours at most 0.5x {label}: x{r:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
