"""ROC-AUC and average precision as Keras metrics: binned (default) or exact with a buffer.

Binned mode keeps, per class, a histogram of positive and negative (weighted) mass over bins of
the score's float representation (`functional.ranking_graph.score_bins`): fixed memory, sums, so
it merges and runs under data-parallel strategies like every other metric here. Exact mode keeps
the scores themselves in a fixed buffer of `capacity` rows inside the compiled step. On whole
arrays (`evaluate_arrays`, used by the epoch-end evaluator) both are exact, on the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import numpy_ops
from epochmetrics.functional import ranking, ranking_graph
from epochmetrics.functional._args import Task, check_bool, check_int, make_spec
from epochmetrics.functional._layout import Layout
from epochmetrics.functional._ranking_kernels import reduce_columns
from epochmetrics.functional.ranking import RankingAverage, check_ranking_average
from epochmetrics.metrics import _sums
from epochmetrics.metrics._base import SumStateMetric, _metric_list
from epochmetrics.metrics._keras_calls import called_by_compiled_metrics
from epochmetrics.metrics._public import PER_STEP_ARG, PerStep, check_per_step, own_init
from epochmetrics.metrics._ranking_state import BinnedState, BufferState
from epochmetrics.metrics._sums import Step

__all__ = ["AUROC", "AveragePrecision"]

_register = keras.saving.register_keras_serializable(package="epochmetrics")

DOC = """{summary}

    {formula}

    Multiclass is one-vs-rest on the class probabilities (softmax of logits with
    `from_logits=True`); multilabel treats each label as a binary problem.

    **Binned mode** (default) keeps, per class, the positive and negative (weighted) mass in
    bins of the score's float32 representation: about `bins_per_octave` bins per octave of
    min(p, 1 - p) and of |p - 1/2|, i.e. a logit width of at most 1.2 / bins_per_octave
    (0.018 by default, 0.009 typical) everywhere from |logit| ~ 4e-9 to the float32 limit, so
    scores bunched near 0, 1/2 or 1 are resolved as well as spread ones (uniform thresholds,
    as in `keras.metrics.AUC`, put all of them in one bucket). A bin counts as one tied
    threshold.
    {bound}
    State: `2 * K * bins` sums (K = 1 for binary, else the number of classes), each a float32
    pair; `bins` is 19588 for the default `bins_per_octave=64`, i.e. 313 KB per class. For
    hundreds of classes lower `bins_per_octave` (8: 2452 bins, 39 KB per class) or compute
    the metric at epoch end with the `EpochEvaluator`, which is exact and needs no state.

    **Exact mode** (`exact=True, capacity=N`) stores up to N samples' scores, labels and
    weights in the compiled step and sorts them when the result is read: results equal
    scikit-learn's within float rounding, ties included. Memory is `N * (K + T + 1)` float32
    (T = 1, or the number of labels for multilabel) and every `result()` (Keras reads it every
    step for the progress bar) sorts the buffer. Samples past `capacity` are dropped and
    counted: the result is then NaN, and reading it eagerly warns with the capacity needed;
    it is never a silently wrong value. The buffer is not a sum: `merge_state` appends the
    other metric's samples, and exact mode refuses to run under a data-parallel distribution
    (tf.distribute with several replicas, keras.distribution on several devices), where each
    replica would hold a part of the data.

    Undefined cases follow scikit-learn: ROC-AUC is NaN for a class whose labels are all
    positive or all negative; average precision is 0.0 without positives. Averages carry NaN.
    Invalid labels or scores inside a compiled step make the result NaN (eagerly they raise).

    {inputs}

    Args:
        task: "binary", "multiclass" or "multilabel". Required: never guessed from shapes.
        num_classes: Number of classes (multiclass) or labels (multilabel). Unused for binary.
        average: "macro" (mean over classes; multilabel macro AP is mAP), "weighted" (by
            positive support), "micro" (all class/sample pairs pooled) or None (one scalar
            log key per class, `<name>_<class>`). Ignored for binary.
        from_logits: Whether `y_pred` holds logits (sigmoid for binary/multilabel, softmax
            for multiclass) rather than probabilities.
        ignore_index: Label value whose samples (multilabel: elements) are skipped.
        class_names: Names used in per-class log keys instead of class indices.
        exact: Keep the scores in a buffer and compute the exact value (needs `capacity`).
        capacity: Buffer size in samples for `exact=True`: at least the samples per epoch.
        bins_per_octave: Binned-mode resolution, a power of two from 1 to 1024.
        {per_step}
        name: Base name of the log keys.
        dtype: Keras dtype policy of the metric (the state is always float32).

    Returns:
        `result()` gives a scalar, or with `average=None` a dict `{{"{name}_<class>": scalar}}`.
        `evaluate_arrays(y_true, y_pred, sample_weight=None)` gives the exact value on whole
        arrays as a float, or a dict of floats with the same keys.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label and score values.

    Examples:
{examples}
"""

INPUTS = """Inputs to `update_state(y_true, y_pred, sample_weight=None)`: binary `(B,)` or `(B, 1)`
    labels and probabilities (or logits); multiclass `y_true` as integer labels `(B,)`/`(B, 1)`
    or one-hot `(B, C)` and `y_pred` as `(B, C)` scores; multilabel `(B, L)` for both.
    `sample_weight` has shape `(B,)`."""


class _Ranking(SumStateMetric):
    """Shared shell of AUROC and AveragePrecision: a metric over one of two states."""

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
        self.bins_per_octave = _check_bins(bins_per_octave)
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
        return self._per_class_keys() if self.average is None and self._binned.k > 1 else None

    def _compute(self, state: Any, xp: Any) -> Any:
        pooled = self.average == "micro" and self._binned.k > 1
        if self._buffer is not None and xp is numpy_ops:
            value: Any = self._buffer.host_value(type(self)._host, self.average)
        else:
            if self._buffer is not None:
                pos, neg, support = self._buffer.counts(xp, pooled)
            else:
                pos, neg, support = self._binned.counts(state, xp, pooled)
            values = type(self)._from_counts(xp, pos, neg)
            if self._binned.k == 1 or pooled:
                value = values[0]
            else:
                value = ranking_graph.average_values(xp, values, support, self.average)
        if self._buffer is not None:
            dropped = self._layout().unpack(state)["dropped"][0]
            value = xp.where(dropped > 0, xp.cast(float("nan"), value.dtype), value)
        if self.average is None and self._binned.k > 1:
            return self._per_class(value)
        return value

    def error_bound(self) -> Any:
        """A bound on |result() - exact value| for the data seen so far (0.0 in exact mode).

        Computed from the bins (see the class docstring), averaged like the result: a float,
        or with `average=None` a dict with the result's keys.
        """
        if self.exact:
            return 0.0
        pooled = self.average == "micro" and self._binned.k > 1
        state = self._state_total()
        pos, neg, support = self._binned.counts(state, numpy_ops, pooled)
        with np.errstate(all="ignore"):
            bounds = type(self)._bound(numpy_ops, pos, neg)
        if self._binned.k == 1 or pooled:
            return float(bounds[0])
        value = ranking_graph.average_values(numpy_ops, bounds, support, self.average)
        if self.average is None:
            return dict(zip(self._per_class_keys(), map(float, value), strict=True))
        return float(value)

    # --- exact mode: a buffer, not a sum --------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch (see the class docstring for shapes)."""
        if self._buffer is None or _backend.is_shape_only(y_pred):
            super().update_state(y_true, y_pred, sample_weight)
            return
        scores, labels, weights, keep, invalid = ranking_graph.buffer_rows(
            self._spec, y_true, y_pred, sample_weight, check=not called_by_compiled_metrics()
        )
        self._add_counts(self._buffer.append(scores, labels, weights, keep), invalid)

    def _add_counts(self, dropped: Any, invalid: Any) -> None:
        self._add_sums(BufferState.layout.pack("int32", dropped=dropped, invalid=invalid))

    def result(self) -> Any:
        value = super().result()
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
        spec = self._spec
        cols = ranking.prepare(spec, y_true, y_pred, sample_weight, probabilities=True)
        value = reduce_columns(cols, self.average, self._kind)
        if isinstance(value, np.ndarray):
            return {
                f"{self.name}_{label}": float(v)
                for label, v in zip(self._labels(), value, strict=True)
            }
        return float(value)

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


