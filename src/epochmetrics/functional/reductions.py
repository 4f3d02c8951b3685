"""Counts -> results as scikit-learn defines them, in any array namespace `xp`.

`xp` is `keras.ops` (inside compiled steps) or `epochmetrics._xp.numpy_ops` (eager reads, on
the host); every function takes it explicitly and uses nothing else.

Conventions (those of scikit-learn's `precision_recall_fscore_support` and friends):

- A ratio whose denominator is 0 takes the value `zero_division`; no epsilon anywhere.
- `average="macro"` for binary/multiclass averages over the classes present in y_true or
  y_pred during the epoch (scikit-learn's default `labels=None`); multilabel averages over all
  labels. NaN per-class values (`zero_division=nan`) are left out of the average.
- `average="weighted"` weighs classes by support; when no class has support it falls back to the
  unweighted mean, as scikit-learn does.
- `average="micro"` divides the summed counts.

Per-class results (`average=None`) cover every class, present or not. Counts may carry leading
axes (`(..., C)`: a stack of states, such as the bootstrap's replicates); every reduction is
over the last axis, so a stack gives the stack of results.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from epochmetrics._backend.xp import divide
from epochmetrics._types import Average, KappaWeights, Normalize
from epochmetrics.functional._args import TaskSpec
from epochmetrics.functional.stat_scores import (
    Counts,
    confusion_matrix_layout,
    unpack_stat_scores,
)

__all__ = [
    "Ratio",
    "accuracy",
    "balanced_accuracy",
    "cohen_kappa",
    "confusion_matrix",
    "f_beta_score",
    "jaccard_index",
    "matthews_corrcoef",
    "precision",
    "ratios",
    "recall",
    "specificity",
]

NAN = float("nan")


def _average(
    xp: Any, spec: TaskSpec, values: Any, micro: Any, counts: Counts, average: Average
) -> Any:
    """Average per-class `values` (..., C) over the last axis; `micro` (...) is used as is."""
    if average is None:
        return values
    if average == "binary":
        return values[..., 1]
    if average == "micro":
        return micro
    if spec.task == "multilabel":
        present = xp.ones_like(counts.support, dtype="bool")
    else:
        present = (counts.support + counts.predicted) > 0
    mask = xp.logical_and(present, xp.logical_not(xp.isnan(values)))
    zeros = xp.zeros_like(values)
    kept = xp.where(mask, values, zeros)
    unweighted = divide(
        xp, xp.sum(kept, axis=-1), xp.sum(xp.cast(mask, values.dtype), axis=-1), NAN
    )
    if average == "macro":
        return unweighted
    weights = xp.where(mask, counts.support, zeros)
    total = xp.sum(weights, axis=-1)
    return xp.where(total > 0, divide(xp, xp.sum(kept * weights, axis=-1), total, NAN), unweighted)


Ratio = Literal["precision", "recall", "f1", "fbeta", "specificity", "jaccard"]


def _ratio_terms(kind: str, counts: Counts, beta: float) -> tuple[Any, Any]:
    """Per-class (numerator, denominator) of a ratio; its micro value divides their sums."""
    tp, pred, true = counts.tp, counts.predicted, counts.support
    if kind == "precision":
        return tp, pred
    if kind == "recall" or (kind in ("f1", "fbeta") and math.isinf(beta)):
        return tp, true
    if kind in ("f1", "fbeta"):
        # As scikit-learn >= 1.3: (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), from counts.
        b2 = 1.0 if kind == "f1" else beta * beta
        return (1.0 + b2) * tp, b2 * true + pred
    if kind == "specificity":
        return counts.tn, counts.tn + pred - tp  # tn / (tn + fp)
    if kind == "jaccard":
        return tp, true + pred - tp  # tp / (tp + fp + fn)
    raise ValueError(f"unknown ratio {kind!r}")


def ratios(
    xp: Any,
    spec: TaskSpec,
    counts: Counts,
    kinds: list[str],
    averages: list[Average],
    *,
    zero_division: float = 0.0,
    beta: float = 1.0,
) -> tuple[Any, list[Any]]:
    """Several ratios at once: ((M, C) per-class values, [one (M,) or (M, C) per average]).

    One stacked division for all M ratios, one average per entry of `averages`; `(None, [])`
    when `kinds` is empty.
    """
    if not kinds:
        return None, []
    terms = [_ratio_terms(kind, counts, beta) for kind in kinds]
    num, den = xp.stack([t[0] for t in terms]), xp.stack([t[1] for t in terms])
    values = divide(xp, num, den, zero_division)
    micro = (
        divide(xp, xp.sum(num, axis=-1), xp.sum(den, axis=-1), zero_division)
        if "micro" in averages
        else None
    )
    return values, [_average(xp, spec, values, micro, counts, avg) for avg in averages]


def _one(
    xp: Any,
    kind: str,
    spec: TaskSpec,
    counts: Counts,
    average: Average,
    zero_division: float,
    beta: float = 1.0,
) -> Any:
    return ratios(xp, spec, counts, [kind], [average], zero_division=zero_division, beta=beta)[1][
        0
    ][0]


def precision(
    xp: Any, spec: TaskSpec, counts: Counts, *, average: Average, zero_division: float = 0.0
) -> Any:
    """tp / (tp + fp)."""
    return _one(xp, "precision", spec, counts, average, zero_division)


def recall(
    xp: Any, spec: TaskSpec, counts: Counts, *, average: Average, zero_division: float = 0.0
) -> Any:
    """tp / (tp + fn)."""
    return _one(xp, "recall", spec, counts, average, zero_division)


def f_beta_score(
    xp: Any,
    spec: TaskSpec,
    counts: Counts,
    *,
    beta: float = 1.0,
    average: Average,
    zero_division: float = 0.0,
) -> Any:
    """(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), from counts, as scikit-learn >= 1.3."""
    return _one(xp, "fbeta", spec, counts, average, zero_division, beta)


def specificity(
    xp: Any, spec: TaskSpec, counts: Counts, *, average: Average, zero_division: float = 0.0
) -> Any:
    """tn / (tn + fp), the recall of the negatives of each class."""
    return _one(xp, "specificity", spec, counts, average, zero_division)


def jaccard_index(
    xp: Any, spec: TaskSpec, counts: Counts, *, average: Average, zero_division: float = 0.0
) -> Any:
    """tp / (tp + fp + fn), scikit-learn's `jaccard_score`."""
    return _one(xp, "jaccard", spec, counts, average, zero_division)


