"""Per-sample averaging: a metric computed on each sample, then averaged over the samples.

`multidim_average="samplewise"` for dense inputs (the mean over images of each image's score,
e.g. mean per-image Dice), and multilabel `average="samples"` (each row's score over its
labels, then the mean over rows: scikit-learn's `average="samples"`). Exact over the epoch:
the state is, per value, the weighted sum of the samples' scores and the sum of their
weights, so it adds and merges like every other sum state. A sample whose score is
undefined (a void image) scores `zero_division` whatever the average, as scikit-learn's
`average="samples"`; NaN scores (`zero_division=nan`) are left out of the mean, as
scikit-learn leaves them out.

A sample's weight is the mean weight of its elements (its `sample_weight` when weights are
given per sample; 1 without weights).
"""

from __future__ import annotations

import functools
from typing import Any

import keras
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import divide, keras_ops
from epochmetrics._types import Average
from epochmetrics.functional import reductions
from epochmetrics.functional._args import TaskSpec
from epochmetrics.functional._format import Batch, format_batch
from epochmetrics.functional._layout import Layout
from epochmetrics.functional.stat_scores import Counts

__all__ = ["samplewise_layout", "samplewise_update", "samplewise_values"]


@functools.cache
def samplewise_layout(size: int) -> Layout:
    """`size` values (the number of result values: 1, or one per class)."""
    return Layout(value=size, weight=size)


def _per_sample_counts(spec: TaskSpec, x: Batch, samples: Any) -> Counts:
    """Counts with a leading sample axis `(S, C)` (multilabel: `(S, L)` over each sample's
    elements)."""
    c = spec.num_classes
    w = x.weight
    dtype = keras.backend.standardize_dtype(w.dtype)
    if spec.task == "multilabel":
        t, p = ops.cast(x.y_true, dtype), ops.cast(x.y_pred, dtype)  # (N, L)

        def per_sample(v: Any) -> Any:
            return ops.sum(ops.reshape(v, (samples, -1, c)), axis=1)

        tw = t * w
        return Counts(
            per_sample(tw * p),
            per_sample(p * w),
            per_sample(tw),
            per_sample((1 - t) * (1 - p) * w),
        )
    t, p = x.y_true, x.y_pred
    n = ops.shape(t)[0]
    sample = ops.arange(n, dtype="int32") // ops.cast(n // samples, "int32")
    hit = ops.cast(ops.equal(t, p), "int32")
    base = sample * (3 * c)
    index = ops.concatenate([base + 2 * t + hit, base + 2 * c + p])
    sums = _backend.scatter_add(ops.concatenate([w, w]), index, samples * 3 * c)
    sums = ops.reshape(sums, (samples, 3 * c))
    tp = sums[:, 1 : 2 * c : 2]
    predicted, support = sums[:, 2 * c :], sums[:, 0 : 2 * c : 2] + tp
    tn = ops.sum(support, axis=-1, keepdims=True) - predicted - support + tp
    return Counts(tp, predicted, support, tn)


def samplewise_values(
    xp: Any,
    spec: TaskSpec,
    kind: str,
    average: Average,
    zero_division: float,
    beta: float,
    counts: Counts,
) -> Any:
    """Each sample's score from its counts (leading axis S): `(S,)`, or `(S, C)` per class.

    A void sample (no element counted: every pixel ignored) scores `zero_division` whatever
    the average (as a sample without labels in scikit-learn's `average="samples"`), where
    macro and weighted averages would otherwise find no class to average; accuracy, whose
    undefined value is NaN, leaves it out.
    """
    if kind == "accuracy":
        return divide(xp, xp.sum(counts.tp, axis=-1), xp.sum(counts.support, axis=-1), float("nan"))
    _, averaged = reductions.ratios(
        xp, spec, counts, [kind], [average], zero_division=zero_division, beta=beta
    )
    values = averaged[0][0]
    # Counted weight of each sample, summed over its classes (tp + fp + fn + tn per class).
    counted = xp.sum(counts.support + counts.predicted - counts.tp + counts.tn, axis=-1)
    void = xp.equal(counted, 0.0)
    if len(values.shape) == 2:
        void = xp.expand_dims(void, -1)
    return xp.where(void, xp.cast(zero_division, values.dtype), values)


def samplewise_update(
    spec: TaskSpec,
    kind: str,
    average: Average,
    zero_division: float,
    beta: float,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> Any:
    """One batch's weighted sums of per-sample scores, laid out as `samplewise_layout(K)`.

    `kind` is a ratio of `reductions.ratios` ("precision", "recall", "fbeta", "specificity",
    "jaccard") or "accuracy".
    """
    x = format_batch(spec, y_true, y_pred, sample_weight, check=check)
    samples = x.samples
    wide = _backend.wide_float()
    counts = _per_sample_counts(spec, x._replace(weight=ops.cast(x.weight, wide)), samples)
    values = samplewise_values(keras_ops, spec, kind, average, zero_division, beta, counts)
    per_class = len(values.shape) == 2
    if x.sample_weight is None:
        sample_w = ops.ones((samples,), dtype=wide)
    else:  # the mean weight of the sample's rows
        rows = ops.reshape(ops.cast(x.sample_weight, wide), (samples, -1))
        sample_w = keras_ops.mean(rows, axis=-1)
    w = ops.expand_dims(sample_w, -1) if per_class else sample_w
    defined = ops.logical_not(ops.isnan(values))
    w = ops.where(defined, w, ops.zeros_like(w))
    size = spec.num_classes if per_class else 1
    return samplewise_layout(size).pack(
        wide,
        value=ops.sum(ops.where(defined, values, ops.zeros_like(values)) * w, axis=0),
        weight=ops.sum(w, axis=0),
        invalid=x.invalid,
    )
