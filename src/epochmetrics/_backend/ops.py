"""The few places where the Keras backends differ in ways that matter to exact metrics."""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
from keras import ops

from epochmetrics._backend.keras_internals import in_stateless_scope

__all__ = [
    "argmax",
    "argmax_with_nan",
    "assign",
    "assign_host",
    "value",
    "column_sums",
    "cumsum",
    "from_host",
    "is_concrete",
    "is_shape_only",
    "read_parts",
    "scatter_add",
    "float64_available",
    "float_bits",
    "read",
    "replica_count",
    "traced_result_dtype",
    "wide_float",
]


def float64_available() -> bool:
    """Whether float64 tensors exist here: always on TensorFlow and torch; on JAX only with x64
    (enabled globally, or by `eager_x64` around an eager call). Inside a compiled step of
    32-bit JAX they do not: sums there use int32 counts and a float32 pair (see `_sums`)."""
    if keras.backend.backend() == "jax":
        import jax

        return bool(jax.config.read("jax_enable_x64"))
    return True


def wide_float() -> str:
    """The dtype for weighted sums: float64 where it exists (see `float64_available`)."""
    return "float64" if float64_available() else "float32"


def traced_result_dtype() -> str:
    """Dtype of results computed inside a compiled step (see `float64_available`)."""
    return wide_float()


def from_host(values: np.ndarray, keys: tuple[str, ...] | None = None) -> Any:
    """A host (NumPy float64) result as the backend's values: one, or one scalar per key.

    TensorFlow and torch get float64 tensors (one transfer, then a cheap unstack). JAX gets the
    NumPy values themselves: a JAX device scalar costs ~0.1 ms to create and splitting a device
    vector compiles a slice per chunk (a 1,000-key result took seconds), while NumPy float64
    scalars work wherever JAX arrays do (`float()`, `jnp` functions, `keras.ops`).
    """
    backend = keras.backend.backend()
    values = np.asarray(values, dtype=np.float64)
    if backend == "jax":
        if keys is None:
            return values[()] if values.ndim == 0 else values
        return dict(zip(keys, list(values), strict=True))
    if backend == "torch":
        import torch

        tensor = torch.from_numpy(values)
        if keys is None:
            return tensor
        return dict(zip(keys, tensor.unbind(), strict=True))
    tensor = keras.ops.convert_to_tensor(values)
    if keys is None:
        return tensor
    return dict(zip(keys, keras.ops.unstack(tensor, num=len(keys)) if keys else [], strict=True))


