"""`EpochEvaluator(history_path=...)`: checked before training, never a stray temporary file."""

from __future__ import annotations

import json
import os
import re

import keras
import numpy as np
import pytest

import epochmetrics as em
from epochmetrics._files import evaluation as history_file
from epochmetrics._files.evaluation import load_history
from epochmetrics.callbacks._record import HistoryRecord

N, D = 32, 4


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, D)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


_SHARED = {}


def _model():
    if "model" not in _SHARED:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="sgd", loss="binary_crossentropy")
        _SHARED["model"] = model
    return _SHARED["model"]


def _evaluator(path):
    return em.EpochEvaluator(_data(), [em.F1Score("binary")], history_path=path)


class _EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs += 1


def _fit_fails_before_the_first_epoch(ev, match):
    counter = _EpochCounter()
    x, y = _data()
    with pytest.raises(ValueError, match=match):
        _model().fit(x, y, epochs=2, verbose=0, callbacks=[counter, ev])
    assert counter.epochs == 0


def _names(directory):
    return sorted(p.name for p in directory.iterdir())


# --- at construction ---------------------------------------------------------------------------
def test_a_directory_is_rejected_at_construction(tmp_path):
    for path in (tmp_path, str(tmp_path), f"{tmp_path}{os.sep}", f"{tmp_path}{os.sep}new{os.sep}"):
        with pytest.raises(ValueError) as info:
            _evaluator(path)
        message = str(info.value)
        assert message.startswith("`history_path` must name a JSON file, and it names a directory")
        assert f"Received: history_path={path!r}" in message
        assert "evaluation.json" in message  # what to give instead
    _evaluator(tmp_path / "new" / "history.json")  # an absent directory is fine


def test_a_parent_that_is_a_file_is_rejected_at_construction(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for path in (tmp_path / "notes.txt" / "h.json", tmp_path / "notes.txt" / "a" / "b" / "h.json"):
        with pytest.raises(ValueError, match=re.escape(f"history_path={path!r}")) as info:
            _evaluator(path)
        assert "is a file, not a directory" in str(info.value)
        assert str(tmp_path / "notes.txt") in str(info.value)


def test_an_unwritable_directory_is_rejected_at_construction(tmp_path, monkeypatch):
    # Simulated (the suite may run as root, for whom permission bits do not apply).
    real = os.access
    monkeypatch.setattr(
        history_file.os,
        "access",
        lambda p, mode: False if os.fspath(p) == str(tmp_path) else real(p, mode),
    )
    for path, what in (
        (tmp_path / "h.json", f"its directory {str(tmp_path)!r} is not writable"),
        (
            tmp_path / "sub" / "h.json",
            f"its directory {str(tmp_path / 'sub')!r} does not exist and cannot be created, "
            f"as {str(tmp_path)!r} is not writable",
        ),
    ):
        with pytest.raises(ValueError) as info:
            _evaluator(path)
        assert str(info.value) == (
            f"`history_path` cannot be written: {what}. Received: history_path={path!r}."
        )
    assert _names(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores modes")
def test_a_read_only_directory_is_rejected_at_construction(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            _evaluator(locked / "h.json")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("bad", [123, b"h.json", ["h.json"]])
def test_history_path_type_and_emptiness(bad):
    with pytest.raises(
        TypeError, match=r"`history_path` must be a file path \(str or os.PathLike\)"
    ):
        _evaluator(bad)
    with pytest.raises(ValueError, match="it is empty"):
        _evaluator("")


def test_construction_creates_nothing_and_fit_creates_the_directory(tmp_path):
    path = tmp_path / "runs" / "a" / "evaluation.json"
    ev = _evaluator(path)
    assert _names(tmp_path) == []
    x, y = _data()
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[ev])
    assert load_history(path) == ev.history
    assert _names(path.parent) == ["evaluation.json"]


# --- at the start of fit -----------------------------------------------------------------------
def test_checked_again_at_train_begin(tmp_path):
    directory = tmp_path / "out"
    ev = _evaluator(directory / "h.json")
    directory.write_text("now a file")  # the location changed after construction
    _fit_fails_before_the_first_epoch(ev, "is a file, not a directory")
    directory.unlink()
    directory.mkdir()
    (directory / "h.json").mkdir()
    _fit_fails_before_the_first_epoch(ev, "names a directory")


def test_a_failed_trial_write_stops_fit_before_the_first_epoch(tmp_path, monkeypatch):
    """What `os.access` cannot see (a read-only file system, ACLs) fails at the trial write."""

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(history_file, "_create_new", refuse)
    path = tmp_path / "h.json"
    ev = _evaluator(path)
    _fit_fails_before_the_first_epoch(
        ev,
        re.escape(
            f"`history_path` cannot be written: Permission denied. Received: history_path={path!r}."
        ),
    )
    assert _names(tmp_path) == []


def test_the_trial_write_leaves_nothing_behind(tmp_path):
    path = tmp_path / "h.json"
    assert history_file.prepare_history_path(path) == str(path)
    assert _names(tmp_path) == []


# --- writes ------------------------------------------------------------------------------------
def _record_with_one_row():
    record = HistoryRecord()
    record.add(0, {"val_f1": 0.5}, {}, {"val_f1": "up"})
    return record


def test_a_failed_write_leaves_no_temporary_file_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "h.json"
    record = _record_with_one_row()
    record.save(path)
    before = path.read_text()

    def broken_dump(*args, **kwargs):
        args[1].write('{"format": "epochmetrics.history/1", "epo')  # a half-written file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history_file.json, "dump", broken_dump)
    with pytest.raises(OSError, match="No space left"):
        record.save(path)
    assert _names(tmp_path) == ["h.json"]
    assert path.read_text() == before  # readers still see the last complete file


def test_a_failed_replace_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(history_file.os, "replace", broken_replace)
    with pytest.raises(OSError, match="cross-device"):
        _record_with_one_row().save(tmp_path / "h.json")
    assert _names(tmp_path) == []


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(history_file.json, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _record_with_one_row().save(tmp_path / "h.json")
    assert _names(tmp_path) == []


def test_writes_in_fit_leave_only_the_history(tmp_path):
    path = tmp_path / "h.json"
    ev = _evaluator(path)
    x, y = _data()
    _model().fit(x, y, epochs=3, verbose=0, callbacks=[ev])
    assert _names(tmp_path) == ["h.json"]
    with open(path) as f:
        assert json.load(f)["epochs"] == [0, 1, 2]
