"""The HTML run report: content, fallbacks when files are missing, self-containment, Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from epochmetrics import report
from epochmetrics._files.synthetic import write_fake_run

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run10(tmp_path_factory):
    return write_fake_run(tmp_path_factory.mktemp("run10"), num_classes=10, epochs=12, seed=1)


@pytest.fixture(scope="module")
def report10(run10, tmp_path_factory):
    """The report of run10, rendered once for the tests that only read it."""
    return report.write_report(run10, tmp_path_factory.mktemp("report10") / "sub" / "r.html")


def images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_full_run(run10, report10):
    assert report10.name == "r.html" and report10.parent.name == "sub"
    page = report10.read_text()
    info = json.loads((run10 / "run.json").read_text())
    best = info["best_epoch"]
    pngs = images(page)
    # curves, the best matrix, the matrices by epoch, the PR/ROC curves of curves.json
    assert len(pngs) == 4 and all(p.startswith(b"\x89PNG") for p in pngs)
    assert "Training curves" in page
    assert f"Confusion matrix at epoch {best}</h2>" in page
    assert "From run.json: the best model on the validation data." in page
    # The per-class table has every class and run.json's numbers.
    table = page[page.index('id="per-class"') : page.index('id="settings"')]
    for name, f1 in zip(info["class_names"], info["per_class"]["f1"], strict=True):
        assert f"<td>{name}</td>" in table
        assert f"{f1:.3f}" in table
    assert "<th>precision</th><th>recall</th><th>F1</th><th>support</th>" in table
    assert "macro average" in table
    # Settings and the summary cards.
    settings = page[page.index('id="settings"') :]
    for key, value in info["settings"].items():
        assert f"<td>{key}</td><td>{value}</td>" in settings
    assert "best val_f1_macro" in page and "lowest F1 (class 9)" in page
    # The most confused pairs are listed.
    assert "Most confused pairs" in page and "predicted as" in page
    # The matrices of every evaluated epoch, and the per-class curves of curves.json.
    curves = json.loads((run10 / "curves.json").read_text())
    assert "Confusion matrices by epoch</h2>" in page and "12 evaluated epochs (0 to 11" in page
    assert f"Per-class PR and ROC curves at epoch {curves['epoch']}</h2>" in page
    assert "<h3>val_auroc</h3>" in page and "10 classes, 101 thresholds" in page
    assert page.index('id="confusion"') < page.index('id="confusion-by-epoch"')
    assert page.index('id="pr-roc"') < page.index('id="per-class"')


def test_self_contained(report10):
    page = report10.read_text()
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page)  # nothing fetched
    assert not re.search(r"url\(|@import|https?://", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_write_figures(tmp_path):
    run = write_fake_run(tmp_path / "run", num_classes=3, epochs=4)
    figs = report.write_figures(run, tmp_path / "figs")
    names = ["curves", "confusion_matrix", "confusion_matrices", "pr_roc_val_auroc"]
    assert figs == [tmp_path / "figs" / f"{n}.png" for n in names]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in figs)


def test_progress_messages(tmp_path):
    run = write_fake_run(tmp_path / "run", num_classes=3, epochs=4, files=["history.csv"])
    messages: list[str] = []
    assert report.write_report(run, progress=messages.append) == run / "report.html"
    assert messages == [
        f"read {run}: 4 epochs, 3 classes",
        "drawing curves",  # no run.json, no evaluation.json: no matrix
        f"writing {run / 'report.html'}",
    ]


def test_history_csv_alone(tmp_path):
    run = write_fake_run(tmp_path, num_classes=4, epochs=6, files=["history.csv"])
    loaded = report.load_run(run)
    # Best epoch from val_f1_macro, per-class table from that row of history.csv.
    csv_best = int(np.argmax(loaded.history.scalars["val_f1_macro"]))
    assert loaded.monitor == "val_f1_macro" and loaded.best_epoch == csv_best
    assert loaded.class_names == ["0", "1", "2", "3"]
    assert [r["class"] for r in loaded.per_class_rows] == ["0", "1", "2", "3"]
    assert loaded.per_class_rows[2]["f1"] == loaded.history.scalars["val_f1_2"][csv_best]
    assert loaded.confusion is None
    page = report.write_report(run).read_text()
    assert len(images(page)) == 1  # curves only
    assert "No confusion matrix: run.json has none and there is no evaluation.json" in page
    assert f"From history.csv at the best epoch ({csv_best}), validation." in page
    assert "No run.json: the run's settings are unknown." in page


def test_history_and_evaluation_without_run_json(tmp_path):
    run = write_fake_run(
        tmp_path, num_classes=3, epochs=6, files=["history.csv", "evaluation.json"]
    )
    evaluation = json.loads((run / "evaluation.json").read_text())
    # The evaluator skipped epochs: keep 0, 2, 4 only. The best epoch may be unevaluated.
    keep = [0, 2, 4]
    evaluation["epochs"] = keep
    evaluation["scalars"] = {k: [v[i] for i in keep] for k, v in evaluation["scalars"].items()}
    matrices = evaluation["matrices"]["val_confusion_matrix"]
    matrices["values"] = [matrices["values"][i] for i in keep]
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    loaded = report.load_run(run)
    closest = min(keep, key=lambda e: (abs(e - loaded.best_epoch), -e))
    assert loaded.confusion_epoch == closest
    np.testing.assert_array_equal(loaded.confusion, matrices["values"][keep.index(closest)])
    assert loaded.confusion_note.startswith("From evaluation.json (val_confusion_matrix)")
    page = report.write_report(run).read_text()
    assert len(images(page)) == 3  # curves, the matrix, the matrices of epochs 0, 2, 4
    assert [e for e, _ in loaded.epoch_matrices] == keep
    assert "3 evaluated epochs (0 to 4" in page and 'id="pr-roc"' not in page


def test_evaluation_json_alone_and_per_class_from_matrix(tmp_path):
    run = write_fake_run(tmp_path, num_classes=3, epochs=5, files=["evaluation.json"])
    evaluation = json.loads((run / "evaluation.json").read_text())
    # Keep only the macro score so that the table has to come from the matrix.
    evaluation["scalars"] = {"val_f1_macro": evaluation["scalars"]["val_f1_macro"]}
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    loaded = report.load_run(run)
    cm = loaded.confusion
    assert cm is not None
    assert loaded.per_class_rows[0]["recall"] == pytest.approx(cm[0, 0] / cm[0].sum())
    assert loaded.per_class_rows[1]["support"] == cm[1].sum()
    assert loaded.per_class_note.startswith("Computed from the confusion matrix")
    assert "No history.csv" in " ".join(loaded.notes)
    report.write_report(run)


@pytest.mark.parametrize(
    ("files", "error", "message"),
    [
        ({}, FileNotFoundError, "no history.csv or evaluation.json"),
        ({"history.csv": "epoch,loss\n0,1,2\n"}, ValueError, "line 2 has 3 values"),
        ({"history.csv": "epoch,loss\n0,1\n", "run.json": "[1, 2"}, ValueError, "invalid JSON"),
        ({"history.csv": "epoch,loss\n0,1\n", "run.json": '{"best_epoch": "7"}'}, ValueError,
         "'best_epoch' must be a int"),
        ({"history.csv": "epoch,loss\n0,1\n", "run.json": '{"confusion_matrix": [[1, 2]]}'},
         ValueError, "not square"),
        ({"history.csv": "epoch,loss\n0,1\n", "run.json": '{"confusion_matrix": [[1, -2], [0, 1]]}'},
         ValueError, r"run.json: A confusion matrix holds finite, non-negative counts"),
        ({"history.csv": "epoch,loss\n0,1\n", "evaluation.json": '{"loss": [1]}'}, ValueError,
         "not an EpochEvaluator history"),
    ],
)  # fmt: skip
def test_bad_run_dirs(tmp_path, files, error, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(error, match=message):
        report.write_report(tmp_path)


def test_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        report.load_run(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is not a directory"):
        report.load_run(tmp_path / "f")


def test_html_escaping(tmp_path):
    run = write_fake_run(tmp_path, num_classes=2, epochs=3, class_names=["<b>", "a&b"])
    page = report.write_report(run).read_text()
    assert "<td>&lt;b&gt;</td>" in page and "<td>a&amp;b</td>" in page
    assert "<b>&" not in page.replace("<b>&lt;", "")


# --- the page in a real browser ---------------------------------------------------------------


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html_path, png_path, profile, height=2000) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            "chromium is not installed (apt-get install -y chromium chromium-driver): "
            "the report was not checked in a browser"
        )
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={png_path}",
        f"--window-size=1400,{height}",
        html_path.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert png_path.exists(), (
        f"chromium wrote no screenshot (rc={proc.returncode}): {proc.stderr[-2000:]}"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="headless chromium check runs on Linux/macOS")
def test_report_renders_in_chromium(report10, tmp_path):
    from matplotlib.image import imread

    png = tmp_path / "shot.png"
    screenshot(report10, png, tmp_path / "profile")
    rgb = (imread(png)[..., :3] * 255).astype(int)  # (2000, 1400, 3)
    assert rgb.shape[:2] == (2000, 1400)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    not_white = (rgb < 235).any(axis=-1)
    assert not_white.mean() > 0.05, "the page looks blank"
    # The confusion matrix: solid dark "Blues" cells (curves are thin lines, never 12 x 12 blocks).
    blocks = solid_blocks((b > 90) & (b - r > 60) & (r < 80), 12)
    assert blocks.sum() > 100, "no confusion matrix visible"
    # The curves: per-class colours, e.g. tab10 orange (255, 127, 14) and green (44, 160, 44).
    orange = (abs(r - 255) < 40) & (abs(g - 127) < 40) & (b < 70)
    green = (abs(r - 44) < 40) & (abs(g - 160) < 40) & (abs(b - 44) < 40)
    assert orange.sum() > 200 and green.sum() > 200, "no per-class curves visible"
    # The curves come first, at the top of the page; the matrix below them.
    rows_orange = np.nonzero(orange.any(axis=1))[0]
    rows_blue = np.nonzero(blocks.any(axis=1))[0]
    assert rows_orange.min() < rows_blue.min()


@pytest.mark.skipif(sys.platform == "win32", reason="headless chromium check runs on Linux/macOS")
def test_report_new_sections_render_in_chromium(report10, tmp_path):
    """Below the matrix: the matrices by epoch (a grid of small matrices, the best one framed
    in gold) and the per-class PR and ROC curves."""
    from matplotlib.image import imread

    page = report10.read_text()
    png = tmp_path / "shot.png"
    screenshot(report10, png, tmp_path / "profile", height=5200)
    rgb = (imread(png)[..., :3] * 255).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    blue = (b > 90) & (b - r > 60) & (r < 80)
    gold = (abs(r - 212) < 30) & (abs(g - 160) < 30) & (b < 60)  # the best epoch's frame
    rows_gold = np.nonzero(gold.sum(axis=1) > 100)[0]
    assert rows_gold.size > 0, "no framed best epoch in the matrices by epoch"
    # Solid matrix cells below the single matrix: the small multiples (diagonals are dark).
    blocks = solid_blocks(blue, 8)
    rows = np.nonzero(blocks.any(axis=1))[0]
    assert rows.max() - rows.min() > 900, "no second group of matrices below the first"
    # The PR/ROC figure: per-class colours lowest on the page (below the gold frame).
    cyan = (abs(r - 23) < 40) & (abs(g - 190) < 40) & (abs(b - 207) < 40)  # tab10 class 9
    rows_cyan = np.nonzero(cyan.sum(axis=1) > 5)[0]
    assert rows_cyan.size and rows_cyan.max() > rows_gold.max(), "no PR/ROC curves below"
    assert page.count("<img") == 4


def solid_blocks(mask: np.ndarray, size: int) -> np.ndarray:
    """True at (i, j) where mask[i : i + size, j : j + size] is all True."""
    s = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    total = s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]
    return total == size * size


def test_per_class_table_shows_the_best_epochs_intervals(tmp_path):
    run = write_fake_run(tmp_path, num_classes=3, epochs=5, files=["history.csv", "run.json"])
    best = json.loads((run / "run.json").read_text())["best_epoch"]
    lines = (run / "history.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    for c in range(3):  # the evaluator's interval columns of the per-class F1
        header += [f"val_f1_{c}_low", f"val_f1_{c}_high"]
        for e, row in enumerate(rows):
            row += [repr(0.1 * c + 0.01 * e), repr(0.1 * c + 0.01 * e + 0.5)]
    (run / "history.csv").write_text(
        "\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8"
    )
    loaded = report.load_run(run)
    for r in loaded.per_class_rows:
        assert r["f1_low"] == pytest.approx(0.1 * int(r["class"]) + 0.01 * best)
        assert r["f1_high"] == pytest.approx(0.1 * int(r["class"]) + 0.01 * best + 0.5)
        assert "precision_low" not in r
    assert f"Intervals: the evaluator's bootstrap intervals at epoch {best}." in (
        loaded.per_class_note
    )
    page = report.write_report(run).read_text()
    low, high = 0.1 * 2 + 0.01 * best, 0.1 * 2 + 0.01 * best + 0.5
    assert f'<small class="ci">[{low:.3f}, {high:.3f}]</small>' in page
    plain = report.load_run(write_fake_run(tmp_path / "plain", num_classes=3, epochs=5))
    assert not any("f1_low" in r for r in plain.per_class_rows)
