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

from typing import Any, NamedTuple

import keras
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics.functional._format import (
    TaskSpec,
    _flat,
    _is_int,
    _is_vector,
    _raise_invalid,
    _shape,
    _sparse_labels,
    _threshold_true,
    batch_tensors,
    invalid_counts,
    mask_ignored,
    one_hot_labels,
    raise_bad_weights,
    shape_error,
    weight_errors,
)

__all__ = [
    "RankInputs",
    "auroc_from_counts",
    "average_precision_from_counts",
    "auroc_error_bound",
    "average_precision_error_bound",
    "average_values",
    "bin_count",
    "group_counts",
    "histogram",
    "num_columns",
    "ranking_inputs",
    "score_bins",
    "split_targets",
]

_SCORES = "float scores (ranking needs scores, not predicted labels)"

# Octaves of q from 2**-126 (float32's smallest normal) to 2**-2, plus the denormals below;
# octaves of d from 2**-30 to 2**-2. Smaller d (|logit| < 4e-9) shares the central bin.
_Q_OCTAVES = 125
_D_FLOOR_EXPONENT = 127 - 30
_D_OCTAVES = 125 - _D_FLOOR_EXPONENT


def num_columns(spec: TaskSpec) -> int:
    """K, the number of one-vs-rest problems: 1 for binary, else the number of classes."""
    return 1 if spec.task == "binary" else spec.num_classes


def _side_bins(bits: int) -> int:
    return ((_Q_OCTAVES + _D_OCTAVES) << bits) + 2


def bin_count(bins_per_octave: int) -> int:
    """Number of bins over the whole score axis for a power-of-two `bins_per_octave`."""
    return 2 * _side_bins(int(bins_per_octave).bit_length() - 1)


class RankInputs(NamedTuple):
    """One batch for ranking. K = `num_columns(spec)`; T = 1, or L for multilabel."""

    scores: Any  # (B, K) float32: probabilities, or logits for binary/multilabel with from_logits
    labels: Any  # (B, T) float32: 0/1 (multiclass: the class), -1 where not counted
    sample_weight: Any  # (B,) wide floats (see `_backend.wide_float`), 0 where not finite
    invalid: Any  # int32 (3,): invalid y_true values, y_pred values, sample weights


def _score_error(spec: TaskSpec, y_pred: Any, bad: Any) -> None:
    """Eager path: name the invalid scores. Binary and multilabel share `_inputs`' message."""
    if spec.task != "multiclass":
        _raise_invalid(spec, "y_pred", y_pred, bad)
    import numpy as np

    rows = np.asarray(ops.convert_to_numpy(bad), dtype=bool)
    allowed = "logits (not NaN)" if spec.from_logits else "probabilities in [0, 1]"
    hint = "" if spec.from_logits else " If y_pred holds logits, pass from_logits=True."
    raise ValueError(
        f"task='multiclass' expects y_pred rows of {allowed}. Received {int(rows.sum())} "
        f"row(s) with invalid values.{hint}"
    )


