"""The state of the regression metrics: error sums, and moments about a shift near the mean,
so that an offset of the data costs no precision.

Per output d, with element weights w (1 without `sample_weight`, 0 where not counted):

- `count`: the counted elements (non-zero weight); `weight`: W = sum w;
- error sums: `sq_err` = sum w e^2, `abs_err` = sum w |e|, `ape` = sum w |e| / max(|y|, eps)
  (e = y - p; eps = float64's machine epsilon, as scikit-learn's MAPE);
- for each moment column x among y (targets), p (predictions) and e (residuals): its shift K,
  S1 = sum w (x - K) and S2 = sum w (x - K)^2; `cross` = sum w (y - K_y)(p - K_p).

Why shifted. Raw power sums lose what matters: with targets near 1e6 and a spread of 1, sum y^2
is ~1e12 per sample, and the variance is what is left after cancelling it against (sum y)^2 / W:
40 of the pair's ~48 bits are lost (Keras' R2Score gives R^2 > 1 at an offset of 1e4). About a
shift K near the mean, S2 - S1^2 / W cancels only (mean - K)^2 / variance. K is the mean of
the first batch that counts a sample (of its first `HEAD` = 8 samples without sample weights:
no extra pass over the batch; the weighted mean with them), rounded to float32 (so the pair
stores it exactly, its lo half 0), set once: updates are then plain sums about it, no
re-centring arithmetic in the step. With K the mean of B1 of the N samples, (mean - K)^2 /
variance <= N / B1 whatever the data (an outlier or a trend in the first batch included): at
most log2(N / B1) of the ~48 bits (20 for a million samples, worst case), and none for a
constant offset. 32-bit JAX (float32 sums inside compiled steps) stays within
float32 rounding of the batch sums (relative 1e-7), offset or not.

Merging. States of different shards have different shifts, so they do not combine by addition:
`combine` re-centres them on one shift (the first non-empty state's) and adds, with exact
algebra (Chan et al.'s pairwise update: S1' = S1 - W d, S2' = S2 - 2 d S1 + W d^2 for a move
d). Errors, counts and weights are plain sums.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import keras
import numpy as np

from epochmetrics._backend.xp import keras_ops, numpy_ops
from epochmetrics.functional._layout import Layout
from epochmetrics.functional._regression_format import (
    RegressionBatch,
    RegressionInputs,
    format_regression,
)

__all__ = [
    "COLUMNS",
    "EPS",
    "KERAS_SPACES",
    "ERRORS",
    "RegressionSpec",
    "Summary",
    "combine",
    "regression_deltas",
    "regression_layout",
    "regression_update",
    "summarize",
]

ERRORS = ("sq_err", "abs_err", "ape")
# An empty state's shift: the mean of the batch's first HEAD samples (unweighted batches).
HEAD = 8
COLUMNS = ("y", "p", "e")
EPS = 2.220446049250313e-16  # np.finfo(np.float64).eps: scikit-learn's MAPE floor on |y|
# A sum of squared deviations below this fraction of the sums it comes from is rounding noise:
# the column is constant (float64 results; float32 ones inside 32-bit JAX steps).
CONSTANT_TOL = {"float64": 2.0**-40, "float32": 2.0**-18}


@dataclass(frozen=True)
class RegressionSpec:
    """What a metric keeps: its inputs, error sums and moment columns (hashable)."""

    inputs: RegressionInputs
    errors: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    cross: bool = False

    @property
    def num_outputs(self) -> int:
        return self.inputs.num_outputs

    @property
    def layout(self) -> Layout:
        return regression_layout(self)

    def deltas(self, spaces: Any, state: Any, batch: Any) -> Any:
        """`regression_deltas` of this spec (what direct kernels call: `_backend` cannot
        import this module)."""
        return regression_deltas(spaces, self, state, batch)


@functools.cache
def regression_layout(spec: RegressionSpec) -> Layout:
    """The state: `count`, `weight`, the error sums (D each); `shift`, `sum`, `sq` (one row of
    D per moment column, in `spec.columns` order); `cross` (D); the invalid counts."""
    d, c = spec.num_outputs, len(spec.columns)
    segments = {"count": d, "weight": d, **dict.fromkeys(spec.errors, d)}
    if c:
        segments.update(shift=c * d, sum=c * d, sq=c * d)
    if spec.cross:
        segments["cross"] = d
    return Layout(**segments)


def _float32_valued(xp: Any, x: Any, dtype: str) -> Any:
    return xp.cast(xp.cast(x, "float32"), dtype)


def _pack(xp: Any, layout: Layout, parts: dict[str, Any], dtype: str) -> Any:
    """One batch's vector from its parts, in layout order (NumPy: filled in place)."""
    if xp is numpy_ops:
        out = np.empty(layout.size, dtype=dtype)
        for name in layout.names:
            out[layout.slice(name)] = np.reshape(parts[name], -1)
        return out
    return xp.concatenate([xp.reshape(xp.cast(parts[n], dtype), (-1,)) for n in layout.names])


