"""examples/regression.py: diabetes data offset by 1e4, our metrics against scikit-learn."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import r2_score

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "regression.py"


def _load():
    spec = importlib.util.spec_from_file_location("_example_regression", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regression_example(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    example = _load()
    result = example.main(epochs=6, out=tmp_path)
    logs, best = result["history"], result["best_epoch"]
    assert len(logs["val_r2"]) == 6 and logs["val_r2"][-1] > logs["val_r2"][0]  # it learns
    # The best model's validation predictions: the logged epoch values are scikit-learn's and
    # scipy's on them (predictions from the reloaded checkpoint, float32 like the steps').
    y, p = result["y_val"].astype(np.float64), result["y_pred"]
    assert logs["val_r2"][best] == pytest.approx(r2_score(y, p), abs=1e-6)
    assert logs["val_pearson"][best] == pytest.approx(scipy.stats.pearsonr(y, p)[0], abs=1e-6)
    assert logs["val_spearman"][best] == pytest.approx(scipy.stats.spearmanr(y, p)[0], abs=1e-9)
    assert math.isnan(logs["val_keras_pearson"][best])  # Keras' within-sample correlation
    assert "Predictions of the best model" in result["report"].read_text()
