"""`FBetaAtBestThreshold`: the best F-beta over every decision threshold, and the threshold.

The number a binary or multilabel model ships with is its threshold. This metric finds the
F-beta-optimal one (per class for multilabel and one-vs-rest multiclass) over the whole epoch,
on the ranking state of `AUROC` (binned, or exact with a buffer), and logs it beside the value:
`<name>` and `<name>_threshold` (per class `<name>_<class>` / `<name>_threshold_<class>`). The
math is `functional.best_threshold`'s.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from epochmetrics._docs import (
    BODY,
    METRIC_ARGS,
    RANKING_ARGS,
    RANKING_INPUTS,
    RANKING_RAISES,
    docstring,
)
from epochmetrics._types import PerStep, RankingAverage, Task
from epochmetrics.functional import best_threshold as bt
from epochmetrics.functional import ranking, ranking_kernel
from epochmetrics.metrics._ranking_shell import RankingMetric, shell_arguments

__all__ = ["FBetaAtBestThreshold"]

_register = keras.saving.register_keras_serializable(package="epochmetrics")

_ARGS = {
    "beta": "The weight of recall against precision (1: F1, the default).",
    "average": '"macro" (mean of the per-class optima, each at its own threshold), '
    '"weighted" (by positive support), "micro" (all class/sample pairs pooled: one problem, '
    "one threshold) or None (one key per class). Ignored for binary.",
    "from_logits": "Whether `y_pred` holds logits rather than probabilities.",
    "name": 'Base name of the log keys (default "f1_best"; "fbeta_best" when beta != 1).',
}

_RETURNS = """\
`result()` gives a dict of scalars: binary and micro `{"f1_best": value,
"f1_best_threshold": t}`; macro and weighted `f1_best` and each class's own threshold
`f1_best_threshold_<class>`; `average=None` `f1_best_<class>` and
`f1_best_threshold_<class>`. `evaluate_arrays(y_true, y_pred, sample_weight=None)`
gives the exact values with the same keys, as floats."""


@_register
@docstring(
    _ARGS,
    RANKING_ARGS,
    METRIC_ARGS,
    body=BODY,
    inputs=RANKING_INPUTS,
    returns=_RETURNS,
    raises=RANKING_RAISES,
)
class FBetaAtBestThreshold(RankingMetric):
    """The highest F-beta over every decision threshold, and that threshold, over the epoch.

    F_beta = (1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP), predicting positive when score >= t,
    maximised over t: every distinct score (exact) or every bin start (binned); ties go to the
    highest threshold. A class without positives gives NaN (value and threshold). Multiclass
    is one-vs-rest on the class probabilities, multilabel one problem per label: each class
    gets its own threshold. Thresholds are in the units of `y_pred`: probabilities, or logits
    for binary and multilabel with `from_logits=True` (multiclass: softmax probabilities).

    **Binned mode** (default): the ranking state of `AUROC` (see there for the bins and the
    memory: 313 KB per class). Each bin starts at the smallest float32 score in it, so the
    binned value is achieved on the data at the threshold reported, and no threshold inside a
    bin can beat F_beta with the bin's positives and none of its negatives: binned <= exact
    <= binned + `error_bound()` (0 when every distinct score has its own bin).

    **Exact mode** (`exact=True, capacity=N`): the stored scores, as `AUROC(exact=True)`; the
    optimum over every distinct score, equal to the maximum of F-beta over scikit-learn's
    `precision_recall_curve` points. On whole arrays (`evaluate_arrays`, the `EpochEvaluator`)
    it is always exact.

    To deploy the thresholds of the best epoch, save them next to the model when it is saved:
    see the README ("The threshold to deploy") for the one-line callback.

    $body

    Examples:
        >>> import epochmetrics as em
        >>> m = em.FBetaAtBestThreshold("binary", exact=True, capacity=100)
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'f1_best': 0.8, 'f1_best_threshold': 0.35}
        >>> m = em.FBetaAtBestThreshold("multilabel", num_classes=2)  # macro, binned
        >>> m.update_state([[0, 1], [1, 1], [1, 0]], [[0.2, 0.9], [0.7, 0.6], [0.8, 0.3]])
        >>> {k: round(float(v), 2) for k, v in m.result().items()}  # each label's bin start
        {'f1_best': 1.0, 'f1_best_threshold_0': 0.7, 'f1_best_threshold_1': 0.6}
    """

    def __init__(
        self,
        task: Task,
        *,
        beta: float = 1.0,
        num_classes: int | None = None,
        average: RankingAverage = "macro",
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        exact: bool = False,
        capacity: int | None = None,
        bins_per_octave: int = 64,
        per_step: PerStep = "averages",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        kernel = ranking_kernel.best_fbeta(beta)
        self._default_name = "f1_best" if dict(kernel.config)["beta"] == 1.0 else "fbeta_best"
        super().__init__(task, kernel, **shell_arguments(locals()))

    # --- other data at the thresholds chosen on this data -----------------------------------
    def threshold_keys(self, keys: Any = None) -> tuple[str, ...]:
        """The keys of the thresholds among the result's keys (`_result_keys` order)."""
        keys = self._log_keys(None) if keys is None else keys
        stem = self.name + "_threshold"
        return tuple(k for k in keys if k == stem or k.startswith(stem + "_"))

    def evaluate_at_thresholds(
        self, y_true: Any, y_pred: Any, thresholds: Any, sample_weight: Any = None
    ) -> Any:
        """F-beta on whole arrays at given thresholds (those a result of this metric chose on
        other data: its threshold values, in key order), with the result's value keys.

        For data that must not choose its own threshold, such as a test set: the
        `EpochEvaluator` calls it with the thresholds of the same epoch's validation data
        (`apply_to=`).
        """
        cols = ranking.prepare(self._spec, y_true, y_pred, sample_weight, probabilities=True)
        values = np.reshape(bt.fbeta_at_thresholds(self.beta, cols, self.average, thresholds), -1)
        keys = self._log_keys(None) or ()
        names = [k for k in keys if k not in self.threshold_keys(keys)]
        return dict(zip(names, values.tolist(), strict=True))
