"""Direct-torch batches of the regression metrics, for torch's eager updates.

`functional._regression_format.format_regression` and `functional._moments` are written with
`keras.ops` so that they run inside every backend's compiled steps. Eager torch runs them op by
op, and each Keras op costs 10-20 us of conversion and dispatch: about 3 ms per update, ten
times torchmetrics' `PearsonCorrCoef`. Here:

- `batch` flattens and checks one batch in direct torch, as the generic formatter does, for the
  common forms: torch tensors or NumPy arrays of numbers, `y_true` and `y_pred` of one shape
  (the rule of `_regression_format`), `sample_weight` None, per sample or per element, no
  `ignore_value`. Anything else returns None and the caller runs the generic function (which
  computes it, or raises the error that names the input). Nothing is masked: a NaN or
  infinite value makes the batch's sums non-finite. `check=True` (an eager `update_state`):
  the sums are read once, whether all finite (`finite`), and the generic function runs when
  not (it raises, naming the values); `check=False` (torch's fit steps): no host read, the
  state flags it, as the generic function's does.
- `torch_ops` is the namespace that `functional._moments.regression_deltas` sums the batch in:
  the `keras.ops` names it uses, as direct torch calls on the same tensors; `spaces` adds NumPy
  for the state's few numbers on the CPU. The same IEEE operations as the generic function's,
  so the same sums, bit for bit (`tests/test_regression.py`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from epochmetrics._backend.torch_batch import _device, _tensor, _weight_tensor
from epochmetrics._backend.xp import numpy_ops

__all__ = ["Batch", "add_pair", "batch", "fast", "finite", "spaces", "torch_ops", "total", "update"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32, "int32": torch.int32}


class Batch(NamedTuple):
    """`functional._regression_format.RegressionBatch`, from direct torch."""

    y_true: torch.Tensor
    y_pred: torch.Tensor
    weight: torch.Tensor | None  # None: every element counted, weight 1
    counted: torch.Tensor  # (D,)
    weight_sum: torch.Tensor  # (D,)
    invalid: torch.Tensor


def finite(sums: torch.Tensor) -> bool:
    """Whether a batch's sums are all finite (one host read): they are unless an input was
    NaN or infinite, or a sum overflowed (the generic function then computes it again)."""
    if sums.device.type == "cpu":
        return bool(np.isfinite(sums.numpy()).all())
    return bool(torch.isfinite(sums).all())


def _sample_shape(d: int, st: tuple[int, ...], sp: tuple[int, ...]) -> tuple[int, ...] | None:
    """The sample axes, for the shapes the generic rule accepts (None: the generic function
    decides, and raises where they do not fit)."""
    if d > 1:
        return st[:-1] if st == sp and len(st) >= 2 and st[-1] == d else None
    if (len(st) == 2 and st[1] > 1) or (len(sp) == 2 and sp[1] > 1):
        return None
    t1 = st[:-1] if len(st) >= 2 and st[-1] == 1 else st
    p1 = sp[:-1] if len(sp) >= 2 and sp[-1] == 1 else sp
    return t1 if t1 == p1 else None


def _weights(w: torch.Tensor, samples: tuple[int, ...], d: int) -> torch.Tensor | None:
    """`(N, 1)` or `(N, D)` weights for the forms handled here."""
    sw = tuple(w.shape)
    if sw == samples:
        return w.reshape(-1, 1)
    if d > 1 and sw == (*samples, d):
        return w.reshape(-1, d)
    if sw in ((samples[0],), (samples[0], 1)):
        if len(samples) == 1:
            return w.reshape(-1, 1)
        per_element = torch.ones(samples, dtype=w.dtype, device=w.device)
        return (per_element * w.reshape(-1, *[1] * (len(samples) - 1))).reshape(-1, 1)
    return None


def batch(inputs: Any, y_true: Any, y_pred: Any, sample_weight: Any) -> Batch | None:
    """One batch as `(N, D)` float64 columns (see the module docstring), or None.

    `inputs`: the metric's `RegressionInputs` (`num_outputs`, `ignore_value`, `ignore_nan`).
    """
    if inputs.ignore_nan or inputs.ignore_value is not None:
        return None
    device = _device()
    t, p = _tensor(y_true, device), _tensor(y_pred, device)
    if t is None or p is None:
        return None
    d = int(inputs.num_outputs)
    samples = _sample_shape(d, tuple(t.shape), tuple(p.shape))
    if samples is None or t.shape[0] != p.shape[0]:
        return None
    t = t.to(torch.float64).reshape(-1, d)
    p = p.to(torch.float64).reshape(-1, d)
    w = None
    if sample_weight is not None:
        if isinstance(sample_weight, np.ndarray) and sample_weight.ndim == 0:
            return None
        w = _weight_tensor(sample_weight, device)
        if w is None:
            return None
        w = _weights(w, samples, d)
        if w is None:
            return None
    # Nothing checked or masked here: a NaN or infinite value makes the batch's sums
    # non-finite. With `check` the caller reads that once (`finite`) and runs the generic
    # function, which raises; in torch's fit steps `functional._moments` flags it on the
    # device (no host read), as the generic function does.
    invalid = torch.zeros(3, dtype=torch.int32, device=t.device)
    if w is None:
        n = torch.full((d,), float(t.shape[0]), dtype=torch.float64, device=t.device)
        return Batch(t, p, None, n, n, invalid)
    weight = w * torch.ones_like(t)
    counted = (weight != 0).to(torch.float64).sum(dim=0)
    return Batch(t, p, weight, counted, weight.sum(dim=0), invalid)


class _TorchOps:
    """The `keras.ops` functions `functional._moments.regression_deltas` uses, as direct
    torch calls (same tensors, same reductions: the same values)."""

    abs = staticmethod(torch.abs)
    all = staticmethod(torch.all)
    isfinite = staticmethod(torch.isfinite)
    logical_not = staticmethod(torch.logical_not)
    ones_like = staticmethod(torch.ones_like)
    equal = staticmethod(torch.eq)
    logical_and = staticmethod(torch.logical_and)
    not_equal = staticmethod(torch.ne)
    zeros_like = staticmethod(torch.zeros_like)

    @staticmethod
    def shape(x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape)

    @staticmethod
    def sum(x: torch.Tensor, axis: int) -> torch.Tensor:
        return torch.sum(x, dim=axis)

    @staticmethod
    def dot_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """sum_n a[n, d] * b[n, d], `(D,)`: one BLAS dot for one output (no product tensor)."""
        if a.shape[1] == 1:
            return torch.dot(a.reshape(-1), b.reshape(-1)).reshape(1)
        return torch.einsum("nd,nd->d", a, b)

    @staticmethod
    def sums(pairs: list[tuple[torch.Tensor, torch.Tensor | None]]) -> list[torch.Tensor]:
        """`keras_ops.sums`: sum_n a[n, d] * b[n, d] (a[n, d] where b is None) of each pair."""
        return [torch.sum(a, dim=0) if b is None else _TorchOps.dot_rows(a, b) for a, b in pairs]

    @staticmethod
    def stack(xs: list[torch.Tensor], axis: int = 0) -> torch.Tensor:
        return torch.stack(xs, dim=axis)

    @staticmethod
    def transpose(x: torch.Tensor) -> torch.Tensor:
        return x.T.contiguous()

    @staticmethod
    def where(c: Any, a: Any, b: Any) -> torch.Tensor:
        return torch.where(c, a, b)

    @staticmethod
    def maximum(x: torch.Tensor, y: float) -> torch.Tensor:
        return torch.clamp(x, min=y)

    @staticmethod
    def cast(x: torch.Tensor, dtype: str) -> torch.Tensor:
        return x.to(_DTYPES[dtype])

    @staticmethod
    def reshape(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.reshape(x, shape)

    @staticmethod
    def expand_dims(x: torch.Tensor, axis: int) -> torch.Tensor:
        return torch.unsqueeze(x, axis)

    @staticmethod
    def concatenate(xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs)


torch_ops: Any = _TorchOps()


def spaces(x: Batch) -> tuple[Any, Any, Any, Any]:
    """Where `functional._moments.regression_deltas` computes a torch batch: the `(N, D)`
    columns in torch; the `(D,)` state algebra (some fifty operations on a few numbers, 5-10
    us each as torch calls) in NumPy when the batch is on the CPU (views both ways, no copy),
    else in torch (no host transfer)."""
    if x.y_true.device.type == "cpu":
        return torch_ops, numpy_ops, _to_numpy, torch.from_numpy
    return torch_ops, torch_ops, _same, _same


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.numpy()


def _same(t: Any) -> Any:
    return t


def total(hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """The pair's value in float64 (`metrics._sums.traced_total`'s, in direct torch; through
    NumPy views on the CPU: 1-2 us instead of ~20)."""
    if hi.device.type == "cpu":
        return torch.from_numpy(hi.numpy().astype(np.float64) + lo.numpy())
    return hi.double() + lo


def add_pair(state: torch.Tensor, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`metrics._sums.add` where float64 exists, from the pair's float64 `state`: the sum split
    back into float32 `hi` (rounded) and `lo` (the exact remainder, rounded)."""
    if state.device.type == "cpu":
        t = state.numpy() + batch.numpy()
        hi = t.astype(np.float32)
        return torch.from_numpy(hi), torch.from_numpy((t - hi).astype(np.float32))
    t = state + batch
    hi = t.float()
    return hi, (t - hi).float()


