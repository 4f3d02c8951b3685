"""Rank correlations of whole arrays, exact, as scipy: Spearman's rho and Kendall's tau.

A rank statistic depends on every pair of samples, so it has no mergeable per-batch sums: these
run on the host, on the whole epoch's arrays (what `EpochEvaluator` gathers for
`evaluate_arrays`). NumPy only, float64, O(n log n) (Spearman) and O(n log^2 n) (Kendall):

- `spearman_corrcoef`: the Pearson correlation of the average ranks (ties share the mean of
  their ranks), as `scipy.stats.spearmanr`.
- `kendall_tau`: tau-b (ties in either variable adjust the denominator) or tau-c (Stuart's),
  as `scipy.stats.kendalltau(variant=...)`: concordant minus discordant pairs, the discordant
  ones counted as the inversions of y after sorting by x (a merge sort, level by level).

Undefined cases as scipy: fewer than two samples, or a constant input, give NaN with an
`UndefinedMetricWarning` (scipy warns `ConstantInputWarning`). Inputs take the regression
form (`(n,)`, `(n, 1)`, `(n, D)` with `num_outputs=D`, dense `(n, ...)`), `ignore_value`
skips targets element by element, and `multioutput` combines the outputs as scikit-learn.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from epochmetrics._docs import docstring
from epochmetrics._types import Multioutput, TauVariant
from epochmetrics.functional._args import (
    UndefinedMetricWarning,
    check_multioutput,
    check_tau_variant,
)
from epochmetrics.functional._regression_format import (
    RegressionInputs,
    eager_error,
    ignore_target,
    regression_inputs,
    sample_shape,
)

__all__ = ["kendall_tau", "rank_columns", "spearman_corrcoef"]


def rank_columns(
    inputs: RegressionInputs, y_true: Any, y_pred: Any, sample_weight: Any = None, *, what: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Whole arrays -> one `(y_true, y_pred)` float64 pair per output, ignored targets left
    out. Shapes as the regression metrics take them; NaN or infinite values, and sample
    weights (`what` names the statistic), are a ValueError."""
    if sample_weight is not None:
        raise ValueError(
            f"{what} takes no `sample_weight`: a rank correlation has no weighted form (scipy's "
            "has none either). Drop the weights from the data, or use PearsonCorrCoef, which "
            "takes them."
        )
    arrays = []
    for name, x in (("y_true", y_true), ("y_pred", y_pred)):
        if x is None:
            raise TypeError(f"{name} must be an array of numbers. Received: {name}=None.")
        a = np.asarray(x)
        if a.dtype.kind not in "biuf" and a.dtype.name != "bfloat16":
            raise TypeError(
                f"{name} must hold numbers (integer, bool or float). Received dtype {a.dtype}."
            )
        arrays.append(a)
    t_in, p_in = arrays
    sample_shape(inputs, t_in, p_in)  # the shape rule and its errors
    d = inputs.num_outputs
    t = t_in.astype(np.float64).reshape(-1, d)
    p = p_in.astype(np.float64).reshape(-1, d)
    value = ignore_target(inputs, t_in.dtype.name)
    ignored = np.isnan(t) if inputs.ignore_nan else None if value is None else t == value
    t_bad, p_bad = ~np.isfinite(t), ~np.isfinite(p)
    if ignored is not None:
        t_bad, p_bad = t_bad & ~ignored, p_bad & ~ignored
    if t_bad.any() or p_bad.any():
        raise eager_error(inputs, t, p, None, t_bad, p_bad, None)
    if ignored is None:
        return [(t[:, k], p[:, k]) for k in range(d)]
    return [(t[~ignored[:, k], k], p[~ignored[:, k], k]) for k in range(d)]


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of theirs (`scipy.stats.rankdata`'s "average")."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(new) - 1
    counts = np.bincount(group)
    starts = np.cumsum(counts) - counts  # 0-based first position of each group
    ranks = np.empty(len(x))
    ranks[order] = (starts + (counts + 1) / 2.0)[group]
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    da, db = a - a.mean(), b - b.mean()
    denominator = np.sqrt(np.dot(da, da) * np.dot(db, db))
    if len(a) < 2 or denominator == 0:
        return float("nan")
    return float(np.clip(np.dot(da, db) / denominator, -1.0, 1.0))


def _inversions(a: np.ndarray) -> int:
    """Pairs i < j with a[i] > a[j], for integer ranks in [0, n): a bottom-up merge sort whose
    levels are NumPy sorts of (block, value, half) keys, O(n log^2 n)."""
    n = len(a)
    a = a.astype(np.int64)
    index = np.arange(n)
    total = 0
    width = 1
    while width < n:
        block, half = index // (2 * width), (index // width) % 2
        order = np.argsort((block * n + a) * 2 + half, kind="stable")
        block_sorted, right = block[order], half[order] == 1
        # Per block: left elements so far (in value order), and left elements in all.
        left_so_far = np.cumsum(~right)
        first = np.searchsorted(block_sorted, block_sorted, side="left")
        before = left_so_far[first] - (~right[first]).astype(np.int64)
        seen = left_so_far - before
        left_total = np.bincount(block, weights=(half == 0), minlength=block.max() + 1)
        # Each right element is inverted with the left elements above it (ties: left first).
        total += int((left_total[block_sorted[right]] - seen[right]).sum())
        a = a[order]
        width *= 2
    return total


def _tau(x: np.ndarray, y: np.ndarray, variant: str) -> float:
    """scipy's kendalltau on two float64 vectors."""
    n = len(x)
    if n < 2:
        return float("nan")
    perm = np.argsort(y, kind="mergesort")
    x, y = x[perm], y[perm]
    y = np.cumsum(np.r_[True, y[1:] != y[:-1]]) - 1
    perm = np.argsort(x, kind="mergesort")
    x, y = x[perm], y[perm]
    x = np.cumsum(np.r_[True, x[1:] != x[:-1]]) - 1
    discordant = _inversions(y)
    joint = np.diff(np.flatnonzero(np.r_[True, (x[1:] != x[:-1]) | (y[1:] != y[:-1]), True]))
    both_ties = int((joint * (joint - 1) // 2).sum())
    x_ties = _tied_pairs(x)
    y_ties = _tied_pairs(y)
    pairs = n * (n - 1) // 2
    if x_ties == pairs or y_ties == pairs:
        return float("nan")
    difference = pairs - x_ties - y_ties + both_ties - 2 * discordant
    if variant == "b":
        tau = difference / np.sqrt(pairs - x_ties) / np.sqrt(pairs - y_ties)
    else:
        classes = min(int(x.max()) + 1, int(y.max()) + 1)
        tau = 2 * difference / (n**2 * (classes - 1) / classes)
    return float(min(1.0, max(-1.0, tau)))


def _tied_pairs(ranks: np.ndarray) -> int:
    counts = np.bincount(ranks)
    return int((counts * (counts - 1) // 2).sum())


def _combine(
    values: list[float], multioutput: Any, columns: list[tuple[np.ndarray, np.ndarray]]
) -> Any:
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 1:
        return float(v[0])
    if multioutput == "raw_values":
        return v
    if multioutput == "uniform_average":
        return float(v.mean())
    if multioutput == "variance_weighted":
        weights = np.array([np.var(t) if len(t) else 0.0 for t, _ in columns])
        return float(np.average(v, weights=weights if weights.sum() > 0 else None))
    return float(np.average(v, weights=np.asarray(multioutput)))


def _warn_undefined(what: str, values: list[float]) -> None:
    bad = [k for k, v in enumerate(values) if np.isnan(v)]
    if bad:
        where = f" for output(s) {bad}" if len(values) > 1 else ""
        warnings.warn(
            f"{what} is undefined{where} (NaN): fewer than two samples, or a constant y_true or "
            "y_pred.",
            UndefinedMetricWarning,
            stacklevel=3,
        )


# The arguments of both functions.
ARGS = {
    "y_true": "Targets, `(n,)`, `(n, 1)`, `(n, D)` with `num_outputs=D`, or dense `(n, ...)`.",
    "y_pred": "Predictions, the same shape.",
    "variant": '"b" (tau-b, ties adjust the denominator) or "c" (Stuart\'s tau-c).',
    "num_outputs": "Number of outputs D (the last axis).",
    "multioutput": '"uniform_average", "raw_values", "variance_weighted" or D weights.',
    "ignore_value": "A target value whose elements are left out (NaN allowed).",
}


@docstring(ARGS)
def spearman_corrcoef(
    y_true: Any,
    y_pred: Any,
    *,
    num_outputs: int = 1,
    multioutput: Multioutput = "uniform_average",
    ignore_value: float | None = None,
) -> Any:
    """Spearman's rank correlation of whole arrays, as `scipy.stats.spearmanr`.

    Args:
        $args

    Returns:
        A float, or a float64 array `(D,)` for `multioutput="raw_values"` with D > 1. NaN,
        with an `UndefinedMetricWarning`, for fewer than two samples or a constant input.

    Examples:
        >>> from epochmetrics.functional.rank_correlation import spearman_corrcoef
        >>> round(spearman_corrcoef([1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 6.0, 7.0, 8.0, 7.0]), 4)
        0.8208
    """
    inputs = regression_inputs(num_outputs, ignore_value)
    combine = check_multioutput(multioutput, inputs.num_outputs, variance=True)
    columns = rank_columns(inputs, y_true, y_pred, what="Spearman's correlation")
    values = [_pearson(average_ranks(t), average_ranks(p)) for t, p in columns]
    _warn_undefined("Spearman's correlation", values)
    return _combine(values, combine, columns)


@docstring(ARGS)
def kendall_tau(
    y_true: Any,
    y_pred: Any,
    *,
    variant: TauVariant = "b",
    num_outputs: int = 1,
    multioutput: Multioutput = "uniform_average",
    ignore_value: float | None = None,
) -> Any:
    """Kendall's tau of whole arrays, as `scipy.stats.kendalltau`.

    Args:
        $args

    Returns:
        A float, or a float64 array `(D,)` for `multioutput="raw_values"` with D > 1. NaN,
        with an `UndefinedMetricWarning`, for fewer than two samples or a constant input.

    Examples:
        >>> from epochmetrics.functional.rank_correlation import kendall_tau
        >>> round(kendall_tau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]), 4)
        -0.4714
    """
    variant = check_tau_variant(variant)
    inputs = regression_inputs(num_outputs, ignore_value)
    combine = check_multioutput(multioutput, inputs.num_outputs, variance=True)
    columns = rank_columns(inputs, y_true, y_pred, what="Kendall's tau")
    values = [_tau(t, p, variant) for t, p in columns]
    _warn_undefined("Kendall's tau", values)
    return _combine(values, combine, columns)
