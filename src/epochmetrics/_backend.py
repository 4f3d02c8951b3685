"""The few places where the Keras backends differ in ways that matter to exact metrics."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["accumulate", "is_concrete", "result_dtype", "scatter_add"]


def result_dtype() -> str:
    """Float dtype for turning counts into results.

    float64 wherever the backend has it, so counts up to 2**48 convert exactly. JAX runs in
    32-bit unless the user enabled x64; there we use float32 and formulas that stay well
    conditioned in float32 (ratios of counts, never differences of squared totals).
    """
    if keras.backend.backend() == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return "float64"


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
