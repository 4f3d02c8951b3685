"""Every metric, task and average against scikit-learn on the concatenated data.

Data, batch partitions (size-1 batches included), missing classes, single-class data, sample
weights (integers, floats, zeros), ignore_index and zero_division are drawn by hypothesis; our
metric is fed batch by batch through `update_state`, scikit-learn gets the whole arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sklearn.metrics as skm
from helpers import assert_close, partition, sk, stream
from hypothesis import assume, given
from hypothesis import strategies as st

import epochmetrics as em

ZERO_DIVISION = [0.0, 1.0, math.nan]


# --- data --------------------------------------------------------------------------------------
class Case:
    """One drawn dataset: inputs for us (`y_true`, `y_pred`) and hard labels for the oracle."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        fields = ("task", "c", "y_true", "y_pred", "w", "ignored", "kwargs", "cuts")
        return "Case(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in fields) + ")"

    def oracle_view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Hard labels with ignored and zero-weight samples removed (zero weight = removal)."""
        keep = np.ones(len(self.t), dtype=bool)
        if self.ignored is not None:
            keep &= ~self.ignored
        if self.w is not None:
            keep &= self.w > 0
        w = None if self.w is None else self.w[keep].astype(np.float64)
        return self.t[keep], self.p[keep], w


@st.composite
def cases(draw: Any, task: str) -> Case:
    n = draw(st.integers(1, 48))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = 2 if task == "binary" else draw(st.integers(2, 6))
    cuts = draw(st.lists(st.integers(1, 47), max_size=6))
    weighting = draw(st.sampled_from([None, "int", "float", "zeros"]))
    ignore = draw(st.booleans()) and task != "multilabel"
    w = None
    if weighting == "int":
        w = rng.integers(1, 4, size=n).astype(np.float32)
    elif weighting == "float":
        # Fractional weights on a dyadic grid: float32 sums of them are exact, so any difference
        # from scikit-learn would be ours. Arbitrary floats: test_arbitrary_float_weights.
        w = (rng.integers(7, 193, size=n) / 64).astype(np.float32)
    elif weighting == "zeros":
        w = rng.integers(0, 3, size=n).astype(np.float32)

    if task == "multilabel":
        t = (rng.random((n, c)) < rng.uniform(0.1, 0.9)).astype(np.int32)
        # Probabilities on a coarse grid: ties, and values exactly at the threshold.
        threshold = draw(st.sampled_from([0.5, 0.3]))
        y_pred = (rng.integers(0, 11, size=(n, c)) / 10).astype(np.float32)
        p = (y_pred > threshold).astype(np.int32)
        return Case(
            task=task,
            c=c,
            t=t,
            p=p,
            y_true=t,
            y_pred=y_pred,
            w=w,
            ignored=None,
            kwargs={"threshold": threshold},
            cuts=cuts,
            n=n,
        )

    # Classes drawn from a random subset: missing classes and single-class data happen.
    present = rng.choice(c, size=rng.integers(1, c + 1), replace=False)
    t = rng.choice(present, size=n).astype(np.int32)
    kwargs: dict[str, Any] = {}
    if task == "binary":
        threshold = draw(st.sampled_from([0.5, 0.25, 0.8]))
        form = draw(st.sampled_from(["proba", "logits", "labels"]))
        if form == "proba":
            y_pred = (rng.integers(0, 21, size=n) / 20).astype(np.float32)
            p = (y_pred > threshold).astype(np.int32)
        elif form == "logits":
            y_pred = rng.normal(0, 3, size=n).astype(np.float32)
            p = (1 / (1 + np.exp(-y_pred.astype(np.float64))) > threshold).astype(np.int32)
            kwargs["from_logits"] = True
        else:
            y_pred = rng.integers(0, 2, size=n).astype(np.int32)
            p = y_pred
        kwargs["threshold"] = threshold
        y_true = t.astype(np.float32) if draw(st.booleans()) else t.reshape(-1, 1)
    else:
        form = draw(st.sampled_from(["scores", "labels"]))
        if form == "scores":
            y_pred = rng.random((n, c)).astype(np.float32)
            p = y_pred.argmax(axis=1).astype(np.int32)
        else:
            p = (
                rng.choice(present, size=n).astype(np.int32)
                if rng.random() < 0.5
                else rng.integers(0, c, n)
            )
            y_pred = p.astype(np.int32)
        y_true = draw(st.sampled_from(["sparse", "column", "onehot"]))
        y_true = {
            "sparse": t,
            "column": t.reshape(-1, 1),
            "onehot": np.eye(c, dtype=np.float32)[t],
        }[y_true]
    ignored = None
    if (ignore and y_true.ndim == 1) or (ignore and y_true.shape[-1] == 1):
        ignored = rng.random(n) < 0.2
        y_true = y_true.copy()
        y_true[ignored] = -1
        kwargs["ignore_index"] = -1
    return Case(
        task=task,
        c=c,
        t=t,
        p=p,
        y_true=y_true,
        y_pred=y_pred,
        w=w,
        ignored=ignored,
        kwargs=kwargs,
        cuts=cuts,
        n=n,
    )


# --- oracles -----------------------------------------------------------------------------------
def per_class(values: Any, name: str) -> dict[str, float]:
    return {f"{name}_{i}": float(v) for i, v in enumerate(values)}


def sk_ratio(fn: Any, case: Case, average: Any, zd: float, name: str, **extra: Any) -> Any:
    t, p, w = case.oracle_view()
    if case.task == "binary" and average == "binary":
        return sk(fn, t, p, average="binary", sample_weight=w, zero_division=zd, **extra)
    if average is None:
        labels = list(range(case.c))
        return per_class(
            sk(fn, t, p, labels=labels, average=None, sample_weight=w, zero_division=zd, **extra),
            name,
        )
    return sk(fn, t, p, average=average, sample_weight=w, zero_division=zd, **extra)


def sk_specificity(case: Case, average: Any, zd: float, name: str) -> Any:
    """Specificity of class k = recall of the samples that are not k (scikit-learn's recall)."""
    t, p, w = case.oracle_view()
    labels = list(range(case.c))
    if case.task == "multilabel":

        def col(x: np.ndarray, k: int) -> np.ndarray:
            return x[:, k]
    else:

        def col(x: np.ndarray, k: int) -> np.ndarray:
            return (x == k).astype(int)

    values = np.array(
        [
            sk(skm.recall_score, 1 - col(t, k), 1 - col(p, k), sample_weight=w, zero_division=zd)
            for k in labels
        ]
    )
    if average is None:
        return per_class(values, name)
    if average == "binary":
        return values[1]
    mcm = skm.multilabel_confusion_matrix(
        t, p, sample_weight=w, labels=None if case.task == "multilabel" else labels
    )
    tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
    if average == "micro":
        return tn.sum() / (tn + fp).sum() if (tn + fp).sum() > 0 else zd
    present = (
        np.ones(case.c, bool) if case.task == "multilabel" else np.isin(labels, np.union1d(t, p))
    )
    keep = present & ~np.isnan(values)
    if not keep.any():
        return math.nan
    if average == "macro":
        return values[keep].mean()
    support = mcm[:, 1, 0] + mcm[:, 1, 1]
    return (
        np.average(values[keep], weights=support[keep])
        if support[keep].sum() > 0
        else values[keep].mean()
    )


def ratio_oracle(kind: str) -> Any:
    fns = {
        "precision": (skm.precision_score, {}),
        "recall": (skm.recall_score, {}),
        "f1": (skm.f1_score, {}),
        "fbeta": (skm.fbeta_score, {"beta": 2.0}),
        "jaccard": (skm.jaccard_score, {}),
    }
    if kind == "specificity":
        return sk_specificity
    fn, extra = fns[kind]
    return lambda case, average, zd, name: sk_ratio(fn, case, average, zd, name, **extra)


RATIO_CLASSES = {
    "precision": lambda **kw: em.Precision(**kw),
    "recall": lambda **kw: em.Recall(**kw),
    "f1": lambda **kw: em.F1Score(**kw),
    "fbeta": lambda **kw: em.FBetaScore(beta=2.0, **kw),
    "jaccard": lambda **kw: em.JaccardIndex(**kw),
    "specificity": lambda **kw: em.Specificity(**kw),
}


def averages_for(task: str) -> list[Any]:
    return (["binary"] if task == "binary" else []) + ["micro", "macro", "weighted", None]


def run(metric: Any, case: Case) -> Any:
    return stream(metric, case.y_true, case.y_pred, case.w, partition(case.n, case.cuts))


def usable(case: Case) -> bool:
    t, _, _ = case.oracle_view()
    return len(t) > 0


# --- tests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("kind", sorted(RATIO_CLASSES))
@given(data=st.data())
def test_ratio_metrics_match_sklearn(task: str, kind: str, data: Any) -> None:
    case = data.draw(cases(task))
    assume(usable(case))
    # scikit-learn's jaccard_score takes no nan zero_division.
    zd = data.draw(st.sampled_from(ZERO_DIVISION[:2] if kind == "jaccard" else ZERO_DIVISION))
    oracle = ratio_oracle(kind)
    for average in averages_for(task):
        metric = RATIO_CLASSES[kind](
            task=task, num_classes=case.c, average=average, zero_division=zd, **case.kwargs
        )
        expected = oracle(case, average, zd, metric.name)
        assert_close(run(metric, case), expected, what=f"{kind} average={average}")


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@given(data=st.data())
def test_accuracy_matches_sklearn(task: str, data: Any) -> None:
    case = data.draw(cases(task))
    assume(usable(case))
    t, p, w = case.oracle_view()
    metric = em.Accuracy(task, num_classes=case.c, **case.kwargs)
    assert_close(run(metric, case), sk(skm.accuracy_score, t, p, sample_weight=w))


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@given(data=st.data())
def test_balanced_accuracy_mcc_kappa_match_sklearn(task: str, data: Any) -> None:
    case = data.draw(cases(task))
    assume(usable(case))
    t, p, w = case.oracle_view()
    kw = {"num_classes": case.c, **case.kwargs}
    assert_close(
        run(em.BalancedAccuracy(task, **kw), case),
        sk(skm.balanced_accuracy_score, t, p, sample_weight=w),
    )
    assert_close(
        run(em.MatthewsCorrCoef(task, **kw), case), sk(skm.matthews_corrcoef, t, p, sample_weight=w)
    )
    for weights in [None, "linear", "quadratic"]:
        expected = sk(
            skm.cohen_kappa_score,
            t,
            p,
            labels=list(range(case.c)),
            weights=weights,
            sample_weight=w,
        )
        assert_close(
            run(em.CohenKappa(task, weights=weights, **kw), case), expected, what=f"kappa {weights}"
        )


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@given(data=st.data(), normalize=st.sampled_from([None, "true", "pred", "all"]))
def test_confusion_matrix_matches_sklearn(task: str, data: Any, normalize: Any) -> None:
    case = data.draw(cases(task))
    assume(usable(case))
    t, p, w = case.oracle_view()
    metric = em.ConfusionMatrix(task, num_classes=case.c, normalize=normalize, **case.kwargs)
    if task == "multilabel":
        mcm = skm.multilabel_confusion_matrix(t, p, sample_weight=w).astype(np.float64)
        if normalize is not None:
            axis = {"true": 2, "pred": 1, "all": (1, 2)}[normalize]
            with np.errstate(all="ignore"):
                mcm = np.nan_to_num(mcm / mcm.sum(axis=axis, keepdims=True))
        expected = mcm
    else:
        expected = sk(
            skm.confusion_matrix,
            t,
            p,
            labels=list(range(case.c)),
            sample_weight=w,
            normalize=normalize,
        )
    # Weighted counts (not ratios): float32 sums carry a relative, not an absolute, error.
    scale = 1.0 if normalize is not None else max(1.0, float(np.abs(expected).max()))
    assert_close(run(metric, case), expected, atol=1e-6 * scale)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@given(data=st.data())
def test_classification_report_matches_sklearn(task: str, data: Any) -> None:
    case = data.draw(cases(task))
    assume(usable(case))
    zd = data.draw(st.sampled_from(ZERO_DIVISION))
    t, p, w = case.oracle_view()
    scalars = ["accuracy"] + ([] if task == "multilabel" else ["balanced_accuracy", "mcc", "kappa"])
    include = ["precision", "recall", "f1", "specificity", "jaccard", "support", *scalars]
    report = em.ClassificationReport(
        task,
        num_classes=case.c,
        include=include,
        averages=["micro", "macro", "weighted"],
        zero_division=zd,
        **case.kwargs,
    )
    ours = run(report, case)
    if math.isnan(zd):
        ours = {k: v for k, v in ours.items() if not k.startswith("jaccard")}
    expected: dict[str, Any] = {}
    for kind in ["precision", "recall", "f1", "specificity", "jaccard"]:
        if kind == "jaccard" and math.isnan(zd):
            continue
        oracle = ratio_oracle(kind)
        expected.update(oracle(case, None, zd, kind))
        for avg in ["micro", "macro", "weighted"]:
            expected[f"{kind}_{avg}"] = oracle(case, avg, zd, kind)
    _, _, _, support = sk(
        skm.precision_recall_fscore_support, t, p, labels=list(range(case.c)), sample_weight=w
    )
    # Weighted supports are counts: float32 batch sums carry a relative error (~1e-7).
    for k, v in per_class(support, "support").items():
        assert_close(ours.pop(k), v, atol=1e-6 * max(1.0, v), what=k)
    expected["accuracy"] = sk(skm.accuracy_score, t, p, sample_weight=w)
    if task != "multilabel":
        expected["balanced_accuracy"] = sk(skm.balanced_accuracy_score, t, p, sample_weight=w)
        expected["mcc"] = sk(skm.matthews_corrcoef, t, p, sample_weight=w)
        expected["kappa"] = sk(skm.cohen_kappa_score, t, p, sample_weight=w)
    assert_close(ours, expected)


def test_seed_003_three_batches() -> None:
    """The seed article's batches: mean of batch F1s is 0.6439, the epoch's F1 is 0.8079."""
    counts = [(50, 10, 10, 30), (90, 9, 0, 1), (70, 0, 0, 30)]  # (tn, fn, fp, tp) per batch of 100
    batches = []
    for tn, fn, fp, tp in counts:
        y_true = np.array([0] * tn + [1] * fn + [0] * fp + [1] * tp)
        y_pred = np.array([0.1] * tn + [0.1] * fn + [0.9] * fp + [0.9] * tp, dtype=np.float32)
        batches.append((y_true, y_pred))
    batch_f1 = [skm.f1_score(t, (p > 0.5).astype(int)) for t, p in batches]
    assert round(float(np.mean(batch_f1)), 4) == 0.6439
    metric = em.F1Score("binary")
    for t, p in batches:
        metric.update_state(t, p)
    y_true = np.concatenate([t for t, _ in batches])
    y_pred = np.concatenate([p for _, p in batches]) > 0.5
    assert_close(metric.result(), skm.f1_score(y_true, y_pred))
    assert round(float(metric.result()), 4) == 0.8079


@given(data=st.data())
def test_arbitrary_float_weights(data: Any) -> None:
    """Arbitrary float32 weights: each batch is summed in float32 (relative error ~1e-7) and the
    epoch accumulation is compensated, so the results stay within 1e-5 of float64 scikit-learn."""
    case = data.draw(cases("multiclass"))
    rng = np.random.default_rng(case.n)
    case.w = rng.uniform(0.01, 100.0, size=case.n).astype(np.float32)
    assume(usable(case))
    t, p, w = case.oracle_view()
    report = em.ClassificationReport(
        "multiclass",
        num_classes=case.c,
        include=["precision", "recall", "f1", "specificity", "mcc", "kappa"],
        averages=["macro", "weighted"],
        **case.kwargs,
    )
    ours = run(report, case)
    assert_close(
        ours["f1_macro"], sk(skm.f1_score, t, p, average="macro", sample_weight=w), atol=1e-5
    )
    assert_close(
        ours["recall_weighted"],
        sk(skm.recall_score, t, p, average="weighted", sample_weight=w),
        atol=1e-5,
    )
    assert_close(ours["mcc"], sk(skm.matthews_corrcoef, t, p, sample_weight=w), atol=1e-5)
    assert_close(ours["kappa"], sk(skm.cohen_kappa_score, t, p, sample_weight=w), atol=1e-5)
    assert_close(
        ours["specificity_macro"], sk_specificity(case, "macro", 0.0, "specificity"), atol=1e-5
    )
