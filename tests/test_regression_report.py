"""Regression runs in the plots, the run reader and the HTML report: directions, the best
model's predictions drawn, no confusion matrix."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from epochmetrics import cli, report
from epochmetrics._files import keys as _keys
from epochmetrics._files.history import read_history
from epochmetrics._files.run import load_run
from epochmetrics._files.run_dir import MAX_PREDICTIONS
from epochmetrics._files.synthetic import write_fake_regression_run
from epochmetrics.report import write_run_json  # the public path the example uses

pytest.importorskip("matplotlib")


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_directions_and_panels_of_regression_keys(tmp_path):
    run = write_fake_regression_run(tmp_path, outputs=3)
    panels, classes = _keys.group_panels(read_history(run / "history.csv"))
    direction = {p.metric: p.direction for p in panels}
    assert direction["rmse"] == direction["mae"] == direction["loss"] == "down"
    assert direction["pearson"] == direction["r2"] == "up"  # r2_0, r2_1, r2_2: per output
    assert classes == ["0", "1", "2"]
    for key in ("mape", "val_mape", "mse", "explained_variance", "kendall_tau", "concordance"):
        expected = "down" if "ma" in key or "mse" in key else "up"
        assert _keys.metric_direction(key) == expected, key
    fig = __import__("epochmetrics").plot_history(run / "history.csv")
    assert len(fig.axes) >= 5


def test_report_of_a_regression_run(tmp_path):
    run_dir = write_fake_regression_run(tmp_path / "run", epochs=8)
    info = json.loads((run_dir / "run.json").read_text())
    run = load_run(run_dir)
    assert run.regression and run.confusion is None and not run.per_class_rows
    np.testing.assert_array_equal(run.predictions[0], info["predictions"]["y_true"])
    page = report.write_report(run_dir, save_figures=True).read_text()
    pngs = _images(page)
    assert len(pngs) == 2 and all(p.startswith(b"\x89PNG") for p in pngs)  # curves, predictions
    assert "Predictions of the best model" in page and "residual standard deviation" in page
    assert f"From run.json: the best model at epoch {info['best_epoch']}" in page
    assert 'id="confusion"' not in page and 'id="per-class"' not in page
    assert "<span>task</span>" in page and f"best {info['monitor']}" in page
    assert (run_dir / "predictions.png").exists() and (run_dir / "curves.png").exists()
    assert cli.main(["report", str(run_dir)]) == 0


def test_a_regression_run_without_predictions(tmp_path):
    run_dir = write_fake_regression_run(tmp_path, predictions=False, outputs=2)
    run = load_run(run_dir)
    assert run.regression and run.predictions is None
    page = report.write_report(run_dir).read_text()
    assert "No predictions: run.json has none" in page and len(_images(page)) == 1
    assert "confusion" not in page.lower()


def test_run_json_predictions_are_checked(tmp_path):
    rows = np.zeros(MAX_PREDICTIONS + 1)
    with pytest.raises(ValueError, match=r"at most 5000 rows"):
        write_run_json(
            tmp_path, settings={}, monitor="val_r2", best_epoch=0, predictions=(rows, rows)
        )
    write_fake_regression_run(tmp_path)
    info = json.loads((tmp_path / "run.json").read_text())
    info["predictions"]["y_pred"] = info["predictions"]["y_pred"][:3]
    (tmp_path / "run.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"'predictions' y_true \(300,\) and y_pred \(3,\)"):
        load_run(tmp_path)


def test_plot_predictions_several_outputs_and_errors():
    from epochmetrics.plot import plot_predictions

    rng = np.random.default_rng(0)
    y = rng.normal(size=(7000, 2))
    fig = plot_predictions(y, y + 0.1, output_names=["a", "b"], max_points=100, title="t")
    scatter, _ = fig.axes
    assert [t.get_text() for t in scatter.get_legend().get_texts()] == [
        "output a",
        "output b",
        "y = x",
    ]
    assert sum(len(c.get_offsets()) for c in scatter.collections) == 200
    with pytest.raises(ValueError, match="same shape"):
        plot_predictions(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="no finite pair"):
        plot_predictions([np.nan], [1.0])
