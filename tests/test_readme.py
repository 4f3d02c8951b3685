"""The README's Python examples run (with tiny data and 2 epochs)."""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import epochmetrics as em

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def namespace() -> dict[str, object]:
    rng = np.random.default_rng(0)
    x = rng.random((120, 8)).astype("float32")
    y = rng.integers(0, 10, 120)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10, activation="softmax")])
    return {
        "keras": keras,
        "np": np,
        "em": em,
        "model": model,
        "x": x,
        "y": y,
        "xv": x[:40],
        "yv": y[:40],
        "x_val": x[:40],
        "y_val": y[:40],
        "x_test": x[40:80],
        "y_test": y[40:80],
        "names": ["cat", "dog", "bird", "fish", "frog", "deer", "fox", "owl", "bee", "ant"],
    }


@pytest.mark.parametrize("index", range(len(blocks())))
def test_readme_python_blocks_run(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = blocks()[index].replace("epochs=50", "epochs=2")
    monkeypatch.chdir(tmp_path)
    ns = namespace()
    if "model.fit" in code and "model.compile" not in code:
        ns["model"].compile("adam", "sparse_categorical_crossentropy")
    if "DetectionMAP" in code:  # the example's small detector on its synthetic shapes
        _detection_namespace(ns)
    if "plot_history" in code:
        ns["history"] = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}
        ns["cm"], ns["class_names"] = np.eye(3) * 5 + 1, ["a", "b", "c"]
    with warnings.catch_warnings():
        # No shape of the synthetic detection data is "large": map_large is NaN, with a warning.
        warnings.simplefilter("ignore", em.UndefinedMetricWarning)
        exec(compile(code, f"README block {index}", "exec"), ns)


def _detection_namespace(ns: dict[str, object]) -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "detection_map.py"
    spec = importlib.util.spec_from_file_location("_readme_detection", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    x_train, y_train = example.make_images(80, seed=0)
    x_val, y_val = example.make_images(40, seed=1)
    detector = example.GridDetector()
    detector.compile("adam", loss=example.grid_loss)
    ns.update(
        detector=detector,
        x_train=x_train,
        y_train=example.encode(y_train),
        x_val=x_val,
        y_val=y_val,
        class_names=example.CLASS_NAMES,
    )


def test_readme_has_the_two_quickstart_commands() -> None:
    text = README.read_text()
    quick = text[text.index("## Quickstart") :].split("## ", 2)[1]
    commands = [
        line.split("#")[0].strip() for line in quick.splitlines() if line.startswith("make ")
    ]
    assert commands == ["make demo", "make test"]
    # Usage, evaluator and plotting examples: each runs in test_readme_python_blocks_run.
    assert len(blocks()) >= 3
