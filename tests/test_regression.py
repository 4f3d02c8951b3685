"""Regression metrics through `update_state` against scikit-learn and scipy on the whole data.

Random batch partitions (size-1 batches included), offsets of 0, 1e4 and 1e6 added to targets
and predictions, one and several outputs with every `multioutput`, sample weights, dense
inputs with a mask value, float16/bfloat16 inputs, merged shards, and the undefined cases.
The references see the concatenated float64 data; Pearson and concordance with weights are
written from their definitions (scipy has no weights; integer weights are repetitions).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import keras
import ml_dtypes
import numpy as np
import pytest
import scipy.stats
from helpers import batch_sizes, feed, host
from sklearn import metrics as skm

import epochmetrics as em
from epochmetrics._backend.ops import traced_result_dtype
from epochmetrics.functional._args import UndefinedMetricWarning

SKLEARN = {
    "MeanSquaredError": skm.mean_squared_error,
    "RootMeanSquaredError": skm.root_mean_squared_error,
    "MeanAbsoluteError": skm.mean_absolute_error,
    "MeanAbsolutePercentageError": skm.mean_absolute_percentage_error,
    "R2Score": skm.r2_score,
    "ExplainedVariance": skm.explained_variance_score,
}
CORRELATIONS = ("PearsonCorrCoef", "ConcordanceCorrCoef")
NAMES = (*SKLEARN, *CORRELATIONS)
VARIANCE = ("R2Score", "ExplainedVariance", *CORRELATIONS)


def _pearson(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    if w is None:
        return float(scipy.stats.pearsonr(y, p)[0])
    c = np.cov(y, p, aweights=w)
    return float(c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]))


def _concordance(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    """Lin (1989), from the definition: population moments, weighted by `w`."""
    w = np.ones_like(y) if w is None else w
    my, mp = np.average(y, weights=w), np.average(p, weights=w)
    vy, vp = np.average((y - my) ** 2, weights=w), np.average((p - mp) ** 2, weights=w)
    cov = np.average((y - my) * (p - mp), weights=w)
    return float(2 * cov / (vy + vp + (my - mp) ** 2))


def reference(name: str, y: np.ndarray, p: np.ndarray, w: Any, multioutput: Any) -> Any:
    """The value on the whole float64 data; `(n,)` or `(n, D)` arrays, as scikit-learn."""
    y, p = y.astype(np.float64), p.astype(np.float64)
    if name in SKLEARN:
        return SKLEARN[name](y, p, sample_weight=w, multioutput=multioutput)
    fn = _pearson if name == "PearsonCorrCoef" else _concordance
    y2, p2 = y.reshape(len(y), -1), p.reshape(len(p), -1)
    values = np.array([fn(y2[:, d], p2[:, d], w) for d in range(y2.shape[1])])
    if multioutput == "raw_values":
        return values
    if multioutput == "uniform_average":
        return float(values.mean())
    if multioutput == "variance_weighted":
        ww = np.ones(len(y)) if w is None else w
        var = np.average((y2 - np.average(y2, axis=0, weights=ww)) ** 2, axis=0, weights=ww)
        return float(np.average(values, weights=var))
    return float(np.average(values, weights=multioutput))


def as_array(result: Any) -> np.ndarray:
    if isinstance(result, dict):
        return np.array([float(host(v)) for v in result.values()])
    return np.asarray(float(host(result)))


def assert_rel(ours: Any, expected: Any, rtol: float = 1e-9, what: str = "") -> None:
    np.testing.assert_allclose(
        as_array(ours), np.asarray(expected, np.float64), rtol=rtol, atol=1e-12, err_msg=what
    )


def problem(
    rng: np.random.Generator, n: int, d: int, offset: float
) -> tuple[np.ndarray, np.ndarray]:
    """float32 targets with unequal scales per output, predictions correlated with them."""
    scale = np.array([1.0, 3.0, 0.5, 2.0])[:d]
    y = rng.normal(size=(n, d)) * scale + 0.5
    p = 0.8 * y + 0.4 * rng.normal(size=(n, d)) * scale + 0.1
    y, p = (y + offset).astype(np.float32), (p + offset).astype(np.float32)
    return (y[:, 0], p[:, 0]) if d == 1 else (y, p)


CASES = [
    # (num_outputs, multioutput, weighted)
    (1, "uniform_average", False),
    (1, "raw_values", True),
    (3, "raw_values", False),
    (3, "uniform_average", True),
    (3, "variance_weighted", True),
    (3, [0.2, 0.5, 0.3], False),
]


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e6])
@pytest.mark.parametrize("name", NAMES)
def test_random_partitions_match_the_references(name: str, offset: float) -> None:
    rng = np.random.default_rng(len(name) + int(offset) % 97)
    for d, multioutput, weighted in CASES:
        if multioutput == "variance_weighted" and name not in VARIANCE:
            continue
        n = 97
        y, p = problem(rng, n, d, offset)
        w = rng.random(n) * 2 + 0.1 if weighted else None
        metric = getattr(em, name)(num_outputs=d, multioutput=multioutput)
        feed(metric, y, p, w, batch_sizes(rng, n))
        expected = reference(name, y, p, w, multioutput)
        assert_rel(metric.result(), expected, what=f"{name} D={d} {multioutput} w={weighted}")
        if d > 1 and multioutput == "raw_values":
            assert list(metric.result()) == [f"{metric.name}_{i}" for i in range(d)]


@pytest.mark.parametrize("name", NAMES)
def test_an_offset_changes_nothing_beyond_1e_9(name: str) -> None:
    """The same data at offsets 0, 1e4 and 1e6 (exact in float64): translation-invariant
    metrics give the same value to 1e-9 (the errors' values themselves are exact)."""
    rng = np.random.default_rng(5)
    n = 200
    y = rng.integers(-400, 400, n) / 64.0  # exact after any offset below 2**36
    p = y + rng.integers(-64, 64, n) / 64.0
    values = []
    for offset in (0.0, 1e4, 1e6):
        metric = getattr(em, name)()
        feed(metric, y + offset, p + offset, None, batch_sizes(rng, n))
        values.append(float(host(metric.result())))
    if name != "MeanAbsolutePercentageError":  # relative to |y|: not translation-invariant
        np.testing.assert_allclose(values[1:], values[0], rtol=1e-9, atol=0)


def test_shards_about_different_shifts_merge_to_one_pass() -> None:
    """Shards whose shifts differ by 1e6 (first batches far apart) merge to the one-pass value,
    and the merge is associative with the empty metric as identity."""
    rng = np.random.default_rng(7)
    n = 300
    y = np.concatenate([rng.normal(size=150), rng.normal(size=150) + 1e6]).astype(np.float32)
    p = (y + rng.normal(size=n) * 0.5).astype(np.float32)
    w = rng.random(n) + 0.5
    shards = [slice(0, 150), slice(150, 151), slice(151, n)]
    for name in NAMES:
        whole = feed(getattr(em, name)(), y, p, w, batch_sizes(rng, n))
        parts = []
        for shard in shards:
            m = getattr(em, name)()
            parts.append(feed(m, y[shard], p[shard], w[shard], batch_sizes(rng, len(y[shard]))))
        left, right = getattr(em, name)(), getattr(em, name)()
        left.merge_state(parts[0])
        left.merge_state(parts[1:])  # a list merges in order
        inner = getattr(em, name)()
        inner.merge_state(parts[1])
        inner.merge_state(parts[2])
        right.merge_state(parts[0])
        right.merge_state(inner)
        empty = getattr(em, name)()
        right.merge_state(empty)
        expected = reference(name, y, p, w, "uniform_average")
        for m in (whole, left, right):
            assert_rel(m.result(), expected, what=name)
        assert_rel(left.result(), float(host(whole.result())), rtol=1e-12, what=name)


@pytest.mark.parametrize("name", NAMES)
def test_weights_none_ones_repetition_and_zero(name: str) -> None:
    rng = np.random.default_rng(11)
    n = 40
    y, p = problem(rng, n, 1, 3.0)
    w = rng.integers(0, 4, n).astype(np.float64)
    w[:2] = [1, 2]

    def value(*args: Any) -> float:
        return float(host(feed(getattr(em, name)(), *args).result()))

    assert value(y, p, np.ones(n)) == pytest.approx(value(y, p, None), rel=1e-12)
    repeated = value(np.repeat(y, w.astype(int)), np.repeat(p, w.astype(int)), None)
    assert value(y, p, w) == pytest.approx(repeated, rel=1e-12)
    assert value(y, p, np.where(w > 0, 1.0, 0.0)) == pytest.approx(
        value(y[w > 0], p[w > 0], None), rel=1e-12
    )


def _dense(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    shape = (6, 5, 4) if d == 1 else (6, 5, 4, d)
    y = rng.normal(size=shape).astype(np.float32) + 2.0
    p = (y + rng.normal(size=shape) * 0.3).astype(np.float32)
    return y, p


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("ignore", [None, 0.0, float("nan")])
@pytest.mark.parametrize("weights", [None, "sample", "element"])
def test_dense_inputs_with_weights_and_a_mask(d: int, ignore: Any, weights: Any) -> None:
    rng = np.random.default_rng(d + len(weights or ""))
    y, p = _dense(rng, d)
    if ignore is not None:
        y.reshape(-1)[rng.random(y.size) < 0.2] = ignore
    w = {
        None: None,
        "sample": rng.random(6) + 0.5,
        "element": rng.random((6, 5, 4)) + 0.5,
    }[weights]
    # The references: every element a sample, per output, masked elements removed.
    yf, pf = y.reshape(-1, d).astype(np.float64), p.reshape(-1, d).astype(np.float64)
    wf = None
    if w is not None:
        wf = np.broadcast_to(w[:, None, None] if w.ndim == 1 else w, (6, 5, 4)).reshape(-1)
    for name in NAMES:
        multioutput = "raw_values" if d > 1 else "uniform_average"
        metric = getattr(em, name)(num_outputs=d, multioutput=multioutput, ignore_value=ignore)
        feed(metric, y, p, w, [2, 1, 3])
        expected = []
        for k in range(d):
            keep = np.ones(len(yf), bool)
            if ignore is not None:
                keep = np.isnan(yf[:, k]) if np.isnan(ignore) else yf[:, k] == ignore
                keep = ~keep
            ws = None if wf is None else wf[keep]
            expected.append(reference(name, yf[keep, k], pf[keep, k], ws, "uniform_average"))
        assert_rel(metric.result(), expected, rtol=1e-9, what=f"{name} {weights} {ignore}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs_are_exact(dtype: str) -> None:
    """float16/bfloat16 targets and predictions (NumPy, or tensors as mixed precision gives
    them) give the values of the same numbers in float64."""
    low = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}[dtype]
    rng = np.random.default_rng(13)
    y, p = problem(rng, 64, 2, 20.0)
    yl, pl = y.astype(low), p.astype(low)
    for name in NAMES:
        ours = getattr(em, name)(num_outputs=2, multioutput="raw_values")
        feed(ours, yl, keras.ops.convert_to_tensor(pl), None, [32, 1, 31])
        expected = reference(name, yl.astype(np.float64), pl.astype(np.float64), None, "raw_values")
        assert_rel(ours.result(), expected, rtol=1e-12, what=f"{name} {dtype}")


# --- undefined cases, as scikit-learn and scipy ----------------------------------------------
def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("force_finite", [True, False])
def test_a_constant_target_follows_force_finite(force_finite: bool) -> None:
    y = np.full(10, 2.5)
    for p, name in [(y, "R2Score"), (y + 1.0, "R2Score"), (y, "ExplainedVariance")]:
        for q in (p, np.r_[p[:9], p[9] + 0.5]):
            metric = getattr(em, name)(force_finite=force_finite)
            feed(metric, y, q, None, [3, 7])
            fn = SKLEARN[name]
            expected = _quiet(fn, y, q, force_finite=force_finite)
            assert_rel(metric.result(), expected, what=f"{name} {q}")
    # Several outputs, one constant: variance_weighted gives it no weight (scikit-learn).
    y2 = np.c_[y, np.arange(10.0)]
    p2 = np.c_[y + 0.25, np.arange(10.0) * 1.1]
    for multioutput in ("raw_values", "uniform_average", "variance_weighted"):
        m = em.R2Score(num_outputs=2, multioutput=multioutput, force_finite=force_finite)
        feed(m, y2, p2, None, [4, 6])
        expected = _quiet(skm.r2_score, y2, p2, multioutput=multioutput, force_finite=force_finite)
        assert_rel(m.result(), expected, what=multioutput)


def test_undefined_correlations_are_nan_with_a_warning() -> None:
    y = np.arange(8.0)
    for name, args in [
        ("PearsonCorrCoef", (y, np.full(8, 3.0))),
        ("PearsonCorrCoef", (np.full(8, 1.5), y)),
        ("ConcordanceCorrCoef", (np.full(8, 1.5), np.full(8, 1.5))),
        ("R2Score", (y[:1], y[:1])),
    ]:
        metric = feed(getattr(em, name)(), *args)
        with pytest.warns(UndefinedMetricWarning, match=f"{name} .* is undefined"):
            assert np.isnan(float(host(metric.result())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(scipy.stats.pearsonr(y, np.full(8, 3.0))[0])  # scipy: NaN as well
    # One constant side only: concordance is defined (0: no covariance).
    m = feed(em.ConcordanceCorrCoef(), y, np.full(8, 1.5))
    assert_rel(m.result(), _concordance(y, np.full(8, 1.5), None))


@pytest.mark.parametrize("name", NAMES)
def test_no_sample_is_nan_with_a_warning(name: str) -> None:
    metric = getattr(em, name)(ignore_value=-1.0)
    metric.update_state(np.full(4, -1.0), np.ones(4))  # every target ignored
    with pytest.warns(UndefinedMetricWarning, match="no sample"):
        assert np.isnan(float(host(metric.result())))
    metric.result()  # warned once per epoch
    metric.reset_state()
    feed(metric, np.arange(5.0), np.arange(5.0) + 0.5)
    assert not np.isnan(float(host(metric.result())))


def test_the_in_graph_result_equals_the_host_result() -> None:
    """The `keras.ops` result (compiled steps' logs) and the NumPy one (eager reads) agree."""
    rng = np.random.default_rng(17)
    y, p = problem(rng, 50, 3, 1e4)
    # In-graph results are float32 on 32-bit JAX (no float64 there), float64 elsewhere.
    rtol = 1e-9 if traced_result_dtype() == "float64" else 1e-6
    for name in NAMES:
        for multioutput in ("raw_values", "uniform_average", "variance_weighted"):
            if multioutput == "variance_weighted" and name not in VARIANCE:
                continue
            metric = feed(getattr(em, name)(num_outputs=3, multioutput=multioutput), y, p)
            parts = [tuple(keras.ops.convert_to_tensor(v.value) for v in (metric._hi, metric._lo))]
            traced = as_array(metric._traced_result(parts))
            np.testing.assert_allclose(traced, as_array(metric.result()), rtol=rtol, err_msg=name)


def test_integer_and_bool_inputs_and_a_single_sample_batch() -> None:
    y = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    p = np.array([2.5, 1.0, 4.5, 0.5, 5.0, 8.0, 2.0, 7.0])
    m = feed(em.R2Score(), y, p, None, [1] * 8)
    assert_rel(m.result(), skm.r2_score(y, p))
    b = feed(em.MeanAbsoluteError(), np.array([True, False, True]), np.array([0.5, 0.5, 1.0]))
    assert_rel(b.result(), skm.mean_absolute_error([1, 0, 1], [0.5, 0.5, 1.0]))


def test_an_empty_batch_adds_nothing() -> None:
    rng = np.random.default_rng(19)
    y, p = problem(rng, 12, 2, 0.0)
    for name in NAMES:
        metric = feed(getattr(em, name)(num_outputs=2), y, p)
        before = float(host(metric.result()))
        metric.update_state(y[:0], p[:0])
        metric.update_state(y[:0], p[:0], np.ones(0))
        assert float(host(metric.result())) == before


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the direct-torch update")
@pytest.mark.parametrize("name", NAMES)
def test_torch_direct_updates_equal_the_generic_function(name: str) -> None:
    """Eager torch runs `_backend.torch_regression` (its fast path, or the moment code in
    direct torch): the same state as the generic `keras.ops` update, to float64 rounding
    (BLAS dots against sums), the same invalid flags, on every path it takes."""
    import torch

    from epochmetrics._backend import torch_regression
    from epochmetrics.functional._moments import regression_update
    from epochmetrics.metrics import _sums

    rng = np.random.default_rng(23)
    for d, weighted, filled, check, nan in itertools.product(
        (1, 3), (False, True), (False, True), (True, False), (False, True)
    ):
        if nan and check:
            continue  # eagerly, a NaN raises (the error table)
        metric = getattr(em, name)(num_outputs=d)
        if filled:
            feed(metric, *problem(rng, 20, d, 50.0))
        y, p = problem(rng, 33, d, 50.0)
        if nan:
            p.reshape(-1)[5] = np.nan
        w = rng.random(33) + 0.5 if weighted else None
        spec = metric._step().args[0]
        hi, lo = metric._hi.value, metric._lo.value
        direct = torch_regression.update(spec, hi, lo, torch.from_numpy(y), p, w, check=check)
        assert direct is not None
        state = _sums.traced_total([hi, lo], "float64")
        batch = regression_update(spec, state, y, p, w, check=check)
        generic = _sums.add(hi, lo, batch)
        totals = [host(a).astype(np.float64) + host(b) for a, b in (direct[:2], generic)]
        np.testing.assert_allclose(totals[0], totals[1], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(host(direct[2]), host(batch[-3:]))
        assert host(direct[2])[0] == float(nan)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="XLA's blocked sums (JAX)")
def test_blocked_column_sums_round_as_pairwise_sums() -> None:
    """The blocked variadic sum that large batches take on XLA's CPU (`_backend.ops`), forced
    on a million float32 rows about a shift near their mean, offsets up to 1e6: the squared
    errors and the centred sum of squares within 1e-6 of float64 NumPy, rows not a multiple
    of the block included."""
    import jax

    from epochmetrics._backend import ops as backend_ops

    rng = np.random.default_rng(29)
    for n, offset in ((1_000_003, 1e6), (65_541, 1e4), (40, 0.0)):
        y64 = rng.normal(size=(n, 2)) * [1.0, 30.0] + offset
        y = y64.astype(np.float32)
        p = (y64 + rng.normal(size=(n, 2)) * [0.3, 3.0]).astype(np.float32)
        shift = y[:8].astype(np.float64).mean(axis=0).astype(np.float32)

        def sums(y: Any, p: Any, shift: Any) -> Any:
            e, r = y - p, y - shift
            return backend_ops._jax_column_sums([e * e, r, r * r])

        got = [np.asarray(s, np.float64) for s in jax.jit(sums)(y, p, shift)]
        yd, pd = y.astype(np.float64), p.astype(np.float64)
        centred = got[2] - got[1] ** 2 / n
        np.testing.assert_allclose(got[0], ((yd - pd) ** 2).sum(axis=0), rtol=1e-6)
        np.testing.assert_allclose(centred, ((yd - yd.mean(axis=0)) ** 2).sum(axis=0), rtol=1e-6)
