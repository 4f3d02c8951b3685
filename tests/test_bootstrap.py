"""The bootstrap's core (functional.bootstrap, functional.replicates): replicate weights, sums,
intervals, paired comparisons, the count family's contributions and the ranking groups; and
the coverage of the intervals on simulated data with a known population value.

Run as a script to print the coverage table of the README ("Is it noise?"):
`PYTHONPATH=src KERAS_BACKEND=torch python tests/test_bootstrap.py`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from helpers import BACKEND, host, sk
from sklearn.metrics import f1_score, matthews_corrcoef, recall_score, roc_auc_score

import epochmetrics as em
from epochmetrics._backend import runtime
from epochmetrics._backend.xp import numpy_ops
from epochmetrics.functional import bootstrap, ranking, ranking_graph, replicates
from epochmetrics.functional._args import make_spec
from epochmetrics.functional.stat_scores import confusion_matrix_update, stat_scores_update
from epochmetrics.metrics._base import Keyed


# --- replicate weights ---------------------------------------------------------------------------
def test_weights_are_poisson_one_and_independent() -> None:
    w = bootstrap.replicate_weights(np.arange(200_000), 8, seed=3).astype(np.float64)
    assert w.shape == (200_000, 8) and w.dtype == np.float64
    n = w.size
    # Poisson(1): mean 1, variance 1, P(0) = P(1) = e^-1, P(2) = e^-1 / 2 (5 standard errors).
    assert abs(w.mean() - 1.0) < 5 / math.sqrt(n)
    assert abs(w.var() - 1.0) < 5 * math.sqrt(2.0 / n)
    for k, p in ((0, math.exp(-1)), (1, math.exp(-1)), (2, math.exp(-1) / 2)):
        assert abs(np.mean(w == k) - p) < 5 * math.sqrt(p * (1 - p) / n)
    corr = np.corrcoef(w.T)  # replicates independent of each other
    assert np.max(np.abs(corr - np.eye(8))) < 5 / math.sqrt(200_000)
    lag = np.corrcoef(w[:-1, 0], w[1:, 0])[0, 1]  # and neighbouring positions
    assert abs(lag) < 5 / math.sqrt(200_000)


def test_weights_depend_on_position_replicate_and_seed_only() -> None:
    whole = bootstrap.replicate_weights(np.arange(1000), 50, seed=7)
    picked = np.array([999, 3, 500, 3])
    assert np.array_equal(bootstrap.replicate_weights(picked, 50, seed=7), whole[picked])
    assert np.array_equal(bootstrap.replicate_weights(np.arange(1000), 20, seed=7), whole[:, :20])
    other = bootstrap.replicate_weights(np.arange(1000), 50, seed=8)
    assert np.mean(other == whole) < 0.5  # another seed, other replicates
    # The contract, computed here with Python integers: splitmix64 chained over (seed,
    # position, replicate), then Poisson(1)'s inverse CDF at the top 53 bits.
    positions, seeds = [0, 1, 5, 2**40, 2**63 + 11], (0, 1, 2**64 - 1)
    for seed in seeds:
        got = bootstrap.replicate_weights(np.array(positions, np.uint64), 6, seed=seed)
        assert got.tolist() == [[_oracle_weight(seed, i, r) for r in range(6)] for i in positions]
    assert int(bootstrap.splitmix64(np.uint64(0))[()]) == 0xE220A8397B1DCDAF  # published value


_M64 = 2**64 - 1


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _oracle_weight(seed: int, position: int, replicate: int) -> int:
    h = _splitmix64((_splitmix64((_splitmix64(seed) + position) & _M64) + replicate) & _M64)
    u = (h >> 11) / 2**53
    k, pmf, cdf = 0, math.exp(-1.0), math.exp(-1.0)
    while u >= cdf and k < 40:
        k += 1
        pmf /= k
        cdf += pmf
    return k


def test_replicate_sums_matrix_product_and_bincount_agree_with_a_loop() -> None:
    rng = np.random.default_rng(0)
    n, m, r = 300, 3, 40
    w = bootstrap.replicate_weights(np.arange(n), r)
    for size in (7, bootstrap.DENSE_CELLS + 1):
        index = rng.integers(0, size, (n, m))
        values = rng.random((n, m))
        expected = np.zeros((r, size))
        for i in range(n):
            for s in range(m):
                expected[:, index[i, s]] += w[i] * values[i, s]
        np.testing.assert_allclose(
            bootstrap.replicate_sums(index, values, w, size), expected, rtol=1e-13
        )


# --- intervals and paired comparisons ------------------------------------------------------------
def test_percentile_interval_is_numpys_quantile_and_needs_enough_defined_replicates() -> None:
    rng = np.random.default_rng(1)
    reps = rng.normal(size=(1000, 3))
    low, high = bootstrap.percentile_interval(reps, 0.9)
    np.testing.assert_allclose(low, np.quantile(reps, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(high, np.quantile(reps, 0.95, axis=0), rtol=1e-12)
    reps[:40, 0] = np.nan  # 4% undefined: left out
    reps[:60, 1] = np.nan  # 6% undefined at confidence 0.95: no interval
    low, high = bootstrap.percentile_interval(reps, 0.95, values=[0.0, 0.0, np.nan])
    assert low[0] == pytest.approx(np.quantile(reps[40:, 0], 0.025), rel=1e-12)
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert np.isnan(low[2]) and np.isnan(high[2])  # a NaN value has no interval


def test_paired_gain() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(0.8, 0.02, 1000)
    same = bootstrap.paired_gain(0.8, base, 0.8, base, "up", 0.95)
    assert (same.gain, same.gain_low, same.p_better, same.significant) == (0.0, 0.0, 0.5, False)
    better = bootstrap.paired_gain(0.81, base + 0.01, 0.8, base, "up", 0.95)
    assert better.significant and better.p_better == 1.0
    lower_is_better = bootstrap.paired_gain(0.79, base - 0.01, 0.8, base, "down", 0.95)
    assert lower_is_better.significant and lower_is_better.gain == pytest.approx(0.01)
    noisy = bootstrap.paired_gain(
        0.805, base + rng.normal(0.005, 0.02, 1000), 0.8, base, "up", 0.95
    )
    assert not noisy.significant and 0.5 < noisy.p_better < 0.95
    undefined = bootstrap.paired_gain(math.nan, base, 0.8, base, "up", 0.95)
    assert not undefined.significant and math.isnan(undefined.p_better)


# --- the count family's contributions ------------------------------------------------------------
def _batch(task: str, c: int, b: int, extra: tuple[int, ...], rng: Any) -> tuple[Any, Any]:
    if task == "binary":
        return rng.integers(0, 2, (b, *extra)), rng.random((b, *extra)).astype("float32")
    if task == "multiclass":
        return rng.integers(0, c, (b, *extra)), rng.random((b, *extra, c)).astype("float32")
    return rng.integers(0, 2, (b, *extra, c)), rng.random((b, *extra, c)).astype("float32")


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("extra", [(), (3, 2)], ids=["flat", "dense"])
def test_contributions_sum_to_the_batch_functions_sums(task: str, extra: tuple[int, ...]) -> None:
    """Summed over the samples, each sample's contribution is the metric's own batch sums;
    with replicate weights, the sums of the re-weighted batch (dense: weights per image)."""
    rng = np.random.default_rng(3)
    c, b = 4, 9
    spec = make_spec(task, None if task == "binary" else c, 0.5, False, 1 if extra else None)
    y, p = _batch(task, c, b, extra, rng)
    w = bootstrap.replicate_weights(np.arange(b), 3, seed=1)
    steps = [(stat_scores_update, (spec, False)), (confusion_matrix_update, (spec,))]
    if task == "multiclass":
        steps.append((stat_scores_update, (spec, True)))
    for fn, args in steps:
        for sw in (None, rng.random(b) * 3):
            part = replicates.contributions(fn, args, y, p, sw)
            assert part is not None
            states = replicates.replicate_states(part, w)
            for r in range(3):
                weight = w[:, r].astype(np.float64) * (1.0 if sw is None else sw)
                with runtime.eager_x64():  # the batch function's own sums, in float64
                    expected = host(fn(*args, y, p, weight)).astype(np.float64)
                np.testing.assert_allclose(states[r, :-3], expected[:-3], rtol=1e-12)
    assert replicates.contributions(len, (), y, p, None) is None  # no contribution function


def test_stacked_states_give_stacked_results() -> None:
    """The count family's reductions take a stack of states (the replicates, in one call)."""
    rng = np.random.default_rng(4)
    cases = []
    for task, c in (("binary", None), ("multiclass", 4), ("multilabel", 3)):
        kw: dict[str, Any] = {"num_classes": c}
        cases += [
            em.F1Score(task, **kw),
            em.F1Score(task, average=None, **kw),
            em.Recall(task, **kw),
            em.Specificity(task, **kw),
            em.JaccardIndex(task, **kw),
            em.Accuracy(task, **kw),
            em.ClassificationReport(task, **kw),
        ]
        if task != "multilabel":
            cases += [em.MatthewsCorrCoef(task, **kw), em.BalancedAccuracy(task, **kw)]
            cases += [em.CohenKappa(task, weights=k, **kw) for k in (None, "linear", "quadratic")]
    for metric in cases:
        states = np.floor(np.abs(rng.normal(size=(6, metric._layout().size))) * 5)
        states[0] = 0.0  # an empty replicate
        states[:, -3:] = 0.0
        with np.errstate(all="ignore"):
            stacked = metric._compute(states, numpy_ops)
            rows = [metric._compute(s, numpy_ops) for s in states]

        def values(v: Any) -> np.ndarray:
            return np.asarray(v.values if isinstance(v, Keyed) else v, np.float64)

        np.testing.assert_array_equal(values(stacked), np.stack([values(v) for v in rows]))


