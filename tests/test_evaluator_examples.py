"""The examples in examples/ run end to end (few epochs) with no hand-written callback."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_keep_best_f1(tmp_path, capsys):
    result = _load("keep_best_f1").main(epochs=3, out_dir=str(tmp_path))
    # The checkpoint kept by ModelCheckpoint(monitor="val_f1") is the best-F1 epoch's model.
    assert result["sklearn_f1"] == pytest.approx(result["best_f1"], abs=1e-6)
    assert os.path.exists(result["path"])
    assert "best val F1" in capsys.readouterr().out


def test_per_class_metrics(tmp_path):
    pytest.importorskip("matplotlib")
    results = _load("per_class_metrics").main(epochs=2, out_dir=str(tmp_path))
    binary, multiclass = results["binary"]["history"], results["multiclass"]["history"]
    assert binary["epochs"] == [0, 1]
    assert {"val_recall_0", "val_recall_1", "val_f1_macro"} <= set(binary["scalars"])
    assert {"val_precision_2", "val_recall_2", "val_f1_2"} <= set(multiclass["scalars"])
    assert sorted(os.listdir(tmp_path)) == ["binary_per_class.png", "multiclass_per_class.png"]


def test_map_early_stopping():
    result = _load("map_early_stopping").main(epochs=3)
    scalars = result["history"]["scalars"]
    assert len(scalars["val_map"]) == len(scalars["val_heldout_map"]) >= 1
    assert all(0.0 <= v <= 1.0 for v in scalars["val_map"])
    assert result["history"]["directions"] == {"val_map": "up", "val_heldout_map": "up"}
