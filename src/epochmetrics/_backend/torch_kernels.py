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
  C <= 16), the per-class sums read off it (on the CPU by one matrix-vector product for
  C <= 16); otherwise three bincounts of B values (true, predicted, hit classes). Off the CPU
  a fixed-size `index_add_` replaces `bincount`, whose output size needs a device sync.
  Weighted sums keep the generic function's scatter: a float sum depends on the order of its
  additions.
- The predicted class: a column compare for C = 2 (ties pick class 0, as `max` does), else
  `torch.max(dim=-1)`, the generic function's own call, whose values give the NaN check.

Each function returns None where it does not apply, and the caller runs the generic function:
inputs other than torch tensors or NumPy arrays of numbers, traced or shape-only tensors, and
the forms left to it (one-hot targets, integer scores of a multiclass task, a scalar or
broadcast `sample_weight`). The state layouts are those of `functional.stat_scores`;
`tests/test_torch_kernel.py` checks every path against the generic functions. The batch's
rows and labels, checked or masked, come from `torch_batch`.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from epochmetrics._backend import torch_batch
from epochmetrics._backend.torch_batch import Labels

__all__ = ["add_pair", "confusion_matrix", "stat_scores"]


# --- counting ---------------------------------------------------------------------------------
def _count(index: torch.Tensor, length: int, cpu: bool) -> torch.Tensor:
    """int64 counts of `index` values, all in [0, length): a vector of `length`."""
    if cpu:
        return torch.bincount(index, minlength=length)
    # bincount reads the largest index on the host to size its output: a device sync.
    one = torch.ones((), dtype=torch.int64, device=index.device)
    out = torch.zeros(length, dtype=torch.int64, device=index.device)
    return out.index_add_(0, index, one.expand(index.shape[0]))


def _count_kept(index: torch.Tensor, b: Labels, length: int) -> torch.Tensor:
    """`_count` of the kept values (the others go to a spare bin, dropped)."""
    if b.keep is None:
        return _count(index, length, b.cpu)
    return _count(torch.where(b.keep, index, length), length + 1, b.cpu)[:length]


def _invalid(b: Labels, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
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


def _class_counts(spec: Any, ordinal: bool, b: Labels) -> torch.Tensor:
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


def _class_sums(spec: Any, ordinal: bool, b: Labels) -> torch.Tensor:
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


def _multilabel_counts(spec: Any, b: Labels) -> torch.Tensor:
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


def _multilabel_sums(spec: Any, b: Labels) -> torch.Tensor:
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
    b = torch_batch.batch(spec, y_true, y_pred, sample_weight, check)
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
    b = torch_batch.batch(spec, y_true, y_pred, sample_weight, check)
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