# --- the ranking metrics' groups -----------------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_ranked_columns_give_each_replicates_exact_value(task: str) -> None:
    """Sorted once, re-weighted per replicate: the exact value on the re-weighted arrays."""
    from epochmetrics.callbacks._bootstrap import Resampler
    from epochmetrics.callbacks._metrics import build_entries

    rng = np.random.default_rng(5)
    n, c, r = 150, 4, 12
    y, p = _batch(task, c, n, (), rng)
    p = np.round(p, 2)  # ties
    kinds = [
        lambda **k: em.AUROC(task, **k),
        lambda **k: em.AveragePrecision(task, **k),
        lambda **k: em.PrecisionAtRecall(task, recall=0.7, **k),
    ]
    averages = [None] if task == "binary" else ["macro", "weighted", "micro", None]
    for make in kinds:
        for average in averages:
            for sw in (None, rng.random(n)):
                kwargs: dict[str, Any] = {} if task == "binary" else {"num_classes": c}
                metric = make(average=average or None, **kwargs) if task != "binary" else make()
                entry = build_entries({"m": metric})[0]
                resampler = Resampler(0.95, r, seed=2)
                resampler.start()
                resampler.whole(entry, y, p, sw)
                fast = resampler.values([entry])
                w = resampler.weights(0, n)
                for i in range(r):
                    weight = w[:, i] * (1.0 if sw is None else sw)
                    expected = sk(metric.evaluate_arrays, y, p, sample_weight=weight)
                    if not isinstance(expected, dict):
                        expected = {"m": expected}
                    for key, value in expected.items():
                        np.testing.assert_allclose(fast[key][i], value, rtol=0, atol=1e-12)