_EPS = 2.220446049250313e-16  # float64's machine epsilon: scikit-learn's MAPE floor on |y|


def fast(
    spec: Any, layout: Any, hi: torch.Tensor, lo: torch.Tensor, y_true: Any, y_pred: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The whole eager update `(hi, lo, invalid)` of the common case, or None.

    The case: a CPU batch (tensors or NumPy), no `sample_weight`, no `ignore_value`, a state
    whose shifts are set (every batch but the first). Then the update is a few sums, the same
    as `functional._moments` takes (float64 residuals about the shifts: a float32 input minus a
    float64 shift is computed in float64, exactly as the generic function's converted input),
    with the state's few numbers in NumPy: a third of the general path's calls, whose Python
    and dispatch overhead dominates small batches, and no float64 copy of the inputs.
    `spec` is the metric's `RegressionSpec`, `layout` its state layout. A NaN or infinite
    input (the sums are not finite) returns None: the general path raises with the values.
    """
    inputs = spec.inputs
    if inputs.ignore_nan or inputs.ignore_value is not None or hi.device.type != "cpu":
        return None
    device = _device()
    t, p = _tensor(y_true, device), _tensor(y_pred, device)
    if t is None or p is None or t.device.type != "cpu":
        return None
    d = int(inputs.num_outputs)
    samples = _sample_shape(d, tuple(t.shape), tuple(p.shape))
    if samples is None or t.shape[0] != p.shape[0]:
        return None
    state = hi.numpy().astype(np.float64) + lo.numpy()
    if spec.columns and not state[layout.slice("count")].all():
        return None  # a shift to set: the general path
    if not (t.is_floating_point() and p.is_floating_point()):
        t, p = t.to(torch.float64), p.to(torch.float64)
    t, p = t.reshape(-1, d), p.reshape(-1, d)
    n = float(t.shape[0])
    out = np.zeros(layout.size)
    out[layout.slice("count")] = n
    out[layout.slice("weight")] = n
    e = t.to(torch.float64) - p if spec.errors or "e" in spec.columns else t
    if "sq_err" in spec.errors:
        out[layout.slice("sq_err")] = torch_ops.dot_rows(e, e).numpy()
    if "abs_err" in spec.errors or "ape" in spec.errors:
        size = torch.abs(e)
        if "abs_err" in spec.errors:
            out[layout.slice("abs_err")] = torch.sum(size, dim=0).numpy()
        if "ape" in spec.errors:
            scale = torch.clamp(torch.abs(t.to(torch.float64)), min=_EPS)
            out[layout.slice("ape")] = torch.sum(size / scale, dim=0).numpy()
    if spec.columns:
        values = {"y": t, "p": p, "e": e}
        shift = torch.from_numpy(state[layout.slice("shift")])
        first = {"sum": layout.slice("sum").start, "sq": layout.slice("sq").start}
        r = []
        for i, k in enumerate(spec.columns):
            ri = values[k] - shift[i * d : (i + 1) * d]  # float64 (N, D)
            at = i * d
            out[first["sum"] + at : first["sum"] + at + d] = torch.sum(ri, dim=0).numpy()
            out[first["sq"] + at : first["sq"] + at + d] = torch_ops.dot_rows(ri, ri).numpy()
            r.append(ri)
        if spec.cross:
            iy, ip = spec.columns.index("y"), spec.columns.index("p")
            out[layout.slice("cross")] = torch_ops.dot_rows(r[iy], r[ip]).numpy()
    if not np.isfinite(out).all():
        return None
    total = state + out
    new_hi = total.astype(np.float32)
    new_lo = (total - new_hi).astype(np.float32)
    return torch.from_numpy(new_hi), torch.from_numpy(new_lo), _NONE_INVALID


# The invalid counts of a batch the fast path takes: none (read only, never written to).
_NONE_INVALID = torch.zeros(3, dtype=torch.int32)


def update(
    spec: Any,
    hi: torch.Tensor,
    lo: torch.Tensor,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    *,
    check: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The regression metrics' whole update on torch (`_backend.kernels`' "regression"):
    `(hi, lo, invalid)`, or None where the generic function must run.

    `fast` where it applies; else the batch in direct torch (`batch`) and the metric's own
    moment code (`spec.deltas`, `functional._moments`) in the namespaces of `spaces`."""
    if check and sample_weight is None:
        out = fast(spec, spec.layout, hi, lo, y_true, y_pred)
        if out is not None:
            return out
    x = batch(spec.inputs, y_true, y_pred, sample_weight)
    if x is None:
        return None
    state = total(hi, lo)
    sums = spec.deltas(spaces(x), state, x)
    if check and not finite(sums):
        return None
    return (*add_pair(state, sums), sums[-3:])
