"""Option checkers: validated once, with one kind of message. Plain Python, no Keras.

The same kind of mistake gets the same kind of message everywhere: "`name` must be ...
Received: name=value." Integers may be Python or NumPy integers, floats Python or NumPy
floats; booleans are never numbers. The names of the allowed values are in
`epochmetrics._types`.

- Small checkers: `check_int`, `check_float`, `check_bool`, `check_choice`, `check_entries`,
  `check_str`, `check_output`, `check_rate`, `check_path`.
- Options several classes share: `check_per_step`, `check_direction`,
  `check_num_thresholds`, `check_bins_per_octave`; the regression metrics'
  `check_multioutput`, `check_ignore_value`, `check_output_names`, `check_tau_variant`.

Import them from `functional._args`, the one import path of options and messages.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from epochmetrics._types import Direction, PerStep, TauVariant

__all__ = [
    "MULTIOUTPUT",
    "check_bins_per_octave",
    "check_bool",
    "check_choice",
    "check_direction",
    "check_entries",
    "check_float",
    "check_ignore_value",
    "check_int",
    "check_multioutput",
    "check_num_thresholds",
    "check_output",
    "check_output_names",
    "check_path",
    "check_per_step",
    "check_rate",
    "check_str",
    "check_tau_variant",
    "is_int",
]


# --- small checkers ----------------------------------------------------------------------------
def is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    none: bool = False,
    what: str | None = None,
    lead: str | None = None,
    received: str | None = None,
) -> Any:
    """`value` as an int in [minimum, maximum] (or None when `none`), else a ValueError:
    "`name` must be <what>. Received: name=value." (`lead` replaces "`name` must be",
    `received` replaces "name=value")."""
    if value is None and none:
        return None
    ok = is_int(value) and (minimum is None or value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        if what is None:
            what = "a positive integer" if minimum == 1 and maximum is None else "an integer"
            if (minimum is not None and minimum != 1) or maximum is not None:
                what += f" {_interval(minimum, maximum)}"
        lead = f"`{name}` must be" if lead is None else lead
        shown = f"{name}={value!r}" if received is None else received
        raise ValueError(f"{lead} {what}{' or None' if none else ''}. Received: {shown}.")
    return int(value)


def _interval(minimum: int | None, maximum: int | None) -> str:
    if maximum is None:
        return f">= {minimum}"
    if minimum is None:
        return f"<= {maximum}"
    return f"from {minimum} to {maximum}"


def check_float(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    open_interval: bool = False,
    open_low: bool = False,
    nan: bool = False,
    what: str | None = None,
) -> float:
    """`value` as a float in [low, high] (or (low, high) when `open_interval`, (low, high]
    when `open_low`; NaN too when `nan`)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if ok:
        v = float(value)
        above = low < v if open_interval or open_low else low <= v
        below = v < high if open_interval else v <= high
        ok = (nan and math.isnan(v)) or (above and below)
    if not ok:
        if what is None:
            left = "(" if open_interval or open_low else "["
            right = ")" if open_interval else "]"
            what = f"a number in {left}{low:g}, {high:g}{right}"
        raise ValueError(f"`{name}` must be {what}. Received: {name}={value!r}.")
    return float(value)


def check_bool(name: str, value: Any, *, none: bool = False) -> Any:
    """`value` as a bool (or None when `none`), else a ValueError."""
    if value is None and none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        allowed = "True, False or None" if none else "True or False"
        raise ValueError(f"`{name}` must be {allowed}. Received: {name}={value!r}.")
    return bool(value)


def check_choice(
    name: str, value: Any, choices: Sequence[Any], where: str = "", what: str | None = None
) -> Any:
    """`value` if it is one of `choices`, else a ValueError listing them (or saying `what`)."""
    if value not in choices:
        if what is None:
            listed = [repr(c) for c in choices]
            what = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + f" or {listed[-1]}"
        raise ValueError(f"`{name}` must be {what}{where}. Received: {name}={value!r}.")
    return value


def check_entries(name: str, values: Sequence[Any], choices: Sequence[Any]) -> tuple[Any, ...]:
    """Each of `values` one of `choices` (a list option, e.g. the averages of a report)."""
    many = len(choices) > 3
    allowed = (
        f"among {[*choices]}"
        if many
        else ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
    )
    for value in values:
        if value not in choices:
            raise ValueError(f"`{name}` entries must be {allowed}. Received: {value!r}.")
    return tuple(values)


def check_str(name: str, value: Any, what: str = "a string") -> str:
    """A string, else a TypeError (a name or a prefix: no other type could be meant)."""
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be {what}. Received: {name}={value!r}.")
    return value


def check_output(output: Any) -> int | str | None:
    """A model output, by name or index (None: the only one), else a TypeError."""
    if output is None or isinstance(output, str):
        return output
    if not is_int(output):
        raise TypeError(
            f"`output` must be an output name, an index or None. Received: output={output!r}."
        )
    return int(output)


