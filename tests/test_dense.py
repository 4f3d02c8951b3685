"""Dense (segmentation) inputs: every metric against scikit-learn on the flattened elements.

Each case streams batches of random sizes *and* random spatial sizes, with the void label 255
(`ignore_index`) and per-element or per-sample weights, through `update_state` and through a
compiled `fit` (frozen identity model, a dataset of uneven batches). The oracle sees only the
concatenated elements, the ignored ones dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import oracles
import pytest
from helpers import assert_close, sk
from sklearn import metrics as skm

import epochmetrics as em

C = 4
VOID = 255
SPATIAL = [(3, 5), (4, 4)]  # few distinct shapes: eager JAX compiles once per input shape


def _batch(rng: np.random.Generator, task: str, form: str, h: int, w: int, b: int) -> tuple:
    if task == "binary":
        y = rng.integers(0, 2, (b, h, w))
        p = np.clip(0.35 * y + 0.65 * rng.random((b, h, w)), 0, 1).astype(np.float32)
        return y, p
    if task == "multilabel":
        y = rng.integers(0, 2, (b, h, w, C))
        p = np.clip(0.3 * y + 0.7 * rng.random((b, h, w, C)), 0, 1).astype(np.float32)
        return y, p
    y = rng.choice(C, size=(b, h, w), p=[0.4, 0.3, 0.2, 0.1])
    scores = rng.random((b, h, w, C)).astype(np.float32)
    scores += 0.8 * np.eye(C, dtype=np.float32)[y]  # better than chance
    p = scores / scores.sum(-1, keepdims=True)
    if form == "one_hot":
        return np.eye(C, dtype=np.float32)[y], p
    if form == "label_map":
        return y, p.argmax(-1).astype(np.int32)
    return y, p


def make_batches(
    seed: int, task: str, form: str = "labels", weights: str | None = None, void: bool = True
) -> list[tuple[Any, Any, Any]]:
    """Uneven batches of random spatial sizes: `[(y_true, y_pred, sample_weight)]`."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(rng.integers(4, 7))):
        h, w = SPATIAL[int(rng.integers(len(SPATIAL)))]
        b = int(rng.integers(1, 3))
        y, p = _batch(rng, task, form, h, w, b)
        if void and form != "one_hot":
            y = np.where(rng.random(y.shape) < 0.1, VOID, y)
        sw = None
        if weights == "element":
            sw = rng.integers(1, 4, y.shape[:3]).astype(np.float32)
        elif weights == "sample":
            sw = rng.integers(1, 4, b).astype(np.float32)
        out.append((y, p, sw))
    return out


def flatten(batches: list[tuple[Any, Any, Any]], task: str) -> tuple[Any, Any, Any]:
    """The oracle's view: every element a sample, the void ones dropped."""
    ys, ps, ws = [], [], []
    for y, p, sw in batches:
        b, h, w = y.shape[:3]
        if task == "multilabel" or y.ndim == 4:
            y2 = y.reshape(b * h * w, -1)
        else:
            y2 = y.reshape(-1)
        p2 = p.reshape(b * h * w, -1) if p.ndim == 4 else p.reshape(-1)
        if sw is None:
            w2 = np.ones(b * h * w)
        elif sw.ndim == 1:
            w2 = np.repeat(sw, h * w)
        else:
            w2 = sw.reshape(-1)
        ys.append(y2), ps.append(p2), ws.append(w2)
    y, p, w = np.concatenate(ys), np.concatenate(ps), np.concatenate(ws)
    if y.ndim == 2 and task == "multiclass":  # one-hot
        y = y.argmax(-1)
    if task == "multilabel":
        return y, p, w  # void elements handled per label by the caller
    keep = y != VOID
    return y[keep], p[keep], w[keep]


def per_class(name: str, values: Any) -> dict[str, float]:
    return {f"{name}_{k}": float(v) for k, v in enumerate(values)}


def hard(p: np.ndarray) -> np.ndarray:
    return p.argmax(-1) if p.ndim == 2 else p


