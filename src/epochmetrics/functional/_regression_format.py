"""One batch of regression targets, predictions and weights -> `(N, D)` columns, checked.

The regression twin of `_format` (which reads labels and scores), with `keras.ops` only so that
it runs inside compiled train/test steps. The input-form rule, by shape alone:

- `num_outputs=1`: `y_true` and `y_pred` of the same shape `(B, ...)`, a trailing axis of 1 on
  either dropped: `(B,)`, `(B, 1)`, dense `(B, H, W)` or `(B, H, W, 1)`; every element is one
  sample of the one output. A 2-D `(B, K)` with K > 1 is refused: scikit-learn reads it as K
  outputs (pass `num_outputs=K`); reshape it to `(B, K, 1)` to pool K elements of one output.
- `num_outputs=D > 1`: both `(B, ..., D)`, the output axis last.
- `sample_weight`: a scalar, `(B,)` per sample, one per element of the sample axes `(B, ...)`,
  or one per element and output `(B, ..., D)`.

Values that cannot be valid (NaN or infinite targets, predictions or weights): eagerly a
ValueError naming them; inside a compiled step they make the batch's sums non-finite, which
the state flags, and the epoch's value is NaN with a warning. Targets equal to `ignore_value`
(NaN included, when it is NaN) are skipped, element by element, with their predictions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import host as _host
from epochmetrics._backend import ops as _backend
from epochmetrics.functional._args import bad_weights_error, check_ignore_value, check_int

__all__ = [
    "RegressionBatch",
    "RegressionInputs",
    "eager_error",
    "format_regression",
    "ignore_target",
    "regression_inputs",
    "sample_shape",
]


@dataclass(frozen=True)
class RegressionInputs:
    """The input options every regression metric shares (hashable: a compiled update's key).

    `ignore_value` is None or a finite float; `ignore_nan` stands for `ignore_value=nan` (NaN
    never equals itself, so it cannot be the key of a cache or a merge check)."""

    num_outputs: int = 1
    ignore_value: float | None = None
    ignore_nan: bool = False

    @property
    def ignore(self) -> float | None:
        """The `ignore_value` argument as given: None, a float, or NaN."""
        return math.nan if self.ignore_nan else self.ignore_value


def regression_inputs(num_outputs: Any, ignore_value: Any) -> RegressionInputs:
    outputs = check_int("num_outputs", num_outputs, minimum=1)
    value, nan = check_ignore_value(ignore_value)
    return RegressionInputs(outputs, value, nan)


class RegressionBatch(NamedTuple):
    """One batch as `(N, D)` columns in the wide float (`_backend.wide_float()`).

    - `y_true`, `y_pred`: 0 where ignored (`ignore_value`);
    - `weight`: each element's weight, 0 where ignored; None without sample weights and
      `ignore_value`: every element counted, weight 1 (the sums skip the product);
    - `counted`: `(D,)` the elements counted with a non-zero weight (the sample counts);
    - `weight_sum`: `(D,)` their summed weights (`counted` without sample weights);
    - `invalid`: int32 `(3,)`, zeros (`functional._moments` flags non-finite sums there).
    """

    y_true: Any
    y_pred: Any
    weight: Any
    counted: Any
    weight_sum: Any
    invalid: Any


def _shape(x: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in x.shape)


def _same(a: tuple[int | None, ...], b: tuple[int | None, ...]) -> bool:
    """Equal shapes, an unknown (symbolic) size matching any."""
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _tensor(name: str, x: Any, dtype: str) -> tuple[Any, str]:
    """`x` as a tensor in `dtype`, and the name of the dtype it came in."""
    if x is None:
        raise TypeError(f"{name} must be an array of numbers. Received: {name}=None.")
    if not (hasattr(x, "shape") and hasattr(x, "dtype")) or isinstance(x, np.ndarray):
        try:
            array = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be an array of numbers. Received: {err}") from None
        if array.dtype.kind not in "biuf" and array.dtype.name != "bfloat16":
            raise TypeError(
                f"{name} must hold numbers (integer, bool or float). Received dtype {array.dtype}."
            )
        # Widened on the host: a bfloat16 array does not convert on every backend, and on
        # 32-bit JAX a float64 array would be rounded on its way in anyway.
        return ops.convert_to_tensor(array.astype(dtype)), array.dtype.name
    if not any(k in str(x.dtype) for k in ("int", "float", "bool")):
        raise TypeError(
            f"{name} must hold numbers (integer, bool or float). Received dtype {x.dtype}."
        )
    return ops.cast(ops.convert_to_tensor(x), dtype), keras.backend.standardize_dtype(x.dtype)


def ignore_target(spec: RegressionInputs, given: str) -> float | None:
    """The value targets given in dtype `given` are compared with: `ignore_value` rounded to
    that dtype (float32 0.1 is not float64 0.1), None without one (or for NaN)."""
    value = spec.ignore_value
    if value is None or "float" not in given:
        return value
    if given == "bfloat16":
        import ml_dtypes

        return float(np.asarray(value, dtype=np.float64).astype(ml_dtypes.bfloat16))
    low = {"float16": np.float16, "float32": np.float32}.get(given)
    return value if low is None else float(np.asarray(value, dtype=np.float64).astype(low))


def _ignored(spec: RegressionInputs, t: Any, given: str) -> Any:
    """Where the targets `t` (in the wide float, given in dtype `given`) are `ignore_value`."""
    if spec.ignore_nan:
        return ops.isnan(t)
    value = ignore_target(spec, given)
    return None if value is None else ops.equal(t, value)


def sample_shape(spec: RegressionInputs, y_true: Any, y_pred: Any) -> tuple[int | None, ...]:
    """The sample axes `(B, ...)` of a batch (see the module docstring), else a ValueError."""
    st, sp, d = _shape(y_true), _shape(y_pred), spec.num_outputs
    for name, s in (("y_true", st), ("y_pred", sp)):
        if len(s) == 0:
            raise ValueError(
                f"{name} must have a batch axis: regression metrics take arrays of shape "
                f"(batch,) or (batch, ...), even for one sample. Received: {name}.shape=(), a "
                "scalar; wrap it as [value]."
            )
    if st[0] is not None and sp[0] is not None and st[0] != sp[0]:
        raise ValueError(
            "y_true and y_pred must have the same batch size. "
            f"Received: y_true.shape={st}, y_pred.shape={sp}."
        )
    if d > 1:
        if _same(st, sp) and len(st) >= 2 and st[-1] == d:
            return st[:-1]
        raise ValueError(
            f"num_outputs={d} expects y_true and y_pred of the same shape (batch, {d}), or dense "
            f"(batch, ..., {d}) with the output axis last. Received: y_true.shape={st}, "
            f"y_pred.shape={sp}."
        )
    for name, s in (("y_true", st), ("y_pred", sp)):
        if len(s) == 2 and s[1] is not None and s[1] > 1:
            raise ValueError(
                f"{name} of shape {s} reads as {s[1]} outputs (as scikit-learn reads a 2-D "
                f"target): pass num_outputs={s[1]}, or to pool {s[1]} elements of one output "
                f"reshape both to (batch, {s[1]}, 1). Received: y_true.shape={st}, "
                f"y_pred.shape={sp}."
            )
    t1 = st[:-1] if len(st) >= 2 and st[-1] == 1 else st
    p1 = sp[:-1] if len(sp) >= 2 and sp[-1] == 1 else sp
    if _same(t1, p1):
        return t1
    raise ValueError(
        "num_outputs=1 expects y_true and y_pred of the same shape: (batch,), (batch, 1) or "
        "dense (batch, ...), a trailing axis of 1 on either dropped. Received: "
        f"y_true.shape={st}, y_pred.shape={sp}."
    )


def _weights(
    spec: RegressionInputs, sample_weight: Any, samples: tuple[int | None, ...], true_shape: Any
) -> Any:
    """`sample_weight` as `(N, 1)` (one per element) or `(N, D)` (one per element and output)."""
    sw, d = _shape(sample_weight), spec.num_outputs
    if len(sw) == 0:
        return ops.reshape(sample_weight, (1, 1))
    if _same(sw, samples):
        return ops.reshape(sample_weight, (-1, 1))
    if _same(sw, (*samples, d)):
        return ops.reshape(sample_weight, (-1, d))
    if _same(sw, (samples[0],)) or _same(sw, (samples[0], 1)):
        if len(samples) == 1:
            return ops.reshape(sample_weight, (-1, 1))
        per_element = ops.ones(true_shape[: len(samples)], dtype=sample_weight.dtype)
        shape = (-1, *[1] * (len(samples) - 1))
        return ops.reshape(per_element * ops.reshape(sample_weight, shape), (-1, 1))
    allowed = f"one per element {samples}" + (
        f" or per element and output {(*samples, d)}" if d > 1 else ""
    )
    raise ValueError(
        f"`sample_weight` must be a scalar, one weight per sample (batch,), or {allowed}. "
        f"Received: sample_weight.shape={sw}."
    )


def format_regression(
    spec: RegressionInputs,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> RegressionBatch:
    """Validate and flatten one batch (see the module docstring and `RegressionBatch`).

    With concrete (eager) inputs and `check`, NaN or infinite values raise a ValueError that
    names them. Otherwise (compiled steps, `check=False`) nothing is masked or counted here:
    they make the batch's sums non-finite, which `functional._moments` flags, and the epoch's
    value NaN. XLA's CPU materialises every operand of a reduction, so each mask pass would
    cost as much as a plain metric's whole update.
    """
    dtype = _backend.wide_float()
    y_true, given = _tensor("y_true", y_true, dtype)
    y_pred, _ = _tensor("y_pred", y_pred, dtype)
    samples = sample_shape(spec, y_true, y_pred)
    d = spec.num_outputs
    t, p = ops.reshape(y_true, (-1, d)), ops.reshape(y_pred, (-1, d))
    ignored = _ignored(spec, t, given)
    w = None
    if sample_weight is not None:
        sw, _ = _tensor("sample_weight", sample_weight, dtype)
        w = _weights(spec, sw, samples, ops.shape(y_true))
    if check and _backend.is_concrete(t):
        _check_finite(spec, t, p, w, ignored)
    invalid = ops.zeros((3,), "int32")
    if ignored is None and w is None:
        n = ops.cast(ops.shape(t)[0], dtype) * ops.ones((d,), dtype)
        return RegressionBatch(t, p, None, n, n, invalid)
    if ignored is not None:
        keep = ops.logical_not(ignored)
        t, p = ops.where(keep, t, 0.0), ops.where(keep, p, 0.0)
        weight = ops.cast(keep, dtype) if w is None else ops.where(keep, w, 0.0)
    else:
        weight = w * ops.ones_like(t)
    # A zero weight removes its sample, from the counts too (and the padding rows that bucket
    # eager JAX batches: `_backend.runtime.bucket_batch`).
    counted = ops.cast(ops.not_equal(weight, 0.0), dtype)
    count = ops.sum(counted, axis=0)
    weight_sum = count if w is None else ops.sum(weight, axis=0)
    return RegressionBatch(t, p, weight, count, weight_sum, invalid)


def _check_finite(spec: RegressionInputs, t: Any, p: Any, w: Any, ignored: Any) -> None:
    """Eager inputs: a ValueError naming the first kind of NaN or infinite value found."""
    t_bad = ops.logical_not(ops.isfinite(t))
    p_bad = ops.logical_not(ops.isfinite(p))
    if ignored is not None:
        # An ignored target is no sample: neither it nor its prediction is checked.
        t_bad = ops.logical_and(t_bad, ops.logical_not(ignored))
        p_bad = ops.logical_and(p_bad, ops.logical_not(ignored))
    w_bad = None if w is None else ops.logical_not(ops.isfinite(w))
    found = ops.logical_or(ops.any(t_bad), ops.any(p_bad))
    if w_bad is not None:
        found = ops.logical_or(found, ops.any(w_bad))
    if bool(found):  # one scalar read; the details only when something is wrong
        raise eager_error(spec, t, p, w, t_bad, p_bad, w_bad)


def _shown(values: np.ndarray) -> str:
    found = np.unique(values)
    shown = ", ".join(f"{v:.7g}" for v in found[:5])
    return shown + (", ..." if found.size > 5 else "")


def eager_error(
    spec: RegressionInputs, t: Any, p: Any, w: Any, t_bad: Any, p_bad: Any, w_bad: Any
) -> ValueError:
    """Eager path only: the error that names the first kind of invalid input found."""
    skipped = ""
    if spec.ignore_nan:
        skipped = " (NaN targets are skipped: ignore_value=nan)"
    elif spec.ignore_value is not None:
        skipped = f" (ignore_value={spec.ignore_value:g} is skipped)"
    for name, values, mask in (("y_true", t, t_bad), ("y_pred", p, p_bad)):
        m = _host.to_numpy(mask).astype(bool)
        if m.any():
            bad = _host.to_numpy(values)[m]
            hint = (
                ""
                if name == "y_pred" or spec.ignore_nan
                else (" To skip missing targets stored as NaN, pass ignore_value=float('nan').")
            )
            return ValueError(
                f"{name} must hold finite numbers{skipped if name == 'y_true' else ''}. "
                f"Received {bad.size} NaN or infinite value(s): {_shown(bad)}.{hint}"
            )
    mask = _host.to_numpy(w_bad).astype(bool).ravel()
    first = int(np.flatnonzero(mask)[0])
    return bad_weights_error(int(mask.sum()), first, float(_host.to_numpy(w).ravel()[first]))
