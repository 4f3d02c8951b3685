"""`epochmetrics plot` and `epochmetrics report`: help, good input, bad input, exit codes."""

from __future__ import annotations

import sys

import pytest

from epochmetrics import cli
from epochmetrics._files.synthetic import write_fake_run

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_fake_run(tmp_path_factory.mktemp("run"), num_classes=3, epochs=4)


def one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"epochmetrics {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", [[], ["plot"], ["report"], ["demo"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([*command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: epochmetrics")
    if command == ["plot"]:
        assert "HISTORY" in out and "--out" in out and "--metrics" in out
    if command == ["report"]:
        assert "RUN_DIR" in out and "--out" in out


def test_plot(run_dir, tmp_path, capsys):
    out = tmp_path / "deep" / "curves.png"
    assert cli.main(["plot", str(run_dir / "history.csv"), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    svg = tmp_path / "f1.svg"
    args = ["plot", str(run_dir / "history.csv"), "--out", str(svg), "--metrics", "f1", "loss"]
    assert cli.main(args) == 0
    assert svg.read_text().lstrip().startswith("<?xml")
    # Evaluator history and the default output name.
    assert cli.main(["plot", str(run_dir / "evaluation.json"), "--no-per-class"]) == 0
    assert (run_dir / "evaluation.png").exists()


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["missing.csv"], "missing.csv: no such file"),
        ("epoch,loss\n0,1,2\n", ["bad.csv"], "line 2 has 3 values, the header has 2"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", ["bad.csv"], "bad.csv: not a text file"),
        ("just a line of text\n", ["bad.csv"], "bad.csv: no data rows"),
        ("epoch,loss\n0,1\n", ["bad.csv", "--metrics", "acc"], "Unknown metric 'acc'"),
        ("epoch,loss\n0,1\n", ["bad.csv", "--out", "x.txt"], "unsupported image format '.txt'"),
    ],
)
def test_plot_bad_input(tmp_path, monkeypatch, capsys, setup, args, message):
    monkeypatch.chdir(tmp_path)
    if isinstance(setup, bytes):
        (tmp_path / "bad.csv").write_bytes(setup)
    elif setup is not None:
        (tmp_path / "bad.csv").write_text(setup)
    assert cli.main(["plot", *args]) == 2
    assert message in one_line_error(capsys.readouterr().err, "plot")


def test_plot_unwritable_output(run_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = cli.main(["plot", str(run_dir / "history.csv"), "--out", str(blocker / "x.png")])
    assert code == 1
    assert "cannot write" in one_line_error(capsys.readouterr().err, "plot")


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["plot"])
    assert e.value.code == 2
    assert "required: HISTORY" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["nope"])
    assert e.value.code == 2


def test_report(tmp_path, capsys):
    run = write_fake_run(tmp_path / "run", num_classes=3, epochs=4)
    assert cli.main(["report", str(run), "--figures"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote {run / 'report.html'}"
    assert "epochmetrics report: drawing curves" in captured.err  # progress on stderr
    assert (run / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "no such directory"),
        ({}, "no history.csv or evaluation.json"),
        ({"history.csv": "epoch,loss\n0,1,2\n"}, "line 2 has 3 values"),
        ({"history.csv": "epoch,loss\n0,1\n", "run.json": "{"}, "run.json: invalid JSON"),
    ],
)
def test_report_bad_input(tmp_path, capsys, files, message):
    run = tmp_path / "run"
    if files is not None:
        run.mkdir()
        for name, text in files.items():
            (run / name).write_text(text)
    assert cli.main(["report", str(run)]) == 2
    assert message in one_line_error(capsys.readouterr().err, "report")


def test_without_matplotlib(run_dir, tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code = cli.main(["plot", str(run_dir / "history.csv"), "--out", str(tmp_path / "x.png")])
    assert code == 1
    assert "pip install 'epochmetrics[plot]'" in one_line_error(capsys.readouterr().err, "plot")
    assert cli.main(["report", str(run_dir), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "pip install 'epochmetrics[plot]'" in err
