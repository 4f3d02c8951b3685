"""The input-form rule (README, "Inputs"): labels, one-hot rows or scores, decided by shapes and
dtypes, never by values; values are only checked against the form chosen.

Every form of the README's table against scikit-learn on the decoded labels, through
`update_state` in uneven batches and through a compiled `fit`; the forms that fit two readings
raise, eagerly and inside the step. Trailing axes equal to num_classes on purpose: that is
where a reading by shape alone goes wrong (labels of shape (B, T) with T == C read as one-hot
rows, integer one-hot maps read as label maps).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
from helpers import assert_close, sk
from sklearn import metrics as skm

import epochmetrics as em

C = 4
H = 3  # a second dense axis; the last one is W == C where it can be mistaken for classes
VOID = 255


def _scores(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Probabilities better than chance for labels `t`, shape t.shape + (C,)."""
    z = rng.random((*t.shape, C)).astype(np.float32) + 0.7 * np.eye(C, dtype=np.float32)[t]
    return z / z.sum(-1, keepdims=True)


def _hot(t: np.ndarray, dtype: Any) -> np.ndarray:
    return np.eye(C, dtype=dtype)[t]


# Each form: (samples of y_true per row) -> (y_true, y_pred, decoded t, decoded p). `n` rows.
Form = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _labels_scores(rng: np.random.Generator, n: int) -> Any:
    t = rng.integers(0, C, n)
    p = _scores(rng, t)
    return t, p, t, p.argmax(-1)


def _column_labels_scores(rng: np.random.Generator, n: int) -> Any:
    t = rng.integers(0, C, n)
    p = _scores(rng, t)
    return t[:, None], p, t, p.argmax(-1)


def _int_one_hot_scores(rng: np.random.Generator, n: int) -> Any:
    t = rng.integers(0, C, n)
    p = _scores(rng, t)
    return _hot(t, np.int64), p, t, p.argmax(-1)


def _bool_one_hot_scores(rng: np.random.Generator, n: int) -> Any:
    t = rng.integers(0, C, n)
    p = _scores(rng, t)
    return _hot(t, bool), p, t, p.argmax(-1)


def _soft_targets_scores(rng: np.random.Generator, n: int) -> Any:
    t = rng.integers(0, C, n)
    soft = np.full((n, C), 0.1 / (C - 1), np.float32)
    soft[np.arange(n), t] = 0.9  # label smoothing
    p = _scores(rng, t)
    return soft, p, t, p.argmax(-1)


def _one_hot_labels(rng: np.random.Generator, n: int) -> Any:
    t, p = rng.integers(0, C, n), rng.integers(0, C, n)
    return _hot(t, np.float32), p, t, p


def _labels_labels(rng: np.random.Generator, n: int) -> Any:
    t, p = rng.integers(0, C, n), rng.integers(0, C, n)
    return t, p.astype(np.int32), t, p


def _label_maps_scores(rng: np.random.Generator, n: int) -> Any:
    t = rng.integers(0, C, (n, H, C))  # (B, H, W) label maps, W == C
    p = _scores(rng, t)  # (B, H, W, C)
    return t, p, t.ravel(), p.argmax(-1).ravel()


def _int_one_hot_maps_float_one_hot(rng: np.random.Generator, n: int) -> Any:
    # The integer one-hot maps of the README's rule: y_pred as floats says "one-hot rows".
    t, p = rng.integers(0, C, (n, H, C)), rng.integers(0, C, (n, H, C))
    return _hot(t, np.int64), _hot(p, np.float32), t.ravel(), p.ravel()


def _int_one_hot_maps_label_maps(rng: np.random.Generator, n: int) -> Any:
    t, p = rng.integers(0, C, (n, H, C)), rng.integers(0, C, (n, H, C))
    return _hot(t, np.int64), p, t.ravel(), p.ravel()


def _sequence_labels(rng: np.random.Generator, n: int) -> Any:
    # (B, T) labels with T == C: a trailing axis of 1 on y_true says "labels".
    t, p = rng.integers(0, C, (n, C)), rng.integers(0, C, (n, C))
    return t[..., None], p, t.ravel(), p.ravel()


