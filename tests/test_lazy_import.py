"""The package imports lazily: the CLI, plots and reports start without Keras or a backend, and
the metrics are still registered with Keras whenever Keras is imported.

Each case runs in a fresh interpreter: this process has imported Keras already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import epochmetrics as em
from epochmetrics._files.synthetic import write_fake_run

SRC = str(Path(em.__file__).resolve().parents[1])
FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")
REPORT_FRAMEWORKS = f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"


def _python(code: str, *flags: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    command = [sys.executable, *flags, *(["-c", code] if code else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _imported_top_level(importtime_stderr: str) -> set[str]:
    """Top-level packages named in `python -X importtime` output."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_cli_help_imports_no_framework():
    code = (
        "import sys\n"
        "from epochmetrics.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0\n" + REPORT_FRAMEWORKS
    )
    done = _python(code, "-X", "importtime")
    assert done.stdout.startswith("usage: epochmetrics")
    assert done.stdout.strip().splitlines()[-1] == "[]"
    imported = _imported_top_level(done.stderr)
    assert "epochmetrics" in imported
    assert not imported & {*FRAMEWORKS, "numpy", "matplotlib"}, imported


def test_python_m_epochmetrics_help_imports_no_framework():
    done = _python("", "-X", "importtime", "-m", "epochmetrics", args=("--help",))
    assert done.stdout.startswith("usage: epochmetrics")
    assert "demo" in done.stdout and "report" in done.stdout
    assert not _imported_top_level(done.stderr) & set(FRAMEWORKS)


def test_plot_and_report_import_no_framework(tmp_path):
    pytest.importorskip("matplotlib")
    run = write_fake_run(tmp_path / "run", num_classes=3, epochs=3)
    code = (
        "import sys\n"
        "from epochmetrics.cli import main\n"
        f"assert main(['plot', {str(run / 'history.csv')!r}, '--out', {str(tmp_path / 'c.png')!r}]) == 0\n"
        f"assert main(['plot', {str(run / 'evaluation.json')!r}]) == 0\n"
        f"assert main(['report', {str(run)!r}, '--figures']) == 0\n" + REPORT_FRAMEWORKS
    )
    done = _python(code)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "c.png").is_file() and (run / "report.html").is_file()


def test_plain_names_that_need_no_keras_do_not_import_it():
    code = (
        "import sys\n"
        "import epochmetrics as em\n"
        "em.plot_history, em.plot_confusion_matrix, em.load_history, em.__version__\n"
        "from epochmetrics.callbacks import load_history\n"
        "from epochmetrics import plot, report\n" + REPORT_FRAMEWORKS
    )
    assert _python(code).stdout.strip() == "[]"


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A model compiled with epochmetrics metrics, saved by this process."""
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=[
            em.F1Score("multiclass", num_classes=3, average=None),
            em.AUROC("multiclass", num_classes=3),
        ],
    )
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    y = np.arange(12) % 3
    model.fit(x, y, epochs=1, verbose=0)
    directory = tmp_path_factory.mktemp("model")
    path = directory / "model.keras"
    model.save(path)
    np.save(directory / "x.npy", x)
    np.save(directory / "y.npy", y)
    return path


def _evaluate_loaded(saved_model) -> str:
    """Code that loads the saved model, evaluates it and prints its log keys as JSON."""
    directory = saved_model.parent
    return (
        "import json, numpy as np\n"
        f"model = keras.models.load_model({str(saved_model)!r})\n"
        f"x, y = np.load({str(directory / 'x.npy')!r}), np.load({str(directory / 'y.npy')!r})\n"
        "logs = model.evaluate(x, y, return_dict=True, verbose=0)\n"
        "print(json.dumps(sorted(logs)))\n"
    )


def test_load_model_with_the_package_imported_first(saved_model):
    """Keras is imported after the package: the metrics register as Keras finishes importing."""
    code = (
        "import sys\n"
        "import epochmetrics as em\n"
        "assert 'keras' not in sys.modules and 'epochmetrics.metrics' not in sys.modules\n"
        "import keras\n"
        "assert 'epochmetrics.metrics' in sys.modules\n"
        "assert keras.saving.get_registered_object('epochmetrics>F1Score') is em.F1Score\n"
        # The finder removed itself and Keras' loader is its own again.
        "assert not [f for f in sys.meta_path if type(f).__module__.startswith('epochmetrics')]\n"
        "assert 'exec_module' not in vars(keras.__spec__.loader)\n" + _evaluate_loaded(saved_model)
    )
    keys = json.loads(_python(code).stdout.strip().splitlines()[-1])
    assert {"f1_0", "f1_1", "f1_2", "auroc"} <= set(keys)


def test_load_model_with_keras_imported_first(saved_model):
    code = (
        "import keras\n"
        # Without the package Keras cannot find our classes: the check below means something.
        "try:\n"
        f"    keras.models.load_model({str(saved_model)!r})\n"
        "except TypeError as e:\n"
        "    assert 'F1Score' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('loaded without epochmetrics')\n"
        "import epochmetrics\n" + _evaluate_loaded(saved_model)
    )
    keys = json.loads(_python(code).stdout.strip().splitlines()[-1])
    assert {"f1_0", "f1_1", "f1_2", "auroc"} <= set(keys)
