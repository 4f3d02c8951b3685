"""Which direct kernel runs a batch function on the backend in use: the one map.

A metric names the kernel of its batch function in its `Step` (`Step(stat_scores_update,
args, kernel="stat_scores")`); `direct(name)` gives that kernel and the pair `add` that goes
with it, or None where there is none (another backend, or a name without one here). The
caller then runs the generic `keras.ops` function, in the caller's compiled step or compiled
by the runtime. A kernel returns the generic function's sums bit for bit, or None where it
does not apply (the caller runs the generic function then too).

To add one: write it in `torch_kernels.py` (or a module of its own, beside `torch_batch.py`),
name it in `_TORCH` below, give the metric's `Step` that name, and test it bit for bit against
the generic function as `tests/test_torch_kernel.py` does. `in_place(name)` gives the kernels
that add a batch to the state pair in place instead (`torch_ranking.binned`, the binned
ranking state), used by `metrics._sums.update_in_place`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras

__all__ = ["direct", "in_place"]

# Kernel name -> (module of `_backend`, function) on the torch backend.
_TORCH = {
    "stat_scores": ("torch_kernels", "stat_scores"),
    "confusion_matrix": ("torch_kernels", "confusion_matrix"),
    # A kernel of a step that reads the state (`Step.reads_state`): the whole update.
    "regression": ("torch_regression", "update"),
}
# Kernel name -> function of `torch_ranking` that adds a batch to the pair in place.
_TORCH_IN_PLACE = {"binned": "binned"}


@functools.cache
def direct(name: str | None) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """`(kernel, add_pair)` for the kernel `name` on this backend, else None.

    `kernel(*step.args, y_true, y_pred, sample_weight, check=...)` returns one batch's sums
    (or None where it does not apply); `add_pair(hi, lo, sums)` adds them to the state pair.
    """
    if name is None or keras.backend.backend() != "torch" or name not in _TORCH:
        return None
    import importlib

    from epochmetrics._backend import torch_kernels

    module, function = _TORCH[name]
    kernel = getattr(importlib.import_module(f"epochmetrics._backend.{module}"), function)
    return kernel, torch_kernels.add_pair


@functools.cache
def in_place(name: str | None) -> Callable[..., Any] | None:
    """The in-place kernel `name` on this backend, else None: for states a batch touches a
    small part of (the binned ranking histogram: 2K x 19,588 cells, N x K touched), the
    kernel adds the batch to the pair's own tensors where it lands, with the state `add`
    would give bit for bit.

    `kernel(*step.args, hi, lo, y_true, y_pred, sample_weight, check=...)` returns whether it
    applied (False: nothing done, and the caller runs the generic update).
    """
    if name is None or keras.backend.backend() != "torch" or name not in _TORCH_IN_PLACE:
        return None
    from epochmetrics._backend import torch_ranking

    return getattr(torch_ranking, _TORCH_IN_PLACE[name])  # type: ignore[no-any-return]
