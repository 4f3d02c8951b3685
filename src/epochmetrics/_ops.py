"""`ops`: `keras.ops`, or NumPy while a result is computed on the host.

Results are a few hundred element-wise operations on a vector of O(C) sums. Inside compiled
steps, and for compiled eager reads on JAX and TensorFlow, they run as `keras.ops`. Eager torch
pays 15-100 us of Keras dispatch per op (about 5 ms for a 10-class report, at every training
step, since torch's `fit` reads every metric's result each step), while NumPy on the same
float64 sums takes well under a millisecond. The result modules import `ops` from here;
`host_ops()` switches it to NumPy for the current thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from keras import ops as _keras_ops

__all__ = ["host_ops", "on_host", "ops"]


class _NumpyOps:
    """The `keras.ops` functions the result code uses, with the same signatures, on NumPy."""

    arange = staticmethod(np.arange)
    argmax = staticmethod(np.argmax)
    concatenate = staticmethod(np.concatenate)
    cumsum = staticmethod(np.cumsum)
    equal = staticmethod(np.equal)
    isnan = staticmethod(np.isnan)
    logical_and = staticmethod(np.logical_and)
    logical_not = staticmethod(np.logical_not)
    logical_or = staticmethod(np.logical_or)
    max = staticmethod(np.max)
    ones_like = staticmethod(np.ones_like)
    reshape = staticmethod(np.reshape)
    sqrt = staticmethod(np.sqrt)
    stack = staticmethod(np.stack)
    sum = staticmethod(np.sum)
    where = staticmethod(np.where)
    zeros_like = staticmethod(np.zeros_like)

    @staticmethod
    def cast(x: Any, dtype: Any) -> np.ndarray:
        return np.asarray(x).astype(dtype)

    @staticmethod
    def unstack(x: Any, axis: int = 0) -> list[np.ndarray]:
        return list(np.moveaxis(np.asarray(x), axis, 0))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"epochmetrics' host results have no NumPy version of ops.{name}")


class _Ops(threading.local):
    namespace: Any = _keras_ops

    def __getattr__(self, name: str) -> Any:
        return getattr(self.namespace, name)


ops: Any = _Ops()
_NUMPY = _NumpyOps()


def on_host() -> bool:
    """Whether `ops` is NumPy here (results on the host are always float64)."""
    return ops.namespace is _NUMPY


@contextlib.contextmanager
def host_ops() -> Iterator[None]:
    """Within the block (this thread), `ops` is NumPy; 0/0 and x/0 give NaN/inf silently, as
    they do in the backends."""
    saved = ops.namespace
    ops.namespace = _NUMPY
    try:
        with np.errstate(all="ignore"):
            yield
    finally:
        ops.namespace = saved
