"""Ranking kernels: what one ranking metric computes, as a small immutable value.

The ranking metrics (`AUROC`, `AveragePrecision`, the operating points) share one shell
(`metrics/_ranking_shell.py`) and two states (binned sums, or a buffer of samples), both read
as groups along ascending scores (`ranking_graph.Groups`). What differs between the metrics is
their `RankingKernel`, chosen once when the metric is made:

- `values(xp, groups)`: each one-vs-rest problem's value from its groups, `(K,)`; with
  `thresholds`, the pair `((K,) values, (K,) thresholds achieving them)`. It runs in
  `keras.ops` inside compiled steps and in NumPy for the binned mode's eager reads;
- `bound(xp, pos, neg)`: `(K,)` bounds on |binned - exact| (the binned mode's
  `error_bound()`);
- `host(columns, average)`: the exact result on the host from validated columns (whole
  arrays in `evaluate_arrays`, or the exact mode's stored samples), as the result's values:
  a scalar, one value per class, or the value(s) followed by the thresholds;
- `thresholds`: whether `values` needs the groups' start scores and gives each problem's
  threshold, which the result then logs (`<name>_threshold`, per class
  `<name>_threshold_<class>`);
- `config`: the metric's own arguments, as its `get_config` returns them.

The shell does the rest: the states, averaging over classes (`ranking_graph.average_values`),
the keys, exact reads. A new ranking metric is a kernel (one function here returning a
`RankingKernel`, its arguments checked through `_args`) and a class with its signature.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from epochmetrics._types import RankingAverage
from epochmetrics.functional import best_threshold as bt
from epochmetrics.functional import operating_points, ranking_graph
from epochmetrics.functional import operating_points_ops as opo
from epochmetrics.functional._args import check_rate
from epochmetrics.functional._host_format import Columns
from epochmetrics.functional._ranking_kernels import reduce_columns
from epochmetrics.functional.ranking_graph import Groups

__all__ = ["RankingKernel", "auroc", "average_precision", "best_fbeta", "operating_point"]


@dataclass(frozen=True)
class RankingKernel:
    """Pure functions from a ranking state to one metric's values (see the module docstring)."""

    values: Callable[[Any, Groups], Any]
    bound: Callable[[Any, Any, Any], Any]
    host: Callable[[Columns, RankingAverage], np.ndarray]
    thresholds: bool = False
    config: tuple[tuple[str, Any], ...] = ()


def auroc(max_fpr: Any = None) -> RankingKernel:
    """ROC-AUC, or with `max_fpr` the standardized partial AUC up to that false positive rate
    (McClish's correction, as scikit-learn's `roc_auc_score(max_fpr=...)`)."""
    if max_fpr is None:
        return RankingKernel(
            values=functools.partial(_of_masses, ranking_graph.auroc_from_counts),
            bound=ranking_graph.auroc_error_bound,
            host=functools.partial(_reduced, "roc_auc"),
            config=(("max_fpr", None),),
        )
    m = check_rate("max_fpr", max_fpr, open_low=True)
    return RankingKernel(
        values=functools.partial(
            _of_masses, functools.partial(opo.roc_auc_max_fpr_from_counts, max_fpr=m)
        ),
        bound=functools.partial(opo.roc_auc_max_fpr_error_bound, max_fpr=m),
        host=functools.partial(_partial_auc, m),
        config=(("max_fpr", m),),
    )


def average_precision() -> RankingKernel:
    """Average precision (the step-wise area under the precision-recall curve)."""
    return RankingKernel(
        values=functools.partial(_of_masses, ranking_graph.average_precision_from_counts),
        bound=ranking_graph.average_precision_error_bound,
        host=functools.partial(_reduced, "average_precision"),
    )


def operating_point(kind: str, constraint: Any) -> RankingKernel:
    """The operating point `kind` (a key of `operating_points_ops.POINTS`) at `constraint`,
    the minimum of the constrained rate (checked under that rate's name, e.g. `recall`)."""
    point = opo.POINTS[kind]
    c = check_rate(point.constraint, constraint)
    return RankingKernel(
        values=functools.partial(_point_values, kind, c),
        bound=functools.partial(_point_bound, kind, c),
        host=functools.partial(_point_host, kind, c),
        thresholds=True,
        config=((point.constraint, c),),
    )


def best_fbeta(beta: Any) -> RankingKernel:
    """The highest F-beta over every decision threshold, and the threshold achieving it."""
    b = bt.check_beta(beta)
    return RankingKernel(
        values=functools.partial(_best_fbeta_values, b),
        bound=functools.partial(_best_fbeta_bound, b),
        host=functools.partial(_best_fbeta_host, b),
        thresholds=True,
        config=(("beta", b),),
    )


# --- the kernels' functions (module level: a metric holding its kernel pickles) --------------
def _of_masses(fn: Callable[..., Any], xp: Any, groups: Groups) -> Any:
    return fn(xp, groups.pos, groups.neg)


def _reduced(kind: str, cols: Columns, average: RankingAverage) -> np.ndarray:
    return np.asarray(reduce_columns(cols, average, kind), dtype=np.float64)


def _partial_auc(max_fpr: float, cols: Columns, average: RankingAverage) -> np.ndarray:
    value = operating_points.partial_auc_columns(cols, average, max_fpr)
    return np.asarray(value, dtype=np.float64)


def _point_values(kind: str, constraint: float, xp: Any, groups: Groups) -> tuple[Any, Any]:
    return opo.operating_point_from_counts(
        xp, kind, groups.pos, groups.neg, groups.thresholds, constraint
    )


def _point_bound(kind: str, constraint: float, xp: Any, pos: Any, neg: Any) -> Any:
    return opo.operating_point_error_bound(xp, kind, pos, neg, constraint)


def _point_host(kind: str, constraint: float, cols: Columns, average: RankingAverage) -> Any:
    value, threshold = operating_points.operating_point_columns(kind, constraint, cols, average)
    return np.concatenate([np.reshape(value, -1), np.reshape(threshold, -1)]).astype(np.float64)


def _best_fbeta_values(beta: float, xp: Any, groups: Groups) -> tuple[Any, Any]:
    return bt.best_fbeta_from_counts(xp, groups.pos, groups.neg, groups.thresholds, beta)


def _best_fbeta_bound(beta: float, xp: Any, pos: Any, neg: Any) -> Any:
    return bt.best_fbeta_error_bound(xp, pos, neg, beta)


def _best_fbeta_host(beta: float, cols: Columns, average: RankingAverage) -> np.ndarray:
    value, threshold = bt.best_fbeta_columns(beta, cols, average)
    return np.concatenate([np.reshape(value, -1), np.reshape(threshold, -1)]).astype(np.float64)
