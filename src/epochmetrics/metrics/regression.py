"""The regression metrics as Keras metrics: error sums and shifted moments, exact over the
epoch.

Each class names what it keeps and the function of its state it reports; the shell, the
families (error means, `force_finite` scores, correlations) and the shared docstring tables
are in `metrics._regression_shell`.
"""

from __future__ import annotations

import keras

from epochmetrics.functional import regression as reg
from epochmetrics.metrics._regression_shell import (
    Correlation,
    ErrorMean,
    ForceFiniteMetric,
    RegressionMetric,
    doc,
)

__all__ = [
    "ConcordanceCorrCoef",
    "ExplainedVariance",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "PearsonCorrCoef",
    "R2Score",
    "RegressionMetric",
    "RootMeanSquaredError",
]

register = keras.saving.register_keras_serializable(package="epochmetrics")


@register
@doc(example="0.375")
class MeanSquaredError(ErrorMean):
    """Mean squared error over the whole epoch, as scikit-learn's `mean_squared_error`.

    sum w (y - p)^2 / sum w per output (w the sample weights, 1 without). The state is two
    sums per output, so the value does not depend on how the epoch is batched, and merges
    across replicas. NaN before any sample. Lower is better (`mode="auto"`: "min").

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "mse"
    _errors = ("sq_err",)


@register
@doc(example="0.6124")
class RootMeanSquaredError(ErrorMean):
    """Root mean squared error over the whole epoch, as scikit-learn's
    `root_mean_squared_error`: the square root of each output's MSE (then averaged).

    Not the mean of per-batch RMSEs (what averaging batch values gives): the root of the
    epoch's mean. Lower is better.

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "rmse"
    _errors = ("sq_err",)
    _root = True


@register
@doc(example="0.5")
class MeanAbsoluteError(ErrorMean):
    """Mean absolute error over the whole epoch, as scikit-learn's `mean_absolute_error`.

    sum w |y - p| / sum w per output. Lower is better.

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "mae"
    _errors = ("abs_err",)


@register
@doc(example="0.3274")
class MeanAbsolutePercentageError(ErrorMean):
    """Mean absolute percentage error over the whole epoch, as scikit-learn's
    `mean_absolute_percentage_error`: a fraction (0.25 is 25 %; Keras' own is in percent).

    sum w |y - p| / max(|y|, eps) / sum w per output, eps the float64 machine epsilon: a zero
    target gives a huge value, never an infinite one (scikit-learn's convention). Lower is
    better.

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "mape"
    _errors = ("ape",)


@register
@doc({"force_finite": "scikit-learn's `force_finite` (see above)."}, example="0.9486")
class R2Score(ForceFiniteMetric):
    """Coefficient of determination R^2 over the whole epoch, as scikit-learn's `r2_score`.

    1 - sum w (y - p)^2 / sum w (y - mean_w(y))^2 per output. The state keeps the target's
    moments about a shift that follows its mean (`functional._moments`), so a constant offset
    of the data (1e6, say) changes nothing beyond 1e-9, where float32 sums of y and y^2 (Keras'
    R2Score) give values above 1. Undefined cases as scikit-learn: a constant target gives 1.0
    (perfect predictions) or 0.0 with `force_finite=True`, NaN or -inf without; fewer than two
    samples give NaN, with an `UndefinedMetricWarning`. Higher is better.

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "r2"
    _kind = "r2"
    _errors = ("sq_err",)
    _columns = ("y",)
    _value = staticmethod(reg.r2)


@register
@doc(
    {
        "force_finite": "scikit-learn's `force_finite`: a constant target gives 1.0 (the "
        "residual is constant too) or 0.0; False gives NaN or -inf."
    },
    example="0.9572",
)
class ExplainedVariance(ForceFiniteMetric):
    """Explained variance over the whole epoch, as scikit-learn's `explained_variance_score`.

    1 - Var_w(y - p) / Var_w(y) per output: R^2 without the penalty for a constant bias.
    Moments about shifts that follow the means (as `R2Score`); `force_finite` as
    scikit-learn's. Higher is better.

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "explained_variance"
    _columns = ("y", "e")
    _value = staticmethod(reg.explained_variance)


@register
@doc(example="0.9849")
class PearsonCorrCoef(Correlation):
    """Pearson correlation of targets and predictions over the whole epoch, as scipy's
    `pearsonr` (weighted: the weighted covariance over the weighted standard deviations).

    Correlated across the samples of the epoch, per output (Keras' PearsonCorrelation
    correlates along each sample's last axis and averages over samples: NaN for a scalar
    target). Moments about shifts that follow the means, so offsets cost no precision. NaN,
    with an `UndefinedMetricWarning`, when either side is constant or with fewer than two
    samples (scipy warns, or raises). Higher is better.

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "pearson"
    _kind = "pearson"
    _value = staticmethod(reg.pearson)


@register
@doc(example="0.9768")
class ConcordanceCorrCoef(Correlation):
    """Lin's concordance correlation coefficient over the whole epoch.

    2 cov(y, p) / (var(y) + var(p) + (mean(y) - mean(p))^2) per output, with weighted
    population moments (Lin, 1989; torchmetrics' divides by n - 1, which differs by O(1/n)
    when the means differ). 1 only for predictions equal to the targets. NaN, with an
    `UndefinedMetricWarning`, when both sides are constant and equal. Higher is better.

    $inputs

    Args:
        $args

    Examples:
        $example
    """

    _default_name = "concordance"
    _kind = "concordance"
    _value = staticmethod(reg.concordance)
