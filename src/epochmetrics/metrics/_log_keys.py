"""The name Keras logs a compiled metric under, so that per-class keys carry it.

Keras logs a metric of `compile(metrics=...)` under `<output>_<name>` on multi-output models,
and renames repeats `<name>_1`, `<name>_2` (`CompileMetrics.result`). A dict result is
flattened into the logs by its own keys, dropping that name (`pythonify_logs`). So a
per-class key built from the metric's own `name` would lose the output prefix and Keras'
renaming, and two heads (or a renamed duplicate) would overwrite each other without a word.

When `CompileMetrics.result` asks for our result, we find it one frame up, compute the names
it gives every metric (its own algorithm, checked against Keras by a canary test), and build
our keys from that name. The names are computed once per compiled set of metrics, with a
check that no two log keys collide: a collision is a ValueError at the first step that names
both metrics, never an overwrite.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from keras.src.trainers.compile_utils import CompileMetrics

__all__ = ["KerasName", "keras_name"]

KerasName = tuple[str, str]  # (output prefix such as "digit_" or "", name after renaming)

_RESULT_CODE = CompileMetrics.result.__code__
# Frames between CompileMetrics.result and this lookup: result() -> _keras_name() -> here.
_MAX_FRAMES = 4
_NAMES: weakref.WeakKeyDictionary[Any, dict[int, KerasName]] = weakref.WeakKeyDictionary()


def keras_name(metric: Any) -> KerasName | None:
    """`(output prefix, name)` when Keras' compiled metrics are reading `metric` now, else None."""
    frame = sys._getframe(2)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return None
        if frame.f_code is _RESULT_CODE:
            owner = frame.f_locals.get("self")
            if not isinstance(owner, CompileMetrics):
                return None
            names = _NAMES.get(owner)
            if names is None:
                names = _NAMES[owner] = _assign(owner)
            return names.get(id(metric))
        frame = frame.f_back
    return None


def _compiled_names(owner: Any) -> list[tuple[Any, str, str]]:
    """`(metric, output prefix, name)` for every metric, as `CompileMetrics.result` names them."""
    named: list[tuple[Any, str, str]] = []
    seen: dict[str, int] = {}
    for weighted, lists in ((False, owner._flat_metrics), (True, owner._flat_weighted_metrics)):
        for mls in lists:
            if not mls:
                continue
            prefix = f"{mls.output_name}_" if mls.output_name else ""
            for m in mls.metrics:
                name = f"{prefix}{m.name}"
                if name not in seen:
                    seen[name] = 1
                elif weighted:
                    name = f"{prefix}weighted_{m.name}"
                    if name not in seen:
                        seen[name] = 1
                    else:
                        seen[name] += 1
                        name = f"{name}_{seen[name] - 1}"
                else:
                    seen[name] += 1
                    name = f"{name}_{seen[name] - 1}"
                named.append((m, prefix, name[len(prefix) :]))
    return named


def _assign(owner: Any) -> dict[int, KerasName]:
    names: dict[int, KerasName] = {}
    keys: dict[str, str] = {}  # log key -> description of the metric that logs it
    for m, prefix, name in _compiled_names(owner):
        own_keys = None
        if hasattr(m, "_log_keys"):
            names[id(m)] = (prefix, name)
            own_keys = m._log_keys((prefix, name))
        for key in own_keys or [prefix + name]:
            what = _describe(m, prefix + name, key)
            if key in keys:
                raise ValueError(
                    f"Two compiled metrics would write the log key {key!r}: {keys[key]} and "
                    f"{what}. Give one of them a distinct `name`."
                )
            keys[key] = what
    return names


def _describe(metric: Any, logged_as: str, key: str) -> str:
    what = f"{type(metric).__name__} {metric.name!r}"
    if logged_as != metric.name:
        what += f" (logged by Keras as {logged_as!r})"
    if key != logged_as:
        what += f" through its key {key!r}"
    return what
