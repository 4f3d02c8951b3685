"""A model's prediction of one batch, B rows out for B rows in, under every engine.

`model.predict_on_batch` is right on one device. Under a distribution it is not what the
evaluator needs:

- `tf.distribute` strategies run the whole batch on every replica and concatenate the copies
  (R x B rows for B); the multi-worker strategy also gathers every worker's rows.
- JAX under `keras.distribution` passes the batch replicated (every device predicts every
  row), and with several processes returns arrays that span other processes' devices.

`Predictor(model)` predicts each row once, split across the devices where the distribution
allows: on `tf.distribute`, contiguous parts of the batch on the local replicas
(`strategy.run`); on JAX, one compiled forward pass on the batch sharded along the
distribution's batch axis, padded to a multiple of its size. With several JAX processes that
pass is one program for all of them, so every process must call `predict` the same number of
times (`lockstep`): the evaluator then agrees on each step with the others first
(`step_rows`), and a process out of data predicts an empty batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from epochmetrics._backend import collectives
from epochmetrics._backend import host as _host

__all__ = ["Predictor"]

_CACHE: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _numpy_tree(outputs: Any) -> Any:
    return keras.tree.map_structure(_host.to_numpy, outputs)


class Predictor:
    """Predicts batches of host arrays with `model`, one row out per row in.

    Attributes:
        lockstep: every process must call `predict` as often as the others (JAX processes).
        processes: the processes the prediction spans (for `lockstep`).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.lockstep = False
        self.processes = collectives.single()
        self._fn: Callable[[Any, int], Any] = self._plain
        backend = keras.backend.backend()
        if backend == "tensorflow":
            strategy = getattr(model, "distribute_strategy", None)
            if strategy is not None and int(strategy.num_replicas_in_sync) > 1:
                self._fn = _TFReplicas(model, strategy)
        elif backend == "jax" and keras.distribution.distribution() is not None:
            self._fn = _JAXSharded(model)
            self.processes = collectives.current()
            self.lockstep = self.processes.several

    def predict(self, x: Any, rows: int) -> Any:
        """The model's outputs for batch `x` of `rows` rows, as NumPy arrays of `rows` rows."""
        more, out = self.step(x, rows)
        assert more
        return out

    def step(self, x: Any, rows: int) -> tuple[bool, Any]:
        """One step: `(True, outputs)`; in lockstep, `x` is None on a process out of data,
        which gets `(True, None)` while others go on and `(False, None)` once all are out."""
        if self.lockstep:
            return self._fn.step(x, rows)  # type: ignore[attr-defined,no-any-return]
        return True, self._fn(x, rows)

    def _plain(self, x: Any, rows: int) -> Any:
        return _numpy_tree(self.model.predict_on_batch(x))


class _TFReplicas:
    """tf.distribute: contiguous parts of the batch on this process's replicas."""

    def __init__(self, model: Any, strategy: Any) -> None:
        import tensorflow as tf

        self.strategy = strategy
        self.local = len(strategy.extended.worker_devices)

        def call(x: Any) -> Any:
            return model(x, training=False)

        @tf.function(reduce_retracing=True)
        def step(values: Any) -> Any:
            return strategy.run(call, args=(values,))

        self.step = step

    def __call__(self, x: Any, rows: int) -> Any:
        parts = [collectives.bounds(rows, self.local, r) for r in range(self.local)]

        def value(ctx: Any) -> Any:
            start, stop = parts[ctx.replica_id_in_sync_group % self.local]
            return keras.tree.map_structure(lambda a: a[start:stop], x)

        values = self.strategy.experimental_distribute_values_from_function(value)
        out = self.step(values)

        def join(value: Any) -> Any:  # this process's replicas, in order: the batch's rows
            parts = self.strategy.experimental_local_results(value)
            return np.concatenate([_host.to_numpy(t) for t in parts], axis=0)

        import tensorflow as tf

        return tf.nest.map_structure(join, out)


