"""`epochmetrics demo` end to end (few epochs), and backend selection."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from epochmetrics import cli
from epochmetrics._backend import select as _select_backend


@pytest.mark.slow
def test_demo_writes_the_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert cli.main(["demo", "--out", str(out), "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert "checked against scikit-learn: largest difference 0.0e+00" in printed
    for name in [
        "history.csv",
        "best.keras",
        "run.json",
        "evaluation.json",
        "curves.png",
        "confusion_matrix.png",
        "report.html",
    ]:
        assert (out / name).is_file(), name
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert {"val_f1_macro", "val_f1_9", "f1_0", "val_accuracy"} <= set(rows[0])
    info = json.loads((out / "run.json").read_text())
    scores = [float(r["val_f1_macro"]) for r in rows]
    assert info["best_epoch"] == scores.index(max(scores))
    assert len(info["per_class"]["f1"]) == 10 and len(info["confusion_matrix"]) == 10
    assert sum(info["per_class"]["support"]) == sum(map(sum, info["confusion_matrix"]))
    if importlib.util.find_spec("tensorboard") is not None:  # the demo extra installs it
        assert f"tensorboard --logdir {out / 'logs'}" in printed
        assert sorted(p.name for p in (out / "logs").iterdir()) == ["train", "validation"]


def test_demo_rejects_bad_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "epochmetrics demo: error: --epochs must be at least 1. Received: 0."


def test_backend_selection_fills_in_only_when_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keras already imported here: never touched.
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert _select_backend.select_backend() is None
    # A fresh interpreter whose configured backend is missing gets an installed one.
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "not_a_backend"}))
    env = {**os.environ, "KERAS_HOME": str(tmp_path)}
    env.pop("KERAS_BACKEND", None)
    code = "import os, epochmetrics, keras; print(os.environ['KERAS_BACKEND'], keras.backend.backend())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    chosen, used = out.stdout.split()
    assert chosen == used == "jax"
    # An explicit choice always wins.
    env["KERAS_BACKEND"] = "torch"
    out = subprocess.run(
        [sys.executable, "-c", "import epochmetrics, keras; print(keras.backend.backend())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "torch"


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "epochmetrics", "demo", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "--epochs" in out.stdout and "--out" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "epochmetrics", "frobnicate"], capture_output=True, text=True
    )
    assert bad.returncode == 2
