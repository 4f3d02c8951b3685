"""A `DistributedSampler`'s padding repeats, left out of torch `fit`'s and `evaluate`'s batches.

`DistributedSampler(drop_last=False)` makes every rank's part equally long by appending
copies of the first samples: it builds `indices = perm + perm[:padding]` and gives rank `r`
the positions `r, r + R, r + 2R, ...`, so on rank `r` the copies are exactly the local
positions `i` with `r + i * R >= len(dataset)`: the tail of the rank's pass, whatever the
shuffle. Under a torch.distributed group whose reads combine the ranks' states (sync on read,
`metrics/_combine.py`), each copy would count once more in every metric and in the loss.

`unpadded(loader)` (given by `keras_internals.wrap_torch_loaders` to `fit` and `evaluate`)
yields the loader's batches with those rows cut off. The step count stays the sampler's (the
same on every rank, which gradient synchronisation needs); every metric (weighted or not,
Keras' own too) and the loss tracker (which averages by rows) then see each sample once.
A batch made of copies only (the last one, when it holds one row and that row is a copy)
cannot be emptied (a loss over no rows is NaN): it gets sample weight 0 instead, with a
warning that the loss and unweighted metrics still count it. Nothing changes without a
process group of several ranks, without such a sampler, or without padding on this rank.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from epochmetrics._backend import collectives

__all__ = ["install", "real_rows", "sampler_of", "unpadded"]

_SAMPLER = "torch.utils.data.distributed.DistributedSampler"
_BATCH_SAMPLER = "torch.utils.data.sampler.BatchSampler"


def _is(obj: Any, qualified: str) -> bool:
    return qualified in (f"{c.__module__}.{c.__name__}" for c in type(obj).__mro__)


def _is_exactly(obj: Any, qualified: str) -> bool:
    return f"{type(obj).__module__}.{type(obj).__name__}" == qualified


def sampler_of(loader: Any) -> Any:
    """The `DistributedSampler` that orders a DataLoader's samples (its `sampler`, or its
    `BatchSampler`'s), or None."""
    for sampler in (
        getattr(loader, "sampler", None),
        getattr(getattr(loader, "batch_sampler", None), "sampler", None),
    ):
        if sampler is not None and _is(sampler, _SAMPLER):
            return sampler
    return None


def real_rows(sampler: Any) -> int:
    """How many of this rank's `num_samples` positions hold a sample (the rest are copies)."""
    total = int(sampler.num_samples)
    if sampler.drop_last:  # the sampler leaves samples out instead: no copy
        return total
    n, rank, count = len(sampler.dataset), int(sampler.rank), int(sampler.num_replicas)
    return min(total, max(0, -(-(n - rank) // count)))


def unpadded(loader: Any) -> Any:
    """`loader`, or an iterable of its batches without this rank's padding copies."""
    if collectives.torch_processes() is None:
        return loader
    sampler = sampler_of(loader)
    if sampler is None:
        return loader
    real, total = real_rows(sampler), int(sampler.num_samples)
    if real >= total:
        return loader
    batch_sampler: Any = getattr(loader, "batch_sampler", None)
    if not _is_exactly(batch_sampler, _BATCH_SAMPLER):
        _warn(
            "its batches do not come from torch's BatchSampler (a custom batch_sampler, or "
            "batch_size=None), so the repeats' rows cannot be placed: fit's metrics and loss "
            "count them"
        )
        return loader
    return _Unpadded(loader, real, total, int(batch_sampler.batch_size))


class _Unpadded:
    """The batches of `loader` (consecutive runs of `batch_size` of the sampler's `total`
    positions) with the positions from `real` on cut off."""

    def __init__(self, loader: Any, real: int, total: int, batch_size: int) -> None:
        self.loader, self.real, self.total, self.batch_size = loader, real, total, batch_size

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        start = 0
        for batch in self.loader:
            rows = min(self.batch_size, self.total - start)
            keep = min(max(self.real - start, 0), rows)
            start += self.batch_size
            if keep == rows:
                yield batch
            elif keep > 0:
                yield _cut(batch, keep, rows)
            else:
                yield _weight_zero(batch, rows)


def _rows(leaf: Any) -> int | None:
    shape = getattr(leaf, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) > 0 else None


def _cut(batch: Any, keep: int, rows: int) -> Any:
    leaves = keras.tree.flatten(batch)
    if not leaves or any(_rows(leaf) != rows for leaf in leaves):
        _warn(
            "its batch holds something other than tensors of one row per sample, so the "
            "repeat cannot be cut off: fit's metrics and loss count it"
        )
        return batch
    return keras.tree.map_structure(lambda leaf: leaf[:keep], batch)


def _weight_zero(batch: Any, rows: int) -> Any:
    if not isinstance(batch, (list, tuple)) or len(batch) not in (2, 3):
        _warn(
            "its last batch holds repeats only and is not (x, y) or (x, y, sample_weight), "
            "so it cannot be weighted 0: fit's metrics and loss count it"
        )
        return batch
    import torch

    weight = batch[2] if len(batch) == 3 else None
    zero: Any
    if weight is None:
        zero = torch.zeros(rows, dtype=torch.float32)
    elif isinstance(weight, torch.Tensor):
        zero = torch.zeros_like(weight)
    else:
        zero = np.zeros_like(np.asarray(weight))
    _warn(
        "its last batch holds repeats only, which cannot be cut off (a step needs a row): it "
        "gets sample weight 0, so weighted_metrics leave it out but metrics=[...] and the loss "
        "count it; choose a batch size that does not leave one row in the last batch"
    )
    weighted = [batch[0], batch[1], zero]
    return weighted if isinstance(batch, list) else tuple(weighted)


def _warn(what: str) -> None:
    warnings.warn(
        f"A DataLoader's DistributedSampler pads this rank's part with repeated samples, and "
        f"{what}. em.shard(dataset) gives each rank its part without repeats.",
        UserWarning,
        stacklevel=4,
    )


def install() -> None:
    """Make torch `fit`/`evaluate` leave out a DistributedSampler's padding (torch only)."""
    from epochmetrics._backend.keras_internals import wrap_torch_loaders

    wrap_torch_loaders(unpadded)