def _float_label_maps(rng: np.random.Generator, n: int) -> Any:
    t, p = rng.integers(0, C, (n, H, C)), rng.integers(0, C, (n, H, C))
    return t[..., None].astype(np.float32), p.astype(np.float32), t.ravel(), p.ravel()


FORMS: dict[str, Form] = {
    "(B,) labels, (B, C) scores": _labels_scores,
    "(B, 1) labels, (B, C) scores": _column_labels_scores,
    "(B, C) int one-hot, (B, C) scores": _int_one_hot_scores,
    "(B, C) bool one-hot, (B, C) scores": _bool_one_hot_scores,
    "(B, C) soft targets, (B, C) scores": _soft_targets_scores,
    "(B, C) one-hot, (B,) labels": _one_hot_labels,
    "(B,) labels, (B,) labels": _labels_labels,
    "(B, H, W=C) label maps, (B, H, W, C) scores": _label_maps_scores,
    "(B, H, W, C) int one-hot, float one-hot": _int_one_hot_maps_float_one_hot,
    "(B, H, W, C) int one-hot, (B, H, W) labels": _int_one_hot_maps_label_maps,
    "(B, T=C, 1) labels, (B, T) labels": _sequence_labels,
    "(B, H, W=C, 1) float labels, (B, H, W) float labels": _float_label_maps,
}


def _oracle(t: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    return {
        "f1": sk(skm.f1_score, t, p, average="macro"),
        "iou": sk(skm.jaccard_score, t, p, average=None, labels=range(C), zero_division=0),
    }


def _metrics(**kwargs: Any) -> list[Any]:
    return [
        em.F1Score("multiclass", num_classes=C, name="f1", **kwargs),
        em.JaccardIndex("multiclass", num_classes=C, average=None, name="iou", **kwargs),
    ]


def _ours(metrics: list[Any]) -> dict[str, Any]:
    f1, iou = (m.result() for m in metrics)
    return {"f1": f1, "iou": [iou[f"iou_{k}"] for k in range(C)]}


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_matches_scikit_learn_on_the_decoded_labels(form: str) -> None:
    rng = np.random.default_rng(len(form))
    parts = [FORMS[form](rng, n) for n in (5, 1, 5)]  # uneven batches, one of size 1
    metrics = _metrics()
    for y_true, y_pred, _, _ in parts:
        for m in metrics:
            m.update_state(y_true, y_pred)
    t = np.concatenate([x[2] for x in parts])
    p = np.concatenate([x[3] for x in parts])
    assert_close(_ours(metrics), _oracle(t, p), atol=1e-12, what=form)


class _Identity(keras.layers.Layer):
    """Its input as float32 plus a frozen zero weight (fit needs a trainable variable)."""

    def build(self, input_shape: Any) -> None:
        self.zero = self.add_weight(shape=(), initializer="zeros")

    def call(self, x: Any) -> Any:
        return keras.ops.cast(x, "float32") + self.zero


def _fit_logs(x: np.ndarray, y: np.ndarray, metrics: list[Any], batch_size: int) -> dict[str, Any]:
    inputs = keras.Input(x.shape[1:], dtype=str(x.dtype))
    model = keras.Model(inputs, _Identity()(inputs))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=lambda yt, yp: keras.ops.mean(yp) * 0.0,
        metrics=metrics,
    )
    history = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    return {k: v[-1] for k, v in history.history.items()}


@pytest.mark.parametrize(
    "form",
    [
        "(B, C) int one-hot, (B, C) scores",
        "(B, H, W=C) label maps, (B, H, W, C) scores",
        "(B, H, W, C) int one-hot, float one-hot",
        "(B, H, W=C, 1) float labels, (B, H, W) float labels",
    ],
)
def test_forms_in_a_compiled_fit(form: str) -> None:
    """The same rule inside the train step (shapes and dtypes are static there)."""
    rng = np.random.default_rng(len(form) + 1)
    y_true, y_pred, t, p = FORMS[form](rng, 9)
    logs = _fit_logs(y_pred, y_true, _metrics(), batch_size=4)
    expected = _oracle(t, p)
    assert_close(logs["f1"], expected["f1"], atol=1e-6, what=form)
    assert_close([logs[f"iou_{k}"] for k in range(C)], expected["iou"], atol=1e-6, what=form)


