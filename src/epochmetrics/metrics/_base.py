"""The shell every epochmetrics metric shares: one summed state, merge, config, log keys."""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import numpy as np

from epochmetrics import _backend
from epochmetrics._inputs import TaskSpec, check_class_names, class_labels, make_spec
from epochmetrics._ops import host_ops, ops


class SumStateMetric(keras.metrics.Metric):
    """A metric whose state is a vector of sums over batches.

    Subclasses set `_state_size` and implement `_batch_state` (one batch -> float32 vector) and
    `_compute` (summed state in the result dtype -> result). The sum is a compensated float32
    pair `(hi, lo)` (see `_backend.accumulate`): exact for integer counts up to 2**48 per cell on
    every backend, with no drift for weighted sums. Sums make `merge_state` associative with the
    empty state as identity, and let data-parallel strategies combine replicas by addition.
    """

    _direction = "up"
    # Whether `_compute` uses only `epochmetrics._ops.ops`, so it can run on NumPy (eager torch).
    _host_result = False

    def __init__(
        self,
        task: Any,
        *,
        num_classes: int | None = None,
        threshold: float = 0.5,
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self._spec: TaskSpec = make_spec(task, num_classes, threshold, from_logits, ignore_index)
        self.class_names = check_class_names(class_names, self._spec)
        self._eager_reads = 0
        self._result_fn: Any = None
        size = self._state_size()
        self._hi = self.add_variable(
            shape=(size,), initializer="zeros", dtype="float32", name="sums"
        )
        self._lo = self.add_variable(
            shape=(size,), initializer="zeros", dtype="float32", name="sums_lo"
        )

    # --- subclass hooks -------------------------------------------------------------------
    def _state_size(self) -> int:
        raise NotImplementedError

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> Any:
        raise NotImplementedError

    def _compute(self, state: Any) -> Any:
        raise NotImplementedError

    # --- public API ------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return self._spec.task

    @property
    def num_classes(self) -> int:
        return self._spec.num_classes

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch. Inputs as described in the class docstring."""
        concrete = all(_backend.is_concrete(x) for x in (y_true, y_pred, self._hi.value))
        compiled: Any = self._compiled_update() if concrete else False
        if compiled:
            args = _backend.bucket_batch(y_true, y_pred, sample_weight)
            try:
                hi, lo, invalid = compiled(self._hi.value, self._lo.value, *args)
                compiled = not bool(invalid > 0)
            except Exception:  # bad shapes surface as backend errors inside the compiled graph
                compiled = False
        if not compiled:
            # The uncompiled update on the caller's own arrays: it raises the ValueError that
            # names a bad input (not a padded or traced version of it).
            batch = self._batch_state(y_true, y_pred, sample_weight)
            hi, lo = _backend.accumulate(self._hi.value, self._lo.value, batch)
        self._hi.assign(hi)
        self._lo.assign(lo)

    def _compiled_update(self) -> Any:
        """The batch update compiled for eager calls outside `fit` (False on torch).

        Eager JAX compiles every primitive for every new input shape (about a second per shape)
        and eager TensorFlow pays ~15 ms of op dispatch per update; a compiled update costs a
        fraction of a millisecond. It depends only on the batch function and the task, so
        metrics with the same task share it. Inside `fit` the caller's compilation is used.
        """
        key = (type(self)._batch_state, self._spec, self._state_size())
        if key not in _COMPILED:

            def update(hi: Any, lo: Any, y_true: Any, y_pred: Any, sample_weight: Any) -> Any:
                batch = self._batch_state(y_true, y_pred, sample_weight)
                return (*_backend.accumulate(hi, lo, batch), batch[-1])

            _COMPILED[key] = _backend.compile_eager(update)
        return _COMPILED[key]

    def reset_state(self) -> None:
        self._hi.assign(ops.zeros_like(self._hi.value))
        self._lo.assign(ops.zeros_like(self._lo.value))

    def merge_state(self, other: SumStateMetric) -> None:
        """Add the state of `other` (same class and configuration) to this one."""
        if type(other) is not type(self) or other._state_signature() != self._state_signature():
            raise ValueError(
                f"merge_state needs a {type(self).__name__} with the same task and classes. "
                f"Received a {type(other).__name__} with {other._state_signature()}, "
                f"this one has {self._state_signature()}."
            )
        hi, lo = self._hi.value, self._lo.value
        for part in (*_backend.read_parts(other._hi), *_backend.read_parts(other._lo)):
            hi, lo = _backend.accumulate(hi, lo, part)
        self._hi.assign(hi)
        self._lo.assign(lo)

    def result(self) -> Any:
        parts = [*_backend.read_parts(self._hi), *_backend.read_parts(self._lo)]
        if self._host_result and _backend.is_concrete(parts[0]) and _backend.is_torch():
            # Eager torch: NumPy on the host instead of ~100 dispatched ops (see `_ops`).
            host = [np.asarray(ops.convert_to_numpy(part)) for part in parts]
            with host_ops():
                value = self._masked(host)
            if isinstance(value, Keyed):  # one tensor, split on the device: one copy for all keys
                keys = value.keys
                return dict(
                    zip(keys, _backend.to_torch(value.values, parts[0]).unbind(), strict=True)
                )
            return _backend.to_torch(value, parts[0])
        with _backend.float64_scope(parts[0]):
            if len(parts) == 2 and _backend.is_concrete(parts[0]):
                # A metric read again (every epoch end, every evaluation) gets a compiled result:
                # eager JAX/TF pay per op (~60 ms for a 10-class report on JAX), a compiled
                # call well under 1 ms. A first read stays eager: compiling costs ~1 s.
                self._eager_reads += 1
                again = self._eager_reads > 1 and self._result_reads_sums_only()
                compiled: Any = self._compiled_result() if again else False
                if compiled:
                    return compiled(*parts)
            return self._result(parts)

    def _result_reads_sums_only(self) -> bool:
        """Whether `_compute` reads nothing but the summed state (a compiled result may not
        capture other variables: they would be frozen at their first value)."""
        return True

    def _compiled_result(self) -> Any:
        if self._result_fn is None:
            self._result_fn = _backend.compile_eager(lambda hi, lo: self._result([hi, lo]))
        return self._result_fn

    def _result(self, parts: list[Any]) -> Any:
        value = self._masked(parts)
        if isinstance(value, Keyed):
            # One mask and one split for all keys: Keras reads results every step.
            return dict(zip(value.keys, ops.unstack(value.values), strict=True))
        return value

    def _masked(self, parts: list[Any]) -> Any:
        """`_compute` of the summed parts, NaN where the state counted invalid labels."""
        dtype = _backend.result_dtype()
        # Several parts only for replicas kept apart (tf.distribute); summed in `dtype`.
        state = ops.cast(parts[0], dtype)
        for part in parts[1:]:
            state = state + ops.cast(part, dtype)
        value = self._compute(state)
        # Invalid labels seen inside a compiled step: every result is NaN, never a wrong number.
        invalid = state[-1] > 0  # every layout keeps the invalid count last
        if isinstance(value, Keyed):
            return Keyed(_poison(value.values, invalid), value.keys)
        return _poison(value, invalid)

    def get_config(self) -> dict[str, Any]:
        spec = self._spec
        return {
            "task": spec.task,
            "num_classes": None if spec.task == "binary" else spec.num_classes,
            "threshold": spec.threshold,
            "from_logits": spec.from_logits,
            "ignore_index": spec.ignore_index,
            "class_names": None if self.class_names is None else list(self.class_names),
            "name": self.name,
            "dtype": self.dtype_policy.name if hasattr(self, "dtype_policy") else self.dtype,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SumStateMetric:
        return cls(**config)

    # --- helpers ---------------------------------------------------------------------------
    def _state_signature(self) -> tuple[Any, ...]:
        return (self._spec.task, self._spec.num_classes, int(self._hi.shape[0]))

    def _labels(self) -> tuple[str, ...]:
        return class_labels(self._spec, self.class_names)

    def _per_class(self, values: Any, prefix: str | None = None) -> Keyed:
        """A (C,) vector as scalar log keys `<prefix>_<class>` (prefix: the metric's name)."""
        prefix = self.name if prefix is None else prefix
        return Keyed(values, tuple(f"{prefix}_{label}" for label in self._labels()))


class Keyed(NamedTuple):
    """A result of several scalar log keys: a (K,) vector and its K keys, split by `result()`."""

    values: Any
    keys: tuple[str, ...]


_COMPILED: dict[tuple[Any, ...], Any] = {}


def _poison(value: Any, invalid: Any) -> Any:
    return ops.where(invalid, ops.cast(float("nan"), value.dtype), value)
