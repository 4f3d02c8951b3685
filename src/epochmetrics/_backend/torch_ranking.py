"""Direct-torch update of the binned ranking state (AUROC, AveragePrecision, operating points).

`functional.ranking_graph.binned_update` is written with `keras.ops`: on eager torch it runs
some eighty dispatched ops per batch and returns a dense histogram of 2K x 19,588 cells
(K one-vs-rest problems, 64 bins per octave), which the state pair then adds cell by cell: at
K = 10, three passes over 3 MB per batch, whatever the batch size. A batch touches at most
N x K of those cells. `binned` adds the batch to the pair in place, cell by cell where it
lands, with the same result bit for bit:

- the batch's rows (`torch_batch.inputs`: binary, multilabel, multiclass scores) and their
  validity, as `functional._format.format_batch(scores=True)` defines it: `check=True` (an
  eager `update_state`) reduces every check to a few scalars read in one host transfer, and a
  batch that looks wrong returns False (the caller runs the generic function, which raises
  the ValueError naming the values); `check=False` (torch's fit steps) masks and counts
  invalid values on the device, reading nothing;
- each score's bin (`score_bins` in direct torch: the same float32 operations);
- one entry per (row, problem): its cell (negative or positive block, problem, bin) and its
  weight. The entries are stably sorted by cell, summed per cell by one `index_add_` in their
  original order (the generic scatter's order: a float sum depends on it), and each touched
  cell of the pair becomes `split(hi + lo + sum)`, as `metrics._sums.add` computes it. Cells
  no entry touches are left alone, which is what adding 0 does to a pair made by `split`.
  The three invalid counts are touched when not all zero. Off the CPU nothing has a
  data-dependent size (sorted entries, runs of equal cells): no host read there; on the CPU
  the distinct cells are found by `unique` (there is no device to wait for).

A score's bin is one binary search among the bins' starts (`bin_starts`: computed once per
process and bins-per-octave, by bisection with `score_bins`) for small batches, the
elementwise `score_bins` (the generic function's float32 operations) for larger ones.

Returns False where it does not apply (and the generic function runs): tensors that are
traced or shape-only, one-hot targets, integer scores, a scalar or broadcast weight, a pair
held outside the variable's own tensor. `tests/test_torch_kernel.py` checks every path
against the generic function and `metrics._sums.add`, bit for bit.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, NamedTuple

import torch

from epochmetrics._backend import torch_batch
from epochmetrics._backend.torch_batch import Inputs

__all__ = ["binned", "score_bins"]

# As `functional.ranking_graph` (its module docstring explains the bins).
_Q_OCTAVES = 125
_D_FLOOR_EXPONENT = 127 - 30
_D_OCTAVES = 125 - _D_FLOOR_EXPONENT
_FINITE = sys.float_info.max
# Up to this many scores a batch's bins are one binary search each among the bins' starts (1
# op); past it the elementwise `score_bins` (16 ops, streaming) is faster: at 4,096 scores
# 67 us against 230 us of cache-missing searches (one CPU thread).
_SEARCH_ENTRIES = 512


def _side_bins(bits: int) -> int:
    return ((_Q_OCTAVES + _D_OCTAVES) << bits) + 2


def score_bins(x: torch.Tensor, *, logits: bool, bins_per_octave: int) -> torch.Tensor:
    """`ranking_graph.score_bins` in direct torch: int64 bins of float32 scores, bit for bit."""
    bits = int(bins_per_octave).bit_length() - 1
    if logits:
        a = torch.abs(x)
        upper = x > 0.0
        q = torch.sigmoid(-a)
        d = 0.5 * torch.tanh(0.5 * a)
    else:
        upper = x > 0.5
        q = torch.where(upper, 1.0 - x, x)
        d = 0.5 - q
    shift = 23 - bits
    # max(., 0) also sends -0.0 (sign bit set) to the bin of +0.0.
    level_q = torch.clamp_min(q.view(torch.int32) >> shift, 0)
    level_d = torch.clamp_min(d.view(torch.int32) >> shift, 0)
    n_q = (_Q_OCTAVES << bits) + 1
    n_d = _D_OCTAVES << bits
    a_idx = torch.clamp(level_d - (_D_FLOOR_EXPONENT << bits), -1, n_d - 1)
    radial = torch.where(q <= 0.25, torch.clamp_max(level_q, n_q - 1), n_q + (n_d - 1) - a_idx)
    side = _side_bins(bits)
    return torch.where(upper, 2 * side - 1 - radial, radial).long()


def _ordered_keys(x: torch.Tensor) -> torch.Tensor:
    """float32 -> int64 keys in the same order (-0.0 and 0.0 share key 0)."""
    bits = x.view(torch.int32).long()
    return torch.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def _from_keys(keys: torch.Tensor) -> torch.Tensor:
    """`_ordered_keys` back to float32."""
    bits = torch.where(keys < 0, (-keys) | 0x80000000, keys)  # the unsigned 32-bit pattern
    signed = torch.where(bits >= 2**31, bits - 2**32, bits)
    return signed.to(torch.int32).view(torch.float32)


@functools.cache
def bin_starts(bins_per_octave: int, logits: bool, device: torch.device) -> torch.Tensor:
    """float32 `(bins,)`: the smallest float32 score of each bin, found by bisection on the
    float32 numbers with `score_bins` (as `functional.operating_points_ops.bin_thresholds`).
    For every float32 score s: score_bins(s) >= b exactly when s >= starts[b], so a score's
    bin is the number of starts at or below it, minus one (one `searchsorted`)."""
    g = 2 * _side_bins(int(bins_per_octave).bit_length() - 1)
    target = torch.arange(g)
    ends = torch.tensor([-math.inf, math.inf] if logits else [0.0, 1.0], dtype=torch.float32)
    low_key, high_key = (int(k) for k in _ordered_keys(ends))
    # Invariant: bin(hi) >= target; bin(lo) < target, or lo is below the domain.
    lo = torch.full((g,), low_key - 1, dtype=torch.int64)
    hi = torch.full((g,), high_key, dtype=torch.int64)
    while bool((hi - lo > 1).any()):
        mid = lo + (hi - lo) // 2
        reached = score_bins(_from_keys(mid), logits=logits, bins_per_octave=bins_per_octave)
        reached = reached >= target
        active = hi - lo > 1
        hi = torch.where(active & reached, mid, hi)
        lo = torch.where(active & ~reached, mid, lo)
    return _from_keys(hi).to(device)


# --- the batch: scores, targets, weights ----------------------------------------------------------
def _scores(
    spec: Any, p: torch.Tensor, masks: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """float32 scores `(N, K)` and their invalid mask (multiclass: per row; None without
    `masks`), as `_format._scores` (multiclass logits: softmax first)."""
    p = p.to(torch.float32)
    if spec.task == "multiclass":
        if spec.from_logits:
            p = torch.softmax(p, dim=-1)
            return p, torch.isnan(p).any(dim=-1) if masks else None
        return p, ~((p >= 0.0) & (p <= 1.0)).all(dim=-1) if masks else None
    bad = None
    if masks:
        bad = torch.isnan(p) if spec.from_logits else ~((p >= 0.0) & (p <= 1.0))
    return (p.reshape(-1, 1) if p.ndim == 1 else p), bad


def _checked(spec: Any, x: Inputs, p: torch.Tensor, t_bad: torch.Tensor | None) -> bool:
    """check=True: whether the batch looks valid, from one host read of a few scalars (the
    labels' range, or their mask; the scores' range, or a sum that is NaN with any NaN; the
    weights' sum). A False may be a false alarm (inf - inf in a sum): the generic function
    then runs and decides."""
    scalars: list[torch.Tensor] = []
    bounds: list[tuple[float, float]] = []
    if t_bad is None:  # integer labels, no ignore_index
        top = spec.num_classes - 1 if spec.task == "multiclass" else 1
        scalars += torch.aminmax(x.y_true)
        bounds += [(0, top), (0, top)]
    else:
        scalars.append(t_bad.any())
        bounds.append((0, 0))
    if spec.from_logits:
        scalars.append(p.sum())
        bounds.append((-math.inf, math.inf))  # NaN falls in no range
    else:
        scalars += torch.aminmax(p)
        bounds += [(0.0, 1.0), (0.0, 1.0)]
    if x.weight is not None:
        scalars.append(x.weight.sum())
        bounds.append((-_FINITE, _FINITE))
    values = torch_batch.read(scalars, x.cpu)
    return all(low <= v <= high for v, (low, high) in zip(values, bounds, strict=True))


class _Entries(NamedTuple):
    """One entry per (row, problem): its cell of the state and its weight `(N * K,)`, and the
    batch's three invalid counts."""

    cell: torch.Tensor
    weight: torch.Tensor | None  # None: all 1
    invalid: torch.Tensor | None  # None: all zero


@functools.cache
def _columns(k: int, num_bins: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """`(K,)` the problems 0..K-1 and the first cell of each problem's bins."""
    problems = torch.arange(k, device=device)
    return problems, problems * num_bins


def _entries(spec: Any, bins_per_octave: int, x: Inputs, check: bool) -> _Entries | None:
    """The batch as entries, checked (None: it looks invalid) or masked and counted."""
    multilabel = spec.task == "multilabel"
    weight = x.weight
    n = x.y_true.shape[0]
    if check and n > 0 and x.y_true.dtype in torch_batch.INTS and spec.ignore_index is None:
        # Integer labels: their range is checked by `aminmax` (`_checked`), no masks needed.
        t, t_bad, ignored = x.y_true, None, None
        p, p_bad = _scores(spec, x.y_pred, masks=False)
    else:
        t, t_bad, ignored = torch_batch.targets(spec, x)
        p, p_bad = _scores(spec, x.y_pred)
    n, k = p.shape
    invalid = None  # None: all zero, and adding zeros changes no cell
    if check and n > 0:
        if not _checked(spec, x, p, t_bad):
            return None
        keep = None if ignored is None else ~ignored
    else:
        assert t_bad is not None and p_bad is not None
        bad = t_bad | p_bad
        row_bad = bad.any(dim=-1) if multilabel else bad
        w_bad = None
        if weight is not None:
            w_bad = ~torch.isfinite(weight)
            row_bad = row_bad | w_bad
            weight = torch.where(w_bad, 0.0, weight)
        keep = ~bad if w_bad is None else ~row_bad
        if multilabel:
            keep = ~bad & ~row_bad[:, None]
        if ignored is not None:
            keep = keep & ~ignored
        no_weights = torch.zeros((), dtype=torch.int64, device=p.device)
        counts = [t_bad.sum(), p_bad.sum(), no_weights if w_bad is None else w_bad.sum()]
        invalid = torch.stack(counts)
        p = torch.where(p_bad if multilabel else p_bad.reshape(-1, 1), 0.0, p)
    logits = spec.from_logits and spec.task != "multiclass"
    starts = bin_starts(bins_per_octave, logits, p.device)
    nb = starts.shape[0]
    problems, first = _columns(k, nb, p.device)
    if n * k <= _SEARCH_ENTRIES:
        # A score's bin is the number of bin starts at or below it, minus one.
        cell = torch.searchsorted(starts, p, right=True).add_(first - 1)
    else:
        cell = score_bins(p, logits=logits, bins_per_octave=bins_per_octave).add_(first)
    if spec.task == "multiclass":
        positive = t.reshape(n, 1) == problems  # (N, C)
    else:
        positive = (t == 1).reshape(n, k)
    cell = cell.add_(positive, alpha=k * nb)  # [neg (K * nb) | pos (K * nb)]
    # What each entry adds: the generic `keep * sample_weight` (float64); masked entries add
    # a zero, which leaves any cell as it is. None: every entry adds 1.
    w = None
    if weight is not None or keep is not None:
        w = torch.ones(n, 1, dtype=torch.float64, device=p.device) if weight is None else weight
        w = w.reshape(n, 1)
        if keep is not None:
            w = keep.reshape(n, k if multilabel else 1).to(torch.float64) * w
        w = w.expand(n, k).reshape(-1)
    return _Entries(cell.reshape(-1), w, invalid)


# --- the pair, in place ------------------------------------------------------------------------
def _add_entries(
    hi: torch.Tensor, lo: torch.Tensor, cell: torch.Tensor, w: torch.Tensor | None, cpu: bool
) -> None:
    """hi, lo (float32) += the entries' weights summed per cell, only where cells are.

    Each cell's sum adds its entries in their original order, from 0.0, as the generic
    scatter does (a float sum depends on the order); then `_sums.add`'s operations."""
    if cpu and w is None:
        # The distinct cells and how many entries each (a data-dependent size: nothing to
        # wait for on the CPU); integer counts, exact in any order.
        # (`unique(return_counts=True)` itself takes 3x as long as sort + consecutive.)
        cell, count = torch.unique_consecutive(torch.sort(cell)[0], return_counts=True)
        sums = count.double()
    elif cpu and w is not None:
        cell, where = torch.unique(cell, return_inverse=True)
        sums = torch.zeros(cell.shape[0], dtype=torch.float64).index_add_(0, where, w)
    else:
        if w is None:
            w = torch.ones(cell.shape[0], dtype=torch.float64, device=cell.device)
        # A fixed size: stably sorted entries, summed per run of equal cells, each entry
        # writing its cell's value (the same for all of them).
        cell, order = torch.sort(cell, stable=True)
        first = torch.ones_like(cell, dtype=torch.bool)
        first[1:] = cell[1:] != cell[:-1]
        run = torch.cumsum(first, dim=0) - 1
        sums = torch.zeros(cell.shape[0], dtype=torch.float64, device=cell.device)
        sums = sums.index_add_(0, run, w[order])[run]
    # `_sums.add`'s operations: (hi + lo) + batch in float64, split back to float32.
    total = hi.index_select(0, cell).double().add_(lo.index_select(0, cell)).add_(sums)
    new_hi = total.float()
    hi.index_copy_(0, cell, new_hi)
    lo.index_copy_(0, cell, total.sub_(new_hi).float())


def binned(
    spec: Any,
    bins_per_octave: int,
    hi: torch.Tensor,
    lo: torch.Tensor,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    *,
    check: bool = True,
) -> bool:
    """Add one batch to the binned state `(hi, lo)` in place, as `binned_update` and
    `_sums.add` would; False (nothing done) where it does not apply (see the module)."""
    x = torch_batch.inputs(spec, y_true, y_pred, sample_weight)
    if x is None or x.kind == "labels" or not x.y_pred.is_floating_point():
        return False
    e = _entries(spec, bins_per_octave, x, check)
    if e is None:
        return False
    cell, w = e.cell, e.weight
    if e.invalid is not None:
        size = hi.shape[0]
        cell = torch.cat([cell, torch.arange(size - 3, size, device=hi.device)])
        if w is None:
            w = torch.ones(e.cell.shape[0], dtype=torch.float64, device=hi.device)
        w = torch.cat([w, e.invalid.to(torch.float64)])
    if cell.shape[0] > 0:
        _add_entries(hi, lo, cell, w, x.cpu)
    return True
