"""Metrics over several processes: their states combined exactly, in place or for one read.

Every process holds the metrics of its own data. Combining them takes one exchange for any
number of metrics: each process exports its states (`Portable._export_arrays`, or a Keras
metric's variables), every process receives all of them (`Processes.gather_objects`: two
collective calls, the same on every process whatever its data) and merges them in process
order, so every process computes the same global state:

- sum metrics add their float64 totals (exact for integer counts up to 2**53);
- other epochmetrics metrics merge as `merge_state` does (DetectionMAP's records and the
  exact ranking buffers are appended in process order: with contiguous shards, the data's
  order);
- Keras' own metrics (the loss tracker `Mean`, `keras.metrics.*`) add their "sum" variables
  and average their "mean" ones; any other variable cannot be combined and is an error
  raised before any exchange.

**Sync on read.** Under a `torch.distributed` group of several processes, and for the workers
of a multi-worker `tf.distribute` strategy, an eager read of a metric (`result()`, the epoch's
logs, `evaluate`) combines the states for that read only: the variables are given the global
state, read, and given back their local state (torchmetrics' `sync_on_compute`). Reads inside
a train or test step stay local. `sync_on_read(False)` turns it off. JAX processes need none:
metric updates run on the global batch there.
"""

from __future__ import annotations

import contextlib
import hashlib
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import keras
import numpy as np

from epochmetrics._backend import collectives, torch_padding
from epochmetrics._backend import host as _host
from epochmetrics._backend import ops as _backend
from epochmetrics._backend.collectives import Processes
from epochmetrics._backend.keras_internals import wrap_model_reads
from epochmetrics.functional._args import check_bool
from epochmetrics.metrics._portable import Portable

__all__ = [
    "all_reduce",
    "check",
    "combined",
    "global_reads",
    "install",
    "leaves",
    "local_reads",
    "reader",
    "sync_on_read",
]

_ENABLED = True
_DEPTH = [0]  # > 0 during a combined read: metrics read their (already global) variables
# Metrics made global in place (all_reduce), by the digest of that state: a read of an
# unchanged state must not add the processes' copies again.
_GLOBAL: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def sync_on_read(enabled: bool = True) -> bool:
    """Turn the combination of metric states at eager reads on or off; returns the previous
    setting. See `epochmetrics.distributed.sync_on_read`."""
    global _ENABLED
    previous, _ENABLED = _ENABLED, check_bool("enabled", enabled)
    return previous


@contextlib.contextmanager
def local_reads() -> Iterator[None]:
    """Reads inside this block see this process's state only (no exchange)."""
    _DEPTH[0] += 1
    try:
        yield
    finally:
        _DEPTH[0] -= 1


def reader(metric: Any = None) -> Processes | None:
    """The processes to combine `metric` over for an eager read, or None for a local read:
    a torch.distributed group of several processes, or the workers of the multi-worker
    tf.distribute strategy that holds the metric's variables."""
    if not _ENABLED or _DEPTH[0]:
        return None
    processes = collectives.torch_processes()
    if processes is not None:
        return processes
    variables = getattr(metric, "variables", None)
    if variables:
        strategy = collectives.strategy_of(variables[0].value)
        if strategy is not None:
            return collectives.tf_workers(strategy)
    return None


def _model_read(model: Any, read: Any) -> Any:
    """Keras' read of all of a model's metrics outside a step, global under torch.distributed
    (one exchange for all of them; TensorFlow's workers combine Keras' own variables on read,
    and each epochmetrics metric combines itself)."""
    processes = reader()
    if processes is None or not isinstance(model, keras.Model):
        return read()
    with global_reads(leaves(model.metrics), processes):
        return read()


def install() -> None:
    """Where Keras leaves each process's metrics its own (torch), make its reads of a model's
    metrics go through `_model_read`, and leave a DistributedSampler's padding repeats out of
    `fit`'s and `evaluate`'s batches (they would count twice in the combined values)."""
    if collectives.keras_keeps_process_states():
        wrap_model_reads(_model_read, local_reads)  # reads inside a step stay local
        torch_padding.install()


def leaves(items: Any) -> list[Any]:
    """Metrics to combine: a metric, an iterable of them, or a model (its `metrics`); each
    once, in order (a model may hold a metric twice: as its attribute and compiled)."""
    out: dict[int, Any] = {}
    for m in _leaves(items):
        out.setdefault(id(m), m)
    return list(out.values())


def _leaves(items: Any) -> list[Any]:
    if isinstance(items, keras.Model):
        return _leaves(items.metrics)
    if isinstance(items, Portable):
        return [items]
    if isinstance(items, keras.metrics.Metric):
        inner = getattr(items, "metrics", None)  # Keras' containers of compiled metrics
        if isinstance(inner, list) and all(isinstance(m, keras.metrics.Metric) for m in inner):
            return [leaf for m in inner for leaf in _leaves(m)]
        return [items]
    if isinstance(items, Iterable) and not isinstance(items, (str, bytes)):
        return [leaf for m in items for leaf in _leaves(m)]
    raise TypeError(
        "`metrics` must be a Keras metric, a list of metrics or a Keras model. "
        f"Received: {type(items).__name__}."
    )


