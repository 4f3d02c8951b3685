"""Per-class TP, FP, TN and FN at uniform score thresholds: the points of PR and ROC curves.

TensorBoard's PR-curve plugin, the report's curves and any plot of an epoch's ranking need
the counts at a fixed set of thresholds, not at every distinct score: the plugin assumes
`num_thresholds` thresholds `linspace(0, 1, num_thresholds)` on the probability scale, and a
sample counts as predicted positive at threshold t when its score is >= t.

Two sources, pure NumPy (float64 sums):

- whole scores (`counts_from_scores`: an evaluator's arrays, an exact metric's buffer):
  exact at every threshold;
- a binned ranking state (`counts_from_bins`: per-class histograms over the bins of
  `ranking_graph.score_bins`, whose smallest scores are `operating_points_ops.bin_thresholds`):
  a threshold that is the start of a bin is exact; inside a bin, the count is the one at the
  start of that bin (<= t), so it includes the bin's mass that may lie below t. `tp_error` and
  `fp_error` are that bin's positive and negative mass: the exact counts at t lie in
  `[tp - tp_error, tp]` and `[fp - fp_error, fp]`. A bin spans 1/64 of an octave of
  min(p, 1 - p) (default `bins_per_octave=64`): at most 1.6 % of min(t, 1 - t) (0.002 at
  t = 0.3, 0.0001 at t = 0.01 or 0.99), so the error is the mass of the scores in that
  sliver around each threshold. Of the 101 default thresholds, 0, 1/4, 1/2, 3/4 and 1 start
  a bin.

Logit scores (binary and multilabel metrics with `from_logits=True`) are compared with
`logit(t)`, which orders them as `sigmoid(z) >= t` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from epochmetrics.functional._args import check_num_thresholds

__all__ = [
    "ThresholdCounts",
    "counts_from_bins",
    "counts_from_scores",
    "uniform_thresholds",
]

# Elements per chunk when bucketing scores: bounds the int64 temporaries at ~32 MB.
_CHUNK = 2**22


def uniform_thresholds(num_thresholds: int) -> np.ndarray:
    """`linspace(0, 1, num_thresholds)` in float64: TensorBoard's PR-curve thresholds.

    Examples:
        >>> uniform_thresholds(5).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    return np.linspace(0.0, 1.0, check_num_thresholds(num_thresholds))


@dataclass(frozen=True)
class ThresholdCounts:
    """Weighted counts per class at each threshold (positive when score >= threshold).

    Attributes:
        thresholds: `(T,)` ascending thresholds on the probability scale.
        tp, fp, tn, fn: `(K, T)` float64 counts (weighted sums), one row per class.
        tp_error, fp_error: `(K, T)`: the exact TP lies in `[tp - tp_error, tp]`, FP likewise
            (all zero when the counts are exact). TN and FN err by the same amounts.
        labels: the K class labels (class names, or indices as strings; binary: one label).
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray
    tp_error: np.ndarray
    fp_error: np.ndarray
    labels: tuple[str, ...]

    @property
    def exact(self) -> bool:
        """Whether every count is exact."""
        return not (self.tp_error.any() or self.fp_error.any())

    @property
    def positives(self) -> np.ndarray:
        """`(K,)` positive mass per class."""
        return self.tp[:, 0] + self.fn[:, 0]

    @property
    def negatives(self) -> np.ndarray:
        """`(K,)` negative mass per class."""
        return self.fp[:, 0] + self.tn[:, 0]

    def precision(self) -> np.ndarray:
        """`(K, T)` TP / (TP + FP); 0.0 where nothing is predicted positive."""
        return _ratio(self.tp, self.tp + self.fp)

    def recall(self) -> np.ndarray:
        """`(K, T)` TP / P, the true positive rate; 0.0 for a class without positives."""
        return _ratio(self.tp, self.tp + self.fn)

    def false_positive_rate(self) -> np.ndarray:
        """`(K, T)` FP / N; 0.0 for a class without negatives."""
        return _ratio(self.fp, self.fp + self.tn)

    def average_precision(self) -> np.ndarray:
        """`(K,)` step-wise area under the grid's PR curve (an approximation of AP that needs
        only these counts: good enough to rank classes; NaN without positives)."""
        r = np.concatenate([self.recall(), np.zeros((len(self.labels), 1))], axis=1)
        area = np.sum((r[:, :-1] - r[:, 1:]) * self.precision(), axis=1)
        return np.where(self.positives > 0, area, np.nan)

    def select(self, rows: Sequence[int]) -> ThresholdCounts:
        """The counts of some classes only, in the order given."""
        i = np.asarray(rows, dtype=np.int64)
        return ThresholdCounts(
            self.thresholds,
            self.tp[i],
            self.fp[i],
            self.tn[i],
            self.fn[i],
            self.tp_error[i],
            self.fp_error[i],
            tuple(self.labels[k] for k in i),
        )


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)


def _cuts(thresholds: np.ndarray, logits: bool) -> np.ndarray:
    """The thresholds in the scores' units: probabilities as they are, or logit(t)."""
    t = np.asarray(thresholds, dtype=np.float64)
    if not logits:
        return t
    with np.errstate(divide="ignore"):
        return np.log(t) - np.log1p(-t)  # -inf at 0, +inf at 1


def _counts(
    tp: np.ndarray,
    fp: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    thresholds: np.ndarray,
    labels: Sequence[str],
    tp_error: np.ndarray | None = None,
    fp_error: np.ndarray | None = None,
) -> ThresholdCounts:
    zeros = np.zeros_like(tp)
    return ThresholdCounts(
        np.asarray(thresholds, dtype=np.float64),
        tp,
        fp,
        neg[:, None] - fp,
        pos[:, None] - tp,
        zeros if tp_error is None else tp_error,
        zeros if fp_error is None else fp_error,
        tuple(str(label) for label in labels),
    )