def test_void_one_hot_rows_with_ignore_index() -> None:
    """One-hot targets mark void pixels by an all-zero row (what `one_hot` encoders give an
    out-of-range label such as 255) when `ignore_index` is set; a row hot at `ignore_index`
    is that label, skipped too. Without `ignore_index` an all-zero row is an error."""
    rng = np.random.default_rng(5)
    t = rng.integers(0, C, (6, H, C))
    void = rng.random(t.shape) < 0.2
    y_true = np.where(void[..., None], 0, _hot(t, np.int64))
    y_pred = _scores(rng, t)
    keep = ~void
    expected = _oracle(t[keep], y_pred.argmax(-1)[keep])
    for y in (y_true, y_true.astype(np.float32)):
        metrics = _metrics(ignore_index=VOID)
        for m in metrics:
            m.update_state(y[:2], y_pred[:2])
            m.update_state(y[2:], y_pred[2:])
        assert_close(_ours(metrics), expected, atol=1e-12)
    logs = _fit_logs(y_pred, y_true, _metrics(ignore_index=VOID), batch_size=4)
    assert_close(logs["f1"], expected["f1"], atol=1e-6)
    skip = t != 2
    metrics = _metrics(ignore_index=2)
    for m in metrics:
        m.update_state(_hot(t, np.float32), y_pred)
    assert_close(_ours(metrics), _oracle(t[skip], y_pred.argmax(-1)[skip]), atol=1e-12)
    with pytest.raises(ValueError, match=r"all-zero row is void only when ignore_index is set"):
        _metrics()[0].update_state(y_true, y_pred)


def test_the_issue_example_gives_the_right_mean_iou_or_an_error() -> None:
    """Integer one-hot y_true and y_pred maps: read as label maps they gave mean IoU 0.39
    where the decoded labels give 0.13. Now they raise, naming both readings; with y_pred as
    floats they are one-hot rows and agree with scikit-learn."""
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, C, (4, 6, 6)), rng.integers(0, C, (4, 6, 6))
    miou = em.JaccardIndex("multiclass", num_classes=C)
    with pytest.raises(ValueError, match="cannot tell what y_true and y_pred"):
        miou.update_state(_hot(t, np.int64), _hot(p, np.int64))
    miou.update_state(_hot(t, np.int64), _hot(p, np.int64).astype(np.float32))
    expected = skm.jaccard_score(t.ravel(), p.ravel(), average="macro")
    assert_close(miou.result(), expected, atol=1e-12)


def test_two_readings_fail_the_first_compiled_step() -> None:
    """An integer y_pred of y_true's shape with a last axis of C is refused at trace time."""
    rng = np.random.default_rng(3)
    t = rng.integers(0, C, (8, C))
    inputs = keras.Input((C,), dtype="int32")
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x + 0)(inputs))
    model.compile(
        loss=lambda yt, yp: keras.ops.mean(keras.ops.cast(yp, "float32")) * 0.0,
        metrics=[em.F1Score("multiclass", num_classes=C)],
    )
    with pytest.raises(ValueError, match="cannot tell what y_true and y_pred"):
        model.evaluate(t, t, batch_size=4, verbose=0)


def test_labels_read_as_one_hot_rows_are_nan_with_a_warning_in_fit() -> None:
    """(B, T) labels with T == C and float predicted labels fit the one-hot reading only by
    shape: their rows are not one-hot, so the compiled step counts them as invalid (NaN and
    a warning), never a number."""
    rng = np.random.default_rng(4)
    t = rng.integers(0, C, (8, C))
    assert not np.all(np.isin(t, (0, 1)))
    metric = em.F1Score("multiclass", num_classes=C, name="f1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logs = _fit_logs(t.astype(np.float32), t, [metric], batch_size=4)
    assert np.isnan(logs["f1"])
    assert any("rows that are not one-hot" in str(w.message) for w in caught)
