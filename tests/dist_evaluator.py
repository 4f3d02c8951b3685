"""EpochEvaluator cases shared by the engines of `tests/test_distributed.py` (run in children).

`evaluate_all(...)` runs the evaluator on a classifier (a streamed ClassificationReport, an
exact AUROC through `evaluate_arrays`, a scikit-learn callable) and on a detector (DetectionMAP)
and returns JSON: the values, and the rows this process ran through the model. `expected(...)`
computes what one device gives, on the test's side, from the data alone.
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
