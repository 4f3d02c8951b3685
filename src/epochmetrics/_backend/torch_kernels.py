"""Direct-torch batch updates of the count family, for the torch backend.

`functional.stat_scores.stat_scores_update` and `confusion_matrix_update` are written with
`keras.ops` so that they run inside every backend's compiled steps. Eager torch runs them op by
op: about sixty dispatched Keras ops per batch, masks applied to every row after a check has
already found them all valid, a scatter of 2B values, and one device sync for the check. The
functions here return the same vector, bit for bit, with direct torch calls:

- `check=True` (an eager `update_state`): every validity check is reduced to a few scalars
  (the labels' range by `aminmax`, NaN scores by a sum of the row maxima, finite weights by
  their sum), read in one host transfer. A batch that looks wrong returns None and the caller
  runs the generic function, which raises the ValueError naming the bad values (or, after a
  false alarm such as `inf - inf` in a sum, computes the same sums). A clean batch is counted
  without masks.
- `check=False` (torch's eager fit steps): no host read. Invalid values are masked and counted
  on the device exactly as the generic function does.
- Unweighted counts: one `bincount(t * C + p)` (the confusion matrix) when C * C <= 4B (or
  C <= 16), the per-class sums read off it (on the CPU by one matrix-vector product for C <=
  16); otherwise three bincounts of B values (true, predicted, hit classes). Off the CPU a fixed-size `index_add_` replaces `bincount`, whose output size needs a
  device sync. Weighted sums keep the generic function's scatter: a float sum depends on the
  order of its additions.
- The predicted class: a column compare for C = 2 (ties pick class 0, as `max` does), else
  `torch.max(dim=-1)`, the generic function's own call, whose values give the NaN check.

Each function returns None where it does not apply, and the caller runs the generic function:
inputs other than torch tensors or NumPy arrays of numbers, traced or shape-only tensors, and
the forms left to it (one-hot targets, integer scores of a multiclass task, a scalar or
broadcast `sample_weight`). The state layouts are those of `functional.stat_scores`;
`tests/test_torch_kernel.py` checks every path against the generic functions.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, NamedTuple

import keras
import numpy as np
import torch
from keras.src.backend.torch.core import get_device

__all__ = ["add_pair", "confusion_matrix", "stat_scores"]

_NARROW = frozenset((torch.bool, torch.uint8, torch.int8, torch.int16))
_INTS = frozenset((*_NARROW, torch.int32, torch.int64))
_FLOATS = frozenset((torch.float16, torch.bfloat16, torch.float32, torch.float64))
_NUMBERS = _INTS | _FLOATS
_FINITE = sys.float_info.max


# --- inputs -----------------------------------------------------------------------------------
def _tensor(x: Any, device: torch.device) -> torch.Tensor | None:
    """`x` as the generic function converts it (`keras.ops.convert_to_tensor`: on Keras'
    `device`), or None for anything this module leaves to it."""
    if isinstance(x, torch.Tensor):
        if x.device != device:
            if x.device.type == "meta":
                return None
            x = x.to(device)
    elif isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        x = keras.ops.convert_to_tensor(x)
    else:
        return None
    if x.dtype not in _NUMBERS or x.ndim == 0:
        return None
    return x.detach() if x.requires_grad else x


def _device() -> torch.device:
    """Keras' torch device (where `keras.ops.convert_to_tensor` puts tensors)."""
    return _as_device(get_device())


@functools.cache
def _as_device(name: Any) -> torch.device:
    return torch.device(name)


def _weight_tensor(w: Any, device: torch.device) -> torch.Tensor | None:
    """`sample_weight` in float64, as the generic function converts it."""
    if isinstance(w, np.ndarray):
        if w.dtype.kind not in "biuf":
            return None
        w = w.astype(np.float64)
    w = _tensor(w, device)
    return None if w is None else w.to(torch.float64)


def _squeeze_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:-1] if len(shape) >= 2 and shape[-1] == 1 else shape


