"""Bootstrap replicates of an evaluation: weights, percentile intervals, paired comparisons.

A replicate re-weights the evaluation's samples with Poisson(1) counts: sample i counts
`w[i, r]` times in replicate r (0 removes it, 2 doubles it). The weight is a pure function of
three integers, `(seed, position, replicate)`, where `position` is the sample's global place
in the evaluation data (0, 1, ..., n - 1 in the order the data is read):

    h = splitmix64(splitmix64(splitmix64(seed) + position) + replicate)   (uint64, wrapping)
    w = the Poisson(1) quantile of u = (h >> 11) / 2**53                 (inverse CDF)

so the same sample gets the same weights in every epoch (the replicates are paired across
epochs: two epochs are compared on the same resampled sets), on every backend, for any batch
size, and in every process of a multi-process evaluation (a process computes the weights of
the positions it holds; nothing random is shared or drawn in sequence).

**Why Poisson, not multinomial.** The classic bootstrap draws n samples with replacement: the
counts of one replicate are multinomial(n, 1/n, ..., 1/n) and depend on each other (they sum
to n). That needs n before the first sample, one random stream per replicate consumed in
order, and the whole evaluation in one place. Poisson(1) counts are independent per sample:
each is computed from its own position alone, so a replicate streams batch by batch, needs no
n, and gives the same weights however the data is partitioned into batches, shards or
processes (the Poisson bootstrap: Hanley and MacGibbon 2006; Chamandy et al. 2012, "Estimating
uncertainty for massive data streams"). The replicate's size varies (n +- sqrt(n)), which
adds nothing to ratios such as recall or F1 and little elsewhere: the coverage measured in
`tests/test_bootstrap.py` is the check. Integer weights also mean that any replicate is a real
resampled set: a metric that takes no sample weights gets its samples repeated.

**Intervals.** `percentile_interval` gives the percentile bootstrap interval: the (1 - c)/2
and (1 + c)/2 quantiles of the replicate values (NumPy's default linear interpolation between
order statistics). It describes the noise of the validation sample (how much the value would
move on another validation set of this size from the same population), not of training.

**Paired comparison.** `paired_gain` compares two evaluations of the same data (two epochs) on
the same replicates: the per-replicate differences keep what the two share (the same hard and
easy samples in each replicate), so the noise of the difference is much smaller than that of
either value.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from epochmetrics._docs import docstring
from epochmetrics._types import Direction
from epochmetrics.functional._args import check_float, check_int

__all__ = [
    "MAX_SEED",
    "DENSE_CELLS",
    "Comparison",
    "check_confidence",
    "check_resamples",
    "check_seed",
    "paired_gain",
    "percentile_interval",
    "poisson_weights",
    "replicate_sums",
    "replicate_weights",
    "splitmix64",
]

MAX_SEED = 2**64 - 1
_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
# Weights hashed at once by `replicate_weights`.
_HASH_BLOCK = 2**16
# Entries of (n, m, R) handled at once by `replicate_sums` (bounds its temporary memory).
_CHUNK = 2**21
# States up to this many cells are summed by a matrix product (faster than a bincount there).
DENSE_CELLS = 512


def _poisson_cdf() -> np.ndarray:
    """P(X <= k) for X ~ Poisson(1), k = 0, 1, ..., up to where it rounds to 1.0.

    Built from the literal float64 nearest e**-1 with IEEE operations in a fixed order (no
    libm call), so the table is bit for bit the same on every machine.
    """
    pmf, cdf, k = 0.36787944117144233, 0.0, 0
    table: list[float] = []
    while True:
        cdf += pmf
        if cdf >= 1.0:
            return np.asarray(table, dtype=np.float64)
        table.append(cdf)
        k += 1
        pmf /= k


_CDF = _poisson_cdf()  # (18,): a uniform u >= _CDF[-1] maps to 18


def check_confidence(confidence: Any, none: bool = True) -> float | None:
    """A confidence level in (0, 1), or None (no intervals) when `none`."""
    if confidence is None and none:
        return None
    return check_float(
        "confidence",
        confidence,
        low=0.0,
        high=1.0,
        open_interval=True,
        what="a number in (0, 1), e.g. 0.95" + (", or None" if none else ""),
    )


def check_resamples(resamples: Any) -> int:
    """The number of bootstrap replicates: an integer from 2 to 100,000."""
    return int(check_int("resamples", resamples, minimum=2, maximum=100_000))


def check_seed(seed: Any) -> int:
    """The seed of the replicate weights: an integer from 0 to 2**64 - 1."""
    what = "an integer from 0 to 2**64 - 1"
    return int(check_int("seed", seed, minimum=0, maximum=MAX_SEED, what=what))


def splitmix64(x: Any) -> np.ndarray:
    """Steele, Lea and Flood's splitmix64 output function on uint64 (wrapping arithmetic).

    Examples:
        >>> int(splitmix64(np.uint64(0))[()])  # the first output of splitmix64 seeded with 0
        16294208416658607535
    """
    with np.errstate(over="ignore"):  # uint64 wraps around by design
        z = np.asarray(x, dtype=_U64) + _GOLDEN
        z = (z ^ (z >> _U64(30))) * _MIX1
        z = (z ^ (z >> _U64(27))) * _MIX2
        return np.asarray(z ^ (z >> _U64(31)))


def poisson_weights(h: np.ndarray) -> np.ndarray:
    """uint64 hashes -> Poisson(1) counts (uint8) by the inverse CDF of u = (h >> 11) / 2**53."""
    u = (h >> _U64(11)).astype(np.float64) * 2.0**-53
    return np.searchsorted(_CDF, u, side="right").astype(np.uint8)


_ARGS = {
    "positions": "`(n,)` non-negative integers, each sample's place in the evaluation data.",
    "resamples": "R, the number of replicates.",
    "seed": "Any integer from 0 to 2**64 - 1.",
    "confidence": "The level, in (0, 1), e.g. 0.95.",
}


@docstring(_ARGS)
def replicate_weights(positions: Any, resamples: int, seed: int = 0) -> np.ndarray:
    """The Poisson(1) weights of the samples at `positions` in each replicate, `(n, R)` uint8.

    A pure function of (seed, position, replicate) (see the module docstring): the rows of any
    subset of positions equal the same rows of the whole matrix.

    Args:
        $args

    Returns:
        `(n, R)` uint8 counts; mean 1 and variance 1 per entry, independent entries.

    Examples:
        >>> w = replicate_weights(np.arange(100_000), 20, seed=0)
        >>> w.shape, round(float(w.mean()), 2), round(float(w.var()), 2)
        ((100000, 20), 1.0, 1.0)
        >>> bool((replicate_weights([7, 3], 20)[1] == w[3]).all())  # rows depend on position only
        True
    """
    resamples = check_resamples(resamples)
    seed = check_seed(seed)
    pos = np.asarray(positions)
    if pos.ndim != 1 or (pos.size and (pos.dtype.kind not in "iu" or pos.min() < 0)):
        raise ValueError(
            "`positions` must be a 1-D array of non-negative integers. "
            f"Received: shape {pos.shape}, dtype {pos.dtype}."
        )
    with np.errstate(over="ignore"):  # uint64 wraps around by design
        base = splitmix64(splitmix64(_U64(seed)) + pos.astype(_U64))  # (n,)
    replicates = np.arange(resamples, dtype=_U64)[None, :]
    out = np.empty((pos.size, resamples), dtype=np.uint8)
    rows = max(1, _HASH_BLOCK // resamples)  # blocks that stay in cache: 3x faster
    for start in range(0, pos.size, rows):
        with np.errstate(over="ignore"):
            h = splitmix64(base[start : start + rows, None] + replicates)
        out[start : start + rows] = poisson_weights(h)
    return out


def replicate_sums(index: Any, values: Any, weights: Any, size: int) -> np.ndarray:
    """Per-replicate sums of per-sample contributions: `(R, size)` float64.

    `out[r, j] = sum over samples i and slots s with index[i, s] == j of
    weights[i, r] * values[i, s]`. For states of up to `DENSE_CELLS` cells, one matrix product
    of the `(R, n)` weights with the samples' `(n, size)` contributions (O(n R size) in BLAS);
    for larger ones, one 2-D bincount (O(n m R) adds). Either way O(R size) memory for the
    result. Integer values and weights (unweighted counts) are summed exactly, in any order.

    Args:
        index: `(n, m)` integers in [0, size): the cells sample i adds to.
        values: `(n, m)` what it adds there (weighted by its sample weight).
        weights: `(n, R)` replicate weights (`replicate_weights`).
        size: the number of cells.

    Examples:
        >>> index = np.array([[0, 2], [1, 2]])
        >>> values = np.array([[1.0, 1.0], [1.0, 1.0]])
        >>> replicate_sums(index, values, np.array([[2, 0], [1, 1]]), 3).tolist()
        [[2.0, 1.0, 3.0], [0.0, 1.0, 1.0]]
    """
    index = np.asarray(index, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights)
    n, m = index.shape
    r = weights.shape[1]
    if size <= DENSE_CELLS:
        rows = (np.arange(n, dtype=np.int64)[:, None] * size + index).ravel()
        dense = np.bincount(rows, weights=values.ravel(), minlength=n * size).reshape(n, size)
        return np.asarray(weights.T, dtype=np.float64) @ dense
    out = np.zeros(r * size, dtype=np.float64)
    offsets = (np.arange(r, dtype=np.int64) * size)[None, None, :]
    step = max(1, _CHUNK // max(1, m * r))
    for start in range(0, n, step):
        cut = slice(start, start + step)
        flat = (index[cut, :, None] + offsets).ravel()
        amounts = (values[cut, :, None] * weights[cut, None, :]).ravel()
        out += np.bincount(flat, weights=amounts, minlength=r * size)
    return out.reshape(r, size)


@docstring(
    {
        "replicates": "`(R, K)` (or `(R,)`) replicate values, one row per replicate.",
        "values": "Optional `(K,)` point estimates: a NaN one makes its interval NaN.",
    },
    _ARGS,
)
def percentile_interval(
    replicates: Any, confidence: float, *, values: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """The percentile bootstrap interval of each column of `(R, K)` replicate values.

    `low`, `high` are the (1 - c)/2 and (1 + c)/2 quantiles of the replicate values (NaN ones
    left out), with NumPy's default linear interpolation. An interval needs a
    value in at least a share `confidence` of the replicates (a class absent from many
    replicates leaves the interval undetermined): otherwise, or where `values` (the point
    estimates, optional) is NaN, it is NaN.

    Args:
        $args

    Returns:
        `(low, high)`, two `(K,)` float64 arrays.

    Examples:
        >>> reps = np.arange(101, dtype=float)[:, None]
        >>> low, high = percentile_interval(reps, 0.9)
        >>> round(float(low[0]), 9), round(float(high[0]), 9)
        (5.0, 95.0)
    """
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.ndim == 1:
        reps = reps[:, None]
    alpha = (1.0 - confidence) / 2.0
    defined = np.mean(~np.isnan(reps), axis=0) >= confidence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, as intended
        low, high = np.nanquantile(reps, [alpha, 1.0 - alpha], axis=0)
    if values is not None:
        defined &= ~np.isnan(np.asarray(values, dtype=np.float64).reshape(-1))
    nan = np.full(low.shape, math.nan)
    return np.where(defined, low, nan), np.where(defined, high, nan)


class Comparison(NamedTuple):
    """One evaluation against another on the same replicates (see `paired_gain`)."""

    gain: float  # the point gain, oriented: > 0 means better
    gain_low: float  # the low end of its percentile interval: the (1 - c)/2 quantile
    p_better: float  # share of replicates in which it is better (ties count half)
    significant: bool  # gain > 0 and gain_low > 0


@docstring(
    {
        "value": "The point value of the evaluation compared.",
        "replicates": "`(R,)` its replicate values.",
        "reference": "The point value of the evaluation it is compared with.",
        "reference_replicates": "`(R,)` the reference's values on the same replicates.",
        "direction": '"up" (higher is better) or "down" (lower is better).',
    },
    _ARGS,
)
def paired_gain(
    value: float,
    replicates: Any,
    reference: float,
    reference_replicates: Any,
    direction: Direction,
    confidence: float,
) -> Comparison:
    """Compare `value` with `reference` on the same replicates: is the gain more than noise?

    The gain is `value - reference` ("up") or `reference - value` ("down"), and so is each
    replicate's gain. It is significant when the point gain is > 0 and the whole `confidence`
    percentile interval of the replicate gains lies above 0 (its low end, the (1 - c)/2
    quantile, is > 0): the same interval as the values' own. Two evaluations of equal quality
    pass in about (1 - c)/2 of comparisons (2.5% at 0.95). Replicates where either value is
    NaN are left out; with fewer than a share `confidence` of them left, or a NaN point
    value, nothing is significant (gain_low and p_better NaN).

    Args:
        $args

    Returns:
        A `Comparison(gain, gain_low, p_better, significant)`.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> ref = rng.normal(0.70, 0.02, 1000)
        >>> shared = ref - 0.70  # the same samples: most of the noise is shared
        >>> c = paired_gain(0.71, 0.71 + shared + rng.normal(0, 0.002, 1000), 0.70, ref, "up", 0.95)
        >>> c.significant, round(c.p_better, 2)
        (True, 1.0)
    """
    sign = 1.0 if direction == "up" else -1.0
    reps = np.asarray(replicates, np.float64)
    gains = sign * (reps - np.asarray(reference_replicates, np.float64))
    gain = sign * (float(value) - float(reference))
    finite = gains[~np.isnan(gains)]
    if math.isnan(gain) or finite.size == 0 or finite.size < confidence * gains.size:
        return Comparison(gain, math.nan, math.nan, False)
    low = float(np.quantile(finite, (1.0 - confidence) / 2.0))
    p_better = float(np.mean(finite > 0) + 0.5 * np.mean(finite == 0))
    return Comparison(gain, low, p_better, bool(gain > 0 and low > 0))