def _reverse_cumsum(x: np.ndarray) -> np.ndarray:
    return np.flip(np.cumsum(np.flip(x, axis=-1), axis=-1), axis=-1)


def counts_from_scores(
    scores: Any,
    targets: Any,
    weights: Any,
    thresholds: np.ndarray,
    labels: Sequence[str],
    *,
    logits: bool = False,
) -> ThresholdCounts:
    """Exact counts from whole scores.

    Args:
        scores: `(n, K)` scores, one column per one-vs-rest problem (probabilities, or logits
            with `logits=True`).
        targets: `(n, K)` bool, True where the sample is a positive of that column.
        weights: `(n, K)` non-negative weights (0 where an element is not counted), or None.
        thresholds: `(T,)` ascending probabilities (e.g. `uniform_thresholds(101)`).
        labels: the K class labels.
        logits: compare `scores >= logit(t)`.

    Returns:
        `ThresholdCounts` with zero errors.

    Examples:
        >>> c = counts_from_scores([[0.1], [0.4], [0.35], [0.8]], [[0], [0], [1], [1]], None,
        ...                        uniform_thresholds(3), ["1"])
        >>> c.tp.tolist(), c.fp.tolist(), c.fn.tolist()
        ([[2.0, 1.0, 0.0]], [[2.0, 0.0, 0.0]], [[0.0, 1.0, 2.0]])
    """
    s = np.asarray(scores)
    if s.dtype.kind != "f":
        s = s.astype(np.float64)
    y = np.asarray(targets, dtype=bool)
    n, k = s.shape
    w = np.ones((n, k)) if weights is None else np.broadcast_to(np.asarray(weights, float), (n, k))
    cuts = _cuts(thresholds, logits)
    t = cuts.shape[0]
    # Bucket j = how many thresholds are <= the score: the score counts as positive at
    # thresholds 0 .. j - 1. Masses per bucket, then a reverse cumulative sum over buckets.
    pos_mass = np.zeros((k, t + 1))
    neg_mass = np.zeros((k, t + 1))
    step = max(1, _CHUNK // max(n, 1))
    for lo in range(0, k, step):
        hi = min(k, lo + step)
        bucket = np.searchsorted(cuts, s[:, lo:hi].astype(np.float64), side="right")
        flat = (bucket + (t + 1) * np.arange(hi - lo)).ravel()
        wy = np.where(y[:, lo:hi], w[:, lo:hi], 0.0).ravel()
        wn = np.where(y[:, lo:hi], 0.0, w[:, lo:hi]).ravel()
        size = (hi - lo) * (t + 1)
        pos_mass[lo:hi] = np.bincount(flat, wy, minlength=size).reshape(hi - lo, t + 1)
        neg_mass[lo:hi] = np.bincount(flat, wn, minlength=size).reshape(hi - lo, t + 1)
    tp = _reverse_cumsum(pos_mass)[:, 1:]
    fp = _reverse_cumsum(neg_mass)[:, 1:]
    return _counts(tp, fp, pos_mass.sum(axis=1), neg_mass.sum(axis=1), thresholds, labels)


def counts_from_bins(
    pos: Any,
    neg: Any,
    bin_starts: np.ndarray,
    thresholds: np.ndarray,
    labels: Sequence[str],
    *,
    logits: bool = False,
) -> ThresholdCounts:
    """Counts from a binned state, with their error bounds (see the module docstring).

    Args:
        pos, neg: `(K, G)` positive and negative mass per bin, ascending scores.
        bin_starts: `(G,)` the smallest float32 score of each bin, ascending (the first is
            0.0, or -inf for logits); empty bins may share the next bin's start.
        thresholds: `(T,)` ascending probabilities.
        labels: the K class labels.
        logits: the bins are over logits.

    Returns:
        `ThresholdCounts`; at threshold t, TP is the positive mass of the bin holding t and
        every bin above it, and `tp_error` that bin's positive mass (0 when t starts a bin).

    Examples:
        >>> starts = np.array([0.0, 0.25, 0.5, 0.75])
        >>> c = counts_from_bins([[0, 1, 1, 2]], [[3, 1, 0, 0]], starts,
        ...                      uniform_thresholds(3), ["1"])
        >>> c.tp.tolist(), c.tp_error.tolist()  # 0 and 0.5 start bins; 1 is inside the last
        ([[4.0, 3.0, 2.0]], [[0.0, 0.0, 2.0]])
    """
    p = np.asarray(pos, dtype=np.float64)
    q = np.asarray(neg, dtype=np.float64)
    starts = np.asarray(bin_starts, dtype=np.float64)
    cuts = _cuts(thresholds, logits)
    # Scores are float32: s >= t exactly when s >= the smallest float32 >= t.
    cut32 = cuts.astype(np.float32)
    below = cut32.astype(np.float64) < cuts
    cut32[below] = np.nextafter(cut32[below], np.float32(np.inf))
    up = cut32.astype(np.float64)
    b = np.clip(np.searchsorted(starts, up, side="right") - 1, 0, starts.shape[0] - 1)
    at_start = starts[b] == up
    tp = _reverse_cumsum(p)[:, b]
    fp = _reverse_cumsum(q)[:, b]
    tp_error = np.where(at_start, 0.0, p[:, b])
    fp_error = np.where(at_start, 0.0, q[:, b])
    return _counts(tp, fp, p.sum(axis=1), q.sum(axis=1), thresholds, labels, tp_error, fp_error)