class _Inputs(NamedTuple):
    kind: str  # "binary", "multilabel", "scores" (multiclass) or "labels" (multiclass)
    y_true: torch.Tensor  # (N,) or (N, L), as given
    y_pred: torch.Tensor  # (N,), (N, C) scores or (N, L)
    weight: torch.Tensor | None  # (N,) float64
    cpu: bool  # on the CPU (no device to sync with)


def _inputs(spec: Any, y_true: Any, y_pred: Any, sample_weight: Any) -> _Inputs | None:
    """The batch flattened to N rows (`functional._format.Form`), or None."""
    if torch.compiler.is_compiling():
        return None
    device = _device()
    t, p = _tensor(y_true, device), _tensor(y_pred, device)
    if t is None or p is None:
        return None
    st, sp, c = tuple(t.shape), tuple(p.shape), spec.num_classes
    if spec.task == "multilabel":
        if not (len(st) >= 2 and st == sp and st[-1] == c):
            return None
        kind, samples = "multilabel", st[:-1]
        if len(st) > 2:
            t, p = t.reshape(-1, c), p.reshape(-1, c)
    elif spec.task == "binary":
        samples = _squeeze_last(st)
        if samples != _squeeze_last(sp):
            return None
        kind = "binary"
        t, p = _rows(t), _rows(p)
    else:
        samples = _squeeze_last(st)
        if len(sp) >= 2 and sp[-1] == c and sp[:-1] == samples:
            if p.dtype not in _FLOATS:
                return None  # integer scores: the generic function
            kind = "scores"
            t = _rows(t)
            if len(sp) > 2:
                p = p.reshape(-1, c)
        elif len(st) >= 2 and st[-1] == c and (st == sp or st[:-1] == _squeeze_last(sp)):
            return None  # one-hot targets (or a label map the generic function tells apart)
        elif samples == _squeeze_last(sp):
            kind = "labels"
            t, p = _rows(t), _rows(p)
        else:
            return None
    weight = None
    if sample_weight is not None:
        weight = _weight_tensor(sample_weight, device)
        if weight is None:
            return None
        weight = _row_weights(weight, samples)
        if weight is None:
            return None
    if t.dtype in _NARROW:
        t = t.to(torch.int32)  # t * C must not wrap in a narrow type
    return _Inputs(kind, t, p, weight, device.type == "cpu")


def _rows(x: torch.Tensor) -> torch.Tensor:
    return x if x.ndim == 1 else x.reshape(-1)


def _row_weights(w: torch.Tensor, samples: tuple[int, ...]) -> torch.Tensor | None:
    """One weight per row (`_format._sample_weights`), or None for a scalar or a weight of
    another shape."""
    sw = tuple(w.shape)
    if _squeeze_last(sw) == samples or sw == samples:
        return w.reshape(-1)
    if len(_squeeze_last(sw)) != 1 or sw[0] != samples[0]:
        return None
    w = w.reshape(-1)
    if len(samples) == 1:
        return w
    # One weight per sample repeated over its rows (the generic 1.0 * w is exact).
    return w.reshape(-1, *[1] * (len(samples) - 1)).expand(samples).reshape(-1)