def accuracy(xp: Any, spec: TaskSpec, counts: Counts) -> Any:
    """Fraction of samples predicted right; multilabel: every label right (subset accuracy)."""
    if spec.task == "multilabel":
        return divide(xp, counts.exact, counts.samples, NAN)
    return divide(xp, xp.sum(counts.tp, axis=-1), xp.sum(counts.support, axis=-1), NAN)


def balanced_accuracy(xp: Any, spec: TaskSpec, counts: Counts) -> Any:
    """Mean recall over the classes that occur in y_true."""
    present = counts.support > 0
    recalls = divide(xp, counts.tp, counts.support, 0.0)
    n = xp.sum(xp.cast(present, recalls.dtype), axis=-1)
    kept = xp.where(present, recalls, xp.zeros_like(recalls))
    return divide(xp, xp.sum(kept, axis=-1), n, NAN)


def _fractions(xp: Any, counts: Counts) -> tuple[Any, Any, Any]:
    """(t / T, p / P, T): class shares of y_true and y_pred, each over its own total."""
    big_t = xp.sum(counts.support, axis=-1, keepdims=True)
    big_p = xp.sum(counts.predicted, axis=-1, keepdims=True)
    t, p = divide(xp, counts.support, big_t, 0.0), divide(xp, counts.predicted, big_p, 0.0)
    return t, p, big_t[..., 0]


def _one_class(xp: Any, x: Any) -> Any:
    """True when a single class holds all of `x` (or `x` is empty).

    Decided on the counts, not on a float difference: `1 - sum(share^2)` of a one-class side is
    0 in exact arithmetic but not reliably in floating point (XLA turns `x / T` into
    `x * (1 / T)`).
    """
    return xp.max(x, axis=-1) >= xp.sum(x, axis=-1)


