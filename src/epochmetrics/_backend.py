"""The few places where the Keras backends differ in ways that matter to exact metrics."""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np
from keras import ops

from epochmetrics import _ops
from epochmetrics._ops import on_host

__all__ = [
    "accumulate",
    "argmax_with_nan",
    "bucket_batch",
    "compile_eager",
    "cumsum",
    "is_concrete",
    "is_torch",
    "read_parts",
    "result_dtype",
    "scatter_add",
    "to_torch",
]


def result_dtype() -> str:
    """Float dtype for turning counts into results.

    float64 wherever the backend has it, so counts up to 2**48 convert exactly. JAX runs in
    32-bit unless x64 is enabled (globally, or by `float64_scope`); inside compiled JAX steps
    we use float32 and formulas that stay reasonably conditioned in float32.
    """
    if keras.backend.backend() == "jax" and not on_host():
        import jax

        return "float64" if jax.config.read("jax_enable_x64") else "float32"
    return "float64"


def float64_scope(state: Any) -> contextlib.AbstractContextManager[Any]:
    """Where float64 is missing (JAX without x64) but `state` is concrete, switch x64 on locally.

    Keras computes the epoch's logs (History, callbacks, `evaluate`) from concrete metric
    state after the compiled steps, so those values get float64 even on 32-bit JAX; only the
    per-batch progress-bar values computed inside the compiled step stay float32.
    """
    if keras.backend.backend() == "jax" and is_concrete(state):
        import jax

        if not jax.config.read("jax_enable_x64"):
            return jax.enable_x64(True)
    return contextlib.nullcontext()


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
    if keras.backend.backend() == "torch" and not on_host():
        import torch

        return torch.cumsum(x, dim=axis)
    return _ops.ops.cumsum(x, axis=axis)


def is_torch() -> bool:
    return keras.backend.backend() == "torch"


def to_torch(value: Any, like: Any) -> Any:
    """A host result (NumPy array) as a torch tensor on `like`'s device."""
    import torch

    return torch.from_numpy(np.array(value)).to(like.device)


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
    n = len(y_true)
    size = max(8, 1 << max(n - 1, 0).bit_length())
    if n == 0 or size == n or len(y_pred) != n:
        return y_true, y_pred, sample_weight
    weight = (
        np.ones(n, np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
    )
    if weight.shape[0] != n:
        return y_true, y_pred, sample_weight  # let the shape check report it

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.repeat(a[:1], size - n, axis=0)])

    zeros = np.zeros((size - n, *weight.shape[1:]), np.float32)
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


def _two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    # Knuth's TwoSum: s + err == a + b exactly, for any float32 a and b, with no branch.
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err


def accumulate(hi: Any, lo: Any, x: Any) -> tuple[Any, Any]:
    """Add `x` to the compensated float32 sum `hi + lo` and return the new `(hi, lo)`.

    The pair carries about 48 significant bits: integer counts stay exact up to 2**48 per cell
    (a plain float32 counter stops at 2**24), and weighted sums do not drift over an epoch.
    Every operation is elementwise, so it runs inside XLA, tf.function and torch unchanged.
    """
    s, err = _two_sum(hi, x)
    lo = lo + err
    # Renormalise so |lo| stays below one unit in the last place of hi.
    hi2 = s + lo
    lo2 = lo - (hi2 - s)
    return hi2, lo2
