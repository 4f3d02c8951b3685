"""Reference implementations written from the definitions, for what scikit-learn lacks.

Plain loops and scikit-learn's curves: none of the library's code or conventions. Used by the
tests of operating points, calibration error and top-k predictions.
"""

from __future__ import annotations

import math

import numpy as np
from helpers import sk
from sklearn import metrics as skm

NAN = float("nan")


# --- operating points from scikit-learn's curves ------------------------------------------------
def operating_point(
    kind: str, y: np.ndarray, s: np.ndarray, w: np.ndarray | None, c: float
) -> tuple[float, float]:
    """(value, threshold) of one binary problem, from `roc_curve`/`precision_recall_curve`.

    Among the curve's points meeting the constraint (predict-nothing included: threshold inf),
    the best value; of the points reaching it, the one best on the constrained rate.
    """
    y = np.asarray(y).astype(bool)
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    pos, neg = float(w[y].sum()), float(w[~y].sum())
    if pos == 0 or (kind.startswith(("sensitivity", "specificity")) and neg == 0):
        return NAN, NAN
    if kind in ("precision_at_recall", "recall_at_precision"):
        precision, recall, thr = sk(skm.precision_recall_curve, y, s, sample_weight=w)
        thr = np.r_[thr, np.inf]  # the last point (precision 1, recall 0) predicts nothing
        if kind == "precision_at_recall":
            value, constrained = precision, recall
        else:
            value, constrained = recall, precision
    else:
        fpr, tpr, thr = sk(skm.roc_curve, y, s, sample_weight=w, drop_intermediate=False)
        if kind == "sensitivity_at_specificity":
            value, constrained = tpr, 1 - fpr
        else:
            value, constrained = 1 - fpr, tpr
    ok = constrained >= c
    best = value[ok].max()
    tied = ok & (value >= best - 1e-12)
    # Best on the constrained rate among the tied points (it only grows one way along a curve).
    pick = np.flatnonzero(tied)[np.argmax(constrained[tied])]
    return float(best), below(thr[pick], s)


def below(curve_threshold: float, s: np.ndarray) -> float:
    """A curve threshold (positive when score >= it) as the threshold of the same cut for
    "positive when score > t": the largest number below it in the scores' precision (float32
    scores compare in float32). Infinity stays."""
    dtype = np.float32 if np.asarray(s).dtype == np.float32 else np.float64
    t = dtype(curve_threshold)
    return float(t) if not np.isfinite(t) else float(np.nextafter(t, dtype(-np.inf)))


def operating_points(
    kind: str,
    y: np.ndarray,
    s: np.ndarray,
    w: np.ndarray | None,
    c: float,
    average: str | None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest per column of `y (n, K)` 0/1, `s (n, K)`: (values, thresholds, average).

    `average`: "macro" (plain mean, NaN carried), "weighted" (by positive weight), None, or
    "micro" (the columns flattened into one problem: K = 1 in the output).
    """
    if average == "micro":
        ww = None if w is None else np.repeat(w, y.shape[1])
        v, t = operating_point(kind, y.ravel(), s.ravel(), ww, c)
        return np.array([v]), np.array([t]), v
    pairs = [operating_point(kind, y[:, k], s[:, k], w, c) for k in range(y.shape[1])]
    values = np.array([p[0] for p in pairs])
    thresholds = np.array([p[1] for p in pairs])
    if average == "weighted":
        support = np.array([(y[:, k] * (1.0 if w is None else w)).sum() for k in range(y.shape[1])])
        return values, thresholds, float((values * support).sum() / support.sum())
    return values, thresholds, float(np.mean(values))


# --- calibration error ---------------------------------------------------------------------------
def calibration_error(
    confidence: np.ndarray, correct: np.ndarray, w: np.ndarray | None, n_bins: int, norm: str
) -> float:
    """The definition, bin by bin: bins [j/M, (j+1)/M) and a bin of its own for exactly 1."""
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, np.float64)
    w = np.ones(len(confidence)) if w is None else np.asarray(w, np.float64)
    total = w.sum()
    if total == 0:
        return NAN
    terms = []
    edges = [j / n_bins for j in range(n_bins + 1)]
    for j in range(n_bins + 1):
        if j < n_bins:
            inside = (confidence >= edges[j]) & (confidence < edges[j + 1])
        else:
            inside = confidence == 1.0
        weight = w[inside].sum()
        if weight == 0:
            continue
        accuracy = (w[inside] * correct[inside]).sum() / weight
        mean_confidence = (w[inside] * confidence[inside]).sum() / weight
        terms.append((weight / total, abs(accuracy - mean_confidence)))
    if norm == "l1":
        return sum(b * gap for b, gap in terms)
    if norm == "l2":
        return math.sqrt(sum(b * gap**2 for b, gap in terms))
    return max(gap for _, gap in terms)


# --- top-k predictions ---------------------------------------------------------------------------
def top_k_sets(scores: np.ndarray, k: int) -> np.ndarray:
    """`(n, C)` bool: the k highest scores of each row, ties to the lower class index (the
    order of a stable descending sort; argmax's first maximum for k = 1)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    chosen = np.zeros(scores.shape, bool)
    np.put_along_axis(chosen, order, True, axis=1)
    return chosen