def ranking_inputs(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None
) -> RankInputs:
    """Validate one batch of labels and scores (eagerly: raise; compiled: count as invalid)."""
    y_true, y_pred, sample_weight = batch_tensors(spec, y_true, y_pred, sample_weight)
    st, sp = _shape(y_true), _shape(y_pred)
    c = spec.num_classes
    if spec.task == "multiclass":
        if (
            len(sp) != 2
            or sp[1] != c
            or _is_int(y_pred)
            or not (_is_vector(st) or (len(st) == 2 and st[1] == c))
        ):
            raise shape_error(spec, y_true, y_pred, scores=_SCORES)
        if _is_vector(st):
            t, t_bad = _sparse_labels(_flat(y_true), c)
        else:
            t, t_bad = one_hot_labels(y_true)
        scores = ops.cast(y_pred, "float32")
        if spec.from_logits:
            scores = ops.softmax(scores, axis=-1)
            p_bad = ops.any(ops.isnan(scores), axis=-1)
        else:
            in_range = ops.logical_and(scores >= 0.0, scores <= 1.0)  # False for NaN
            p_bad = ops.logical_not(ops.all(in_range, axis=-1))
    else:
        if spec.task == "binary":
            if not (_is_vector(st) and _is_vector(sp)):
                raise shape_error(spec, y_true, y_pred, scores=_SCORES)
            y_true, y_pred = _flat(y_true), _flat(y_pred)
        elif len(st) != 2 or len(sp) != 2 or st[1] != c or sp[1] != c:
            raise shape_error(spec, y_true, y_pred, scores=_SCORES)
        t, t_bad = _threshold_true(y_true)
        scores = ops.cast(y_pred, "float32")
        if spec.from_logits:
            p_bad = ops.isnan(scores)
        else:
            p_bad = ops.logical_not(ops.logical_and(scores >= 0.0, scores <= 1.0))

    ignored, t_bad = mask_ignored(spec, y_true, t_bad)
    w_bad = weight_errors(sample_weight)
    bad = ops.logical_or(t_bad, p_bad)
    row_bad = ops.any(bad, axis=-1) if spec.task == "multilabel" else bad
    if w_bad is not None:
        row_bad = ops.logical_or(row_bad, w_bad)
    # One scalar read per eager batch; the details are gathered only when something is wrong.
    if _backend.is_concrete(row_bad) and bool(ops.any(row_bad)):
        if bool(ops.any(t_bad)):
            _raise_invalid(spec, "y_true", y_true, t_bad)
        if bool(ops.any(p_bad)):
            _score_error(spec, y_pred, p_bad)
        raise_bad_weights(sample_weight, w_bad)

    keep = ops.logical_not(bad if w_bad is None else ops.logical_or(bad, _rows(spec, w_bad)))
    if ignored is not None:
        keep = ops.logical_and(keep, ops.logical_not(ignored))
    labels = ops.where(keep, ops.cast(t, "float32"), -1.0)
    bad_scores = ops.expand_dims(p_bad, -1) if spec.task == "multiclass" else p_bad
    scores = ops.where(bad_scores, 0.0, scores)  # no NaN reaches a sort or a bin
    if spec.task != "multilabel":
        labels = ops.reshape(labels, (-1, 1))
        if spec.task == "binary":
            scores = ops.reshape(scores, (-1, 1))
    if sample_weight is None:
        sw = ops.ones(ops.shape(scores)[:1], dtype=_backend.wide_float())
    else:
        sw = ops.where(w_bad, 0.0, sample_weight)
    return RankInputs(scores, labels, sw, invalid_counts(t_bad, p_bad, w_bad))


def _rows(spec: TaskSpec, row_mask: Any) -> Any:
    """A `(B,)` mask shaped like the per-element masks of `spec.task` (multilabel: `(B, 1)`)."""
    return ops.expand_dims(row_mask, -1) if spec.task == "multilabel" else row_mask


def split_targets(spec: TaskSpec, labels: Any, weights: Any) -> tuple[Any, Any]:
    """`(B, T)` labels and `(B,)` weights -> positive and negative weights, each `(B, K)`,
    in the weights' dtype."""
    dtype = keras.backend.standardize_dtype(weights.dtype)
    w = ops.expand_dims(weights, -1)
    if spec.task == "multiclass":
        classes = ops.cast(ops.arange(spec.num_classes), "float32")
        hot = ops.cast(ops.equal(labels, ops.expand_dims(classes, 0)), dtype)  # (B, C)
        counted = ops.cast(labels >= 0.0, dtype) * w  # (B, 1)
        return hot * counted, (1.0 - hot) * counted
    return ops.cast(ops.equal(labels, 1.0), dtype) * w, ops.cast(ops.equal(labels, 0.0), dtype) * w


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
    level_q = ops.maximum(ops.right_shift(_float_bits(q), shift), 0)
    level_d = ops.maximum(ops.right_shift(_float_bits(d), shift), 0)
    n_q = (_Q_OCTAVES << bits) + 1  # q in [0, 1/4]: levels 0 .. 125 << bits
    n_d = _D_OCTAVES << bits
    a_idx = ops.clip(level_d - (_D_FLOOR_EXPONENT << bits), -1, n_d - 1)
    # Distance from the extreme (p = 0 or 1) towards p = 1/2, in [0, side).
    radial = ops.where(q <= 0.25, ops.minimum(level_q, n_q - 1), n_q + (n_d - 1) - a_idx)
    side = _side_bins(bits)
    return ops.cast(ops.where(upper, 2 * side - 1 - radial, radial), "int32")


