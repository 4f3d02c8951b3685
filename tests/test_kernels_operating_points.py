"""Operating points and partial ROC-AUC against scikit-learn's curves on the same data.

The oracle reads the points of `precision_recall_curve` / `roc_curve` (the PR curve's last point,
precision 1 at recall 0, has no threshold: it gets +inf, like `roc_curve`'s first point), keeps
those meeting the constraint, takes the best value and, among the points reaching it, the one best
on the constrained metric. Weights are on a dyadic grid so that every sum is exact on both sides.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np
import oracles
import pytest
import sklearn.metrics as skm
from helpers import host, sk
from hypothesis import example, given
from hypothesis import strategies as st

from epochmetrics._backend import runtime
from epochmetrics._backend.xp import keras_ops, numpy_ops
from epochmetrics.functional import operating_points as op
from epochmetrics.functional import operating_points_ops as opo
from epochmetrics.functional import ranking_graph
from epochmetrics.functional.ranking import UndefinedMetricWarning

KINDS = opo.KINDS
CONSTRAINT = {
    "precision_at_recall": "min_recall",
    "recall_at_precision": "min_precision",
    "sensitivity_at_specificity": "min_specificity",
    "specificity_at_sensitivity": "min_sensitivity",
}


# --- the oracle ----------------------------------------------------------------------------------
def oracle(kind: str, y: Any, s: Any, w: Any, c: float) -> tuple[float, float]:
    """(value, threshold) from scikit-learn's curve points; NaN, NaN if the rates are undefined."""
    y = np.asarray(y)
    w_all = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    p, n = w_all[y == 1].sum(), w_all[y == 0].sum()
    if p == 0 or (n == 0 and "spec" in kind):
        return math.nan, math.nan
    if kind in ("precision_at_recall", "recall_at_precision"):
        precision, recall, thresholds = sk(skm.precision_recall_curve, y, s, sample_weight=w)
        thresholds = np.r_[thresholds, np.inf]
        if kind == "precision_at_recall":
            value, constrained = precision, recall
        else:
            value, constrained = recall, precision
    else:
        fpr, tpr, thresholds = sk(skm.roc_curve, y, s, sample_weight=w, drop_intermediate=False)
        if kind == "sensitivity_at_specificity":
            value, constrained = tpr, 1.0 - fpr
        else:
            value, constrained = 1.0 - fpr, tpr
    ok = constrained >= c
    best = value[ok].max()
    tied = np.flatnonzero(ok & (value == best))
    pick = tied[np.argmax(constrained[tied])]
    # The curve's threshold means score >= t; ours score > t: the number just below it.
    return float(best), oracles.below(thresholds[pick], np.asarray(s))


def draw_binary(rng: np.random.Generator, n: int, weighted: bool) -> tuple[Any, Any, Any]:
    y = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int)
    if rng.random() < 0.5:
        s = rng.integers(0, 12, n) / 12.0  # heavy ties
    else:
        s = np.clip(rng.normal(0.5 + 0.2 * (y - 0.5), 0.2), 0, 1).astype(np.float32)
    w = rng.integers(0, 9, n) / 4.0 if weighted else None
    return y, s, w


def constraints(rng: np.random.Generator, kind: str, y: Any, s: Any, w: Any) -> list[float]:
    """Random levels, the ends, and levels met with equality at some threshold."""
    levels = [0.0, 1.0, *rng.random(3)]
    if w is not None and not np.any(w):
        return levels  # no curve: scikit-learn refuses weights that are all zero
    fpr, tpr, _ = sk(skm.roc_curve, y, s, sample_weight=w)
    precision, recall, _ = sk(skm.precision_recall_curve, y, s, sample_weight=w)
    exact = {"precision_at_recall": recall, "recall_at_precision": precision}.get(kind)
    if exact is None:
        exact = 1.0 - fpr if kind == "sensitivity_at_specificity" else tpr
    finite = exact[np.isfinite(exact)]
    return levels + list(rng.choice(finite, size=min(3, finite.size)))


def assert_point(ours: Any, expected: tuple[float, float], what: str, rtol: float = 0.0) -> None:
    """Values to 1e-12; thresholds exactly (they are scores), or to `rtol` after a softmax."""
    np.testing.assert_allclose(ours[0], expected[0], atol=1e-12, rtol=0, err_msg=what)
    np.testing.assert_allclose(ours[1], expected[1], atol=0, rtol=rtol, err_msg=what)


