"""Several processes: combining metrics in place, sync on read, and sharding data.

- `all_reduce_metrics(metrics)`: every process's metrics become the metrics of all the data.
- `sync_on_read(enabled)`: whether eager reads under `torch.distributed` (and of
  `tf.distribute` workers) combine the processes' states for the read (on by default).
- `shard(data)`: this process's contiguous part of a dataset or an index range, no padding.

The processes are those of a `torch.distributed` process group, JAX's processes
(`jax.distributed.initialize`), or the workers of a multi-worker `tf.distribute` strategy.
How states combine: `epochmetrics.metrics._combine`.
"""

from __future__ import annotations

import sys
from typing import Any

from epochmetrics._backend import collectives
from epochmetrics._backend import host as _host
from epochmetrics._docs import docstring
from epochmetrics.functional._args import check_int, is_int
from epochmetrics.metrics import _combine

__all__ = ["all_reduce_metrics", "shard", "sync_on_read"]


@docstring()
def all_reduce_metrics(metrics: Any, group: Any = None) -> None:
    """Combine metric states over the processes of a job, in place.

    Call it on every process, with the same metrics in the same order, after each process has
    updated them with its own data (e.g. after `model.evaluate` on its shard); afterwards every
    process holds the states of all the data, and reads give the one-process answer. Under
    `torch.distributed` (and for `tf.distribute` workers) reads are global anyway
    (`sync_on_read`): this is for keeping the combined state, or for JAX processes.

    How each kind combines, exactly, in one exchange for all of them:

    - sum metrics (every epochmetrics metric but those below): their float64 totals are
      added in process order, so integer counts stay exact up to 2**53 (float32 halves
      added separately would round past 2**24), and split back into the compensated pair
      (exact up to 2**48);
    - the regression metrics' shifted moments (R², correlations, explained variance): each
      process's float64 state, combined in process order as `merge_state` does (re-centred,
      then added), so every process holds the same state;
    - `DetectionMAP`: the processes' matched records, appended in process order (with
      contiguous shards, the images' order: equal to one process);
    - exact-mode ranking metrics (`exact=True`): the stored samples, appended in process
      order up to `capacity` (past it the result is NaN with a warning, as in `update_state`);
    - other Keras metrics (the loss tracker `Mean`, `keras.metrics.*`): "sum" variables
      added, "mean" variables averaged.

    Args:
        metrics: a Keras metric, a list of metrics, or a Keras model (all of `model.metrics`:
            the loss tracker and the compiled metrics).
        group: the `torch.distributed` process group; None for the default group (or JAX's
            processes, or the workers of the `tf.distribute` strategy in scope).

    Raises:
        RuntimeError: when this process is the only one (no process group of several
            processes, no JAX processes, no multi-worker strategy in scope).
        ValueError: for a metric whose state cannot be combined (a Keras metric variable whose
            aggregation is neither "sum" nor "mean"), before any exchange.
        TypeError: for something that is not a metric.

    Examples:
        On each process of a `torchrun --nproc-per-node=N` job (torch backend)::

            import torch.distributed as dist
            import epochmetrics as em

            dist.init_process_group("gloo")  # "nccl" on GPUs
            model.compile(..., metrics=[em.ClassificationReport("multiclass", num_classes=10)])
            model.evaluate(x_shard, y_shard, verbose=0)  # this process's shard
            em.all_reduce_metrics(model)  # every process: the metrics of all shards

        >>> import epochmetrics as em
        >>> em.all_reduce_metrics([])  # nothing to combine: no exchange at all
    """
    items = _combine.leaves(metrics)
    if not items:
        return
    _combine.check(items)
    processes = collectives.current(group=group)
    if not processes.several:
        raise RuntimeError(
            "all_reduce_metrics combines the metrics of several processes, and this process "
            "is alone: initialise torch.distributed (torch.distributed.init_process_group; "
            "torchrun does it for DistributedDataParallel jobs), JAX's processes "
            "(jax.distributed.initialize) or call it inside a multi-worker tf.distribute "
            "strategy's scope."
        )
    _combine.all_reduce(items, processes)