def _check_bins(bins_per_octave: Any) -> int:
    what = "a power of two from 1 to 1024"
    value = check_int("bins_per_octave", bins_per_octave, minimum=1, maximum=1024, what=what)
    if value & (value - 1):
        raise ValueError(f"`bins_per_octave` must be {what}. Received: bins_per_octave={value!r}.")
    return value


def _doc(summary: str, formula: str, bound: str, examples: str) -> Callable[[type], type]:
    def wrap(cls: type) -> type:
        own_init(cls)
        cls.__doc__ = DOC.format(
            summary=summary,
            formula=formula,
            bound=bound,
            inputs=INPUTS,
            name=cls._default_name,  # type: ignore[attr-defined]
            per_step=PER_STEP_ARG,
            examples=examples,
        )
        return cls

    return wrap


@_register
@_doc(
    "Area under the ROC curve over the whole epoch, as scikit-learn's `roc_auc_score`.",
    "AUC = P(score of a positive > score of a negative) + P(tie) / 2, with sample weights.",
    """Error bound: only a positive and a negative in the same bin can be misordered, and
    they count 1/2, so |AUC_binned - AUC_exact| <= sum_b P_b N_b / (2 P N), half the share
    of positive/negative pairs that share a bin. In practice it is ~1e-5 (tests: <= 1e-4 on
    20,000 tied scores, <= 1e-3 on scores bunched near 0 where Keras' AUC is 0.16 off), and
    0 when every distinct score has its own bin (e.g. scores rounded to 2 decimals).""",
    """        >>> import epochmetrics as em
        >>> m = em.AUROC("binary")
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> float(m.result())
        0.75
        >>> m = em.AUROC("multiclass", num_classes=3, exact=True, capacity=100)
        >>> m.update_state([0, 1, 2, 2], [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7],
        ...                               [0.3, 0.3, 0.4]])
        >>> float(m.result())
        1.0""",
)
class AUROC(_Ranking):
    _default_name = "auroc"
    _kind = "roc_auc"
    _host = staticmethod(ranking.roc_auc)
    _from_counts = staticmethod(ranking_graph.auroc_from_counts)
    _bound = staticmethod(ranking_graph.auroc_error_bound)


