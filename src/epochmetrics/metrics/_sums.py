"""The state of every sum metric: a float32 pair `(hi, lo)` holding about 48 significant bits.

Why a pair: float32 stops counting at 2**24; JAX without x64 has no float64 variables; and
data-parallel strategies add variables replica by replica. Integer counts stay exact up to
2**48 per cell and weighted sums do not drift. Only this module knows how the pair is made.

A batch's sums arrive as int32 counts (unweighted batches: exact to 2**31 per cell) or as
weighted sums in float64 (float32 inside compiled steps of 32-bit JAX, the one place without
float64). Where float64 exists the pair is added to in float64 and split back; in 32-bit JAX
steps with float32 error-free transformations (TwoSum), an int32 count first split exactly
into two float32 halves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import host as _host
from epochmetrics._backend import kernels as _kernels
from epochmetrics._backend import ops as _backend
from epochmetrics.functional._args import INVALID_KINDS
from epochmetrics.metrics._portable import Portable

__all__ = [
    "PortableSums",
    "Step",
    "add",
    "has_in_place",
    "host_split",
    "host_total",
    "pair_of",
    "read_total",
    "split",
    "traced_total",
    "update",
    "update_in_place",
]


class Step(NamedTuple):
    """A batch function and its static arguments: `fn(*args, y_true, y_pred, sample_weight)`
    returns one batch's sums. Hashable, so compiled updates are shared by equal steps.
    `kernel` names the direct kernel that computes the same sums on some backends (the map is
    `_backend.kernels`), or None. `reads_state`: `fn(*args, state, y_true, ...)` also reads
    the state (the pair added, in the wide float), and its kernel takes `(hi, lo)` and
    returns the whole update `(hi, lo, invalid)`."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kernel: str | None = None
    reads_state: bool = False


def update(
    step: Step,
    hi: Any,
    lo: Any,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    *,
    check: bool = True,
) -> Any:
    """The pair plus one batch: `(hi, lo, the batch's invalid counts)`. A pure function.

    `check=False`: invalid inputs are counted, never read on the host (see `_format`).
    The step's direct kernel runs where the backend has one and it applies
    (`_backend.kernels`); a step that reads the state gives it the pair, and it returns the
    whole update."""
    direct = _kernels.direct(step.kernel)
    if direct is not None:
        kernel, add_pair = direct
        if step.reads_state:  # the kernel reads the pair and adds to it itself
            out = kernel(*step.args, hi, lo, y_true, y_pred, sample_weight, check=check)
            if out is not None:
                return out
        else:
            batch = kernel(*step.args, y_true, y_pred, sample_weight, check=check)
            if batch is not None:
                return (*add_pair(hi, lo, batch), batch[-len(INVALID_KINDS) :])
    state = (traced_total([hi, lo], _backend.wide_float()),) if step.reads_state else ()
    batch = step.fn(*step.args, *state, y_true, y_pred, sample_weight, check=check)
    return (*add(hi, lo, batch), batch[-len(INVALID_KINDS) :])


def has_in_place(step: Step) -> bool:
    """Whether the backend has an in-place kernel for the step (`_backend.kernels`)."""
    return _kernels.in_place(step.kernel) is not None


def update_in_place(
    step: Step, hi: Any, lo: Any, y_true: Any, y_pred: Any, sample_weight: Any, *, check: bool
) -> bool:
    """Add one batch to the variables `hi, lo` of a pair in place, with the backend's in-place
    kernel for the step (`_backend.kernels.in_place`), touching only the cells the batch
    lands in; False (nothing done) where none applies, e.g. inside a stateless scope: then
    `update` runs. The state is the one `update` gives, bit for bit."""
    kernel = _kernels.in_place(step.kernel)
    own_hi, own_lo = _backend.own_tensor(hi), _backend.own_tensor(lo)
    if kernel is None or own_hi is None or own_lo is None:
        return False
    return bool(kernel(*step.args, own_hi, own_lo, y_true, y_pred, sample_weight, check=check))


def split(total: Any) -> tuple[Any, Any]:
    """float64 `total` -> `(hi, lo)` float32 with `hi + lo == total` to about 48 bits.

    `hi` is `total` rounded to float32; the remainder is exact in float64 and, for integer
    totals below 2**48, an integer below 2**24, so exact in float32 too.
    """
    hi = ops.cast(total, "float32")
    return hi, ops.cast(total - ops.cast(hi, "float64"), "float32")


