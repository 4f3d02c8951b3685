"""Results computed on the host (NumPy; eager reads on torch) equal the `keras.ops` results."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import pytest
from helpers import REPORT_ITEMS, host, sum_variables
from keras import ops

import epochmetrics as em
from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import numpy_ops

C = 4

CASES = {
    "precision-none": lambda: em.Precision("multiclass", num_classes=C, average=None),
    "recall-weighted-nan": lambda: em.Recall(
        "multiclass", num_classes=C, average="weighted", zero_division=math.nan
    ),
    "f1-binary": lambda: em.F1Score("binary"),
    "fbeta-multilabel-micro": lambda: em.FBetaScore(
        "multilabel", num_classes=C, beta=0.5, average="micro"
    ),
    "jaccard-multilabel-none-1": lambda: em.JaccardIndex(
        "multilabel", num_classes=C, average=None, zero_division=1
    ),
    "specificity-macro": lambda: em.Specificity("multiclass", num_classes=C),
    "accuracy-multilabel": lambda: em.Accuracy("multilabel", num_classes=C),
    "balanced-accuracy": lambda: em.BalancedAccuracy("multiclass", num_classes=C),
    "mcc-binary": lambda: em.MatthewsCorrCoef("binary"),
    "kappa-linear": lambda: em.CohenKappa("multiclass", num_classes=C, weights="linear"),
    "kappa-quadratic": lambda: em.CohenKappa("multiclass", num_classes=C, weights="quadratic"),
    "confusion-true": lambda: em.ConfusionMatrix("multiclass", num_classes=C, normalize="true"),
    "confusion-all": lambda: em.ConfusionMatrix("multiclass", num_classes=C, normalize="all"),
    "confusion-multilabel": lambda: em.ConfusionMatrix("multilabel", num_classes=C),
    "report-multiclass": lambda: em.ClassificationReport(
        "multiclass",
        num_classes=C,
        include=REPORT_ITEMS,
        averages=["micro", "macro", "weighted"],
    ),
    "report-multilabel": lambda: em.ClassificationReport("multilabel", num_classes=C),
}


def _feed(metric: Any, kind: str, rng: np.random.Generator) -> None:
    n = 37
    if kind == "empty":
        return
    if metric.task == "multilabel":
        t = (rng.random((n, C)) < 0.4).astype(np.int32)
        p = rng.random((n, C)).astype(np.float32)
        if kind == "one-class":
            t[:] = 0
            p[:] = 0.1
    elif metric.task == "binary":
        t = rng.integers(0, 2, n)
        p = rng.random(n).astype(np.float32)
        if kind == "one-class":
            t[:] = 1
            p[:] = 0.9
    else:
        t = rng.integers(0, C, n)
        p = rng.random((n, C)).astype(np.float32)
        if kind == "one-class":
            t[:] = 2
            p[:, 2] += 1.0
    metric.update_state(t, p, rng.integers(0, 3, n).astype(np.float32))


def _values(result: Any) -> dict[str, np.ndarray]:
    items = result.items() if isinstance(result, dict) else [("", result)]
    return {k: host(v).astype(np.float64) for k, v in items}


@pytest.mark.parametrize("kind", ["random", "one-class", "empty", "invalid"])
@pytest.mark.parametrize("name", list(CASES))
def test_host_result_equals_keras_ops_result(name: str, kind: str) -> None:
    """An eager read (NumPy on the host) equals the in-graph result (keras.ops)."""
    metric = CASES[name]()
    _feed(metric, kind, np.random.default_rng(len(name)))
    if kind == "invalid":  # what a compiled step records for out-of-range labels
        hi_var, _ = sum_variables(metric)
        hi = host(hi_var.value).copy()
        hi[-3] = 1.0
        hi_var.assign(hi)
    parts = [tuple(ops.convert_to_tensor(v.value) for v in sum_variables(metric))]
    # keras.ops on concrete tensors: the code path of a compiled step, run eagerly.
    expected = _values(metric._traced_result(parts))
    if kind == "invalid":
        with pytest.warns(RuntimeWarning, match="is NaN: a compiled step received 1 y_true"):
            got = _values(metric.result())
    else:
        got = _values(metric.result())
    assert list(got) == list(expected)  # same keys, same order
    # In-graph results on 32-bit JAX are computed in float32.
    atol = 1e-5 if _f32_traced() else 1e-12
    for key, value in expected.items():
        assert got[key].shape == value.shape, key
        np.testing.assert_allclose(got[key], value, rtol=0, atol=atol, equal_nan=True, err_msg=key)
    if kind == "invalid":
        assert all(np.isnan(v).all() for v in got.values())


def _f32_traced() -> bool:
    return _backend.traced_result_dtype() == "float32"


def test_host_namespace_names_a_missing_op() -> None:
    with pytest.raises(AttributeError, match=r"no NumPy version of ops\.nonexistent"):
        numpy_ops.nonexistent  # noqa: B018


def test_eager_results_are_float64_values_of_the_backend() -> None:
    """An eager read (epoch logs, evaluate, user code) is float64: tensors on TensorFlow and
    torch, NumPy values on JAX (without x64 too)."""
    rng = np.random.default_rng(3)
    metrics = (
        em.F1Score("multiclass", num_classes=C),
        em.ClassificationReport("binary"),
        em.ConfusionMatrix("multiclass", num_classes=C),
        em.AUROC("multiclass", num_classes=C, average=None),
    )
    for metric in metrics:
        _feed(metric, "random", rng)
        for _ in range(2):
            result = metric.result()
            items = list(result.values()) if isinstance(result, dict) else [result]
            assert items
            assert all(keras.backend.standardize_dtype(v.dtype) == "float64" for v in items)
            if keras.backend.backend() == "jax":
                assert all(isinstance(v, (np.floating, np.ndarray)) for v in items)
            else:
                assert all(keras.ops.is_tensor(v) for v in items)
