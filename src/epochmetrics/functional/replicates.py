"""Bootstrap replicates of the count family's sum states, at O(R x state) per batch.

The state of a count metric (per-class stat scores, the confusion matrix) is a sum over the
samples of what each adds, weighted by its sample weight: linear in the weights. So the states
of R re-weighted replicates are one 2-D sum of the samples' contributions times a `(B, R)`
weight matrix (`bootstrap.replicate_sums`), not R metric updates. Here: each sample's
contribution, as `(index, values)` pairs into the state vector, from the one batch formatter
(`_format.format_batch`, so inputs are read and checked exactly as `update_state` reads
them). A function per batch function of `stat_scores`; `contributions` picks it from a
metric's `Step` and returns None for batch functions without one (callers fall back to
re-weighted updates).

Each function's contributions, summed over the samples, are the batch function's own sums
(tested cell for cell against `stat_scores_update` and `confusion_matrix_update`). Dense inputs
(extra axes) are summed per sample first: a replicate resamples whole images, never pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from epochmetrics._backend import host as _host
from epochmetrics._backend import runtime
from epochmetrics.functional import bootstrap
from epochmetrics.functional._args import TaskSpec
from epochmetrics.functional._format import format_batch
from epochmetrics.functional.stat_scores import (
    confusion_matrix_layout,
    confusion_matrix_update,
    stat_scores_layout,
    stat_scores_update,
)

__all__ = ["Contributions", "contributions", "has_contributions", "replicate_states"]


class Contributions(NamedTuple):
    """What each of B samples adds to a state of `size` cells: `values[i, s]` to cell
    `cells[i, s]` (both `(B, m)`)."""

    cells: np.ndarray
    values: np.ndarray
    size: int


def _host_batch(spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[Any, ...]:
    """(targets, predictions, element weights, row weights, B) as NumPy, checked eagerly
    (in float64 on JAX too, as eager updates are)."""
    with runtime.eager_x64():
        x = format_batch(spec, y_true, y_pred, sample_weight, check=True)
    host = _host.to_numpy
    t = host(x.y_true).astype(np.int64)
    p = host(x.y_pred).astype(np.int64)
    w = host(x.weight).astype(np.float64)
    sw = None if x.sample_weight is None else host(x.sample_weight).astype(np.float64)
    return t, p, w, sw, int(x.samples)


def _per_sample(index: np.ndarray, values: np.ndarray, samples: int, size: int) -> Contributions:
    """Row contributions `(N, m)` of B samples of N / B rows each, as per-sample ones."""
    rows = index.shape[0]
    if rows == samples:
        return Contributions(index, values, size)
    per = rows // samples if samples else 0
    sample = np.repeat(np.arange(samples, dtype=np.int64), per)[:, None]  # (N, 1)
    dense = np.bincount(
        (sample * size + index).ravel(), weights=values.ravel(), minlength=samples * size
    ).reshape(samples, size)
    cells = np.broadcast_to(np.arange(size, dtype=np.int64), dense.shape)
    return Contributions(cells, dense, size)


def _stat_scores(
    spec: TaskSpec, ordinal: bool, y_true: Any, y_pred: Any, sample_weight: Any = None
) -> Contributions:
    layout = stat_scores_layout(spec, ordinal)
    at = {name: layout.slice(name).start for name in layout.names}
    t, p, w, sw, samples = _host_batch(spec, y_true, y_pred, sample_weight)
    if spec.task == "multilabel":
        n, c = t.shape
        labels = np.arange(c, dtype=np.int64)
        row_counted = np.any(w > 0, axis=-1)
        wrong = np.any((t != p) & (w > 0), axis=-1)
        rw = (np.ones(n) if sw is None else sw) * row_counted
        index = np.concatenate(
            [np.broadcast_to(at[k] + labels, (n, c)) for k in ("tp", "predicted", "support", "tn")]
            + [np.full((n, 1), at["exact"]), np.full((n, 1), at["samples"])],
            axis=1,
        )
        values = np.concatenate(
            [t * p * w, p * w, t * w, (1 - t) * (1 - p) * w, (rw * ~wrong)[:, None], rw[:, None]],
            axis=1,
        )
        return _per_sample(index, values, samples, layout.size)
    hit = (t == p).astype(np.float64)
    cells = [at["tp"] + t, at["predicted"] + p, at["support"] + t]
    amounts = [w * hit, w, w]
    if ordinal:
        d = (t - p).astype(np.float64)
        cells += [np.full_like(t, at["abs_err"]), np.full_like(t, at["sq_err"])]
        amounts += [w * np.abs(d), w * d * d]
    return _per_sample(np.stack(cells, axis=1), np.stack(amounts, axis=1), samples, layout.size)


def _confusion_matrix(
    spec: TaskSpec, y_true: Any, y_pred: Any, sample_weight: Any = None
) -> Contributions:
    if spec.task == "multilabel":
        return _stat_scores(spec, False, y_true, y_pred, sample_weight)
    layout = confusion_matrix_layout(spec)
    t, p, w, _, samples = _host_batch(spec, y_true, y_pred, sample_weight)
    index = (layout.slice("matrix").start + t * spec.num_classes + p)[:, None]
    return _per_sample(index, w[:, None], samples, layout.size)


_CONTRIBUTIONS: dict[Callable[..., Any], Callable[..., Contributions]] = {
    stat_scores_update: _stat_scores,
    confusion_matrix_update: _confusion_matrix,
}


def has_contributions(fn: Callable[..., Any]) -> bool:
    """Whether the batch function `fn` has a contribution function here (`contributions`)."""
    return fn in _CONTRIBUTIONS


def contributions(
    fn: Callable[..., Any], args: tuple[Any, ...], y_true: Any, y_pred: Any, sample_weight: Any
) -> Contributions | None:
    """Each sample's contribution to the sums of the batch function `fn(*args, ...)`, or None
    when `fn` has no contribution function here (it is not a count-family update).

    Raises the ValueError `update_state` raises on invalid inputs.

    Examples:
        >>> from epochmetrics.functional._args import make_spec
        >>> spec = make_spec("multiclass", 3, 0.5, False, None)
        >>> c = contributions(stat_scores_update, (spec, False), [0, 2], [0, 1], None)
        >>> c.cells.tolist(), c.values.tolist()  # tp | predicted | support (3 cells each)
        ([[0, 3, 6], [2, 4, 8]], [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    """
    build = _CONTRIBUTIONS.get(fn)
    if build is None:
        return None
    return build(*args, y_true, y_pred, sample_weight)


def replicate_states(part: Contributions, weights: np.ndarray) -> np.ndarray:
    """The `(R, size)` states of R replicates of one batch: its contributions and its `(B, R)`
    replicate weights. States add: a data set's are the sum of its batches'.

    Examples:
        >>> c = Contributions(np.array([[0], [1]]), np.array([[1.0], [1.0]]), 2)
        >>> replicate_states(c, np.array([[2, 1], [0, 3]])).tolist()
        [[2.0, 0.0], [1.0, 3.0]]
    """
    return bootstrap.replicate_sums(part.cells, part.values, weights, part.size)


# --- the ranking metrics' groups ---------------------------------------------------------------
class RankedColumns:
    """Whole arrays sorted once per column, for the group masses of any replicate.

    The exact ranking metrics compute their values from per-class group masses along
    ascending distinct scores (`ranking_graph`: `pos`, `neg` `(K, G)`). The scores do not
    change between replicates, only the weights: so each column is sorted once, and a
    replicate's masses are its weights gathered in that order and summed per group
    (`np.add.reduceat`), O(n K) per replicate instead of a sort.

    Args:
        scores: `(N, K)` scores of N rows (`_host_format.Columns`).
        targets: `(N, K)` bool.
        weights: `(N, K)` float weights, or None.
        sample: `(N,)` the sample (position in the data) of each row.
        pooled: one problem of all N K rows (micro average) instead of K.
    """

    def __init__(
        self,
        scores: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        sample: np.ndarray,
        pooled: bool = False,
    ) -> None:
        n, k = scores.shape
        w = np.ones((n, k)) if weights is None else np.asarray(weights, np.float64)
        pos_w, neg_w = np.where(targets, w, 0.0), np.where(targets, 0.0, w)
        self.support_w = pos_w  # (N, K): the positive mass per class before pooling
        self.sample = np.asarray(sample, np.int64)
        if pooled:
            scores, pos_w, neg_w = (a.reshape(-1, 1) for a in (scores, pos_w, neg_w))
            rows = np.repeat(self.sample, k)
        else:
            rows = self.sample
        self.columns = []
        for j in range(scores.shape[1]):
            order = np.argsort(scores[:, j], kind="stable")
            s = scores[order, j]
            starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
            self.columns.append((rows[order], pos_w[order, j], neg_w[order, j], starts, s[starts]))
        self.groups = max(len(c[3]) for c in self.columns)
        # (K', G) the score each group starts at; empty groups past a column's last: 0.0
        self.thresholds = np.zeros((len(self.columns), self.groups))
        for j, c in enumerate(self.columns):
            self.thresholds[j, : len(c[4])] = c[4]

    def masses(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`(B, R)` replicate weights -> `pos`, `neg` `(R, K', G)` and `support` `(R, K)`.

        The arrays are computed with replicates on the last axis (rows of the weight matrix
        gathered in score order: contiguous copies) and returned as views, replicates first.
        """
        r = weights.shape[1]
        pos = np.zeros((len(self.columns), self.groups, r))
        neg = np.zeros((len(self.columns), self.groups, r))
        for j, (rows, p, q, starts, _) in enumerate(self.columns):
            wr = weights[rows]  # (N, R) in ascending score order
            a, b = wr * p[:, None], wr * q[:, None]
            if len(starts) < len(rows):  # ties: sum each group
                a, b = np.add.reduceat(a, starts, axis=0), np.add.reduceat(b, starts, axis=0)
            pos[j, : len(starts)], neg[j, : len(starts)] = a, b
        support = weights[self.sample].T.astype(np.float64) @ self.support_w
        return np.moveaxis(pos, -1, 0), np.moveaxis(neg, -1, 0), support
