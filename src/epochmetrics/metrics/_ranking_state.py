"""The two states of the ranking metrics, one class each: binned sums, or a buffer of samples.

Both turn their state into per-class group masses `pos, neg` `(K, G)` along ascending scores
(`functional.ranking_graph`), from which AUROC and AP are computed. The metric
(`metrics.ranking`) holds one of them and delegates to it.

- `BinnedState` (default): a histogram of positive and negative mass per class over bins of
  the score's float representation. Sums: fixed memory, merges by addition, runs under
  data-parallel strategies like every other sum metric.
- `BufferState` (`exact=True`): the scores, labels and weights of up to `capacity` samples,
  written in the compiled step; the exact value is computed from them (on the host for eager
  reads). Its pair of sums holds only the samples dropped past capacity and the invalid counts.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
from keras import ops

from epochmetrics._backend import host as _host
from epochmetrics._backend import keras_internals
from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import numpy_ops
from epochmetrics.functional import operating_points_ops as opo
from epochmetrics.functional import ranking_graph
from epochmetrics.functional._args import TaskSpec, check_int
from epochmetrics.functional._host_format import Columns
from epochmetrics.functional._layout import Layout
from epochmetrics.functional.ranking_graph import Groups
from epochmetrics.metrics._sums import Step

__all__ = ["BinnedState", "BufferState"]


@functools.cache
def _bin_thresholds(bins_per_octave: int, logits: bool) -> np.ndarray:
    return opo.bin_thresholds(bins_per_octave, logits=logits)


class BinnedState:
    """Histograms over score bins, a sum state (see `ranking_graph.score_bins`)."""

    def __init__(self, spec: TaskSpec, bins_per_octave: int) -> None:
        self.spec = spec
        self.bins_per_octave = bins_per_octave
        self.num_bins = ranking_graph.bin_count(bins_per_octave)
        self.k = ranking_graph.num_columns(spec)
        self.layout = ranking_graph.binned_layout(spec, bins_per_octave)
        self.step = Step(ranking_graph.binned_update, (spec, bins_per_octave), kernel="binned")

    def counts(self, state: Any, xp: Any, pooled: bool, thresholds: bool = False) -> Groups:
        """The groups (bins) of the summed state; `pooled` sums the classes (micro). Asking
        for `thresholds` inside a compiled step needs them computed eagerly first."""
        parts = self.layout.unpack(state)
        neg = xp.reshape(parts["neg"], (self.k, self.num_bins))
        pos = xp.reshape(parts["pos"], (self.k, self.num_bins))
        support = xp.sum(pos, axis=-1)
        if pooled:  # the bins are the same for every class: pooling sums the histograms
            pos, neg = xp.sum(pos, axis=0, keepdims=True), xp.sum(neg, axis=0, keepdims=True)
        return Groups(pos, neg, support, self.thresholds if thresholds else None)

    def histograms(self, state: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eagerly: the summed state as per-class histograms `pos, neg` `(K, bins)` and the
        smallest score of each bin `(bins,)` (in the units the bins are computed in)."""
        groups = self.counts(state, numpy_ops, pooled=False, thresholds=True)
        return groups.pos, groups.neg, groups.thresholds

    @property
    def thresholds(self) -> np.ndarray:
        """`(bins,)` the smallest score of each bin (in the units the bins are computed in)."""
        logits = self.spec.from_logits and self.spec.task != "multiclass"
        return _bin_thresholds(self.bins_per_octave, logits)

    def settings(self) -> dict[str, Any]:
        return {"exact": False, "bins_per_octave": self.bins_per_octave}


