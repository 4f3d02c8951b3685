"""A metric's state travels: pickle and `get_state` / `from_state` keep it, on every backend.

Ray, Spark, joblib, `multiprocessing` and torch's `all_gather_object` move metrics by pickle
(Ray, Spark and joblib's process workers by cloudpickle); a received metric must hold what the
sender held, and go on accumulating from there. Shards updated in a process pool and merged
equal one pass over all the data.
"""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cloudpickle  # what Ray, Spark and joblib's workers pickle with (joblib requires it)
import numpy as np
import pytest
from helpers import METRIC_TASKS, REGRESSION_METRICS, assert_close, make_metric
from multiproc import classification_data, detection_data, evaluate_partition, take

import epochmetrics as em

C = 3


def _data(task: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 4, n).astype("float32")
    if task == "binary":
        return rng.integers(0, 2, n), rng.random(n).astype("float32"), w
    scores = rng.random((n, C)).astype("float32")
    if task == "multilabel":
        return rng.integers(0, 2, (n, C)), scores, w
    return rng.integers(0, C, n), scores / scores.sum(axis=1, keepdims=True), w


def _value(metric: Any) -> Any:
    matrix = getattr(metric, "matrix", None)
    return matrix() if callable(matrix) else metric.result()


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    """Every public metric class once (its first task), the exact mode of the ranking
    metrics, and the multilabel layout of one count metric."""
    cases = [(name, tasks[-1], {}) for name, tasks in METRIC_TASKS.items()]
    cases += [
        (n, "multiclass", {"exact": True, "capacity": 64}) for n in ("AUROC", "AveragePrecision")
    ]
    cases += [("SensitivityAtSpecificity", "binary", {"exact": True, "capacity": 64})]
    return cases


@pytest.mark.parametrize(("name", "task", "kwargs"), _cases(), ids=lambda v: str(v))
def test_pickle_and_exported_state_keep_the_state(name: str, task: str, kwargs: dict) -> None:
    metric = make_metric(name, task, num_classes=C, **kwargs)
    y, p, w = _data(task, 40, seed=len(name))
    metric.update_state(y[:25], p[:25], w[:25])
    before = _value(metric)
    state = metric.get_state()
    assert state["class"] == name and state["config"] == metric.get_config()
    copies = [
        pickle.loads(pickle.dumps(metric)),
        cloudpickle.loads(cloudpickle.dumps(metric)),
        type(metric).from_state(state),
    ]
    fresh = make_metric(name, task, num_classes=C, **kwargs)
    fresh.set_state(state)
    for copy in [*copies, fresh]:
        assert type(copy) is type(metric)
        assert_close(_value(copy), before, atol=0.0, what=name)
        # It goes on from the received state as the sender would.
        copy.update_state(y[25:], p[25:], w[25:])
    metric.update_state(y[25:], p[25:], w[25:])
    for copy in [*copies, fresh]:
        assert_close(_value(copy), _value(metric), atol=0.0, what=f"{name} after more data")


def test_detection_map_state_pickles_and_round_trips() -> None:
    truth, pred = detection_data(12, seed=3)
    metric = em.DetectionMAP(num_classes=3, per_class=True)
    metric.update_state(take(truth, slice(0, 7)), take(pred, slice(0, 7)))
    received = pickle.loads(pickle.dumps(metric))
    clouded = cloudpickle.loads(cloudpickle.dumps(metric))
    rebuilt = em.DetectionMAP.from_state(metric.get_state())
    for m in (metric, received, clouded, rebuilt):
        m.update_state(take(truth, slice(7, 12)), take(pred, slice(7, 12)))
    one = em.DetectionMAP(num_classes=3, per_class=True)
    one.update_state(truth, pred)
    for m in (received, clouded, rebuilt):
        assert m._state.num_images == 12
        assert_close(m.result(), one.result(), atol=0.0)


def test_big_counts_survive_the_export() -> None:
    # Past float32's 2**24 (the pair holds them exactly; the export is one float64 total).
    cm = em.ConfusionMatrix("binary")
    cm.update_state(np.array([0, 1]), np.array([0.2, 0.9]), np.array([2.0**30 + 3, 2.0**24 + 1]))
    state = cm.get_state()
    assert state["arrays"]["sums"].dtype == np.float64
    back = pickle.loads(pickle.dumps(cm))
    np.testing.assert_array_equal(back.matrix(), [[2.0**30 + 3, 0.0], [0.0, 2.0**24 + 1]])


def test_process_pool_partitions_merge_to_one_pass() -> None:
    # Spawned processes (a fork of a process running JAX, TensorFlow or torch threads is
    # unsafe): each rebuilds the metrics from their empty states, updates its rows and sends
    # the metrics back by pickle; merged in order they equal one pass over all the rows.
    # (Kept to two metrics: each process compiles its own updates, seconds on JAX.)
    factories = [
        lambda: em.ClassificationReport("multiclass", num_classes=4),
        lambda: em.DetectionMAP(num_classes=3),
    ]
    states = [f().get_state() for f in factories]
    parts = [(0, 90), (90, 200)]
    # One worker for both parts: each import of a backend costs seconds of CPU.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        shards = list(pool.map(evaluate_partition, [states] * len(parts), parts))
    x, y, w = classification_data(200, 4, 4)
    scores = np.abs(x) / np.abs(x).sum(axis=1, keepdims=True)
    truth, pred = detection_data(30)
    for i, factory in enumerate(factories):
        merged, one = factory(), factory()
        merged.merge_state([shard[i] for shard in shards])
        if isinstance(one, em.DetectionMAP):
            one.update_state(truth, pred)
        else:
            one.update_state(y, scores, w)
        assert_close(merged.result(), one.result(), atol=1e-12, what=type(one).__name__)


@pytest.mark.parametrize("name", [*REGRESSION_METRICS, "SpearmanCorrCoef", "KendallTau"])
def test_regression_and_rank_states_travel(name: str) -> None:
    # Targets far from 0 (1e4): the regression moments are kept about a shift, which travels
    # with them; the rank metrics keep the arrays themselves.
    rng = np.random.default_rng(len(name))
    y = rng.normal(size=(40, 2)) * [1.0, 3.0] + 1e4
    p = y + rng.normal(size=(40, 2))
    w = rng.integers(1, 4, 40).astype("float64")
    kwargs: dict[str, Any] = {"num_outputs": 2, "multioutput": "raw_values"}
    rank = name in ("SpearmanCorrCoef", "KendallTau")
    args = (lambda a: (y[a], p[a])) if rank else (lambda a: (y[a], p[a], w[a]))
    metric = getattr(em, name)(**kwargs)
    metric.update_state(*args(slice(0, 25)))
    state = metric.get_state()
    copies = [
        pickle.loads(pickle.dumps(metric)),
        cloudpickle.loads(cloudpickle.dumps(metric)),
        type(metric).from_state(state),
    ]
    for copy in copies:
        assert_close(copy.result(), metric.result(), atol=0.0, what=name)
        copy.update_state(*args(slice(25, 40)))
    metric.update_state(*args(slice(25, 40)))
    for copy in copies:
        assert_close(copy.result(), metric.result(), atol=0.0, what=f"{name} after more data")
