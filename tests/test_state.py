"""Properties of the summed state: partitions, permutations, weights, merging, large counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import REPORT_ITEMS, assert_close, partition, stream, summed_state
from hypothesis import given
from hypothesis import strategies as st

import epochmetrics as em

C = 4


def report() -> em.ClassificationReport:
    return em.ClassificationReport(
        "multiclass",
        num_classes=C,
        include=REPORT_ITEMS,
        averages=["micro", "macro", "weighted"],
    )


@st.composite
def data(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = rng.integers(0, C, n)
    p = rng.random((n, C)).astype(np.float32)
    w = rng.integers(1, 4, n).astype(np.float32)
    return y, p, w


@given(
    d=data(),
    cuts_a=st.lists(st.integers(1, 39), max_size=5),
    cuts_b=st.lists(st.integers(1, 39), max_size=5),
    seed=st.integers(0, 1000),
)
def test_partition_and_permutation_invariance(
    d: Any, cuts_a: list[int], cuts_b: list[int], seed: int
) -> None:
    y, p, w = d
    n = len(y)
    first = stream(report(), y, p, w, partition(n, cuts_a))
    order = np.random.default_rng(seed).permutation(n)
    second = stream(report(), y[order], p[order], w[order], partition(n, cuts_b))
    # Integer weights: every sum is exact, so the results are identical, not just close.
    assert_close(second, first, atol=0.0)


@given(d=data())
def test_weights_none_ones_repetition_and_zero(d: Any) -> None:
    y, p, w = d
    n = len(y)
    whole = [(0, n)]
    assert_close(
        stream(report(), y, p, None, whole),
        stream(report(), y, p, np.ones(n, np.float32), whole),
        atol=0,
    )
    # Integer weight k == the sample repeated k times.
    reps = w.astype(int)
    repeated = stream(
        report(), np.repeat(y, reps), np.repeat(p, reps, axis=0), None, [(0, int(reps.sum()))]
    )
    assert_close(stream(report(), y, p, w, whole), repeated, atol=1e-12)
    # Zero weight == the sample removed.
    keep = np.arange(n) % 3 != 0
    if keep.any():
        zeroed = stream(report(), y, p, np.where(keep, w, 0).astype(np.float32), whole)
        assert_close(
            zeroed, stream(report(), y[keep], p[keep], w[keep], [(0, int(keep.sum()))]), atol=1e-12
        )


@given(d=data(), cut1=st.integers(0, 40), cut2=st.integers(0, 40))
def test_merge_is_associative_with_empty_identity(d: Any, cut1: int, cut2: int) -> None:
    y, p, w = d
    n = len(y)
    a, b = sorted((min(cut1, n), min(cut2, n)))
    shards = []
    for lo, hi in [(0, a), (a, b), (b, n)]:
        m = report()
        if hi > lo:
            m.update_state(y[lo:hi], p[lo:hi], w[lo:hi])
        shards.append(m)
    left = report()
    left.merge_state(shards[0])
    left.merge_state(shards[1])
    left.merge_state(shards[2])
    right_inner = report()
    right_inner.merge_state(shards[1])
    right_inner.merge_state(shards[2])
    right = report()
    right.merge_state(shards[0])
    right.merge_state(right_inner)
    one = report()
    one.update_state(y, p, w)
    # The merged state is bit-identical to one pass over the whole data; the results agree to
    # rounding (a result read twice runs compiled, and XLA may fuse its float64 ops differently).
    np.testing.assert_array_equal(exact_state(left), exact_state(one))
    np.testing.assert_array_equal(exact_state(right), exact_state(one))
    whole = stream(report(), y, p, w, [(0, n)])
    assert_close(left.result(), whole, atol=1e-15)
    assert_close(right.result(), whole, atol=1e-15)
    # The empty state is the identity.
    left.merge_state(report())
    np.testing.assert_array_equal(exact_state(left), exact_state(one))
    assert_close(left.result(), whole, atol=1e-15)


def exact_state(metric: Any) -> np.ndarray:
    """The summed state as exact float64 (hi + lo)."""
    return summed_state(metric)


@pytest.mark.slow
def test_counts_stay_exact_past_2_to_the_24() -> None:
    """A float32 counter stops at 2**24 = 16,777,216; three batches of 2**23 pass it."""
    metric = em.Accuracy("binary")
    rng = np.random.default_rng(0)
    correct = total = 0
    for _ in range(3):
        y = rng.integers(0, 2, 2**23).astype(np.int8)
        p = np.where(rng.random(2**23) < 0.7, y, 1 - y).astype(np.int8)
        metric.update_state(y, p)
        correct += int((y == p).sum())
        total += y.size
    state = exact_state(metric)
    tp, support = state[:2], state[4:6]
    assert int(support.sum()) == total == 3 * 2**23
    assert int(tp.sum()) == correct
    assert_close(metric.result(), correct / total)


def test_counts_stay_exact_past_2_to_the_31() -> None:
    """Weights of 2**24 per sample push every cell past 2**31; a few unit weights must survive."""
    metric = em.Precision("multiclass", num_classes=C, average=None)
    rng = np.random.default_rng(1)
    expected = np.zeros(3 * C + 3)
    for weight, n in [(2.0**24, 200)] * 5 + [(1.0, 3), (2.0**24, 200), (1.0, 5)]:
        y = rng.integers(0, C, n)
        p = rng.integers(0, C, n)
        metric.update_state(y, p, np.full(n, weight, np.float32))
        for k in range(C):
            expected[k] += weight * np.sum((y == k) & (p == k))
            expected[C + k] += weight * np.sum(p == k)
            expected[2 * C + k] += weight * np.sum(y == k)
    state = exact_state(metric)
    assert state[2 * C :].sum() > 2**33
    np.testing.assert_array_equal(state, expected)
    assert_close(
        metric.result(), {f"precision_{k}": expected[k] / expected[C + k] for k in range(C)}
    )


def test_results_in_range() -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        y = rng.integers(0, C, 50)
        p = rng.random((50, C)).astype(np.float32)
        result = stream(report(), y, p, None, [(0, 50)])
        for key, value in result.items():
            v = float(value)
            if key.startswith("support"):
                assert v >= 0
            elif key in ("mcc", "kappa"):
                assert -1 <= v <= 1
            else:
                assert 0 <= v <= 1, key


def test_reset_state_empties() -> None:
    m = em.F1Score("multiclass", num_classes=C)
    m.update_state([0, 1, 2], [0, 1, 1])
    m.reset_state()
    m.update_state([3], [3])
    assert float(m.result()) == 1.0
