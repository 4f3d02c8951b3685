"""examples/segmentation.py: a miniature U-Net whose per-class IoU drives ModelCheckpoint."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "segmentation.py"


def _load():
    spec = importlib.util.spec_from_file_location("_example_segmentation", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# keras.metrics.MeanIoU (logged beside ours) casts to int64 on 32-bit JAX, which warns.
@pytest.mark.filterwarnings("ignore:Explicitly requested dtype int64:UserWarning")
def test_segmentation_example(tmp_path: Path) -> None:
    example = _load()
    result = example.main(epochs=4, train_images=256, out=tmp_path)
    logs = result["history"]
    for name in example.CLASS_NAMES:
        assert len(logs[f"val_iou_{name}"]) == 4
    # Mean IoU as keras.metrics.MeanIoU computes it (its float32 matrix: 1e-5).
    np.testing.assert_allclose(logs["val_miou"], logs["val_keras_miou"], atol=1e-5)
    assert logs["val_miou"][-1] > logs["val_miou"][0]  # it learns
    # The pixels of the best weights (ModelCheckpoint on val_iou_disc): void border skipped,
    # and the disc's IoU from the matrix is the best epoch's logged value.
    cm = result["confusion_matrix"]
    border = example.BORDER
    assert cm.sum() == 128 * (example.SIZE - 2 * border) ** 2
    disc = example.CLASS_NAMES.index("disc")
    iou = cm[disc, disc] / (cm[disc].sum() + cm[:, disc].sum() - cm[disc, disc])
    np.testing.assert_allclose(iou, max(logs["val_iou_disc"]), atol=1e-12)
    assert result["checkpoint"].exists() and result["plot"].stat().st_size > 10_000
