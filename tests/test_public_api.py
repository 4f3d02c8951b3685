"""The public API: what `import epochmetrics as em` exports."""

from __future__ import annotations

import keras
import pytest
from helpers import HOST_METRICS, LOWER_IS_BETTER, METRIC_TASKS, REGRESSION_METRICS

import epochmetrics as em


def test_all_is_sorted_and_complete() -> None:
    assert em.__all__ == sorted(em.__all__)
    assert len(set(em.__all__)) == len(em.__all__)
    for name in em.__all__:
        assert hasattr(em, name), name
    public = {n for n in dir(em) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(em.__all__), public - set(em.__all__)


def test_metrics_are_registered_keras_metrics_with_direction() -> None:
    for name in [*METRIC_TASKS, *HOST_METRICS, *REGRESSION_METRICS]:
        cls = getattr(em, name)
        assert issubclass(cls, keras.metrics.Metric)
        assert cls._direction == ("down" if name in LOWER_IS_BETTER else "up")
        assert keras.saving.get_registered_name(cls) == f"epochmetrics>{name}"
        assert cls.__doc__ and "Examples:" in cls.__doc__, name


def test_the_test_registry_covers_every_exported_metric() -> None:
    """Cross-cutting tests iterate the registries of `helpers`: they list every metric class."""
    exported = {
        n
        for n in em.__all__
        if isinstance(getattr(em, n), type) and issubclass(getattr(em, n), keras.metrics.Metric)
    }
    assert set(METRIC_TASKS) | set(HOST_METRICS) | set(REGRESSION_METRICS) == exported


def test_names_resolve_lazily_and_consistently() -> None:
    import epochmetrics.functional.ranking
    import epochmetrics.metrics

    assert em.F1Score is epochmetrics.metrics.F1Score
    assert em.UndefinedMetricWarning is epochmetrics.functional.ranking.UndefinedMetricWarning
    assert em.load_history is em.callbacks.load_history
    assert em.functional.ranking.roc_auc([0, 1], [0.2, 0.8]) == 1.0  # subpackages as attributes
    assert set(em.__all__) <= set(dir(em))
    assert {"callbacks", "functional", "metrics", "plot", "report"} <= set(dir(em))
    namespace: dict[str, object] = {}
    exec("from epochmetrics import *", namespace)
    assert set(em.__all__) <= set(namespace)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'epochmetrics' has no attribute 'F2Score'"):
        em.F2Score  # noqa: B018
    with pytest.raises(ImportError):
        exec("from epochmetrics import F2Score", {})
    assert not hasattr(em, "select_backend")  # helpers stay private
