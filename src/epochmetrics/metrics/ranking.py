"""ROC-AUC and average precision as Keras metrics: binned (default) or exact with a buffer.

Binned mode keeps, per class, a histogram of positive and negative (weighted) mass over bins of
the score's float representation (`functional.ranking_graph.score_bins`): fixed memory, sums, so
it merges and runs under data-parallel strategies like every other metric here. Exact mode keeps
the scores themselves in a fixed buffer of `capacity` rows inside the compiled step. On whole
arrays (`evaluate_arrays`, used by the epoch-end evaluator) both are exact, on the host.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import numpy_ops
from epochmetrics.functional import ranking, ranking_graph
from epochmetrics.functional._format import INVALID_KINDS, Task
from epochmetrics.functional.ranking import RankingAverage, check_ranking_average
from epochmetrics.metrics import _sums
from epochmetrics.metrics._base import (
    PER_STEP_ARG,
    PerStep,
    SumStateMetric,
    _metric_list,
    check_per_step,
    own_init,
)

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
    """Shared shell of AUROC and AveragePrecision."""

    _default_name = ""
    _cheaper = (
        "Lower `bins_per_octave` (8: 39 KB per class), or compute it at epoch end with "
        "EpochEvaluator, which is exact and keeps no state."
    )
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
        if not isinstance(exact, (bool, np.bool_)):
            raise ValueError(f"`exact` must be True or False. Received: exact={exact!r}.")
        self.exact = bool(exact)
        self.capacity = _check_capacity(cls, capacity, self.exact)
        self.bins_per_octave = _check_bins(bins_per_octave)
        self._num_bins = ranking_graph.bin_count(self.bins_per_octave)
        self._warned_dropped = 0.0
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
        if self.exact:
            _check_not_distributed(cls)
            assert self.capacity is not None
            rows, t = self.capacity + 1, self._spec.num_classes if self.task == "multilabel" else 1
            # Row `capacity` is scratch: samples that do not fit are written there and ignored.
            self._buf_scores = self.add_variable(
                shape=(rows, self._k), initializer="zeros", dtype="float32", name="scores"
            )
            self._buf_labels = self.add_variable(
                shape=(rows, t), initializer="zeros", dtype="float32", name="labels"
            )
            self._buf_weights = self.add_variable(
                shape=(rows,), initializer="zeros", dtype="float32", name="weights"
            )
            self._buf_count = self.add_variable(
                shape=(), initializer="zeros", dtype="int32", name="count"
            )

    # --- SumStateMetric hooks ----------------------------------------------------------------
    def _state_bytes(self, size: int) -> int:
        if not self.exact:
            return 8 * size
        assert self.capacity is not None
        labels = self._spec.num_classes if self._spec.task == "multilabel" else 1
        return 8 * size + 4 * (self.capacity + 1) * (self._k + labels + 1)

    @property
    def _k(self) -> int:
        return ranking_graph.num_columns(self._spec)

    def _state_size(self) -> int:
        # Exact: [dropped samples | invalid (3)]; binned: [neg hist | pos hist | invalid (3)].
        return (1 if self.exact else 2 * self._k * self._num_bins) + len(INVALID_KINDS)

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> Any:
        x = ranking_graph.ranking_inputs(self._spec, y_true, y_pred, sample_weight)
        pos_w, neg_w = ranking_graph.split_targets(self._spec, x.labels, x.sample_weight)
        logits = self._spec.from_logits and self.task != "multiclass"
        bins = ranking_graph.score_bins(
            x.scores, logits=logits, bins_per_octave=self.bins_per_octave
        )
        hist = ranking_graph.histogram(bins, pos_w, neg_w, self._num_bins, self._k)
        return ops.concatenate([hist, ops.cast(x.invalid, hist.dtype)])

    def _result_keys(self) -> tuple[str, ...] | None:
        return self._per_class_keys() if self.average is None and self._k > 1 else None

    def _compute(self, state: Any, xp: Any) -> Any:
        if self.exact and xp is numpy_ops:
            value: Any = self._exact_on_host()
        else:
            if self.exact:
                pos, neg, support = self._exact_counts()
            else:
                size = self._k * self._num_bins
                neg = xp.reshape(state[:size], (self._k, self._num_bins))
                pos = xp.reshape(state[size : 2 * size], (self._k, self._num_bins))
                support = xp.sum(pos, axis=-1)
                if self.average == "micro" and self._k > 1:
                    # Bins are the same for every class, so pooling is a sum of histograms.
                    pos = xp.sum(pos, axis=0, keepdims=True)
                    neg = xp.sum(neg, axis=0, keepdims=True)
            values = type(self)._from_counts(xp, pos, neg)
            if self._k == 1 or self.average == "micro":
                value = values[0]
            else:
                value = ranking_graph.average_values(xp, values, support, self.average)
        if self.exact:
            value = xp.where(state[0] > 0, xp.cast(float("nan"), value.dtype), value)
        if self.average is None and self._k > 1:
            return self._per_class(value)
        return value

    def error_bound(self) -> Any:
        """A bound on |result() - exact value| for the data seen so far (0.0 in exact mode).

        Computed from the bins (see the class docstring), averaged like the result: a float,
        or with `average=None` a dict with the result's keys.
        """
        if self.exact:
            return 0.0
        state = _sums.host_total([*_backend.read_parts(self._hi), *_backend.read_parts(self._lo)])
        size = self._k * self._num_bins
        neg = state[:size].reshape(self._k, self._num_bins)
        pos = state[size : 2 * size].reshape(self._k, self._num_bins)
        support = pos.sum(axis=-1)
        if self.average == "micro" and self._k > 1:
            pos, neg = pos.sum(axis=0, keepdims=True), neg.sum(axis=0, keepdims=True)
        with np.errstate(all="ignore"):
            bounds = type(self)._bound(numpy_ops, pos, neg)
        if self._k == 1 or self.average == "micro":
            return float(bounds[0])
        value = ranking_graph.average_values(numpy_ops, bounds, support, self.average)
        if self.average is None:
            return dict(zip(self._per_class_keys(), map(float, value), strict=True))
        return float(value)

    def _exact_on_host(self) -> Any:
        """Exact mode, eager read: the stored samples through the host (NumPy) functions."""
        count = int(_backend.to_host(self._buf_count.value))
        scores = _backend.to_host(self._buf_scores.value)[:count]
        labels = _backend.to_host(self._buf_labels.value)[:count]
        weights = _backend.to_host(self._buf_weights.value)[:count]
        spec = self._spec
        if spec.task == "binary":
            labels, scores = labels[:, 0], scores[:, 0]
        elif spec.task == "multiclass":
            labels = labels[:, 0]  # stored scores are probabilities (softmax of logits)
        with warnings.catch_warnings():
            # Undefined classes give scikit-learn's value, as the compiled result does.
            warnings.simplefilter("ignore", ranking.UndefinedMetricWarning)
            value = type(self)._host(
                labels,
                scores,
                task=spec.task,
                num_classes=None if spec.task == "binary" else spec.num_classes,
                average=self.average,
                sample_weight=weights,
                from_logits=spec.from_logits and spec.task != "multiclass",
                ignore_index=-1,  # elements stored but not counted (multilabel ignore_index)
            )
        return np.asarray(value, dtype=np.float64)

    # --- exact mode ----------------------------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch (see the class docstring for shapes)."""
        if not self.exact:
            super().update_state(y_true, y_pred, sample_weight)
            return
        x = ranking_graph.ranking_inputs(self._spec, y_true, y_pred, sample_weight)
        # Store only rows that can count: saves capacity for ignored and zero-weight samples.
        keep = ops.logical_and(
            ops.any(x.labels >= 0.0, axis=-1), ops.not_equal(x.sample_weight, 0.0)
        )
        self._append(x.scores, x.labels, x.sample_weight, keep, x.invalid)

    def result(self) -> Any:
        value = super().result()
        if self.exact:
            self._warn_overflow()
        return value

    def _append(self, scores: Any, labels: Any, weights: Any, keep: Any, invalid: Any) -> None:
        cap = self.capacity
        assert cap is not None
        count = _read(self._buf_count)
        k = ops.cast(keep, "int32")
        position = count + ops.cumsum(k) - k
        index = ops.expand_dims(ops.where(ops.logical_and(keep, position < cap), position, cap), -1)
        self._buf_scores.assign(
            ops.scatter_update(_read(self._buf_scores), index, ops.cast(scores, "float32"))
        )
        self._buf_labels.assign(
            ops.scatter_update(_read(self._buf_labels), index, ops.cast(labels, "float32"))
        )
        self._buf_weights.assign(
            ops.scatter_update(_read(self._buf_weights), index, ops.cast(weights, "float32"))
        )
        total = count + ops.sum(k)
        self._buf_count.assign(ops.minimum(total, cap))
        dropped = ops.cast(ops.maximum(total - cap, 0), "int32")
        extra = ops.concatenate([ops.reshape(dropped, (1,)), ops.cast(invalid, "int32")])
        hi, lo = _sums.add(self._hi.value, self._lo.value, extra)
        self._hi.assign(hi)
        self._lo.assign(lo)

    def _exact_counts(self) -> tuple[Any, Any, Any]:
        """Exact mode inside a compiled step: group masses of the stored scores."""
        assert self.capacity is not None
        dtype = _backend.wide_float()
        count = _read(self._buf_count)
        stored = ops.cast(ops.arange(self.capacity + 1) < count, dtype)
        weights = ops.cast(_read(self._buf_weights), dtype) * stored
        scores = _read(self._buf_scores)
        labels = _read(self._buf_labels)
        pos_w, neg_w = ranking_graph.split_targets(self._spec, labels, weights)
        support = ops.sum(pos_w, axis=0)
        if self.average == "micro" and self._k > 1:
            scores, pos_w, neg_w = (ops.reshape(a, (-1, 1)) for a in (scores, pos_w, neg_w))
        pos, neg = ranking_graph.group_counts(scores, pos_w, neg_w, dtype)
        return pos, neg, support

    def _warn_overflow(self) -> None:
        """Eagerly: say that samples were dropped and what capacity is needed.

        Keras reads results every batch on some backends; warning again only when the number
        dropped has doubled keeps that to a few warnings, the last within 2x of the need.
        """
        if not _backend.is_concrete(self._hi.value):
            return
        n = float(_sums.host_total([self._hi.value, self._lo.value])[0])
        if n > 0 and n >= 2 * self._warned_dropped:
            self._warned_dropped = n
            needed = int(self.capacity or 0) + int(n)
            warnings.warn(
                f"{type(self).__name__} {self.name!r} (exact=True) received more samples than "
                f"capacity={self.capacity}: {int(n)} dropped so far, so the result is NaN. Set "
                f"capacity to at least the number of samples per epoch (>= {needed}), or use "
                "the binned mode (exact=False).",
                RuntimeWarning,
                stacklevel=3,
            )

    def reset_state(self) -> None:
        super().reset_state()
        self._warned_dropped = 0.0
        if self.exact:
            for v in (self._buf_scores, self._buf_labels, self._buf_weights, self._buf_count):
                v.assign(ops.zeros_like(v.value))

    def merge_state(self, other: Any) -> None:
        """Binned: add `other`'s histograms. Exact: append `other`'s stored samples.

        `other` is a metric of the same class and settings, or a list of them. Appending past
        `capacity` drops samples (the result becomes NaN), as in `update_state`.
        """
        if not self.exact:
            super().merge_state(other)
            return
        for metric in _metric_list(other):
            self._check_mergeable(metric)
            assert metric.capacity is not None
            stored = ops.arange(metric.capacity + 1) < _read(metric._buf_count)
            self._append(
                _read(metric._buf_scores),
                _read(metric._buf_labels),
                _read(metric._buf_weights),
                stored,
                ops.zeros((len(INVALID_KINDS),), "int32"),
            )
            self._add_state_of(metric)  # the other's dropped and invalid counts carry over

    def _merge_settings(self) -> dict[str, Any]:
        settings = {**super()._merge_settings(), "exact": self.exact}
        if not self.exact:
            settings["bins_per_octave"] = self.bins_per_octave
        return settings

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
        scores = ranking._to_numpy(y_pred)
        if scores.dtype.kind == "f" and not spec.from_logits:
            bad = ~((scores >= 0) & (scores <= 1))
            if bad.any():
                shown = ", ".join(str(v) for v in np.unique(scores[bad])[:5])
                raise ValueError(
                    f"task={spec.task!r} expects y_pred values to be probabilities in [0, 1]. "
                    f"Received {int(bad.sum())} invalid value(s): {shown}. If y_pred holds logits, "
                    "pass from_logits=True."
                )
        value = type(self)._host(
            y_true,
            scores,
            task=spec.task,
            num_classes=None if spec.task == "binary" else spec.num_classes,
            average=self.average,
            sample_weight=sample_weight,
            from_logits=spec.from_logits,
            ignore_index=spec.ignore_index,
        )
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


