"""The few places where the Keras backends differ in ways that matter to exact metrics."""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import host as _host

__all__ = [
    "argmax_with_nan",
    "bucket_batch",
    "compile_eager",
    "cumsum",
    "from_host",
    "is_concrete",
    "is_torch",
    "read_parts",
    "scatter_add",
    "to_host",
    "eager_x64",
    "float64_available",
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


def eager_x64() -> contextlib.AbstractContextManager[Any]:
    """Around an eager call (never inside a traced step): float64 on JAX too.

    An eager update then sums the caller's weights in float64 (a 64-bit integer or float64
    weight would be rounded to 32 bits on the way into JAX otherwise). Only whole calls go in
    this scope: switching x64 inside a trace mixes 32- and 64-bit versions of JAX's own
    compiled helpers (an `argmax` traced both ways fails to lower).
    """
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.read("jax_enable_x64"):
            return jax.enable_x64(True)
    return contextlib.nullcontext()


def wide_float() -> str:
    """The dtype for weighted sums: float64 where it exists (see `float64_available`)."""
    return "float64" if float64_available() else "float32"


def traced_result_dtype() -> str:
    """Dtype of results computed inside a compiled step (see `float64_available`)."""
    return wide_float()


def to_host(x: Any) -> np.ndarray:
    """A concrete tensor (any backend) or array as a NumPy array; floats narrower than 32 bits
    become float32 (exact). See `_host.to_numpy`."""
    return _host.to_numpy(x)


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


def cumsum(x: Any, axis: int = -1) -> Any:
    """`ops.cumsum` that keeps float64 (Keras 3.15's torch cumsum returns float32 for it)."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.cumsum(x, dim=axis)
    return ops.cumsum(x, axis=axis)


def is_torch() -> bool:
    return keras.backend.backend() == "torch"


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


def compile_eager(fn: Any, *, fixed: int = 2) -> Any:
    """`fn` compiled for repeated eager calls (jax.jit or tf.function); False on torch.

    The first `fixed` arguments (the state) keep their shapes; the others (the batch) may change
    size along their first axis. On TensorFlow one function is traced per input structure with
    that axis left open (as `fit` traces it), so a new batch size does not retrace. On JAX,
    `bucket_batch` keeps the number of shapes small. torch's eager dispatch is already cheap.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend != "tensorflow":
        return False
    import tensorflow as tf

    traced: dict[Any, Any] = {}

    def call(*args: Any) -> Any:
        present = tuple(a is not None for a in args)
        tensors = [tf.convert_to_tensor(a) for a in args if a is not None]
        key = (
            present,
            tuple(
                (t.dtype, tuple(t.shape)) if i < fixed else (t.dtype, tuple(t.shape[1:]))
                for i, t in enumerate(tensors)
            ),
        )
        if key not in traced:
            signature = [
                tf.TensorSpec(
                    t.shape if i < fixed or t.shape.rank == 0 else [None, *t.shape[1:]], t.dtype
                )
                for i, t in enumerate(tensors)
            ]

            def inner(*given: Any) -> Any:
                it = iter(given)
                return fn(*(next(it) if p else None for p in present))

            traced[key] = tf.function(inner, input_signature=signature)
        return traced[key](*tensors)

    return call


def bucket_batch(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """On JAX, pad host (NumPy) batches to a power-of-two length with zero-weight rows.

    A compiled JAX function is specialised to its input shapes; without buckets every new batch
    size would compile again. Zero weight removes a sample exactly, and the padding repeats the
    first row so it holds valid labels whenever that row does. Device arrays pass unchanged.
    """
    if keras.backend.backend() != "jax" or not all(
        isinstance(a, (np.ndarray, list, tuple)) for a in (y_true, y_pred)
    ):
        return y_true, y_pred, sample_weight
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 0 or y_pred.ndim == 0:
        return y_true, y_pred, sample_weight  # let the shape check report it
    n = len(y_true)
    size = max(8, 1 << max(n - 1, 0).bit_length())
    # Past a million rows a compile per shape costs less than padding (and its memory).
    if n == 0 or size == n or len(y_pred) != n or n > 2**20:
        return y_true, y_pred, sample_weight
    try:
        weight = np.broadcast_to(
            np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64),
            (n,) if np.ndim(sample_weight) < 2 else (n, *np.shape(sample_weight)[1:]),
        )
    except (ValueError, TypeError):
        return y_true, y_pred, sample_weight  # let the checks report it

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.repeat(a[:1], size - n, axis=0)])

    zeros = np.zeros((size - n, *weight.shape[1:]))
    return pad(y_true), pad(y_pred), np.concatenate([weight, zeros])


def argmax_with_nan(scores: Any) -> tuple[Any, Any]:
    """(argmax over the last axis as int32, whether the row holds a NaN), reading scores once.

    JAX and torch take NaN as the maximum, so the picked score is NaN exactly when the row has
    one (torch returns both from one `max` pass); TensorFlow's argmax skips NaN, so there the
    row maximum, which propagates NaN, is read instead.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        values, index = torch.max(scores, dim=-1)
        return index.to(torch.int32), torch.isnan(values)
    index = ops.cast(ops.argmax(scores, axis=-1), "int32")
    if backend == "tensorflow":
        top = ops.max(scores, axis=-1)
    else:
        top = ops.reshape(ops.take_along_axis(scores, ops.expand_dims(index, -1), axis=-1), (-1,))
    return index, ops.isnan(top)


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
