"""The two array namespaces results are computed in: `keras_ops` and `numpy_ops`.

Results are a few hundred element-wise operations on a vector of O(C) sums. Inside compiled
steps they run as `keras.ops` (`keras_ops`). Eager reads (the epoch's logs, `evaluate`, a
user's `result()`) run in NumPy on the host (`numpy_ops`): eager Keras ops pay 15-100 us of
dispatch each on torch and compile per shape on JAX (a 1,000-class per-class result took over
a minute there), while NumPy on the same float64 sums takes well under a millisecond. Both
namespaces have the `keras.ops` signatures; result code receives one of them as `xp`.

Two rules every result follows are kept here, once: `mean` is a sum over a count in both
namespaces (`keras.ops.mean` computes float64 input in float32 on torch), and `divide` is the
one zero-safe division (scikit-learn's `zero_division`: no epsilon anywhere).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops as _keras_ops

from epochmetrics._backend import ops as _backend

__all__ = ["divide", "keras_ops", "numpy_ops"]


class _NumpyOps:
    """The `keras.ops` functions the result code uses, with the same signatures, on NumPy."""

    all = staticmethod(np.all)
    arange = staticmethod(np.arange)
    argmax = staticmethod(np.argmax)
    concatenate = staticmethod(np.concatenate)
    cumsum = staticmethod(np.cumsum)
    equal = staticmethod(np.equal)
    flip = staticmethod(np.flip)
    isfinite = staticmethod(np.isfinite)
    isnan = staticmethod(np.isnan)
    logical_and = staticmethod(np.logical_and)
    logical_not = staticmethod(np.logical_not)
    logical_or = staticmethod(np.logical_or)
    max = staticmethod(np.max)
    mean = staticmethod(np.mean)
    minimum = staticmethod(np.minimum)
    not_equal = staticmethod(np.not_equal)
    ones_like = staticmethod(np.ones_like)
    reshape = staticmethod(np.reshape)
    shape = staticmethod(np.shape)
    sqrt = staticmethod(np.sqrt)
    stack = staticmethod(np.stack)
    sum = staticmethod(np.sum)
    where = staticmethod(np.where)
    zeros_like = staticmethod(np.zeros_like)

    @staticmethod
    def cast(x: Any, dtype: Any) -> np.ndarray:
        return np.asarray(x).astype(dtype)

    @staticmethod
    def transpose(x: Any) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(x))

    @staticmethod
    def top_1(x: Any) -> tuple[np.ndarray, np.ndarray]:
        return np.max(x, axis=-1), np.argmax(x, axis=-1)

    @staticmethod
    def unstack(x: Any, axis: int = 0) -> list[np.ndarray]:
        return list(np.moveaxis(np.asarray(x), axis, 0))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"epochmetrics' host results have no NumPy version of ops.{name}")


def _mean(x: Any, axis: int | None = None) -> Any:
    """A sum over a count, in the input's dtype: `keras.ops.mean` computes float64 input in
    float32 on torch."""
    if axis is None:
        x, axis = _keras_ops.reshape(x, (-1,)), 0
    total = _keras_ops.sum(x, axis=axis)
    count = x.shape[axis]
    if count is None:  # a dimension known only when the step runs
        return total / _keras_ops.cast(_keras_ops.shape(x)[axis], total.dtype)
    return total / count


class _KerasOps:
    """`keras.ops`, with the functions whose dtype or speed differs by backend routed to
    `_backend` (`argmax` over the last axis only) and `mean` kept in the input's dtype."""

    argmax = staticmethod(lambda x, axis=-1: _backend.argmax(x))  # last axis only
    cumsum = staticmethod(_backend.cumsum)
    mean = staticmethod(_mean)
    top_1 = staticmethod(_backend.top_1)  # (max, argmax) of the last axis

    @staticmethod
    def sums(pairs: list[tuple[Any, Any]]) -> list[Any]:
        """sum_n a[n, d] * b[n, d] (a[n, d] where b is None) of each pair: `(N, D)` -> `(D,)`,
        together (`_backend.ops.column_sums`; direct torch has a BLAS dot)."""
        return _backend.column_sums([a if b is None else a * b for a, b in pairs])

    def __getattr__(self, name: str) -> Any:
        return getattr(_keras_ops, name)


numpy_ops: Any = _NumpyOps()
keras_ops: Any = _KerasOps()


def divide(xp: Any, num: Any, den: Any, zero_division: float = 0.0) -> Any:
    """num / den, and `zero_division` where den is 0 (no epsilon), in namespace `xp`."""
    zero = xp.equal(den, 0)
    return xp.where(
        zero, xp.cast(zero_division, num.dtype), num / xp.where(zero, xp.ones_like(den), den)
    )
