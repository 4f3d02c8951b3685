"""Regression metrics from their state's statistics, as scikit-learn and scipy define them.

Per output, from `_moments.Summary` (W the summed weight, e = y - p, ss the sums of weighted
squared deviations, in the array namespace `xp`):

    mean_squared_error   sum w e^2 / W                root: its square root, per output
    mean_absolute_error  sum w |e| / W
    mean_absolute_percentage_error   sum w |e| / max(|y|, eps) / W   (a fraction, not a percent)
    r2_score             1 - sum w e^2 / ss_y
    explained_variance   1 - ss_e / ss_y
    pearson              cross / sqrt(ss_y ss_p), clipped to [-1, 1]
    concordance          2 cross / (ss_y + ss_p + W (mean_y - mean_p)^2)   (Lin's, 1/W moments)

Undefined cases, as the references: no sample, NaN. R^2 and explained variance take
scikit-learn's `force_finite`: a constant target (ss_y = 0) gives 1.0 for perfect predictions
and 0.0 otherwise (`force_finite=False`: NaN or -inf); R^2 with fewer than two samples is NaN
(scikit-learn warns). Pearson is NaN when either side is constant or there are fewer than two
samples (scipy's `pearsonr` warns, or raises), concordance when both sides are constant and
equal. `undefined` names those cases, for a warning at the eager read.

`multioutput` averages the per-output values as scikit-learn: "raw_values" (one value per
output), "uniform_average", "variance_weighted" (weights: the variance of y_true per output;
uniform when every output is constant), or an array of D weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from epochmetrics.functional._moments import Summary

__all__ = [
    "average_outputs",
    "concordance",
    "error_mean",
    "explained_variance",
    "pearson",
    "r2",
    "undefined",
]


def _nan_where(xp: Any, condition: Any, values: Any) -> Any:
    return xp.where(condition, xp.cast(float("nan"), values.dtype), values)


def _safe(xp: Any, x: Any) -> Any:
    """`x` with its zeros replaced by 1 (denominators whose zero case is handled apart)."""
    return xp.where(xp.equal(x, 0.0), xp.ones_like(x), x)


def error_mean(xp: Any, s: Summary, name: str, root: bool = False) -> Any:
    """`(D,)` weighted mean of the error sum `name` (its square root with `root`); NaN with
    no weight."""
    empty = xp.equal(s.weight, 0.0)
    value = s.errors[name] / _safe(xp, s.weight)
    if root:
        value = xp.sqrt(xp.where(value < 0.0, xp.zeros_like(value), value))
    return _nan_where(xp, empty, value)


def _assemble(xp: Any, numerator: Any, denominator: Any, force_finite: bool) -> Any:
    """scikit-learn's `_assemble_r2_explained_variance`, per output."""
    zero_num, zero_den = xp.equal(numerator, 0.0), xp.equal(denominator, 0.0)
    ratio = numerator / _safe(xp, denominator)
    if force_finite:
        score = xp.where(zero_num, xp.ones_like(ratio), 1.0 - ratio)
        return xp.where(
            xp.logical_and(zero_den, xp.logical_not(zero_num)), xp.zeros_like(ratio), score
        )
    inf = xp.cast(float("inf"), ratio.dtype)
    nan = xp.cast(float("nan"), ratio.dtype)
    undefined = xp.where(zero_num, nan, -inf)
    return xp.where(zero_den, undefined, 1.0 - ratio)


def r2(xp: Any, s: Summary, force_finite: bool = True) -> Any:
    """`(D,)` coefficient of determination (columns: y; errors: sq_err)."""
    value = _assemble(xp, s.errors["sq_err"], s.ss[0], force_finite)
    return _nan_where(xp, s.count < 2.0, value)


def explained_variance(xp: Any, s: Summary, force_finite: bool = True) -> Any:
    """`(D,)` explained variance score (columns: y, e)."""
    value = _assemble(xp, s.ss[1], s.ss[0], force_finite)
    return _nan_where(xp, xp.equal(s.weight, 0.0), value)


def pearson(xp: Any, s: Summary) -> Any:
    """`(D,)` Pearson correlation of y_true and y_pred (columns: y, p; cross)."""
    denominator = xp.sqrt(s.ss[0] * s.ss[1])
    r = s.cross / _safe(xp, denominator)
    r = xp.where(r > 1.0, xp.ones_like(r), xp.where(r < -1.0, -xp.ones_like(r), r))
    bad = xp.logical_or(xp.equal(denominator, 0.0), s.count < 2.0)
    return _nan_where(xp, bad, r)


def concordance(xp: Any, s: Summary) -> Any:
    """`(D,)` Lin's concordance correlation coefficient (columns: y, p; cross)."""
    # The shifts apart from the rest: their difference is exact, a difference of the means
    # in float32 (32-bit JAX steps) would lose what an offset takes.
    gap = (s.shift[0] - s.shift[1]) + (s.centre[0] - s.centre[1])
    denominator = s.ss[0] + s.ss[1] + s.weight * gap * gap
    value = 2.0 * s.cross / _safe(xp, denominator)
    return _nan_where(xp, xp.logical_or(xp.equal(denominator, 0.0), s.count < 1.0), value)


def average_outputs(xp: Any, values: Any, multioutput: Any, s: Summary | None = None) -> Any:
    """Per-output `values` `(D,)` averaged as `multioutput` (checked); "raw_values": as is.

    "variance_weighted" weights by the variance of y_true (the first moment column of `s`)."""
    if multioutput == "raw_values":
        return values
    d = int(values.shape[0])
    if multioutput == "uniform_average":
        return xp.sum(values) / float(d)
    if multioutput == "variance_weighted":
        assert s is not None
        variance = s.ss[0] / _safe(xp, s.weight)
        total = xp.sum(variance)
        weights = xp.where(xp.equal(total, 0.0), xp.ones_like(variance), variance)
    else:
        weights = xp.cast(np.asarray(multioutput, dtype=np.float64), values.dtype)
    return xp.sum(values * weights) / xp.sum(weights)


def undefined(kind: str, s: Summary) -> list[str]:
    """Host only (NumPy): why outputs of metric `kind` are NaN, one phrase per case found."""
    count, weight = np.asarray(s.count), np.asarray(s.weight)
    out = []
    if np.any(weight == 0):
        out.append("no sample with a non-zero weight" if np.any(count > 0) else "no sample")
    if kind == "r2" and np.any((count > 0) & (count < 2)):
        out.append("fewer than two samples (R^2 is not well-defined)")
    if kind == "pearson":
        if np.any((count > 0) & (count < 2)):
            out.append("fewer than two samples")
        constant = np.any((weight != 0) & ((np.asarray(s.ss[0]) == 0) | (np.asarray(s.ss[1]) == 0)))
        if constant:
            out.append("a constant y_true or y_pred (the correlation is undefined)")
    if kind == "concordance":
        ss0, ss1 = np.asarray(s.ss[0]), np.asarray(s.ss[1])
        gap = (s.shift[0] - s.shift[1]) + (s.centre[0] - s.centre[1])
        if np.any((weight != 0) & (ss0 == 0) & (ss1 == 0) & (gap == 0)):
            out.append("y_true and y_pred constant and equal")
    return out
