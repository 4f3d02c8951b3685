"""examples/detection_map.py trains a detector with EarlyStopping/ReduceLROnPlateau on val_map."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "detection_map.py"


def _load():
    spec = importlib.util.spec_from_file_location("_example_detection_map", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_detection_example_trains_and_logs_map():
    result = _load().main(epochs=3, train_images=600)
    history = result["history"]
    scalars = history["scalars"]
    assert history["epochs"] == [0, 1, 2]
    assert history["directions"]["val_map"] == "up"
    assert {"val_map_50", "val_mar_100", "val_map_square", "val_map_disc", "val_map_bar"} <= set(
        scalars
    )
    assert all(0.0 <= v <= 1.0 for v in scalars["val_map"])
    assert all(math.isnan(v) for v in scalars["val_map_large"])  # no large shapes: -1 -> NaN
    assert scalars["val_map"][-1] > scalars["val_map"][0]  # it learns
    # Keras' own history saw the evaluator's values in the same epochs.
    assert result["keras_history"]["val_map"] == scalars["val_map"]
    assert "learning_rate" in result["keras_history"]
