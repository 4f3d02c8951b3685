"""Calibration error (ECE, RMS and maximum), as torchmetrics defines it, streamable.

Each counted prediction has a confidence c in [0, 1] and an accuracy a in {0, 1}:

- binary: c = the positive-class probability, a = the label (torchmetrics'
  `binary_calibration_error`);
- multiclass: c = the top-label probability max_k p_k, a = 1 if its class (the first maximum) is
  the label (`multiclass_calibration_error`);
- multilabel (torchmetrics has none): each label is a binary problem; `average="macro"` takes
  the mean of the per-label errors, "micro" pools every (sample, label) element.

Bins are uniform on [0, 1]: bin j < n_bins holds j / n_bins <= c < (j + 1) / n_bins, and, as in
torchmetrics (`torch.bucketize(c, linspace(0, 1, n_bins + 1), right=True) - 1`), a confidence of
exactly 1 has a cell of its own, index n_bins: the state has n_bins + 1 cells. Per cell m, with
sample weights w (1 by default), the state holds W_m = sum w, C_m = sum w c and A_m = sum w a:
sums, so batches merge by addition in any partition and integer weights act as repetition.
Then, with W = sum_m W_m:

    l1  (ECE):     sum_m |A_m - C_m| / W
    l2  (RMS CE):  sqrt(sum_m (A_m - C_m)^2 / W_m / W)
    max (MCE):     max_m |A_m - C_m| / W_m        (empty cells count 0)

which are torchmetrics' sum_m b_m |acc_m - conf_m|, sqrt(sum_m b_m (acc_m - conf_m)^2) and
max_m |acc_m - conf_m| with b_m = W_m / W. Without any counted sample all three are NaN
(torchmetrics: NaN for l1, 0 for l2 and max).

Edges. Confidences are float32 (what models output; float64 inputs are rounded to float32) and
are binned against the exact edges j / n_bins. torchmetrics compares them with
`torch.linspace(0, 1, n_bins + 1)` in float32, whose entries can be an ulp or two off j / n_bins
(e.g. 3/15 is 0.20000002 there, so torchmetrics puts float32(0.2) = 0.20000000298 in bin 2, and
we in bin 3); only confidences within those few ulps of an edge bin differently.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import keras_ops, numpy_ops
from epochmetrics._docs import docstring
from epochmetrics._types import CalibrationAverage, Norm, Task
from epochmetrics.functional import ranking
from epochmetrics.functional._args import TaskSpec, check_choice, check_int, make_spec
from epochmetrics.functional._format import format_batch
from epochmetrics.functional._layout import Layout

__all__ = [
    "bin_edges",
    "bin_index",
    "calibration_error",
    "calibration_columns",
    "calibration_error_from_sums",
    "calibration_layout",
    "calibration_sums",
    "calibration_update",
    "check_calibration_average",
    "check_n_bins",
    "check_norm",
    "top_label",
]

NORMS = ("l1", "l2", "max")


def check_n_bins(n_bins: Any) -> int:
    """`n_bins`: an integer from 1 to 2**24 (float32 counts bins exactly up to there)."""
    what = "an integer from 1 to 2**24 (15 is usual)"
    return int(check_int("n_bins", n_bins, minimum=1, maximum=2**24, what=what))


def check_norm(norm: Any) -> str:
    what = "one of 'l1' (ECE), 'l2' (RMS calibration error) or 'max' (MCE)"
    return str(check_choice("norm", norm, NORMS, what=what))


def check_calibration_average(average: Any) -> CalibrationAverage:
    """Multilabel's average of the per-label errors."""
    return check_choice("average", average, ("macro", "micro", None))  # type: ignore[no-any-return]


def bin_edges(n_bins: int) -> np.ndarray:
    """`(n_bins + 1,)` float32: the smallest float32 >= j / n_bins, so that for float32 c,
    c >= edges[j] exactly when c >= j / n_bins."""
    j = np.arange(n_bins + 1, dtype=np.float64)
    out = (j / n_bins).astype(np.float32)
    # A float32 times n_bins <= 2**24 is exact in float64: compare with j exactly.
    out = np.where(out.astype(np.float64) * n_bins < j, np.nextafter(out, np.float32(2)), out)
    below = np.nextafter(out, np.float32(-1))
    return np.where((j > 0) & (below.astype(np.float64) * n_bins >= j), below, out)


def bin_index(confidence: Any, n_bins: int) -> Any:
    """int32 cell of each confidence in [0, 1]: floor(c * n_bins), and n_bins for c = 1.

    `keras.ops` only, exact in float32: c * n_bins rounded can reach the next integer from below
    (never pass one), which one comparison with the exact edge corrects.
    """
    x = ops.cast(confidence, "float32")
    k = ops.clip(ops.cast(ops.floor(x * float(n_bins)), "int32"), 0, n_bins)
    edges = ops.convert_to_tensor(bin_edges(n_bins))
    return k - ops.cast(x < ops.take(edges, k), "int32")


