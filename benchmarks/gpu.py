"""GPU figures for the lent device machine (H100/H200): update cost, fit overhead, host syncs.

Parts, each in its own process (Keras fixes its backend at import), in this order, each
capped so that the whole run stays inside `--budget` seconds (default 330):

1. torch worker: the device copy bandwidth (a 1 GiB device-to-device copy, bytes read plus
   written), a correctness check of our counts on the device against scikit-learn on the same
   data copied to the host (ClassificationReport and ConfusionMatrix, uneven batches, also
   with integer sample weights), and the device-to-host syncs per `fit` step: one counted
   epoch per model under `torch.cuda.set_sync_debug_mode("warn")`, every warning attributed
   by its Python stack to a train step, to the per-batch log conversion (`pythonify_logs`) or
   to elsewhere (epoch end, data), and to our code when a frame of `epochmetrics` is on it;
2. JAX worker: the same correctness check (eager `update_state`, and the jitted
   `stateless_update_state` that `fit` runs);
3. update.py on JAX (jit of the stateless update) and on torch (eager `update_state`) at
   4,096 x 10, 65,536 x 10, 65,536 x 100 and 262,144 x 1,000, against keras.metrics.F1Score
   (JAX), torchmetrics' MulticlassF1Score (torch) and the memory floor: the bytes of the
   (B, C) float32 predictions over the measured copy bandwidth;
4. fit.py on JAX and torch: no metric, Keras' accuracy, the full per-class report with
   `per_step="none"` (default), `"averages"` and `"all"`, per-round ratios.

    python benchmarks/gpu.py --out $OUT/gpu.json       # on the device machine (~4 min, estimated)
    python benchmarks/gpu.py --small --out gpu.json    # smoke check anywhere (CPU if no GPU)

On the device machine Keras and two of its needs travel as wheels (`benchmarks/gpu_setup.sh`,
benchmarks/RESULTS.md says how). Tables are printed last; every part's raw numbers go to the
JSON file after each part, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import re
import subprocess
import sys
import time
import warnings
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import CLASSES, FEATURES, RESULT_PREFIX, compare, emit, log, mlp  # noqa: E402
from fit import LABELS, build_metrics, table  # noqa: E402
from run import machine, us, verdict  # noqa: E402

SIZES = "4096x10,65536x10,65536x100,262144x1000"
SMALL_SIZES = "1024x10,4096x10,4096x100"
CHECK_SIZE, SMALL_CHECK_SIZE = (65536, 100), (4096, 10)
LARGE, SMALL_LARGE = 20_000_000, 200_000  # samples of the counts-past-2**24 check
FIT_MODELS = "none,keras_accuracy,report,report_averages,report_all"
SYNC_MODELS = ("none", "keras_accuracy", "report", "report_averages", "report_all", "f1_macro")
FLOOR_TARGET = 1.5  # JAX update within 1.5x of the memory floor at 262,144 x 1,000
# torch's warning under set_sync_debug_mode("warn"); on a CPU (--small) host reads are
# counted instead, by wrapping the tensor methods that would synchronise on a GPU.
SYNC_TEXT = "synchronizing CUDA operation"
EMULATED = "emulated host read: "


# --- workers (run in their own process, KERAS_BACKEND set) -----------------------------------
def check_counts(backend: str, size: tuple[int, int], device: str) -> dict[str, Any]:
    """Our counts on the device against scikit-learn on the same data copied to the host."""
    import numpy as np
    from sklearn import metrics as skm

    import epochmetrics as em

    b, c = size
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, c, b).astype(np.int32)
    y_pred = rng.random((b, c), dtype=np.float32)
    weight = rng.integers(0, 4, b).astype(np.float32)
    # Uneven batches, a size-1 batch among them.
    cuts = [0, b // 2, b // 2 + 1, b // 2 + 1 + b // 3, b]

    if backend == "torch":
        import torch

        def put(a: Any) -> Any:
            return torch.from_numpy(a).to(device)

        def host(a: Any) -> Any:
            return a.cpu().numpy()
    else:
        import jax

        dev = jax.devices()[0]

        def put(a: Any) -> Any:
            return jax.device_put(a, dev)

        def host(a: Any) -> Any:
            return np.asarray(a)

    t_dev, p_dev, w_dev = put(y_true), put(y_pred), put(weight)
    # scikit-learn's side: the device arrays copied back to the host.
    t_host, label = host(t_dev), host(p_dev).argmax(axis=-1)

    def feed(metric: Any, weighted: bool = False, jit: bool = False) -> Any:
        chunks = list(itertools.pairwise(cuts))
        if not jit:
            for lo, hi in chunks:
                w = w_dev[lo:hi] if weighted else None
                metric.update_state(t_dev[lo:hi], p_dev[lo:hi], sample_weight=w)
            return metric
        import jax

        fn = jax.jit(metric.stateless_update_state)
        state = [v.value for v in metric.variables]
        for lo, hi in chunks:
            state = fn(state, t_dev[lo:hi], p_dev[lo:hi])
        for var, value in zip(metric.variables, state, strict=True):
            var.assign(value)
        return metric

    def report_diff(metric: Any) -> dict[str, float]:
        got = {k: float(v) for k, v in metric.result().items()}
        p, r, f, s = skm.precision_recall_fscore_support(
            t_host, label, labels=range(c), zero_division=0
        )
        want = {f"support_{i}": s[i] for i in range(c)}
        for name, per_class in (("precision", p), ("recall", r), ("f1", f)):
            want.update({f"{name}_{i}": per_class[i] for i in range(c)})
            for avg in ("macro", "weighted"):
                want[f"{name}_{avg}"] = skm.precision_recall_fscore_support(
                    t_host, label, labels=range(c), average=avg, zero_division=0
                )[("precision", "recall", "f1").index(name)]
        want["accuracy"] = skm.accuracy_score(t_host, label)
        want["mcc"] = skm.matthews_corrcoef(t_host, label)
        missing = sorted(set(want) ^ set(got))
        if missing:
            return {"missing_keys": float(len(missing))}
        support = max(abs(got[k] - want[k]) for k in want if k.startswith("support_"))
        ratios = max(abs(got[k] - want[k]) for k in want if not k.startswith("support_"))
        return {"support_max_abs_diff": support, "ratios_max_abs_diff": ratios, "keys": len(got)}

    def matrix_diff(metric: Any, weighted: bool) -> float:
        want = skm.confusion_matrix(
            t_host, label, labels=range(c), sample_weight=weight if weighted else None
        )
        return float(np.abs(metric.matrix() - want).max())

    report = em.ClassificationReport("multiclass", num_classes=c)
    matrix = em.ConfusionMatrix("multiclass", num_classes=c)
    weighted = em.ConfusionMatrix("multiclass", num_classes=c)
    out: dict[str, Any] = {
        "B": b,
        "C": c,
        "batches": [hi - lo for lo, hi in itertools.pairwise(cuts)],
        "report": report_diff(feed(report)),
        "matrix_max_abs_diff": matrix_diff(feed(matrix), False),
        "weighted_matrix_max_abs_diff": matrix_diff(feed(weighted, weighted=True), True),
    }
    if backend == "jax":
        jitted = em.ClassificationReport("multiclass", num_classes=c)
        out["report_jit"] = report_diff(feed(jitted, jit=True))
        jitted_matrix = em.ConfusionMatrix("multiclass", num_classes=c)
        out["matrix_jit_max_abs_diff"] = matrix_diff(feed(jitted_matrix, jit=True), False)
    diffs = [
        out["report"].get("support_max_abs_diff", 1.0),
        out["matrix_max_abs_diff"],
        out["weighted_matrix_max_abs_diff"],
        out.get("report_jit", {}).get("support_max_abs_diff", 0.0),
        out.get("matrix_jit_max_abs_diff", 0.0),
    ]
    ratio_diffs = [
        out["report"].get("ratios_max_abs_diff", 1.0),
        out.get("report_jit", {}).get("ratios_max_abs_diff", 0.0),
    ]
    out["counts_exact"] = max(diffs) == 0.0
    out["ratios_ok"] = max(ratio_diffs) <= 1e-12
    return out


def check_large_counts(backend: str, n: int, device: str) -> dict[str, Any]:
    """Counts past 2**24 (where float32 stops counting): a 2-class confusion matrix over `n`
    samples in five batches, against scikit-learn. 95% of the samples are of true class 0 and
    95% are predicted 0, so at n = 20,000,000 the (0, 0) cell holds about 18,000,000."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    import epochmetrics as em

    rng = np.random.default_rng(2)
    y_true = (rng.random(n) < 0.05).astype(np.int32)
    y_pred = rng.random((n, 2), dtype=np.float32)
    y_pred[:, 0] += np.where(rng.random(n) < 0.95, 1.0, -1.0).astype(np.float32)
    want = confusion_matrix(y_true, y_pred.argmax(axis=-1), labels=[0, 1])
    cuts = np.linspace(0, n, 6).astype(int)
    out: dict[str, Any] = {"n": n, "largest_count": int(want.max())}
    if backend == "torch":
        import torch

        t, p = torch.from_numpy(y_true).to(device), torch.from_numpy(y_pred).to(device)
        paths = ["eager"]
    else:
        import jax

        t, p = jax.device_put(y_true), jax.device_put(y_pred)
        paths = ["eager", "jit"]
    for path in paths:
        metric = em.ConfusionMatrix("multiclass", num_classes=2)
        if path == "eager":
            for lo, hi in itertools.pairwise(cuts):
                metric.update_state(t[lo:hi], p[lo:hi])
        else:
            import jax

            fn = jax.jit(metric.stateless_update_state)
            state = [v.value for v in metric.variables]
            for lo, hi in itertools.pairwise(cuts):
                state = fn(state, t[lo:hi], p[lo:hi])
            for var, value in zip(metric.variables, state, strict=True):
                var.assign(value)
        out[f"{path}_max_abs_diff"] = float(np.abs(metric.matrix() - want).max())
    out["exact"] = all(out[f"{path}_max_abs_diff"] == 0 for path in paths)
    return out


