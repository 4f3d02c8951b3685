"""Combining metric states across processes: `all_reduce_metrics` for `torch.distributed`.

TensorFlow (`tf.distribute`) and JAX (`keras.distribution`) combine metric states by
themselves. Keras on the torch backend does not: under `torchrun` / DistributedDataParallel
every process holds the metrics of its own shard only. `all_reduce_metrics` sums them over the
process group, so every process then holds the metrics of all the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras

from epochmetrics._docs import docstring
from epochmetrics.metrics import _sums
from epochmetrics.metrics._base import SumStateMetric

__all__ = ["all_reduce_metrics"]


def _leaves(items: Any) -> list[keras.metrics.Metric]:
    """Metrics to reduce: a metric, an iterable of them, or a model (its `metrics`)."""
    if isinstance(items, keras.Model):
        return _leaves(items.metrics)
    if isinstance(items, SumStateMetric):
        return [items]
    if isinstance(items, keras.metrics.Metric):
        inner = getattr(items, "metrics", None)  # Keras' container of compiled metrics
        if isinstance(inner, list) and all(isinstance(m, keras.metrics.Metric) for m in inner):
            return [leaf for m in inner for leaf in _leaves(m)]
        return [items]
    if isinstance(items, Iterable) and not isinstance(items, (str, bytes)):
        return [leaf for m in items for leaf in _leaves(m)]
    raise TypeError(
        "`metrics` must be a Keras metric, a list of metrics or a Keras model. "
        f"Received: {type(items).__name__}."
    )


@docstring()
def all_reduce_metrics(metrics: Any, group: Any = None) -> None:
    """Sum metric states over the processes of a `torch.distributed` group, in place.

    Call it on every process of the group, with the same metrics in the same order, after
    each process has updated them with its own shard (e.g. after `model.evaluate` on the
    shard); afterwards every process holds the states of all the data, and `result()` (or
    `model.get_metrics_result()`) gives the one-process answer.

    An epochmetrics state is a compensated float32 pair `(hi, lo)` holding about 48 bits.
    Adding the `hi` halves of several processes in float32 would round once a total passes
    2**24, so each pair travels as one float64 value `hi + lo` (exact), the float64 values are
    summed (exact for integer counts up to 2**53), and the sum is split back into a pair,
    `hi = float32(x)`, `lo = float32(x - hi)`: exact again for integer counts up to 2**48. Other
    Keras metrics (such as the loss tracker `Mean`) have their "sum" variables summed in
    float64 and their "mean" variables averaged. All these states travel in one collective
    call. The shifted moments of the regression metrics (R², correlations, explained
    variance) are not plain sums: they travel in one all-gather and every process combines
    them in rank order as `merge_state` does (re-centred, then added), so every process
    holds the same state.

    Args:
        metrics: a Keras metric, a list of metrics, or a Keras model (all of `model.metrics`:
            the loss tracker and the compiled metrics).
        group: the `torch.distributed` process group; None for the default group.

    Raises:
        RuntimeError: when not on the torch backend or `torch.distributed` is not initialised.
        ValueError: for state that is not a sum (the sample buffer of an exact-mode `AUROC` or
            `AveragePrecision`) or a variable whose aggregation is neither "sum" nor "mean".

    Examples:
        On each process of a `torchrun --nproc-per-node=N` job (torch backend)::

            import torch.distributed as dist
            import epochmetrics as em

            dist.init_process_group("gloo")  # "nccl" on GPUs
            model.compile(..., metrics=[em.ClassificationReport("multiclass", num_classes=10)])
            model.evaluate(x_shard, y_shard, verbose=0)  # this process's shard
            em.all_reduce_metrics(model)  # every process: the metrics of all shards
            logs = model.get_metrics_result()

        >>> import epochmetrics as em
        >>> em.all_reduce_metrics([])  # nothing to reduce: no collective call at all
    """
    # What to send, checked before any collective call: (kind, variables).
    plan: list[tuple[str, Any]] = []  # "pair" and "combine": (metric, (hi, lo))
    for metric in _leaves(metrics):
        if isinstance(metric, SumStateMetric):
            pair = _sums.pair_of(metric)
            others = [v for v in metric.variables if v is not pair[0] and v is not pair[1]]
            if others:
                raise ValueError(
                    f"{metric.name!r} keeps state that is not a sum ({others[0].path!r}, e.g. "
                    "the sample buffer of AUROC/AveragePrecision with exact=True), which "
                    "all_reduce_metrics cannot combine. Use the binned mode, or compute the "
                    "metric on one process (EpochEvaluator on the gathered predictions)."
                )
            plan.append(("pair" if metric._additive else "combine", (metric, pair)))
            continue
        for v in metric.variables:
            if v.aggregation not in ("sum", "mean"):
                raise ValueError(
                    f"all_reduce_metrics can sum or average metric variables; {metric.name!r} has "
                    f"a variable {v.path!r} with aggregation={v.aggregation!r}."
                )
            plan.append((v.aggregation, v))
    if not plan:
        return
    if keras.backend.backend() != "torch":
        raise RuntimeError(
            "all_reduce_metrics uses torch.distributed and needs the torch backend "
            f"(KERAS_BACKEND=torch). The backend is {keras.backend.backend()!r}: TensorFlow's "
            "tf.distribute and JAX's keras.distribution combine metric states themselves."
        )
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "torch.distributed is not initialised: call torch.distributed.init_process_group "
            "first (torchrun does it for DistributedDataParallel jobs)."
        )
    # Pack every state into one float64 buffer: one collective call for all metrics, an
    # all-reduce (sum); states that do not combine by addition (`_additive` False: the
    # shifted moments of the regression metrics) travel whole in one all-gather and are
    # combined on every process in rank order (`_combine`), so every process gets the same.
    parts: dict[bool, list[Any]] = {True: [], False: []}
    for kind, what in plan:
        if kind in ("pair", "combine"):
            values = [v.value for v in what[1]]
            parts[kind == "pair"].append(_sums.traced_total(values, "float64").reshape(-1))
        else:
            parts[True].append(what.value.detach().double().reshape(-1))
    world = dist.get_world_size(group)
    summed = torch.cat(parts[True]) if parts[True] else None
    if summed is not None:
        dist.all_reduce(summed, op=dist.ReduceOp.SUM, group=group)
    gathered = None
    if parts[False]:
        mine = torch.cat(parts[False])
        gathered = [torch.empty_like(mine) for _ in range(world)]
        dist.all_gather(gathered, mine, group=group)
    offsets = {True: 0, False: 0}
    for kind, what in plan:
        additive = kind != "combine"
        start = offsets[additive]
        if kind in ("pair", "combine"):
            metric, pair = what
            n = int(pair[0].value.numel())
            offsets[additive] += n
            if additive:
                assert summed is not None
                x = summed[start : start + n]
            else:
                assert gathered is not None
                totals = [row[start : start + n].cpu().numpy() for row in gathered]
                x = torch.as_tensor(metric._host_combine(totals))
            for variable, half in zip(pair, _sums.split(x), strict=True):
                variable.assign(half.reshape(variable.shape))
        else:
            n = int(what.value.numel())
            offsets[additive] += n
            assert summed is not None
            x = summed[start : start + n]
            x = x / world if kind == "mean" else x
            what.assign(x.to(what.value.dtype).reshape(what.shape))