# --- labels and their validity, as `functional._format` defines them ----------------------------
def _sparse_labels(y: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(int32 labels, invalid mask): out of range, or not an integer (`_format._sparse_labels`)."""
    if y.dtype in _INTS:
        y = y.to(torch.int32)
        return y, torch.clamp(y, 0, num_classes - 1) != y  # outside [0, C)
    y = y.to(torch.float32)
    bad = y != torch.floor(y)  # also True for NaN
    y = torch.where(bad, 0.0, y).to(torch.int32)
    return y, bad | (y < 0) | (y >= num_classes)


def _binary_targets(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int32 0/1 labels, mask of other values) (`_format._binary_targets`)."""
    if y.dtype in _INTS:
        t = y.to(torch.int32)
        return t, (t != 0) & (t != 1)
    y = y.to(torch.float32)
    ok = (y == 0.0) | (y == 1.0)
    return torch.where(ok, y, -1.0).to(torch.int32), ~ok


def _targets(spec: Any, x: _Inputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(labels, invalid mask, ignored mask or None) (`_format._targets`)."""
    raw = x.y_true
    if spec.task == "multiclass":
        t, bad = _sparse_labels(raw, spec.num_classes)
    else:
        t, bad = _binary_targets(raw)
    if spec.ignore_index is None:
        return t, bad, None
    ignored = raw.to(torch.float32) == float(spec.ignore_index)
    return t, bad & ~ignored, ignored


def _cut(spec: Any) -> float:
    if spec.from_logits:
        # sigmoid(x) > t  <=>  x > logit(t) (`_format._threshold`).
        return math.log(spec.threshold / (1.0 - spec.threshold))
    return float(spec.threshold)


def _argmax(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted class, a scalar that is NaN when any row holds a NaN; false alarms such as
    `inf - inf` only send the batch to the generic function)."""
    if scores.shape[-1] == 2:
        first, second = scores.unbind(-1)
        return second > first, scores.sum()
    values, index = torch.max(scores, dim=-1)
    return index, values.sum()


def _predictions(spec: Any, x: _Inputs) -> tuple[torch.Tensor, torch.Tensor]:
    """(hard predictions, invalid mask) (`_format._hard_predictions`)."""
    y = x.y_pred
    if x.kind == "scores":
        if y.shape[-1] == 2:
            return y[:, 1] > y[:, 0], torch.isnan(y).any(dim=-1)
        values, index = torch.max(y, dim=-1)
        return index, torch.isnan(values)
    if x.kind == "labels":
        return _sparse_labels(y, spec.num_classes)
    if y.dtype in _INTS:
        return _binary_targets(y)
    y = y.to(torch.float32)
    if spec.from_logits:
        return y > _cut(spec), torch.isnan(y)
    return y > _cut(spec), ~((y >= 0.0) & (y <= 1.0))


class _Labels(NamedTuple):
    """Targets and predictions ready to count.

    `t`, `p`: integer labels (bool for 0/1 predictions), valid wherever `keep` (None: all);
    `weight`: float64 per row, 0 for a non-finite weight, or None; `row_bad`: rows with any
    invalid part (None: none); `invalid`: the three invalid counts (None: all zero).
    """

    t: torch.Tensor
    p: torch.Tensor
    keep: torch.Tensor | None
    weight: torch.Tensor | None
    row_bad: torch.Tensor | None
    invalid: torch.Tensor | None
    cpu: bool


def _checked(spec: Any, x: _Inputs) -> _Labels | None:
    """A batch checked with one host read: its labels, or None when anything looks invalid."""
    c = spec.num_classes
    top = c - 1 if spec.task == "multiclass" else 1
    # 0-d tensors, and the closed range each must fall in.
    scalars: list[torch.Tensor] = []
    bounds: list[tuple[float, float]] = []
    ignored = None
    if x.y_true.dtype in _INTS and spec.ignore_index is None:
        t = x.y_true
        scalars += torch.aminmax(t)
        bounds += [(0, top), (0, top)]
    else:
        t, t_bad, ignored = _targets(spec, x)
        scalars.append(t_bad.any())
        bounds.append((0, 0))
    y = x.y_pred
    if x.kind == "scores":
        p, probe = _argmax(y)
        scalars.append(probe)
        bounds.append((-math.inf, math.inf))  # NaN falls in no range
    elif y.dtype in _INTS:
        p = y
        scalars += torch.aminmax(p)
        bounds += [(0, top), (0, top)]
    elif x.kind == "labels":
        p, p_bad = _sparse_labels(y, c)
        scalars.append(p_bad.any())
        bounds.append((0, 0))
    else:
        y = y.to(torch.float32)
        p = y > _cut(spec)
        if spec.from_logits:
            scalars.append(y.sum())
            bounds.append((-math.inf, math.inf))
        else:
            scalars += torch.aminmax(y)
            bounds += [(0.0, 1.0), (0.0, 1.0)]
    if x.weight is not None:
        scalars.append(x.weight.sum())
        bounds.append((-_FINITE, _FINITE))
    for value, (low, high) in zip(_read(scalars, x.cpu), bounds, strict=True):
        if not low <= value <= high:
            return None
    keep = None if ignored is None else ~ignored
    return _Labels(t, p, keep, x.weight, None, None, x.cpu)


def _read(scalars: list[torch.Tensor], cpu: bool) -> list[float]:
    """0-d tensors as Python numbers: one transfer from a device (a stack, in float64 so that
    no integer is rounded across a bound); on the CPU each is read in place, cheaper than
    the stack."""
    if cpu:
        return [s.item() for s in scalars]
    return torch.stack([s.to(torch.float64) for s in scalars]).tolist()


def _masked(spec: Any, x: _Inputs) -> _Labels:
    """Invalid values masked and counted on the device, as `format_batch(check=False)`."""
    t, t_bad, ignored = _targets(spec, x)
    p, p_bad = _predictions(spec, x)
    bad = t_bad | p_bad
    multilabel = spec.task == "multilabel"
    row_bad = bad.any(dim=-1) if multilabel else bad
    weight, w_bad = x.weight, None
    if weight is not None:
        w_bad = ~torch.isfinite(weight)
        row_bad = row_bad | w_bad
        weight = torch.where(w_bad, 0.0, weight)
    keep = ~row_bad
    if multilabel:
        keep = ~bad & keep[:, None]
    if ignored is not None:
        keep = keep & ~ignored
    no_weights = torch.zeros((), dtype=torch.int64, device=t.device)
    counts = [t_bad.sum(), p_bad.sum(), no_weights if w_bad is None else w_bad.sum()]
    return _Labels(t, p, keep, weight, row_bad, torch.stack(counts), x.cpu)


def _labels(spec: Any, x: _Inputs, check: bool) -> _Labels | None:
    if check and x.y_true.shape[0] > 0:
        return _checked(spec, x)
    return _masked(spec, x)  # an empty batch has nothing to check


# --- counting ---------------------------------------------------------------------------------
def _count(index: torch.Tensor, length: int, cpu: bool) -> torch.Tensor:
    """int64 counts of `index` values, all in [0, length): a vector of `length`."""
    if cpu:
        return torch.bincount(index, minlength=length)
    # bincount reads the largest index on the host to size its output: a device sync.
    one = torch.ones((), dtype=torch.int64, device=index.device)
    out = torch.zeros(length, dtype=torch.int64, device=index.device)
    return out.index_add_(0, index, one.expand(index.shape[0]))


def _count_kept(index: torch.Tensor, b: _Labels, length: int) -> torch.Tensor:
    """`_count` of the kept values (the others go to a spare bin, dropped)."""
    if b.keep is None:
        return _count(index, length, b.cpu)
    return _count(torch.where(b.keep, index, length), length + 1, b.cpu)[:length]


def _invalid(b: _Labels, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if b.invalid is None:
        return torch.zeros(3, dtype=dtype, device=device)
    return b.invalid.to(dtype)


# Up to this many classes a CPU batch's per-class counts are one matrix-vector product.
_READER_CLASSES = 16
# The confusion matrix is counted when it has at most 4B cells (less work than three
# bincounts of B values), or at most this many (fewer calls, whatever the batch size).
_SMALL_MATRIX = _READER_CLASSES**2


@functools.cache
def _reader(num_classes: int, ordinal: bool) -> torch.Tensor:
    """int64 `(3C [+ 2] + 3, C * C)`: a flat confusion matrix (row = true class) -> `tp |
    predicted | support | [abs_err | sq_err] | invalid (0)`, on the CPU."""
    c = num_classes
    t = torch.arange(c).repeat_interleave(c)  # the true class of each cell
    p = torch.arange(c).repeat(c)  # its predicted class
    k = torch.arange(c)[:, None]
    rows = [(t == p) & (t == k), p == k, t == k]
    if ordinal:
        d = t - p
        rows += [d.abs()[None], (d * d)[None]]
    rows.append(torch.zeros(3, c * c, dtype=torch.int64))
    return torch.cat([r.to(torch.int64) for r in rows])


def _class_counts(spec: Any, ordinal: bool, b: _Labels) -> torch.Tensor:
    """int32 `tp | predicted | support | [abs_err, sq_err] | invalid` of an unweighted batch."""
    c, t, p, keep = spec.num_classes, b.t, b.p, b.keep
    n = t.shape[0]
    if 0 < c * c <= max(4 * n, _SMALL_MATRIX):
        cells = _count_kept(torch.add(p, t, alpha=c), b, c * c)  # the confusion matrix
        if c <= _READER_CLASSES and b.cpu:
            out = torch.mv(_reader(c, ordinal), cells)
            if b.invalid is not None:
                out[-3:] = b.invalid
            return out.int()
        matrix = cells.view(c, c)
        parts = [matrix.diagonal(), matrix.sum(dim=0), matrix.sum(dim=1)]
    else:
        if p.dtype == torch.bool:
            p = p.to(t.dtype)
        hit = torch.where(t == p, t, c)
        if keep is not None:
            hit = torch.where(keep, hit, c)
        parts = [_count(hit, c + 1, b.cpu)[:c], _count_kept(p, b, c), _count_kept(t, b, c)]
    if ordinal:
        d = t - p.to(t.dtype)
        if keep is not None:
            d = torch.where(keep, d, 0)
        # int64 sums, cast to int32 below: the same modulo 2**32 as the generic int32 sums.
        parts += [d.abs().sum().reshape(1), (d * d).sum().reshape(1)]
    parts.append(_invalid(b, torch.int64, t.device))
    return torch.cat(parts).int()


def _class_sums(spec: Any, ordinal: bool, b: _Labels) -> torch.Tensor:
    """float64 sums of a weighted batch: the generic function's scatter, order included."""
    c, t, p, keep, w = spec.num_classes, b.t, b.p, b.keep, b.weight
    assert w is not None
    if keep is not None:
        t, p = torch.where(keep, t, 0), torch.where(keep, p, 0)
        w = keep.to(torch.float64) * w
    hit = (t == p).to(torch.int32)
    index = torch.cat([2 * t + hit, 2 * c + p.to(t.dtype)]).to(torch.int64)
    sums = torch.zeros(3 * c, dtype=torch.float64, device=w.device)
    sums = sums.index_add_(0, index, torch.cat([w, w]))
    tp = sums[1 : 2 * c : 2]
    parts = [tp, sums[2 * c :], sums[0 : 2 * c : 2] + tp]
    if ordinal:
        d = (t - p.to(t.dtype)).to(torch.float64)
        parts += [torch.sum(w * torch.abs(d)).reshape(1), torch.sum(w * d * d).reshape(1)]
    parts.append(_invalid(b, torch.float64, w.device))
    return torch.cat(parts)


def _multilabel_counts(spec: Any, b: _Labels) -> torch.Tensor:
    """int32 `tp | predicted | support | tn | exact | samples | invalid`, unweighted."""
    labels, t, p, keep = spec.num_classes, b.t, b.p, b.keep
    n = t.shape[0]
    # Cell code 2t + p (tn, fp, fn, tp) in a block of 4 bins per label.
    offsets = torch.arange(0, 4 * labels, 4, dtype=torch.int64, device=t.device)
    code = torch.add(p, t, alpha=2) + offsets
    flat = b._replace(keep=None if keep is None else keep.reshape(-1))
    cells = _count_kept(code.reshape(-1), flat, 4 * labels)
    cells = cells.view(labels, 4)
    tp = cells[:, 3]
    wrong = t != p
    if keep is None:
        samples = torch.full((1,), n, dtype=torch.int64, device=t.device)
        exact = samples - wrong.any(dim=-1).sum()
    else:
        row_counted = keep.any(dim=-1)
        wrong = (wrong & keep).any(dim=-1)
        sw = row_counted if b.row_bad is None else row_counted & ~b.row_bad
        exact, samples = (sw & ~wrong).sum().reshape(1), sw.sum().reshape(1)
    parts = [tp, cells[:, 1] + tp, cells[:, 2] + tp, cells[:, 0], exact, samples]
    parts.append(_invalid(b, torch.int64, t.device))
    return torch.cat(parts).int()


def _multilabel_sums(spec: Any, b: _Labels) -> torch.Tensor:
    """float64 sums of a weighted multilabel batch: the generic function's operations."""
    t, p, keep, w = b.t, b.p, b.keep, b.weight
    assert w is not None
    row_w = w if b.row_bad is None else w * (~b.row_bad).to(torch.float64)
    if keep is None:
        w = w[:, None]  # broadcast: the same products as the generic (N, L) weights
    else:
        t, p = torch.where(keep, t, 0), torch.where(keep, p, 0)
        w = keep.to(torch.float64) * w[:, None]
    t, p = t.to(torch.float64), p.to(torch.float64)
    tw = t * w
    counted = w > 0
    row_counted = counted.any(dim=-1).to(torch.float64)
    wrong = ((t != p) & counted).any(dim=-1)
    sw = row_w * row_counted
    parts = [
        torch.sum(tw * p, dim=0),
        torch.sum(p * w, dim=0),
        torch.sum(tw, dim=0),
        torch.sum((1 - t) * (1 - p) * w, dim=0),
        torch.sum(sw * (~wrong).to(torch.float64)).reshape(1),
        torch.sum(sw).reshape(1),
        _invalid(b, torch.float64, t.device),
    ]
    return torch.cat(parts)


# --- the kernels ------------------------------------------------------------------------------
def stat_scores(
    spec: Any,
    ordinal: bool,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> torch.Tensor | None:
    """`stat_scores_update(spec, ordinal, ...)` in direct torch, or None (see the module)."""
    x = _inputs(spec, y_true, y_pred, sample_weight)
    if x is None:
        return None
    b = _labels(spec, x, check)
    if b is None:
        return None
    if spec.task == "multilabel":
        return _multilabel_counts(spec, b) if b.weight is None else _multilabel_sums(spec, b)
    return _class_counts(spec, ordinal, b) if b.weight is None else _class_sums(spec, ordinal, b)


def confusion_matrix(
    spec: Any, y_true: Any, y_pred: Any, sample_weight: Any = None, *, check: bool = True
) -> torch.Tensor | None:
    """`confusion_matrix_update(spec, ...)` in direct torch, or None (see the module)."""
    if spec.task == "multilabel":
        return stat_scores(spec, False, y_true, y_pred, sample_weight, check=check)
    x = _inputs(spec, y_true, y_pred, sample_weight)
    if x is None:
        return None
    b = _labels(spec, x, check)
    if b is None:
        return None
    c, t, p, keep = spec.num_classes, b.t, b.p, b.keep
    if b.weight is None:
        cells = _count_kept(torch.add(p, t, alpha=c), b, c * c)
        return torch.cat([cells, _invalid(b, torch.int64, t.device)]).to(torch.int32)
    w = b.weight
    if keep is not None:
        t, p = torch.where(keep, t, 0), torch.where(keep, p, 0)
        w = keep.to(torch.float64) * w
    index = torch.add(p, t, alpha=c).to(torch.int64)
    cells = torch.zeros(c * c, dtype=torch.float64, device=w.device).index_add_(0, index, w)
    return torch.cat([cells, _invalid(b, torch.float64, w.device)])


def add_pair(hi: Any, lo: Any, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """`metrics._sums.add` where float64 exists, in direct torch: the float32 pair plus one
    batch's sums, added in float64 and split back (`hi` rounded, `lo` the exact remainder)."""
    total = (hi.double() + lo).add_(batch)  # float32 and int32 operands widen exactly
    new_hi = total.float()
    return new_hi, total.sub_(new_hi).float()