# --- host functions --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), weighted=st.booleans())
@example(seed=0, n=1, weighted=True)  # one sample of weight 0: undefined (NaN), not an error
def test_binary_equals_curve_oracle(kind: str, seed: int, n: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    y, s, w = draw_binary(rng, n, weighted)
    for c in constraints(rng, kind, y, s, w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            ours = getattr(op, kind)(y, s, sample_weight=w, **{CONSTRAINT[kind]: c})
        assert_point(ours, oracle(kind, y, s, w, c), f"{kind} c={c}")


@pytest.mark.parametrize("kind", KINDS)
def test_arbitrary_float_weights_keep_full_recall_reachable(
    kind: str, rng: np.random.Generator
) -> None:
    # Sums of weights like 0.1 round differently in different orders; a constraint of 1.0
    # (all positives) must still be met at the lowest threshold.
    for _ in range(20):
        y, s, _ = draw_binary(rng, 30, weighted=False)
        w = rng.choice([0.1, 0.3, 0.7, 1 / 3], 30)
        for c in (1.0, float(rng.random())):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                ours = getattr(op, kind)(y, s, sample_weight=w, **{CONSTRAINT[kind]: c})
            assert_point(ours, oracle(kind, y, s, w, c), f"{kind} c={c}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_per_class_and_averages(kind: str, task: str, rng: np.random.Generator) -> None:
    n, k = 60, 4
    scores = np.round(rng.random((n, k)), 1)
    if task == "multiclass":
        scores = scores / scores.sum(axis=1, keepdims=True).clip(1e-9)
        labels = rng.integers(0, k, n)
        targets = labels[:, None] == np.arange(k)
        y: Any = labels
    else:
        targets = rng.random((n, k)) < 0.4
        y = targets.astype(int)
    w = rng.integers(1, 5, n) / 2.0
    c = 0.6
    per_class = [oracle(kind, targets[:, j].astype(int), scores[:, j], w, c) for j in range(k)]
    expected_values = np.array([v for v, _ in per_class])
    expected_thresholds = np.array([t for _, t in per_class])
    args = {"task": task, "num_classes": k, "sample_weight": w, CONSTRAINT[kind]: c}
    f = getattr(op, kind)
    none = f(y, scores, average=None, **args)
    assert_point(none, (expected_values, expected_thresholds), "average=None")
    macro = f(y, scores, average="macro", **args)
    assert_point(macro, (expected_values.mean(), expected_thresholds), "macro")
    support = (targets * w[:, None]).sum(axis=0)
    weighted = f(y, scores, average="weighted", **args)
    expected_weighted = float(np.sum(expected_values * support) / support.sum())
    assert_point(weighted, (expected_weighted, expected_thresholds), "weighted")
    micro = f(y, scores, average="micro", **args)
    pooled = oracle(kind, targets.ravel().astype(int), scores.ravel(), np.repeat(w, k), c)
    assert_point(micro, pooled, "micro")


def test_ignore_index_and_logits() -> None:
    y = np.array([0, 1, 255, 1, 0, 1])
    z = np.array([-2.0, 1.5, 9.0, -0.5, 0.25, 3.0], dtype=np.float32)
    keep = y != 255
    ours = op.precision_at_recall(y, z, min_recall=0.6, from_logits=True, ignore_index=255)
    # Thresholds are in logit units for binary scores.
    assert_point(ours, oracle("precision_at_recall", y[keep], z[keep], None, 0.6), "logits")
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]]))
    labels = np.array([0, 2, 2, 1])
    ours = op.recall_at_precision(
        labels,
        logits,
        min_precision=0.5,
        task="multiclass",
        num_classes=3,
        average=None,
        from_logits=True,
    )
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for j in range(3):
        expected = oracle("recall_at_precision", (labels == j).astype(int), probs[:, j], None, 0.5)
        assert_point((ours.value[j], ours.threshold[j]), expected, f"class {j}", rtol=1e-12)


def _below(t: float) -> float:
    """The threshold of the cut "score >= t" under "score > threshold" (float64 scores)."""
    return float(np.nextafter(t, -np.inf))


def test_unreachable_constraints_give_zero_at_infinity() -> None:
    y, s = [1, 0, 1, 0], [0.2, 0.9, 0.3, 0.8]
    assert op.recall_at_precision(y, s, min_precision=0.9) == (0.0, math.inf)
    assert op.sensitivity_at_specificity(y, s, min_specificity=1.0) == (0.0, math.inf)
    # Always reachable: the lowest threshold has recall 1.
    assert op.precision_at_recall(y, s, min_recall=1.0) == (0.5, _below(0.2))
    assert op.specificity_at_sensitivity(y, s, min_sensitivity=1.0) == (0.0, _below(0.2))


