"""The one validator of whole arrays on the host (NumPy), for the ranking functions and metrics.

What the in-graph formatter (`_format`) checks batch by batch, on whole arrays in NumPy, with
the same messages (`_args`): shapes, labels, finite scores and weights, `ignore_index`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from epochmetrics._backend import host as _host
from epochmetrics.functional._args import (
    TaskSpec,
    bad_one_hot_error,
    bad_scores_error,
    bad_values_error,
    shape_error,
)
from epochmetrics.functional._format import batch_form

__all__ = ["Columns", "column", "one_hot_labels", "prepare", "to_numpy"]


class Columns(NamedTuple):
    """Validated inputs as K binary problems (binary: K = 1): float32/64 scores, bool targets."""

    scores: np.ndarray  # (n, K)
    targets: np.ndarray  # (n, K) bool
    weights: np.ndarray | None  # (n, K) float64, or None for all ones


def to_numpy(x: Any) -> np.ndarray:
    """Any array or tensor as NumPy; float16/bfloat16 become float32 (exact, ties kept)."""
    return np.asarray(_host.to_numpy(x))


def _is_vector(a: np.ndarray) -> bool:
    return a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)


def prepare(
    spec: TaskSpec,
    y_true: Any,
    y_score: Any,
    sample_weight: Any = None,
    *,
    probabilities: bool = False,
) -> Columns:
    """Validate whole arrays and return them as K binary problems (see `Columns`).

    With `probabilities` (a metric's y_pred without `from_logits`), scores outside [0, 1] are
    an error too, with the message `update_state` gives.
    """
    yt, ys = to_numpy(y_true), to_numpy(y_score)
    if ys.dtype.kind not in "fiub":
        raise ValueError(f"y_score must hold numbers. Received dtype {ys.dtype}.")
    yt, ys, sample_weight = _flatten_dense(spec, yt, ys, sample_weight)
    n = ys.shape[0] if ys.ndim else 0
    c = spec.num_classes
    if spec.task == "binary":
        if not (_is_vector(yt) and _is_vector(ys)):
            raise shape_error(spec, yt.shape, ys.shape, pred="y_score", n="n", scores="scores")
        yt, ys = yt.reshape(-1, 1), ys.reshape(-1, 1)
    elif spec.task == "multilabel":
        if yt.ndim != 2 or ys.ndim != 2 or yt.shape[1] != c or ys.shape[1] != c:
            raise shape_error(spec, yt.shape, ys.shape, pred="y_score", n="n", scores="scores")
    elif ys.ndim != 2 or ys.shape[1] != c or not (_is_vector(yt) or yt.shape[1:] == (c,)):
        raise shape_error(spec, yt.shape, ys.shape, pred="y_score", n="n", scores="scores")
    if yt.shape[0] != n:
        raise ValueError(
            "y_true and y_score must have the same number of samples. "
            f"Received: y_true.shape={yt.shape}, y_score.shape={ys.shape}."
        )
    w = None
    if sample_weight is not None:
        w = to_numpy(sample_weight).astype(np.float64)
        if not _is_vector(w) or w.shape[0] != n:
            raise ValueError(
                "`sample_weight` must have shape (n,) matching y_true. "
                f"Received: sample_weight.shape={w.shape}, y_true.shape={yt.shape}."
            )
        w = w.reshape(-1)
        if not np.all(np.isfinite(w)):
            raise ValueError("`sample_weight` must be finite. Received NaN or infinite weights.")

    # float32 stays float32 (what models output: sorts twice as fast; float16 and bfloat16 were
    # widened to it, exactly); other dtypes -> float64.
    scores = ys if ys.dtype in (np.float32, np.float64) else ys.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        bad = int(np.sum(~np.isfinite(scores)))
        raise ValueError(
            f"y_score must be finite. Received {bad} NaN or infinite value(s); check the model "
            "(its loss is probably NaN too)."
        )
    if probabilities and not spec.from_logits:
        _check_probabilities(spec, scores)
    if spec.task == "multiclass":
        targets, keep = _multiclass_targets(spec, yt)
        if spec.from_logits:
            z = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
            e = np.exp(z)
            scores = e / e.sum(axis=1, keepdims=True)
    else:
        targets, keep = _binary_targets(spec, yt)

    if spec.task == "multilabel" and spec.ignore_index is not None and not keep.all():
        # Element-wise removal: weight 0 where the label is ignored.
        weights = (np.ones((n, 1)) if w is None else w[:, None]) * keep
        return Columns(scores, targets & keep, weights)
    if keep.ndim == 1 and not keep.all():
        scores, targets = scores[keep], targets[keep]
        w = None if w is None else w[keep]
    weights = None if w is None else np.broadcast_to(w[:, None], scores.shape)
    return Columns(scores, targets, weights)


def _flatten_dense(
    spec: TaskSpec, yt: np.ndarray, ys: np.ndarray, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray, Any]:
    """Dense inputs (extra axes between the batch and the class axis, as `update_state` takes
    them: see `_format._form`) as one row per element; other inputs unchanged.

    `sample_weight` of shape `(n,)` is repeated for each element of its sample; one of the
    elements' shape is flattened with them.
    """
    form = batch_form(spec, yt, ys, scores=True)
    if form is None or len(form.sample_shape) < 2:
        return yt, ys, sample_weight
    sample_shape = tuple(int(d or 0) for d in form.sample_shape)  # host arrays: all known
    rows, c, true_shape = int(np.prod(sample_shape)), spec.num_classes, yt.shape
    yt = yt.reshape(rows, c) if spec.task == "multilabel" or form.one_hot else yt.reshape(rows)
    ys = ys.reshape(rows, c) if spec.task != "binary" else ys.reshape(rows)
    if sample_weight is None:
        return yt, ys, None
    w = to_numpy(sample_weight)
    per_element = w.shape == form.sample_shape or w.shape == (*form.sample_shape, 1)
    if per_element:
        return yt, ys, w.reshape(rows)
    if _is_vector(w) and w.shape[0] == form.sample_shape[0]:
        return yt, ys, np.repeat(w.reshape(-1), rows // sample_shape[0])
    raise ValueError(
        "`sample_weight` must have one weight per sample (n,) or one per element "
        f"{form.sample_shape}. Received: sample_weight.shape={w.shape}, "
        f"y_true.shape={true_shape}."
    )


def _binary_targets(spec: TaskSpec, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels (any numeric or bool dtype) -> (bool targets, mask of counted entries)."""
    keep = np.ones(yt.shape, dtype=bool)
    if spec.ignore_index is not None:
        keep = yt != spec.ignore_index
    ok = (yt == 0) | (yt == 1)
    if not np.all(ok | ~keep):
        raise bad_values_error(spec, "y_true", yt[~ok & keep])
    targets = yt == 1
    if spec.task == "binary":
        return targets, keep.reshape(-1)
    return targets, keep


def _multiclass_targets(spec: TaskSpec, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels or one-hot rows -> ((n, C) bool one-hot, (n,) mask of counted samples)."""
    c = spec.num_classes
    if not _is_vector(yt):
        labels, bad, zero = one_hot_labels(yt)
        keep = ~zero
        if spec.ignore_index is not None:
            keep &= labels != spec.ignore_index
            bad &= keep
        else:
            bad |= zero
        if bad.any():
            raise bad_one_hot_error(spec, int(bad.sum()), yt[bad][0], yt.shape, same_shape=False)
    else:
        raw = yt.reshape(-1)
        keep = np.ones(raw.shape, dtype=bool)
        if spec.ignore_index is not None:
            keep = raw != spec.ignore_index
        ok = (raw == np.floor(raw)) & (raw >= 0) & (raw < c) if raw.dtype.kind == "f" else None
        if ok is None:
            ok = (raw >= 0) & (raw < c)
        if not np.all(ok | ~keep):
            raise bad_values_error(spec, "y_true", raw[~ok & keep])
        labels = np.where(keep, raw, 0).astype(np.int64)
    return labels[:, None] == np.arange(c)[None, :], keep


def one_hot_labels(yt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_format._one_hot_labels` in NumPy: `(n, C)` rows -> (class of the largest entry, rows
    that are not one-hot, all-zero rows)."""
    y = yt.astype(np.float32)  # as the in-graph rule reads it
    in_range = np.all((y >= 0) & (y <= 1), axis=-1)  # False for NaN
    ones = np.sum(y == 1, axis=-1)
    frac = np.any((y > 0) & (y < 1), axis=-1)
    one_hot = in_range & (ones + frac == 1)
    zero = ~np.any(y != 0, axis=-1)
    return np.argmax(y, axis=-1), ~one_hot & ~zero, zero


def column(cols: Columns, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    w = None if cols.weights is None else np.ascontiguousarray(cols.weights[:, k])
    return np.ascontiguousarray(cols.targets[:, k]), np.ascontiguousarray(cols.scores[:, k]), w


def _check_probabilities(spec: TaskSpec, scores: np.ndarray) -> None:
    bad = ~((scores >= 0) & (scores <= 1))
    if not bad.any():
        return
    if spec.task == "multiclass":
        raise bad_scores_error(spec, int(bad.any(axis=1).sum()))
    raise bad_values_error(spec, "y_pred", scores[bad])
