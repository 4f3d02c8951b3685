"""The shell of the regression metrics: error sums and shifted moments, exact over the epoch.

`RegressionMetric` keeps one state per output (`functional._moments`), reads its values through
`functional.regression` and averages them as `multioutput` says. Its states are not plain sums
(the moments follow a shift): `_combine` merges them (`merge_state`, tf.distribute replicas,
`all_reduce_metrics`). A public class (`metrics.regression`) names what it keeps (`_errors`,
`_columns`, `_cross`) and the function of the state it reports (`_value`); the families here
(`ErrorMean`, `ForceFiniteMetric`, `Correlation`) say the rest once. `doc` renders their
docstrings from the shared argument tables.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import keras
import numpy as np

from epochmetrics._docs import METRIC_ARGS, docstring
from epochmetrics._types import Multioutput, PerStep
from epochmetrics.functional import regression as reg
from epochmetrics.functional._args import (
    UndefinedMetricWarning,
    check_bool,
    check_multioutput,
    check_output_names,
    check_per_step,
)
from epochmetrics.functional._layout import Layout
from epochmetrics.functional._moments import (
    RegressionSpec,
    Summary,
    combine,
    regression_layout,
    regression_update,
    summarize,
)
from epochmetrics.functional._regression_format import regression_inputs
from epochmetrics.metrics._base import SumStateMetric
from epochmetrics.metrics._public import own_init
from epochmetrics.metrics._sums import Step

__all__ = ["Correlation", "ErrorMean", "ForceFiniteMetric", "RegressionMetric", "doc"]

# The arguments of every regression metric (`per_step`, `name` and `dtype` as the others').
ARGS = {
    "num_outputs": "Number of outputs D: the last axis of `(B, D)` or dense `(B, ..., D)` "
    "inputs. With 1 (default), `(B,)`, `(B, 1)` and dense `(B, ...)`.",
    "multioutput": 'How the outputs\' values combine, as scikit-learn: "uniform_average" '
    '(default), "raw_values" (one log key per output, `<name>_<output>`), or D non-negative '
    "weights. One output gives one value whatever it is.",
    "ignore_value": "A target value whose elements are skipped (with their predictions), e.g. 0 "
    'for missing depth; `float("nan")` skips NaN targets. None: every target counts, and a NaN '
    "target is an error.",
    "output_names": "Names of the outputs in per-output keys instead of indices.",
}
# `multioutput` of the metrics that take "variance_weighted" too.
VARIANCE_ARGS = {
    "multioutput": 'How the outputs\' values combine, as scikit-learn: "uniform_average" '
    '(default), "raw_values" (one log key per output, `<name>_<output>`), "variance_weighted" '
    "(weights: the variance of y_true per output), or D non-negative weights. One output "
    "gives one value whatever it is.",
}

INPUTS = """\
Inputs to `update_state(y_true, y_pred, sample_weight=None)`: `y_true` and `y_pred` of the
same shape, `(B,)`, `(B, 1)` or `(B, D)` with `num_outputs=D` (a 2-D `(B, K)` is K outputs,
as in scikit-learn: pass `num_outputs=K`), or dense `(B, H, W)` / `(B, H, W, D)` where every
element is a sample; any float or integer dtype (float16 and bfloat16 included).
`sample_weight`: a scalar, `(B,)` per sample (scikit-learn's), `(B, H, W)` per element, or
`(B, ..., D)` per element and output. NaN or infinite values raise eagerly; inside a compiled
step they make the epoch's value NaN, with a warning."""


# Every class's example: the same four samples (scikit-learn's `r2_score` example).
EXAMPLE = """\
>>> import epochmetrics as em
>>> m = em.$name()
>>> m.update_state([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
>>> round(float(m.result()), 4)
$value"""


def doc(*tables: dict[str, str], example: str) -> Callable[[type], type]:
    """Give a public class its own `__init__` (`own_init`) and render its docstring: `$args`
    from `tables` (the class's own), then the shared tables; `$inputs`; `$example`, whose
    result is `example`."""

    def apply(cls: type) -> type:
        variance = (VARIANCE_ARGS,) if getattr(cls, "_variance", False) else ()
        shown = EXAMPLE.replace("$name", cls.__name__).replace("$value", example)
        return docstring(*tables, *variance, ARGS, METRIC_ARGS, inputs=INPUTS, example=shown)(
            own_init(cls)
        )

    return apply


class RegressionMetric(SumStateMetric):
    """The shell of every regression metric: one state per output, `multioutput` averages."""

    _additive = False
    _default_name = ""
    _kind = ""  # the undefined cases to report (see `functional.regression.undefined`)
    _errors: tuple[str, ...] = ()
    _columns: tuple[str, ...] = ()
    _cross = False
    _variance = False  # whether "variance_weighted" applies

    def __init__(
        self,
        *,
        num_outputs: int = 1,
        multioutput: Multioutput = "uniform_average",
        ignore_value: float | None = None,
        output_names: Sequence[str] | None = None,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        keras.metrics.Metric.__init__(self, name=name or self._default_name, dtype=dtype)
        inputs = regression_inputs(num_outputs, ignore_value)
        self._rspec = RegressionSpec(inputs, self._errors, self._columns, self._cross)
        self.multioutput: Any = check_multioutput(
            multioutput, inputs.num_outputs, variance=self._variance
        )
        self.output_names = check_output_names(output_names, inputs.num_outputs)
        self.per_step = check_per_step(per_step)
        self._warned_undefined = False
        self._init_state()

    @property
    def num_outputs(self) -> int:
        return self._rspec.num_outputs

    @property
    def ignore_value(self) -> float | None:
        return self._rspec.inputs.ignore

    # --- SumStateMetric hooks ----------------------------------------------------------------
    def _layout(self) -> Layout:
        return regression_layout(self._rspec)

    def _step(self) -> Step:
        return Step(regression_update, (self._rspec,), kernel="regression", reads_state=True)

    def _combine(self, totals: list[Any], xp: Any) -> Any:
        return combine(self._rspec, totals, xp)

    # A function of `functional.regression`: the state's statistics -> `(D,)` values (a
    # `staticmethod` of the public class; `ForceFiniteMetric` passes `force_finite` too).
    _value: ClassVar[Callable[..., Any]]

    def _values(self, xp: Any, s: Summary) -> Any:
        """`(D,)` per-output values."""
        return type(self)._value(xp, s)

    def _summary(self, xp: Any, state: Any) -> Summary:
        dtype = keras.backend.standardize_dtype(state.dtype)
        return summarize(xp, self._rspec, state, dtype)

    def _compute(self, state: Any, xp: Any) -> Any:
        s = self._summary(xp, state)
        values = self._values(xp, s)
        if self.num_outputs == 1:
            return values[0]
        if self.multioutput == "raw_values":
            return self._per_class(values)
        return reg.average_outputs(xp, values, self.multioutput, s)

    def _result_keys(self) -> tuple[str, ...] | None:
        if self.num_outputs > 1 and self.multioutput == "raw_values":
            return self._per_class_keys()
        return None

    def _labels(self) -> tuple[str, ...]:
        if self.output_names is not None:
            return self.output_names
        return tuple(str(i) for i in range(self.num_outputs))

    def _host_result(
        self, parts: list[tuple[Any, Any]], keep: np.ndarray | None = None, plain: bool = False
    ) -> Any:
        if not plain and not self._warned_undefined:
            from epochmetrics._backend.xp import numpy_ops

            reasons = reg.undefined(self._kind, self._summary(numpy_ops, self._host_state(parts)))
            if reasons:
                self._warned_undefined = True
                warnings.warn(
                    f"{type(self).__name__} {self.name!r} is undefined for some output(s) "
                    f"(NaN): {'; '.join(reasons)}.",
                    UndefinedMetricWarning,
                    stacklevel=3,
                )
        return super()._host_result(parts, keep, plain)

    def reset_state(self) -> None:
        super().reset_state()
        self._warned_undefined = False

    def _merge_settings(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "num_outputs": self.num_outputs,
            "ignore_value": self._rspec.inputs,
            "state layout": self._layout(),
        }

    def _invalid_true_text(self) -> str:
        # Compiled steps flag a batch whose sums are not finite (`functional._moments`).
        return (
            "batch(es) holding NaN or infinite values (y_true, y_pred or sample_weight; or "
            "values whose squares pass the float range)"
        )

    def _invalid_pred_text(self) -> str:
        return "NaN or infinite y_pred values"  # never counted apart (see above)

    def _invalid_hint(self, counts: np.ndarray) -> str:
        if self._rspec.inputs.ignore_nan:
            return ""
        return " To skip missing targets stored as NaN, pass ignore_value=float('nan')."

    def get_config(self) -> dict[str, Any]:
        m = self.multioutput
        return {
            "num_outputs": self.num_outputs,
            "multioutput": m if isinstance(m, str) else list(m),
            "ignore_value": self.ignore_value,
            "output_names": None if self.output_names is None else list(self.output_names),
            "per_step": self.per_step,
            "name": self.name,
            "dtype": self.dtype_policy.name if hasattr(self, "dtype_policy") else self.dtype,
        }


class ErrorMean(RegressionMetric):
    """MSE, RMSE, MAE, MAPE: the weighted mean of one error sum (`_errors`), its root where
    `_root`. Lower is better."""

    _direction = "down"
    _root = False

    def _values(self, xp: Any, s: Summary) -> Any:
        return reg.error_mean(xp, s, self._errors[0], root=self._root)


class ForceFiniteMetric(RegressionMetric):
    """R^2 and explained variance: `force_finite` as scikit-learn (`_value` takes it)."""

    _variance = True

    def __init__(
        self,
        *,
        num_outputs: int = 1,
        multioutput: Multioutput = "uniform_average",
        force_finite: bool = True,
        ignore_value: float | None = None,
        output_names: Sequence[str] | None = None,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        self.force_finite = check_bool("force_finite", force_finite)
        super().__init__(
            num_outputs=num_outputs,
            multioutput=multioutput,
            ignore_value=ignore_value,
            output_names=output_names,
            per_step=per_step,
            name=name,
            dtype=dtype,
        )

    def _values(self, xp: Any, s: Summary) -> Any:
        return type(self)._value(xp, s, self.force_finite)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "force_finite": self.force_finite}


class Correlation(RegressionMetric):
    """Pearson and concordance: the moments of targets and predictions and their cross sum
    (`_kind` and `_value` tell them apart). Higher is better."""

    _columns = ("y", "p")
    _cross = True
    _variance = True
