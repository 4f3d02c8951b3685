"""The shell of the ranking metrics (AUROC, AveragePrecision, the operating points): one of two
states (`_ranking_state`), results from its groups in a compiled step or on the host.

Subclasses say what they compute from the groups (`_values`/`_from_groups`), how the error of
the binned mode is bounded (`_bounds`), and which public host function gives the exact value
(`_host_fn`, `_of_columns`, `_from_host`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import numpy_ops
from epochmetrics._types import PerStep, RankingAverage, Task
from epochmetrics.functional import curves, ranking, ranking_graph
from epochmetrics.functional._args import (
    check_bins_per_octave,
    check_bool,
    check_per_step,
    make_spec,
)
from epochmetrics.functional._layout import Layout
from epochmetrics.functional._ranking_kernels import reduce_columns
from epochmetrics.functional.ranking import check_ranking_average
from epochmetrics.metrics import _sums
from epochmetrics.metrics._base import SumStateMetric, _metric_list
from epochmetrics.metrics._keras_calls import called_by_compiled_metrics, inferring_shapes
from epochmetrics.metrics._ranking_state import BinnedState, BufferState, Groups
from epochmetrics.metrics._sums import Step

__all__ = ["INPUTS", "RankingMetric"]

INPUTS = """Inputs to `update_state(y_true, y_pred, sample_weight=None)`: binary `(B,)` or `(B, 1)`
    labels and probabilities (or logits); multiclass `y_true` as integer labels `(B,)`/`(B, 1)`
    or one-hot `(B, C)` and `y_pred` as `(B, C)` scores; multilabel `(B, L)` for both.
    `sample_weight` has shape `(B,)`. Dense inputs (segmentation) have extra axes between the
    batch and the class axis, `(B, ..., C)`, and count every element as a sample (e.g. every
    pixel of `(B, H, W)` labels); `sample_weight` is then `(B,)` or per element `(B, ...)`."""


class RankingMetric(SumStateMetric):
    """A metric over one of two states: binned sums, or a buffer of samples (exact mode)."""

    _default_name = ""
    _cheaper = (
        "Lower `bins_per_octave` (8: 39 KB per class), or compute it at epoch end with "
        "EpochEvaluator, which is exact and keeps no state."
    )
    _kind: str
    _host: Callable[..., Any]
    _from_counts: Callable[..., Any]
    _bound: Callable[..., Any]

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        average: RankingAverage = "macro",
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        exact: bool = False,
        capacity: int | None = None,
        bins_per_octave: int = 64,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        cls = type(self).__name__
        self.exact = check_bool("exact", exact)
        self.capacity = BufferState.check(cls, capacity, self.exact)
        self.bins_per_octave = check_bins_per_octave(bins_per_octave)
        spec = make_spec(task, num_classes, 0.5, from_logits, ignore_index)
        # The sums exist in both modes (binned: the histograms; exact: dropped and invalid
        # counts); the buffer's own variables are made after them.
        self._binned = BinnedState(spec, self.bins_per_octave)
        super().__init__(
            task,
            num_classes=num_classes,
            from_logits=from_logits,
            ignore_index=ignore_index,
            class_names=class_names,
            name=name or self._default_name,
            dtype=dtype,
        )
        self.average = check_ranking_average(average, self._spec.task)
        self.per_step = check_per_step(per_step)
        self._buffer = BufferState(self, spec, self.capacity) if self.capacity else None

    # --- SumStateMetric hooks ----------------------------------------------------------------
    def _layout(self) -> Layout:
        return BufferState.layout if self.exact else self._binned.layout

    def _step(self) -> Step:
        return self._binned.step  # binned mode: exact mode appends in update_state

    def _state_bytes(self, size: int) -> int:
        if self.capacity is None:
            return 8 * size
        return 8 * size + BufferState.buffer_bytes(self._spec, self.capacity)

    def _result_keys(self) -> tuple[str, ...] | None:
        return self._per_class_keys() if self.average is None and not self._single() else None

    # --- what each metric computes (AUROC and AveragePrecision here; operating points) -------
    _thresholds = False  # whether `_from_groups` needs the groups' thresholds

    def _single(self) -> bool:
        """One problem: binary, or the classes pooled (micro)."""
        return self._binned.k == 1 or self.average == "micro"

    def _values(self, xp: Any, pos: Any, neg: Any) -> Any:
        """`(K, G)` group masses -> `(K,)` values."""
        return type(self)._from_counts(xp, pos, neg)

    def _bounds(self, xp: Any, pos: Any, neg: Any) -> Any:
        """`(K, G)` binned masses -> `(K,)` bounds on |binned - exact|."""
        return type(self)._bound(xp, pos, neg)

    def _from_groups(self, xp: Any, groups: Groups) -> Any:
        """The result's values (a scalar, or one per key) from the state's groups."""
        values = self._values(xp, groups.pos, groups.neg)
        if self._single():
            return values[0]
        return ranking_graph.average_values(xp, values, groups.support, self.average)

    def _host_fn(self) -> Callable[..., Any]:
        """The public host function of this metric, as `ranking.roc_auc`'s signature."""
        return type(self)._host

    def _of_columns(self, cols: ranking.Columns) -> Any:
        """The host function's result on validated columns."""
        return reduce_columns(cols, self.average, self._kind)

    def _from_host(self, result: Any) -> np.ndarray:
        """The host function's result as the result's values."""
        return np.asarray(result, dtype=np.float64)

    # --- SumStateMetric hook -------------------------------------------------------------------
    def _compute(self, state: Any, xp: Any) -> Any:
        if self._buffer is not None and xp is numpy_ops:
            value: Any = self._from_host(self._buffer.host_value(self._host_fn(), self.average))
        else:
            pooled = self.average == "micro" and self._binned.k > 1
            if self._buffer is not None:
                groups = self._buffer.counts(xp, pooled, self._thresholds)
            else:
                groups = self._binned.counts(state, xp, pooled, self._thresholds)
            value = self._from_groups(xp, groups)
        if self._buffer is not None:
            dropped = self._layout().unpack(state)["dropped"][0]
            value = xp.where(dropped > 0, xp.cast(float("nan"), value.dtype), value)
        return value if self._keys_now() is None else self._per_class(value)

    def error_bound(self) -> Any:
        """A bound on |result() - exact value| for the data seen so far (0.0 in exact mode).

        Computed from the bins (see the class docstring), averaged like the result: a float,
        or with `average=None` a dict with the per-class keys of the result.
        """
        if self.exact:
            return 0.0
        pooled = self.average == "micro" and self._binned.k > 1
        groups = self._binned.counts(self._state_total(), numpy_ops, pooled)
        with np.errstate(all="ignore"):
            bounds = self._bounds(numpy_ops, groups.pos, groups.neg)
        if self._single():
            return float(bounds[0])
        value = ranking_graph.average_values(numpy_ops, bounds, groups.support, self.average)
        if self.average is None:
            return dict(zip(self._per_class_keys(), map(float, value), strict=True))
        return float(value)

    # --- curves: counts at uniform thresholds ----------------------------------------------------
    def threshold_counts(self, num_thresholds: int = 101) -> curves.ThresholdCounts:
        """TP, FP, TN and FN per class at `num_thresholds` uniform thresholds on [0, 1].

        The points of the epoch's PR and ROC curves so far, from the state (an eager read):
        exact in exact mode; in binned mode exact where a threshold starts a bin, otherwise
        the counts at the start of the bin holding it, with `tp_error`/`fp_error` bounding the
        difference (see `epochmetrics.functional.curves`). A sample is predicted positive when
        its probability is >= the threshold (logits: when `sigmoid(z)` is).

        Args:
            num_thresholds: how many thresholds, `linspace(0, 1, num_thresholds)` (TensorBoard's
                PR curves use this grid).

        Returns:
            A `ThresholdCounts` with one row per class (binary: one row, the positive class).

        Examples:
            >>> import epochmetrics as em
            >>> m = em.AveragePrecision("binary", exact=True, capacity=8)
            >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
            >>> c = m.threshold_counts(num_thresholds=3)
            >>> c.tp.tolist(), c.fp.tolist()
            ([[2.0, 1.0, 0.0]], [[2.0, 0.0, 0.0]])
        """
        thresholds = curves.uniform_thresholds(num_thresholds)
        labels, logits = self._curve_labels(), self._logit_scores()
        if self._buffer is not None:
            scores, targets, weights = self._buffer.host_columns()
            return curves.counts_from_scores(
                scores, targets, weights, thresholds, labels, logits=logits
            )
        pos, neg, starts = self._binned.histograms(self._state_total())
        return curves.counts_from_bins(pos, neg, starts, thresholds, labels, logits=logits)

    def threshold_counts_arrays(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None, num_thresholds: int = 101
    ) -> curves.ThresholdCounts:
        """`threshold_counts` of whole arrays (host, exact), as `evaluate_arrays` takes them."""
        thresholds = curves.uniform_thresholds(num_thresholds)
        cols = ranking.prepare(self._spec, y_true, y_pred, sample_weight, probabilities=True)
        return curves.counts_from_scores(
            cols.scores,
            cols.targets,
            cols.weights,
            thresholds,
            self._curve_labels(),
            logits=self._logit_scores(),
        )

    def _curve_labels(self) -> tuple[str, ...]:
        labels = self._labels()
        return labels[1:] if self._spec.task == "binary" else labels

    def _logit_scores(self) -> bool:
        """Whether stored and binned scores are logits (multiclass keeps probabilities)."""
        return self._spec.from_logits and self._spec.task != "multiclass"

    # --- exact mode: a buffer, not a sum --------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch (see the class docstring for shapes)."""
        if self._buffer is None or inferring_shapes(y_pred):
            super().update_state(y_true, y_pred, sample_weight)
            return
        scores, labels, weights, keep, invalid = ranking_graph.buffer_rows(
            self._spec, y_true, y_pred, sample_weight, check=not called_by_compiled_metrics()
        )
        self._add_counts(self._buffer.append(scores, labels, weights, keep), invalid)

    def _add_counts(self, dropped: Any, invalid: Any) -> None:
        self._add_sums(BufferState.layout.pack("int32", dropped=dropped, invalid=invalid))

    def _read(self, in_step: bool) -> Any:
        value = super()._read(in_step)
        if self._buffer is not None and _backend.is_concrete(self._hi.value):
            dropped = float(
                self._layout().unpack(_sums.read_total(self._hi, self._lo))["dropped"][0]
            )
            self._buffer.warn_overflow(dropped, f"{type(self).__name__} {self.name!r}")
        return value

    def reset_state(self) -> None:
        super().reset_state()
        if self._buffer is not None:
            self._buffer.reset()

    def merge_state(self, other: Any) -> None:
        """Binned: add `other`'s histograms. Exact: append `other`'s stored samples.

        `other` is a metric of the same class and settings, or a list of them. Appending past
        `capacity` drops samples (the result becomes NaN), as in `update_state`.
        """
        if self._buffer is None:
            super().merge_state(other)
            return
        for metric in _metric_list(other):
            self._check_mergeable(metric)
            scores, labels, weights, stored = metric._buffer.stored()
            dropped = self._buffer.append(scores, labels, weights, stored)
            self._add_counts(dropped, ops.zeros((3,), "int32"))
            self._add_state_of(metric)  # the other's dropped and invalid counts carry over

    def _merge_settings(self) -> dict[str, Any]:
        store = self._buffer if self._buffer is not None else self._binned
        return {**super()._merge_settings(), **store.settings()}

    # --- host --------------------------------------------------------------------------------
    def evaluate_arrays(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """Exact value on whole arrays (host, float64), with the keys `result()` would have.

        Used by `EpochEvaluator`, which gathers the epoch's predictions and calls this instead
        of `update_state`, so it needs no capacity. Undefined classes warn with
        `UndefinedMetricWarning` and give scikit-learn's value.

        Args:
            y_true: The epoch's labels, shaped as for `update_state`.
            y_pred: The epoch's scores, shaped as for `update_state`.
            sample_weight: Optional `(n,)` weights.

        Returns:
            A float, or with `average=None` (multiclass/multilabel) a dict of floats keyed
            `<name>_<class>`.

        Raises:
            ValueError: on invalid shapes, labels or scores.
        """
        cols = ranking.prepare(self._spec, y_true, y_pred, sample_weight, probabilities=True)
        values = self._from_host(self._of_columns(cols))
        keys = self._log_keys(None)
        if keys is None:
            return float(values)
        return dict(zip(keys, map(float, values), strict=True))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["threshold"]  # scores are ranked, never thresholded
        return {
            **config,
            "average": self.average,
            "exact": self.exact,
            "capacity": self.capacity,
            "bins_per_octave": self.bins_per_octave,
            "per_step": self.per_step,
        }
