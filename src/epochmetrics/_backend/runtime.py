"""Eager execution of update functions: compiled once per pure function and static arguments.

Inside `fit` the caller's compilation (XLA, tf.function) runs our updates. Called directly
(`metric.update_state(...)`, the evaluator), they would run op by op: eager JAX compiles every
primitive for every new input shape (about a second per shape) and eager TensorFlow pays ~15
ms of op dispatch per update. So the update is compiled here, once per `(fn, static)`: `fn` is a
module-level pure function and `static` its hashable configuration (a task spec and options),
never an instance, so two metrics share a compiled update exactly when they compute the same
thing. On torch eager dispatch is cheap and nothing is compiled.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Hashable
from typing import Any

import keras
import numpy as np

__all__ = ["compile_eager", "eager_update", "eager_x64"]

_COMPILED: dict[tuple[Callable[..., Any], Hashable], Any] = {}


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
            # jax.enable_x64 is new in jax 0.8; before, it lives in jax.experimental.
            enable: Any = getattr(jax, "enable_x64", None)
            if enable is None:
                enable = importlib.import_module("jax.experimental").enable_x64
            return enable(True)  # type: ignore[no-any-return]
    return contextlib.nullcontext()


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


def eager_update(
    fn: Callable[..., Any],
    static: Hashable,
    state: tuple[Any, ...],
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
) -> Any:
    """`fn(static, *state, y_true, y_pred, sample_weight)` compiled, or None where it is not.

    None on torch (nothing to compile), and when the compiled call fails (bad shapes surface as
    backend errors inside a compiled graph): the caller then runs `fn` itself on its own
    arrays, which raises the error that names the bad input. Call it inside `eager_x64()`.
    """
    key = (fn, static)
    if key not in _COMPILED:
        n = len(state)

        def call(*args: Any) -> Any:
            return fn(static, *args)

        _COMPILED[key] = compile_eager(call, fixed=n)
    compiled = _COMPILED[key]
    if not compiled:
        return None
    y_true, y_pred, sample_weight = bucket_batch(y_true, y_pred, sample_weight)
    try:
        return compiled(*state, y_true, y_pred, sample_weight)
    except Exception:  # reported by the uncompiled call
        return None