def _float_bits(x: Any) -> Any:
    """The int32 bit pattern of float32 `x` (monotone in x for x >= 0)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # keras.ops.view checks shapes with Python bools, which fails on a symbolic batch size.
        return tf.bitcast(x, tf.int32)
    return ops.view(x, "int32")


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


def _safe_div(xp: Any, a: Any, b: Any) -> Any:
    return a / xp.where(xp.equal(b, 0.0), xp.ones_like(b), b)


def auroc_from_counts(xp: Any, pos: Any, neg: Any) -> Any:
    """`(K, G)` ascending group masses -> `(K,)` ROC-AUC, ties counting 1/2; NaN if undefined."""
    p, n = xp.sum(pos, axis=-1), xp.sum(neg, axis=-1)
    below = xp.cumsum(neg, axis=-1) - neg
    value = _safe_div(xp, xp.sum(pos * (below + 0.5 * neg), axis=-1), p * n)
    defined = xp.logical_and(p > 0, n > 0)
    return xp.where(defined, value, xp.cast(float("nan"), value.dtype))


def average_precision_from_counts(xp: Any, pos: Any, neg: Any) -> Any:
    """`(K, G)` ascending group masses -> `(K,)` average precision; 0.0 without positives."""
    tp = xp.flip(xp.cumsum(xp.flip(pos, axis=-1), axis=-1), axis=-1)  # mass at or above
    fp = xp.flip(xp.cumsum(xp.flip(neg, axis=-1), axis=-1), axis=-1)
    precision = xp.where(pos > 0, _safe_div(xp, tp, tp + fp), xp.zeros_like(tp))
    p = xp.sum(pos, axis=-1)
    return xp.where(p > 0, _safe_div(xp, xp.sum(pos * precision, axis=-1), p), xp.zeros_like(p))


def auroc_error_bound(xp: Any, pos: Any, neg: Any) -> Any:
    """`(K, G)` binned masses -> `(K,)` bound on |binned - exact| ROC-AUC.

    Only a positive and a negative in the same bin can be misordered, and the binned value
    counts such a pair 1/2: the error is at most half their share of all pairs,
    sum_b P_b N_b / (2 P N).
    """
    p, n = xp.sum(pos, axis=-1), xp.sum(neg, axis=-1)
    return _safe_div(xp, xp.sum(pos * neg, axis=-1), 2.0 * p * n)


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
        xp.minimum(_safe_div(xp, total, above), xp.ones_like(total)),
        xp.cast(neg > 0, total.dtype),
    )
    p = xp.sum(pos, axis=-1)
    return _safe_div(xp, xp.sum(pos * spread, axis=-1), p)


def average_values(xp: Any, values: Any, support: Any, average: str | None) -> Any:
    """Average per-class values like scikit-learn ('micro' pools the counts upstream)."""
    if average is None:
        return values
    if average == "weighted":
        total = xp.sum(support)
        kept = xp.where(xp.equal(support, 0.0), xp.zeros_like(values), values)
        return xp.where(
            xp.equal(total, 0.0), xp.zeros_like(total), _safe_div(xp, xp.sum(kept * support), total)
        )
    return xp.mean(values)