def _read(variable: Any) -> Any:
    """A variable's current value as a tensor (TensorFlow ops such as take_along_axis need one)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.convert_to_tensor(variable.value)
    return ops.convert_to_tensor(variable.value)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_capacity(cls: str, capacity: Any, exact: bool) -> int | None:
    if not exact:
        if capacity is not None:
            raise ValueError(
                f"{cls}: `capacity` is the buffer size of exact mode; pass exact=True with it, or "
                f"leave it unset for the binned mode. Received: capacity={capacity!r}, exact=False."
            )
        return None
    if not _is_int(capacity) or capacity < 1 or capacity >= 2**31 - 1:
        raise ValueError(
            f"{cls}(exact=True) needs `capacity`, the number of samples to keep per epoch: an "
            f"integer from 1 to 2**31 - 2. Received: capacity={capacity!r}."
        )
    return int(capacity)


def _check_bins(bins_per_octave: Any) -> int:
    ok = _is_int(bins_per_octave) and 1 <= bins_per_octave <= 1024
    if not ok or bins_per_octave & (bins_per_octave - 1):
        raise ValueError(
            "`bins_per_octave` must be a power of two from 1 to 1024. "
            f"Received: bins_per_octave={bins_per_octave!r}."
        )
    return int(bins_per_octave)


def _check_not_distributed(cls: str) -> None:
    """Exact mode holds a buffer, not sums: refuse what data parallelism would silently break."""
    replicas = 1
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.distribute.has_strategy():
            replicas = int(tf.distribute.get_strategy().num_replicas_in_sync)
    elif backend == "jax":
        dist = keras.distribution.distribution()
        mesh = getattr(dist, "device_mesh", None)
        if mesh is not None:
            replicas = int(np.size(mesh.devices))
    if replicas > 1:
        raise ValueError(
            f"{cls}(exact=True) keeps a buffer of scores, which cannot be combined across the "
            f"{replicas} replicas of a data-parallel distribution. Use the binned mode "
            "(exact=False; its sums merge exactly), or compute the exact value at epoch end with "
            "epochmetrics' EpochEvaluator."
        )


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
    _host = staticmethod(ranking.roc_auc)
    _from_counts = staticmethod(ranking_graph.auroc_from_counts)
    _bound = staticmethod(ranking_graph.auroc_error_bound)


@_register
@_doc(
    "Average precision over the whole epoch, as scikit-learn's `average_precision_score`.",
    "AP = sum_n (R_n - R_{n-1}) P_n over thresholds n (no interpolation); macro over labels = mAP.",
    """Error: positives and negatives sharing a bin count as tied, which biases AP low on
    continuous scores by about the precision change across one bin: ~5e-4 at the default
    resolution on smooth data, halving with each doubling of `bins_per_octave`, and 0 when
    every distinct score has its own bin.""",
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
    _host = staticmethod(ranking.average_precision)
    _from_counts = staticmethod(ranking_graph.average_precision_from_counts)
    _bound = staticmethod(ranking_graph.average_precision_error_bound)
