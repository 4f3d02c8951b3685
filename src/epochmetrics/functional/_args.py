"""Options and messages: validated once, named in one place. Plain Python, no Keras.

Every option of every public class and function (metrics, functional API, callbacks) is
checked by the same functions, so that the same kind of mistake gets the same kind of message
everywhere: "`name` must be ... Received: name=value." This module is their one import path;
they live in three modules of one concept each:

- `_checks.py`: the small checkers (`check_int`, `check_float`, `check_bool`,
  `check_choice`, `check_str`, `check_rate`, `check_path`, ...) and the options several
  classes share (`check_per_step`, `check_direction`, `check_bins_per_octave`,
  `check_num_thresholds`; the regression metrics' `check_multioutput`, `check_ignore_value`,
  `check_output_names`, `check_tau_variant`).
- `_task.py`: `TaskSpec` / `make_spec`, the task arguments every metric shares, and the
  options that depend on the task (`check_average`, `check_zero_division`,
  `check_class_names`, `class_labels`).
- `_input_errors.py`: the messages for bad inputs, shared by the in-graph formatter
  (`_format`) and the host validator (`functional.ranking.prepare`), and
  `UndefinedMetricWarning`.
"""

from __future__ import annotations

from epochmetrics.functional._checks import (
    check_bins_per_octave,
    check_bool,
    check_choice,
    check_direction,
    check_entries,
    check_float,
    check_ignore_value,
    check_int,
    check_multioutput,
    check_num_thresholds,
    check_output,
    check_output_names,
    check_path,
    check_per_step,
    check_rate,
    check_str,
    check_tau_variant,
    is_int,
)
from epochmetrics.functional._input_errors import (
    INVALID_KINDS,
    ONE_HOT_RULE,
    SCORES,
    UndefinedMetricWarning,
    ambiguous_form_error,
    bad_one_hot_error,
    bad_scores_error,
    bad_values_error,
    bad_weights_error,
    nan_rows_error,
    shape_error,
)
from epochmetrics.functional._task import (
    TaskSpec,
    check_average,
    check_class_names,
    check_zero_division,
    class_labels,
    default_average,
    make_spec,
)

__all__ = [
    "INVALID_KINDS",
    "ONE_HOT_RULE",
    "SCORES",
    "TaskSpec",
    "UndefinedMetricWarning",
    "ambiguous_form_error",
    "bad_one_hot_error",
    "bad_scores_error",
    "bad_values_error",
    "bad_weights_error",
    "check_average",
    "check_bins_per_octave",
    "check_bool",
    "check_choice",
    "check_class_names",
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
    "check_zero_division",
    "class_labels",
    "default_average",
    "is_int",
    "make_spec",
    "nan_rows_error",
    "shape_error",
]
