"""The shell of the ranking metrics (AUROC, AveragePrecision, the operating points): one of two
states (`_ranking_state`), results from its groups in a compiled step or on the host.

What a metric computes is its kernel (`functional.ranking_kernel.RankingKernel`), passed by the
public class's `__init__`; the shell has no hook to override. It averages the kernel's
per-class values, names the keys (with thresholds when the kernel gives them), and reads the
exact mode's stored samples on the host as columns for the kernel's `host` function.
"""

from __future__ import annotations

import warnings
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
from epochmetrics.functional.ranking import UndefinedMetricWarning, check_ranking_average
from epochmetrics.functional.ranking_graph import Groups
from epochmetrics.functional.ranking_kernel import RankingKernel
from epochmetrics.metrics import _sums
from epochmetrics.metrics._base import SumStateMetric, _metric_list
from epochmetrics.metrics._keras_calls import called_by_compiled_metrics, inferring_shapes
from epochmetrics.metrics._ranking_state import BinnedState, BufferState
from epochmetrics.metrics._sums import Step

__all__ = ["RankingMetric", "shell_arguments"]

# The shell's keyword arguments: each public class spells them out in its own signature (with
# its kernel's arguments) and passes them on with `shell_arguments(locals())`.
_SHELL_ARGUMENTS = (
    "num_classes",
    "average",
    "from_logits",
    "ignore_index",
    "class_names",
    "exact",
    "capacity",
    "bins_per_octave",
    "per_step",
    "name",
    "dtype",
)


def shell_arguments(values: dict[str, Any]) -> dict[str, Any]:
    """The shell's keyword arguments among a public `__init__`'s `locals()`."""
    return {key: values[key] for key in _SHELL_ARGUMENTS}


class RankingMetric(SumStateMetric):
    """A metric over one of two states: binned sums, or a buffer of samples (exact mode)."""

    _default_name = ""
    _cheaper = (
        "Lower `bins_per_octave` (8: 39 KB per class), or compute it at epoch end with "
        "EpochEvaluator, which is exact and keeps no state."
    )

    def __init__(
        self,
        task: Task,
        kernel: RankingKernel,
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
        self._kernel = kernel
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
        for key, value in kernel.config:  # the metric's own arguments (`max_fpr`, `recall`)
            setattr(self, key, value)
        if kernel.thresholds and not self.exact:
            self._binned.thresholds  # noqa: B018 (computed eagerly here, cached for steps)

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
        """A scalar, one key per class, or with thresholds: the value(s), then each problem's
        threshold (binary and micro: one; macro and weighted: the average and each class's
        threshold, an average having none)."""
        if not self._kernel.thresholds:
            return None if self._single() or self.average is not None else self._per_class_keys()
        stem = self._key_stem()
        if self._single():
            return (stem, f"{stem}_threshold")
        thresholds = self._per_class_keys(f"{stem}_threshold")
        if self.average is None:
            return (*self._per_class_keys(stem), *thresholds)
        return (stem, *thresholds)

    def _averaged_keys(self) -> tuple[str, ...]:
        keys = self._keys_now() or ()
        if self._single():
            return keys
        return () if self.average is None else keys[:1]

    def _compute(self, state: Any, xp: Any) -> Any:
        if self._buffer is not None and xp is numpy_ops:
            with warnings.catch_warnings():
                # Undefined classes give scikit-learn's value, as the compiled result does.
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                value: Any = self._kernel.host(self._buffer.columns(), self.average)
        else:
            pooled = self.average == "micro" and self._binned.k > 1
            thresholds = self._kernel.thresholds
            if self._buffer is not None:
                groups = self._buffer.counts(xp, pooled, thresholds)
            else:
                groups = self._binned.counts(state, xp, pooled, thresholds)
            value = self._from_groups(xp, groups)
        if self._buffer is not None:
            dropped = self._layout().unpack(state)["dropped"][0]
            value = xp.where(dropped > 0, xp.cast(float("nan"), value.dtype), value)
        return value if self._keys_now() is None else self._per_class(value)

    # --- results -------------------------------------------------------------------------------
    def _single(self) -> bool:
        """One problem: binary, or the classes pooled (micro)."""
        return self._binned.k == 1 or self.average == "micro"

    def _from_groups(self, xp: Any, groups: Groups) -> Any:
        """The result's values (a scalar, or one per key) from the state's groups."""
        out = self._kernel.values(xp, groups)
        values, thresholds = out if self._kernel.thresholds else (out, None)
        if not self._single():
            values = ranking_graph.average_values(xp, values, groups.support, self.average)
        if thresholds is None:
            return values[0] if self._single() else values
        return xp.concatenate([xp.reshape(values, (-1,)), thresholds])

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
            bounds = self._kernel.bound(numpy_ops, groups.pos, groups.neg)
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
            cols = self._buffer.columns()
            return curves.counts_from_scores(
                cols.scores, cols.targets, cols.weights, thresholds, labels, logits=logits
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
        values = self._kernel.host(cols, self.average)
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
            **dict(self._kernel.config),
        }
