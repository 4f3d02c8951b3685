"""One torch batch as rows of labels ready to count, for `torch_kernels`.

What `functional._format.format_batch` does with `keras.ops`, in direct torch for the count
family: the batch flattened to N rows (`inputs`, None for the forms left to the generic
function), then its labels (`labels`): checked with one host read (`check=True`, an eager
`update_state`; None when anything looks invalid, and the caller runs the generic function,
which raises the ValueError naming the bad values), or masked and counted on the device with
no host read (`check=False`, torch's eager fit steps).
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, NamedTuple

import keras
import numpy as np
import torch

from epochmetrics._backend import keras_internals

__all__ = ["INTS", "Inputs", "Labels", "batch", "inputs", "labels", "read", "targets"]

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
    return _as_device(keras_internals.torch_device())


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


class Inputs(NamedTuple):
    kind: str  # "binary", "multilabel", "scores" (multiclass) or "labels" (multiclass)
    y_true: torch.Tensor  # (N,) or (N, L), as given
    y_pred: torch.Tensor  # (N,), (N, C) scores or (N, L)
    weight: torch.Tensor | None  # (N,) float64
    cpu: bool  # on the CPU (no device to sync with)


def inputs(spec: Any, y_true: Any, y_pred: Any, sample_weight: Any) -> Inputs | None:
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
    return Inputs(kind, t, p, weight, device.type == "cpu")


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


def _targets(spec: Any, x: Inputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
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


def _predictions(spec: Any, x: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
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


class Labels(NamedTuple):
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


def _checked(spec: Any, x: Inputs) -> Labels | None:
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
    return Labels(t, p, keep, x.weight, None, None, x.cpu)


def _read(scalars: list[torch.Tensor], cpu: bool) -> list[float]:
    """0-d tensors as Python numbers: one transfer from a device (a stack, in float64 so that
    no integer is rounded across a bound); on the CPU each is read in place, cheaper than
    the stack."""
    if cpu:
        return [s.item() for s in scalars]
    return torch.stack([s.to(torch.float64) for s in scalars]).tolist()


def _masked(spec: Any, x: Inputs) -> Labels:
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
    return Labels(t, p, keep, weight, row_bad, torch.stack(counts), x.cpu)


def labels(spec: Any, x: Inputs, check: bool) -> Labels | None:
    """Labels ready to count: checked with one host read (`check`; None when anything looks
    invalid), else masked and counted on the device."""
    if check and x.y_true.shape[0] > 0:
        return _checked(spec, x)
    return _masked(spec, x)  # an empty batch has nothing to check


def batch(spec: Any, y_true: Any, y_pred: Any, sample_weight: Any, check: bool) -> Labels | None:
    """`labels` of the batch's `inputs`, or None where the generic function runs instead."""
    x = inputs(spec, y_true, y_pred, sample_weight)
    return None if x is None else labels(spec, x, check)


# For the ranking kernel (`torch_ranking`), which reads targets and checks the same way.
INTS = _INTS
targets = _targets
read = _read