def add(hi: Any, lo: Any, batch: Any) -> tuple[Any, Any]:
    """The pair `(hi, lo)` plus one batch's sums (int32 counts or float weighted sums)."""
    if _backend.float64_available():
        return split(ops.cast(hi, "float64") + ops.cast(lo, "float64") + ops.cast(batch, "float64"))
    if "int" in keras.backend.standardize_dtype(batch.dtype):
        # Two float32-exact halves of each int32 count: at most 20 and 12 significant bits.
        low = ops.bitwise_and(batch, 0xFFF)
        hi, lo = _accumulate(hi, lo, ops.cast(batch - low, "float32"))
        return _accumulate(hi, lo, ops.cast(low, "float32"))
    return _accumulate(hi, lo, ops.cast(batch, "float32"))


def _accumulate(hi: Any, lo: Any, x: Any) -> tuple[Any, Any]:
    """Add float32 `x` to the pair with Knuth's TwoSum: `s + err == hi + x` exactly."""
    s = hi + x
    bb = s - hi
    err = (hi - (s - bb)) + (x - bb)
    lo = lo + err
    # Renormalise so |lo| stays below one unit in the last place of hi.
    hi2 = s + lo
    return hi2, lo - (hi2 - s)


def traced_total(parts: list[Any], dtype: str) -> Any:
    """Sum of state parts (hi, lo, and one pair per replica where TF keeps replicas apart) as
    tensors in `dtype`."""
    total = ops.cast(parts[0], dtype)
    for part in parts[1:]:
        total = total + ops.cast(part, dtype)
    return total


def host_total(parts: list[Any]) -> np.ndarray:
    """float64 sum of concrete state parts, as a NumPy array on the host."""
    total = np.zeros(np.shape(parts[0]), dtype=np.float64)
    for part in parts:
        total += _host.to_numpy(part)
    return total


def pair_of(metric: Any) -> tuple[Any, Any]:
    """The two variables `(hi, lo)` that hold a sum metric's state."""
    return metric._hi, metric._lo


def read_total(hi: Any, lo: Any) -> np.ndarray:
    """The summed state of a pair of variables, float64 on the host (replicas added)."""
    return host_total([*_backend.read_parts(hi), *_backend.read_parts(lo)])


def host_split(total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NumPy version of `split`, for states combined on the host."""
    hi = total.astype(np.float32)
    return hi, (total - hi.astype(np.float64)).astype(np.float32)


class PortableSums(Portable):
    """The export of a metric kept in a pair (see `_portable`): `sums`, the pair as one exact
    float64 total (replicas combined), and any other variable as it is. States of sums alone
    have the same shape whatever the data and merge by the metric's `_host_combine` (an
    addition, or the regression metrics' re-centred moments)."""

    _hi: Any
    _lo: Any

    def _state_total(self) -> np.ndarray:  # pragma: no cover - the metric defines it
        """The state, float64 on the host (an eager read; replicas combined)."""
        raise NotImplementedError

    def _host_combine(self, totals: list[np.ndarray]) -> np.ndarray:  # pragma: no cover
        """One state from several float64 states, in order (the metric defines it)."""
        raise NotImplementedError

    def _export_arrays(self) -> dict[str, np.ndarray]:
        """`sums`: the pair as one exact float64 total (replicas added); other variables as
        they are (see `_portable`)."""
        others = {v.name: _host.to_numpy(v.value) for v in self._other_variables()}
        return {"sums": self._state_total(), **others}

    def _import_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        hi, lo = host_split(arrays["sums"].astype(np.float64))
        _backend.assign_host(self._hi, hi)
        _backend.assign_host(self._lo, lo)
        for v in self._other_variables():
            _backend.assign_host(v, arrays[v.name].astype(_host.to_numpy(v.value).dtype))

    def _merge_exports(self, exports: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        if self._other_variables():
            return super()._merge_exports(exports)
        return {"sums": self._host_combine([np.asarray(e["sums"], np.float64) for e in exports])}

    def _fixed_export(self) -> bool:
        return not self._other_variables()

    def _other_variables(self) -> list[Any]:
        return [v for v in self.variables if v is not self._hi and v is not self._lo]
