"""ConfusionMatrix and ClassificationReport."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import keras
import numpy as np

from epochmetrics._backend import host as _host
from epochmetrics._docs import COUNT_INPUTS, METRIC_ARGS, RATIO_ARGS, docstring
from epochmetrics._types import Average, Normalize, PerStep, Task
from epochmetrics.functional import reductions
from epochmetrics.functional._args import (
    check_bool,
    check_choice,
    check_entries,
    check_per_step,
    check_zero_division,
)
from epochmetrics.functional._layout import Layout
from epochmetrics.functional.stat_scores import confusion_matrix_layout, confusion_matrix_update
from epochmetrics.metrics._base import Keyed, SumStateMetric
from epochmetrics.metrics._stat_metrics import _StatScores
from epochmetrics.metrics._sums import Step

__all__ = ["ClassificationReport", "ConfusionMatrix"]

_register = keras.saving.register_keras_serializable(package="epochmetrics")

_CONFUSION = {
    "normalize": 'None (counts), "true" (rows sum to 1), "pred" (columns sum to 1) or "all".'
}
# A report is read per epoch: its running values would crowd the progress bar, and every key a
# step returns costs the step (TensorFlow: ~24 us per key, 8 averages = x1.24 of a small MLP's
# epoch against x1.06 with none; benchmarks/RESULTS.md).
_REPORT = {
    "include": "Which metrics to report. Defaults to precision, recall, f1, support, accuracy "
    "and (not multilabel) mcc.",
    "averages": 'Averages of the per-class ratios: any of "micro", "macro", "weighted". '
    'Defaults to ("macro", "weighted"), and adds "micro" for multilabel.',
    "per_class": "Whether to emit the per-class keys.",
    "per_step": 'Which keys a train or test step returns: "none" (default), "averages" '
    '(averaged and single-value keys) or "all". The epoch\'s logs (History, CSVLogger, '
    "callbacks' `on_epoch_end`, `evaluate`) always hold every key; only per-batch logs (the "
    "progress bar during an epoch, batch-level callbacks, `train_on_batch`) see fewer: read "
    "`result()` there for every key. On Keras 3.8-3.13 steps return every key (see the README's "
    "Compatibility section).",
}


@_register
@docstring(_CONFUSION, METRIC_ARGS, inputs=COUNT_INPUTS)
class ConfusionMatrix(SumStateMetric):
    """Confusion matrix over the whole epoch; rows are true classes, columns predictions.

    The state is the C x C matrix of (weighted) counts; multilabel keeps O(L) counts and returns
    `(L, 2, 2)` matrices `[[tn, fp], [fn, tp]]` per label, as scikit-learn's
    `multilabel_confusion_matrix`.

    `result()` returns the matrix as a tensor; `matrix()` returns it as a NumPy array.
    A matrix is not a scalar log value: prefer `EpochEvaluator`, which records one matrix per
    epoch in `evaluator.history`. In `model.compile(metrics=...)` Keras puts the matrix into the
    logs as an array (History keeps it, CSVLogger writes it as a nested list, and callbacks that
    only take scalars, such as TensorBoard, cannot log it).

    $inputs

    Args:
        $args

    Returns:
        A `(C, C)` tensor (binary: `(2, 2)`; multilabel: `(L, 2, 2)`).

    Raises:
        ValueError: on invalid arguments, shapes, or (eagerly) label values.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.ConfusionMatrix("multiclass", num_classes=3)
        >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 1])
        >>> m.matrix().astype(int).tolist()
        [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    """

    _cheaper = (
        "For per-class scores use the O(C) metrics (F1Score(average=None), "
        "ClassificationReport), or record the matrix of the classes you need."
    )

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        normalize: Normalize = None,
        threshold: float = 0.5,
        from_logits: bool = False,
        ignore_index: int | None = None,
        class_names: Any = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        self.normalize = check_choice("normalize", normalize, (None, "true", "pred", "all"))
        super().__init__(
            task,
            num_classes=num_classes,
            threshold=threshold,
            from_logits=from_logits,
            ignore_index=ignore_index,
            class_names=class_names,
            name=name or "confusion_matrix",
            dtype=dtype,
        )

    def _layout(self) -> Layout:
        return confusion_matrix_layout(self._spec)

    def _step(self) -> Step:
        return Step(confusion_matrix_update, (self._spec,), kernel="confusion_matrix")

    def _compute(self, state: Any, xp: Any) -> Any:
        return reductions.confusion_matrix(xp, self._spec, state, normalize=self.normalize)

    def matrix(self) -> np.ndarray:
        """The current matrix as a float64 NumPy array."""
        return _host.to_numpy(self.result()).astype(np.float64)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "normalize": self.normalize}


_RATIOS = ("precision", "recall", "f1", "specificity", "jaccard")
_PER_CLASS = (*_RATIOS, "support")
_SCALARS = {
    "accuracy": reductions.accuracy,
    "balanced_accuracy": reductions.balanced_accuracy,
    "mcc": reductions.matthews_corrcoef,
    "kappa": reductions.cohen_kappa,
}
_MULTILABEL_ONLY_NOT = ("balanced_accuracy", "mcc", "kappa")


@_register
@docstring(_REPORT, RATIO_ARGS, METRIC_ARGS, inputs=COUNT_INPUTS)
class ClassificationReport(_StatScores):
    """Several metrics and averages from one shared O(C) state, as scalar log keys.

    One update feeds every value (no per-metric passes). Keys, with `<p>` the prefix (empty for
    the default name, else `<name>_`):

    - per class: `<p><metric>_<class>` for each per-class metric in `include`
      (precision, recall, f1, specificity, jaccard, support);
    - averages: `<p><metric>_<average>` for each average in `averages`;
    - scalars: `<p>accuracy`, `<p>balanced_accuracy`, `<p>mcc`, `<p>kappa` when included.

    With Keras' `val_` prefix, `val_f1_macro` or `val_recall_cat` are valid `monitor` values.
    Every value equals the scikit-learn function of the same name on the concatenated data.

    $inputs

    Args:
        $args

    Returns:
        A dict of scalar tensors.

    Raises:
        ValueError: on unknown or unsupported `include`/`averages` entries, or invalid input.

    Examples:
        >>> import epochmetrics as em
        >>> m = em.ClassificationReport("binary", include=["f1", "accuracy"], averages=["macro"])
        >>> m.update_state([1, 1, 0, 0], [0.9, 0.4, 0.3, 0.2])
        >>> {k: round(float(v), 4) for k, v in m.result().items()}
        {'f1_0': 0.8, 'f1_1': 0.6667, 'f1_macro': 0.7333, 'accuracy': 0.75}
    """

    _default_name = "classification_report"

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        include: Sequence[str] | None = None,
        averages: Sequence[str] | None = None,
        per_class: bool = True,
        threshold: float = 0.5,
        from_logits: bool = False,
        zero_division: float = 0.0,
        ignore_index: int | None = None,
        class_names: Any = None,
        per_step: PerStep = "none",
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            task,
            num_classes=num_classes,
            threshold=threshold,
            from_logits=from_logits,
            ignore_index=ignore_index,
            class_names=class_names,
            name=name,
            dtype=dtype,
        )
        self.per_step = check_per_step(per_step)
        if include is None:
            include = ("precision", "recall", "f1", "support", "accuracy")
            include += () if task == "multilabel" else ("mcc",)
        if averages is None:
            averages = (
                ("macro", "weighted") if task != "multilabel" else ("micro", "macro", "weighted")
            )
        include, averages = tuple(include), tuple(averages)
        check_entries("include", include, (*_PER_CLASS, *_SCALARS))
        for item in include:
            if task == "multilabel" and item in _MULTILABEL_ONLY_NOT:
                raise ValueError(
                    f"{item!r} is not defined for task='multilabel'. Remove it from `include`."
                )
        check_entries("averages", averages, ("micro", "macro", "weighted"))
        clash = set(self._labels()) & {"micro", "macro", "weighted"}
        if clash:
            raise ValueError(f"`class_names` may not contain {sorted(clash)}: they name averages.")
        self.include, self.averages = include, averages
        self.per_class = check_bool("per_class", per_class)
        self.zero_division = check_zero_division(zero_division)

    def _prefix(self) -> str:
        """`<output>_` on multi-output models, then `<name>_` unless the name is the default
        (Keras' name for the metric, after its renaming of repeats, when compiled)."""
        output, name = self._keras_name or ("", self.name)
        return output + ("" if name == self._default_name else f"{name}_")

    def _items(self) -> list[tuple[str, str]]:
        """`(item, average or class label or "")` for every key, in key order."""
        labels = self._labels()
        out: list[tuple[str, str]] = []
        for item in self.include:
            if item in _PER_CLASS and self.per_class:
                out += [(item, label) for label in labels]
            if item in _RATIOS:
                out += [(item, avg) for avg in self.averages]
            elif item in _SCALARS:
                out.append((item, ""))
        return out

    def _result_keys(self) -> tuple[str, ...]:
        prefix = self._prefix()
        return tuple(
            f"{prefix}{item}_{sub}" if sub else f"{prefix}{item}" for item, sub in self._items()
        )

    def _averaged_keys(self) -> tuple[str, ...]:
        per_class = set(self._labels()) - set(self.averages)
        return tuple(
            key
            for key, (_, sub) in zip(self._result_keys(), self._items(), strict=True)
            if sub not in per_class
        )

    def _compute(self, state: Any, xp: Any) -> Keyed:
        spec, counts = self._spec, self._counts(state, xp)
        kinds = [item for item in self.include if item in _RATIOS]
        averages = [cast(Average, avg) for avg in self.averages]
        values, avgs = reductions.ratios(
            xp, spec, counts, kinds, averages, zero_division=self.zero_division
        )
        by_average = xp.stack(avgs, axis=-1) if averages and kinds else None  # (M, A)
        pieces: list[Any] = []
        for item in self.include:
            if item in _RATIOS:
                m = kinds.index(item)
                if self.per_class:
                    pieces.append(values[m])
                if by_average is not None:
                    pieces.append(by_average[m])
            elif item == "support" and self.per_class:
                pieces.append(counts.support)
            elif item in _SCALARS:
                pieces.append(_SCALARS[item](xp, spec, counts)[..., None])
        keys = self._keys_now()
        assert keys is not None
        if not pieces:
            return Keyed(xp.cast(counts.tp[..., :0], "float64"), keys)
        dtype = counts.tp.dtype
        # On the last axis: a stack of states (the bootstrap's replicates) gives a stack.
        return Keyed(xp.concatenate([xp.cast(p, dtype) for p in pieces], axis=-1), keys)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "include": list(self.include),
            "averages": list(self.averages),
            "per_class": self.per_class,
            "zero_division": self.zero_division,
            "per_step": self.per_step,
        }
