"""CONTRIBUTING.md, followed: its three recipes' code, run as written, makes metrics that agree
with their oracles (eagerly, in compiled steps, in the evaluator) and document every argument."""

from __future__ import annotations

import doctest
import itertools
import re
import sys
import types
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from helpers import assert_close

import epochmetrics as em
from epochmetrics import _docs

GUIDE = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


@pytest.fixture(scope="module")
def recipes() -> Any:
    """The guide's Python blocks, run in order as one module (as a contributor's files)."""
    text = GUIDE.read_text()
    module = types.ModuleType("contributing_recipes")
    sys.modules[module.__name__] = module
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(block, str(GUIDE), "exec"), module.__dict__)
    yield module
    del sys.modules[module.__name__]


def _batches(n: int, rng: np.random.Generator) -> list[slice]:
    cuts = np.sort(rng.choice(np.arange(1, n), size=4, replace=False))
    edges = [0, 1, *cuts.tolist(), n]  # a batch of one sample first
    return [slice(a, b) for a, b in itertools.pairwise(edges) if b > a]


def test_the_guide_links_and_its_recipes() -> None:
    text = GUIDE.read_text()
    for heading in ("add a sum metric", "add a ranking metric", "add a host metric"):
        assert f"## Recipe {heading}".lower() in re.sub(r"Recipe \d: ", "Recipe ", text).lower()
    for twin in ("torch_batch.py", "torch_kernels.py", "samplewise.py", "_host_format.py"):
        assert twin in text
    root = GUIDE.parent
    assert "CONTRIBUTING.md" in (root / "README.md").read_text()
    assert "CONTRIBUTING.md" in (root / "docs" / "architecture.md").read_text()


def test_recipe_1_sum_metric(recipes: Any) -> None:
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    p = rng.random(n).astype("float32")
    w = rng.integers(0, 4, n).astype("float32")
    expected = np.average(p > 0.5, weights=w)  # the oracle: NumPy on the whole epoch
    metric = recipes.PositiveRate("binary")
    for part in _batches(n, rng):
        metric.update_state(y[part], p[part], w[part])
    assert_close(float(metric.result()), expected)
    # Inside compiled test steps (torch: eager steps), and in `compile`'s own naming.
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss="mse", metrics=[recipes.PositiveRate("binary")])
    logs = model.evaluate(p[:, None], y, batch_size=32, verbose=0, return_dict=True)
    assert_close(logs["positive_rate"], np.mean(p > 0.5))
    with pytest.raises(ValueError, match=r"expects y_true values to be 0 or 1"):
        metric.update_state(np.array([0, 2]), np.array([0.1, 0.9], "float32"))
    assert _docs.documented_args(recipes.PositiveRate) == [
        "task",
        "threshold",
        "from_logits",
        "ignore_index",
        "name",
        "dtype",
    ]
    found = doctest.DocTestFinder().find(recipes.PositiveRate, globs=vars(recipes))
    assert sum(doctest.DocTestRunner().run(t).failed for t in found) == 0
    clone = recipes.PositiveRate.from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()


@pytest.mark.parametrize("exact", [False, True])
def test_recipe_2_ranking_metric(recipes: Any, exact: bool) -> None:
    rng = np.random.default_rng(1)
    n, c = 150, 4
    y = rng.integers(0, c, n)
    p = rng.dirichlet(np.ones(c), n).astype("float32")
    w = rng.random(n)
    onehot = np.eye(c)[y]
    per_class = np.array([np.average(onehot[:, k], weights=w) for k in range(c)])
    kwargs = {"num_classes": c, "exact": exact, "capacity": n if exact else None}
    macro = recipes.PositiveShare("multiclass", **kwargs)
    per = recipes.PositiveShare("multiclass", average=None, **kwargs)
    for part in _batches(n, rng):
        for metric in (macro, per):
            metric.update_state(y[part], p[part], w[part])
    assert_close(float(macro.result()), per_class.mean())
    assert_close([float(v) for v in per.result().values()], per_class)
    assert list(per.result()) == [f"positive_share_{k}" for k in range(c)]
    assert_close(macro.evaluate_arrays(y, p, w), per_class.mean())
    assert macro.error_bound() == 0.0
    labels = rng.integers(0, 2, (n, c))
    micro = recipes.PositiveShare("multilabel", average="micro", **kwargs)
    micro.update_state(labels, p)
    assert_close(float(micro.result()), labels.mean())


def test_recipe_3_host_metric(recipes: Any) -> None:
    from sklearn.metrics import median_absolute_error

    rng = np.random.default_rng(2)
    x = rng.random((50, 1)).astype("float32")
    y = rng.random(50).astype("float32")
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    evaluator = em.EpochEvaluator((x, y), {"medae": recipes.MedianAbsoluteError()}, batch_size=16)
    logs = evaluator.evaluate(model)
    assert_close(logs["val_medae"], median_absolute_error(y, x[:, 0]))
    model.compile(loss="mse", metrics=[recipes.MedianAbsoluteError()])  # refused in steps
    with pytest.raises(ValueError, match="MedianAbsoluteError is a host metric"):
        model.evaluate(x, y, verbose=0)
