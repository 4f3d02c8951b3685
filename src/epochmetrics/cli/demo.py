"""`epochmetrics demo`: per-class F1 driving early stopping on imbalanced digits.

Trains a small MLP on an imbalanced split of scikit-learn's bundled digits data (no download),
with per-class and macro F1 in `metrics=`, EarlyStopping and ModelCheckpoint on `val_f1_macro`
and a CSVLogger, then prints the per-class table of the best model on the validation data,
checked against scikit-learn. Writes into the run directory: history.csv, best.keras,
evaluation.json, run.json, curves.png, confusion_matrix.png and report.html (the names and the
run.json layout are `epochmetrics._files.run_dir`'s), and TensorBoard logs in `logs/` when the
`tensorboard` package is installed.

Run by `epochmetrics demo`, which checks the arguments; imports Keras and the package inside
the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from epochmetrics._files.run_dir import (
    EVALUATION_JSON,
    FIGURES,
    HISTORY_CSV,
    MODEL,
    TABLE_METRICS,
    write_run_json,
)

# Fraction of each digit kept: digits 5-9 become minority classes.
KEEP = (1.0, 1.0, 1.0, 1.0, 1.0, 0.35, 0.25, 0.18, 0.12, 0.08)
MONITOR = "val_f1_macro"
CONFIDENCE = 0.95  # the evaluator's bootstrap intervals (bands in curves.png, report table)
LOGS = "logs"  # TensorBoard's log directory inside the run directory
CLASS_NAMES = [str(d) for d in range(10)]
TOLERANCE = 1e-6


def imbalanced_digits(seed: int) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_val, y_val): digits with minority classes, stratified 70/30."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:  # pragma: no cover - the demo extra installs it
        raise ImportError("the demo needs scikit-learn: pip install 'epochmetrics[demo]'") from e
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    keep = rng.random(len(y)) < np.asarray(KEEP)[y]
    x, y = (x[keep] / 16.0).astype("float32"), y[keep].astype("int32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    return x_tr, y_tr, x_va, y_va


def build_model(seed: int) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=[
            _metric("F1Score", average=None),
            _metric("F1Score", name="f1_macro"),
            _metric("Accuracy"),
        ],
    )
    return model


def _metric(cls: str, **kwargs: Any) -> Any:
    import epochmetrics as em

    return getattr(em, cls)("multiclass", num_classes=10, **kwargs)


def run(out: str | Path, epochs: int = 30, seed: int = 0) -> int:
    """Train, pick the best epoch by val macro F1, check it against scikit-learn, report.

    `epochs` is at least 1. Returns the exit code: 1 when the check against scikit-learn fails.
    """
    import keras

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr, x_va, y_va = imbalanced_digits(seed)
    counts = np.bincount(y_tr, minlength=10)
    print(
        f"epochmetrics demo: backend={keras.backend.backend()}, {len(y_tr)} training samples, "
        f"class counts {counts.tolist()}, writing to {out}/"
    )

    model = build_model(seed)
    callbacks: list[Any] = [
        keras.callbacks.EarlyStopping(monitor=MONITOR, patience=6, restore_best_weights=True),
        # mode="max" explicitly: before Keras 3.11, ModelCheckpoint's "auto" goes by the name
        # ("max" only for "acc") and would keep the worst model.
        keras.callbacks.ModelCheckpoint(
            str(out / MODEL), monitor=MONITOR, mode="max", save_best_only=True
        ),
        keras.callbacks.CSVLogger(str(out / HISTORY_CSV)),
    ]
    callbacks.append(_evaluator(x_va, y_va, out))
    logs = _tensorboard(out, callbacks)
    history = model.fit(
        x_tr,
        y_tr,
        validation_data=(x_va, y_va),
        epochs=epochs,
        batch_size=32,
        callbacks=callbacks,
        verbose=1,
    )
    scores = history.history[MONITOR]
    best_epoch = int(np.nanargmax(scores))

    best = keras.models.load_model(out / MODEL)  # no custom_objects: the metrics registered
    table, matrix, worst = per_class_table(best, x_va, y_va)
    print(
        f"\nBest epoch {best_epoch} (0-based, as in history.csv; "
        f"{MONITOR} = {scores[best_epoch]:.4f}). "
        "Best model on the validation data:\n"
    )
    print(format_table(table))
    low, high = (
        history.history.get(f"{MONITOR}_{e}", [np.nan])[best_epoch] for e in ("low", "high")
    )
    held = history.history.get(f"{MONITOR}_sig")
    kept = int(np.flatnonzero(np.asarray(scores) == held[-1])[0]) if held else best_epoch
    print(
        f"\n{MONITOR} at epoch {best_epoch}: {scores[best_epoch]:.4f}, {CONFIDENCE:.0%} interval "
        f"[{low:.4f}, {high:.4f}] over the validation samples; the noise-aware monitor "
        f"{MONITOR}_sig kept epoch {kept} (later gains were within the noise)"
        if kept != best_epoch
        else f"\n{MONITOR} at epoch {best_epoch}: {scores[best_epoch]:.4f}, {CONFIDENCE:.0%} "
        f"interval [{low:.4f}, {high:.4f}] over the validation samples (also the noise-aware "
        f"best, {MONITOR}_sig)"
    )
    print(f"\nchecked against scikit-learn: largest difference {worst:.1e}")

    write_run_json(
        out,
        settings={
            "backend": keras.backend.backend(),
            "epochs": epochs,
            "epochs_run": len(scores),
            "batch_size": 32,
            "seed": seed,
            "optimizer": "Adam(3e-3)",
            "model": "Dense(32, relu) -> Dense(10, softmax)",
            "data": "sklearn digits, minority classes 5-9 (kept "
            + ", ".join(f"{k:g}" for k in KEEP[5:])
            + ")",
            "train_samples": len(y_tr),
            "val_samples": len(y_va),
        },
        monitor=MONITOR,
        best_epoch=best_epoch,
        class_names=CLASS_NAMES,
        per_class={k: [float(v) for v in table[k]] for k in TABLE_METRICS},
        confusion_matrix=matrix.tolist(),
    )
    _write_report(out)
    if logs is not None:
        print(f"TensorBoard: tensorboard --logdir {logs}")
    if worst > TOLERANCE:
        print(f"error: the per-class results differ from scikit-learn by {worst:.2e}")
        return 1
    return 0


def per_class_table(
    model: Any, x: np.ndarray, y: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Per-class precision/recall/F1/support and the confusion matrix, streamed over batches.

    Returns the table, the matrix and the largest difference from scikit-learn on the same
    predictions.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    import epochmetrics as em

    report = em.ClassificationReport(
        "multiclass", num_classes=10, include=list(TABLE_METRICS), averages=[]
    )
    cm = em.ConfusionMatrix("multiclass", num_classes=10)
    scores = model.predict(x, batch_size=64, verbose=0)
    for start in range(0, len(y), 64):
        report.update_state(y[start : start + 64], scores[start : start + 64])
        cm.update_state(y[start : start + 64], scores[start : start + 64])
    result = {k: float(v) for k, v in report.result().items()}
    table = {m: np.array([result[f"{m}_{c}"] for c in CLASS_NAMES]) for m in TABLE_METRICS}
    pred = scores.argmax(axis=1)
    expected = precision_recall_fscore_support(y, pred, labels=range(10), zero_division=0.0)
    worst = max(
        float(np.max(np.abs(table[m] - e))) for m, e in zip(TABLE_METRICS, expected, strict=True)
    )
    worst = max(
        worst, float(np.max(np.abs(cm.matrix() - confusion_matrix(y, pred, labels=range(10)))))
    )
    return table, cm.matrix(), worst


def format_table(table: dict[str, np.ndarray]) -> str:
    lines = [f"{'class':>5}  {'precision':>9}  {'recall':>6}  {'f1':>6}  {'support':>7}"]
    for i, name in enumerate(CLASS_NAMES):
        p, r, f, s = (table[m][i] for m in TABLE_METRICS)
        lines.append(f"{name:>5}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {int(s):7d}")
    macro = {m: float(np.mean(table[m])) for m in ("precision", "recall", "f1")}
    lines.append(
        f"{'macro':>5}  {macro['precision']:9.4f}  {macro['recall']:6.4f}  {macro['f1']:6.4f}  "
        f"{int(table['support'].sum()):7d}"
    )
    return "\n".join(lines)


def _evaluator(x_va: np.ndarray, y_va: np.ndarray, out: Path) -> Any:
    """An EpochEvaluator recording the validation confusion matrix per epoch, with 95%
    bootstrap intervals of the per-class and macro F1 (the values the model logs: same keys,
    same values) and of per-class precision and recall, and the noise-aware `val_f1_macro_sig`."""
    import epochmetrics as em

    def classes(**kwargs: Any) -> dict[str, Any]:
        return {"task": "multiclass", "num_classes": 10, **kwargs}

    return em.EpochEvaluator(
        (x_va, y_va),
        {
            "confusion_matrix": em.ConfusionMatrix(**classes(class_names=CLASS_NAMES)),
            "f1": em.F1Score(**classes(average=None)),
            "f1_macro": em.F1Score(**classes()),
            "report": em.ClassificationReport(
                **classes(include=["precision", "recall"], averages=[])
            ),
        },
        confidence=CONFIDENCE,
        noise_aware=MONITOR,
        history_path=str(out / EVALUATION_JSON),
    )


def _tensorboard(out: Path, callbacks: list[Any]) -> Path | None:
    """Add em.TensorBoard (per-class F1, the confusion matrix) when `tensorboard` is there."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        return None
    import epochmetrics as em

    callbacks.append(em.TensorBoard(out / LOGS))
    return out / LOGS


def _write_report(out: Path) -> None:
    from epochmetrics import report

    try:
        path = report.write_report(out, save_figures=True)
    except ImportError as e:
        print(f"(no plots or report: {e})")
        return
    figures = ", ".join(str(out / name) for name in FIGURES.values())
    print(f"wrote {figures} and {path}")


__all__ = ["build_model", "format_table", "imbalanced_digits", "per_class_table", "run"]