# --- exports and merges ------------------------------------------------------------------------
def _check(metric: Any) -> None:
    """Raise, before any exchange, for a metric whose state cannot be combined."""
    if isinstance(metric, Portable):
        return
    if not isinstance(metric, keras.metrics.Metric):
        raise TypeError(
            f"Cannot combine {type(metric).__name__} objects across processes: not a metric."
        )
    for v in metric.variables:
        if v.aggregation not in ("sum", "mean"):
            raise ValueError(
                f"{type(metric).__name__} {metric.name!r} has a variable {v.path!r} with "
                f"aggregation={v.aggregation!r}: only 'sum' and 'mean' variables combine "
                "across processes. Compute this metric on one process, or leave it out."
            )


def _export(metric: Any) -> dict[str, np.ndarray]:
    if isinstance(metric, Portable):
        return metric._export_arrays()
    return {str(i): _host.to_numpy(v.value) for i, v in enumerate(metric.variables)}


def _import(metric: Any, arrays: dict[str, np.ndarray]) -> None:
    if isinstance(metric, Portable):
        metric._import_arrays(arrays)
        return
    for i, v in enumerate(metric.variables):
        _backend.assign_host(v, arrays[str(i)].astype(_host.to_numpy(v.value).dtype))


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _merge(metric: Any, exports: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if isinstance(metric, Portable):
        return metric._merge_exports(list(exports))
    out = {}
    for i, v in enumerate(metric.variables):
        parts = [np.asarray(e[str(i)], np.float64) for e in exports]
        total = parts[0].copy()
        for part in parts[1:]:
            total += part
        out[str(i)] = total / len(parts) if v.aggregation == "mean" else total
    return out


def _fixed(metric: Any) -> bool:
    """Whether every process exports arrays of the same shapes for this metric (sums)."""
    return not isinstance(metric, Portable) or metric._fixed_export()


def _gather_fixed(
    mine: list[dict[str, np.ndarray]], processes: Processes
) -> list[list[dict[str, np.ndarray]]]:
    """Every process's exports of fixed shapes, in one collective call (as float64)."""
    layout = [(i, k, np.shape(a)) for i, arrays in enumerate(mine) for k, a in arrays.items()]
    flat = [np.asarray(mine[i][k], np.float64).reshape(-1) for i, k, _ in layout]
    rows = processes.gather(np.concatenate(flat) if flat else np.zeros(0))
    every = []
    for row in rows:
        exports: list[dict[str, np.ndarray]] = [{} for _ in mine]
        at = 0
        for i, k, shape in layout:
            n = int(np.prod(shape, dtype=np.int64))
            exports[i][k] = row[at : at + n].reshape(shape)
            at += n
        every.append(exports)
    return every


def check(metrics: Sequence[Any]) -> None:
    """Raise, before any exchange, for a metric whose state cannot be combined."""
    for m in metrics:
        _check(m)


def combined(metrics: Sequence[Any], processes: Processes) -> list[dict[str, np.ndarray]]:
    """The global state of each metric (as its export), the same on every process.

    One collective call when every state is a fixed-size vector of sums (the usual case);
    two (sizes, then the pickled states) when one is not (DetectionMAP's records, exact
    ranking buffers)."""
    check(metrics)
    mine = [_export(m) for m in metrics]
    if all(_fixed(m) for m in metrics):
        every = _gather_fixed(mine, processes)
    else:
        every = processes.gather_objects(mine)
    out = []
    for i, m in enumerate(metrics):
        made_global = _GLOBAL.get(m)
        if made_global is not None and made_global == _digest(mine[i]):
            out.append(mine[i])  # made global in place earlier, unchanged since
        else:
            out.append(_merge(m, [exports[i] for exports in every]))
    return out


@contextlib.contextmanager
def global_reads(metrics: Sequence[Any], processes: Processes) -> Iterator[None]:
    """Inside the block the metrics hold their global state; their own after it."""
    local = [_export(m) for m in metrics]
    states = combined(metrics, processes)
    try:
        for m, state in zip(metrics, states, strict=True):
            _import(m, state)
        with local_reads():
            yield
    finally:
        for m, state in zip(metrics, local, strict=True):
            _import(m, state)


def all_reduce(metrics: Sequence[Any], processes: Processes) -> None:
    """Give every metric its global state, in place."""
    for m, state in zip(metrics, combined(metrics, processes), strict=True):
        _import(m, state)
        _GLOBAL[m] = _digest(_export(m))
