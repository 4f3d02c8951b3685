"""ROC-AUC and average precision as Keras metrics: binned (default) or exact with a buffer.

Binned mode keeps, per class, a histogram of positive and negative (weighted) mass over bins of
the score's float representation (`functional.ranking_graph.score_bins`): fixed memory, sums, so
it merges and runs under data-parallel strategies like every other metric here. Exact mode keeps
the scores themselves in a fixed buffer of `capacity` rows inside the compiled step. On whole
arrays (`evaluate_arrays`, used by the epoch-end evaluator) both are exact, on the host.
"""

from __future__ import annotations

from typing import Any

import keras

from epochmetrics._docs import (
    BODY,
    METRIC_ARGS,
    RANKING_ARGS,
    RANKING_INPUTS,
    RANKING_RAISES,
    docstring,
)
from epochmetrics._types import PerStep, RankingAverage, Task
from epochmetrics.functional import ranking_kernel
from epochmetrics.metrics._ranking_shell import RankingMetric, shell_arguments

_register = keras.saving.register_keras_serializable(package="epochmetrics")

# What AUROC and AveragePrecision share: the two modes, the undefined cases, what they return.
_MODES = """\
Multiclass is one-vs-rest on the class probabilities (softmax of logits with
`from_logits=True`); multilabel treats each label as a binary problem.

**Binned mode** (default) keeps, per class, the positive and negative (weighted) mass in
bins of the score's float32 representation: about `bins_per_octave` bins per octave of
min(p, 1 - p) and of |p - 1/2|, i.e. a logit width of at most 1.2 / bins_per_octave
(0.018 by default, 0.009 typical) everywhere from |logit| ~ 4e-9 to the float32 limit, so
scores bunched near 0, 1/2 or 1 are resolved as well as spread ones (uniform thresholds,
as in `keras.metrics.AUC`, put all of them in one bucket). A bin counts as one tied
threshold.
$bound
State: `2 * K * bins` sums (K = 1 for binary, else the number of classes), each a float32
pair; `bins` is 19588 for the default `bins_per_octave=64`, i.e. 313 KB per class. For
hundreds of classes lower `bins_per_octave` (8: 2452 bins, 39 KB per class) or compute
the metric at epoch end with the `EpochEvaluator`, which is exact and needs no state.

**Exact mode** (`exact=True, capacity=N`) stores up to N samples' scores, labels and
weights in the compiled step and sorts them when the result is read: results equal
scikit-learn's within float rounding, ties included. Memory is `N * (K + T + 1)` float32
(T = 1, or the number of labels for multilabel) and every `result()` (Keras reads it every
step for the progress bar) sorts the buffer. Samples past `capacity` are dropped and
counted: the result is then NaN, and reading it eagerly warns with the capacity needed;
it is never a silently wrong value. The buffer is not a sum: `merge_state` appends the
other metric's samples, and exact mode refuses to run under a data-parallel distribution
(tf.distribute with several replicas, keras.distribution on several devices), where each
replica would hold a part of the data.

Undefined cases follow scikit-learn: ROC-AUC is NaN for a class whose labels are all
positive or all negative; average precision is 0.0 without positives. Averages carry NaN.
Invalid labels or scores inside a compiled step make the result NaN (eagerly they raise).

$body"""

_RETURNS = """\
`result()` gives a scalar, or with `average=None` a dict `{"${name}_<class>": scalar}`.
`evaluate_arrays(y_true, y_pred, sample_weight=None)` gives the exact value on whole
arrays as a float, or a dict of floats with the same keys."""

_AUROC = {
    "max_fpr": "The standardized partial AUC up to this false positive rate, in (0, 1], as "
    "scikit-learn's `roc_auc_score(max_fpr=...)` (McClish's correction: 0.5 for a chance "
    "ranking, 1.0 for a perfect one). None (default): the whole curve. Each class's "
    "one-vs-rest problem gets it (scikit-learn: binary only). The binned error bound is "
    "computed for it too.",
}


@_register
@docstring(
    _AUROC,
    RANKING_ARGS,
    METRIC_ARGS,
    modes=_MODES,
    body=BODY,
    inputs=RANKING_INPUTS,
    returns=_RETURNS,
    raises=RANKING_RAISES,
    name="auroc",
    bound="""\
Error bound: only a positive and a negative in the same bin can be misordered, and
they count 1/2, so |AUC_binned - AUC_exact| <= sum_b P_b N_b / (2 P N), half the share
of positive/negative pairs that share a bin. In practice it is ~1e-5 (tests: <= 1e-4 on
20,000 tied scores, <= 1e-3 on scores bunched near 0 where Keras' AUC is 0.16 off), and
0 when every distinct score has its own bin (e.g. scores rounded to 2 decimals).""",
)
class AUROC(RankingMetric):
    """Area under the ROC curve over the whole epoch, as scikit-learn's `roc_auc_score`.

    AUC = P(score of a positive > score of a negative) + P(tie) / 2, with sample weights.

    $modes

    Examples:
        >>> import epochmetrics as em
        >>> m = em.AUROC("binary")
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> float(m.result())
        0.75
        >>> m = em.AUROC("multiclass", num_classes=3, exact=True, capacity=100)
        >>> m.update_state([0, 1, 2, 2], [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7],
        ...                               [0.3, 0.3, 0.4]])
        >>> float(m.result())
        1.0
    """

    _default_name = "auroc"

    def __init__(
        self,
        task: Task,
        *,
        num_classes: int | None = None,
        average: RankingAverage = "macro",
        max_fpr: float | None = None,
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
        super().__init__(task, ranking_kernel.auroc(max_fpr), **shell_arguments(locals()))


@_register
@docstring(
    RANKING_ARGS,
    METRIC_ARGS,
    modes=_MODES,
    body=BODY,
    inputs=RANKING_INPUTS,
    returns=_RETURNS,
    raises=RANKING_RAISES,
    name="average_precision",
    bound="""\
Error: positives and negatives sharing a bin count as tied, which biases AP low on
continuous scores by about the precision change across one bin: 2e-4 to 7e-4 at the
default resolution on smooth data, halving with each doubling of `bins_per_octave`, and 0
when every distinct score has its own bin. Bound (`error_bound()`): a positive in bin b
has precision (A + x) / (A + B + x + y), A and B the mass above the bin, x <= P_b and
y <= N_b the bin's mass at or above it, so the binned value (x = P_b, y = N_b) is off by
at most min(1, (P_b + N_b) / (A + B)) for it: |error| <= sum_b (P_b / P) min(1, (P_b +
N_b) / M_b), M_b the mass above bin b.""",
)
class AveragePrecision(RankingMetric):
    """Average precision over the whole epoch, as scikit-learn's `average_precision_score`.

    AP = sum_n (R_n - R_{n-1}) P_n over thresholds n (no interpolation); macro over labels = mAP.

    $modes

    Examples:
        >>> import epochmetrics as em
        >>> m = em.AveragePrecision("binary")
        >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> round(float(m.result()), 4)
        0.8333
        >>> m = em.AveragePrecision(
        ...     "multilabel", num_classes=2, average=None, class_names=["cat", "dog"]
        ... )
        >>> m.update_state([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.1, 0.8], [0.6, 0.7]])
        >>> {k: float(v) for k, v in m.result().items()}
        {'average_precision_cat': 1.0, 'average_precision_dog': 1.0}
    """

    _default_name = "average_precision"

    def __init__(
        self,
        task: Task,
        *,
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
        super().__init__(task, ranking_kernel.average_precision(), **shell_arguments(locals()))
