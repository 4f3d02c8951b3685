"""Ranking metrics inside compiled steps, with `keras.ops` only: score bins and group counts.

Everything reduces to per-group positive and negative (weighted) mass along an ascending score
axis, `pos, neg` of shape `(K, G)` for K one-vs-rest problems:

- binned mode: a group is a bin of the score's float representation (`score_bins`), summed
  over batches in a fixed-size histogram;
- exact mode: a group is one distinct score of a stored buffer (`group_counts`).

`auroc_from_counts` and `average_precision_from_counts` then treat each group as one tied
threshold, exactly as scikit-learn treats tied scores.

Bins. A probability p is split into a side (p <= 1/2 or p > 1/2) and two magnitudes that float32
represents without rounding: q = min(p, 1 - p) and d = 1/2 - q (Sterbenz: both are exact). Far
from 1/2 (q <= 1/4) the bin is the top bits of q's float32 pattern: its exponent and
`log2(bins_per_octave)` mantissa bits; near 1/2 it is the same for d. Each bin is thus a fixed
fraction of an octave of q or d, which is a nearly fixed width in logit: at most
1.2 / bins_per_octave (0.018 for the default 64; 0.009 typical) anywhere, from |logit| ~ 4e-9
(smaller ones share the central bins) up to the float32 limit (|logit| ~ 87; larger logits
share the extreme bins). Float32 probabilities themselves are coarser than that past
|logit| ~ 10 on the p -> 1 side (1 - p is a multiple of 2**-24 there), so pass logits with
`from_logits=True` when scores saturate. Scores bunched
near 0, near 1 or near 1/2 are all resolved: unlike uniform thresholds, no region of the score
axis is coarse. Logits map to the same bins through q = sigmoid(-|z|) and d = tanh(|z|/2)/2,
which keep full relative precision where p = sigmoid(z) would round to 0, 1/2 or 1.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import keras
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import divide
from epochmetrics.functional._args import TaskSpec
from epochmetrics.functional._format import format_batch, split_targets
from epochmetrics.functional._layout import Layout

__all__ = [
    "Groups",
    "auroc_error_bound",
    "auroc_from_counts",
    "average_precision_error_bound",
    "average_precision_from_counts",
    "average_values",
    "bin_count",
    "binned_layout",
    "binned_update",
    "buffer_rows",
    "stored_targets",
    "group_counts",
    "histogram",
    "num_columns",
    "score_bins",
]

# Octaves of q from 2**-126 (float32's smallest normal) to 2**-2, plus the denormals below;
# octaves of d from 2**-30 to 2**-2. Smaller d (|logit| < 4e-9) shares the central bin.
_Q_OCTAVES = 125
_D_FLOOR_EXPONENT = 127 - 30
_D_OCTAVES = 125 - _D_FLOOR_EXPONENT


class Groups(NamedTuple):
    """A ranking state as groups along ascending scores, per one-vs-rest problem (K of them,
    or 1 pooled): `pos`, `neg` `(K, G)` masses, `support` `(K,)` positive mass per class
    (before pooling), `thresholds` `(G,)` or `(K, G)` the score each group starts at (None
    when not computed)."""

    pos: Any
    neg: Any
    support: Any
    thresholds: Any


def num_columns(spec: TaskSpec) -> int:
    """K, the number of one-vs-rest problems: 1 for binary, else the number of classes."""
    return 1 if spec.task == "binary" else spec.num_classes


def _side_bins(bits: int) -> int:
    return ((_Q_OCTAVES + _D_OCTAVES) << bits) + 2


def bin_count(bins_per_octave: int) -> int:
    """Number of bins over the whole score axis for a power-of-two `bins_per_octave`."""
    return 2 * _side_bins(int(bins_per_octave).bit_length() - 1)


@functools.cache
def binned_layout(spec: TaskSpec, bins_per_octave: int) -> Layout:
    """Binned state: per class, the negative then the positive mass of each score bin."""
    size = num_columns(spec) * bin_count(bins_per_octave)
    return Layout(neg=size, pos=size)


def binned_update(
    spec: TaskSpec,
    bins_per_octave: int,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> Any:
    """One batch's histogram, laid out as `binned_layout(spec, bins_per_octave)`."""
    x = format_batch(spec, y_true, y_pred, sample_weight, scores=True, check=check)
    pos_w, neg_w = split_targets(spec, x.y_true, x.weight)
    logits = spec.from_logits and spec.task != "multiclass"
    bins = score_bins(x.y_pred, logits=logits, bins_per_octave=bins_per_octave)
    k, num_bins = num_columns(spec), bin_count(bins_per_octave)
    hist = histogram(bins, pos_w, neg_w, num_bins, k)
    size = k * num_bins
    return binned_layout(spec, bins_per_octave).pack(
        keras.backend.standardize_dtype(hist.dtype),
        neg=hist[:size],
        pos=hist[size:],
        invalid=x.invalid,
    )


