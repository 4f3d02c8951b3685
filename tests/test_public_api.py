"""The public API: what `import epochmetrics as em` exports."""

from __future__ import annotations

import keras

import epochmetrics as em

METRICS = [
    "Accuracy",
    "BalancedAccuracy",
    "ClassificationReport",
    "CohenKappa",
    "ConfusionMatrix",
    "F1Score",
    "FBetaScore",
    "JaccardIndex",
    "MatthewsCorrCoef",
    "Precision",
    "Recall",
    "Specificity",
]


def test_all_is_sorted_and_complete() -> None:
    assert em.__all__ == sorted(em.__all__)
    assert len(set(em.__all__)) == len(em.__all__)
    for name in em.__all__:
        assert hasattr(em, name), name
    public = {n for n in dir(em) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(em.__all__), public - set(em.__all__)


def test_metrics_are_registered_keras_metrics_with_direction() -> None:
    for name in METRICS:
        cls = getattr(em, name)
        assert issubclass(cls, keras.metrics.Metric)
        assert cls._direction == "up"
        assert keras.saving.get_registered_name(cls) == f"epochmetrics>{name}"
        assert cls.__doc__ and "Examples:" in cls.__doc__, name


def test_the_test_registry_covers_every_exported_metric() -> None:
    """Cross-cutting tests iterate `helpers.METRIC_TASKS`: it must list every metric class."""
    from helpers import METRIC_TASKS

    exported = {
        n
        for n in em.__all__
        if isinstance(getattr(em, n), type) and issubclass(getattr(em, n), keras.metrics.Metric)
    }
    assert set(METRIC_TASKS) == exported