# --- coverage on simulated data ------------------------------------------------------------------
CLASSES, PRIORS = 3, (0.6, 0.3, 0.1)
SIZES = (200, 500, 1000, 2000)
DRAWS = 400
COVERAGE_RESAMPLES = 250


def _population(n: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed population and a fixed classifier: noisy logits around the true class."""
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, n, p=PRIORS)
    logits = 1.2 * np.eye(CLASSES)[y] + rng.normal(size=(n, CLASSES))
    e = np.exp(logits)
    return y, (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _population_values(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    pred = p.argmax(axis=1)
    values = {
        "f1_macro": f1_score(y, pred, average="macro"),
        "mcc": matthews_corrcoef(y, pred),
        "auroc": roc_auc_score(np.eye(CLASSES)[y], p, average="macro"),
    }
    for c, v in enumerate(recall_score(y, pred, average=None)):
        values[f"recall_{c}"] = v
    return {k: float(v) for k, v in values.items()}


def coverage(
    confidence: float = 0.95, draws: int = DRAWS, resamples: int = COVERAGE_RESAMPLES
) -> dict[str, dict[int, float]]:
    """Share of draws whose interval holds the population value, per metric and size.

    Validation sets of SIZES samples (draws split evenly) drawn without replacement from the
    population; the intervals from our NumPy core: the count family's replicate states read
    in one call on the stack, exact AUROC from the sorted columns' group masses.
    """
    y_pop, p_pop = _population()
    truth = _population_values(y_pop, p_pop)
    f1 = em.F1Score("multiclass", num_classes=CLASSES)
    recall = em.Recall("multiclass", num_classes=CLASSES, average=None)
    mcc = em.MatthewsCorrCoef("multiclass", num_classes=CLASSES)
    spec = f1._spec
    weights = bootstrap.replicate_weights(np.arange(max(SIZES)), resamples, seed=0)
    rng = np.random.default_rng(1)
    hits = {k: dict.fromkeys(SIZES, 0) for k in truth}
    for draw in range(draws):
        n = SIZES[draw % len(SIZES)]
        index = rng.choice(len(y_pop), n, replace=False)
        y, p, w = y_pop[index], p_pop[index], weights[:n]
        part = replicates.contributions(stat_scores_update, (spec, False), y, p, None)
        assert part is not None
        states = replicates.replicate_states(part, w)
        with np.errstate(all="ignore"):
            reps = {"f1_macro": f1._compute(states, numpy_ops)}
            reps["mcc"] = mcc._compute(states, numpy_ops)
            per_class = recall._compute(states, numpy_ops).values
        for c in range(CLASSES):
            reps[f"recall_{c}"] = per_class[:, c]
        cols = ranking.prepare(spec, y, p, None, probabilities=True)
        ranked = replicates.RankedColumns(cols.scores, cols.targets, None, np.arange(n))
        auroc = []
        for start in range(0, resamples, 25):  # replicates in blocks that stay in cache
            pos, neg, _ = ranked.masses(w[:, start : start + 25])
            auroc.append(np.mean(ranking_graph.auroc_from_counts(numpy_ops, pos, neg), axis=-1))
        reps["auroc"] = np.concatenate(auroc)
        for key, column in reps.items():
            low, high = bootstrap.percentile_interval(np.asarray(column), confidence)
            hits[key][n] += bool(low[0] <= truth[key] <= high[0])
    per_size = draws // len(SIZES)
    return {k: {n: h / per_size for n, h in v.items()} for k, v in hits.items()}


@pytest.mark.skipif(
    BACKEND != "torch",
    reason="NumPy statistics, the same on every backend (their per-backend equality is tested "
    "in test_evaluator_bootstrap.py): run once, where eager batch formatting is cheapest",
)
def test_coverage_of_95_percent_intervals() -> None:
    """400 validation sets of 200-2,000 samples from a fixed population and classifier: the 95%
    interval of F1 macro, of each class's recall, of MCC and of exact AUROC covers the
    population value in 91-99% of them."""
    table = coverage()
    for key, by_size in table.items():
        overall = float(np.mean(list(by_size.values())))
        assert 0.91 <= overall <= 0.99, (key, by_size)


def _print_table() -> None:
    table = coverage()
    print(f"| metric | {' | '.join(f'n = {n:,}' for n in SIZES)} | all {DRAWS} |")
    print("|---|" + "---:|" * (len(SIZES) + 1))
    for key, by_size in table.items():
        cells = " | ".join(f"{v:.0%}" for v in by_size.values())
        print(f"| {key} | {cells} | {np.mean(list(by_size.values())):.1%} |")


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _print_table()