def copy_bandwidth(device: str, nbytes: int, repeats: int) -> dict[str, float]:
    """Device copy bandwidth, bytes read plus written per second (torch, `nbytes` copied)."""
    import torch

    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)

    def sync(out: object) -> object:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    seconds = compare({"copy": lambda: dst.copy_(src)}, sync, repeats=repeats)["copy"]
    return {"bytes": float(nbytes), "seconds": seconds, "bandwidth": 2 * nbytes / seconds}


class SyncCounter:
    """Counts device-to-host syncs (warnings of torch's sync debug mode) by where they happen.

    Every warning is attributed by its Python stack: inside a train step (Keras' `train_step`),
    in the per-batch conversion of the step's logs (`pythonify_logs`, run by Keras on a helper
    thread when no callback has batch hooks) or elsewhere (epoch-end results, data); and to our
    code when a frame from the `epochmetrics` package is on the stack.
    """

    def __init__(self, ours: str) -> None:
        self.ours = ours
        self.counts: Counter[tuple[str, bool]] = Counter()
        self.sites: Counter[str] = Counter()
        self.other_warnings = 0

    def __call__(self, message: Any, category: Any, filename: str, lineno: int, *_: Any) -> None:
        text = str(message)
        if SYNC_TEXT not in text and not text.startswith(EMULATED):
            self.other_warnings += 1
            return
        frames = []
        frame = sys._getframe(1)
        while frame is not None:
            frames.append(frame)
            frame = frame.f_back
        names = {f.f_code.co_name for f in frames}
        where = (
            "step" if "train_step" in names else "logs" if "pythonify_logs" in names else "other"
        )
        mine = next((f for f in frames if f.f_code.co_filename.startswith(self.ours)), None)
        self.counts[(where, mine is not None)] += 1
        if mine is not None:
            site = f"{os.path.relpath(mine.f_code.co_filename, self.ours)}:{mine.f_lineno}"
            site += f" {mine.f_code.co_name}"
        else:
            site = f"{os.path.basename(filename)}:{lineno}"
        self.sites[f"{where} {'ours' if mine else 'keras/torch'} {site}"] += 1