def check_rate(name: str, value: Any, *, open_low: bool = False) -> float:
    """A rate (recall, precision, ...) in [0, 1], or (0, 1] with `open_low`."""
    interval = "(0, 1]" if open_low else "[0, 1]"
    what = f"a number in {interval}"
    return check_float(name, value, low=0.0, high=1.0, open_low=open_low, what=what)


def check_per_step(per_step: Any) -> PerStep:
    """Which keys a train or test step returns (see `metrics/_docs.py`)."""
    return check_choice("per_step", per_step, ("all", "averages", "none"))  # type: ignore[no-any-return]


_DIRECTIONS = {"up": "up", "max": "up", "down": "down", "min": "down"}


def check_direction(value: Any, where: str) -> Direction:
    """ "up" or "down" ("max" and "min" as Keras' modes say it); `where` names the option."""
    if not isinstance(value, str) or value not in _DIRECTIONS:
        raise ValueError(f"{where} must be 'up' or 'down' (or 'max'/'min'). Received: {value!r}.")
    return _DIRECTIONS[value]  # type: ignore[return-value]


def check_num_thresholds(value: Any) -> int:
    """How many uniform thresholds a curve has (TensorBoard's PR curves: 101)."""
    return int(check_int("num_thresholds", value, minimum=2, maximum=10_000))


def check_path(name: str, value: Any) -> Any:
    """A file system path (str or os.PathLike), else a TypeError."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a path. Received: {name}={value!r}.")
    return value


def check_bins_per_octave(bins_per_octave: Any) -> int:
    """The ranking metrics' binned resolution: a power of two from 1 to 1024."""
    what = "a power of two from 1 to 1024"
    value = check_int("bins_per_octave", bins_per_octave, minimum=1, maximum=1024, what=what)
    if value & (value - 1):
        raise ValueError(f"`bins_per_octave` must be {what}. Received: bins_per_octave={value!r}.")
    return int(value)


# --- the regression metrics' options --------------------------------------------------------------
MULTIOUTPUT = ("raw_values", "uniform_average", "variance_weighted")


def check_multioutput(
    multioutput: Any, num_outputs: int, *, variance: bool
) -> str | tuple[float, ...]:
    """scikit-learn's `multioutput`: a string, or `num_outputs` finite non-negative weights
    (not all 0), as a tuple. `variance`: whether "variance_weighted" is allowed (R^2,
    explained variance, the correlations; scikit-learn's error metrics have no such
    average)."""
    choices = MULTIOUTPUT if variance else MULTIOUTPUT[:2]
    if isinstance(multioutput, str) or multioutput is None:
        where = "" if variance else " (an error metric has no 'variance_weighted')"
        return str(
            check_choice("multioutput", multioutput, (*choices, "an array of weights"), where)
        )
    try:
        weights = np.asarray(multioutput, dtype=np.float64)
    except (TypeError, ValueError):
        weights = np.asarray([np.nan])
    ok = weights.shape == (num_outputs,) and bool(np.all(np.isfinite(weights)))
    ok = ok and bool(np.all(weights >= 0)) and float(weights.sum()) > 0
    if not ok:
        raise ValueError(
            f"`multioutput` must be one of {', '.join(map(repr, choices))} or {num_outputs} "
            f"non-negative weights, one per output (num_outputs={num_outputs}), not all 0. "
            f"Received: multioutput={multioutput!r}."
        )
    return tuple(float(v) for v in weights)


def check_ignore_value(value: Any) -> tuple[float | None, bool]:
    """`ignore_value` (a target value to skip) -> `(finite value or None, ignores NaN)`."""
    if value is None:
        return None, False
    v = check_float("ignore_value", value, nan=True, what="a number (NaN included) or None")
    if math.isnan(v):
        return None, True
    if math.isinf(v):
        raise ValueError(
            f"`ignore_value` must be finite or NaN (infinite targets are invalid input, never a "
            f"mask). Received: ignore_value={value!r}."
        )
    return v, False


def check_output_names(names: Any, num_outputs: int) -> tuple[str, ...] | None:
    """Names of a regression metric's outputs in its per-output keys, one each, distinct."""
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ValueError(
            f"`output_names` must be a list of strings. Received: output_names={names!r}."
        )
    out = tuple(str(n) for n in names)
    if len(out) != num_outputs or len(set(out)) != len(out):
        raise ValueError(
            f"`output_names` must be {num_outputs} distinct names, one per output "
            f"(num_outputs={num_outputs}). Received: {list(out)!r}."
        )
    return out


def check_tau_variant(variant: Any) -> TauVariant:
    return check_choice("variant", variant, ("b", "c"), " (tau-b or Stuart's tau-c)")  # type: ignore[no-any-return]
