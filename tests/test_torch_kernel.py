"""The direct-torch count kernels (`_backend/torch_kernels.py`) against the generic functions.

Every batch vector the kernel returns must equal `stat_scores_update` / `confusion_matrix_update`
bit for bit (dtype, shape, and every bit of every float, signed zeros included); where the
kernel does not apply it returns None and the generic function runs. `check=True` keeps the
generic errors; `check=False` reads nothing on the host.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from helpers import BACKEND, assert_close

if BACKEND != "torch":
    pytest.skip("the direct-torch kernel runs on the torch backend only", allow_module_level=True)

import torch
from hypothesis import given
from hypothesis import strategies as st

import epochmetrics as em
from epochmetrics._backend import kernels
from epochmetrics._backend import torch_batch as tb
from epochmetrics._backend import torch_kernels as tk
from epochmetrics.functional._args import TaskSpec, make_spec
from epochmetrics.functional.stat_scores import (
    confusion_matrix_update,
    stat_scores_update,
)
from epochmetrics.metrics import _sums


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.view(torch.int64) if x.dtype == torch.float64 else x


def assert_same(ours: Any, generic: Any) -> None:
    """Equal dtype, shape and bits."""
    assert ours is not None, "the kernel did not apply"
    assert ours.dtype == generic.dtype and ours.shape == generic.shape, (ours, generic)
    assert ours.device == generic.device
    assert torch.equal(_bits(ours), _bits(generic)), (ours, generic)


# --- random batches -------------------------------------------------------------------------------
class Case:
    """One batch and the options it runs with (printed by hypothesis on failure)."""

    def __init__(self, spec: TaskSpec, y_true: Any, y_pred: Any, weight: Any, ordinal: bool):
        self.spec, self.y_true, self.y_pred, self.weight = spec, y_true, y_pred, weight
        self.ordinal = ordinal

    def __repr__(self) -> str:
        w = None if self.weight is None else (self.weight.dtype, tuple(self.weight.shape))
        return (
            f"Case({self.spec}, ordinal={self.ordinal}, y_true={self.y_true!r}, "
            f"y_pred={self.y_pred!r}, weight={w}: {self.weight!r})"
        )


def _values(draw: Any, shape: tuple[int, ...], pool: list[float], dtype: Any) -> torch.Tensor:
    n = int(np.prod(shape))
    picks = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return torch.tensor(picks, dtype=torch.float64).reshape(shape).to(dtype)


@st.composite
def cases(draw: Any, invalid: bool = False) -> Case:
    """A batch of any task and form the count family takes, valid unless `invalid`."""
    task = draw(st.sampled_from(["binary", "multiclass", "multiclass", "multilabel"]))
    big = task == "multiclass" and draw(st.booleans())
    c = {"binary": 2, "multiclass": draw(st.integers(2, 40 if big else 6))}.get(
        task, draw(st.integers(1, 5))
    )
    b = draw(st.integers(0, 24))
    extra = draw(st.sampled_from([(), (), (), (2,), (1, 3)]))  # dense: axes after the batch
    ignore = draw(st.sampled_from([None, None, -1, 0, c]))
    logits = draw(st.booleans())
    threshold = draw(st.sampled_from([0.5, 0.3, 0.7500001])) if task != "multiclass" else 0.5
    spec = make_spec(task, None if task == "binary" else c, threshold, logits, ignore)
    sample = (b, *extra)
    int_true = draw(st.booleans())
    bad_true = [-1.0, float(c), 0.5, math.nan] if invalid else []
    if task == "multiclass":
        form = draw(st.sampled_from(["scores", "scores", "labels"]))
        true_shape = sample + draw(st.sampled_from([(), (1,)]))
        labels = [float(k) for k in range(c)] + ([float(ignore)] if ignore is not None else [])
        tdtype = draw(st.sampled_from([torch.int64, torch.int32, torch.uint8]))
        if not int_true:
            tdtype = draw(st.sampled_from([torch.float32, torch.float64]))
        pool = labels + [v for v in bad_true if int_true is False or not math.isnan(v)]
        if tdtype == torch.uint8:
            pool = [v for v in pool if 0 <= v < 256 and v == int(v)]
        y_true = _values(draw, true_shape, pool, tdtype)
        if form == "scores":
            pdtype = draw(
                st.sampled_from([torch.float32, torch.float32, torch.float64, torch.float16])
            )
            score_pool = [0.0, -0.0, 0.25, 0.5, 1.0, -3.0, math.inf, -math.inf]  # ties included
            score_pool += [math.nan] if invalid else []
            y_pred = _values(draw, (*sample, c), score_pool, pdtype)
        else:
            pdtype = draw(st.sampled_from([torch.int64, torch.int32, torch.float32]))
            pred_pool = [float(k) for k in range(c)] + ([-2.0, float(c + 1)] if invalid else [])
            y_pred = _values(draw, sample, pred_pool, pdtype)
    else:
        shape = (*sample, c) if task == "multilabel" else sample
        if task == "binary" and draw(st.booleans()):
            shape = (*shape, 1)
        tdtype = draw(st.sampled_from([torch.int64, torch.bool, torch.int32]))
        if not int_true:
            tdtype = draw(st.sampled_from([torch.float32, torch.float64]))
        pool = [0.0, 1.0] + ([float(ignore)] if ignore is not None else [])
        pool += [v for v in bad_true if int_true is False or not math.isnan(v)]
        if tdtype == torch.bool:
            pool = [0.0, 1.0]
        y_true = _values(draw, shape, pool, tdtype)
        if draw(st.integers(0, 5)) == 0:  # hard 0/1 predictions
            pdtype = draw(st.sampled_from([torch.int64, torch.bool]))
            y_pred = _values(draw, shape, [0.0, 1.0], pdtype)
        else:
            pdtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16]))
            pred_pool = [0.0, 0.3, 0.5, threshold, 0.75, 1.0]
            pred_pool += [-4.0, 2.5, math.inf] if logits else []
            pred_pool += [math.nan] + ([] if logits else [1.5, -0.5]) if invalid else []
            y_pred = _values(draw, shape, pred_pool, pdtype)
    kind = draw(st.sampled_from(["none", "none", "int", "float", "zero"]))
    weight = None
    if kind != "none":
        wshape = draw(st.sampled_from([(b,), (b, 1), sample]))
        pool = {
            "int": [0.0, 1.0, 2.0, 7.0],
            "float": [0.1, 0.7, 1e-3, 3.25, -0.5, 1e300, 1.0 / 3.0],
            "zero": [0.0, -0.0],
        }[kind]
        pool += [math.nan, math.inf] if invalid else []
        wdtype = draw(st.sampled_from([torch.float64, torch.float32]))
        if wdtype == torch.float32:
            pool = [min(v, 1e30) for v in pool]  # 1e300 is inf in float32
        weight = _values(draw, wshape, pool, wdtype)
    ordinal = task == "multiclass" and draw(st.booleans())
    return Case(spec, y_true, y_pred, weight, ordinal)


def _generic(case: Case, check: bool, matrix: bool = False) -> Any:
    if matrix:
        return confusion_matrix_update(
            case.spec, case.y_true, case.y_pred, case.weight, check=check
        )
    return stat_scores_update(
        case.spec, case.ordinal, case.y_true, case.y_pred, case.weight, check=check
    )


def _kernel(case: Case, check: bool, matrix: bool = False) -> Any:
    if matrix:
        return tk.confusion_matrix(case.spec, case.y_true, case.y_pred, case.weight, check=check)
    return tk.stat_scores(
        case.spec, case.ordinal, case.y_true, case.y_pred, case.weight, check=check
    )


def _two_readings(case: Case) -> bool:
    """A multiclass batch whose integer y_pred has y_true's shape with a last axis of C: the
    generic function refuses it (it fits two readings), whatever its values."""
    t, p = case.y_true, case.y_pred
    return (
        case.spec.task == "multiclass"
        and t.ndim >= 2
        and t.shape == p.shape
        and t.shape[-1] == case.spec.num_classes
        and not p.is_floating_point()
    )


# --- 1. the same sums, bit for bit --------------------------------------------------------------
def _false_alarm_possible(case: Case) -> bool:
    """Whether the kernel's one read may mistake a valid batch for an invalid one: a sum of
    scores meeting inf - inf, or weights whose sum overflows."""
    inf_scores = case.y_pred.is_floating_point() and bool(torch.isinf(case.y_pred).any())
    w = case.weight
    return inf_scores or (w is not None and not bool(torch.isfinite(w.double().sum())))


def agrees(case: Case, matrix: bool, *, applies: bool) -> None:
    """check=True: the generic function raises and the kernel returns None (the caller then
    runs the generic function, which raises), or the kernel's vector is the generic one. With
    `applies`, a batch the generic function accepts is counted by the kernel itself."""
    try:
        expected = _generic(case, True, matrix)
    except ValueError:
        assert _kernel(case, True, matrix) is None
        return
    ours = _kernel(case, True, matrix)
    if ours is None and not (applies and not _false_alarm_possible(case)):
        return
    assert_same(ours, expected)


@given(case=cases(), matrix=st.booleans())
def test_valid_batches_give_the_generic_sums_bit_for_bit(case: Case, matrix: bool) -> None:
    # A valid batch may still be one the kernel leaves alone (e.g. dense labels whose
    # shape reads as one-hot targets): the generic function decides; see `applies` below.
    one_hot_like = case.y_true.ndim >= 2 and case.y_true.shape == case.y_pred.shape
    applies = case.spec.task != "multiclass" or not one_hot_like
    agrees(case, matrix, applies=applies)


@given(case=cases(invalid=True), matrix=st.booleans())
def test_check_false_counts_invalid_values_as_the_generic_function(
    case: Case, matrix: bool
) -> None:
    """check=False (torch's fit steps): invalid values masked and counted, exactly."""
    if _two_readings(case):
        with pytest.raises(ValueError, match="cannot tell"):
            _generic(case, False, matrix)
        assert _kernel(case, False, matrix) is None
        return
    expected = _generic(case, False, matrix)
    ours = _kernel(case, False, matrix)
    one_hot_like = case.y_true.ndim >= 2 and case.y_true.shape == case.y_pred.shape
    if ours is None and case.spec.task == "multiclass" and one_hot_like:
        return
    assert_same(ours, expected)


@given(case=cases(invalid=True), matrix=st.booleans())
def test_check_true_with_invalid_values_leaves_the_batch_to_the_generic_function(
    case: Case, matrix: bool
) -> None:
    agrees(case, matrix, applies=False)


@given(case=cases(invalid=True))
def test_the_pair_update_matches_the_generic_update(case: Case) -> None:
    """`_sums.update` through the kernel and `add_pair` equals the generic function plus
    `_sums.add`, for a state with a long history (hi and lo both in use)."""
    if _two_readings(case):
        return
    step = _sums.Step(stat_scores_update, (case.spec, case.ordinal), kernel="stat_scores")
    size = _generic(case, False).shape[0]
    total = torch.linspace(0.0, 2.0**40 + 0.5, size, dtype=torch.float64)
    hi, lo = total.float(), (total - total.float().double()).float()
    ours = _sums.update(step, hi, lo, case.y_true, case.y_pred, case.weight, check=False)
    batch = _generic(case, False)
    expected = (*_sums.add(hi, lo, batch), batch[-3:])
    for a, b in zip(ours, expected, strict=True):
        assert_same(a, b)


def test_the_kernel_is_selected_for_the_count_family_only() -> None:
    assert kernels.direct("stat_scores") == (tk.stat_scores, tk.add_pair)
    assert kernels.direct("confusion_matrix") == (tk.confusion_matrix, tk.add_pair)
    assert kernels.direct(None) is None
    mc = {"task": "multiclass", "num_classes": 3}
    steps = {
        "stat_scores": em.F1Score(**mc)._step(),
        "confusion_matrix": em.ConfusionMatrix(**mc)._step(),
        "binned": em.AUROC(**mc)._step(),  # an in-place kernel (section 5), no direct one
    }
    for name, step in steps.items():
        assert step.kernel == name
    assert em.F1Score(**mc, top_k=2)._step().kernel is None  # no direct kernel for top-k
    assert steps["stat_scores"].fn is stat_scores_update
    assert steps["confusion_matrix"].fn is confusion_matrix_update


@pytest.mark.parametrize("classes, batch", [(2, 5000), (10, 3000), (300, 200), (1000, 64)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ordinal", [False, True])
def test_large_batches_on_both_counting_paths(
    classes: int, batch: int, weighted: bool, ordinal: bool
) -> None:
    """The confusion-matrix bincount (C * C <= 4B) and the per-class bincounts (C * C > 4B),
    with many repeated cells; float weights keep the generic order of addition."""
    rng = np.random.default_rng(classes + batch)
    spec = make_spec("multiclass", classes)
    t = torch.from_numpy(rng.integers(0, classes, batch))
    p = torch.from_numpy(rng.random((batch, classes), dtype=np.float32))
    w = torch.from_numpy(rng.random(batch)) if weighted else None
    for check in (True, False):
        assert_same(
            tk.stat_scores(spec, ordinal, t, p, w, check=check),
            stat_scores_update(spec, ordinal, t, p, w, check=check),
        )
        assert_same(
            tk.confusion_matrix(spec, t, p, w, check=check),
            confusion_matrix_update(spec, t, p, w, check=check),
        )


def test_host_arrays_are_converted_as_the_generic_function_does() -> None:
    rng = np.random.default_rng(1)
    spec = make_spec("multiclass", 4)
    t, p = rng.integers(0, 4, 50), rng.random((50, 4)).astype(np.float32)
    w = rng.integers(0, 3, 50)  # integer weights: float64 sums
    assert_same(tk.stat_scores(spec, False, t, p, w), stat_scores_update(spec, False, t, p, w))
    assert_same(tk.stat_scores(spec, False, t, p), stat_scores_update(spec, False, t, p))


@pytest.mark.parametrize(
    "y_true, y_pred, weight",
    [
        ([0, 1], [[0.1, 0.9], [0.8, 0.2]], 2.0),  # a scalar weight
        ([[1, 0, 0], [0, 1, 0]], [[0.1, 0.9, 0.0], [0.8, 0.2, 0.0]], None),  # one-hot targets
        ([0, 1], [[1, 0, 0], [0, 1, 0]], None),  # integer scores
        ([0, 1], [[0.5, 0.5]] * 2, None),  # no form: the generic function raises
        ([0, 1], [[0.1, 0.9, 0.0]], None),  # batch sizes differ
        ([[0, 1, 2], [2, 2, 0]], [[0, 1, 1], [2, 0, 0]], None),  # two readings: an error
    ],
)
def test_other_forms_are_left_to_the_generic_function(
    y_true: Any, y_pred: Any, weight: Any
) -> None:
    spec = make_spec("multiclass", 3)
    t, p = torch.tensor(y_true), torch.tensor(y_pred)
    w = None if weight is None else torch.tensor(weight)
    assert tk.stat_scores(spec, False, t, p, w) is None
    assert tk.stat_scores(spec, False, [0, 1], p) is None  # a list: the generic converts it


# --- 2. errors ----------------------------------------------------------------------------------
BAD = [
    ("multiclass", [0, 3], [[0.2, 0.5, 0.3]] * 2, None),
    ("multiclass", [0, -1], [[0.2, 0.5, 0.3]] * 2, None),
    ("multiclass", [0.0, 1.5], [[0.2, 0.5, 0.3]] * 2, None),
    ("multiclass", [0, 1], [[0.2, math.nan, 0.3]] * 2, None),
    ("multiclass", [0, 1], [[0.2, 0.5, 0.3]] * 2, [1.0, math.nan]),
    ("multiclass", [0, 1], [0, 7], None),
    ("binary", [0, 2], [0.2, 0.7], None),
    ("binary", [0.0, 0.5], [0.2, 0.7], None),
    ("binary", [0, 1], [0.2, 1.7], None),
    ("binary", [0, 1], [0.2, math.nan], None),
    ("multilabel", [[0, 1, 1]], [[0.2, 0.7, -0.1]], None),
    ("multilabel", [[0, 2, 1]], [[0.2, 0.7, 0.1]], [math.inf]),
]


@pytest.mark.parametrize("task, y_true, y_pred, weight", BAD)
def test_direct_updates_raise_the_generic_errors(
    task: str, y_true: Any, y_pred: Any, weight: Any
) -> None:
    spec = make_spec(task, None if task == "binary" else 3)
    t, p = torch.tensor(y_true), torch.tensor(y_pred)
    w = None if weight is None else torch.tensor(weight)
    with pytest.raises(ValueError) as generic:
        stat_scores_update(spec, False, t, p, w)
    assert tk.stat_scores(spec, False, t, p, w) is None  # the one read found it
    metric = em.F1Score(task, num_classes=None if task == "binary" else 3)
    with pytest.raises(ValueError) as ours:
        metric.update_state(t, p, w)
    assert str(ours.value) == str(generic.value)
    assert np.all(np.asarray(metric._state_total()) == 0)  # nothing was added


# --- 3. no host read with check=False -----------------------------------------------------------
_READS = ("item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__", "__array__")


@contextlib.contextmanager
def no_host_reads() -> Iterator[None]:
    """Any value read of a tensor on the host raises. On the CPU nothing crosses a bus, so
    `torch.cuda.set_sync_debug_mode` has nothing to watch; these methods are the ways Python
    code reads tensor values (`if t:`, `float(t)`, `t.item()`, NumPy conversion). (CPU
    `bincount` sizes its output from its input inside C++; off the CPU the kernel counts with
    a fixed-size `index_add_` instead, tested below.)"""
    saved = {name: getattr(torch.Tensor, name) for name in _READS}

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a tensor value was read on the host")

    try:
        for name in _READS:
            setattr(torch.Tensor, name, refuse)
        yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)


def test_the_refusal_works() -> None:
    with no_host_reads(), pytest.raises(AssertionError, match="read on the host"):
        bool(torch.ones(()) > 0)


@given(case=cases(invalid=True), matrix=st.booleans())
def test_check_false_reads_nothing_on_the_host(case: Case, matrix: bool) -> None:
    if _two_readings(case):
        return
    expected = _generic(case, False, matrix)
    step = _sums.Step(stat_scores_update, (case.spec, case.ordinal), kernel="stat_scores")
    hi = lo = torch.zeros(expected.shape[0] if not matrix else 1)
    with no_host_reads():
        ours = _kernel(case, False, matrix)
        if not matrix:
            _sums.update(step, hi, lo, case.y_true, case.y_pred, case.weight, check=False)
    assert_same(ours, expected)


@contextlib.contextmanager
def off_the_cpu() -> Iterator[None]:
    """The kernel's device branches (fixed-size counts, one stacked read) on CPU tensors."""
    inputs = tb.inputs

    def as_device(*args: Any) -> Any:
        x = inputs(*args)
        return None if x is None else x._replace(cpu=False)

    tb.inputs = as_device  # type: ignore[assignment]
    try:
        yield
    finally:
        tb.inputs = inputs  # type: ignore[assignment]


@given(case=cases(invalid=True), matrix=st.booleans())
def test_device_branches_give_the_same_sums(case: Case, matrix: bool) -> None:
    if _two_readings(case):
        return
    with off_the_cpu():
        expected = _generic(case, False, matrix)
        ours = _kernel(case, False, matrix)
        if ours is not None:
            assert_same(ours, expected)
        agrees(case, matrix, applies=False)


# --- 4. through the metric ----------------------------------------------------------------------
def test_metric_updates_equal_the_generic_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole stream through `update_state`, with and without the kernel: identical state."""
    rng = np.random.default_rng(3)
    batches = [
        (
            torch.from_numpy(rng.integers(0, 5, n)),
            torch.from_numpy(rng.random((n, 5), dtype=np.float32)),
            None if n % 2 else torch.from_numpy(rng.random(n)),
        )
        for n in (1, 7, 32, 0, 300)
    ]

    def stream() -> np.ndarray:
        metric = em.CohenKappa("multiclass", num_classes=5, weights="quadratic")
        for t, p, w in batches:
            metric.update_state(t, p, w)
        return torch.cat([metric._hi.value, metric._lo.value]).detach().numpy().copy()

    ours = stream()
    monkeypatch.setattr(kernels, "direct", lambda name: None)
    np.testing.assert_array_equal(ours.view(np.int32), stream().view(np.int32))


# --- 5. the binned ranking state, in place --------------------------------------------------------
from epochmetrics._backend import torch_ranking as tr  # noqa: E402
from epochmetrics.functional import ranking_graph  # noqa: E402
from epochmetrics.functional.operating_points_ops import bin_thresholds  # noqa: E402


class RankingCase:
    def __init__(self, spec: TaskSpec, bpo: int, y_true: Any, y_pred: Any, weight: Any):
        self.spec, self.bpo, self.y_true, self.y_pred, self.weight = (
            spec,
            bpo,
            y_true,
            y_pred,
            weight,
        )

    def __repr__(self) -> str:
        return (
            f"RankingCase({self.spec}, bpo={self.bpo}, y_true={self.y_true!r}, "
            f"y_pred={self.y_pred!r}, weight={self.weight!r})"
        )


@st.composite
def ranking_cases(draw: Any, invalid: bool = False) -> RankingCase:
    """A batch of any task and form the binned ranking update takes (scores)."""
    task = draw(st.sampled_from(["binary", "multiclass", "multilabel"]))
    c = {"binary": 2, "multiclass": draw(st.integers(2, 6))}.get(task, draw(st.integers(1, 4)))
    b = draw(st.integers(0, 24))
    extra = draw(st.sampled_from([(), (), (2,)]))
    ignore = draw(st.sampled_from([None, None, -1, 255]))
    logits = draw(st.booleans())
    bpo = draw(st.sampled_from([1, 8, 64]))
    spec = make_spec(task, None if task == "binary" else c, 0.5, logits, ignore)
    sample = (b, *extra)
    bad_true = [-2.0, 0.5, math.nan] if invalid else []
    if task == "multiclass":
        shape, labels = sample + draw(st.sampled_from([(), (1,)])), [float(k) for k in range(c)]
        pred_shape = (*sample, c)
    else:
        shape = (*sample, c) if task == "multilabel" else sample
        labels, pred_shape = [0.0, 1.0], shape
    pool = labels + ([float(ignore)] if ignore is not None else [])
    int_true = draw(st.booleans())
    tdtype = torch.int64 if int_true else draw(st.sampled_from([torch.float32, torch.float64]))
    pool += [v for v in bad_true if not int_true or (not math.isnan(v) and v == int(v))]
    y_true = _values(draw, shape, pool, tdtype)
    scores = [0.0, -0.0, 0.25, 0.5, 0.5000001, 1.0, 1e-30, 0.999999, 1 / 3]
    if logits:
        scores += [-4.0, 2.5, 30.0, -90.0, math.inf, -math.inf]
    scores += [math.nan] + ([] if logits else [1.5, -0.5]) if invalid else []
    pdtype = draw(st.sampled_from([torch.float32, torch.float32, torch.float64, torch.float16]))
    y_pred = _values(draw, pred_shape, scores, pdtype)
    weight = None
    kind = draw(st.sampled_from(["none", "none", "float", "int"]))
    if kind != "none":
        wpool = {"float": [0.1, 0.7, 1e-3, 3.25, -0.5, 1.0 / 3.0], "int": [0.0, 1.0, 2.0]}[kind]
        wpool += [math.nan, math.inf] if invalid else []
        wshape = draw(st.sampled_from([(b,), sample]))
        weight = _values(draw, wshape, wpool, torch.float64)
    return RankingCase(spec, bpo, y_true, y_pred, weight)


def _pair(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A state with a long history: hi and lo both in use."""
    total = torch.linspace(0.0, 2.0**40 + 0.5, size, dtype=torch.float64)
    hi = total.float()
    return hi, (total - hi.double()).float()


def _generic_pair(case: RankingCase, check: bool) -> tuple[torch.Tensor, torch.Tensor]:
    batch = ranking_graph.binned_update(
        case.spec, case.bpo, case.y_true, case.y_pred, case.weight, check=check
    )
    return _sums.add(*_pair(batch.shape[0]), batch)


def _in_place(case: RankingCase, check: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
    size = ranking_graph.binned_layout(case.spec, case.bpo).size
    hi, lo = _pair(size)
    done = tr.binned(
        case.spec, case.bpo, hi, lo, case.y_true, case.y_pred, case.weight, check=check
    )
    return (hi, lo) if done else None


def _same_pair(ours: Any, generic: Any) -> None:
    assert ours is not None, "the kernel did not apply"
    for a, b in zip(ours, generic, strict=True):
        assert_same(a, b)


@given(case=ranking_cases(invalid=True))
def test_ranking_check_false_gives_the_generic_state_bit_for_bit(case: RankingCase) -> None:
    """torch's fit steps: invalid values masked and counted, nothing read on the host."""
    expected = _generic_pair(case, check=False)
    logits = case.spec.from_logits and case.spec.task != "multiclass"
    tr.bin_starts(case.bpo, logits, torch.device("cpu"))  # computed once per process
    with no_host_reads():
        ours = _in_place(case, check=False)
    _same_pair(ours, expected)


@given(case=ranking_cases(invalid=True))
def test_ranking_check_true_gives_the_generic_state_or_leaves_it_alone(case: RankingCase) -> None:
    """An eager update: a valid batch gives the generic state; one the generic function
    refuses leaves the state untouched (the caller then raises the generic error)."""
    try:
        expected = _generic_pair(case, check=True)
    except ValueError:
        size = ranking_graph.binned_layout(case.spec, case.bpo).size
        hi, lo = _pair(size)
        args = (case.spec, case.bpo, hi, lo, case.y_true, case.y_pred, case.weight)
        assert not tr.binned(*args, check=True)
        _same_pair((hi, lo), _pair(size))
        return
    ours = _in_place(case, check=True)
    if ours is None:  # a false alarm of the one read (inf - inf): the generic function runs
        assert case.spec.from_logits and bool(torch.isinf(case.y_pred).any())
        return
    _same_pair(ours, expected)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("weighted", [False, True])
def test_ranking_large_batches_take_the_elementwise_bins(task: str, weighted: bool) -> None:
    """Past `_SEARCH_ENTRIES` scores: `score_bins`; many cells, several entries each."""
    rng = np.random.default_rng(len(task))
    n, c = 700, 4
    spec = make_spec(task, None if task == "binary" else c, 0.5, False, -1)
    shape = (n,) if task == "binary" else (n, c)
    p = np.round(rng.random(shape) * 97) / 97  # repeated scores
    if task == "multiclass":
        p = p / p.sum(1, keepdims=True)
        t = rng.integers(0, c, n)
    else:
        t = rng.integers(0, 2, shape)
    t = np.where(rng.random(t.shape) < 0.05, -1, t)  # ignored
    w = torch.from_numpy(rng.random(n)) if weighted else None
    case = RankingCase(spec, 64, torch.from_numpy(t), torch.from_numpy(p).float(), w)
    assert case.y_pred.numel() > tr._SEARCH_ENTRIES
    for check in (True, False):
        _same_pair(_in_place(case, check=check), _generic_pair(case, check=check))


@given(case=ranking_cases(invalid=True))
def test_ranking_device_branch_gives_the_same_state(case: RankingCase) -> None:
    """The fixed-size branch (sort, runs of equal cells) that devices take."""
    with off_the_cpu():
        expected = _generic_pair(case, check=False)
        ours = _in_place(case, check=False)
    _same_pair(ours, expected)


@pytest.mark.parametrize("bpo", [1, 8, 64, 1024])
@pytest.mark.parametrize("logits", [False, True])
def test_score_bins_and_bin_starts_are_the_generic_ones(bpo: int, logits: bool) -> None:
    rng = np.random.default_rng(bpo)
    x = np.concatenate(
        [
            rng.random(2000),
            rng.random(200) ** 30,
            1 - rng.random(200) ** 30,
            0.5 + (rng.random(200) - 0.5) * 1e-6,
            [0.0, -0.0, 0.25, 0.5, 1.0, 1e-45, 1 - 2**-24],
            rng.normal(0, 30, 500) if logits else [],
            [np.inf, -np.inf, 88.0, -104.0] if logits else [],
        ]
    ).astype(np.float32)
    generic = ranking_graph.score_bins(torch.from_numpy(x), logits=logits, bins_per_octave=bpo)
    ours = tr.score_bins(torch.from_numpy(x), logits=logits, bins_per_octave=bpo)
    assert torch.equal(ours, generic.long())
    starts = tr.bin_starts(bpo, logits, torch.device("cpu"))
    assert np.array_equal(starts.numpy().astype(np.float64), bin_thresholds(bpo, logits=logits))
    searched = torch.searchsorted(starts, torch.from_numpy(x), right=True) - 1
    assert torch.equal(searched, generic.long())


def test_the_ranking_kernel_is_selected_for_the_binned_state_only() -> None:
    from epochmetrics._backend import kernels

    assert kernels.in_place("binned") is tr.binned
    assert kernels.in_place("stat_scores") is None and kernels.in_place(None) is None
    assert kernels.direct("binned") is None
    assert em.AUROC("binary")._binned.step.kernel == "binned"


@pytest.mark.parametrize(
    "make",
    [
        lambda: em.AUROC("multiclass", num_classes=5),
        lambda: em.AveragePrecision("multilabel", num_classes=3, ignore_index=-1),
        lambda: em.PrecisionAtRecall("binary", recall=0.8, from_logits=True),
    ],
)
def test_ranking_metric_updates_equal_the_generic_path(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole stream through `update_state` (and a compiled-metrics read), with and without
    the kernel: identical state, identical result."""
    rng = np.random.default_rng(4)
    metric = make()
    spec = metric._spec
    k = 1 if spec.task == "binary" else spec.num_classes

    def batch(n: int) -> tuple[Any, ...]:
        if spec.task == "multiclass":
            t = torch.from_numpy(rng.integers(0, k, n))
            p = torch.softmax(torch.from_numpy(rng.normal(size=(n, k))).float(), -1)
        elif spec.task == "multilabel":
            t = torch.from_numpy(np.where(rng.random((n, k)) < 0.1, -1, rng.integers(0, 2, (n, k))))
            p = torch.from_numpy(rng.random((n, k), dtype=np.float32))
        else:
            t = torch.from_numpy(rng.integers(0, 2, n))
            p = torch.from_numpy(rng.normal(size=n).astype(np.float32))
        w = None if n % 2 else torch.from_numpy(rng.random(n))
        return t, p, w

    batches = [batch(n) for n in (1, 7, 32, 0, 3000)]

    def stream() -> tuple[np.ndarray, Any]:
        m = make()
        for t, p, w in batches:
            m.update_state(t, p, w)
        return torch.cat([m._hi.value, m._lo.value]).numpy().copy(), m.result()

    ours = stream()
    from epochmetrics._backend import kernels

    monkeypatch.setattr(kernels, "in_place", lambda name: None)
    generic = stream()
    np.testing.assert_array_equal(ours[0].view(np.int32), generic[0].view(np.int32))
    assert_close(ours[1], generic[1], atol=0)