class _JAXSharded:
    """JAX under keras.distribution: one compiled forward pass on the batch sharded along the
    distribution's batch axis (every process's rows in one program with several processes)."""

    def __init__(self, model: Any) -> None:
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        distribution = keras.distribution.distribution()
        device_mesh = distribution.device_mesh
        self.mesh = Mesh(np.asarray(device_mesh.devices), tuple(device_mesh.axis_names))
        axis = distribution.batch_dim_name
        self.ways = int(self.mesh.shape[axis]) if axis is not None else 1
        self.sharding = lambda ndim: NamedSharding(
            self.mesh, PartitionSpec(axis, *([None] * (ndim - 1)))
        )
        self.processes = collectives.current()
        self.model = model

        def forward(trainable: Any, non_trainable: Any, x: Any) -> Any:
            outputs, _ = model.stateless_call(trainable, non_trainable, x, training=False)
            return outputs

        self.forward = jax.jit(forward)

    def pad_rows(self, rows: int) -> int:
        """Rows each process feeds for a step whose largest batch has `rows` rows."""
        ways = max(1, -(-self.ways // self.processes.count))
        return max(ways, -(-rows // ways) * ways)

    def __call__(self, x: Any, rows: int) -> Any:
        import jax

        pad = self.pad_rows(rows)  # one process (several go through `step`)
        batch = keras.tree.map_structure(lambda a: _pad(a, pad), x)
        sharded = keras.tree.map_structure(
            lambda a: jax.device_put(a, self.sharding(a.ndim)), batch
        )
        out = self._run(sharded)
        return keras.tree.map_structure(lambda o: np.asarray(o)[:rows], out)

    def _run(self, batch: Any) -> Any:
        model = self.model
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return self.forward(trainable, non_trainable, batch)

    def step(self, x: Any, rows: int) -> tuple[bool, Any]:
        """One step of every process: agree on the rows and the input's form, feed each
        process's rows as its part of one global batch, gather the outputs."""
        import jax
        from jax.experimental import multihost_utils

        p = self.processes
        out_of_data = x is None
        spec = (
            None
            if x is None
            else keras.tree.map_structure(
                lambda a: (tuple(a.shape[1:]), np.asarray(a).dtype.str), x
            )
        )
        agreed = p.gather_objects((-1 if x is None else rows, spec))
        if all(r < 0 for r, _ in agreed):
            return False, None
        spec = next(s for _, s in agreed if s is not None)
        pad = self.pad_rows(max(r for r, _ in agreed))
        if out_of_data:
            rows = 0
            x = keras.tree.map_structure(
                lambda s: np.zeros((0, *s[0]), np.dtype(s[1])), spec, is_leaf=_is_spec
            )
        local = keras.tree.map_structure(lambda a: _pad(a, pad), x)
        total = pad * p.count

        def global_array(a: np.ndarray) -> Any:
            shape = (total, *a.shape[1:])
            sharding = self.sharding(a.ndim)
            mine = slice(p.index * pad, (p.index + 1) * pad)
            index_map = sharding.addressable_devices_indices_map(shape)
            if all(_within(idx, mine, total) for idx in index_map.values()):
                # This process's devices hold only its own rows: no input leaves it.
                def local_rows(idx: Any) -> np.ndarray:
                    r = idx[0].indices(total)
                    rows = (slice(r[0] - mine.start, r[1] - mine.start),)
                    return a[rows + tuple(idx)[1:]]

                return jax.make_array_from_callback(shape, sharding, local_rows)
            everyone, _ = p.gather_rows(a)  # another layout: every process feeds all rows
            assert everyone is not None
            return jax.make_array_from_callback(shape, sharding, lambda idx: everyone[idx])

        out = self._run(keras.tree.map_structure(global_array, local))
        full = multihost_utils.process_allgather(out, tiled=True)
        if out_of_data:
            return True, None
        start = p.index * pad
        return True, keras.tree.map_structure(lambda o: np.asarray(o)[start : start + rows], full)


def _is_spec(s: Any) -> bool:
    return isinstance(s, tuple) and len(s) == 2 and isinstance(s[1], str)


def _within(index: Any, mine: slice, total: int) -> bool:
    """Whether a device's index (its slices of a global array) lies in rows `mine`."""
    start, stop, _ = index[0].indices(total)
    return mine.start <= start and stop <= mine.stop


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    a = np.asarray(a)
    if len(a) == rows:
        return a
    out = np.zeros((rows, *a.shape[1:]), a.dtype)
    out[: len(a)] = a
    return out
