"""The evaluator's history file (`"format": "epochmetrics.history/1"`): the one place that
writes it, reads it and knows its layout.

In memory (`EpochEvaluator.history`, the shared contract, keys exactly as pushed into the
Keras logs)::

    {"epochs": [0, 1, ...],
     "scalars": {"val_f1_macro": [0.5, 0.6, ...], ...},             # one float per epoch
     "matrices": {"val_confusion_matrix": {"class_names": [...] | None,
                                           "values": [C x C nested lists, one per epoch]}},
     "directions": {"val_f1_macro": "up", ...}}

On disk the same keys plus `"format": "epochmetrics.history/1"`. JSON has no NaN: non-finite
values are written as `null` and read back as NaN.

Also here: where such a file may be written (`history_path` checks) and how (atomically).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

import numpy as np

from epochmetrics._docs import docstring
from epochmetrics._files.run_dir import EVALUATION_JSON

__all__ = [
    "FORMAT",
    "FORMAT_PREFIX",
    "check_history_path",
    "decode",
    "float_series",
    "load_history",
    "prepare_history_path",
    "write_atomic",
    "write_history",
]

FORMAT = "epochmetrics.history/1"
# Any version of the format: what a reader recognises.
FORMAT_PREFIX = "epochmetrics.history/"


# --- writing -------------------------------------------------------------------------------------
def write_history(path: str | os.PathLike[str], history: Mapping[str, Any]) -> None:
    """Write `history` (the in-memory contract) to `path`, creating its directory.

    The file is replaced atomically: a reader never sees a half-written one.
    """
    payload = {"format": FORMAT, **_json_safe(history)}
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    write_atomic(path, lambda f: json.dump(payload, f, allow_nan=False))


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _temp_name(path: str) -> str:
    """A fresh name next to `path`: same directory (so `os.replace` is atomic), hidden."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")


def _create_new(path: str) -> IO[str]:
    # Exclusive creation ("x"): never truncates someone else's file; honours the umask.
    return open(path, "x", encoding="utf-8")


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[str]], Any]) -> None:
    """Call `write(f)` on a temporary file in the directory of `path`, then move it there.

    A reader never sees a half-written file, and the temporary file is removed on any failure
    (full disk, an exception in `write`, an interrupt), so none is left behind.
    """
    target = os.fspath(path)
    tmp = _temp_name(target)
    f = _create_new(tmp)  # nothing to clean up if this fails
    try:
        with f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