def emulate_host_reads() -> None:
    """On a CPU: make every tensor method that reads values on the host (and would synchronise
    with a GPU) warn as torch's sync debug mode does. Counts may be higher than on a GPU
    (`.cpu()` of a CPU tensor, then `__array__`, counts twice)."""
    import torch

    for name in ("item", "tolist", "cpu", "__bool__", "__float__", "__int__", "__array__"):
        original = getattr(torch.Tensor, name)

        def wrapper(self: Any, *args: Any, _f: Any = original, _n: str = name, **kw: Any) -> Any:
            warnings.warn(EMULATED + _n, UserWarning, stacklevel=2)
            return _f(self, *args, **kw)

        setattr(torch.Tensor, name, wrapper)


def count_syncs(samples: int, batch_size: int) -> dict[str, Any]:
    """Device-to-host syncs per `fit` step on torch, per model (one counted epoch each)."""
    import keras
    import numpy as np
    import torch

    import epochmetrics as em

    cuda = torch.cuda.is_available()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, samples).astype("int32")
    steps = -(-samples // batch_size)
    ours = os.path.dirname(os.path.abspath(em.__file__)) + os.sep
    if not cuda:
        emulate_host_reads()
    out: dict[str, Any] = {
        "mode": "cuda sync debug mode" if cuda else "emulated (CPU)",
        "steps": steps,
        "models": {},
    }
    for name in SYNC_MODELS:
        model = mlp()
        model.compile(
            keras.optimizers.SGD(0.01),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=build_metrics(name),
        )
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up, not counted
        counter = SyncCounter(ours)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = counter
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.set_sync_debug_mode("warn")
            try:
                model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
            finally:
                if cuda:
                    torch.cuda.set_sync_debug_mode("default")
        c = counter.counts
        out["models"][name] = {
            "step_ours": c[("step", True)] / steps,
            "step_other": c[("step", False)] / steps,
            "logs_ours": c[("logs", True)] / steps,
            "logs_other": c[("logs", False)] / steps,
            "other_ours_per_epoch": c[("other", True)],
            "other_per_epoch": c[("other", False)],
            "sites": dict(counter.sites.most_common(12)),
            "other_warnings": counter.other_warnings,
        }
        log(f"  syncs {name}: {out['models'][name]}")
    return out


def device_info(backend: str) -> dict[str, Any]:
    if backend == "torch":
        import torch

        info: dict[str, Any] = {
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
            "device": "cpu",
        }
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info.update(
                device=torch.cuda.get_device_name(0),
                capability=".".join(map(str, torch.cuda.get_device_capability(0))),
                multiprocessors=props.multi_processor_count,
                memory_gib=round(props.total_memory / 2**30, 1),
            )
        return info
    import jax

    dev = jax.devices()[0]
    info = {"jax": jax.__version__, "platform": dev.platform, "device": dev.device_kind}
    try:
        info["platform_version"] = dev.client.platform_version
    except AttributeError:
        pass
    return info


def worker(args: argparse.Namespace) -> None:
    import keras

    backend = keras.backend.backend()
    payload: dict[str, Any] = {"backend": backend, "info": device_info(backend)}
    device = "cpu"  # torch's; JAX puts arrays on its default device
    if backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        nbytes = 2**30 if device == "cuda" else 2**26
        payload["copy"] = copy_bandwidth(device, nbytes, args.repeats)
        log(f"  copy bandwidth {payload['copy']['bandwidth'] / 1e9:.0f} GB/s (read + write)")
    start = time.perf_counter()
    payload["check"] = check_counts(backend, args.check_size, device)
    payload["check"]["large"] = check_large_counts(backend, args.large, device)
    payload["check"]["seconds"] = time.perf_counter() - start
    log(f"  check {backend}: {payload['check']}")
    if backend == "torch":
        payload["syncs"] = count_syncs(args.samples, 256)
    emit(plain(payload))


def plain(value: Any) -> Any:
    """`value` with NumPy scalars as Python numbers (for JSON)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


# --- the orchestrator ----------------------------------------------------------------------
def run_part(
    script: str, backend: str, args: list[str], timeout: float
) -> tuple[dict[str, Any], float]:
    """One part in a fresh process, stopped after `timeout` s: its RESULT payload, or an error."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # JAX would take 75% of the GPU's memory
    src = os.path.join(os.path.dirname(HERE), "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-W", "ignore", os.path.join(HERE, script), *args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, check=False, timeout=max(timeout, 1)
        )
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-2000:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {"error": f"stopped after {timeout:.0f} s (budget)", "stderr": tail}, timeout
    seconds = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    print(f"  {script:8s} {backend:6s} {seconds:6.1f} s", flush=True)
    if proc.returncode != 0 or not lines:
        err = f"exit code {proc.returncode}"
        return {"error": err, "stderr": proc.stderr[-3000:]}, seconds
    return json.loads(lines[-1][len(RESULT_PREFIX) :]), seconds


def gpu_info() -> dict[str, str]:
    """nvidia-smi's name, driver and CUDA version (empty where there is no nvidia-smi)."""
    try:
        query = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found = re.search(r"CUDA Version:\s*([\d.]+)", header)
    name, driver, memory = (
        ([*query.splitlines()[0].split(", "), "", ""])[:3] if query else ("",) * 3
    )
    return {
        "name": name,
        "driver": driver,
        "memory": memory,
        "cuda_driver_api": found[1] if found else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="small sizes: a smoke check")
    parser.add_argument("--budget", type=float, default=330, help="seconds for the whole run")
    parser.add_argument("--out", help="write the raw results here as JSON")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=None, help="fit rounds (default 10)")
    parser.add_argument("--parts", default="torch,jax,update,fit", help="which parts to run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check-size", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=32768, help=argparse.SUPPRESS)
    parser.add_argument("--large", type=int, default=LARGE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        b, c = (args.check_size or "x".join(map(str, CHECK_SIZE))).split("x")
        args.check_size = (int(b), int(c))
        worker(args)
        return 0

    start = time.perf_counter()
    parts = args.parts.split(",")
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    report: dict[str, Any] = {
        "date": stamp,
        "machine": machine(),
        "gpu": gpu_info(),
        "args": vars(args),
        "parts": {},
        "seconds": {},
    }
    print(f"epochmetrics GPU benchmark, {stamp}\nmachine: {report['machine']}", flush=True)
    print(f"nvidia-smi: {report['gpu'] or 'none'}", flush=True)
    sizes = SMALL_SIZES if args.small else SIZES
    check = "x".join(map(str, SMALL_CHECK_SIZE if args.small else CHECK_SIZE))
    samples = "4096" if args.small else "32768"
    rounds = str(args.rounds or (2 if args.small else 10))
    reps = ["--repeats", str(args.repeats)]
    # On a GPU the frameworks keep their own thread settings; on a CPU, one thread (less noise).
    threads = "0" if report["gpu"] else "1"
    plan: list[tuple[str, str, str, list[str], float]] = []  # key, script, backend, args, cap
    large = str(SMALL_LARGE if args.small else LARGE)
    worker_args = ["--worker", "--check-size", check, "--samples", samples, "--large", large]
    worker_args += reps
    if "torch" in parts:
        plan.append(("torch", "gpu.py", "torch", worker_args, 150))
    if "jax" in parts:
        plan.append(("jax", "gpu.py", "jax", worker_args, 60))
    if "update" in parts:
        common = ["--sizes", sizes, "--threads", threads, *reps]
        plan.append(("update_jax", "update.py", "jax", ["--backend", "jax", *common], 110))
        plan.append(
            (
                "update_torch",
                "update.py",
                "torch",
                ["--backend", "torch", "--device", "cuda" if report["gpu"] else "cpu", *common],
                110,
            )
        )
    if "fit" in parts:
        fit_args = ["--models", FIT_MODELS, "--rounds", rounds, "--samples", samples]
        fit_args += ["--threads", threads]
        plan.append(("fit_jax", "fit.py", "jax", fit_args, 80))
        plan.append(("fit_torch", "fit.py", "torch", fit_args, 100))
    for key, script, backend, part_args, cap in plan:
        left = args.budget - (time.perf_counter() - start)
        if left < 15:
            report["parts"][key] = {"error": f"skipped: {left:.0f} s of the budget left"}
            continue
        result, seconds = run_part(script, backend, part_args, min(cap, left))
        report["parts"][key], report["seconds"][key] = result, seconds
        if "error" in result:
            print(f"  {key}: {result['error']}\n{result.get('stderr', '')[-1500:]}", flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(report, f, indent=1)
    report["seconds"]["total"] = time.perf_counter() - start
    print_report(report)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0


# --- tables ----------------------------------------------------------------------------------
def print_report(report: dict[str, Any]) -> None:
    parts = report["parts"]
    checks: list[tuple[str, bool, str]] = []
    for key in ("torch", "jax"):
        part = parts.get(key, {})
        if "info" in part:
            print(f"\n{key}: {part['info']}")
    print_checks(parts, checks)
    print_syncs(parts.get("torch", {}).get("syncs"), checks)
    print_updates(parts, checks)
    print_fits(parts)
    print("\nTargets:")
    for label, ok, value in checks:
        print(f"  {verdict(ok)}  {label}: {value}")
    for key, part in parts.items():
        if "error" in part:
            print(f"  n/a   {key}: {part['error']}")
    print(f"\ntotal {report['seconds']['total']:.0f} s")


def print_checks(parts: dict[str, Any], checks: list[tuple[str, bool, str]]) -> None:
    for key in ("torch", "jax"):
        check = parts.get(key, {}).get("check")
        if not check:
            continue
        print(
            f"\ncorrectness on the device, {key}: B={check['B']:,}, C={check['C']}, batches "
            f"{check['batches']}, against scikit-learn on the same data copied to the host"
        )
        for name, report, matrix in (
            ("update_state", check["report"], check["matrix_max_abs_diff"]),
            (
                "jit(stateless_update_state)",
                check.get("report_jit"),
                check.get("matrix_jit_max_abs_diff"),
            ),
        ):
            if report is None:
                continue
            print(
                f"  {name}: report ({report.get('keys')} keys) support max |diff| "
                f"{report.get('support_max_abs_diff')}, ratios max |diff| "
                f"{report.get('ratios_max_abs_diff', float('nan')):.1e}; confusion matrix max "
                f"|diff| {matrix}"
            )
        print(
            f"  weighted confusion matrix (integer weights): max |diff| "
            f"{check['weighted_matrix_max_abs_diff']}"
        )
        large = check.get("large", {})
        if large:
            diffs = ", ".join(
                f"{k.removesuffix('_max_abs_diff')} {v}"
                for k, v in large.items()
                if k.endswith("max_abs_diff")
            )
            side = "past" if large["largest_count"] > 2**24 else "below"
            print(
                f"  large counts ({side} 2**24): {large['n']:,} samples, 2 classes, largest "
                f"count {large['largest_count']:,}; confusion matrix max |diff|: {diffs}"
            )
        ok = check["counts_exact"] and check["ratios_ok"] and large.get("exact", False)
        label = f"{key}: counts equal scikit-learn's (exact), ratios within 1e-12"
        checks.append((label, ok, "see above"))


def print_syncs(syncs: dict[str, Any] | None, checks: list[tuple[str, bool, str]]) -> None:
    if not syncs:
        return
    print(
        f"\nDevice-to-host syncs per fit step on torch ({syncs['mode']}; one epoch of "
        f"{syncs['steps']} steps per model, after a warm-up epoch):"
    )
    print("in step: inside Keras' train_step; logs: converting the step's logs for callbacks;")
    print("ours: an epochmetrics frame on the stack. Epoch: syncs once per epoch, elsewhere.")
    if not syncs["mode"].startswith("cuda"):
        print(
            "(CPU emulation, to check this script: every host read of a tensor counts, also of\n"
            "tensors already on the host such as results computed in NumPy: an upper bound.)"
        )
    header = ("model", "step ours", "step other", "logs ours", "logs other", "epoch ours", "epoch")
    print("{:<29} {:>9} {:>10} {:>9} {:>10} {:>10} {:>6}".format(*header))
    for name, m in syncs["models"].items():
        print(
            f"{LABELS.get(name, name):<29} {m['step_ours']:>9.2f} {m['step_other']:>10.2f} "
            f"{m['logs_ours']:>9.2f} {m['logs_other']:>10.2f} {m['other_ours_per_epoch']:>10} "
            f"{m['other_per_epoch']:>6}"
        )
    for name in ("report", "report_averages", "report_all"):
        sites = syncs["models"].get(name, {}).get("sites", {})
        ours = {k: v for k, v in sites.items() if " ours " in k}
        if ours:
            print(f"  {name}, where ours happen (count in the epoch): {ours}")
    if "report" in syncs["models"]:
        m = syncs["models"]["report"]
        n = m["step_ours"] + m["logs_ours"]
        checks.append(
            (
                "zero host syncs per fit step from our metrics (torch, default report)",
                n == 0,
                f"{n:.2f}",
            )
        )


def print_updates(parts: dict[str, Any], checks: list[tuple[str, bool, str]]) -> None:
    copy = parts.get("torch", {}).get("copy")
    bandwidth = copy["bandwidth"] if copy else None
    jax_rows = parts.get("update_jax", {}).get("rows", [])
    torch_rows = parts.get("update_torch", {}).get("rows", [])
    if not (jax_rows or torch_rows):
        return

    def floor(row: dict[str, Any]) -> float | None:
        return row["B"] * row["C"] * 4 / bandwidth if bandwidth else None

    def x(t: float, f: float | None) -> str:
        return f"{t / f:.2f}" if f else "n/a"

    bw = f"{bandwidth / 1e12:.2f} TB/s" if bandwidth else "not measured"
    print(
        f"\nUpdate of multiclass macro F1, median us per update; floor = bytes of the (B, C) "
        f"float32 predictions / copy bandwidth ({bw}, read + write counted)."
    )
    if jax_rows:
        print(f"JAX on {parts['update_jax'].get('device')}: jax.jit(stateless_update_state)")
        header = ("B", "C", "floor", "keras", "ours", "ours/keras", "x floor", "argmax+bincount")
        print("{:>7} {:>5} {:>9} {:>10} {:>10} {:>10} {:>8} {:>16}".format(*header))
        for row in jax_rows:
            t, f = row["times"], floor(row)
            print(
                f"{row['B']:>7} {row['C']:>5} {us(f) if f else 'n/a':>9} {us(t['keras']):>10} "
                f"{us(t['ours']):>10} {t['ours'] / t['keras']:>10.2f} {x(t['ours'], f):>8} "
                f"{us(t['argmax_bincount']):>16}"
            )
        big = [r for r in jax_rows if (r["B"], r["C"]) == (262144, 1000)]
        if big and bandwidth:
            ratio = big[0]["times"]["ours"] / floor(big[0])  # type: ignore[operator]
            checks.append(
                (
                    "JAX update within 1.5x of the floor at 262,144 x 1,000",
                    ratio <= FLOOR_TARGET,
                    f"x{ratio:.2f}",
                )
            )
    if torch_rows:
        print(f"torch on {parts['update_torch'].get('device')}: eager update_state / .update")
        header = (
            "B",
            "C",
            "floor",
            "tm",
            "tm-noval",
            "ours",
            "ours/tm",
            "x floor",
            "argmax+bincount",
        )
        print("{:>7} {:>5} {:>9} {:>10} {:>10} {:>10} {:>8} {:>8} {:>16}".format(*header))
        ratios = []
        for row in torch_rows:
            t, f = row["times"], floor(row)
            ratios.append(t["ours"] / t["torchmetrics"])
            print(
                f"{row['B']:>7} {row['C']:>5} {us(f) if f else 'n/a':>9} "
                f"{us(t['torchmetrics']):>10} {us(t['torchmetrics_noval']):>10} "
                f"{us(t['ours']):>10} {ratios[-1]:>8.2f} {x(t['ours'], f):>8} "
                f"{us(t['argmax_bincount']):>16}"
            )
        checks.append(
            (
                "torch update at most 1.0x torchmetrics (every size)",
                max(ratios) <= 1.0,
                f"max x{max(ratios):.2f}",
            )
        )


def print_fits(parts: dict[str, Any]) -> None:
    results = [parts[k] for k in ("fit_jax", "fit_torch") if "summary" in parts.get(k, {})]
    lines, _ = table(results, targets={})
    if lines:
        print("\n" + "\n".join(lines))
        for res in results:
            s = res["summary"]
            if "report" in s and "report_all" in s:
                saved = s["report_all"]["ms_per_step"] - s["report"]["ms_per_step"]
                print(
                    f'  {res["backend"]}: per_step="none" x{s["report"]["ratio"]:.2f} against '
                    f'"all" x{s["report_all"]["ratio"]:.2f} ({saved:+.3f} ms/step saved)'
                )


if __name__ == "__main__":
    sys.exit(main())
