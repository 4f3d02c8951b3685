"""Synthetic run directories, shaped like real ones, for tests and examples of plots and reports.

The numbers are generated (seeded), not trained. Classification (`write_fake_run`, shaped like
the demo's): per-class F1 curves that rise and then flatten, one weak minority class, a
confusion matrix whose errors fall on a few class pairs. Regression
(`write_fake_regression_run`): R^2 rising, RMSE falling, the best model's predictions.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from epochmetrics._files.curves import write_curves
from epochmetrics._files.evaluation import write_history
from epochmetrics._files.run_dir import (
    CURVES_JSON,
    EVALUATION_JSON,
    HISTORY_CSV,
    RUN_FILES,
    RUN_JSON,
    write_run_json,
)

__all__ = ["write_fake_regression_run", "write_fake_run"]


def write_fake_run(
    run_dir: str | Path,
    *,
    num_classes: int = 10,
    epochs: int = 12,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    per_class_metrics: Sequence[str] = ("f1",),
    files: Sequence[str] = RUN_FILES,
) -> Path:
    """Write history.csv, run.json, evaluation.json and curves.json (those named in `files`).

    Args:
        run_dir: directory to create or fill.
        num_classes: number of classes.
        epochs: number of epochs recorded.
        seed: random seed.
        class_names: names used in keys and files; indices by default.
        per_class_metrics: per-class families in history.csv, among precision, recall, f1.
        files: which of the four files to write.

    Returns:
        The run directory.
    """
    rng = np.random.default_rng(seed)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    names = [str(c) for c in class_names] if class_names is not None else None
    labels = names or [str(i) for i in range(num_classes)]
    c = num_classes

    ceiling = rng.uniform(0.8, 0.98, size=c)
    ceiling[c - 1] = 0.45  # the weak minority class
    speed = rng.uniform(1.5, 4.0, size=c)
    t = np.arange(epochs)[:, None]
    train = {m: ceiling * (1 - np.exp(-(t + 1) / speed)) for m in per_class_metrics}
    val = {m: np.clip(v - 0.04 - 0.004 * np.maximum(t - 8, 0), 0, 1) for m, v in train.items()}
    for d in (train, val):
        for m in d:
            d[m] = np.clip(d[m] + rng.normal(0, 0.015, size=d[m].shape), 0.0, 1.0)
    loss = 2.0 * np.exp(-np.arange(epochs) / 3.0) + 0.1
    val_loss = loss + 0.05 + 0.01 * np.maximum(np.arange(epochs) - 8, 0)

    logs: dict[str, np.ndarray] = {"loss": loss, "val_loss": val_loss}
    for m in per_class_metrics:
        for i, label in enumerate(labels):
            logs[f"{m}_{label}"] = train[m][:, i]
            logs[f"val_{m}_{label}"] = val[m][:, i]
        logs[f"{m}_macro"] = train[m].mean(axis=1)
        logs[f"val_{m}_macro"] = val[m].mean(axis=1)
    first = "f1" if "f1" in per_class_metrics else next(iter(per_class_metrics), None)
    monitor = f"val_{first}_macro" if first else "val_loss"
    series = logs[monitor]
    best = int(np.argmin(series) if "loss" in monitor else np.argmax(series))

    support = rng.integers(30, 60, size=c)
    support[c - 1] = 8
    matrices = [
        _confusion(rng, support, val["f1"][e] if "f1" in val else ceiling) for e in range(epochs)
    ]

    if HISTORY_CSV in files:
        # As keras.callbacks.CSVLogger: "epoch" first, then the log keys sorted.
        keys = sorted(logs)
        with open(run / HISTORY_CSV, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["epoch", *keys])
            for e in range(epochs):
                w.writerow([e, *(repr(float(logs[k][e])) for k in keys)])
    if EVALUATION_JSON in files:
        evaluation = {
            "epochs": list(range(epochs)),
            "scalars": {k: [float(x) for x in v] for k, v in logs.items() if k.startswith("val_")},
            "matrices": {"val_confusion_matrix": {"class_names": names, "values": matrices}},
            "directions": {
                k: ("down" if "loss" in k else "up") for k in logs if k.startswith("val_")
            },
        }
        write_history(run / EVALUATION_JSON, evaluation)
    if RUN_JSON in files:
        cm = np.array(matrices[best], dtype=np.float64)
        tp, pred, true = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
        precision = np.divide(tp, pred, out=np.zeros(c), where=pred > 0)
        recall = np.divide(tp, true, out=np.zeros(c), where=true > 0)
        f1 = np.divide(2 * tp, pred + true, out=np.zeros(c), where=(pred + true) > 0)
        write_run_json(
            run,
            settings={
                "backend": "jax",
                "epochs": epochs,
                "batch_size": 32,
                "seed": seed,
                "optimizer": "adam",
                "learning_rate": 0.001,
            },
            monitor=monitor,
            best_epoch=best,
            class_names=labels,
            per_class={
                "precision": precision.tolist(),
                "recall": recall.tolist(),
                "f1": f1.tolist(),
                "support": true.astype(int).tolist(),
            },
            confusion_matrix=matrices[best],
        )
    if CURVES_JSON in files:
        write_curves(run / CURVES_JSON, best, {"val_auroc": _curves(rng, support, ceiling, labels)})
    return run


def _curves(
    rng: np.random.Generator, support: np.ndarray, quality: np.ndarray, labels: list[str]
) -> dict[str, object]:
    """Counts at 101 thresholds of one-vs-rest scores: better classes separate better."""
    thresholds = np.linspace(0.0, 1.0, 101)
    total = int(support.sum())
    rows: dict[str, list[np.ndarray]] = {"tp": [], "fp": [], "tn": [], "fn": []}
    for i, q in enumerate(quality):
        pos = rng.beta(1.0 + 6.0 * q, 1.5, size=int(support[i]))
        neg = rng.beta(1.5, 1.0 + 6.0 * q, size=total - int(support[i]))
        tp = (pos[None, :] >= thresholds[:, None]).sum(axis=1).astype(np.float64)
        fp = (neg[None, :] >= thresholds[:, None]).sum(axis=1).astype(np.float64)
        rows["tp"].append(tp)
        rows["fp"].append(fp)
        rows["tn"].append(neg.shape[0] - fp)
        rows["fn"].append(pos.shape[0] - tp)
    return {"labels": labels, "thresholds": thresholds, **{k: np.stack(v) for k, v in rows.items()}}


def _confusion(
    rng: np.random.Generator, support: np.ndarray, quality: np.ndarray
) -> list[list[int]]:
    """Rows = true class; errors go mostly to one partner class (i -> i + 1), the rest spread."""
    c = len(support)
    cm = np.zeros((c, c), dtype=np.int64)
    for i in range(c):
        n = int(support[i])
        right = min(n, round(n * float(np.clip(quality[i], 0.05, 1.0))))
        wrong = n - right
        partner = (i + 1) % c if c > 1 else i
        to_partner = math.ceil(wrong * 0.7)
        cm[i, i] += right
        cm[i, partner] += to_partner
        for j in rng.integers(0, c, size=wrong - to_partner):
            cm[i, int(j)] += 1
    return cm.tolist()


def write_fake_regression_run(
    run_dir: str | Path,
    *,
    epochs: int = 10,
    outputs: int = 1,
    seed: int = 0,
    predictions: bool = True,
    files: Sequence[str] = (HISTORY_CSV, RUN_JSON),
) -> Path:
    """Write history.csv and run.json (those named in `files`) of a regression run.

    Args:
        run_dir: directory to create or fill.
        epochs: number of epochs recorded.
        outputs: number of outputs (more than one: per-output keys `r2_<d>`, `val_r2_<d>`).
        seed: random seed.
        predictions: whether run.json holds the best model's validation predictions.
        files: which files to write.

    Returns:
        The run directory.
    """
    rng = np.random.default_rng(seed)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    t = np.arange(epochs, dtype=np.float64)
    fit = 1 - np.exp(-(t + 1) / 3.0)  # (epochs,)
    logs: dict[str, np.ndarray] = {}
    for prefix, gap in (("", 0.0), ("val_", 0.05)):
        noise = rng.normal(0, 0.01, size=epochs)
        r2 = np.clip(0.9 * fit - gap + noise, -1.0, 1.0)
        logs[prefix + "loss"] = 1.5 * (1 - r2) + 0.05
        logs[prefix + "rmse"] = np.sqrt(1 - r2)
        logs[prefix + "mae"] = 0.8 * np.sqrt(1 - r2)
        logs[prefix + "pearson"] = np.sqrt(np.clip(r2, 0, 1)) + 0.01
        if outputs == 1:
            logs[prefix + "r2"] = r2
        for d in range(outputs if outputs > 1 else 0):
            logs[f"{prefix}r2_{d}"] = r2 - 0.05 * d
    monitor = "val_rmse"
    best = int(np.argmin(logs[monitor]))
    if HISTORY_CSV in files:
        keys = sorted(logs)
        with open(run / HISTORY_CSV, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["epoch", *keys])
            for e in range(epochs):
                w.writerow([e, *(repr(float(logs[k][e])) for k in keys)])
    if RUN_JSON in files:
        n = 300
        y_true = rng.normal(50.0, 10.0, size=(n, outputs))
        y_pred = y_true + rng.normal(0.0, 10.0 * math.sqrt(1 - 0.85), size=(n, outputs))
        shape = (n,) if outputs == 1 else (n, outputs)
        write_run_json(
            run,
            settings={"epochs": epochs, "batch_size": 32, "seed": seed, "optimizer": "adam"},
            monitor=monitor,
            best_epoch=best,
            predictions=(y_true.reshape(shape), y_pred.reshape(shape)) if predictions else None,
        )
    return run
