"""What Keras' calls tell us: the name a metric is logged under, and whether from inside a step.

The Keras internals behind it (frames, private attributes, the per-version strategy) are read
in `_backend/keras_internals.py`; here they become log keys. When `CompileMetrics.result` asks
for our result, the names it gives every metric are computed once per compiled set of metrics
(its own algorithm, checked against Keras by a canary test, `tests/test_edges.py`), with a
check that no two log keys collide: a collision is a ValueError at the first step that names
both metrics, never an overwrite.

A read from inside a train or test step comes through `Trainer.compute_metrics` (the step's
logs, for the progress bar and batch-level callbacks); the epoch's logs, `evaluate` and
`get_metrics_result()` read the metrics afresh without it. Metrics with many keys return
fewer inside steps (`per_step=`), so the per-step cost does not grow with the classes, where
Keras builds the epoch's logs from a fresh read whatever the step returned
(`keras_internals.per_step_honoured()`).
"""

from __future__ import annotations

import weakref
from typing import Any

from epochmetrics._backend import keras_internals
from epochmetrics._backend import ops as _backend
from epochmetrics._backend.keras_internals import (
    KerasName,
    KerasRead,
    called_by_compiled_metrics,
    per_step_honoured,
)

__all__ = [
    "KerasName",
    "KerasRead",
    "called_by_compiled_metrics",
    "compiled_metrics",
    "inferring_shapes",
    "keras_read",
    "per_step_honoured",
]

_NAMES: weakref.WeakKeyDictionary[Any, dict[int, KerasName]] = weakref.WeakKeyDictionary()


def keras_read(metric: Any) -> KerasRead:
    """How the caller of `metric.result()` reads it (see the module docstring)."""
    return keras_internals.keras_read(metric, _names, depth=3)


def _names(owner: Any) -> dict[int, KerasName]:
    names = _NAMES.get(owner)
    if names is None:
        names = _NAMES[owner] = _assign(owner)
    return names


def _compiled_names(owner: Any) -> list[tuple[Any, str, str]]:
    """`(metric, output prefix, name)` for every metric, as `CompileMetrics.result` names them."""
    named: list[tuple[Any, str, str]] = []
    seen: dict[str, int] = {}
    for output_name, weighted, metrics in keras_internals.compiled_lists(owner):
        prefix = f"{output_name}_" if output_name else ""
        for m in metrics:
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


def compiled_metrics(model: Any) -> list[tuple[Any, str]]:
    """`(metric, the name Keras logs it under)` for every metric of `compile(metrics=...)`,
    output prefix and renaming included (`digit_f1`, `recall_1`); empty until Keras has built
    its compiled metrics (at the first step) or without any."""
    owner = keras_internals.compile_metrics_of(model)
    if owner is None:
        return []
    return [(m, prefix + name) for m, prefix, name in _compiled_names(owner)]


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


def inferring_shapes(y_pred: Any) -> bool:
    """Whether Keras is only inferring shapes (building compiled metrics) with inputs an update
    must not count. torch's backend first passes "meta" tensors (shapes, no values), and when
    anything fails on them it calls again with tensors of ones, whose values are dummies (rows
    of ones are not one-hot): counting them as invalid would warn about data the user never
    gave. What is added there is discarded anyway (a stateless scope)."""
    if _backend.is_shape_only(y_pred):
        return True
    # Traced inputs (JAX, TensorFlow) run the update as a real step would, for its shapes.
    return keras_internals.in_symbolic_scope() and _backend.is_concrete(y_pred)