def top_label(xp: Any, probabilities: Any, labels: Any) -> tuple[Any, Any]:
    """Multiclass `(B, C)` probabilities and `(B,)` integer labels -> `(B,)` top-label
    confidence and accuracy (1.0 when the first most probable class is the label)."""
    confidence, predicted = xp.top_1(probabilities)
    correct = xp.equal(xp.cast(predicted, "int32"), xp.cast(labels, "int32"))
    return confidence, xp.cast(correct, confidence.dtype)


def calibration_sums(confidence: Any, accuracy: Any, weight: Any = None, *, n_bins: int) -> Any:
    """One batch -> `(3, K, n_bins + 1)` cell sums `[W, C, A]` (see the module docstring).

    Inside compiled steps: `keras.ops` and one scatter-add, no host reads.

    Args:
        confidence: `(B, K)` (or `(B,)`: K = 1) confidences in [0, 1].
        accuracy: Same shape, 0/1 (correct or positive).
        weight: `(B,)` per sample or `(B, K)` per element; None for ones. Non-negative; 0
            removes an element (ignored labels, invalid rows).
        n_bins: Number of uniform bins.

    Returns:
        The sums in the weights' dtype (the wide float, `_backend.wide_float()`, without).
    """
    if len(confidence.shape) == 1:
        confidence, accuracy = ops.expand_dims(confidence, -1), ops.expand_dims(accuracy, -1)
    if weight is None:
        weight = ops.ones(ops.shape(confidence)[:1], dtype=_backend.wide_float())
    dtype = keras.backend.standardize_dtype(weight.dtype)
    if len(weight.shape) == 1:
        weight = ops.expand_dims(weight, -1)
    k, m = int(confidence.shape[-1]), n_bins + 1
    w = weight * ops.ones_like(ops.cast(confidence, dtype))  # (B, K)
    cell = bin_index(confidence, n_bins) + ops.expand_dims(ops.arange(k, dtype="int32") * m, 0)
    index = ops.reshape(cell, (-1,))
    values = [w, w * ops.cast(confidence, dtype), w * ops.cast(accuracy, dtype)]
    sums = _backend.scatter_add(
        ops.concatenate([ops.reshape(v, (-1,)) for v in values]),
        ops.concatenate([index, index + k * m, index + 2 * k * m]),
        3 * k * m,
    )
    return ops.reshape(sums, (3, k, m))


def calibration_error_from_sums(xp: Any, sums: Any, norm: str) -> Any:
    """`(3, K, M)` summed cells -> `(K,)` calibration error in `norm`; NaN without samples.

    Examples:
        >>> import numpy as np
        >>> from epochmetrics._backend.xp import numpy_ops
        >>> sums = np.array([[[2.0, 1.0, 0.0]], [[0.5, 0.75, 0.0]], [[1.0, 0.0, 0.0]]])
        >>> [round(float(calibration_error_from_sums(numpy_ops, sums, n)[0]), 4) for n in NORMS]
        [0.4167, 0.4787, 0.75]
    """
    count, gap = sums[0], sums[2] - sums[1]  # (K, M): W_m, A_m - C_m
    total = xp.sum(count, axis=-1)
    size = xp.where(gap < 0.0, -gap, gap)
    empty = xp.equal(count, 0.0)
    per_cell = xp.where(
        empty, xp.zeros_like(gap), gap / xp.where(empty, xp.ones_like(count), count)
    )
    if norm == "l1":
        value = xp.sum(size, axis=-1)
    elif norm == "l2":
        value = xp.sum(per_cell * gap, axis=-1)
    else:
        value = xp.max(xp.where(per_cell < 0.0, -per_cell, per_cell), axis=-1)
    counted = total > 0.0
    if norm != "max":
        value = value / xp.where(counted, total, xp.ones_like(total))
    if norm == "l2":
        value = xp.sqrt(value)
    return xp.where(counted, value, xp.cast(float("nan"), value.dtype))


def calibration_columns(spec: TaskSpec) -> int:
    """K, the calibration problems of the state: one per label (multilabel), else 1."""
    return spec.num_classes if spec.task == "multilabel" else 1


@functools.cache
def calibration_layout(spec: TaskSpec, n_bins: int) -> Layout:
    """The streaming state: the `(3, K, n_bins + 1)` cell sums, flattened."""
    return Layout(sums=3 * calibration_columns(spec) * (n_bins + 1))


