"""EpochEvaluator cases shared by the engines of `tests/test_distributed.py` (run in children).

`evaluate_all(...)` runs the evaluator on a classifier (a streamed ClassificationReport, an
exact AUROC through `evaluate_arrays`, a scikit-learn callable) and on a detector (DetectionMAP)
and returns JSON: the values, and the rows this process ran through the model. `expected(...)`
computes what one device gives, on the test's side, from the data alone.

`intervals_run(...)` drives the evaluator with `confidence=` through three epoch ends of a
scorer whose weights change (`scores(...)`: its input, scaled per class, so its outputs are
the same bits for any batch) (every path of the bootstrap: count states, a refitted top-k,
exact ranking metrics, a callable; a noise-aware monitor, paired across the epochs);
`compare_runs` checks such runs against one process's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

C, D = 5, 8


def classifier() -> Any:
    """A fixed linear softmax model (weights from a seed): every engine predicts the same."""
    import keras

    rng = np.random.default_rng(1)
    inputs = keras.Input((D,))
    layer = keras.layers.Dense(C, activation="softmax")
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([rng.normal(size=(D, C)).astype("float32"), np.zeros(C, "float32")])
    return model


def detector() -> Any:
    """A "detector" whose prediction is its input: `x` holds the detections."""
    import keras

    inputs = {
        "boxes": keras.Input((6, 4), name="boxes"),
        "scores": keras.Input((6,), name="scores"),
        "labels": keras.Input((6,), dtype="int32", name="labels"),
    }
    outputs = {k: keras.layers.Identity(name=f"{k}_out")(v) for k, v in inputs.items()}
    return keras.Model(inputs, outputs)


def class_metrics() -> dict[str, Any]:
    from sklearn.metrics import balanced_accuracy_score

    import epochmetrics as em

    return {
        "report": em.ClassificationReport("multiclass", num_classes=C),
        "auroc": em.AUROC("multiclass", num_classes=C),  # exact here: evaluate_arrays
        "bal": lambda y, p, sample_weight=None: balanced_accuracy_score(
            y, np.asarray(p).argmax(-1), sample_weight=sample_weight
        ),
    }


def detection_samples(n: int = 41) -> tuple[dict, dict]:
    """`(x, y)`: the detections as the detector's input, the ground truth as targets."""
    from multiproc import detection_data

    truth, pred = detection_data(n, seed=7)
    x = {
        "boxes": pred["boxes"].astype("float32"),
        "scores": pred["scores"].astype("float32"),
        "labels": pred["labels"].astype("int32"),
    }
    return x, truth


def evaluate_all(class_data: Any, det_data: Any, **kwargs: Any) -> dict[str, Any]:
    """One evaluation of each model; `kwargs` go to both evaluators (process_data, ...)."""
    import epochmetrics as em

    out: dict[str, Any] = {}
    for name, model, data, metrics in (
        ("class", classifier(), class_data, class_metrics()),
        ("det", detector(), det_data, {"coco": em.DetectionMAP(num_classes=3)}),
    ):
        ev = em.EpochEvaluator(data, metrics, **kwargs)
        out[name] = ev.evaluate(model)
        out[f"{name}_rows"] = ev._memo.rows_predicted
        out[f"{name}_positions"] = ev._memo.positions.tolist()
    return out


def expected(n: int = 1001, images: int = 41, batch_size: int = 64) -> dict[str, Any]:
    """One device's values, computed here (the same models, no distribution)."""
    from multiproc import classification_data

    x, y, _ = classification_data(n, C, D)
    return evaluate_all((x, y), detection_samples(images), batch_size=batch_size)


def compare(got: dict[str, Any], want: dict[str, Any], what: str) -> None:
    for name in ("class", "det"):
        assert sorted(got[name]) == sorted(want[name]), (what, name)
        for key, value in want[name].items():
            assert abs(got[name][key] - value) <= 1e-9 or (
                np.isnan(value) and np.isnan(got[name][key])
            ), (what, key, got[name][key], value)


