"""How Keras calls our metrics: the name it logs one under, and whether from inside a step.

Keras gives a metric no handle on the compiled-metrics container that calls it. What we need
from that call is read off the caller's frames here, in one place, each lookup checked by a
Keras-behaviour canary test (`tests/test_edges.py::test_keras_canary_*`), so a change in Keras
fails loudly instead of mislabelling keys.

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

A read from inside a train or test step comes through `Trainer.compute_metrics` (the step's
logs, for the progress bar and batch-level callbacks); the epoch's logs, `evaluate` and
`get_metrics_result()` read the metrics afresh without it. Metrics with many keys return
fewer inside steps (`per_step=`), so the per-step cost does not grow with the classes.
"""

from __future__ import annotations

import sys
import types
import weakref
from typing import Any, NamedTuple

from keras.src.trainers.compile_utils import CompileMetrics
from keras.src.trainers.trainer import Trainer

from epochmetrics._backend import ops as _backend

try:  # Keras' scope for shape inference (`compute_output_spec`)
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope
except ImportError:  # pragma: no cover - a Keras without it never calls us with dummy values

    def in_symbolic_scope() -> bool:
        return False


__all__ = [
    "KerasName",
    "KerasRead",
    "called_by_compiled_metrics",
    "inferring_shapes",
    "keras_read",
]

KerasName = tuple[str, str]  # (output prefix such as "digit_" or "", name after renaming)

_RESULT_CODE = CompileMetrics.result.__code__
_STEP_CODE = Trainer.compute_metrics.__code__
# Frames from the caller of `keras_read` up to CompileMetrics.result (1: result() calls us),
# then up to Trainer.compute_metrics (CompileMetrics.result <- get_metrics_result <- it);
# a few more allow for wrappers.
_MAX_FRAMES = 4
_NAMES: weakref.WeakKeyDictionary[Any, dict[int, KerasName]] = weakref.WeakKeyDictionary()


class KerasRead(NamedTuple):
    """Who is reading a metric's result: Keras' compiled metrics (with the name they log it
    under) or someone else (None), and whether from inside a train/test step."""

    name: KerasName | None
    in_step: bool


_NOT_KERAS = KerasRead(None, False)


def keras_read(metric: Any) -> KerasRead:
    """How the caller of `metric.result()` reads it (see the module docstring)."""
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return _NOT_KERAS
        if frame.f_code is _RESULT_CODE:
            owner = frame.f_locals.get("self")
            if not isinstance(owner, CompileMetrics):
                return _NOT_KERAS
            names = _NAMES.get(owner)
            if names is None:
                names = _NAMES[owner] = _assign(owner)
            return KerasRead(names.get(id(metric)), _in_step(frame))
        frame = frame.f_back
    return _NOT_KERAS


def _in_step(frame: Any) -> bool:
    for _ in range(_MAX_FRAMES):
        frame = frame.f_back
        if frame is None:
            return False
        if frame.f_code is _STEP_CODE:
            return True
    return False


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


def called_by_compiled_metrics() -> bool:
    """Whether the caller's caller is Keras' compiled metrics (`compile(metrics=...)`), e.g.
    in `fit`/`evaluate` steps: JAX and TensorFlow trace them (symbolic inputs), while torch
    runs them eagerly with real tensors, so the calling module tells all three apart."""
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return False
        if frame.f_globals.get("__name__", "").startswith("keras.src.trainers"):
            return True
        frame = frame.f_back
    return False


def inferring_shapes(y_pred: Any) -> bool:
    """Whether Keras is only inferring shapes (building compiled metrics) with inputs an update
    must not count. torch's backend first passes "meta" tensors (shapes, no values), and when
    anything fails on them it calls again with tensors of ones, whose values are dummies (rows
    of ones are not one-hot): counting them as invalid would warn about data the user never
    gave. What is added there is discarded anyway (a stateless scope)."""
    if _backend.is_shape_only(y_pred):
        return True
    # Traced inputs (JAX, TensorFlow) run the update as a real step would, for its shapes.
    return in_symbolic_scope() and _backend.is_concrete(y_pred)
