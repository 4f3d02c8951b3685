"""`SpearmanCorrCoef` and `KendallTau`: rank correlations of the whole epoch, on the host.

A rank statistic has no mergeable sums: these metrics keep the epoch's arrays (as `DetectionMAP`
keeps its records) and compute exactly on the host (`functional.rank_correlation`).
`EpochEvaluator` calls `evaluate_arrays` on the arrays it gathers; inside
`model.compile(metrics=...)` they raise an error that points there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from epochmetrics._backend import ops as _backend
from epochmetrics._backend.host import to_numpy
from epochmetrics._docs import METRIC_ARGS, docstring
from epochmetrics._types import Multioutput, TauVariant
from epochmetrics.functional import rank_correlation as rc
from epochmetrics.functional._args import check_multioutput, check_output_names, check_tau_variant
from epochmetrics.functional._regression_format import regression_inputs
from epochmetrics.metrics import _combine
from epochmetrics.metrics._keras_calls import called_by_compiled_metrics
from epochmetrics.metrics._portable import Portable
from epochmetrics.metrics._public import own_init

__all__ = ["KendallTau", "SpearmanCorrCoef"]

_HOST_ONLY = (
    "{cls} is a host metric: a rank correlation needs the whole epoch's arrays (ranks have no "
    "sums to merge batch by batch), so it cannot run inside a Keras train/test step. Remove it "
    "from `model.compile(metrics=...)` and give it to the evaluator instead: "
    "`epochmetrics.EpochEvaluator(val_data, [{cls}()])`, a callback that logs '{key}' for "
    "EarlyStopping, ReduceLROnPlateau, ModelCheckpoint and CSVLogger. (PearsonCorrCoef runs in "
    "`compile`.)"
)

# The arguments of both rank metrics (`name` as the other metrics').
ARGS = {
    "num_outputs": "Number of outputs D: the last axis of `(n, D)` or dense `(n, ..., D)` "
    "inputs. With 1 (default), `(n,)`, `(n, 1)` and dense `(n, ...)`.",
    "multioutput": '"uniform_average" (default), "raw_values" (one key per output, '
    '`<name>_<output>`), "variance_weighted" (weights: the variance of y_true per output), or '
    "D non-negative weights. One output gives one value.",
    "ignore_value": 'A target value whose elements are left out; `float("nan")` skips NaN targets.',
    "output_names": "Names of the outputs in per-output keys instead of indices.",
    "variant": '"b" (tau-b) or "c" (tau-c).',
    "dtype": "Keras dtype policy of the metric (unused: the arrays are kept as float64).",
}


class _RankMetric(Portable, keras.metrics.Metric):
    """The shell: the epoch's arrays on the host, `evaluate_arrays` for the evaluator. Its
    state travels as those arrays (`get_state`, pickle) and combines across processes by
    appending them in process order (`all_reduce_metrics`, global reads under torch)."""

    _direction = "up"
    _default_name = ""

    def __init__(
        self,
        *,
        num_outputs: int = 1,
        multioutput: Multioutput = "uniform_average",
        ignore_value: float | None = None,
        output_names: Sequence[str] | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name or self._default_name, dtype=dtype)
        self._inputs = regression_inputs(num_outputs, ignore_value)
        self.multioutput: Any = check_multioutput(multioutput, self.num_outputs, variance=True)
        self.output_names = check_output_names(output_names, self.num_outputs)
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def num_outputs(self) -> int:
        return self._inputs.num_outputs

    @property
    def ignore_value(self) -> float | None:
        return self._inputs.ignore

    def _value(self, y_true: Any, y_pred: Any) -> Any:
        raise NotImplementedError

    def _settings(self) -> tuple[Any, ...]:
        return (self._inputs, self.multioutput, self.output_names, getattr(self, "variant", None))

    def _key(self) -> str:
        return f"val_{self.name}"

    # --- Keras metric API ------------------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Keep one batch (host arrays; inputs as `evaluate_arrays`)."""
        leaves = (y_true, y_pred)
        if called_by_compiled_metrics() or not all(_backend.is_concrete(x) for x in leaves):
            raise ValueError(_HOST_ONLY.format(cls=type(self).__name__, key=self._key()))
        t, p = to_numpy(y_true), to_numpy(y_pred)
        rc.rank_columns(self._inputs, t, p, sample_weight, what=type(self).__name__)  # checks
        self._parts.append((np.asarray(t, np.float64), np.asarray(p, np.float64)))

    def result(self) -> Any:
        """The value over every batch kept so far (NaN, with a warning, where undefined).

        Under a torch.distributed group of several processes, over the batches of every
        process (see `epochmetrics.distributed.sync_on_read`)."""
        processes = _combine.reader(self)
        if processes is not None:
            with _combine.global_reads([self], processes):
                return self.result()
        return self._keyed(self._value(*self._arrays()))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every batch kept so far, concatenated: `(y_true, y_pred)` as float64."""
        if not self._parts:
            empty = np.zeros((0, self.num_outputs) if self.num_outputs > 1 else 0)
            return empty, empty
        shape = self._parts[0][0].shape[1:]
        t = np.concatenate([a.reshape(len(a), *shape) for a, _ in self._parts])
        p = np.concatenate([b.reshape(len(b), *shape) for _, b in self._parts])
        return t, p

    def reset_state(self) -> None:
        self._parts = []

    def merge_state(self, other: Any) -> None:
        """Append the batches of `other` (a metric of the same class and settings, or a list)."""
        others = [other] if isinstance(other, _RankMetric) else list(other)
        for o in others:
            if type(o) is not type(self) or o._settings() != self._settings():
                raise ValueError(
                    f"merge_state needs a {type(self).__name__} with the same settings "
                    f"({self._settings()}). Received {o!r}."
                )
        for o in others:
            self._parts.extend(o._parts)

    # --- state export (see `_portable`): the arrays kept so far -----------------------------
    def _export_arrays(self) -> dict[str, np.ndarray]:
        t, p = self._arrays()
        return {"y_true": t, "y_pred": p}

    def _import_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        t, p = (np.asarray(arrays[k], np.float64) for k in ("y_true", "y_pred"))
        self._parts = [(t, p)] if len(t) else []

    def _expected_shapes(self) -> dict[str, tuple[int, ...] | None]:
        return {"y_true": None, "y_pred": None}

    def evaluate_arrays(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The exact value on whole arrays, with the keys `result()` would have.

        Used by `EpochEvaluator`, which gathers the epoch's predictions and calls this.

        Args:
            y_true: The epoch's targets, `(n,)`, `(n, D)` or dense.
            y_pred: The epoch's predictions, the same shape.
            sample_weight: Must be None: rank correlations have no weighted form.

        Returns:
            A float, or with `multioutput="raw_values"` and D > 1 a dict `<name>_<output>`.

        Raises:
            ValueError: on invalid shapes or values, or sample weights.
        """
        if sample_weight is not None:
            rc.rank_columns(self._inputs, y_true, y_pred, sample_weight, what=type(self).__name__)
        return self._keyed(self._value(to_numpy(y_true), to_numpy(y_pred)))

    def _keyed(self, value: Any) -> Any:
        if np.ndim(value) == 0:
            return float(value)
        labels = self.output_names or tuple(str(i) for i in range(len(value)))
        return {f"{self.name}_{label}": float(v) for label, v in zip(labels, value, strict=True)}

    def get_config(self) -> dict[str, Any]:
        m = self.multioutput
        return {
            "num_outputs": self.num_outputs,
            "multioutput": m if isinstance(m, str) else list(m),
            "ignore_value": self.ignore_value,
            "output_names": None if self.output_names is None else list(self.output_names),
            "name": self.name,
            "dtype": self.dtype_policy.name if hasattr(self, "dtype_policy") else self.dtype,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        return cls(**config)

    def __repr__(self) -> str:
        # Keras quotes the metrics in its own compile errors: point to the evaluator there too.
        return f"<{type(self).__name__} name={self.name} (a host metric: use it in EpochEvaluator)>"


@keras.saving.register_keras_serializable(package="epochmetrics")
@docstring(ARGS, METRIC_ARGS)
@own_init
class SpearmanCorrCoef(_RankMetric):
    """Spearman's rank correlation of the whole epoch, as `scipy.stats.spearmanr`.

    The Pearson correlation of the average ranks of targets and predictions (ties share the
    mean of their ranks), per output. A host metric for `EpochEvaluator` (`evaluate_arrays` on
    the epoch's arrays); `update_state` on its own keeps the batches and `result()` computes
    on all of them; inside `model.compile(metrics=...)` it raises an error that says so. NaN,
    with an `UndefinedMetricWarning`, for a constant input or fewer than two samples. No
    sample weights (scipy's has none). Higher is better.

    Args:
        $args

    Examples:
        >>> import epochmetrics as em
        >>> m = em.SpearmanCorrCoef()
        >>> m.update_state([1.0, 2.0, 3.0], [5.0, 6.0, 7.0])
        >>> m.update_state([4.0, 5.0], [8.0, 7.0])
        >>> round(m.result(), 4)
        0.8208

        At every epoch end, driving the usual callbacks::

            ev = em.EpochEvaluator((x_val, y_val), [em.SpearmanCorrCoef()])
            model.fit(x, y, epochs=50, callbacks=[ev, keras.callbacks.EarlyStopping(
                monitor="val_spearman", patience=5)])
    """

    _default_name = "spearman"

    def _value(self, y_true: Any, y_pred: Any) -> Any:
        return rc.spearman_corrcoef(
            y_true,
            y_pred,
            num_outputs=self.num_outputs,
            multioutput=self.multioutput,
            ignore_value=self.ignore_value,
        )


@keras.saving.register_keras_serializable(package="epochmetrics")
@docstring(ARGS, METRIC_ARGS)
class KendallTau(_RankMetric):
    """Kendall's tau of the whole epoch, as `scipy.stats.kendalltau` (tau-b by default).

    Concordant minus discordant pairs of (target, prediction), per output; tau-b adjusts for
    ties in either, tau-c (`variant="c"`) is Stuart's. A host metric for `EpochEvaluator`, as
    `SpearmanCorrCoef`: `evaluate_arrays` on the epoch's arrays, an error inside
    `model.compile(metrics=...)`. O(n log^2 n) in NumPy. NaN, with an
    `UndefinedMetricWarning`, for a constant input or fewer than two samples. Higher is better.

    Args:
        $args

    Examples:
        >>> import epochmetrics as em
        >>> m = em.KendallTau()
        >>> round(m.evaluate_arrays([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]), 4)
        -0.4714
    """

    _default_name = "kendall_tau"

    def __init__(
        self,
        *,
        variant: TauVariant = "b",
        num_outputs: int = 1,
        multioutput: Multioutput = "uniform_average",
        ignore_value: float | None = None,
        output_names: Sequence[str] | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        self.variant = check_tau_variant(variant)
        super().__init__(
            num_outputs=num_outputs,
            multioutput=multioutput,
            ignore_value=ignore_value,
            output_names=output_names,
            name=name,
            dtype=dtype,
        )

    def _value(self, y_true: Any, y_pred: Any) -> Any:
        return rc.kendall_tau(
            y_true,
            y_pred,
            variant=self.variant,
            num_outputs=self.num_outputs,
            multioutput=self.multioutput,
            ignore_value=self.ignore_value,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "variant": self.variant}
