"""`top_k` (multiclass scores) and multilabel `average="samples"` against their oracles.

Top-k accuracy: scikit-learn's `top_k_accuracy_score`, on scores with many ties (rounded to one
decimal). Ties at the k-th score go to the lower class index here (argmax's first maximum, so
top_k=1 is the default prediction), to the higher one in scikit-learn: the reference is
scikit-learn on the classes in reverse order. Top-k precision and recall: scikit-learn has
none; the reference counts, per class, the samples whose top-k set holds it
(`oracles.top_k_sets`) and the samples labelled with it.
"""

from __future__ import annotations

import keras
import numpy as np
import oracles
import pytest
from helpers import assert_close, batch_sizes, feed, sk
from sklearn import metrics as skm

import epochmetrics as em

C = 5


def _scores(seed: int, n: int = 157, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n)
    p = rng.random((n, C))
    if ties:
        p = np.round(p, 1)  # many ties at the k-th score
    return y, p.astype(np.float32)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy_matches_sklearn(k: int) -> None:
    y, p = _scores(k)
    w = np.random.default_rng(10 + k).integers(1, 4, len(y)).astype(np.float64)
    sizes = batch_sizes(np.random.default_rng(k), len(y))
    metric = feed(em.Accuracy("multiclass", num_classes=C, top_k=k), y, p, w, sizes)
    expected = _sklearn_top_k(y, p, k, w)
    assert_close(metric.result(), expected, atol=1e-12)


def _sklearn_top_k(y: np.ndarray, p: np.ndarray, k: int, w: np.ndarray | None = None) -> float:
    """scikit-learn's top-k accuracy with ties to the lower class index: its own function on
    the classes in reverse order (its ties go to the higher index)."""
    return float(
        skm.top_k_accuracy_score(C - 1 - y, p[:, ::-1], k=k, labels=range(C), sample_weight=w)
    )


def test_the_tie_order_is_what_the_reference_says() -> None:
    y, p = np.array([0, 1]), np.array([[0.4, 0.4, 0.2], [0.3, 0.3, 0.3]], np.float32)
    metric = em.Accuracy("multiclass", num_classes=3, top_k=1)
    metric.update_state(y, p)
    assert float(metric.result()) == 0.5  # both rows predict class 0
    assert skm.top_k_accuracy_score(y, p, k=1, labels=range(3)) == 0.0  # scikit-learn: 1 and 2


def _top_k_ratios(y: np.ndarray, p: np.ndarray, w: np.ndarray, k: int) -> tuple:
    chosen = oracles.top_k_sets(p, k)
    labelled = np.eye(C, dtype=bool)[y]
    tp = ((chosen & labelled) * w[:, None]).sum(0)
    predicted = (chosen * w[:, None]).sum(0)
    support = (labelled * w[:, None]).sum(0)
    precision = np.divide(tp, predicted, out=np.zeros(C), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(C), where=support > 0)
    present = (support > 0) | (predicted > 0)
    return precision, recall, present, support, tp.sum() / predicted.sum()


@pytest.mark.parametrize("k", [2, 3])
def test_top_k_precision_and_recall_match_the_reference(k: int) -> None:
    y, p = _scores(20 + k)
    w = np.random.default_rng(30 + k).integers(1, 4, len(y)).astype(np.float64)
    precision, recall, present, support, micro_precision = _top_k_ratios(y, p, w, k)
    sizes = batch_sizes(np.random.default_rng(k), len(y))
    kw = {"num_classes": C, "top_k": k}
    cases = [
        (em.Precision("multiclass", **kw, average=None), precision),
        (em.Precision("multiclass", **kw), precision[present].mean()),
        (em.Precision("multiclass", **kw, average="micro"), micro_precision),
        (em.Recall("multiclass", **kw, average=None), recall),
        (em.Recall("multiclass", **kw, average="weighted"), (recall * support).sum() / w.sum()),
    ]
    for metric, expected in cases:
        feed(metric, y, p, w, sizes)
        ours = metric.result()
        if isinstance(ours, dict):
            ours = list(ours.values())
        assert_close(ours, expected, atol=1e-12, what=f"{metric.name} {metric.average}")


@pytest.mark.parametrize("cls", [em.F1Score, em.Precision, em.Recall])
def test_top_k_equal_to_one_is_the_argmax_ties_included(cls: type) -> None:
    y, p = _scores(5)
    assert (np.sort(p, axis=1)[:, -1] == np.sort(p, axis=1)[:, -2]).sum() > 10  # tied maxima
    for average in (None, "macro", "micro"):
        plain = feed(cls("multiclass", num_classes=C, average=average), y, p, sizes=[100, 57])
        top1 = feed(cls("multiclass", num_classes=C, average=average, top_k=1), y, p)
        assert_close(top1.result(), plain.result(), atol=0)
    plain = feed(em.Accuracy("multiclass", num_classes=C), y, p)
    top1 = feed(em.Accuracy("multiclass", num_classes=C, top_k=1), y, p)
    assert_close(top1.result(), plain.result(), atol=0)
    assert_close(plain.result(), skm.accuracy_score(y, p.argmax(1)), atol=1e-12)


def test_top_k_in_a_compiled_fit() -> None:
    y, p = _scores(6)
    model = keras.Sequential(
        [keras.Input((C,)), keras.layers.Dense(C, use_bias=False, kernel_initializer="identity")]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=lambda y_true, y_pred: keras.ops.sum(y_pred, axis=-1) * 0.0,
        metrics=[
            em.Accuracy("multiclass", num_classes=C, top_k=2, name="top2"),
            em.Recall("multiclass", num_classes=C, top_k=3, average="macro", name="recall3"),
        ],
    )
    logs = model.evaluate(p, y, batch_size=32, return_dict=True, verbose=0)
    assert_close(logs["top2"], _sklearn_top_k(y, p, 2), atol=1e-6)
    _, recall, present, _, _ = _top_k_ratios(y, p, np.ones(len(y)), 3)
    assert_close(logs["recall3"], recall[present].mean(), atol=1e-6)


# --- multilabel average="samples" ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "fn"),
    [
        (em.Precision, skm.precision_score),
        (em.Recall, skm.recall_score),
        (em.F1Score, skm.f1_score),
        (em.JaccardIndex, skm.jaccard_score),
    ],
)
@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_samples_average_matches_sklearn(cls: type, fn: object, zero_division: float) -> None:
    rng = np.random.default_rng(7)
    n, labels = 120, 4
    y = (rng.random((n, labels)) < 0.3).astype(int)
    y[:6] = 0  # rows without labels: zero_division decides them
    p = rng.random((n, labels)).astype(np.float32)
    w = rng.integers(1, 4, n).astype(np.float64)
    sizes = batch_sizes(rng, n)
    metric = feed(
        cls("multilabel", num_classes=labels, average="samples", zero_division=zero_division),
        y,
        p,
        w,
        sizes,
    )
    expected = sk(fn, y, p > 0.5, average="samples", sample_weight=w, zero_division=zero_division)
    assert_close(metric.result(), expected, atol=1e-12)
