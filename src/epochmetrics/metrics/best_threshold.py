"""`FBetaAtBestThreshold`: the best F-beta over every decision threshold, and the threshold.

The number a binary or multilabel model ships with is its threshold. This metric finds the
F-beta-optimal one (per class for multilabel and one-vs-rest multiclass) over the whole epoch,
on the ranking state of `AUROC` (binned, or exact with a buffer), and logs it beside the value:
`<name>` and `<name>_threshold` (per class `<name>_<class>` / `<name>_threshold_<class>`). The
math is `functional.best_threshold`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from epochmetrics._types import PerStep, RankingAverage, Task
from epochmetrics.functional import best_threshold as bt
from epochmetrics.functional import ranking, ranking_graph
from epochmetrics.metrics._public import PER_STEP_ARG
from epochmetrics.metrics._ranking_shell import INPUTS, RankingMetric
from epochmetrics.metrics._ranking_state import Groups

__all__ = ["FBetaAtBestThreshold"]

_register = keras.saving.register_keras_serializable(package="epochmetrics")


@_register
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

    """

    _thresholds = True

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
        self.beta = bt.check_beta(beta)
        self._default_name = "f1_best" if self.beta == 1.0 else "fbeta_best"
        super().__init__(
            task,
            num_classes=num_classes,
            average=average,
            from_logits=from_logits,
            ignore_index=ignore_index,
            class_names=class_names,
            exact=exact,
            capacity=capacity,
            bins_per_octave=bins_per_octave,
            per_step=per_step,
            name=name,
            dtype=dtype,
        )
        if not self.exact:
            self._binned.thresholds  # noqa: B018 (computed eagerly here, cached for steps)

    # --- keys: the value(s), then each problem's threshold ----------------------------------
    def _result_keys(self) -> tuple[str, ...] | None:
        stem = self._key_stem()
        if self._single():
            return (stem, f"{stem}_threshold")
        thresholds = self._per_class_keys(f"{stem}_threshold")
        if self.average is None:
            return (*self._per_class_keys(stem), *thresholds)
        return (stem, *thresholds)

    def _averaged_keys(self) -> tuple[str, ...]:
        keys = self._keys_now() or ()
        if self._single():
            return keys
        return () if self.average is None else keys[:1]

    # --- values ------------------------------------------------------------------------------
    def _from_groups(self, xp: Any, groups: Groups) -> Any:
        values, thresholds = bt.best_fbeta_from_counts(
            xp, groups.pos, groups.neg, groups.thresholds, self.beta
        )
        if self._single():
            return xp.concatenate([values, thresholds])
        if self.average is not None:
            values = ranking_graph.average_values(xp, values, groups.support, self.average)
        return xp.concatenate([xp.reshape(values, (-1,)), thresholds])

    def _bounds(self, xp: Any, pos: Any, neg: Any) -> Any:
        return bt.best_fbeta_error_bound(xp, pos, neg, self.beta)

    def _host_fn(self) -> Callable[..., Any]:
        return functools.partial(bt.fbeta_at_best_threshold, beta=self.beta)

    def _of_columns(self, cols: ranking.Columns) -> Any:
        return bt.best_fbeta_columns(self.beta, cols, self.average)

    def _from_host(self, result: Any) -> np.ndarray:
        value, threshold = result
        return np.concatenate([np.reshape(value, -1), np.reshape(threshold, -1)]).astype(np.float64)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta}

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


FBetaAtBestThreshold.__doc__ = (
    (FBetaAtBestThreshold.__doc__ or "").rstrip()
    + "\n\n    "
    + INPUTS
    + """

    Args:
        task: "binary", "multiclass" or "multilabel". Required: never guessed from shapes.
        beta: The weight of recall against precision (1: F1, the default).
        num_classes: Number of classes (multiclass) or labels (multilabel). Unused for binary.
        average: "macro" (mean of the per-class optima, each at its own threshold),
            "weighted" (by positive support), "micro" (all class/sample pairs pooled: one
            problem, one threshold) or None (one key per class). Ignored for binary.
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        ignore_index: Label value whose samples (multilabel: elements) are skipped.
        class_names: Names used in per-class log keys instead of class indices.
        exact: Keep the scores in a buffer and compute the exact value (needs `capacity`).
        capacity: Buffer size in samples for `exact=True`: at least the samples per epoch.
        bins_per_octave: Binned-mode resolution, a power of two from 1 to 1024.
        """
    + PER_STEP_ARG
    + """
        name: Base name of the log keys (default "f1_best"; "fbeta_best" when beta != 1).
        dtype: Keras dtype policy of the metric (the state is always float32).

    Returns:
        `result()` gives a dict of scalars: binary and micro `{"f1_best": value,
        "f1_best_threshold": t}`; macro and weighted `f1_best` and each class's own threshold
        `f1_best_threshold_<class>`; `average=None` `f1_best_<class>` and
        `f1_best_threshold_<class>`. `evaluate_arrays(y_true, y_pred, sample_weight=None)`
        gives the exact values with the same keys, as floats.

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label and score values.

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
)