def is_concrete(x: Any) -> bool:
    """Whether `x` holds values we may read on the host (not a symbolic or traced tensor)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.executing_eagerly()) and not isinstance(x, keras.KerasTensor)
    if backend == "torch":
        import torch

        return not torch.compiler.is_compiling()
    return True


def is_shape_only(x: Any) -> bool:
    """Whether `x` carries a shape but no values: torch's "meta" tensors, which Keras' torch
    backend passes first when it infers output shapes (e.g. building compiled metrics)."""
    return getattr(getattr(x, "device", None), "type", None) == "meta"


def cumsum(x: Any, axis: int = -1) -> Any:
    """`ops.cumsum` that keeps float64 (Keras 3.15's torch cumsum returns float32 for it)."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.cumsum(x, dim=axis)
    return ops.cumsum(x, axis=axis)


def _own_tensor(variable: Any) -> Any:
    """On torch outside a stateless scope, the tensor a Keras variable keeps its value in (None
    elsewhere): what `variable.value` returns there, without the scope, autocast and device
    look-ups it repeats per call (autocast never applies to our float32 sums)."""
    if keras.backend.backend() != "torch" or in_stateless_scope():
        return None
    return getattr(variable, "_value", None)


def own_tensor(variable: Any) -> Any:
    """On torch outside a stateless scope, the tensor a Keras variable keeps its value in, for
    kernels that update a state in place (None elsewhere: assign a new value instead)."""
    return _own_tensor(variable)


def value(variable: Any) -> Any:
    """`variable.value`; on torch, its own tensor (see `_own_tensor`): ~3 us less per read."""
    own = _own_tensor(variable)
    return variable.value if own is None else own


def assign(variable: Any, value: Any) -> None:
    """`variable.assign(value)`, for a tensor of the variable's shape and dtype on its device.

    On torch, outside a stateless scope, that is the copy Keras' assign ends in
    (`Variable._direct_assign`), into the variable's own tensor, without the conversion and
    checks Keras repeats per call: ~7 us of a small batch's update, twice per update.
    """
    own = _own_tensor(variable)
    if own is None:
        if not _assign_local_replicas(variable, value):
            variable.assign(value)
    else:
        # A state that carried gradients would pull the variable into autograd's graph.
        own.copy_(value.detach() if value.requires_grad else value)


def _assign_local_replicas(variable: Any, value: Any) -> bool:
    """TensorFlow: assign a metric variable of a `tf.distribute` strategy outside a replica.

    TensorFlow divides such a value among all the replicas of all the workers (each worker is
    assumed to assign the same global value). A metric assigned eagerly holds its own
    process's state, so it goes whole to this process's first replica and the others get
    zeros: the replicas' sum, which every read takes (`read_parts`), is the value. Returns
    whether it assigned (False: not such a variable)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    v = variable.value
    if not isinstance(v, tf.distribute.DistributedValues) or (
        getattr(v, "synchronization", None) != tf.VariableSynchronization.ON_READ
    ):
        return False
    if not (tf.distribute.in_cross_replica_context() or not tf.distribute.has_strategy()):
        return False
    parts = v.distribute_strategy.experimental_local_results(v)
    parts[0].assign(value)
    for part in parts[1:]:
        part.assign(tf.zeros_like(part))
    return True


def assign_host(variable: Any, value: np.ndarray) -> None:
    """`variable.assign` of a host (NumPy) value, replicas handled as `assign` does."""
    if not _assign_local_replicas(variable, value):
        variable.assign(value)


def read(variable: Any) -> Any:
    """A variable's current value as a tensor (TensorFlow ops such as take_along_axis need one)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.convert_to_tensor(variable.value)
    return ops.convert_to_tensor(variable.value)


def replica_count() -> int:
    """How many replicas a data-parallel distribution splits each batch over (1 without one):
    tf.distribute's replicas in sync, or the devices of keras.distribution's mesh on JAX."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.distribute.has_strategy():
            return int(tf.distribute.get_strategy().num_replicas_in_sync)
    elif backend == "jax":
        mesh = getattr(keras.distribution.distribution(), "device_mesh", None)
        if mesh is not None:
            return int(np.size(mesh.devices))
    return 1


def float_bits(x: Any) -> Any:
    """The int32 bit pattern of float32 `x` (monotone in x for x >= 0).

    With each backend's own bitcast: `keras.ops.view` is new in Keras 3.12, and on TensorFlow
    it checks shapes with Python bools, which fails on a symbolic batch size."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.bitcast(x, tf.int32)
    if backend == "jax":
        import jax

        return jax.lax.bitcast_convert_type(x, "int32")
    if backend == "torch":
        import torch

        return x.view(torch.int32)
    return ops.view(x, "int32")


def float_from_bits(bits: Any) -> Any:
    """The float32 whose bit pattern is int32 `bits` (the inverse of `float_bits`, with the
    same bitcasts)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.bitcast(bits, tf.float32)
    if backend == "jax":
        import jax

        return jax.lax.bitcast_convert_type(bits, "float32")
    if backend == "torch":
        import torch

        return bits.view(torch.float32)
    return ops.view(bits, "float32")


def read_parts(variable: Any) -> list[Any]:
    """Tensors whose sum is `variable`'s value: one per replica where TF keeps replicas apart.

    Metric variables are synced on read with SUM aggregation: under a `tf.distribute` strategy
    each replica keeps its own copy, and reading it outside a replica context adds the copies
    in float32. That rounds the `hi` half of a compensated pair once a total passes 2**24, so
    callers add the parts themselves, in the result dtype. Elsewhere (one device, inside a
    replica's step, other backends): `[value]`.
    """
    value = variable.value
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(value, tf.distribute.DistributedValues) and (
            tf.distribute.in_cross_replica_context() or not tf.distribute.has_strategy()
        ):
            return [
                ops.convert_to_tensor(v)
                for v in value.distribute_strategy.experimental_local_results(value)
            ]
    return [ops.convert_to_tensor(value)]


def argmax_with_nan(scores: Any) -> tuple[Any, Any]:
    """(argmax over the last axis as int32, whether the row holds a NaN), reading scores once.

    The row maximum propagates NaN, so it is NaN exactly when the row has one (TensorFlow's
    argmax skips NaN, JAX's picks it: the maximum decides on both).
    """
    values, index = top_1(scores)
    return index, ops.isnan(values)


def top_1(x: Any) -> tuple[Any, Any]:
    """`(row maximum, int32 argmax)` over the last axis, in one pass where the backend has one.

    torch returns both from one `max` (and, unlike `keras.ops.max`, takes an empty batch); on
    XLA the argmax and the max fuse into one pass (reading the picked score back with a gather
    took 10x longer on CPU for dense batches). Ties go to the first index; a NaN is the maximum
    (its row's first NaN is the argmax on JAX and torch).
    """
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        values, index = torch.max(x, dim=-1)
        return values, index.to(torch.int32)
    if backend == "jax":
        return _jax_top_1(x)
    return ops.max(x, axis=-1), argmax(x)


# XLA's CPU argmax keeps a fast loop up to about 24 classes and is 10-20x slower per class
# beyond (524,288 rows, one thread: 3.4 ms at 21 classes, 48 ms at 28, 331 ms at 150). Past
# that it is cut into slices of this many classes, whose results are combined; each slice adds
# to the compile time (0.36 s at 150 classes), so past `_SLICED_UP_TO` classes
# `lax.top_k(x, 1)` takes over (2x faster than argmax there, no extra compile time).
_SLICE = 21
_SLICED_UP_TO = 168


def _jax_top_1(x: Any) -> tuple[Any, Any]:
    import jax
    import jax.numpy as jnp

    c = int(x.shape[-1])
    if jax.default_backend() != "cpu" or c <= _SLICE:
        return jnp.max(x, axis=-1), jnp.argmax(x, axis=-1).astype("int32")
    if c > _SLICED_UP_TO:
        # Ranks NaN highest, as argmax does, and -0.0 below 0.0.
        values, index = jax.lax.top_k(x, 1)
        return values[..., 0], index[..., 0].astype("int32")
    first = x[..., :_SLICE]
    best, index = jnp.max(first, axis=-1), jnp.argmax(first, axis=-1).astype("int32")
    for start in range(_SLICE, c, _SLICE):  # 150 classes: 54 ms against 331 (argmax), 141 (top_k)
        part = x[..., start : start + _SLICE]
        value, at = jnp.max(part, axis=-1), jnp.argmax(part, axis=-1).astype("int32") + start
        # A later slice wins only with a larger value, or the row's first NaN.
        take = (value > best) | (jnp.isnan(value) & ~jnp.isnan(best))
        best, index = jnp.where(take, value, best), jnp.where(take, at, index)
    return best, index


def argmax(x: Any) -> Any:
    """int32 argmax over the last axis, with the backend's own op.

    `keras.ops.argmax` first rewrites every -0.0 of a float input (a workaround for denormals
    on XLA CPU), a pass that made it 10x slower on dense batches. Ties go to the first index;
    -0.0 and 0.0 tie as in NumPy, except on JAX's CPU past 168 classes (see `_jax_top_1`).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_top_1(x)[1]
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.argmax(x, axis=-1, output_type=tf.int32)
    if backend == "torch":
        import torch

        return torch.argmax(x, dim=-1).to(torch.int32)
    return ops.cast(ops.argmax(x, axis=-1), "int32")


def scatter_add(values: Any, indices: Any, length: int) -> Any:
    """`out[indices[i]] += values[i]` into a zero vector of static `length`; one fused pass.

    `keras.ops.bincount` cannot be traced on JAX (its output length depends on the data) and
    `keras.ops.segment_sum` on torch rebuilds index tensors on every call, so torch gets a
    direct `index_add_`, which needs no host round trip on any device.
    """
    if keras.backend.backend() == "torch":
        import torch

        out = torch.zeros(length, dtype=values.dtype, device=values.device)
        return out.index_add_(0, indices.to(torch.int64), values)
    return ops.segment_sum(values, indices, num_segments=length)


def column_sums(columns: list[Any]) -> list[Any]:
    """Each `(N, D)` column summed over its rows, `(D,)`: the sums of one batch, in one pass
    over the inputs where the backend needs it said (see `_jax_column_sums`)."""
    if keras.backend.backend() == "jax" and len(columns) > 1 and _jax_blocks_pay(columns):
        return _jax_column_sums(columns)
    return [ops.sum(c, axis=0) for c in columns]


# XLA's CPU backend hands a sum to a library (YNNPACK) that reads a written-out operand: a
# column that feeds several sums (a residual about the state's shift, `functional._moments`)
# is first stored, then read once per sum. One variadic reduction over blocks of `_BLOCK`
# rows stays a fused loop that reads the inputs once and writes N / 16 partial sums per column,
# which the library then sums pairwise. At 65,536 rows (one thread), R^2's jitted update went
# from 1.26-1.27x Keras' R2Score to 0.30-0.35x (benchmarks/RESULTS.md). Summed in order within
# a block, the rounding is that of the pairwise sum it replaces (relative 1e-7 at 1e6 float32 rows,
# offsets up to 1e6: tests/test_regression.py); 8-row blocks were as fast, 32 to 128 rows round
# 2-8x more. Below `_BLOCKED_FROM` rows the separate sums are about as fast, and so is one sum
# alone (MSE; MAE and MAPE were 10-80% slower in blocks); on XLA without the library (jax 0.4)
# the blocks cost 1.2-2x, so they are used only where it is.
_BLOCK = 16
_BLOCKED_FROM = 8192


def _jax_blocks_pay(columns: list[Any]) -> bool:
    import jax

    rows = columns[0].shape[0]
    if rows is None or int(rows) < _BLOCKED_FROM or jax.default_backend() != "cpu":
        return False
    return _xla_library_sums()


@functools.cache
def _xla_library_sums() -> bool:
    """Whether XLA's CPU backend hands large sums to YNNPACK: one sum compiled once per
    process, its program read (the XLA version and `--xla_cpu_experimental_ynn_fusion_type`
    decide it; below some thousands of rows XLA sums by itself)."""
    import jax
    import jax.numpy as jnp

    column = jax.ShapeDtypeStruct((65536, 1), jnp.float32)
    program = jax.jit(lambda x: jnp.sum(x * x, axis=0)).lower(column).compile().as_text()
    return "ynn" in (program or "").lower()


def _jax_column_sums(columns: list[Any]) -> list[Any]:
    from jax import lax

    rows, d = int(columns[0].shape[0]), int(columns[0].shape[1])
    head = rows - rows % _BLOCK
    blocks = tuple(ops.reshape(c[:head], (head // _BLOCK, _BLOCK, d)) for c in columns)
    zeros = tuple(ops.zeros((), c.dtype) for c in columns)
    partial = lax.reduce(blocks, zeros, _add_all, (1,))
    sums = [ops.sum(p, axis=0) for p in partial]
    if head < rows:
        sums = [s + ops.sum(c[head:], axis=0) for s, c in zip(sums, columns, strict=True)]
    return sums


def _add_all(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))