def matthews_corrcoef(xp: Any, spec: TaskSpec, counts: Counts) -> Any:
    """Multiclass MCC from O(C) counts, as scikit-learn computes it; 0 when undefined (one
    class holds all of y_true or of y_pred).

    With s samples, c of them right, t_k true and p_k predicted of class k:
    (c s - t . p) / sqrt((s^2 - p . p)(s^2 - t . t)). Products of counts are exact in float64
    up to 2**26 per class, so rare events keep their sign and digits (ratios of counts would
    cancel: an MCC of -1.4e-5 lost 7 digits).
    """
    s, c = xp.sum(counts.support, axis=-1), xp.sum(counts.tp, axis=-1)
    cov_tp = c * s - xp.sum(counts.support * counts.predicted, axis=-1)
    den = (s * s - xp.sum(counts.predicted * counts.predicted, axis=-1)) * (
        s * s - xp.sum(counts.support * counts.support, axis=-1)
    )
    ok = xp.logical_not(
        xp.logical_or(_one_class(xp, counts.support), _one_class(xp, counts.predicted))
    )
    ok = xp.logical_and(ok, den > 0)
    return xp.where(ok, cov_tp / xp.sqrt(xp.where(ok, den, xp.ones_like(den))), xp.zeros_like(den))


def cohen_kappa(xp: Any, spec: TaskSpec, counts: Counts, *, weights: KappaWeights = None) -> Any:
    """Cohen's kappa, 1 - observed / expected disagreement; NaN when undefined, as scikit-learn.

    Undefined when the expected disagreement is 0: y_true and y_pred all of one same class.
    The expected disagreement of the weighted forms comes from the class totals alone, so the
    state stays O(C): with t, p the class shares of y_true and y_pred,
    sum_ij w(i, j) t_i p_j, where w is 1[i != j], |i - j| or (i - j)^2.
    """
    t, p, total = _fractions(xp, counts)
    if weights is None:
        observed = 1.0 - divide(xp, xp.sum(counts.tp, axis=-1), total, 0.0)
        expected = 1.0 - xp.sum(t * p, axis=-1)
    else:
        k = xp.cast(xp.arange(spec.num_classes), t.dtype)
        if weights == "quadratic":
            observed = divide(xp, counts.sq_err, total, 0.0)
            expected = (
                xp.sum(t * k * k, axis=-1)
                + xp.sum(p * k * k, axis=-1)
                - 2.0 * xp.sum(t * k, axis=-1) * xp.sum(p * k, axis=-1)
            )
        else:
            observed = divide(xp, counts.abs_err, total, 0.0)
            # sum_j |i - j| p_j for every i, with prefix sums: O(C).
            cp, ckp = xp.cumsum(p, axis=-1), xp.cumsum(k * p, axis=-1)
            dist = (
                2.0 * (k * cp - ckp)
                + xp.sum(k * p, axis=-1, keepdims=True)
                - k * xp.sum(p, axis=-1, keepdims=True)
            )
            expected = xp.sum(t * dist, axis=-1)
    same = xp.logical_and(_one_class(xp, counts.support), _one_class(xp, counts.predicted))
    same = xp.logical_and(
        same, xp.argmax(counts.support, axis=-1) == xp.argmax(counts.predicted, axis=-1)
    )
    undefined = xp.logical_or(same, total <= 0)
    return xp.where(undefined, xp.cast(NAN, t.dtype), 1.0 - divide(xp, observed, expected, NAN))


def confusion_matrix(xp: Any, spec: TaskSpec, state: Any, *, normalize: Normalize = None) -> Any:
    """(C, C) matrix, rows = true class, from the flattened state; normalised as scikit-learn.

    Multilabel: (L, 2, 2) matrices `[[tn, fp], [fn, tp]]`, as `multilabel_confusion_matrix`.
    """
    c = spec.num_classes
    if spec.task == "multilabel":
        tp, pred, true, tn = unpack_stat_scores(xp, spec, state)[:4]
        fp, fn = pred - tp, true - tp
        cm = xp.reshape(xp.stack([tn, fp, fn, tp], axis=-1), (c, 2, 2))
        axes = {"true": -1, "pred": -2, "all": (-2, -1)}
    else:
        cm = xp.reshape(confusion_matrix_layout(spec).unpack(state)["matrix"], (c, c))
        axes = {"true": 1, "pred": 0, "all": (0, 1)}
    if normalize is None:
        return cm
    # scikit-learn turns the 0/0 of an empty row or column into 0.
    return divide(xp, cm, xp.sum(cm, axis=axes[normalize], keepdims=True), 0.0)
