"""Several processes: which engine joins them, and the few exchanges epochmetrics needs.

Three engines run a job as several processes: a `torch.distributed` process group, JAX's
processes (`jax.distributed.initialize`), and `tf.distribute.MultiWorkerMirroredStrategy`'s
workers. `current()` finds the one in use (or a single process); its `Processes` object
exchanges NumPy data between them. Every exchange is built on one primitive, a gather of an
int32 vector of the same length from every process, so that:

- bytes travel exactly whatever the engine's dtypes (JAX without x64 has no 64-bit arrays;
  TensorFlow's collectives take no uint8): arrays and pickled objects go as int32 words;
- sums are taken on the host in float64, in process order, so every process gets the same
  bits (`all_sum`);
- variable-length data (`gather_rows`) goes in fixed-size chunks into one preallocated array:
  the number of collective calls depends only on the largest process's size, which every
  process learns first, so every process makes the same calls in the same order whatever its
  data (an empty process included).

Every process must call the same methods in the same order (they are collective calls).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Processes",
    "bounds",
    "current",
    "keras_keeps_process_states",
    "single",
    "strategy_of",
    "tf_workers",
    "torch_processes",
]

# Bytes per process per collective call when gathering rows: bounds the temporary memory.
CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Processes:
    """The processes of a job: `count`, this one's `index`, and how they exchange data.

    `engine` is "torch", "jax", "tensorflow" or "single" (one process: every exchange returns
    this process's own data without a call).
    """

    engine: str
    count: int
    index: int
    handle: Any = None  # the torch process group or the tf.distribute strategy

    @property
    def several(self) -> bool:
        return self.count > 1

    # --- the primitive ------------------------------------------------------------------------
    def _gather_words(self, words: np.ndarray) -> np.ndarray:
        """`(count, n)` int32: every process's int32 vector of length `n` (the same `n`)."""
        words = np.ascontiguousarray(words, dtype=np.int32).reshape(-1)
        if self.count == 1:
            return words[None]
        if self.engine == "torch":
            return _torch_gather(words, self.handle, self.count)
        if self.engine == "jax":
            return _jax_gather(words)
        return _tf_gather(words, self.handle, self.count)

    # --- built on it ----------------------------------------------------------------------------
    def gather(self, x: np.ndarray) -> np.ndarray:
        """`(count, *x.shape)`: every process's array of the same shape and dtype."""
        x = np.ascontiguousarray(x)
        out = self._gather_words(_to_words(x))
        return np.stack([_from_words(row, x.dtype, x.shape) for row in out])

    def all_sum(self, x: np.ndarray) -> np.ndarray:
        """The float64 sum over processes, added in process order (the same bits everywhere)."""
        parts = self.gather(np.asarray(x, dtype=np.float64))
        total = parts[0].copy()
        for part in parts[1:]:
            total += part
        return total

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every process's picklable object, in process order."""
        if self.count == 1:
            return [obj]
        payload = np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)
        sizes = self.gather(np.array([payload.size], np.int64))[:, 0]
        padded = np.zeros(int(sizes.max()), np.uint8)
        padded[: payload.size] = payload
        rows = self.gather(padded)
        return [pickle.loads(row[: int(n)].tobytes()) for row, n in zip(rows, sizes, strict=True)]

    def broadcast(self, obj: Any) -> Any:
        """Process 0's object, on every process."""
        return self.gather_objects(obj if self.index == 0 else None)[0]

    def gather_rows(self, x: np.ndarray | None) -> tuple[np.ndarray | None, list[int]]:
        """Every process's rows (axis 0), concatenated in process order, and each one's count.

        `x` may be None for a process without data (its trailing shape and dtype come from
        the others). The result is allocated once (peak memory: the result and one chunk);
        rows travel in chunks of about `CHUNK_BYTES` per process. None when no process has
        rows of a known shape.
        """
        meta = None if x is None else (len(x), tuple(x.shape[1:]), np.dtype(x.dtype).str)
        metas = self.gather_objects(meta)
        known = [m for m in metas if m is not None]
        if not known:
            return None, [0] * self.count
        trailing, dtype = known[0][1], np.dtype(known[0][2])
        for m in known[1:]:
            if (m[1], m[2]) != (trailing, dtype.str):
                raise ValueError(
                    "The processes' arrays differ in shape or dtype beyond the first axis: "
                    f"{[None if m is None else (m[1], m[2]) for m in metas]}."
                )
        counts = [0 if m is None else int(m[0]) for m in metas]
        out = np.empty((sum(counts), *trailing), dtype)
        if self.count == 1:
            if x is not None:
                out[...] = x
            return out, counts
        row_bytes = max(int(np.prod(trailing, dtype=np.int64)) * dtype.itemsize, 1)
        step = max(1, CHUNK_BYTES // row_bytes)
        starts = np.concatenate([[0], np.cumsum(counts)])
        local = np.empty((0, *trailing), dtype) if x is None else np.ascontiguousarray(x, dtype)
        longest = max(counts)
        for begin in range(0, longest, step):
            # No longer than the longest part: a chunk of `step` rows for a few rows would
            # send up to CHUNK_BYTES of zeros per process.
            chunk = np.zeros((min(step, longest - begin), *trailing), dtype)
            mine = local[begin : begin + step]
            chunk[: len(mine)] = mine
            parts = self.gather(chunk)
            for rank, part in enumerate(parts):
                n = min(step, max(counts[rank] - begin, 0))
                if n:
                    at = int(starts[rank]) + begin
                    out[at : at + n] = part[:n]
            del parts, chunk
        return out, counts


_SINGLE = Processes("single", 1, 0)


def bounds(n: int, count: int, index: int) -> tuple[int, int]:
    """`[start, stop)` of process `index`'s contiguous block of `n` samples over `count`
    processes: the first `n % count` blocks one longer, none padded."""
    size, extra = divmod(int(n), int(count))
    start = index * size + min(index, extra)
    return start, start + size + (index < extra)


def single() -> Processes:
    """One process: every exchange returns this process's own data."""
    return _SINGLE


def current(*, group: Any = None, strategy: Any = None) -> Processes:
    """The processes of the job this one belongs to.

    In this order: a `torch.distributed` process group of more than one process (`group`, or
    the default group); JAX's processes (more than one, on the JAX backend); the workers of a
    multi-worker `tf.distribute` strategy (`strategy`, or the one whose scope is active).
    Otherwise a single process.
    """
    processes = torch_processes(group)
    if processes is not None:
        return processes
    if group is not None:
        raise RuntimeError(
            "`group` names a torch.distributed process group, but torch.distributed is not "
            "initialised: call torch.distributed.init_process_group first."
        )
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        if jax.process_count() > 1:
            return Processes("jax", int(jax.process_count()), int(jax.process_index()))
    elif backend == "tensorflow":
        workers = tf_workers(strategy)
        if workers is not None:
            return workers
    return _SINGLE


def keras_keeps_process_states() -> bool:
    """Whether Keras leaves every process its own metric states (torch: nothing combines
    them), so reads of a model's metrics must combine them. TensorFlow's workers combine
    Keras' variables on read; JAX's processes update them on the global batch."""
    import keras

    return keras.backend.backend() == "torch"


def torch_processes(group: Any = None) -> Processes | None:
    """The processes of a torch.distributed group (`group`, or the default one) when it is
    initialised with more than one process; None otherwise. Never imports torch."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    count = int(dist.get_world_size(group))
    if count < 2:
        return None
    return Processes("torch", count, int(dist.get_rank(group)), group)


def tf_workers(strategy: Any = None) -> Processes | None:
    """The workers of a multi-worker tf.distribute strategy (`strategy`, or the one in
    scope), or None when there is none or it has one worker."""
    if sys.modules.get("tensorflow") is None:  # not imported (or blocked): no strategy
        return None
    import tensorflow as tf

    if strategy is None and tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    if strategy is None:
        # Outside a strategy's scope: the workers TF_CONFIG declares (which is where the
        # multi-worker strategy reads them), with nothing to exchange through.
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        spec, task = config.get("cluster", {}), config.get("task", {})
        me = (task.get("type"), int(task.get("index", 0)))
    else:
        resolver = getattr(strategy, "cluster_resolver", None)
        if resolver is None:
            return None
        spec = resolver.cluster_spec().as_dict()
        me = (resolver.task_type, int(resolver.task_id or 0))
    tasks = [(kind, i) for kind in ("chief", "worker") for i in range(len(spec.get(kind, [])))]
    if len(tasks) < 2 or me not in tasks:
        return None
    return Processes("tensorflow", len(tasks), tasks.index(me), strategy)


def strategy_of(value: Any) -> Any:
    """The tf.distribute strategy a distributed variable's value belongs to (None otherwise)."""
    if sys.modules.get("tensorflow") is None:  # not imported (or blocked): no strategy
        return None
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        return getattr(value, "distribute_strategy", None) or getattr(
            value, "_distribute_strategy", None
        )
    return None


# --- words: any array as int32, and back -------------------------------------------------------
def _to_words(x: np.ndarray) -> np.ndarray:
    raw = np.frombuffer(np.ascontiguousarray(x).tobytes(), np.uint8)
    padded = np.zeros(-(-raw.size // 4) * 4, np.uint8)
    padded[: raw.size] = raw
    return padded.view(np.int32)


def _from_words(words: np.ndarray, dtype: np.dtype, shape: Sequence[int]) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    raw = np.ascontiguousarray(words, np.int32).view(np.uint8)[:n]
    return raw.view(dtype).reshape(shape)


# --- the engines -------------------------------------------------------------------------------
def _torch_gather(words: np.ndarray, group: Any, count: int) -> np.ndarray:
    import torch
    import torch.distributed as dist

    tensor = torch.from_numpy(words)
    if dist.get_backend(group) == "nccl":  # NCCL moves CUDA tensors only
        tensor = tensor.to(torch.device("cuda", torch.cuda.current_device()))
    out = [torch.empty_like(tensor) for _ in range(count)]
    dist.all_gather(out, tensor, group=group)
    return np.stack([t.cpu().numpy() for t in out])


def _jax_gather(words: np.ndarray) -> np.ndarray:
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(words, tiled=False))


def _tf_gather(words: np.ndarray, strategy: Any, count: int) -> np.ndarray:
    import tensorflow as tf

    if strategy is None:
        raise RuntimeError(
            "tf.distribute workers exchange data through their strategy: do this inside "
            "`strategy.scope()` (TF_CONFIG names the workers, but no strategy is in scope)."
        )
    local = len(strategy.extended.worker_devices)
    empty = np.zeros((0, words.size), np.int32)
    mine = words[None]

    def value(ctx: Any) -> Any:
        # This worker's first replica carries the vector, the others nothing.
        first = ctx.replica_id_in_sync_group % local == 0
        return tf.constant(mine if first else empty)

    values = strategy.experimental_distribute_values_from_function(value)
    out = np.asarray(strategy.gather(values, axis=0))
    if out.shape[0] != count:
        raise RuntimeError(
            f"Gathering over {count} tf.distribute workers returned {out.shape[0]} rows."
        )
    return out
