"""Every public class and function is documented through the one mechanism (`_docs.docstring`)
and shows every argument of its signature, in full, in `help()`."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

import epochmetrics as em
from epochmetrics import _docs
from epochmetrics.functional import (
    best_threshold,
    bootstrap,
    calibration,
    detection,
    operating_points,
    rank_correlation,
    ranking,
)


def _public() -> dict[str, Any]:
    """Public classes and functions: the package's, its public modules', the callbacks' and
    the plots' (exceptions, warnings and data records have no arguments to document)."""
    import epochmetrics.callbacks
    import epochmetrics.plot
    import epochmetrics.report

    found: dict[str, Any] = {}
    modules = {
        em: em.__all__,
        epochmetrics.callbacks: epochmetrics.callbacks.__all__,
        epochmetrics.plot: epochmetrics.plot.__all__,
        epochmetrics.report: epochmetrics.report.__all__,
        # The public functions of the functional modules (`functional/__init__.py`).
        ranking: ["roc_auc", "average_precision", "roc_curve", "precision_recall_curve"],
        operating_points: [
            "precision_at_recall",
            "recall_at_precision",
            "sensitivity_at_specificity",
            "specificity_at_sensitivity",
            "roc_auc_max_fpr",
        ],
        best_threshold: ["fbeta_at_best_threshold"],
        bootstrap: ["replicate_weights", "percentile_interval", "paired_gain"],
        calibration: ["calibration_error"],
        rank_correlation: ["spearman_corrcoef", "kendall_tau"],
        detection: detection.__all__,
    }
    for module, names in modules.items():
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if inspect.isclass(obj) and issubclass(obj, (Exception, Warning, tuple)):
                continue
            if dataclasses.is_dataclass(obj):  # a record of results, made by the package
                continue
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


PUBLIC = _public()


def _arguments(obj: Any) -> list[str]:
    return [
        p.name
        for p in inspect.signature(obj).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_documented_through_the_one_mechanism_with_every_argument(name: str) -> None:
    obj = PUBLIC[name]
    assert obj in _docs.DOCUMENTED, f"{name} is not decorated with _docs.docstring"
    assert _docs.documented_args(obj) == _arguments(obj), name
    assert "$" not in (obj.__doc__ or ""), name
    assert ": As in `" not in (obj.__doc__ or ""), name  # every argument in full


def test_the_public_list_is_not_empty() -> None:
    names = {n.rsplit(".", 1)[1] for n in PUBLIC}
    assert {"AUROC", "F1Score", "DetectionMAP", "EpochEvaluator", "roc_auc"} <= names
    assert {"precision_at_recall", "coco_evaluate", "plot_history", "summary_text"} <= names


def test_a_missing_description_or_fragment_is_an_error() -> None:
    def f(a: int, b: int) -> None:
        """F.

        Args:
            $args
        """

    with pytest.raises(TypeError, match="no description of argument 'b'"):
        _docs.docstring({"a": "A."})(f)

    def g() -> None:
        """G.

        $nothing
        """

    with pytest.raises(TypeError, match=r"no fragment for \$nothing"):
        _docs.docstring()(g)


def test_arguments_come_in_signature_order_and_fragments_are_indented() -> None:
    def f(b: int, a: int = 0) -> None:
        """F, $what.

        $block

        Args:
            $args
        """

    _docs.docstring({"a": "The a.", "b": "The b."}, what="inline", block="one\ntwo")(f)
    lines = inspect.getdoc(f).splitlines()  # type: ignore[union-attr]
    assert lines[0] == "F, inline."
    assert lines[2:4] == ["one", "two"]
    assert lines[5:8] == ["Args:", "    b: The b.", "    a: The a."]
    assert _docs.documented_args(f) == ["b", "a"]
