"""Plumbing between the evaluator and Keras' callback machinery.

Keras gives a callback no handle on the `CallbackList` that calls it, and calls the callbacks of
one epoch in list order, all with the same `logs` dict. To put its values in front of every
other callback, the evaluator finds that list once per `fit` (it is the `self` of the frame
that called our `on_train_begin`) and moves itself to the front.

Keras' monitors (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint) resolve `mode="auto"` at
their first `on_epoch_end` by looking for a metric of that name in `model.metrics`, and raise
when there is none. The evaluator runs first, so at its first evaluation it sets their
comparison from the direction of each of its keys.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from typing import Any

import keras

__all__ = ["configure_monitors", "find_callback_list", "move_to_front", "push", "unwrap"]

# Frames between CallbackList.on_train_begin and our hook: 1 in Keras 3; a few more allow for
# wrappers (a subclassed CallbackList, a decorator) without walking the whole stack.
_MAX_FRAMES = 6


def find_callback_list(callback: Any) -> Any:
    """The CallbackList whose hook is running `callback` right now, or None."""
    frame = inspect.currentframe()
    try:
        current = frame.f_back if frame is not None else None
        for _ in range(_MAX_FRAMES):
            if current is None:
                return None
            owner = current.f_locals.get("self")
            if isinstance(owner, keras.callbacks.CallbackList) and any(
                cb is callback for cb in getattr(owner, "callbacks", ())
            ):
                return owner
            current = current.f_back
        return None
    finally:
        del frame


def move_to_front(callback_list: Any, callback: Any, kind: type) -> None:
    """Move `callback` before every callback that is not a `kind` already at the front.

    Safe while `callback_list` is iterating: moving an element from index k to j <= k leaves
    every later element at its index, so the loop neither skips nor repeats a callback.
    Several evaluators keep their relative order.
    """
    items = callback_list.callbacks
    index = next(i for i, cb in enumerate(items) if cb is callback)
    front = 0
    while front < index and isinstance(items[front], kind):
        front += 1
    if front < index:
        items.insert(front, items.pop(index))


def _resolve_mode(monitor: Any, direction: str) -> None:
    set_op = getattr(monitor, "_set_monitor_op", None)
    if callable(set_op):
        # Let Keras do it (it also flips the sign of `min_delta` for "min"), then restore "auto".
        monitor.mode = "max" if direction == "up" else "min"
        try:
            set_op()
        finally:
            monitor.mode = "auto"
        return
    monitor.monitor_op = keras.ops.greater if direction == "up" else keras.ops.less
    if direction == "down" and hasattr(monitor, "min_delta"):
        monitor.min_delta = -abs(monitor.min_delta)


def configure_monitors(
    callbacks: list[Any],
    directions: Mapping[str, str | None],
    *,
    every_n_epochs: int,
    sources: Mapping[str, str],
) -> None:
    """Give monitors of evaluator keys their direction, and warn about patience below the period.

    Args:
        callbacks: the other callbacks of this fit.
        directions: every evaluator key -> "up", "down" or None (unknown).
        every_n_epochs: the evaluation period.
        sources: evaluator key -> label of the metric that produced it, for messages.
    """
    for cb in callbacks:
        key = getattr(cb, "monitor", None)
        if not isinstance(key, str) or key not in directions:
            continue
        name = type(cb).__name__
        if getattr(cb, "mode", None) == "auto" and getattr(cb, "monitor_op", "unset") is None:
            direction = directions[key]
            if direction is None:
                raise ValueError(
                    f"{name}(monitor={key!r}, mode='auto') cannot tell whether {key!r} should go "
                    f"up or down: it comes from {sources[key]}, which declares no direction. Pass "
                    f"`directions={{{key!r}: 'up'}}` (or 'down') to EpochEvaluator, or "
                    f"`mode='max'` (or 'min') to {name}."
                )
            _resolve_mode(cb, direction)
        patience = getattr(cb, "patience", None)
        if every_n_epochs > 1 and isinstance(patience, int) and patience < every_n_epochs:
            warnings.warn(
                f"{name}(monitor={key!r}, patience={patience}) counts epochs, and EpochEvaluator "
                f"measures {key!r} every {every_n_epochs} epochs (epochs in between hold the last "
                f"value, which is never an improvement). It would act {patience} epochs after an "
                f"evaluation without waiting for the next one. Use patience >= {every_n_epochs} "
                f"(patience={every_n_epochs}*k waits for k evaluations).",
                UserWarning,
                stacklevel=3,
            )


def push(values: Mapping[str, float], logs: dict[str, Any], warned: set[str]) -> None:
    """Put `values` into an epoch's `logs`, warning once per key (`warned`) where they replace
    a different value Keras logged under the same key."""
    for key, value in values.items():
        if key in logs and key not in warned and logs[key] != value:
            warned.add(key)
            warnings.warn(
                f"EpochEvaluator replaces the value Keras logged under {key!r} with its own. "
                "If both are wanted, rename the metric or change `prefix`.",
                UserWarning,
                stacklevel=3,
            )
        logs[key] = value


def unwrap(model: Any) -> Any:
    """The Keras model inside a wrapper such as torch's DistributedDataParallel (`.module`),
    as Keras' own `Callback.model` does."""
    if isinstance(model, keras.Model):
        return model
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, keras.Model) else model
