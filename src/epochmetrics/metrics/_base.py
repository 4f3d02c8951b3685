"""The shell every epochmetrics metric shares: one summed state, merge, config, log keys."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from epochmetrics._backend import keras_internals, runtime
from epochmetrics._backend import ops as _backend
from epochmetrics._backend.xp import keras_ops, numpy_ops
from epochmetrics._types import PerStep
from epochmetrics.functional._args import (
    INVALID_KINDS,
    TaskSpec,
    check_class_names,
    class_labels,
    make_spec,
)
from epochmetrics.functional._layout import Layout
from epochmetrics.metrics import _combine, _sums
from epochmetrics.metrics._keras_calls import (
    KerasName,
    called_by_compiled_metrics,
    inferring_shapes,
    keras_read,
    per_step_honoured,
)

# A metric whose state passes this size gets a warning at construction.
LARGE_STATE_BYTES = 100 * 2**20


class SumStateMetric(_sums.PortableSums, keras.metrics.Metric):
    """A metric whose state is a vector of sums over batches.

    Subclasses implement `_layout` (the named segments of the state), `_step` (the pure batch
    function that gives one batch's sums in that layout, with its static arguments: it runs
    inside compiled steps, and compiled by `_backend.runtime` for eager calls), and
    `_compute(state, xp)` (summed state -> result, in the array namespace `xp`). The sum is
    kept as a float32 pair (see `_sums`): exact for integer counts up to 2**48 per cell on
    every backend, with no drift for weighted sums. Sums make `merge_state` associative with the
    empty state as identity, and let data-parallel strategies combine replicas by addition.

    Results are computed in float64: inside compiled steps with `keras.ops`; for eager reads
    (epoch logs, `evaluate`, your own `result()` calls) in NumPy on the host.
    """

    _direction = "up"
    # What to use instead when the state is large (completes the construction warning).
    _cheaper = ""
    # Whether states of several shards (replicas, processes, merged metrics) combine by plain
    # addition. False: `_combine` does it (regression's shifted moments re-centre first).
    _additive = True

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
        self._init_state()

    def _init_state(self) -> None:
        """The state variables and caches; called once the options are set (`_layout()`
        reads them). Metrics without a classification task (regression) set their own
        options, then call it."""
        self._keras_name: KerasName | None = None
        self._keys: tuple[KerasName | None, tuple[str, ...] | None] | None = None
        self._step_cache: tuple[Any, np.ndarray] | None = None
        self._warned_invalid = False
        self.per_step: PerStep = "all"
        size = self._layout().size
        self._warn_if_large(self._state_bytes(size))
        self._hi = keras_internals.add_metric_variable(self, (size,), "zeros", "float32", "sums")
        self._lo = keras_internals.add_metric_variable(self, (size,), "zeros", "float32", "sums_lo")

    # --- subclass hooks -------------------------------------------------------------------
    def _layout(self) -> Layout:
        """The named segments of the state vector."""
        raise NotImplementedError

    def _step(self) -> _sums.Step:
        """The pure batch function and its static arguments (a task spec, options)."""
        raise NotImplementedError

    def _compute(self, state: Any, xp: Any) -> Any:
        raise NotImplementedError

    def _result_keys(self) -> tuple[str, ...] | None:
        """The keys of a dict result (None for a scalar or matrix result)."""
        return None

    def _combine(self, totals: list[Any], xp: Any) -> Any:
        """One state from the summed states of several shards, in the namespace `xp`: their
        sum, for states of sums. Used by `merge_state`, by reads that see one state per
        replica (tf.distribute) and by `distributed.all_reduce_metrics`."""
        total = totals[0]
        for other in totals[1:]:
            total = total + other
        return total

    def _host_combine(self, totals: list[np.ndarray]) -> np.ndarray:
        """`_combine` of float64 states on the host."""
        return np.asarray(self._combine(totals, numpy_ops), dtype=np.float64)

    def _state_bytes(self, size: int) -> int:
        """Bytes of state: the float32 pair of `size` sums (subclasses add other buffers)."""
        return 8 * size

    # --- public API ------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return self._spec.task

    @property
    def num_classes(self) -> int:
        return self._spec.num_classes

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch. Inputs as described in the class docstring."""
        if inferring_shapes(y_pred):
            return  # Keras inferring shapes: nothing to add, the state keeps its shape
        step, state = self._step(), (_backend.value(self._hi), _backend.value(self._lo))
        if not all(_backend.is_concrete(x) for x in (y_true, y_pred, state[0])):
            hi, lo, _ = _sums.update(step, *state, y_true, y_pred, sample_weight)  # in a step
        elif _sums.has_in_place(step) and _sums.update_in_place(
            step,
            self._hi,
            self._lo,
            y_true,
            y_pred,
            sample_weight,
            check=not called_by_compiled_metrics(),  # as below: no host read inside fit
        ):
            return  # added where the batch lands, in the variables' own tensors
        elif called_by_compiled_metrics():
            # An eager train/test step (torch's fit): no host read per step. Invalid inputs are
            # counted, as in compiled steps, and the epoch's read warns with the counts.
            out = _sums.update(step, *state, y_true, y_pred, sample_weight, check=False)
            hi, lo, _ = out
        else:
            with runtime.eager_x64():
                out = runtime.eager_update(_sums.update, step, state, y_true, y_pred, sample_weight)
                if out is None or bool(ops.any(out[2] > 0)):
                    # The uncompiled update on the caller's own arrays: it raises the ValueError
                    # that names a bad input (not a padded or traced version of it).
                    out = _sums.update(step, *state, y_true, y_pred, sample_weight)
            hi, lo, _ = out
        _backend.assign(self._hi, hi)
        _backend.assign(self._lo, lo)

    def reset_state(self) -> None:
        self._hi.assign(ops.zeros_like(self._hi.value))
        self._lo.assign(ops.zeros_like(self._lo.value))
        self._warned_invalid = False

    def merge_state(self, other: Any) -> None:
        """Add the state of `other` (a metric of the same class and settings, or a list of
        them) to this one."""
        for metric in _metric_list(other):
            self._check_mergeable(metric)
            self._add_state_of(metric)

    def _state_total(self) -> np.ndarray:
        """The state, float64 on the host (an eager read; replicas combined)."""
        return self._host_state(self._replica_pairs())

    def _replica_pairs(self) -> list[tuple[Any, Any]]:
        """The state's `(hi, lo)` tensors, one pair per replica where TF keeps replicas apart
        (see `_backend.ops.read_parts`), else one pair."""
        pairs = zip(_backend.read_parts(self._hi), _backend.read_parts(self._lo), strict=True)
        return list(pairs)

    def _add_sums(self, batch: Any) -> None:
        """Add one vector of sums (laid out as `_layout()`) to the state."""
        hi, lo = _sums.add(self._hi.value, self._lo.value, batch)
        _backend.assign(self._hi, hi)
        _backend.assign(self._lo, lo)

    def _add_state_of(self, other: SumStateMetric) -> None:
        """Add `other`'s summed state to this one's (on the host: merges are eager)."""
        total = self._host_combine([self._state_total(), other._state_total()])
        hi, lo = _sums.host_split(total)
        _backend.assign_host(self._hi, hi)
        _backend.assign_host(self._lo, lo)

    def result(self) -> Any:
        read = keras_read(self)  # first: it looks at our caller's frame
        if read.name is not None:
            self._keras_name = read.name  # kept for later reads: one set of keys per metric
        processes = None
        if not read.in_step and _backend.is_concrete(_backend.value(self._hi)):
            processes = _combine.reader(self)  # several processes: a global read
        if processes is None:
            return self._read(read.in_step)
        if self._other_variables():
            with _combine.global_reads([self], processes):
                return self._read(False)
        # Plain sums: the global total itself (one float64 "pair"), nothing assigned.
        total = _combine.combined([self], processes)[0]["sums"]
        return self._host_result([(total, np.zeros_like(total))])

    def _read(self, in_step: bool) -> Any:
        """The result from this process's variables (inside a step: the keys it returns)."""
        parts = self._replica_pairs()
        keep = self._step_index() if in_step else None
        if _backend.is_concrete(parts[0][0]):
            return self._host_result(parts, keep, plain=in_step)
        return self._traced_result(parts, keep)

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

    # --- results ---------------------------------------------------------------------------
    def _host_state(self, parts: list[tuple[Any, Any]]) -> np.ndarray:
        """The state of concrete `(hi, lo)` pairs, one per replica: float64 on the host."""
        return self._host_combine([_sums.host_total(list(pair)) for pair in parts])

    def _host_result(
        self, parts: list[tuple[Any, Any]], keep: np.ndarray | None = None, plain: bool = False
    ) -> Any:
        """An eager read: NumPy on the host, float64, keys in class order.

        `parts`: one `(hi, lo)` pair per replica. `plain`: Python floats, for an eager
        train/test step (torch's fit), whose logs Keras turns into floats anyway (from a torch
        scalar that costs ~10 us a key)."""
        if keep is not None and len(keep) == 0:
            return {}  # a step that returns no key (per_step="none"): nothing to compute
        state = self._host_state(parts)
        with np.errstate(all="ignore"):
            value = self._compute(state, numpy_ops)
        invalid = self._layout().unpack(state)["invalid"]
        if np.any(invalid > 0):
            self._warn_invalid(invalid)
            value = _poison(numpy_ops, value, True)
        if isinstance(value, Keyed):
            value = _select(value, keep)
            if plain:
                return dict(zip(value.keys, np.asarray(value.values).tolist(), strict=True))
            return _backend.from_host(value.values, value.keys)
        if plain and np.ndim(value) == 0:
            return float(value)
        return _backend.from_host(value)

    def _traced_result(self, parts: list[tuple[Any, Any]], keep: np.ndarray | None = None) -> Any:
        """A read inside a compiled step: `keras.ops`, in float64 (float32 on 32-bit JAX)."""
        dtype = _backend.traced_result_dtype()
        state = self._combine([_sums.traced_total(list(p), dtype) for p in parts], keras_ops)
        value = self._compute(state, keras_ops)
        # Invalid inputs counted in a compiled step: every result is NaN, never a wrong number
        # (the next eager read warns with the counts).
        invalid = self._layout().unpack(state)["invalid"]
        value = _poison(keras_ops, value, ops.any(invalid > 0))
        if isinstance(value, Keyed):
            value = _select(value, keep)
            return dict(zip(value.keys, ops.unstack(value.values), strict=True))
        return value

    def _step_index(self) -> np.ndarray | None:
        """Positions of the keys a train/test step returns, by `per_step` (None: all).

        All where Keras would keep a step's logs for the epoch when they hold fewer keys than
        a fresh read (Keras < 3.14, see `keras_internals.per_step_honoured`)."""
        keys = self._keys_now()
        if self.per_step == "all" or keys is None or not per_step_honoured():
            return None
        cached = self._step_cache
        if cached is None or cached[0] != (self._keras_name, self.per_step):
            keep = set() if self.per_step == "none" else set(self._averaged_keys())
            index = [i for i, key in enumerate(keys) if key in keep]
            cached = self._step_cache = (
                (self._keras_name, self.per_step),
                np.asarray(index, np.int32),
            )
        return cached[1]

    def _averaged_keys(self) -> tuple[str, ...]:
        """Keys that are not per class (a dict result of per-class keys has none)."""
        return ()

    def _warn_invalid(self, counts: np.ndarray) -> None:
        """Once per epoch: say why the result is NaN, with the counts of each kind."""
        if self._warned_invalid:
            return
        self._warned_invalid = True
        what = {
            "y_true": self._invalid_true_text(),
            "y_pred": self._invalid_pred_text(),
            "sample_weight": "NaN or infinite sample weights",
        }
        found = [
            f"{int(n)} {what[kind]}" for kind, n in zip(INVALID_KINDS, counts, strict=True) if n > 0
        ]
        hint = self._invalid_hint(counts)
        warnings.warn(
            f"{type(self).__name__} {self.name!r} is NaN: a compiled step received "
            f"{'; '.join(found)}.{hint} Called eagerly, update_state raises with the values.",
            RuntimeWarning,
            stacklevel=3,
        )

    def _invalid_hint(self, counts: np.ndarray) -> str:
        """What to try, after the counts of invalid inputs (empty, or one sentence)."""
        if counts[1] > 0 and not self._spec.from_logits and self._spec.task != "multiclass":
            return " If y_pred holds logits, pass from_logits=True."
        return ""

    def _invalid_true_text(self) -> str:
        spec = self._spec
        if spec.task == "multiclass":
            return (
                f"y_true labels outside [0, num_classes={spec.num_classes}) or rows that are "
                "not one-hot (0/1 with one 1, or soft fractions; all-zero rows are void only "
                "with ignore_index)"
            )
        return "y_true values other than 0 and 1"

    def _invalid_pred_text(self) -> str:
        spec = self._spec
        if spec.task == "multiclass":
            return f"y_pred rows holding NaN or labels outside [0, num_classes={spec.num_classes})"
        if spec.from_logits:
            return "NaN y_pred logits"
        return "y_pred values outside [0, 1] (or NaN)"

    # --- helpers ---------------------------------------------------------------------------
    def _warn_if_large(self, nbytes: int) -> None:
        if nbytes <= LARGE_STATE_BYTES:
            return
        warnings.warn(
            f"{type(self).__name__} {self.name!r} keeps {nbytes / 2**20:,.0f} MB of state "
            f"(x2 during an update).{' ' + self._cheaper if self._cheaper else ''}",
            UserWarning,
            stacklevel=4,
        )

    def _merge_settings(self) -> dict[str, Any]:
        """The settings two metrics must share to merge, by name."""
        return {
            "class": type(self).__name__,
            "task": self._spec.task,
            "num_classes": self._spec.num_classes,
            "state layout": self._layout(),
        }

    def _check_mergeable(self, other: Any) -> None:
        if not isinstance(other, SumStateMetric):
            raise TypeError(
                f"merge_state takes an epochmetrics metric or a list of them. Received: "
                f"{type(other).__name__}."
            )
        mine, theirs = self._merge_settings(), other._merge_settings()
        if mine != theirs:
            differ = [k for k in dict.fromkeys([*mine, *theirs]) if mine.get(k) != theirs.get(k)]
            if len(differ) > 1 and "state layout" in differ:  # a consequence, not a cause
                differ.remove("state layout")
            diff = "; ".join(
                f"{k}: {mine.get(k)!r} here, {theirs.get(k)!r} in the other" for k in differ
            )
            raise ValueError(
                f"merge_state needs a {type(self).__name__} with the same settings. They "
                f"differ in {diff}."
            )

    def _labels(self) -> tuple[str, ...]:
        return class_labels(self._spec, self.class_names)

    def _key_stem(self) -> str:
        """The name this metric's keys start with: Keras' name for it when compiled (with the
        output prefix), else its own `name`."""
        if self._keras_name is None:
            return self.name
        prefix, name = self._keras_name
        return prefix + name

    def _keys_now(self) -> tuple[str, ...] | None:
        """`_result_keys()` under the current name, built once per name: Keras reads results
        every step, and a 1,000-class report has 4,008 keys."""
        if self._keys is None or self._keys[0] != self._keras_name:
            self._keys = (self._keras_name, self._result_keys())
        return self._keys[1]

    def _log_keys(self, keras_name: KerasName | None) -> tuple[str, ...] | None:
        """The keys this metric's result would have under `keras_name` (for collision checks)."""
        saved, self._keras_name = self._keras_name, keras_name
        try:
            return self._result_keys()
        finally:
            self._keras_name = saved

    def _per_class_keys(self, stem: str | None = None) -> tuple[str, ...]:
        stem = self._key_stem() if stem is None else stem
        return tuple(f"{stem}_{label}" for label in self._labels())

    def _per_class(self, values: Any) -> Keyed:
        """A (C,) vector as scalar log keys `<name>_<class>`."""
        keys = self._keys_now()
        assert keys is not None
        return Keyed(values, keys)


class Keyed(NamedTuple):
    """A result of several scalar log keys: a (K,) vector and its K keys, split by `result()`."""

    values: Any
    keys: tuple[str, ...]


def _metric_list(other: Any) -> list[Any]:
    if isinstance(other, keras.metrics.Metric):
        return [other]
    if isinstance(other, Iterable) and not isinstance(other, (str, bytes)):
        return list(other)
    raise TypeError(
        f"merge_state takes a metric or a list of metrics. Received: {type(other).__name__}."
    )


def _select(value: Keyed, index: np.ndarray | None) -> Keyed:
    """The keys at `index` (all when None)."""
    if index is None or len(index) == len(value.keys):
        return value
    take = np.take if isinstance(value.values, np.ndarray) else ops.take
    return Keyed(take(value.values, index), tuple(value.keys[i] for i in index))


def _poison(xp: Any, value: Any, invalid: Any) -> Any:
    if isinstance(value, Keyed):
        return Keyed(_poison(xp, value.values, invalid), value.keys)
    return xp.where(invalid, xp.cast(float("nan"), value.dtype), value)