def regression_update(
    spec: RegressionSpec,
    state: Any,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> Any:
    """What one batch adds to `state` (laid out as `regression_layout(spec)`), in the wide
    float: a pure function of `keras.ops` that runs inside compiled steps. `state` is read for
    the shifts and the moments that move with them (see the module docstring)."""
    x = format_regression(spec.inputs, y_true, y_pred, sample_weight, check=check)
    return regression_deltas(KERAS_SPACES, spec, state, x)


def _same(x: Any) -> Any:
    return x


# (batch namespace, state namespace, batch -> state array, state -> batch array): where the
# `(N, D)` columns are summed and where the `(D,)` algebra of the state runs.
KERAS_SPACES = (keras_ops, keras_ops, _same, _same)


def regression_deltas(
    spaces: tuple[Any, Any, Callable[[Any], Any], Callable[[Any], Any]],
    spec: RegressionSpec,
    state: Any,
    x: RegressionBatch,
) -> Any:
    """`regression_update` of a formatted batch. `spaces`: `KERAS_SPACES` (everything in
    `keras.ops`), or for torch's eager updates the batch in direct torch and the small state
    algebra in NumPy (`_backend.torch_regression.spaces`): the same IEEE operations, so the
    same values; there a batch's `weight` may be None (every element counted, weight 1).
    Returns the sums in the batch's namespace.

    Every `(N, D)` sum of the batch is asked of `big.sums` at once: XLA's CPU backend then
    reads the inputs once (`_backend.ops.column_sums`)."""
    big, sm, small, back = spaces
    dtype = keras.backend.standardize_dtype(x.y_true.dtype)
    layout = regression_layout(spec)
    old = layout.unpack(small(state))
    w = x.weight  # (N, D), or None: ones
    e = x.y_true - x.y_pred if spec.errors or "e" in spec.columns else None
    count, batch_weight = small(x.counted), small(x.weight_sum)
    parts: dict[str, Any] = {"count": count, "weight": batch_weight, "invalid": small(x.invalid)}
    terms: dict[str, tuple[Any, Any]] = {}  # what each sum is of: sum_n a * b (b None: a)
    if "sq_err" in spec.errors:
        terms["sq_err"] = (_times(w, e), e)
    if "abs_err" in spec.errors or "ape" in spec.errors:
        size = _times(w, big.abs(e))
        if "abs_err" in spec.errors:
            terms["abs_err"] = (size, None)
        if "ape" in spec.errors:
            terms["ape"] = (size / big.maximum(big.abs(x.y_true), EPS), None)
    if spec.columns:
        values = {"y": x.y_true, "p": x.y_pred, "e": e}
        shifts = _shifts(spaces, spec, old, values, w, batch_weight, dtype)
        # An empty state's shift is 0 (and its sums are 0): the move is exact, moves no sum.
        r = [values[k] - back(shifts[0][i]) for i, k in enumerate(spec.columns)]
        wr = [_times(w, ri) for ri in r]
        for i in range(len(r)):
            terms[f"sum{i}"], terms[f"sq{i}"] = (wr[i], None), (wr[i], r[i])
        if spec.cross:
            iy, ip = spec.columns.index("y"), spec.columns.index("p")
            terms["cross"] = (wr[iy], r[ip])
    sums = dict(zip(terms, (small(v) for v in big.sums(list(terms.values()))), strict=True))
    parts.update((k, sums[k]) for k in (*spec.errors, "cross") if k in sums)
    if spec.columns:
        c = range(len(spec.columns))
        parts["shift"] = shifts[0] - shifts[1]
        parts["sum"] = sm.stack([sums[f"sum{i}"] for i in c])
        parts["sq"] = sm.stack([sums[f"sq{i}"] for i in c])
    # A NaN or infinite input (or a sum past the float range) makes the batch's sums
    # non-finite: counted in the first invalid cell, the epoch's value is then NaN.
    flat = [sm.reshape(v, (-1,)) for k, v in parts.items() if k != "invalid"]
    finite = sm.all(sm.isfinite(sm.concatenate(flat)))
    flag = sm.cast(sm.logical_not(finite), dtype)
    flags = sm.stack([flag, flag * 0.0, flag * 0.0])
    parts["invalid"] = sm.cast(parts["invalid"], dtype) + flags
    return back(_pack(sm, layout, parts, dtype))


def _times(w: Any, x: Any) -> Any:
    """`w * x`; `x` itself for weights None (ones: the same values)."""
    return x if w is None else w * x


def _shifts(
    spaces: tuple[Any, Any, Callable[[Any], Any], Callable[[Any], Any]],
    spec: RegressionSpec,
    old: dict[str, Any],
    values: dict[str, Any],
    w: Any,
    batch_weight: Any,
    dtype: str,
) -> tuple[Any, Any]:
    """`(new, old)` shifts of the moment columns, `(c, D)` each: the state's, or for a state
    still empty the batch's weighted means (in float32)."""
    big, sm, small, _ = spaces
    c, d = len(spec.columns), spec.num_outputs
    shift = sm.reshape(old["shift"], (c, d))
    empty = sm.equal(old["count"], 0.0)  # (D,)
    if sm is numpy_ops and not np.any(empty):
        return shift, shift  # a concrete state (torch's eager updates): no mean to take
    if w is None:
        # The mean of the first rows: no pass over the batch for a shift only the first
        # batch sets (within the bound of the module docstring, B1 = HEAD).
        raw = sm.stack([small(big.sum(values[k][:HEAD], axis=0)) for k in spec.columns])
        rows = sm.cast(big.shape(values["y"][:HEAD])[0], dtype)
        n = sm.zeros_like(batch_weight) + rows
    else:
        raw = sm.stack([small(big.sum(w * values[k], axis=0)) for k in spec.columns])
        n = batch_weight
    known = sm.not_equal(n, 0.0)
    mean = _float32_valued(sm, raw / sm.where(known, n, 1.0), dtype)
    # A NaN or infinite first batch (its sums are flagged) leaves the shift at 0: the
    # batches after it are not flagged too.
    known = sm.logical_and(known, sm.isfinite(mean))
    return sm.where(empty, sm.where(known, mean, 0.0), shift), shift


def combine(spec: RegressionSpec, totals: list[Any], xp: Any) -> Any:
    """One state from several (shards, replicas, processes), in the namespace `xp`: each
    re-centred on the first non-empty one's shifts, then added. Associative up to rounding,
    with the empty state as identity."""
    total = totals[0]
    for other in totals[1:]:
        total = _combine_two(spec, total, other, xp)
    return total


def _combine_two(spec: RegressionSpec, a: Any, b: Any, xp: Any) -> Any:
    layout = regression_layout(spec)
    sa, sb = layout.unpack(a), layout.unpack(b)
    out = {name: sa[name] + sb[name] for name in layout.names}
    if spec.columns:
        c, d = len(spec.columns), spec.num_outputs
        ka, kb = xp.reshape(sa["shift"], (c, d)), xp.reshape(sb["shift"], (c, d))
        shift = xp.where(sa["count"] > 0, ka, kb)
        moved = [_moved(spec, side, shift, xp) for side in (sa, sb)]
        out["shift"] = xp.reshape(shift, (-1,))
        for name in moved[0]:
            out[name] = moved[0][name] + moved[1][name]
    return xp.concatenate([xp.reshape(out[name], (-1,)) for name in layout.names])


def _moved(spec: RegressionSpec, side: dict[str, Any], shift: Any, xp: Any) -> dict[str, Any]:
    """One state's moment sums about `shift` (c, D) instead of its own."""
    c, d = len(spec.columns), spec.num_outputs
    move = shift - xp.reshape(side["shift"], (c, d))
    s0 = side["weight"]
    s1, s2 = xp.reshape(side["sum"], (c, d)), xp.reshape(side["sq"], (c, d))
    out = {
        "sum": xp.reshape(s1 - s0 * move, (-1,)),
        "sq": xp.reshape(s2 - 2.0 * move * s1 + s0 * move * move, (-1,)),
    }
    if spec.cross:
        iy, ip = spec.columns.index("y"), spec.columns.index("p")
        out["cross"] = (
            side["cross"] - move[iy] * s1[ip] - move[ip] * s1[iy] + s0 * move[iy] * move[ip]
        )
    return out


class Summary(NamedTuple):
    """A state read as statistics, `(D,)` per output (`(c, D)` per moment column)."""

    count: Any
    weight: Any
    errors: dict[str, Any]
    shift: Any  # the columns' shifts (float32 values)
    centre: Any  # weighted means of the columns minus their shifts: mean = shift + centre
    ss: Any  # sums of weighted squared deviations from the means; exactly 0 when constant
    cross: Any  # sum w (y - mean_y)(p - mean_p)


def summarize(xp: Any, spec: RegressionSpec, state: Any, dtype: str = "float64") -> Summary:
    """The statistics of a state, in the namespace `xp` (`dtype`: the state's float)."""
    parts = regression_layout(spec).unpack(state)
    s0 = parts["weight"]
    w = xp.where(xp.equal(s0, 0.0), xp.ones_like(s0), s0)
    errors = {name: parts[name] for name in spec.errors}
    shift = centre = ss = cross = None
    if spec.columns:
        c, d = len(spec.columns), spec.num_outputs
        shift = xp.reshape(parts["shift"], (c, d))
        s1, s2 = xp.reshape(parts["sum"], (c, d)), xp.reshape(parts["sq"], (c, d))
        centre = s1 / w
        centred = s1 * s1 / w
        raw = s2 - centred
        # Below the rounding level of the sums it comes from, a spread is none: a constant
        # column gets 0 exactly (scikit-learn's and scipy's undefined cases test for it).
        noise = CONSTANT_TOL.get(dtype, CONSTANT_TOL["float32"]) * (s2 + centred)
        ss = xp.where(raw <= noise, xp.zeros_like(raw), raw)
        if spec.cross:
            iy, ip = spec.columns.index("y"), spec.columns.index("p")
            cross = parts["cross"] - s1[iy] * s1[ip] / w
    return Summary(parts["count"], s0, errors, shift, centre, ss, cross)
