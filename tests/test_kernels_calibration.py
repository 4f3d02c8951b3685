"""Calibration error against a loop-based reference written from the definition, and torchmetrics.

The reference bins each float32 confidence with exact fractions (bin j holds
j / n <= c < (j + 1) / n, c = 1 its own cell, as torchmetrics), sums per cell in Python and applies
the three norms as torchmetrics writes them (bin accuracy, bin confidence, bin proportion).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import keras
import numpy as np
import pytest
import torch
from helpers import host, partition
from hypothesis import given
from hypothesis import strategies as st
from torchmetrics.functional.classification import (
    binary_calibration_error,
    multiclass_calibration_error,
)

from epochmetrics._backend import ops as _backend
from epochmetrics._backend import runtime
from epochmetrics._backend.xp import keras_ops, numpy_ops
from epochmetrics.functional import calibration as cal
from epochmetrics.functional.ranking import UndefinedMetricWarning

NORMS = ("l1", "l2", "max")


# --- the reference ---------------------------------------------------------------------------
def reference_bin(c: float, n_bins: int) -> int:
    return n_bins if c == 1.0 else math.floor(Fraction(float(c)) * n_bins)


def reference(conf: Any, acc: Any, w: Any, n_bins: int, norm: str) -> float:
    cells: dict[int, list[float]] = {}
    for c, a, wi in zip(conf, acc, np.ones(len(conf)) if w is None else w, strict=True):
        cell = cells.setdefault(reference_bin(c, n_bins), [0.0, 0.0, 0.0])
        cell[0] += float(wi)
        cell[1] += float(wi) * float(c)
        cell[2] += float(wi) * float(a)
    total = sum(cell[0] for cell in cells.values())
    if total == 0:
        return math.nan
    terms = []  # (proportion, bin accuracy - bin confidence) per non-empty cell
    for count, conf_sum, acc_sum in cells.values():
        if count > 0:
            terms.append((count / total, acc_sum / count - conf_sum / count))
    if norm == "l1":
        return sum(b * abs(d) for b, d in terms)
    if norm == "l2":
        return math.sqrt(sum(b * d * d for b, d in terms))
    return max(abs(d) for _, d in terms)


def top_label_reference(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(float)


def draw_probs(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    z = rng.normal(0, 2, (n, c))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p.astype(np.float32)


# --- whole arrays ----------------------------------------------------------------------------
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_binary_against_reference_and_torchmetrics(
    norm: str, n_bins: int, rng: np.random.Generator
) -> None:
    for _ in range(4):
        n = int(rng.integers(1, 300))
        p = rng.random(n).astype(np.float32)
        y = (rng.random(n) < p).astype(int)
        ours = cal.calibration_error(y, p, n_bins=n_bins, norm=norm)
        assert ours == pytest.approx(reference(p, y, None, n_bins, norm), abs=1e-12)
        theirs = binary_calibration_error(torch.from_numpy(p), torch.from_numpy(y), n_bins, norm)
        assert ours == pytest.approx(float(theirs), abs=2e-6)


@pytest.mark.parametrize("norm", NORMS)
def test_multiclass_top_label(norm: str, rng: np.random.Generator) -> None:
    for n_bins in (5, 15):
        p = draw_probs(rng, 200, 4)
        y = rng.integers(0, 4, 200)
        ours = cal.calibration_error(
            y, p, task="multiclass", num_classes=4, n_bins=n_bins, norm=norm
        )
        conf, acc = top_label_reference(p, y)
        assert ours == pytest.approx(reference(conf, acc, None, n_bins, norm), abs=1e-12)
        theirs = multiclass_calibration_error(
            torch.from_numpy(p), torch.from_numpy(y), 4, n_bins, norm
        )
        assert ours == pytest.approx(float(theirs), abs=2e-6)
        one_hot = np.eye(4)[y]
        again = cal.calibration_error(
            one_hot, p, task="multiclass", num_classes=4, n_bins=n_bins, norm=norm
        )
        assert again == ours


@pytest.mark.parametrize("norm", NORMS)
def test_confidences_on_edges_zero_and_one(norm: str, rng: np.random.Generator) -> None:
    for n_bins in (4, 8, 10, 15):
        edges = (np.arange(n_bins + 1) / n_bins).astype(np.float32)  # float32(j / n)
        p = rng.choice(np.r_[edges, 0.0, 1.0], 120).astype(np.float32)
        y = (rng.random(120) < 0.6).astype(int)
        ours = cal.calibration_error(y, p, n_bins=n_bins, norm=norm)
        assert ours == pytest.approx(reference(p, y, None, n_bins, norm), abs=1e-12)
        if n_bins in (4, 8):  # torch.linspace's float32 edges are exact there
            theirs = binary_calibration_error(
                torch.from_numpy(p), torch.from_numpy(y), n_bins, norm
            )
            assert ours == pytest.approx(float(theirs), abs=2e-6)


@pytest.mark.parametrize("average", ["macro", "micro", None])
def test_multilabel_is_binary_per_label(average: Any, rng: np.random.Generator) -> None:
    p = rng.random((150, 3)).astype(np.float32)
    y = (rng.random((150, 3)) < p).astype(int)
    y[rng.random((150, 3)) < 0.1] = -1  # ignored elements
    w = rng.integers(0, 4, 150).astype(float)
    ours = cal.calibration_error(
        y, p, task="multilabel", num_classes=3, average=average, sample_weight=w, ignore_index=-1
    )
    keep = y != -1
    per_label = [
        reference(p[keep[:, j], j], y[keep[:, j], j], w[keep[:, j]], 15, "l1") for j in range(3)
    ]
    if average == "micro":
        ww = np.broadcast_to(w[:, None], y.shape)
        expected: Any = reference(p[keep], y[keep], ww[keep], 15, "l1")
    else:
        expected = per_label if average is None else np.mean(per_label)
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_weights_repeat_and_remove(rng: np.random.Generator) -> None:
    p = rng.random(80).astype(np.float32)
    y = (rng.random(80) < 0.5).astype(int)
    w = rng.integers(0, 4, 80)
    for norm in NORMS:
        weighted = cal.calibration_error(y, p, sample_weight=w, norm=norm)
        repeated = cal.calibration_error(np.repeat(y, w), np.repeat(p, w), norm=norm)
        assert weighted == pytest.approx(repeated, abs=1e-12)


def test_logits() -> None:
    z = np.array([-3.0, -0.2, 0.0, 0.4, 2.5, 7.0])
    y = np.array([0, 1, 0, 1, 1, 1])
    p = (1 / (1 + np.exp(-z))).astype(np.float32)
    assert cal.calibration_error(y, z, from_logits=True) == cal.calibration_error(y, p)
    zz = np.stack([z, -z, 0.5 * z], axis=1)
    pp = (np.exp(zz) / np.exp(zz).sum(axis=1, keepdims=True)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 0, 2])
    ours = cal.calibration_error(labels, zz, task="multiclass", num_classes=3, from_logits=True)
    assert ours == pytest.approx(
        cal.calibration_error(labels, pp, task="multiclass", num_classes=3), abs=1e-7
    )


def test_nothing_counted_is_nan_with_a_warning() -> None:
    with pytest.warns(UndefinedMetricWarning, match="no sample was counted"):
        assert math.isnan(cal.calibration_error([255, 255], [0.2, 0.9], ignore_index=255))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"n_bins": 0},
            r"`n_bins` must be an integer from 1 to 2\*\*24 \(15 is usual\). Received: n_bins=0",
        ),
        ({"n_bins": 2.0}, "Received: n_bins=2.0"),
        ({"n_bins": True}, "Received: n_bins=True"),
        ({"norm": "l3"}, r"`norm` must be one of 'l1' \(ECE\), 'l2' .* Received: norm='l3'"),
        (
            {"task": "multilabel", "num_classes": 2, "average": "weighted"},
            "Received: average='weighted'",
        ),
        ({"y_prob": [0.2, 1.5]}, r"probabilities in \[0, 1\].*from_logits=True"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    args = {"y_true": [0, 1], "y_prob": [0.2, 0.7], **kwargs}
    if args.get("task") == "multilabel":
        args["y_true"], args["y_prob"] = [[0, 1], [1, 0]], [[0.2, 0.7], [0.4, 0.1]]
    with pytest.raises(ValueError, match=message):
        cal.calibration_error(args.pop("y_true"), args.pop("y_prob"), **args)


# --- the streaming kernels -----------------------------------------------------------------------
def test_bin_index_is_exact_around_every_edge() -> None:
    for n_bins in (1, 3, 7, 10, 15, 100, 1000):
        edges = (np.arange(n_bins + 1) / n_bins).astype(np.float32)
        down, up = np.float32(-1), np.float32(2)
        x = np.unique(
            np.concatenate(
                [
                    edges,
                    np.nextafter(edges, down),
                    np.nextafter(np.nextafter(edges, down), down),
                    np.nextafter(edges, up),
                    np.nextafter(np.nextafter(edges, up), up),
                ]
            )
        )
        x = x[(x >= 0) & (x <= 1)].astype(np.float32)
        x = np.r_[x, np.zeros(6000 - x.size, np.float32)]  # one shape for every n_bins
        expected = [reference_bin(v, n_bins) for v in x]
        np.testing.assert_array_equal(host(cal.bin_index(x, n_bins)), expected, err_msg=str(n_bins))
        ones = np.ones((x.size, 1))
        on_host = cal._host_sums(x[:, None], ones, ones, n_bins)[0, 0]
        np.testing.assert_array_equal(on_host, np.bincount(expected, minlength=n_bins + 1))


def batch_sums(conf: Any, acc: Any, w: Any, n_bins: int, size: int = 64) -> np.ndarray:
    """`calibration_sums` of one batch, padded with zero-weight rows to `size` (zero weight is
    removal; one shape keeps JAX from compiling per batch size)."""
    pad = size - len(conf)
    conf = np.concatenate([conf, np.zeros((pad, *conf.shape[1:]), conf.dtype)])
    acc = np.concatenate([acc, np.ones((pad, *acc.shape[1:]), acc.dtype)])
    w = np.concatenate([w, np.zeros(pad)])
    sums = cal.calibration_sums(
        keras.ops.convert_to_tensor(conf),
        keras.ops.convert_to_tensor(acc.astype(np.float32)),
        keras.ops.convert_to_tensor(w.astype(_backend.wide_float())),
        n_bins=n_bins,
    )
    return host(sums).astype(np.float64)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    cuts=st.lists(st.integers(1, 59), max_size=5),
)
def test_batch_sums_merge_by_addition(seed: int, n: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    conf = rng.choice([0.0, 0.25, 1.0, *rng.random(5)], (n, 2)).astype(np.float32)
    acc = (rng.random((n, 2)) < 0.5).astype(np.float32)
    w = rng.integers(0, 5, n) / 2.0
    whole = cal._host_sums(conf, acc.astype(np.float64), np.broadcast_to(w[:, None], conf.shape), 8)
    parts = sum(batch_sums(conf[a:b], acc[a:b], w[a:b], 8) for a, b in partition(n, cuts))
    np.testing.assert_allclose(parts, whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(parts[0], whole[0])  # weights on a dyadic grid: exact
    for norm in NORMS:
        np.testing.assert_allclose(
            host(
                cal.calibration_error_from_sums(keras_ops, keras.ops.convert_to_tensor(parts), norm)
            ),
            cal.calibration_error_from_sums(numpy_ops, whole, norm),
            atol=1e-6,
        )


def test_kernels_compile_and_match_torchmetrics(rng: np.random.Generator) -> None:
    p = draw_probs(rng, 256, 5)
    y = rng.integers(0, 5, 256)

    def step(p: Any, y: Any) -> Any:
        conf, acc = cal.top_label(keras_ops, p, y)
        sums = cal.calibration_sums(conf, acc, n_bins=15)
        return keras.ops.stack(
            [cal.calibration_error_from_sums(keras_ops, sums, n)[0] for n in NORMS]
        )

    compiled = runtime.compile_eager(step, fixed=0) or step
    ours = host(compiled(keras.ops.convert_to_tensor(p), keras.ops.convert_to_tensor(y)))
    theirs = [
        float(multiclass_calibration_error(torch.from_numpy(p), torch.from_numpy(y), 5, 15, n))
        for n in NORMS
    ]
    np.testing.assert_allclose(ours, theirs, atol=2e-6)
