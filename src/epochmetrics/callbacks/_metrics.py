"""What the evaluator computes: metric entries, and their results as log keys.

Four kinds of entries, told apart by type, never by guessing from a signature:

- streamed: an object with `update_state`, `result`, `reset_state` (any `keras.metrics.Metric`,
  every epochmetrics metric): reset, `update_state` as the batches arrive, `result()`.
  epochmetrics metrics keep sums, so their batches are fed in bounded chunks of several
  batches (same sums, far fewer eager calls); other metrics get one call per batch.
- arrays: an object with `evaluate_arrays(y_true, y_pred, sample_weight=None)` (the ranking
  metrics' exact host path): called once on the whole arrays. It wins over `update_state`.
- callable: a plain function `fn(y_true, y_pred) -> float | dict | array` given under a name in
  a dict (scikit-learn functions, `functools.partial`): called once on the whole arrays.
- model: a `ModelEvaluator(fn)` wrapping `fn(model) -> float | dict` that runs its own inference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from epochmetrics._backend.host import to_numpy
from epochmetrics._docs import docstring
from epochmetrics._types import Direction
from epochmetrics.functional._args import check_direction

__all__ = [
    "Entry",
    "EvaluationError",
    "ModelEvaluator",
    "build_entries",
    "flatten_result",
]


class EvaluationError(RuntimeError):
    """A metric, or the model's prediction, failed during an evaluation.

    The message names the metric, the epoch and the shapes of what it received, then the
    original exception's type and message. The original exception is chained as `__cause__`
    and kept as `original` (Keras' traceback filtering in `fit` drops the chain; disable it
    with `keras.config.disable_traceback_filtering()` to see the full traceback).
    """

    def __init__(self, message: str, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.original = original


@docstring()
class ModelEvaluator:
    """Marks `fn(model) -> float | dict[str, float]` as an evaluator that runs its own inference.

    Use it for metrics that need more than `(y_true, y_pred)` arrays, such as detection mAP
    computed by an external evaluation class. `EpochEvaluator` calls `fn(model)` once per
    evaluation, after its own prediction pass; the returned keys get the evaluator's prefix.

    Args:
        fn: called with the Keras model; returns a float (logged under the entry's name) or a
            dict of floats (each key logged as is, after the prefix).
        direction: "up" or "down" for every value it returns, so `mode="auto"` works in
            EarlyStopping, ReduceLROnPlateau and ModelCheckpoint. Per-key directions can be
            given to `EpochEvaluator(directions=...)` instead.

    Examples:
        >>> from epochmetrics.callbacks import ModelEvaluator
        >>> ev = ModelEvaluator(lambda model: {"map": 0.5}, direction="up")
        >>> ev(None)
        {'map': 0.5}
    """

    def __init__(self, fn: Callable[[Any], Any], *, direction: Direction | None = None) -> None:
        if not callable(fn):
            raise TypeError(
                f"ModelEvaluator needs a callable `fn(model)`. Received: {type(fn).__name__}."
            )
        self.fn = fn
        self.direction = None if direction is None else check_direction(direction, "`direction`")

    def __call__(self, model: Any) -> Any:
        return self.fn(model)

    def __repr__(self) -> str:
        return f"ModelEvaluator({getattr(self.fn, '__name__', self.fn)!r})"


@dataclass
class Entry:
    """One metric to compute: `kind` is "stream", "arrays", "callable" or "model"."""

    name: str
    kind: str
    obj: Any
    direction: Direction | None = None

    @property
    def label(self) -> str:
        what = {"callable": "callable", "model": "ModelEvaluator"}.get(
            self.kind, type(self.obj).__name__
        )
        return f"{self.name!r} ({what})"


def _is_metric_object(obj: Any) -> bool:
    if hasattr(obj, "evaluate_arrays"):
        return True
    return all(hasattr(obj, a) for a in ("update_state", "result", "reset_state"))


def _entry(name: str | None, obj: Any) -> Entry:
    if isinstance(obj, ModelEvaluator):
        fn_name = str(getattr(obj.fn, "__name__", ""))
        label = name or (fn_name if fn_name.isidentifier() else "model_evaluator")
        return Entry(label, "model", obj, obj.direction)
    if _is_metric_object(obj):
        kind = "arrays" if hasattr(obj, "evaluate_arrays") else "stream"
        direction = getattr(obj, "_direction", None)
        direction = direction if direction in ("up", "down") else None
        label = name or str(getattr(obj, "name", None) or type(obj).__name__)
        return Entry(label, kind, obj, direction)
    if callable(obj):
        if name is None:
            raise TypeError(
                f"A callable metric needs a name for its log key: pass metrics as a dict, e.g. "
                f"metrics={{'f1': f1_score}}. Received the unnamed callable {obj!r}."
            )
        return Entry(name, "callable", obj)
    raise TypeError(
        f"Each metric must be a metric object (with update_state/result/reset_state or "
        f"evaluate_arrays), a callable `fn(y_true, y_pred)` given under a name in a dict, or a "
        f"ModelEvaluator. Received {type(obj).__name__} for {name or 'an entry'!r}."
    )


def build_entries(metrics: Any) -> list[Entry]:
    """Normalise the `metrics` argument (object, list of objects, or dict name -> anything)."""
    if isinstance(metrics, Mapping):
        for key in metrics:
            if not isinstance(key, str) or not key:
                raise TypeError(f"Metric names must be non-empty strings. Received: {key!r}.")
        entries = [_entry(k, v) for k, v in metrics.items()]
    elif isinstance(metrics, (list, tuple)):
        entries = [_entry(None, m) for m in metrics]
    else:
        entries = [_entry(None, metrics)]
    if not entries:
        raise ValueError("`metrics` is empty: give at least one metric.")
    seen: set[int] = set()
    for e in entries:
        if e.kind in ("stream", "arrays") and id(e.obj) in seen:
            raise ValueError(
                f"The metric object {e.label} is listed twice; each needs its own state."
            )
        seen.add(id(e.obj))
    return entries


# --- results -> log keys ------------------------------------------------------------------------
def _number(value: Any) -> Any:
    if isinstance(value, (bool, int, float, np.number)):
        return np.asarray(value, dtype=np.float64)
    return np.asarray(to_numpy(value))


def flatten_result(
    value: Any, name: str, *, top: bool = True
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """A result as scalar log keys and matrices.

    A scalar is logged under `name`; a 1-D array as `name_0, name_1, ...`; a 2-D or larger array
    is a matrix under `name`; a dict contributes its own keys, as Keras does with dict results
    (nested dicts join their keys with "_").
    """
    scalars: dict[str, float] = {}
    matrices: dict[str, np.ndarray] = {}
    if isinstance(value, Mapping):
        for key, sub in value.items():
            s, m = flatten_result(sub, str(key) if top else f"{name}_{key}", top=False)
            scalars.update(s)
            matrices.update(m)
        return scalars, matrices
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(
            f"expected a number, an array or a dict of numbers, got {type(value).__name__}"
        )
    array = _number(value)
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise TypeError(f"expected numbers, got an array of dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim == 0 or (array.size == 1 and array.ndim == 1):
        scalars[name] = float(array.reshape(()))
    elif array.ndim == 1:
        scalars.update({f"{name}_{i}": float(v) for i, v in enumerate(array)})
    else:
        matrices[name] = array
    return scalars, matrices