def test_ties_pick_the_point_best_on_the_constraint() -> None:
    # Precision 1/2 at thresholds 0.9 (recall 1/3) and 0.1 (recall 1): precision at recall
    # reports the lowest, with the most recall.
    y, s = [1, 0, 1, 0, 1, 0], [0.9, 0.9, 0.5, 0.5, 0.1, 0.1]
    assert op.precision_at_recall(y, s, min_recall=0.1) == (0.5, _below(0.1))
    # Sensitivity 2/3 at thresholds 0.5 (specificity 2/3) and 0.4 (1/3): the highest.
    y, s = [1, 0, 1, 0, 0, 1], [0.9, 0.5, 0.5, 0.4, 0.1, 0.05]
    assert op.sensitivity_at_specificity(y, s, min_specificity=0.3) == (2 / 3, _below(0.5))


@pytest.mark.parametrize("kind", KINDS)
def test_undefined_classes_are_nan_with_a_warning(kind: str) -> None:
    f = getattr(op, kind)
    with pytest.warns(UndefinedMetricWarning, match="no|needs"):
        value, threshold = f([0, 0, 0], [0.1, 0.5, 0.2], **{CONSTRAINT[kind]: 0.5})
    assert math.isnan(value) and math.isnan(threshold)
    no_negatives = ([1, 1], [0.3, 0.6])
    if "spec" in kind:
        with pytest.warns(UndefinedMetricWarning, match=r"class\(es\) \[1\]"):
            point = f(
                [[0, 1], [1, 1], [0, 1]],
                [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]],
                task="multilabel",
                num_classes=2,
                average=None,
                **{CONSTRAINT[kind]: 0.5},
            )
        assert np.isnan(point.value[1]) and not np.isnan(point.value[0])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not math.isnan(f(*no_negatives, **{CONSTRAINT[kind]: 0.5}).value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"min_recall": 1.5},
            r"`min_recall` must be a number in \[0, 1\]. Received: min_recall=1.5",
        ),
        ({"min_recall": None}, "Received: min_recall=None"),
        ({"min_recall": math.nan}, "Received: min_recall=nan"),
        ({"min_recall": True}, "Received: min_recall=True"),
    ],
)
def test_bad_constraints(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        op.precision_at_recall([0, 1], [0.1, 0.9], **kwargs)


# --- the xp form on exact group counts and on bins -------------------------------------------------
def exact_groups(s: np.ndarray, y: np.ndarray, w: np.ndarray, size: int = 64) -> tuple[Any, ...]:
    """Group masses and thresholds as exact mode computes them in the graph (`keras.ops`), from
    a buffer of `size` rows whose unused rows hold score 0 and weight 0 (as exact mode's)."""
    pad = size - len(s)
    s = np.r_[s, np.zeros(pad)].astype(np.float32)[:, None]
    pos = np.r_[w * (y == 1), np.zeros(pad)][:, None]
    neg = np.r_[w * (y == 0), np.zeros(pad)][:, None]
    counts = ranking_graph.group_counts(
        keras.ops.convert_to_tensor(s),
        keras.ops.convert_to_tensor(pos.astype("float32")),
        keras.ops.convert_to_tensor(neg.astype("float32")),
        "float32",
    )
    return counts[0], counts[1], opo.group_thresholds(keras.ops.convert_to_tensor(s))


@pytest.mark.parametrize("kind", KINDS)
def test_xp_form_on_exact_group_counts_equals_host(kind: str, rng: np.random.Generator) -> None:
    for trial in range(3):
        y, s, w = draw_binary(rng, 50, weighted=trial > 0)
        w = np.ones(50) if w is None else w
        s = np.asarray(s, dtype=np.float32)
        pos, neg, thr = exact_groups(s, y, w)
        expected = getattr(op, kind)(y, s, sample_weight=w, **{CONSTRAINT[kind]: 0.5})
        in_graph = opo.operating_point_from_counts(keras_ops, kind, pos, neg, thr, 0.5)
        on_host = opo.operating_point_from_counts(
            numpy_ops,
            kind,
            host(pos).astype(np.float64),
            host(neg).astype(np.float64),
            host(thr),
            0.5,
        )
        for ours in (in_graph, on_host):
            np.testing.assert_allclose(host(ours[0])[0], expected.value, atol=1e-6)
            assert float(host(ours[1])[0]) == expected.threshold


def test_xp_form_compiles() -> None:
    y, s, w = draw_binary(np.random.default_rng(1), 40, weighted=True)
    pos, neg, thr = exact_groups(np.asarray(s), y, w)

    def fn(pos: Any, neg: Any, thr: Any) -> Any:
        return opo.operating_point_from_counts(keras_ops, "recall_at_precision", pos, neg, thr, 0.7)

    compiled = runtime.compile_eager(fn, fixed=3) or fn
    got = compiled(pos, neg, thr)
    expected = op.recall_at_precision(
        y, np.asarray(s, np.float32), min_precision=0.7, sample_weight=w
    )
    np.testing.assert_allclose(host(got[0])[0], expected.value, atol=1e-6)
    assert float(host(got[1])[0]) == expected.threshold


def binned(s: np.ndarray, y: np.ndarray, w: np.ndarray, logits: bool, bpo: int) -> tuple[Any, ...]:
    bins = ranking_graph.score_bins(s[:, None], logits=logits, bins_per_octave=bpo)
    g = ranking_graph.bin_count(bpo)
    pos_w = (w * (y == 1))[:, None].astype(np.float64)
    neg_w = (w * (y == 0))[:, None].astype(np.float64)
    hist = host(ranking_graph.histogram(bins, pos_w, neg_w, g, 1)).astype(np.float64)
    return hist[g:][None], hist[:g][None]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("logits", [False, True])
def test_binned_is_achieved_and_within_its_bound(
    kind: str, logits: bool, rng: np.random.Generator
) -> None:
    bpo = 4  # coarse bins, so that the bound has work to do
    thresholds = opo.bin_thresholds(bpo, logits=logits)
    for _ in range(4):
        n = 300
        y = (rng.random(n) < 0.4).astype(int)
        z = rng.normal(1.0 * y, 1.0)
        s = (z if logits else 1 / (1 + np.exp(-z))).astype(np.float32)
        w = rng.integers(0, 5, n) / 2.0
        pos, neg = binned(s, y, w, logits, bpo)
        c = float(rng.uniform(0.2, 0.9))
        value, threshold = opo.operating_point_from_counts(numpy_ops, kind, pos, neg, thresholds, c)
        bound = opo.operating_point_error_bound(numpy_ops, kind, pos, neg, c)[0]
        exact = getattr(op, kind)(y, s, sample_weight=w, **{CONSTRAINT[kind]: c}).value
        # The binned value is the exact rate at the threshold reported (score > threshold,
        # compared in float32 as the metrics compare).
        at = s > np.float32(threshold[0])
        assert np.float32(threshold[0]) == threshold[0] or np.isinf(threshold[0])
        tp, fp = w[at & (y == 1)].sum(), w[at & (y == 0)].sum()
        p, n_ = w[y == 1].sum(), w[y == 0].sum()
        rates = {
            "precision_at_recall": tp / (tp + fp) if tp + fp else 1.0,
            "recall_at_precision": tp / p,
            "sensitivity_at_specificity": tp / p,
            "specificity_at_sensitivity": 1 - fp / n_,
        }
        np.testing.assert_allclose(value[0], rates[kind], atol=1e-12)
        assert value[0] - 1e-12 <= exact <= value[0] + bound + 1e-12


def test_bin_thresholds_select_exactly_the_bins_for_probabilities(rng: np.random.Generator) -> None:
    t = opo.bin_thresholds(8, logits=False)
    edges = t.astype(np.float32)
    x = (
        np.concatenate(
            [
                rng.random(20000),
                rng.random(2000) * 1e-30,
                1 - rng.random(2000) * 1e-5,
                0.5 + rng.normal(0, 1e-6, 2000),
                edges,
                np.nextafter(edges, np.float32(-1)),
                np.nextafter(edges, np.float32(2)),
            ]
        )
        .astype(np.float32)
        .clip(0, 1)
    )
    bins = host(ranking_graph.score_bins(x, logits=False, bins_per_octave=8))
    np.testing.assert_array_equal(bins, np.searchsorted(t, x, side="right") - 1)
    assert t[0] == 0.0 and t[-1] == 1.0 and np.all(np.diff(t) >= 0)
    z = opo.bin_thresholds(8, logits=True)
    assert z[0] == -np.inf and np.all(np.diff(z) >= 0)
    # Logit 0 ends the lower half; the upper half starts at the smallest positive float32 the
    # backend does not flush to zero (XLA and TensorFlow flush subnormals).
    assert 0.0 < z[len(z) // 2] <= np.finfo(np.float32).tiny


# --- partial ROC-AUC -----------------------------------------------------------------------------------
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), weighted=st.booleans())
def test_partial_auc_equals_sklearn(seed: int, n: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    y, s, w = draw_binary(rng, n, weighted)
    fpr, _, _ = sk(skm.roc_curve, y, s, sample_weight=w)
    for m in [1.0, float(rng.uniform(0.01, 1.0)), *fpr[(fpr > 0) & np.isfinite(fpr)][:2]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            ours = op.roc_auc_max_fpr(y, s, max_fpr=float(m), sample_weight=w)
        expected = sk(skm.roc_auc_score, y, s, sample_weight=w, max_fpr=float(m))
        np.testing.assert_allclose(ours, expected, atol=1e-12, rtol=0, err_msg=f"max_fpr={m}")


@pytest.mark.parametrize("average", ["macro", "weighted", "micro", None])
def test_partial_auc_multilabel_and_multiclass(average: Any, rng: np.random.Generator) -> None:
    y = (rng.random((50, 3)) < 0.5).astype(int)
    s = np.round(rng.random((50, 3)), 2)
    ours = op.roc_auc_max_fpr(y, s, max_fpr=0.3, task="multilabel", num_classes=3, average=average)
    expected = skm.roc_auc_score(y, s, max_fpr=0.3, average=average)
    np.testing.assert_allclose(ours, expected, atol=1e-12)
    labels = rng.integers(0, 3, 50)
    ours = op.roc_auc_max_fpr(
        labels, s, max_fpr=0.3, task="multiclass", num_classes=3, average=None
    )
    per_class = [skm.roc_auc_score(labels == j, s[:, j], max_fpr=0.3) for j in range(3)]
    np.testing.assert_allclose(ours, per_class, atol=1e-12)


def test_partial_auc_undefined_and_bad_max_fpr() -> None:
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(op.roc_auc_max_fpr([1, 1], [0.2, 0.4], max_fpr=0.5))
    with pytest.raises(ValueError, match=r"`max_fpr` must be a number in \(0, 1\]"):
        op.roc_auc_max_fpr([0, 1], [0.2, 0.4], max_fpr=0.0)


def test_partial_auc_in_graph_and_binned(rng: np.random.Generator) -> None:
    y = (rng.random(400) < 0.3).astype(int)
    s = (1 / (1 + np.exp(-rng.normal(1.2 * y, 1.0)))).astype(np.float32)
    w = np.ones(400)
    expected = skm.roc_auc_score(y, s, max_fpr=0.2)
    pos, neg, _ = exact_groups(s, y, w, size=512)
    in_graph = host(opo.roc_auc_max_fpr_from_counts(keras_ops, pos, neg, 0.2))[0]
    np.testing.assert_allclose(in_graph, expected, atol=1e-6)
    pos, neg = binned(s, y, w, logits=False, bpo=2)
    value = opo.roc_auc_max_fpr_from_counts(numpy_ops, pos, neg, 0.2)[0]
    bound = opo.roc_auc_max_fpr_error_bound(numpy_ops, pos, neg, 0.2)[0]
    assert 0 < bound < 0.2
    assert abs(value - expected) <= bound + 1e-12


# --- where Keras' 200 thresholds go wrong ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "keras_class", "keras_arg"),
    [
        ("precision_at_recall", "PrecisionAtRecall", "recall"),
        ("recall_at_precision", "RecallAtPrecision", "precision"),
        ("sensitivity_at_specificity", "SensitivityAtSpecificity", "specificity"),
        ("specificity_at_sensitivity", "SpecificityAtSensitivity", "sensitivity"),
    ],
)
def test_keras_thresholds_miss_bunched_scores(
    kind: str, keras_class: str, keras_arg: str, rng: np.random.Generator
) -> None:
    # A confident model: probabilities between 0.999 and 0.99999, well ranked. Keras' 200
    # uniform thresholds have none above 0.995, so every sample is on the same side of each.
    n = 2000
    y = (rng.random(n) < 0.5).astype(int)
    s = (1 / (1 + np.exp(-rng.normal(8.0 + 1.0 * y, 0.6)))).astype(np.float32)
    c = 0.8
    exact = oracle(kind, y, s, None, c)
    ours = getattr(op, kind)(y, s, **{CONSTRAINT[kind]: c})
    assert_point(ours, exact, kind)
    pos, neg = binned(s, y, np.ones(n), logits=False, bpo=64)
    thresholds = opo.bin_thresholds(64, logits=False)
    value, _ = opo.operating_point_from_counts(numpy_ops, kind, pos, neg, thresholds, c)
    assert abs(value[0] - exact[0]) < 0.01
    metric = getattr(keras.metrics, keras_class)(**{keras_arg: c})
    metric.update_state(y, s)
    assert abs(float(host(metric.result())) - exact[0]) > 0.05
