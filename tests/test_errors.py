"""Bad arguments and bad inputs: the exception type and a message that names what is wrong."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import pytest
from helpers import METRIC_TASKS, REGRESSION_METRICS, assert_close

import epochmetrics as em

MC = {"task": "multiclass", "num_classes": 3}

BAD_ARGUMENTS = [
    (
        em.F1Score,
        {"task": "multi"},
        "`task` must be one of 'binary', 'multiclass' or 'multilabel'. Received: task='multi'",
    ),
    (em.F1Score, {"task": "multiclass"}, "task='multiclass' requires `num_classes`"),
    (
        em.F1Score,
        {"task": "multilabel"},
        "task='multilabel' requires `num_classes`, the number of labels",
    ),
    (em.F1Score, {"task": "multiclass", "num_classes": 1}, "`num_classes` must be an integer >= 2"),
    (em.F1Score, {"task": "multiclass", "num_classes": 2.5}, "`num_classes` must be an integer"),
    (em.F1Score, {"task": "binary", "num_classes": 3}, "task='binary' has two classes"),
    (
        em.F1Score,
        {**MC, "average": "mean"},
        "`average` must be one of 'micro', 'macro', 'weighted' or None for task='multiclass'. Received: average='mean'",
    ),
    (em.F1Score, {**MC, "average": "binary"}, "Received: average='binary'"),
    (
        em.Precision,
        {"task": "binary", "threshold": 1.0},
        r"`threshold` must be in the open interval \(0, 1\). Received: threshold=1.0",
    ),
    (em.Precision, {"task": "binary", "threshold": 0}, "Received: threshold=0"),
    (em.Precision, {"task": "binary", "threshold": "0.5"}, "`threshold` must be a float"),
    (
        em.Recall,
        {**MC, "zero_division": "warn"},
        "`zero_division` must be 0.0, 1.0 or nan. Received: zero_division='warn'",
    ),
    (em.Recall, {**MC, "zero_division": 0.5}, "Received: zero_division=0.5"),
    (em.Recall, {**MC, "from_logits": "yes"}, "`from_logits` must be True or False"),
    (em.Recall, {**MC, "ignore_index": 1.5}, "`ignore_index` must be an integer or None"),
    (
        em.Recall,
        {**MC, "class_names": ["a", "b"]},
        "expected 3 names for task='multiclass'. Received 2",
    ),
    (em.Recall, {**MC, "class_names": ["a", "a", "b"]}, "`class_names` must be unique"),
    (em.Recall, {**MC, "class_names": "abc"}, "`class_names` must be a list of strings"),
    (em.FBetaScore, {**MC, "beta": 0}, "`beta` must be a positive number. Received: beta=0"),
    (
        em.FBetaAtBestThreshold,
        {"task": "binary", "beta": -1.0},
        r"`beta` must be a positive number\. Received: beta=-1\.0",
    ),
    (em.FBetaAtBestThreshold, {"task": "binary", "beta": math.inf}, "Received: beta=inf"),
    (em.FBetaScore, {**MC, "beta": math.nan}, "`beta` must be a positive number"),
    (
        em.MatthewsCorrCoef,
        {"task": "multilabel", "num_classes": 3},
        "MatthewsCorrCoef supports task='binary' or 'multiclass'. Received: task='multilabel'",
    ),
    (
        em.BalancedAccuracy,
        {"task": "multilabel", "num_classes": 3},
        "BalancedAccuracy supports task=",
    ),
    (
        em.CohenKappa,
        {**MC, "weights": "cubic"},
        "`weights` must be None, 'linear' or 'quadratic'. Received: weights='cubic'",
    ),
    (
        em.ConfusionMatrix,
        {**MC, "normalize": "rows"},
        "`normalize` must be None, 'true', 'pred' or 'all'. Received: normalize='rows'",
    ),
    (em.ClassificationReport, {**MC, "include": ["f2"]}, "`include` entries must be among"),
    (
        em.ClassificationReport,
        {"task": "multilabel", "num_classes": 2, "include": ["mcc"]},
        "'mcc' is not defined for task='multilabel'",
    ),
    (
        em.ClassificationReport,
        {**MC, "averages": ["samples"]},
        "`averages` entries must be 'micro', 'macro' or 'weighted'. Received: 'samples'",
    ),
    (
        em.ClassificationReport,
        {**MC, "class_names": ["a", "macro", "c"]},
        "`class_names` may not contain",
    ),
    (
        em.F1Score,
        {**MC, "threshold": 0.3},
        r"`threshold` applies to binary and multilabel probabilities; task='multiclass' predicts "
        r"the class with the largest score, with no threshold\. .* Received: threshold=0\.3",
    ),
    (em.AUROC, {"task": "binary", "capacity": 10}, "pass exact=True with it"),
    # dense inputs, top-k, operating points, calibration
    (
        em.Accuracy,
        {"task": "binary", "top_k": 2},
        r"`top_k` applies to task='multiclass' scores\. Received: top_k=2 for task='binary'",
    ),
    (em.Recall, {**MC, "top_k": 0}, r"`top_k` must be an integer from 1 to 3\. Received: top_k=0"),
    (em.Precision, {**MC, "top_k": 4}, r"Received: top_k=4"),
    (
        em.F1Score,
        {**MC, "top_k": 2, "multidim_average": "samplewise"},
        "`top_k` and multidim_average='samplewise' do not combine",
    ),
    (
        em.F1Score,
        {**MC, "multidim_average": "images"},
        "`multidim_average` must be 'global' or 'samplewise'. Received: multidim_average='images'",
    ),
    (
        em.F1Score,
        {**MC, "average": "samples"},
        r"`average='samples'` .* is defined for task='multilabel' .* Received: average='samples' "
        r"for F1Score\(task='multiclass'\)",
    ),
    (
        em.Specificity,
        {"task": "multilabel", "num_classes": 3, "average": "samples"},
        r"Received: average='samples' for Specificity",
    ),
    (
        em.PrecisionAtRecall,
        {"task": "binary", "recall": 1.5},
        r"`recall` must be a number in \[0, 1\]\. Received: recall=1\.5",
    ),
    (em.RecallAtPrecision, {"task": "binary", "precision": "0.5"}, r"Received: precision='0.5'"),
    (em.SensitivityAtSpecificity, {"task": "binary", "specificity": -0.1}, "`specificity` must"),
    (em.SpecificityAtSensitivity, {"task": "binary", "sensitivity": math.nan}, "`sensitivity`"),
    (
        em.PrecisionAtRecall,
        {**MC, "recall": 0.5, "average": "samples"},
        r"`average` must be one of .* Received: average='samples'",
    ),
    (
        em.AUROC,
        {"task": "binary", "max_fpr": 0},
        r"`max_fpr` must be a number in \(0, 1\]\. Received: max_fpr=0",
    ),
    (
        em.CalibrationError,
        {"task": "binary", "n_bins": 0},
        r"`n_bins` must be an integer from 1 to 2\*\*24 .* Received: n_bins=0",
    ),
    (em.CalibrationError, {"task": "binary", "n_bins": 2.5}, r"Received: n_bins=2\.5"),
    (
        em.CalibrationError,
        {"task": "binary", "norm": "l3"},
        r"`norm` must be one of 'l1' \(ECE\), 'l2' .* or 'max' \(MCE\)\. Received: norm='l3'",
    ),
    (
        em.CalibrationError,
        {**MC, "average": "weighted"},
        r"`average` must be 'macro', 'micro' or None\. Received: average='weighted'",
    ),
    # regression
    (
        em.R2Score,
        {"num_outputs": 0},
        r"`num_outputs` must be a positive integer\. Received: num_outputs=0",
    ),
    (em.PearsonCorrCoef, {"num_outputs": 2.0}, r"Received: num_outputs=2\.0"),
    (
        em.R2Score,
        {"multioutput": "mean"},
        r"`multioutput` must be 'raw_values', 'uniform_average', 'variance_weighted' or 'an array "
        r"of weights'\. Received: multioutput='mean'",
    ),
    (
        em.MeanSquaredError,
        {"multioutput": "variance_weighted"},
        r"`multioutput` must be 'raw_values', 'uniform_average' or 'an array of weights' \(an "
        r"error metric has no 'variance_weighted'\)\. Received: multioutput='variance_weighted'",
    ),
    (
        em.MeanAbsoluteError,
        {"num_outputs": 3, "multioutput": [1.0, 2.0]},
        r"`multioutput` must be one of 'raw_values', 'uniform_average' or 3 non-negative weights, "
        r"one per output \(num_outputs=3\), not all 0\. Received: multioutput=\[1\.0, 2\.0\]",
    ),
    (em.ExplainedVariance, {"num_outputs": 2, "multioutput": [0, 0]}, r"not all 0"),
    (em.R2Score, {"num_outputs": 2, "multioutput": [1, -1]}, r"non-negative weights"),
    (em.R2Score, {"force_finite": "yes"}, r"`force_finite` must be True or False"),
    (
        em.MeanAbsoluteError,
        {"ignore_value": math.inf},
        r"`ignore_value` must be finite or NaN \(infinite targets are invalid input",
    ),
    (em.MeanAbsoluteError, {"ignore_value": "0"}, r"`ignore_value` must be a number"),
    (
        em.ConcordanceCorrCoef,
        {"num_outputs": 2, "output_names": ["a"]},
        r"`output_names` must be 2 distinct names, one per output \(num_outputs=2\)\. "
        r"Received: \['a'\]",
    ),
    (em.ConcordanceCorrCoef, {"output_names": "a"}, r"`output_names` must be a list of strings"),
    (em.RootMeanSquaredError, {"per_step": "some"}, r"`per_step` must be 'all', 'averages' or"),
]


UNKNOWN_ARGUMENTS = [
    # Every public class has its own explicit signature: errors name the class called.
    (
        em.Accuracy,
        {"task": "binary", "beta": 2.0},
        r"Accuracy\.__init__\(\) got an unexpected keyword argument 'beta'",
    ),
    (
        em.PrecisionAtRecall,
        {"task": "binary"},
        r"PrecisionAtRecall\.__init__\(\) missing 1 required keyword-only argument: 'recall'",
    ),
    (
        em.CalibrationError,
        {"task": "binary", "threshold": 0.5},
        r"CalibrationError\.__init__\(\) got an unexpected keyword argument 'threshold'",
    ),
    (
        em.F1Score,
        {"task": "binary", "beta": 2.0},
        r"F1Score\.__init__\(\) got an unexpected keyword argument 'beta'",
    ),
    (
        em.MatthewsCorrCoef,
        {"task": "binary", "average": "macro"},
        r"MatthewsCorrCoef\.__init__\(\) got an unexpected",
    ),
    (
        em.AUROC,
        {"task": "binary", "threshold": 0.5},
        r"AUROC\.__init__\(\) got an unexpected keyword argument 'threshold'",
    ),
    (
        em.R2Score,
        {"task": "binary"},
        r"R2Score\.__init__\(\) got an unexpected keyword argument 'task'",
    ),
    (
        em.MeanSquaredError,
        {"force_finite": False},
        r"MeanSquaredError\.__init__\(\) got an unexpected keyword argument 'force_finite'",
    ),
    (em.PearsonCorrCoef, {"squared": True}, r"PearsonCorrCoef\.__init__\(\) got an unexpected"),
]


def test_tensorboard_missing_packages_name_the_extra(tmp_path, monkeypatch) -> None:
    import sys

    # Without tensorboard the callback stops at its own hint before it looks for matplotlib.
    pytest.importorskip("tensorboard")
    tb = em.TensorBoard(tmp_path, confusion_images=True)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        ImportError,
        match=r"draws confusion matrices with matplotlib, which is "
        r"not installed\. Install it with: pip install 'epochmetrics\[plot\]'",
    ):
        tb.on_train_begin()
    for name in ("tensorboard", "tensorboard.compat", "tensorboard.compat.proto"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed, even if imported
    with pytest.raises(
        ImportError,
        match=r"with the `tensorboard` package \(TensorFlow is not "
        r"needed\)\. Install it with: pip install 'epochmetrics\[tensorboard\]'",
    ):
        em.TensorBoard(tmp_path).on_train_begin()


def test_threshold_counts_bad_grid() -> None:
    metric = em.AUROC("binary")
    with pytest.raises(ValueError, match=r"`num_thresholds` must be an integer from 2 to 10000"):
        metric.threshold_counts(num_thresholds=1)
    with pytest.raises(
        ValueError,
        match=r"`num_thresholds` must be an integer from 2 to 10000\. Received: num_thresholds=0\.5",
    ):
        metric.threshold_counts(num_thresholds=0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("cls", "kwargs", "message"), BAD_ARGUMENTS)
def test_bad_arguments(cls: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize(("cls", "kwargs", "message"), UNKNOWN_ARGUMENTS)
def test_unknown_arguments_name_the_class(cls: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("name", sorted([*METRIC_TASKS, *REGRESSION_METRICS]))
def test_every_public_class_has_an_explicit_signature(name: str) -> None:
    params = inspect.signature(getattr(em, name)).parameters.values()
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params), name
    assert getattr(em, name).__init__.__qualname__ == f"{name}.__init__"


f32 = np.float32
BAD_INPUTS = [
    # (metric kwargs, y_true, y_pred, sample_weight, message)
    (
        MC,
        np.zeros(4, int),
        np.zeros((4, 5), f32),
        None,
        r"task='multiclass' expects .* y_pred of shape \(batch, num_classes=3\) scores or \(batch,\) labels. "
        r"Received: y_true.shape=\(4,\), y_pred.shape=\(4, 5\)",
    ),
    (MC, np.zeros((4, 2), f32), np.zeros((4, 3), f32), None, r"Received: y_true.shape=\(4, 2\)"),
    (
        MC,
        np.zeros(4, int),
        np.zeros((5, 3), f32),
        None,
        r"y_true and y_pred must have the same batch size. Received: y_true.shape=\(4,\), y_pred.shape=\(5, 3\)",
    ),
    (
        MC,
        np.zeros(4, int),
        np.zeros((4, 3), f32),
        np.ones((4, 3), f32),
        r"`sample_weight` must be a scalar, one weight per sample \(batch,\), or one per element \(4,\). Received: sample_weight.shape=\(4, 3\)",
    ),
    (
        MC,
        np.array([0, 1, 3, -2]),
        np.zeros((4, 3), f32),
        None,
        r"task='multiclass' expects y_true values to be integers in \[0, num_classes=3\). Received 2 invalid value\(s\): -2, 3",
    ),
    (
        {**MC, "ignore_index": -2},
        np.array([0, 1, 7, -2]),
        np.zeros((4, 3), f32),
        None,
        r"\(ignore_index=-2 is skipped\). Received 1 invalid value\(s\): 7",
    ),
    (
        MC,
        np.array([0.0, 1.5, 2.0]),
        np.zeros((3, 3), f32),
        None,
        r"Received 1 invalid value\(s\): 1.5",
    ),
    (
        MC,
        np.zeros((2, 3), f32),
        np.zeros((2, 3), f32),
        None,
        r"reads y_true of shape \(2, 3\) as one-hot rows over its last axis \(num_classes=3\): "
        r"one-hot rows hold 0/1 with exactly one 1 .*; an all-zero row is void only when "
        r"ignore_index is set\. Received 2 row\(s\) that are not, e\.g\. \[0, 0, 0\]",
    ),
    # one-hot rows: 0/1 with one 1 (or soft fractions), never labels read as one-hot
    (
        MC,
        np.array([[2, 0, 1], [0, 1, 0]]),
        np.zeros((2, 3), f32),
        None,
        r"as one-hot rows .* Received 1 row\(s\) that are not, e\.g\. \[2, 0, 1\]",
    ),
    (
        MC,
        np.array([[1.0, 1.0, 0.0], [1.0, 0.5, 0.0]], f32),
        np.zeros((2, 3), f32),
        None,
        r"as one-hot rows .* Received 2 row\(s\) that are not, e\.g\. \[1, 1, 0\]",
    ),
    (
        {**MC, "ignore_index": 255},
        np.array([[0, 0, 0], [0, 2, 0]]),
        np.zeros((2, 3), f32),
        None,
        r"an all-zero row is void \(ignore_index=255 is set\)\. Received 1 row\(s\) that are "
        r"not, e\.g\. \[0, 2, 0\]",
    ),
    (
        MC,
        np.eye(3, dtype=int)[[0, 1]],
        np.eye(3, dtype=int)[[0, 2]],
        None,
        r"cannot tell what y_true and y_pred of the same shape \(2, 3\) with a last axis of "
        r"num_classes=3 and an integer y_pred \(dtype int64\) are: one-hot targets with one-hot "
        r"predictions .*, or labels with predicted labels .* pass y_pred as float scores .*; for "
        r"labels give y_true a trailing axis of 1 \(y_true\[\.\.\., None\]\)",
    ),
    (
        MC,
        np.array([0, 1]),
        np.array([0, 3]),
        None,
        r"expects y_pred labels to be integers in \[0, num_classes=3\)",
    ),
    (
        MC,
        np.array([0, 1]),
        np.array([[0.1, np.nan, 0.2], [0.5, 0.2, 0.3]], f32),
        None,
        "received NaN scores in y_pred for 1 sample",
    ),
    (
        {"task": "binary"},
        np.array([0, 1, 2]),
        np.array([0.1, 0.2, 0.3], f32),
        None,
        r"task='binary' expects y_true values to be 0 or 1. Received 1 invalid value\(s\): 2",
    ),
    (
        {"task": "binary"},
        np.array([0, 1, 1]),
        np.array([0.1, 2.3, -1.0], f32),
        None,
        r"expects y_pred values to be probabilities in \[0, 1\] or 0/1 integer labels. Received 2 invalid value\(s\): -1, 2.3. "
        r"If y_pred holds logits, pass from_logits=True",
    ),
    (
        {"task": "binary", "from_logits": True},
        np.array([0, 1]),
        np.array([np.nan, 2.0], f32),
        None,
        r"expects y_pred values to be logits \(not NaN\)",
    ),
    (
        {"task": "binary"},
        np.zeros((4, 2)),
        np.zeros((4, 3), f32),
        None,
        r"task='binary' expects y_true and y_pred of shape \(batch,\) or \(batch, 1\). Received: y_true.shape=\(4, 2\)",
    ),
    (
        {"task": "multilabel", "num_classes": 3},
        np.zeros((4, 3)),
        np.zeros((4, 2), f32),
        None,
        r"task='multilabel' expects y_true and y_pred of shape \(batch, num_classes=3\)",
    ),
    (
        {"task": "multilabel", "num_classes": 2},
        np.array([[0, 1], [1, 5]]),
        np.zeros((2, 2), f32),
        None,
        r"task='multilabel' expects y_true values to be 0 or 1. Received 1 invalid value\(s\): 5",
    ),
    (
        {"task": "binary"},
        1,
        0.7,
        None,
        r"y_true must have a batch axis: task='binary' expects arrays of shape \(batch, \.\.\.\), "
        r"even for one sample\. Received: y_true\.shape=\(\), a scalar; wrap it as \[value\]",
    ),
    (MC, np.array([1]), np.array(0.3), None, r"y_pred must have a batch axis"),
    (
        MC,
        np.array([0, 1]),
        np.zeros((2, 3), f32),
        np.array([1.0, np.nan]),
        r"`sample_weight` must be finite\. Received 1 NaN or infinite weight\(s\), the first at "
        r"index 1 \(value nan\)",
    ),
    (
        {"task": "multilabel", "num_classes": 2},
        np.zeros((3, 2)),
        np.zeros((3, 2), f32),
        np.array([1.0, 1.0, -np.inf]),
        r"`sample_weight` must be finite\. .* the first at index 2 \(value -inf\)",
    ),
    # dense inputs (segmentation): the class axis last, weights per sample or per element
    (
        MC,
        np.zeros((2, 4, 4), int),
        np.zeros((2, 4, 5, 3), f32),
        None,
        r"Received: y_true.shape=\(2, 4, 4\), y_pred.shape=\(2, 4, 5, 3\)\. Dense inputs "
        r"\(segmentation\) put extra axes after the batch axis: y_true \(batch, \.\.\.\) labels or "
        r"\(batch, \.\.\., 3\) one-hot",
    ),
    (
        MC,
        np.zeros((2, 4, 4), int),
        np.zeros((2, 3, 4, 4), f32),
        None,
        r"The class axis comes last \(Keras' channels_last\); y_pred.shape=\(2, 3, 4, 4\) looks "
        r"channels_first",
    ),
    (
        MC,
        np.zeros((2, 4, 4), int),
        np.zeros((2, 4, 4, 3), f32),
        np.ones((2, 4)),
        r"`sample_weight` must be a scalar, one weight per sample \(batch,\), or one per element "
        r"\(2, 4, 4\)\. Received: sample_weight.shape=\(2, 4\), y_true.shape=\(2, 4, 4\)",
    ),
    (
        {**MC, "ignore_index": 255},
        np.array([[[0, 255], [7, 1]]]),
        np.full((1, 2, 2, 3), 1 / 3, f32),
        None,
        r"integers in \[0, num_classes=3\) \(ignore_index=255 is skipped\)\. Received 1 invalid "
        r"value\(s\): 7",
    ),
    (
        {"task": "binary"},
        np.zeros((2, 4, 4), int),
        np.zeros((2, 4, 5), f32),
        None,
        r"Received: y_true.shape=\(2, 4, 4\), y_pred.shape=\(2, 4, 5\)\. Dense inputs "
        r"\(segmentation\) put extra axes after the batch axis: both \(batch, \.\.\.\) of the same",
    ),
    (
        MC,
        np.array(["cat", "dog"]),
        np.zeros((2, 3), f32),
        None,
        TypeError,
        r"y_true must hold numbers \(integer, bool or float\)\. Received dtype <U3 \(strings: map "
        r"class names to indices first\)",
    ),
    (
        MC,
        None,
        np.zeros((2, 3), f32),
        None,
        TypeError,
        r"y_true must be an array of numbers\. Received: y_true=None",
    ),
    (
        MC,
        np.array([0, 1]),
        None,
        None,
        TypeError,
        r"y_pred must be an array of numbers\. Received: y_pred=None",
    ),
    (
        MC,
        np.array([0, 1]),
        np.zeros((2, 3), f32),
        np.array(["a", "b"]),
        TypeError,
        r"sample_weight must hold numbers",
    ),
]


def _with_error_type(case: tuple[Any, ...]) -> tuple[Any, ...]:
    return case if len(case) == 6 else (*case[:4], ValueError, case[4])


@pytest.mark.parametrize("cls", [em.F1Score, em.AUROC, em.CalibrationError])
@pytest.mark.parametrize(
    ("kwargs", "y_true", "y_pred", "sample_weight", "error", "message"),
    [_with_error_type(c) for c in BAD_INPUTS],
)
def test_bad_inputs(
    cls: Any,
    kwargs: dict[str, Any],
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    error: type[Exception],
    message: str,
) -> None:
    """The same errors from the count and the ranking metrics (their inputs coincide here)."""
    if cls is not em.F1Score and any(
        part in message
        for part in (
            "labels to be integers",
            "y_pred values to be probabilities",
            "scores or \\(batch,\\) labels",
            "NaN scores",
            "integer y_pred",
        )
    ):
        pytest.skip("ranking metrics take scores only (their own messages: test_ranking_metrics)")
    metric = cls(**kwargs)
    before = metric.result()
    with pytest.raises(error, match=message):
        metric.update_state(y_true, y_pred, sample_weight)
    # A rejected batch leaves the state untouched.
    assert_close(metric.result(), before)


def test_merge_state_rejects_other_configurations() -> None:
    a = em.F1Score("multiclass", num_classes=3)
    with pytest.raises(
        ValueError,
        match=r"merge_state needs a F1Score with the same settings\. They differ in num_classes: 3 here, 4 in the other\.",
    ):
        a.merge_state(em.F1Score("multiclass", num_classes=4))
    with pytest.raises(
        ValueError, match="differ in class: 'F1Score' here, 'Precision' in the other"
    ):
        a.merge_state(em.Precision("multiclass", num_classes=3))


REGRESSION_BAD_INPUTS = [
    # (metric kwargs, y_true, y_pred, sample_weight, error, message)
    (
        {},
        np.zeros(4),
        np.zeros(5),
        None,
        ValueError,
        r"y_true and y_pred must have the same batch size\. Received: y_true\.shape=\(4,\), "
        r"y_pred\.shape=\(5,\)",
    ),
    (
        {},
        np.zeros((4, 3)),
        np.zeros((4, 3)),
        None,
        ValueError,
        r"y_true of shape \(4, 3\) reads as 3 outputs \(as scikit-learn reads a 2-D target\): pass "
        r"num_outputs=3, or to pool 3 elements of one output reshape both to \(batch, 3, 1\)",
    ),
    (
        {},
        np.zeros((4, 2, 2)),
        np.zeros((4, 2, 3)),
        None,
        ValueError,
        r"num_outputs=1 expects y_true and y_pred of the same shape: \(batch,\), \(batch, 1\) or "
        r"dense \(batch, \.\.\.\), a trailing axis of 1 on either dropped\. Received: "
        r"y_true\.shape=\(4, 2, 2\), y_pred\.shape=\(4, 2, 3\)",
    ),
    (
        {"num_outputs": 3},
        np.zeros((4, 2)),
        np.zeros((4, 2)),
        None,
        ValueError,
        r"num_outputs=3 expects y_true and y_pred of the same shape \(batch, 3\), or dense "
        r"\(batch, \.\.\., 3\) with the output axis last\. Received: y_true\.shape=\(4, 2\)",
    ),
    (
        {},
        np.array(1.0),
        np.array(1.0),
        None,
        ValueError,
        r"y_true must have a batch axis: .* Received: y_true\.shape=\(\), a scalar; wrap it as "
        r"\[value\]",
    ),
    (
        {},
        np.array([1.0, np.nan, 3.0]),
        np.zeros(3),
        None,
        ValueError,
        r"y_true must hold finite numbers\. Received 1 NaN or infinite value\(s\): nan\. To "
        r"skip missing targets stored as NaN, pass ignore_value=float\('nan'\)",
    ),
    (
        {"ignore_value": -1.0},
        np.array([1.0, -1.0, np.inf]),
        np.zeros(3),
        None,
        ValueError,
        r"y_true must hold finite numbers \(ignore_value=-1 is skipped\)\. Received 1 NaN or "
        r"infinite value\(s\): inf",
    ),
    (
        {},
        np.zeros(3),
        np.array([0.0, -np.inf, np.nan]),
        None,
        ValueError,
        r"y_pred must hold finite numbers\. Received 2 NaN or infinite value\(s\): -inf, nan\.$",
    ),
    (
        {},
        np.zeros(3),
        np.zeros(3),
        np.array([1.0, np.nan, 1.0]),
        ValueError,
        r"`sample_weight` must be finite\. Received 1 NaN or infinite weight\(s\), the first at "
        r"index 1 \(value nan\)",
    ),
    (
        {},
        np.zeros((2, 3, 3)),
        np.zeros((2, 3, 3)),
        np.ones((2, 3)),
        ValueError,
        r"`sample_weight` must be a scalar, one weight per sample \(batch,\), or one per element "
        r"\(2, 3, 3\)\. Received: sample_weight\.shape=\(2, 3\)",
    ),
    (
        {},
        np.array(["a", "b"]),
        np.zeros(2),
        None,
        TypeError,
        r"y_true must hold numbers \(integer, bool or float\)\. Received dtype <U1",
    ),
    ({}, np.zeros(2), None, None, TypeError, r"y_pred must be an array of numbers"),
]


@pytest.mark.parametrize("cls", [em.R2Score, em.MeanSquaredError, em.PearsonCorrCoef])
@pytest.mark.parametrize(
    ("kwargs", "y_true", "y_pred", "sample_weight", "error", "message"), REGRESSION_BAD_INPUTS
)
def test_regression_bad_inputs(
    cls: Any,
    kwargs: dict[str, Any],
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    error: type[Exception],
    message: str,
) -> None:
    metric = cls(**kwargs)
    good = np.arange(4.0 * metric.num_outputs).reshape(4, -1)
    metric.update_state(good, good * 0.5)
    before = metric.result()
    with pytest.raises(error, match=message):
        metric.update_state(y_true, y_pred, sample_weight)
    assert_close(metric.result(), before)  # a rejected batch leaves the state untouched


def test_regression_merge_state_rejects_other_settings() -> None:
    a = em.R2Score(num_outputs=2)
    with pytest.raises(ValueError, match=r"They differ in num_outputs: 2 here, 3 in the other"):
        a.merge_state(em.R2Score(num_outputs=3))
    with pytest.raises(ValueError, match="differ in class: 'R2Score' here, 'PearsonCorrCoef'"):
        a.merge_state(em.PearsonCorrCoef(num_outputs=2))


# --- callbacks: the same checks and messages as the metrics' options ---------------------------
_X, _Y = np.zeros((4, 2), "float32"), np.zeros(4, "int32")

BAD_CALLBACK_ARGUMENTS = [
    # (EpochEvaluator keyword arguments, error, message)
    (
        {"every_n_epochs": 0},
        ValueError,
        r"`every_n_epochs` must be a positive integer\. Received: every_n_epochs=0\.",
    ),
    ({"every_n_epochs": 2.0}, ValueError, r"Received: every_n_epochs=2\.0\."),
    ({"every_n_epochs": np.int64(0)}, ValueError, r"`every_n_epochs` must be a positive integer"),
    ({"every_n_epochs": True}, ValueError, r"Received: every_n_epochs=True\."),
    ({"steps": np.int32(0)}, ValueError, r"`steps` must be a positive integer or None"),
    (
        {"steps": 1.5},
        ValueError,
        r"`steps` must be a positive integer or None\. Received: steps=1\.5",
    ),
    ({"batch_size": np.float32(4)}, ValueError, r"`batch_size` must be a positive integer or None"),
    ({"prefix": 1}, TypeError, r"`prefix` must be a string\. Received: prefix=1\."),
    (
        {"output": 1.5},
        TypeError,
        r"`output` must be an output name, an index or None\. Received: output=1\.5\.",
    ),
    ({"output": np.bool_(True)}, TypeError, r"`output` must be an output name"),
    (
        {"directions": {"val_f1": "higher"}},
        ValueError,
        r"`directions\['val_f1'\]` must be 'up' or 'down' \(or 'max'/'min'\)\. Received: 'higher'",
    ),
    (
        {"confidence": 95},
        ValueError,
        r"`confidence` must be a number in \(0, 1\), e\.g\. 0\.95, or None\. Received: confidence=95",
    ),
    ({"confidence": 1.0}, ValueError, r"Received: confidence=1\.0"),
    (
        {"confidence": 0.9, "resamples": 1},
        ValueError,
        r"`resamples` must be an integer from 2 to 100000\. Received: resamples=1",
    ),
    ({"confidence": 0.9, "resamples": 10.0}, ValueError, r"Received: resamples=10\.0"),
    (
        {"confidence": 0.9, "seed": -1},
        ValueError,
        r"`seed` must be an integer from 0 to 2\*\*64 - 1\. Received: seed=-1",
    ),
    ({"confidence": 0.9, "seed": 2**64}, ValueError, r"Received: seed=18446744073709551616"),
    (
        {"noise_aware": "val_accuracy"},
        ValueError,
        r"`noise_aware` compares epochs on bootstrap replicates: pass `confidence=` too",
    ),
    (
        {"apply_to": {"val_": (_X, _Y)}},
        ValueError,
        r"`apply_to` prefixes must be non-empty and differ from `prefix='val_'`\. Received: 'val_'",
    ),
    (
        {"apply_to": [(_X, _Y)]},
        TypeError,
        r"`apply_to` must be a dict \{prefix: data\}, e\.g\. \{'test_': \(x_test, y_test\)\}",
    ),
    (
        {"confidence": 0.9, "noise_aware": 3},
        TypeError,
        r"`noise_aware` must be a log key or a list of log keys\. Received: noise_aware=3",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_CALLBACK_ARGUMENTS)
def test_bad_callback_arguments(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        em.EpochEvaluator((_X, _Y), [em.Accuracy("binary")], **kwargs)


# (callback class, arguments, error, message): em.TensorBoard and em.RunRecorder.
BAD_WRITER_ARGUMENTS = [
    (em.TensorBoard, {"log_dir": 3}, TypeError, r"`log_dir` must be a path\. Received: log_dir=3"),
    (
        em.TensorBoard,
        {"update_freq": "step"},
        ValueError,
        r"`update_freq` must be 'epoch', 'batch' or a positive integer\. Received: "
        r"update_freq='step'",
    ),
    (em.TensorBoard, {"update_freq": 0}, ValueError, r"Received: update_freq=0\."),
    (
        em.TensorBoard,
        {"max_classes": 1},
        ValueError,
        r"`max_classes` must be an integer >= 2 or None \(every class\)\. Received: max_classes=1",
    ),
    (
        em.TensorBoard,
        {"num_thresholds": 1},
        ValueError,
        r"`num_thresholds` must be an integer from 2 to 10000\. Received: num_thresholds=1\.",
    ),
    (em.TensorBoard, {"num_thresholds": 2.0}, ValueError, r"Received: num_thresholds=2\.0\."),
    (em.TensorBoard, {"pr_curves": 1}, ValueError, r"`pr_curves` must be True or False\."),
    (
        em.TensorBoard,
        {"confusion_images": "yes"},
        ValueError,
        r"`confusion_images` must be True, False or None\. Received: confusion_images='yes'",
    ),
    (
        em.TensorBoard,
        {"max_image_classes": 0},
        ValueError,
        r"`max_image_classes` must be a positive integer or None \(any number of classes\)\. "
        r"Received: max_image_classes=0",
    ),
    (em.RunRecorder, {"run_dir": None}, TypeError, r"`run_dir` must be a path"),
    (
        em.RunRecorder,
        {"run_dir": "r", "mode": "up"},
        ValueError,
        r"`mode` must be 'auto', 'max' or 'min'\. Received: mode='up'",
    ),
    (
        em.RunRecorder,
        {"run_dir": "r", "monitor": 3},
        TypeError,
        r"`monitor` must be a log key or None\. Received: monitor=3",
    ),
    (em.RunRecorder, {"run_dir": "r", "settings": [1]}, TypeError, r"`settings` must be a dict"),
    (
        em.RunRecorder,
        {"run_dir": "r", "num_thresholds": 20_000},
        ValueError,
        r"`num_thresholds` must be an integer from 2 to 10000",
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "message"), BAD_WRITER_ARGUMENTS)
def test_bad_writer_callback_arguments(
    cls: Any, kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        cls(**kwargs)


def test_writer_callbacks_take_numpy_integers() -> None:
    tb = em.TensorBoard("logs", update_freq=np.int64(2), max_classes=np.int32(4))
    assert (tb.update_freq, tb.max_classes) == (2, 4)
    assert em.RunRecorder("run", num_thresholds=np.int64(11)).num_thresholds == 11


def test_callbacks_take_numpy_integers_where_they_take_integers() -> None:
    """As the metrics do (`num_classes=np.int64(3)`): a count read from an array works."""
    ev = em.EpochEvaluator(
        (_X[:, :1], _Y),
        [em.Accuracy("binary")],
        every_n_epochs=np.int64(2),
        batch_size=np.int32(2),
        steps=np.int64(1),
        output=np.int64(0),
    )
    assert (ev.every_n_epochs, ev.source.batch_size, ev.source.steps, ev.output) == (2, 2, 1, 0)
    assert all(type(v) is int for v in (ev.every_n_epochs, ev.source.batch_size, ev.output))
    with pytest.raises(ValueError, match=r"`direction` must be 'up' or 'down'"):
        em.callbacks.ModelEvaluator(lambda model: 0.0, direction="higher")


def _state(**changes: Any) -> dict[str, Any]:
    state = em.F1Score("multiclass", num_classes=3).get_state()
    return {**state, **changes}


BAD_STATES = [
    (
        {"format": "other/1"},
        r"F1Score.set_state takes the dict that get_state\(\) returns \(format 'epochmetrics.state/1'\). Received: 'other/1'",
    ),
    (
        {"class": "Precision"},
        r"This state was exported from a Precision, not a F1Score: build the metric with Precision.from_state\(state\)",
    ),
    (
        {"config": {**_state()["config"], "num_classes": 4}},
        r"The state comes from a F1Score with other settings \(num_classes: 3 here, 4 in the state\)",
    ),
    ({"arrays": {}}, r"F1Score keeps the arrays \['sums'\]; the state holds \[\]"),
    (
        {"arrays": {"sums": np.zeros(3)}},
        r"F1Score's array 'sums' has shape \(\d+,\); the state's has shape \(3,\)",
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD_STATES)
def test_bad_states(changes: dict[str, Any], message: str) -> None:
    metric = em.F1Score("multiclass", num_classes=3, name="other_name")  # names may differ
    metric.set_state(_state())
    with pytest.raises(ValueError, match=message):
        metric.set_state(_state(**changes))
    with pytest.raises(ValueError, match="takes the dict that get_state"):
        em.F1Score.from_state([1, 2])


def _twin(monkeypatch: Any) -> None:
    """This process posing as one of two torch ranks (its twin holds the same data)."""
    from epochmetrics._backend import collectives

    twin = collectives.Processes("torch", 2, 0)
    monkeypatch.setattr(collectives, "torch_processes", lambda group=None: twin)
    monkeypatch.setattr(collectives, "_torch_gather", lambda words, g, n: np.stack([words] * n))


EVALUATOR_IN_PROCESSES = [
    (
        {},
        r"EpochEvaluator runs in 2 processes \(a torch.distributed process group\): say what each "
        r"process's `data` holds with `process_data=`: 'whole' if every process holds all the "
        r"validation data .* or 'own' if each holds its own part",
    ),
    (
        {"process_data": "all"},
        r"`process_data` must be 'whole' \(every process holds all the data\), 'own' \(each "
        r"process holds its own part\) or None. Received: process_data='all'",
    ),
    (
        {"process_data": "whole", "data": lambda: iter([])},
        r"process_data='whole' splits `data` into one contiguous part per process, and this "
        r"callable data does not say how many batches it has",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), EVALUATOR_IN_PROCESSES)
def test_evaluator_in_several_processes(monkeypatch: Any, kwargs: dict, message: str) -> None:
    import keras

    _twin(monkeypatch)
    data = kwargs.pop("data", (np.zeros((4, 3), "float32"), np.zeros(4, int)))
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Softmax()(inputs))
    with pytest.raises(ValueError, match=message):
        ev = em.EpochEvaluator(data, [em.F1Score("multiclass", num_classes=3)], **kwargs)
        ev.evaluate(model)
    if not kwargs:  # in fit: before the first epoch
        model.compile("sgd", "mse")
        x = np.zeros((4, 3), "float32")
        with pytest.raises(ValueError, match=message):
            model.fit(x, x, epochs=1, verbose=0, callbacks=[ev])


BAD_SHARDS = [
    (
        {"data": 10, "index": 2, "count": 2},
        r"`index` must be an integer from 0 to 1. Received: index=2, count=2",
    ),
    (
        {"data": 10, "index": 0, "count": 0},
        r"`count` must be a positive integer. Received: count=0",
    ),
    (
        {"data": (np.zeros(3), np.zeros(4)), "index": 0, "count": 2},
        r"shard takes a structure \(tuple, list, dict\) of arrays of one length. Received lengths \[3, 4\]",
    ),
    ({"data": object(), "index": 0, "count": 2}, r"shard takes a number of samples, arrays"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_SHARDS)
def test_bad_shards(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        em.shard(**kwargs)