def ovr(fn: Callable[..., float], y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    return float(np.mean([sk(fn, y == k, p[:, k], sample_weight=w) for k in range(C)]))


def calibration_top_label(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    return oracles.calibration_error(p.max(-1), p.argmax(-1) == y, w, 10, "l1")


# (metric factory, oracle on the flattened elements (y, p, w))
Case = tuple[Callable[[], Any], Callable[[Any, Any, Any], Any]]
MC = {"num_classes": C, "ignore_index": VOID}
MULTICLASS: list[Case] = [
    (
        lambda: em.F1Score("multiclass", **MC, average=None),
        lambda y, p, w: per_class(
            "f1", sk(skm.f1_score, y, hard(p), average=None, labels=range(C), sample_weight=w)
        ),
    ),
    (
        lambda: em.F1Score("multiclass", **MC, name="dice"),  # Dice = F1 (macro)
        lambda y, p, w: sk(skm.f1_score, y, hard(p), average="macro", sample_weight=w),
    ),
    (
        lambda: em.JaccardIndex("multiclass", **MC, average=None),
        lambda y, p, w: per_class(
            "jaccard",
            sk(skm.jaccard_score, y, hard(p), average=None, labels=range(C), sample_weight=w),
        ),
    ),
    (
        lambda: em.JaccardIndex("multiclass", **MC, name="miou"),  # mean IoU
        lambda y, p, w: sk(skm.jaccard_score, y, hard(p), average="macro", sample_weight=w),
    ),
    (
        lambda: em.Precision("multiclass", **MC, average="weighted"),
        lambda y, p, w: sk(skm.precision_score, y, hard(p), average="weighted", sample_weight=w),
    ),
    (
        lambda: em.Recall("multiclass", **MC, average="micro"),
        lambda y, p, w: sk(skm.recall_score, y, hard(p), average="micro", sample_weight=w),
    ),
    (
        lambda: em.Accuracy("multiclass", **MC),
        lambda y, p, w: sk(skm.accuracy_score, y, hard(p), sample_weight=w),
    ),
    (
        lambda: em.BalancedAccuracy("multiclass", **MC),
        lambda y, p, w: sk(skm.balanced_accuracy_score, y, hard(p), sample_weight=w),
    ),
    (
        lambda: em.MatthewsCorrCoef("multiclass", **MC),
        lambda y, p, w: sk(skm.matthews_corrcoef, y, hard(p), sample_weight=w),
    ),
    (
        lambda: em.CohenKappa("multiclass", **MC),
        lambda y, p, w: sk(skm.cohen_kappa_score, y, hard(p), sample_weight=w),
    ),
    (
        lambda: em.ConfusionMatrix("multiclass", **MC),
        lambda y, p, w: sk(skm.confusion_matrix, y, hard(p), labels=range(C), sample_weight=w),
    ),
]
SCORES: list[Case] = [
    (
        lambda: em.AUROC("multiclass", **MC, exact=True, capacity=2000),
        lambda y, p, w: ovr(skm.roc_auc_score, y, p, w),
    ),
    (
        lambda: em.AveragePrecision("multiclass", **MC, exact=True, capacity=2000),
        lambda y, p, w: ovr(skm.average_precision_score, y, p, w),
    ),
    (
        lambda: em.CalibrationError("multiclass", **MC, n_bins=10),
        calibration_top_label,
    ),
]


def _stream(metric: Any, batches: list[tuple[Any, Any, Any]]) -> Any:
    for y, p, sw in batches:
        metric.update_state(y, p, sw)
    return metric.result()


def _check(ours: Any, expected: Any, what: str) -> None:
    if isinstance(expected, np.ndarray) and expected.ndim == 2:
        ours = np.asarray(keras.ops.convert_to_numpy(ours))
    assert_close(ours, expected, atol=1e-9, what=what)


@pytest.mark.parametrize("weights", [None, "element", "sample"])
def test_multiclass_label_maps_against_sklearn(weights: str | None) -> None:
    batches = make_batches(1, "multiclass", weights=weights)
    y, p, w = flatten(batches, "multiclass")
    for make, oracle in MULTICLASS + SCORES:
        metric = make()
        _check(_stream(metric, batches), oracle(y, p, w), metric.name)


def test_multiclass_one_hot_targets_and_integer_label_maps() -> None:
    one_hot = make_batches(2, "multiclass", form="one_hot", weights="sample")
    y, p, w = flatten(one_hot, "multiclass")
    for make, oracle in [MULTICLASS[0], MULTICLASS[-1], SCORES[0]]:
        metric = make()
        _check(_stream(metric, one_hot), oracle(y, p, w), f"one-hot {metric.name}")
    label_map = make_batches(3, "multiclass", form="label_map", weights="element")
    y, p, w = flatten(label_map, "multiclass")
    # Maps of width C (4 x 4 here) with integer predicted maps fit two readings (one-hot rows
    # over the last axis, or label maps): a trailing axis of 1 on y_true says "labels".
    with pytest.raises(ValueError, match="cannot tell what y_true and y_pred"):
        _stream(MULTICLASS[0][0](), [b for b in label_map if b[0].shape[-1] == C])
    label_map = [(y_[..., None], p_, w_) for y_, p_, w_ in label_map]
    for make, oracle in MULTICLASS:
        metric = make()
        _check(_stream(metric, label_map), oracle(y, p, w), f"label map {metric.name}")


def test_binary_masks_against_sklearn() -> None:
    batches = make_batches(4, "binary", weights="element")
    y, p, w = flatten(batches, "binary")
    cases = [
        (em.F1Score("binary", ignore_index=VOID), skm.f1_score(y, p > 0.5, sample_weight=w)),
        (
            em.JaccardIndex("binary", ignore_index=VOID),
            skm.jaccard_score(y, p > 0.5, sample_weight=w),
        ),
        (
            em.AUROC("binary", ignore_index=VOID, exact=True, capacity=500),
            skm.roc_auc_score(y, p, sample_weight=w),
        ),
        (
            em.CalibrationError("binary", ignore_index=VOID, n_bins=7, norm="l2"),
            oracles.calibration_error(p, y, w, 7, "l2"),
        ),
    ]
    for metric, expected in cases:
        _check(_stream(metric, batches), expected, metric.name)


def test_multilabel_dense_against_sklearn() -> None:
    batches = make_batches(5, "multilabel", weights="sample")
    y, p, w = flatten(batches, "multilabel")
    keep = y != VOID  # void is per element (pixel and label)
    yk = np.where(keep, y, 0)
    f1 = [
        skm.f1_score(yk[keep[:, k], k], p[keep[:, k], k] > 0.5, sample_weight=w[keep[:, k]])
        for k in range(C)
    ]
    ap = [
        skm.average_precision_score(
            yk[keep[:, k], k], p[keep[:, k], k], sample_weight=w[keep[:, k]]
        )
        for k in range(C)
    ]
    ece = [
        oracles.calibration_error(p[keep[:, k], k], yk[keep[:, k], k], w[keep[:, k]], 15, "max")
        for k in range(C)
    ]
    kw = {"num_classes": C, "ignore_index": VOID}
    cases = [
        (em.F1Score("multilabel", **kw, average=None), per_class("f1", f1)),
        (em.AveragePrecision("multilabel", **kw, exact=True, capacity=500), np.mean(ap)),
        (em.CalibrationError("multilabel", **kw, norm="max"), np.mean(ece)),
    ]
    for metric, expected in cases:
        _check(_stream(metric, batches), expected, metric.name)


def test_binned_ranking_on_dense_inputs_is_within_its_bound() -> None:
    batches = make_batches(6, "multiclass", weights="element")
    y, p, w = flatten(batches, "multiclass")
    metric = em.AUROC("multiclass", **MC)
    value = float(np.asarray(_stream(metric, batches)))
    assert abs(value - ovr(skm.roc_auc_score, y, p, w)) <= metric.error_bound() + 1e-12


def test_whole_arrays_on_the_host_take_dense_inputs() -> None:
    """`evaluate_arrays` (what EpochEvaluator calls) flattens dense inputs as update_state."""
    rng = np.random.default_rng(7)
    y, p = _batch(rng, "multiclass", "labels", 5, 6, 3)
    y = np.where(rng.random(y.shape) < 0.1, VOID, y)
    sw = rng.random(3)
    batches = [(y, p, sw)]
    yf, pf, wf = flatten(batches, "multiclass")
    metric = em.AUROC("multiclass", **MC)
    assert_close(metric.evaluate_arrays(y, p, sw), ovr(skm.roc_auc_score, yf, pf, wf), atol=1e-12)
    point = em.PrecisionAtRecall("multiclass", **MC, recall=0.7, average="micro")
    got = point.evaluate_arrays(y, p, sw)
    hot = np.eye(C)[yf]
    _, thr, value = oracles.operating_points("precision_at_recall", hot, pf, wf, 0.7, "micro")
    assert_close(got, {"precision_at_recall": value, "precision_at_recall_threshold": thr[0]})


# --- per-sample averaging: the mean over images of each image's score ----------------------------
@pytest.mark.parametrize("weights", [None, "element"])
def test_samplewise_is_the_mean_of_per_image_scores(weights: str | None) -> None:
    batches = make_batches(8, "multiclass", weights=weights)
    images = []  # one (y, hard p, w, image weight) per image, void dropped
    for y, p, sw in batches:
        for i in range(y.shape[0]):
            wi = np.ones(y[i].shape) if sw is None else sw[i]
            keep = y[i] != VOID
            images.append(
                (y[i][keep], p[i].argmax(-1)[keep], wi[keep], float(np.mean(wi, dtype=float)))
            )

    def mean_over_images(score: Callable[..., float]) -> float:
        values = [(score(y, p, w), iw) for y, p, w, iw in images if len(y)]
        return float(sum(v * iw for v, iw in values) / sum(iw for _, iw in values))

    cases = [
        (
            em.F1Score("multiclass", **MC, multidim_average="samplewise"),
            mean_over_images(
                lambda y, p, w: sk(skm.f1_score, y, p, average="macro", sample_weight=w)
            ),
        ),
        (
            em.JaccardIndex("multiclass", **MC, average="micro", multidim_average="samplewise"),
            mean_over_images(
                lambda y, p, w: sk(skm.jaccard_score, y, p, average="micro", sample_weight=w)
            ),
        ),
        (
            em.Accuracy("multiclass", **MC, multidim_average="samplewise"),
            mean_over_images(lambda y, p, w: skm.accuracy_score(y, p, sample_weight=w)),
        ),
    ]
    for metric, expected in cases:
        _check(_stream(metric, batches), expected, metric.name)


@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_a_void_image_scores_zero_division_in_every_average(zero_division: float) -> None:
    """An image whose pixels are all ignored has no score of its own: like a sample without
    labels in scikit-learn's average="samples", it counts as `zero_division` (NaN: left out),
    the same for every average; accuracy (undefined = NaN) leaves it out."""
    rng = np.random.default_rng(11)
    y = rng.integers(0, C, (5, 3, 4))
    y[1] = VOID  # a void image
    y[3, :, :2] = VOID
    p = rng.random((5, 3, 4, C)).astype(np.float32)
    hard = p.argmax(-1)

    def mean(score: Callable[..., Any], undefined: float) -> Any:
        values = []
        for i in range(len(y)):
            keep = y[i] != VOID
            values.append(score(y[i][keep], hard[i][keep]) if keep.any() else undefined)
        values = np.asarray(values, dtype=float)
        return np.nanmean(values, axis=0)

    def f1(average: Any) -> Callable[..., Any]:
        labels = range(C) if average is None else None
        return lambda t, q: sk(
            skm.f1_score, t, q, average=average, labels=labels, zero_division=zero_division
        )

    for average in ("macro", "micro", "weighted", None):
        metric = em.F1Score(
            "multiclass",
            **MC,
            average=average,
            zero_division=zero_division,
            multidim_average="samplewise",
        )
        metric.update_state(y[:2], p[:2])
        metric.update_state(y[2:], p[2:])
        undefined = zero_division if average is not None else np.full(C, zero_division)
        expected = mean(f1(average), undefined)
        ours = metric.result()
        if average is None:
            ours = [ours[f"{metric.name}_{k}"] for k in range(C)]
        _check(ours, expected, f"f1 {average}")
    accuracy = em.Accuracy("multiclass", **MC, multidim_average="samplewise")
    accuracy.update_state(y, p)
    _check(accuracy.result(), mean(skm.accuracy_score, np.nan), "accuracy")


# --- compiled: fit on uneven batches of dense inputs --------------------------------------------
class _Batches(keras.utils.PyDataset):
    def __init__(self, batches: list[tuple[Any, Any, Any]]) -> None:
        super().__init__()
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        y, p, sw = self.batches[i]
        x = p.astype(np.float32)
        return (x, y) if sw is None else (x, y, sw)


def _zero_loss(y_true: Any, y_pred: Any) -> Any:
    """0 per element, shaped like y_true (per-element weights apply), with a gradient path."""
    return keras.ops.sum(y_pred, axis=-1) * 0.0


@pytest.mark.parametrize("weights", [None, "element"])
def test_fit_on_dense_batches_matches_sklearn(weights: str | None) -> None:
    """A frozen identity model (its predictions are its inputs): the train step's metrics are
    computed in the compiled step on every backend, over batches of different sizes."""
    batches = make_batches(9, "multiclass", weights=weights)
    # One spatial size per dataset: a Keras model's input has fixed spatial axes per trace.
    h, w = batches[0][0].shape[1:]
    batches = [b for b in batches if b[0].shape[1:] == (h, w)] + make_batches(
        10, "multiclass", weights=weights
    )
    batches = [b for b in batches if b[0].shape[1:] == (h, w)]
    y, p, wf = flatten(batches, "multiclass")
    model = keras.Sequential(
        [
            keras.Input((h, w, C)),
            keras.layers.Dense(C, use_bias=False, kernel_initializer="identity"),
        ]
    )
    cases = [MULTICLASS[0], MULTICLASS[3], MULTICLASS[-2], SCORES[0], SCORES[2]]
    metrics = [make() for make, _ in cases]
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=_zero_loss,
        weighted_metrics=metrics,
    )
    history = model.fit(_Batches(batches), epochs=1, verbose=0, shuffle=False)
    logs = {k: v[-1] for k, v in history.history.items()}
    for metric, (_, oracle) in zip(metrics, cases, strict=True):
        expected = oracle(y, p, wf)
        if isinstance(expected, dict):
            assert_close({k: logs[k] for k in expected}, expected, atol=1e-6, what=metric.name)
        else:
            assert_close(logs[metric.name], expected, atol=1e-6, what=metric.name)