class BufferState:
    """Up to `capacity` stored samples, and a pair of sums `[dropped | invalid]`.

    Row `capacity` of the buffers is scratch: samples that do not fit are written there and
    counted as dropped.
    """

    layout = Layout(dropped=1)

    def __init__(self, metric: Any, spec: TaskSpec, capacity: int) -> None:
        self.spec = spec
        self.capacity = capacity
        self.k = ranking_graph.num_columns(spec)
        self.labels = spec.num_classes if spec.task == "multilabel" else 1
        rows = capacity + 1
        add = functools.partial(keras_internals.add_metric_variable, metric, initializer="zeros")
        self.scores = add(shape=(rows, self.k), dtype="float32", name="scores")
        self.targets = add(shape=(rows, self.labels), dtype="float32", name="labels")
        self.weights = add(shape=(rows,), dtype="float32", name="weights")
        self.count = add(shape=(), dtype="int32", name="count")
        self.warned_dropped = 0.0

    @staticmethod
    def check(cls: str, capacity: Any, exact: bool) -> int | None:
        """`capacity` for exact mode (None in binned mode), refusing what cannot work."""
        if not exact:
            if capacity is not None:
                raise ValueError(
                    f"{cls}: `capacity` is the buffer size of exact mode; pass exact=True with "
                    "it, or leave it unset for the binned mode. Received: "
                    f"capacity={capacity!r}, exact=False."
                )
            return None
        capacity = check_int(
            "capacity",
            capacity,
            minimum=1,
            maximum=2**31 - 2,
            lead=f"{cls}(exact=True) needs `capacity`, the number of samples to keep per epoch:",
            what="an integer from 1 to 2**31 - 2",
        )
        replicas = _backend.replica_count()
        if replicas > 1:
            raise ValueError(
                f"{cls}(exact=True) keeps a buffer of scores, which cannot be combined across the "
                f"{replicas} replicas of a data-parallel distribution. Use the binned mode "
                "(exact=False; its sums merge exactly), or compute the exact value at epoch end "
                "with epochmetrics' EpochEvaluator."
            )
        return int(capacity)

    @staticmethod
    def buffer_bytes(spec: TaskSpec, capacity: int) -> int:
        """Bytes of the buffers: `capacity + 1` rows of K scores, T labels and a weight."""
        labels = spec.num_classes if spec.task == "multilabel" else 1
        return 4 * (capacity + 1) * (ranking_graph.num_columns(spec) + labels + 1)

    def settings(self) -> dict[str, Any]:
        return {"exact": True}

    def append(self, scores: Any, labels: Any, weights: Any, keep: Any) -> Any:
        """Write the kept rows after the stored ones; return the samples dropped (int32)."""
        cap = self.capacity
        count = _backend.read(self.count)
        k = ops.cast(keep, "int32")
        position = count + ops.cumsum(k) - k
        index = ops.expand_dims(ops.where(ops.logical_and(keep, position < cap), position, cap), -1)
        for variable, rows in (
            (self.scores, scores),
            (self.targets, labels),
            (self.weights, weights),
        ):
            update = ops.scatter_update(_backend.read(variable), index, ops.cast(rows, "float32"))
            variable.assign(update)
        total = count + ops.sum(k)
        self.count.assign(ops.minimum(total, cap))
        return ops.cast(ops.maximum(total - cap, 0), "int32")

    def stored(self) -> tuple[Any, Any, Any, Any]:
        """`(scores, labels, weights, mask of stored rows)`, as tensors."""
        stored = ops.arange(self.capacity + 1) < _backend.read(self.count)
        return (
            _backend.read(self.scores),
            _backend.read(self.targets),
            _backend.read(self.weights),
            stored,
        )

    def counts(self, xp: Any, pooled: bool, thresholds: bool = False) -> Groups:
        """Inside a compiled step: the groups (distinct scores) of the stored samples (`xp` is
        `keras.ops`); their scores only when `thresholds` is asked for (one more sort)."""
        dtype = _backend.wide_float()
        scores, labels, weights, stored = self.stored()
        weights = ops.cast(weights, dtype) * ops.cast(stored, dtype)
        pos_w, neg_w = ranking_graph.stored_targets(self.spec, labels, weights)
        support = ops.sum(pos_w, axis=0)
        if pooled:
            scores, pos_w, neg_w = (ops.reshape(a, (-1, 1)) for a in (scores, pos_w, neg_w))
        pos, neg = ranking_graph.group_counts(scores, pos_w, neg_w, dtype)
        starts = opo.group_thresholds(scores) if thresholds else None
        return Groups(pos, neg, support, starts)

    def columns(self) -> Columns:
        """An eager read: the stored samples as the host validator's columns (`Columns`), for
        the kernel's exact `host` function and the curves' counts (`threshold_counts`).
        Elements stored but not counted (label -1: a multilabel `ignore_index`) weigh 0."""
        count = int(_host.to_numpy(self.count.value))
        scores = _host.to_numpy(self.scores.value)[:count]  # (n, K) float32
        labels = _host.to_numpy(self.targets.value)[:count]  # (n, T), -1 = not counted
        weights = _host.to_numpy(self.weights.value)[:count].astype(np.float64)
        if self.spec.task == "multiclass":  # stored scores are probabilities (softmax of logits)
            targets = labels[:, :1] == np.arange(self.spec.num_classes)[None, :]
        else:
            targets = labels == 1
        counted = weights[:, None] * (labels >= 0)  # (n, T)
        return Columns(scores, targets, np.broadcast_to(counted, scores.shape))

    def reset(self) -> None:
        self.warned_dropped = 0.0
        for v in (self.scores, self.targets, self.weights, self.count):
            v.assign(ops.zeros_like(v.value))

    def warn_overflow(self, dropped: float, name: str) -> None:
        """Eagerly: say that samples were dropped and what capacity is needed.

        Keras reads results every batch on some backends; warning again only when the number
        dropped has doubled keeps that to a few warnings, the last within 2x of the need.
        """
        if dropped > 0 and dropped >= 2 * self.warned_dropped:
            self.warned_dropped = dropped
            needed = self.capacity + int(dropped)
            warnings.warn(
                f"{name} (exact=True) received more samples than capacity={self.capacity}: "
                f"{int(dropped)} dropped so far, so the result is NaN. Set capacity to at least "
                f"the number of samples per epoch (>= {needed}), or use the binned mode "
                "(exact=False).",
                RuntimeWarning,
                stacklevel=4,
            )
