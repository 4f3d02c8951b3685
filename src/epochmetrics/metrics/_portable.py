"""A metric's state as plain NumPy arrays: `get_state`, `set_state`, `from_state`, pickling.

Processes move objects by pickle (torch's `all_gather_object`, Ray, Spark, joblib,
`multiprocessing`). Keras pickles a metric by saving it as a model file, which keeps its
configuration and drops its variables: a received metric came back empty. Every epochmetrics
metric therefore pickles as its exported state (`__reduce__` -> `from_state`), and the same
export is public, for storing a state or sending it by other means:

    {"format": "epochmetrics.state/1", "class": "F1Score", "config": {...},
     "arrays": {"sums": float64 array, ...}}

`config` is `get_config()`; `arrays` are the state's arrays by name, NumPy only. The default
export covers every Keras variable of the metric by its name; a metric whose state lives
elsewhere (DetectionMAP's records) or is kept in a special form (the compensated pair of the
sum metrics, exported as one float64 total) overrides `_export_arrays` / `_import_arrays`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

from epochmetrics._backend import host as _host

__all__ = ["STATE_FORMAT", "Portable"]

STATE_FORMAT = "epochmetrics.state/1"
# Config entries that may differ between a state and the metric it is loaded into.
_FREE = ("name", "dtype")

_M = TypeVar("_M", bound="Portable")


class Portable:
    """Mixin for `keras.metrics.Metric` subclasses: state export, import and pickling."""

    # Provided by keras.metrics.Metric.
    variables: list[Any]

    def get_config(self) -> dict[str, Any]:  # pragma: no cover - Keras' Metric defines it
        raise NotImplementedError

    # --- public ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The metric's configuration and state, as plain Python and NumPy values.

        Returns:
            `{"format": "epochmetrics.state/1", "class": <class name>, "config":
            get_config(), "arrays": {name: np.ndarray}}`. Under `tf.distribute` the replicas'
            copies are added (exactly), so the arrays hold the whole state of this process.

        Examples:
            >>> import numpy as np, epochmetrics as em
            >>> m = em.Accuracy("binary")
            >>> m.update_state(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.4]))
            >>> state = m.get_state()
            >>> state["class"], sorted(state["arrays"])
            ('Accuracy', ['sums'])
            >>> round(float(em.Accuracy.from_state(state).result()), 4)
            0.6667
        """
        return {
            "format": STATE_FORMAT,
            "class": type(self).__name__,
            "config": self.get_config(),
            "arrays": {k: np.array(v) for k, v in self._export_arrays().items()},
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Replace this metric's state by an exported one (`get_state()` of a metric of the
        same class and settings; only `name` and `dtype` may differ).

        Raises:
            ValueError: for a state of another format, class or settings, or arrays of other
                names or shapes than this metric keeps.
        """
        self._check_state(state)
        self._import_arrays({k: np.asarray(v) for k, v in state["arrays"].items()})

    @classmethod
    def from_state(cls: type[_M], state: Mapping[str, Any]) -> _M:
        """A new metric built from an exported state's config, holding that state."""
        if not isinstance(state, Mapping) or "config" not in state:
            raise ValueError(
                f"{cls.__name__}.from_state takes the dict that get_state() returns. Received: "
                f"{type(state).__name__}."
            )
        metric = cls.from_config(dict(state["config"]))  # type: ignore[attr-defined]
        metric.set_state(state)
        return metric  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        # Keras pickles a metric through its model-file format, which drops the state.
        return (_restore, (type(self), self.get_state()))

    # --- hooks ---------------------------------------------------------------------------------
    def _export_arrays(self) -> dict[str, np.ndarray]:
        """The state's arrays by name (default: every variable, read on the host)."""
        out: dict[str, np.ndarray] = {}
        for v in self.variables:
            if v.name in out:
                raise ValueError(f"{type(self).__name__} has two variables named {v.name!r}.")
            out[v.name] = _host.to_numpy(v.value)
        return out

    def _import_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Assign exported arrays (names and shapes already checked against `_export_arrays`)."""
        for v in self.variables:
            v.assign(arrays[v.name].astype(_host.to_numpy(v.value).dtype))

    def _merge_exports(self, exports: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The export of the merge of several exported states, in order (as `merge_state` of
        metrics holding them; subclasses may merge the arrays directly)."""
        config = self.get_config()
        metrics = []
        for arrays in exports:
            metric = type(self).from_config(dict(config))  # type: ignore[attr-defined]
            metric._import_arrays(arrays)
            metrics.append(metric)
        metrics[0].merge_state(metrics[1:])
        return metrics[0]._export_arrays()  # type: ignore[no-any-return]

    def _fixed_export(self) -> bool:
        """Whether `_export_arrays` has the same shapes whatever the data (states of sums):
        such states combine across processes in one collective call."""
        return False

    def _expected_shapes(self) -> dict[str, tuple[int, ...] | None]:
        """Names and shapes `set_state` accepts (None: any length along the first axis)."""
        return {k: np.shape(v) for k, v in self._export_arrays().items()}

    # --- helpers -------------------------------------------------------------------------------
    def _check_state(self, state: Any) -> None:
        name = type(self).__name__
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            got = state.get("format") if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(
                f"{name}.set_state takes the dict that get_state() returns (format "
                f"{STATE_FORMAT!r}). Received: {got!r}."
            )
        if state.get("class") != name:
            raise ValueError(
                f"This state was exported from a {state.get('class')}, not a {name}: build the "
                f"metric with {state.get('class')}.from_state(state)."
            )
        mine, theirs = self.get_config(), dict(state.get("config") or {})
        differ = sorted(
            k for k in {*mine, *theirs} if k not in _FREE and mine.get(k) != theirs.get(k)
        )
        if differ:
            diff = "; ".join(
                f"{k}: {mine.get(k)!r} here, {theirs.get(k)!r} in the state" for k in differ
            )
            raise ValueError(
                f"The state comes from a {name} with other settings ({diff}). Build the metric "
                f"with {name}.from_state(state)."
            )
        expected = self._expected_shapes()
        arrays = state.get("arrays")
        if not isinstance(arrays, Mapping) or set(arrays) != set(expected):
            got = sorted(arrays) if isinstance(arrays, Mapping) else type(arrays).__name__
            raise ValueError(f"{name} keeps the arrays {sorted(expected)}; the state holds {got}.")
        for key, shape in expected.items():
            have = np.shape(arrays[key])
            if shape is not None and have != shape:
                raise ValueError(
                    f"{name}'s array {key!r} has shape {shape}; the state's has shape {have}."
                )


def _restore(cls: type[Portable], state: dict[str, Any]) -> Portable:
    """Unpickling: the class and its exported state."""
    return cls.from_state(state)