def interval_metrics() -> dict[str, Any]:
    from sklearn.metrics import balanced_accuracy_score

    import epochmetrics as em

    return {
        "report": em.ClassificationReport(  # count states
            "multiclass", num_classes=C, include=["f1", "recall"], averages=["macro"]
        ),
        "top2": em.Accuracy("multiclass", num_classes=C, top_k=2),  # refitted per replicate
        "auroc": em.AUROC("multiclass", num_classes=C),  # whole arrays, exact
        "best": em.FBetaAtBestThreshold("multiclass", num_classes=C),  # whole arrays, exact
        "bal": lambda y, p, sample_weight=None: balanced_accuracy_score(
            y, np.asarray(p).argmax(-1), sample_weight=sample_weight
        ),
    }


def scores(x: np.ndarray) -> np.ndarray:
    """Class scores from the features: the input of `scorer()`."""
    p = np.abs(x[:, :C]).astype("float64")
    return (p / p.sum(axis=1, keepdims=True)).astype("float32")


def scorer() -> Any:
    """Its input times a diagonal kernel: a product of two floats per output, exact, so every
    batching gives the same bits (a dense layer's sums may round differently per batch size,
    and a threshold key is a score itself)."""
    import keras

    inputs = keras.Input((C,))
    layer = keras.layers.Dense(C, use_bias=False)
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([np.eye(C, dtype="float32")])
    return model


def intervals_run(data: Any, epochs: int = 3, **kwargs: Any) -> list[dict[str, float]]:
    """The logs of `epochs` epoch ends with intervals and a noise-aware monitor on `data`
    (`scores(x)` and labels), the scorer's weights moved between them (the same moves in
    every process)."""
    import epochmetrics as em

    model = scorer()
    ev = em.EpochEvaluator(
        data,
        interval_metrics(),
        confidence=0.9,
        resamples=25,
        seed=5,
        noise_aware="f1_macro",
        **kwargs,
    )
    ev.set_model(model)
    ev.set_params({"epochs": epochs})
    ev.on_train_begin()
    out = []
    for epoch in range(epochs):
        scale = 1.0 - np.linspace(0.3 * epoch, 0.0, C, dtype="float32")  # the first classes down
        model.layers[-1].set_weights([np.diag(scale).astype("float32")])
        logs: dict[str, float] = {}
        ev.on_epoch_end(epoch, logs)
        out.append({k: float(v) for k, v in logs.items()})
    ev.on_train_end()
    return out


def interval_data(n: int = 1001) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(scores, y, w)` for `intervals_run`."""
    from multiproc import classification_data

    x, y, w = classification_data(n, C, D)
    return scores(x), y, w


def expected_intervals(modes: tuple[str, ...] = ("whole", "own")) -> dict[str, Any]:
    """One process's runs, at a batch size no engine uses: unweighted ("whole") and weighted
    ("own")."""
    s, y, w = interval_data()
    data = {"whole": (s, y), "own": (s, y, w)}
    return {mode: intervals_run(data[mode], batch_size=37) for mode in modes}


def compare_runs(got: list[dict[str, float]], want: list[dict[str, float]], what: str) -> None:
    """The same keys at every epoch end, equal to 1e-9; intervals around their values."""
    assert len(got) == len(want) == 3, what
    for logs in want:
        for key in ("val_f1_macro", "val_top2", "val_auroc", "val_f1_best", "val_bal"):
            assert logs[f"{key}_low"] < logs[key] < logs[f"{key}_high"], (what, key)
    assert 0.0 < want[1]["val_f1_macro_p_better"] < 1.0, what  # paired with epoch 0
    for epoch, (g, w) in enumerate(zip(got, want, strict=True)):
        assert sorted(g) == sorted(w), (what, epoch)
        for key, value in w.items():
            assert abs(g[key] - value) <= 1e-9 or (np.isnan(value) and np.isnan(g[key])), (
                what,
                epoch,
                key,
                g[key],
                value,
            )