def calibration_update(
    spec: TaskSpec,
    n_bins: int,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> Any:
    """One batch's cell sums, laid out as `calibration_layout(spec, n_bins)`; dense inputs,
    `ignore_index` and invalid values as every metric (`_format.format_batch`)."""
    x = format_batch(spec, y_true, y_pred, sample_weight, scores=True, check=check)
    scores = x.y_pred
    if spec.from_logits and spec.task != "multiclass":  # multiclass: softmax done
        scores = ops.sigmoid(scores)
    if spec.task == "multiclass":
        confidence, accuracy = top_label(keras_ops, scores, x.y_true)
    else:
        confidence, accuracy = scores, x.y_true  # binary: (N, 1) scores, (N,) labels
    weight = x.weight
    if spec.task == "binary":
        accuracy, weight = ops.expand_dims(accuracy, -1), ops.expand_dims(weight, -1)
    sums = calibration_sums(confidence, accuracy, weight, n_bins=n_bins)
    return calibration_layout(spec, n_bins).pack(
        keras.backend.standardize_dtype(sums.dtype),
        sums=ops.reshape(sums, (-1,)),
        invalid=x.invalid,
    )


def _host_sums(confidence: np.ndarray, accuracy: np.ndarray, w: np.ndarray, n_bins: int) -> Any:
    """NumPy twin of `calibration_sums` on `(n, K)` arrays (float64 sums)."""
    c = confidence.astype(np.float64)  # float32 values: c * n_bins is exact in float64
    k, m = c.shape[1], n_bins + 1
    cell = np.minimum(np.floor(c * n_bins), n_bins).astype(np.int64) + np.arange(k) * m
    sums = [np.bincount(cell.ravel(), (w * v).ravel(), k * m) for v in (1.0, c, accuracy)]
    return np.stack(sums).reshape(3, k, m)


@docstring()
def calibration_error(
    y_true: Any,
    y_prob: Any,
    *,
    task: Task = "binary",
    num_classes: int | None = None,
    n_bins: int = 15,
    norm: Norm = "l1",
    average: CalibrationAverage = "macro",
    sample_weight: Any = None,
    from_logits: bool = False,
    ignore_index: int | None = None,
) -> Any:
    """Calibration error of whole arrays, as torchmetrics' `calibration_error` (see the module).

    Args:
        y_true: Binary `(n,)` 0/1 labels; multiclass `(n,)` integer labels or `(n, C)` one-hot;
            multilabel `(n, L)` 0/1.
        y_prob: Binary `(n,)` positive-class probabilities; multiclass `(n, C)` class
            probabilities; multilabel `(n, L)` per-label probabilities (logits with
            `from_logits=True`: sigmoid, or softmax for multiclass, is applied first).
        task: "binary", "multiclass" (top-label) or "multilabel" (per label).
        num_classes: Number of classes or labels (multiclass, multilabel).
        n_bins: Number of uniform bins on [0, 1].
        norm: "l1" (expected calibration error), "l2" (root mean square) or "max" (maximum).
        average: Multilabel: "macro" (mean over labels), "micro" (elements pooled) or None
            (per label). Ignored otherwise.
        sample_weight: `(n,)` non-negative sample weights.
        from_logits: `y_prob` holds logits.
        ignore_index: Label value whose samples (multilabel: elements) are left out.

    Returns:
        A Python float, or a float64 array `(L,)` for multilabel with `average=None`. NaN, with
        an `UndefinedMetricWarning`, where no sample is counted.

    Raises:
        ValueError: on invalid arguments, shapes, labels or probabilities.

    Examples:
        >>> from epochmetrics.functional.calibration import calibration_error
        >>> p, y = [0.25, 0.25, 0.55, 0.75, 0.75], [0, 0, 1, 1, 1]
        >>> round(calibration_error(y, p, n_bins=2), 4)
        0.29
        >>> round(calibration_error(y, p, n_bins=2, norm="l2"), 4)
        0.2918
        >>> round(calibration_error(y, p, n_bins=2, norm="max"), 4)
        0.3167
    """
    n_bins, kind = check_n_bins(n_bins), check_norm(norm)
    spec = make_spec(task, num_classes, 0.5, from_logits, ignore_index)
    average = check_calibration_average(average)
    cols = ranking.prepare(spec, y_true, y_prob, sample_weight)
    scores = cols.scores.astype(np.float64)
    if from_logits and spec.task != "multiclass":  # multiclass: softmax done by `prepare`
        scores = 1.0 / (1.0 + np.exp(-scores))
    elif not from_logits and not np.all((scores >= 0.0) & (scores <= 1.0)):
        raise ValueError(
            "y_prob must hold probabilities in [0, 1]. Received values outside; if they are "
            "logits, pass from_logits=True."
        )
    scores = scores.astype(np.float32)
    weights = np.ones(scores.shape) if cols.weights is None else cols.weights
    if spec.task == "multiclass":
        confidence, correct = top_label(numpy_ops, scores, cols.targets.argmax(axis=1))
        confidence, accuracy = confidence[:, None], correct[:, None]
        weights = weights[:, :1]
    else:
        confidence, accuracy = scores, cols.targets.astype(np.float64)
    sums = _host_sums(confidence, accuracy, weights, n_bins)
    if spec.task == "multilabel" and average == "micro":
        sums = sums.sum(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        values = calibration_error_from_sums(numpy_ops, sums, kind)
    empty = [int(i) for i in np.flatnonzero(np.isnan(values))]
    if empty:
        where = f" for label(s) {empty}" if values.size > 1 else ""
        warnings.warn(
            f"Calibration error is undefined{where}: no sample was counted. Returning NaN.",
            ranking.UndefinedMetricWarning,
            stacklevel=2,
        )
    if values.size == 1:
        return float(values[0])
    return values if average is None else float(np.mean(values))