@_register
@_doc(
    "Average precision over the whole epoch, as scikit-learn's `average_precision_score`.",
    "AP = sum_n (R_n - R_{n-1}) P_n over thresholds n (no interpolation); macro over labels = mAP.",
    """Error: positives and negatives sharing a bin count as tied, which biases AP low on
    continuous scores by about the precision change across one bin: 2e-4 to 7e-4 at the
    default resolution on smooth data, halving with each doubling of `bins_per_octave`, and 0
    when every distinct score has its own bin. Bound (`error_bound()`): a positive in bin b
    has precision (A + x) / (A + B + x + y), A and B the mass above the bin, x <= P_b and
    y <= N_b the bin's mass at or above it, so the binned value (x = P_b, y = N_b) is off by
    at most min(1, (P_b + N_b) / (A + B)) for it: |error| <= sum_b (P_b / P) min(1, (P_b +
    N_b) / M_b), M_b the mass above bin b.""",
    """        >>> import epochmetrics as em
        >>> m = em.AveragePrecision("binary")
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> round(float(m.result()), 4)
        0.8333
        >>> m = em.AveragePrecision(
        ...     "multilabel", num_classes=2, average=None, class_names=["cat", "dog"]
        ... )
        >>> m.update_state([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.1, 0.8], [0.6, 0.7]])
        >>> {k: float(v) for k, v in m.result().items()}
        {'average_precision_cat': 1.0, 'average_precision_dog': 1.0}""",
)
class AveragePrecision(_Ranking):
    _default_name = "average_precision"
    _kind = "average_precision"
    _host = staticmethod(ranking.average_precision)
    _from_counts = staticmethod(ranking_graph.average_precision_from_counts)
    _bound = staticmethod(ranking_graph.average_precision_error_bound)