def buffer_rows(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None, *, check: bool = True
) -> Any:
    """Exact mode: one batch as rows to store, `(scores (N, K), labels (N, T), weights (N,),
    keep (N,), invalid (3,))`. Labels are -1 where not counted; only rows that count are kept
    (ignored and zero-weight samples use no capacity)."""
    x = format_batch(spec, y_true, y_pred, sample_weight, scores=True, check=check)
    counted = x.weight > 0
    labels = ops.where(counted, ops.cast(x.y_true, "float32"), -1.0)
    if spec.task != "multilabel":
        labels = ops.expand_dims(labels, -1)
    keep = ops.logical_and(ops.any(labels >= 0.0, axis=-1), ops.not_equal(x.sample_weight, 0.0))
    return x.y_pred, labels, x.sample_weight, keep, x.invalid


def stored_targets(spec: TaskSpec, labels: Any, weights: Any) -> tuple[Any, Any]:
    """Stored `(labels (N, T) with -1 = not counted, row weights (N,))` -> `split_targets`'
    positive and negative weights `(N, K)`."""
    counted = labels >= 0.0
    t = ops.cast(ops.where(counted, labels, 0.0), "int32")
    w = ops.where(counted, ops.expand_dims(weights, -1), ops.zeros_like(labels))
    w = ops.cast(w, keras.backend.standardize_dtype(weights.dtype))
    if spec.task != "multilabel":
        t, w = t[:, 0], w[:, 0]
    return split_targets(spec, t, w)


def score_bins(scores: Any, *, logits: bool, bins_per_octave: int) -> Any:
    """int32 bin of each score, increasing with the score (see the module docstring)."""
    bits = int(bins_per_octave).bit_length() - 1
    x = ops.cast(scores, "float32")
    if logits:
        a = ops.abs(x)
        upper = x > 0.0
        q = ops.sigmoid(-a)
        d = 0.5 * ops.tanh(0.5 * a)
    else:
        upper = x > 0.5
        q = ops.where(upper, 1.0 - x, x)
        d = 0.5 - q
    shift = 23 - bits
    # max(., 0) also sends -0.0 (sign bit set) to the bin of +0.0.
    level_q = ops.maximum(ops.right_shift(_backend.float_bits(q), shift), 0)
    level_d = ops.maximum(ops.right_shift(_backend.float_bits(d), shift), 0)
    n_q = (_Q_OCTAVES << bits) + 1  # q in [0, 1/4]: levels 0 .. 125 << bits
    n_d = _D_OCTAVES << bits
    a_idx = ops.clip(level_d - (_D_FLOOR_EXPONENT << bits), -1, n_d - 1)
    # Distance from the extreme (p = 0 or 1) towards p = 1/2, in [0, side).
    radial = ops.where(q <= 0.25, ops.minimum(level_q, n_q - 1), n_q + (n_d - 1) - a_idx)
    side = _side_bins(bits)
    return ops.cast(ops.where(upper, 2 * side - 1 - radial, radial), "int32")


def histogram(bins: Any, pos_w: Any, neg_w: Any, num_bins: int, k: int) -> Any:
    """`(B, K)` bins and weights -> float32 `[neg (K * num_bins) | pos (K * num_bins)]`."""
    index = ops.reshape(bins + ops.expand_dims(ops.arange(k, dtype="int32") * num_bins, 0), (-1,))
    values = ops.concatenate([ops.reshape(neg_w, (-1,)), ops.reshape(pos_w, (-1,))])
    return _backend.scatter_add(
        values, ops.concatenate([index, index + k * num_bins]), 2 * k * num_bins
    )