# --- reading -------------------------------------------------------------------------------------
@docstring()
def load_history(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a history written by `EpochEvaluator.save_history` (or `history_path=`).

    Args:
        path: the JSON file.

    Returns:
        The dict `EpochEvaluator.history` held when it was saved: `epochs`, `scalars`,
        `matrices`, `directions` (`null` values come back as NaN).

    Raises:
        ValueError: if the file is not an epochmetrics history.

    Examples:
        >>> import os, tempfile
        >>> from epochmetrics import load_history
        >>> from epochmetrics._files.evaluation import write_history
        >>> path = os.path.join(tempfile.mkdtemp(), "history.json")
        >>> write_history(path, {"epochs": [0], "scalars": {"val_f1": [0.5]},
        ...                      "matrices": {}, "directions": {"val_f1": "up"}})
        >>> load_history(path)["scalars"]
        {'val_f1': [0.5]}
    """
    with open(path, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{os.fspath(path)} is not valid JSON: {err}") from err
    fmt = raw.get("format") if isinstance(raw, dict) else None
    if not isinstance(fmt, str) or not fmt.startswith(FORMAT_PREFIX):
        raise ValueError(
            f"{os.fspath(path)} is not an epochmetrics history (expected "
            f"'format': {FORMAT!r}, found {fmt!r})."
        )
    return decode(raw, os.fspath(path))


def decode(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The in-memory contract from a parsed file or an `EpochEvaluator.history` dict.

    `null` becomes NaN; every scalar series has one value per epoch.

    Raises:
        ValueError: a malformed history, naming `where` and what is wrong.
    """
    scalars = data.get("scalars")
    epochs = data.get("epochs")
    if not isinstance(scalars, Mapping) or not isinstance(epochs, list):
        raise ValueError(
            f"{where}: an evaluator history needs 'epochs' (list) and 'scalars' (dict)"
        )
    try:
        epoch_ids = [int(e) for e in epochs]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: 'epochs' must be integers") from None
    history: dict[str, Any] = {"epochs": epoch_ids, "scalars": {}, "matrices": {}}
    for key, values in scalars.items():
        series = float_series(values)
        if series is None or len(series) != len(epoch_ids):
            raise ValueError(
                f"{where}: scalar {key!r} needs {len(epoch_ids)} numbers, one per epoch"
            )
        history["scalars"][str(key)] = series
    for name, m in (data.get("matrices") or {}).items():
        values = m.get("values") if isinstance(m, Mapping) else None
        if not isinstance(values, list):
            raise ValueError(f"{where}: matrix {name!r} needs 'values', one matrix per epoch")
        history["matrices"][str(name)] = {
            "class_names": m.get("class_names"),
            "values": _nested_floats(values, where, name),
        }
    directions = data.get("directions") or {}
    history["directions"] = {str(k): str(v) for k, v in directions.items()}
    return history


def float_series(values: Any) -> list[float] | None:
    """A list of numbers as floats (`None` as NaN), or None when it is not one."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        return None
    out = []
    for v in values:
        if v is None:
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            return None
    return out


def _nested_floats(value: Any, where: str, name: str) -> Any:
    if isinstance(value, list):
        return [_nested_floats(v, where, name) for v in value]
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: matrix {name!r} holds {value!r}, not a number") from None


# --- where it may be written ---------------------------------------------------------------------
def _bad_path(path: Any, problem: str) -> ValueError:
    return ValueError(f"`history_path` {problem}. Received: history_path={path!r}.")


def check_history_path(path: Any) -> str | None:
    """Validate `EpochEvaluator(history_path=...)` without touching the file system.

    The path must name a file (not a directory), and its directory must exist and be
    writable, or be creatable: its nearest existing ancestor is a writable directory.

    Returns:
        `os.fspath(path)`, or None for None.

    Raises:
        TypeError: if `path` is not a str or os.PathLike.
        ValueError: if it names a directory, or its directory cannot be written or created.
    """
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "`history_path` must be a file path (str or os.PathLike) or None. "
            f"Received: history_path={path!r} of type {type(path).__name__}."
        )
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise _bad_path(path, "must name a file; it is empty")
    if text.endswith((os.sep, os.altsep or os.sep)) or os.path.isdir(text):
        raise _bad_path(
            path,
            "must name a JSON file, and it names a directory; give a file in it, e.g. "
            f"{os.path.join(text, EVALUATION_JSON)!r}",
        )
    parent = os.path.dirname(os.path.abspath(text))
    existing = parent
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise _bad_path(path, f"cannot be created: {existing!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == parent:
            problem = f"cannot be written: its directory {parent!r} is not writable"
        else:
            problem = (
                f"cannot be written: its directory {parent!r} does not exist and cannot be "
                f"created, as {existing!r} is not writable"
            )
        raise _bad_path(path, problem)
    return text


def prepare_history_path(path: Any) -> str | None:
    """Check `history_path` again at the start of `fit`, create its directory and try a write.

    The trial write creates and removes a temporary file the way `write_atomic` does, so an
    unwritable location (read-only file system, access rules `os.access` cannot see) fails here,
    before the first epoch, rather than after it.

    Raises:
        ValueError: naming `history_path` and the path, when it cannot be written.
    """
    text = check_history_path(path)
    if text is None:
        return None
    directory = os.path.dirname(text)
    tmp = _temp_name(text)
    try:
        if directory:
            os.makedirs(directory, exist_ok=True)
        _create_new(tmp).close()
        os.remove(tmp)
    except OSError as err:
        raise _bad_path(path, f"cannot be written: {err.strerror or err}") from err
    return text