@docstring()
def sync_on_read(enabled: bool = True) -> bool:
    """Turn on or off the global reads of metrics across processes; returns the previous
    setting (on by default).

    When on, under a `torch.distributed` process group of several processes, every eager
    read of a metric outside a train/test step combines the processes' states for that read
    and leaves each process's own state as it was (as torchmetrics' `sync_on_compute`):
    `metric.result()`, the epoch's logs of `fit` (train and `val_` keys), `evaluate` and
    `model.get_metrics_result()`, for epochmetrics metrics and Keras' own (the loss tracker
    included), in one exchange per read of a model. The values inside a step (the progress
    bar's) stay per process. The workers of a multi-worker `tf.distribute` strategy read
    epochmetrics metrics globally the same way (TensorFlow does it for Keras' own).

    Every process must then read the same metrics in the same order (a read is a collective
    call): reading on one process only waits for the others until the group's timeout. Turn
    it off to read per-process values, e.g. when logging from process 0 only.

    Args:
        enabled: True to combine at reads, False for per-process reads.

    Examples:
        >>> import epochmetrics as em
        >>> previous = em.sync_on_read(False)  # per-process reads from here on
        >>> em.sync_on_read(previous)
        False
    """
    return _combine.sync_on_read(enabled)


@docstring()
def shard(data: Any, *, index: int | None = None, count: int | None = None) -> Any:
    """This process's part of `data`: a contiguous block, no sample repeated or left out.

    `n` samples over `count` processes: process `i` gets samples `[start_i, start_{i+1})`,
    the first `n % count` processes one more than the others (uneven by at most one, never
    padded, unlike torch's `DistributedSampler`, whose padding repeats samples). The blocks
    in process order are the data in its order (what detectron2's `InferenceSampler` does).

    Args:
        data: a number of samples `n` (returns a `range`), an array or a tuple/list/dict of
            arrays of the same length (returns the same structure, sliced), a torch
            `Dataset` with `__len__` (returns a `torch.utils.data.Subset`), a finite
            `tf.data.Dataset` of samples (returns `skip(start).take(size)`), or any sequence
            with `__len__` and slicing.
        index: this process's index; default: its rank in the job (torch.distributed's rank,
            `jax.process_index()`, the tf.distribute worker), else 0.
        count: the number of processes; default: the job's (else 1).

    Returns:
        The part of `data` of process `index`, of the same kind.

    Examples:
        >>> import numpy as np, epochmetrics as em
        >>> em.shard(1001, index=1, count=2)
        range(501, 1001)
        >>> x, y = np.arange(5), np.arange(5) * 10
        >>> em.shard((x, y), index=0, count=2)
        (array([0, 1, 2]), array([ 0, 10, 20]))
    """
    if index is None or count is None:
        processes = collectives.current()
        index = processes.index if index is None else index
        count = processes.count if count is None else count
    count = check_int("count", count, minimum=1)
    index = check_int(
        "index", index, minimum=0, maximum=count - 1, received=f"index={index!r}, count={count}"
    )
    if is_int(data):
        return range(*collectives.bounds(check_int("data", data, minimum=0), count, index))
    leaves = _leaves(data) if isinstance(data, (tuple, list, dict)) else []
    if leaves:  # a structure of arrays (a plain list or tuple of samples is a sequence)
        lengths = {len(a) for a in leaves}
        if len(lengths) != 1:
            raise ValueError(
                "shard takes a structure (tuple, list, dict) of arrays of one length. Received "
                f"lengths {sorted(lengths)}."
            )
        start, stop = collectives.bounds(lengths.pop(), count, index)
        return _map(data, lambda a: a[start:stop])
    if _host.is_tf_dataset(data):
        n = int(data.cardinality())
        if n < 0:
            raise ValueError(
                "shard needs a tf.data.Dataset of known length (its cardinality is "
                f"{n}: infinite or unknown). Shard the arrays it is made from instead."
            )
        start, stop = collectives.bounds(n, count, index)
        return data.skip(start).take(stop - start)
    if not _sized(data):
        raise TypeError(
            "shard takes a number of samples, arrays (or a tuple/list/dict of them), a torch "
            f"Dataset, a tf.data.Dataset or a sequence. Received: {type(data).__name__}."
        )
    start, stop = collectives.bounds(len(data), count, index)
    torch_data = sys.modules.get("torch.utils.data")
    if torch_data is not None and isinstance(data, torch_data.Dataset):
        return torch_data.Subset(data, range(start, stop))
    return data[start:stop]


def _sized(x: Any) -> bool:
    return hasattr(x, "__len__") and hasattr(x, "__getitem__")


def _is_array(x: Any) -> bool:
    """An array or tensor with a first axis (NumPy, torch, TensorFlow, JAX)."""
    return len(getattr(x, "shape", ())) > 0 and _sized(x)


def _leaves(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in _leaves(v)]
    if isinstance(tree, (tuple, list)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree] if _is_array(tree) else []


def _map(tree: Any, fn: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _map(v, fn) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_map(v, fn) for v in tree)
    return fn(tree) if _is_array(tree) else tree