def group_counts(scores: Any, pos_w: Any, neg_w: Any, dtype: str) -> tuple[Any, Any]:
    """Exact mode: `(n, K)` scores and weights -> per distinct score mass `(K, n)`, ascending.

    Groups past the number of distinct scores are empty (zero mass), which changes nothing.
    """
    n, k = int(scores.shape[0]), int(scores.shape[1])
    order = ops.argsort(scores, axis=0)
    s = ops.take_along_axis(scores, order, axis=0)
    p = ops.cast(ops.take_along_axis(pos_w, order, axis=0), dtype)
    q = ops.cast(ops.take_along_axis(neg_w, order, axis=0), dtype)
    new = ops.concatenate(
        [ops.ones((1, k), dtype="int32"), ops.cast(ops.not_equal(s[1:], s[:-1]), "int32")], axis=0
    )
    group = (
        ops.cumsum(new, axis=0, dtype="int32")
        - 1
        + ops.expand_dims(ops.arange(k, dtype="int32") * n, 0)
    )
    index = ops.reshape(group, (-1,))
    pos = _backend.scatter_add(ops.reshape(p, (-1,)), index, k * n)
    neg = _backend.scatter_add(ops.reshape(q, (-1,)), index, k * n)
    return ops.reshape(pos, (k, n)), ops.reshape(neg, (k, n))


def auroc_from_counts(xp: Any, pos: Any, neg: Any) -> Any:
    """`(K, G)` ascending group masses -> `(K,)` ROC-AUC, ties counting 1/2; NaN if undefined."""
    p, n = xp.sum(pos, axis=-1), xp.sum(neg, axis=-1)
    below = xp.cumsum(neg, axis=-1) - neg
    value = divide(xp, xp.sum(pos * (below + 0.5 * neg), axis=-1), p * n)
    defined = xp.logical_and(p > 0, n > 0)
    return xp.where(defined, value, xp.cast(float("nan"), value.dtype))


def average_precision_from_counts(xp: Any, pos: Any, neg: Any) -> Any:
    """`(K, G)` ascending group masses -> `(K,)` average precision; 0.0 without positives."""
    tp = xp.flip(xp.cumsum(xp.flip(pos, axis=-1), axis=-1), axis=-1)  # mass at or above
    fp = xp.flip(xp.cumsum(xp.flip(neg, axis=-1), axis=-1), axis=-1)
    precision = xp.where(pos > 0, divide(xp, tp, tp + fp), xp.zeros_like(tp))
    p = xp.sum(pos, axis=-1)
    return xp.where(p > 0, divide(xp, xp.sum(pos * precision, axis=-1), p), xp.zeros_like(p))


def auroc_error_bound(xp: Any, pos: Any, neg: Any) -> Any:
    """`(K, G)` binned masses -> `(K,)` bound on |binned - exact| ROC-AUC.

    Only a positive and a negative in the same bin can be misordered, and the binned value
    counts such a pair 1/2: the error is at most half their share of all pairs,
    sum_b P_b N_b / (2 P N).
    """
    p, n = xp.sum(pos, axis=-1), xp.sum(neg, axis=-1)
    return divide(xp, xp.sum(pos * neg, axis=-1), 2.0 * p * n)


def average_precision_error_bound(xp: Any, pos: Any, neg: Any) -> Any:
    """`(K, G)` binned masses -> `(K,)` bound on |binned - exact| average precision.

    A positive in bin b has exact precision (A + x) / (A + B + x + y), where A, B are the
    positive and negative mass in higher bins and x <= P_b, y <= N_b the mass of bin b at or
    above it; the binned value takes x = P_b, y = N_b. Both partial derivatives are at most
    1 / (A + B + x), so the two differ by at most min(1, (P_b + N_b) / (A + B)) (0 when the
    bin holds only positives and nothing is above it). Weighted by the positives' share:
    sum_b (P_b / P) min(1, (P_b + N_b) / M_b), M_b the mass above bin b.
    """
    total = pos + neg
    above = xp.flip(xp.cumsum(xp.flip(total, axis=-1), axis=-1), axis=-1) - total
    spread = xp.where(
        above > 0,
        xp.minimum(divide(xp, total, above), xp.ones_like(total)),
        xp.cast(neg > 0, total.dtype),
    )
    p = xp.sum(pos, axis=-1)
    return divide(xp, xp.sum(pos * spread, axis=-1), p)


def average_values(xp: Any, values: Any, support: Any, average: str | None) -> Any:
    """Average per-class values like scikit-learn ('micro' pools the counts upstream)."""
    if average is None:
        return values
    if average == "weighted":
        total = xp.sum(support)
        kept = xp.where(xp.equal(support, 0.0), xp.zeros_like(values), values)
        return xp.where(
            xp.equal(total, 0.0), xp.zeros_like(total), divide(xp, xp.sum(kept * support), total)
        )
    return xp.mean(values)
