"""plot_history: sources, per-class grouping, panels, best epoch, many classes, no matplotlib."""

from __future__ import annotations

import json
import math
import sys

import keras
import numpy as np
import pytest

import epochmetrics as em
from epochmetrics._files import history as _history
from epochmetrics._files import keys as _keys
from epochmetrics._files.synthetic import write_fake_run

pytest.importorskip("matplotlib")


def make_logs(classes: list[str], epochs: int = 6, seed: int = 0) -> dict[str, list[float]]:
    """Keras-style logs: loss, f1_macro and per-class f1 for train and val."""
    rng = np.random.default_rng(seed)
    logs: dict[str, list[float]] = {}
    t = np.arange(epochs)
    for prefix in ("", "val_"):
        per_class = [np.clip(0.3 + 0.1 * t + rng.normal(0, 0.02, epochs), 0, 1) for _ in classes]
        for c, v in zip(classes, per_class, strict=True):
            logs[f"{prefix}f1_{c}"] = v.tolist()
        logs[f"{prefix}f1_macro"] = np.mean(per_class, axis=0).tolist()
        logs[f"{prefix}loss"] = (2.0 / (t + 1)).tolist()
    return logs


def titles(fig) -> list[str]:
    return [a.get_title() for a in fig.axes]


def line_labels(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines()]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


# --- sources ----------------------------------------------------------------------------------


def test_sources_all_give_the_same_panels(tmp_path):
    logs = make_logs(["0", "1", "2"])
    keras_history = keras.callbacks.History()
    keras_history.history = logs
    keras_history.epoch = list(range(6))
    csv_path = tmp_path / "history.csv"
    keys = sorted(logs)
    rows = ["epoch," + ",".join(keys)]
    rows += [f"{e}," + ",".join(repr(logs[k][e]) for k in keys) for e in range(6)]
    csv_path.write_text("\n".join(rows) + "\n")
    json_path = tmp_path / "logs.json"
    json_path.write_text(json.dumps(logs))

    expected = titles(em.plot_history(logs))
    for source in (keras_history, csv_path, str(csv_path), json_path):
        assert titles(em.plot_history(source)) == expected
    assert [t.split(" (")[0] for t in expected] == ["f1_macro", "f1 per class", "loss"]


def test_evaluator_history_dict_and_json(tmp_path):
    evaluator = {
        "epochs": [1, 3, 5],
        "scalars": {
            "val_f1_macro": [0.5, 0.7, 0.6],
            "val_f1_cat": [0.6, 0.8, 0.7],
            "val_f1_dog": [0.4, 0.6, 0.5],
        },
        "matrices": {
            "val_confusion_matrix": {
                "class_names": ["cat", "dog"],
                "values": [[[1, 0], [0, 1]]] * 3,
            }
        },
        "directions": {"val_f1_macro": "up"},
    }
    path = tmp_path / "evaluation.json"
    path.write_text(json.dumps({"format": "epochmetrics.history/1", **evaluator}))
    for source in (evaluator, path):
        fig = em.plot_history(source)
        # Class names come from the matrix: f1_cat and f1_dog are one per-class panel.
        assert titles(fig) == [
            "f1_macro (best val 0.7 at epoch 3)",
            "f1 per class (best val_f1_macro at epoch 3)",
        ]
        per_class = fig.axes[1]
        assert {"val_f1_cat", "val_f1_dog"} <= set(line_labels(per_class))
        # x values are the evaluated epochs, not 0..n-1
        line = next(li for li in per_class.get_lines() if li.get_label() == "val_f1_cat")
        assert list(line.get_xdata()) == [1, 3, 5]
        assert "class cat" in legend_texts(fig)


def test_csvlogger_quirks_na_and_matrix_columns(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(
        "epoch,accuracy,confusion_matrix,val_accuracy\n"
        '0,0.5,"[[1, 2], [3, 4]]",NA\n'
        '1,0.6,"[[1, 2], [3, 4]]",0.55\n'
    )
    h = _history.read_history(path)
    assert sorted(h.scalars) == ["accuracy", "val_accuracy"]
    assert math.isnan(h.scalars["val_accuracy"][0])
    assert titles(em.plot_history(path)) == ["accuracy (best val 0.55 at epoch 1)"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("epoch,loss\n0,1.0,2.0\n", "line 2 has 3 values"),
        ("epoch,loss\n", "no data rows"),
        ("name,comment\na,b\n", "no numeric metric columns"),
        ("{not json", "invalid JSON"),
        ('{"format": "other/1", "epochs": []}', "unknown history format"),
        ('{"epochs": [0, 1], "scalars": {"val_f1": [0.1]}}', "needs 2 numbers"),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / ("h.json" if content.startswith("{") else "h.csv")
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        em.plot_history(path)


def test_missing_file_and_bad_type(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        em.plot_history(tmp_path / "nope.csv")
    with pytest.raises(TypeError, match="keras History"):
        em.plot_history(42)


# --- telling per-class keys from others -------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "class_names", "expected"),
    [
        # f1_macro is never a class; digit families with >= 2 suffixes are.
        (["f1_0", "f1_1", "f1_macro", "val_f1_1"], None, {"f1": True, "f1_macro": False}),
        # One digit suffix alone is not a family.
        (["conv_1", "loss"], None, {"conv_1": False, "loss": False}),
        # Named classes need the names.
        (["f1_cat", "f1_dog"], None, {"f1_cat": False, "f1_dog": False}),
        (["f1_cat", "f1_dog", "f1_macro"], ["cat", "dog"], {"f1": True, "f1_macro": False}),
        # A class name containing "_" wins over a shorter suffix.
        (["recall_big_cat", "recall_cat"], ["big_cat", "cat"], {"recall": True}),
        # ClassificationReport keys: several per-class families and averages.
        (
            ["precision_0", "precision_1", "recall_0", "recall_1", "support_0", "support_1",
             "precision_weighted", "accuracy"],
            None,
            {"precision": True, "recall": True, "support": True, "precision_weighted": False,
             "accuracy": False},
        ),
    ],
)  # fmt: skip
def test_group_panels(keys, class_names, expected):
    h = _history.History(list(range(3)), {k: [0.1, 0.2, 0.3] for k in keys})
    panels, _ = _keys.group_panels(h, class_names)
    assert {p.metric: p.per_class for p in panels} == expected


def test_group_panels_class_order_and_directions():
    keys = ["f1_10", "f1_2", "f1_1", "val_loss", "loss", "val_f1_2"]
    h = _history.History([0, 1], {k: [0.1, 0.2] for k in keys})
    panels, classes = _keys.group_panels(h)
    assert classes == ["1", "2", "10"]  # numeric, not lexicographic
    assert [p.metric for p in panels] == ["f1", "loss"]  # losses last
    assert [p.direction for p in panels] == ["up", "down"]
    assert [(s.cls, s.split) for s in panels[0].series] == [
        ("1", "train"), ("2", "train"), ("2", "val"), ("10", "train")
    ]  # fmt: skip


# --- figures ----------------------------------------------------------------------------------


def test_two_classes_lines_styles_colours_and_best_epoch():
    logs = make_logs(["neg", "pos"])
    fig = em.plot_history(logs, class_names=["neg", "pos"])
    macro, per_class, loss = fig.axes
    assert macro.get_xlabel() == "epoch" and macro.get_ylabel() == "f1_macro"
    lines = {li.get_label(): li for li in per_class.get_lines()}
    assert {"f1_neg", "val_f1_neg", "f1_pos", "val_f1_pos"} <= set(lines)
    assert lines["f1_neg"].get_linestyle() == "--" and lines["val_f1_neg"].get_linestyle() == "-"
    assert lines["f1_neg"].get_color() == lines["val_f1_neg"].get_color()
    assert lines["f1_neg"].get_color() != lines["f1_pos"].get_color()
    # f1_macro increases: best = last epoch; loss decreases: best = last epoch too (min).
    best = int(np.argmax(logs["val_f1_macro"]))
    assert (
        macro.get_title() == f"f1_macro (best val {logs['val_f1_macro'][best]:.4g} at epoch {best})"
    )
    assert loss.get_title() == f"loss (best val {min(logs['val_loss']):.4g} at epoch 5)"
    assert any(li.get_label() == "best" for li in loss.get_lines())  # the vertical marker
    legend = legend_texts(fig)
    assert legend[:2] == ["class neg", "class pos"]
    assert {"train", "validation", "best epoch"} <= set(legend)


def test_loss_best_is_the_minimum_and_metric_best_the_maximum():
    logs = {"loss": [1.0, 0.5, 0.7], "val_auc": [0.6, 0.9, 0.8], "val_error_rate": [0.3, 0.2, 0.25]}
    fig = em.plot_history(logs)
    assert titles(fig) == [
        "auc (best val 0.9 at epoch 1)",
        "loss (best train 0.5 at epoch 1)",
        "error_rate (best val 0.2 at epoch 1)",
    ]


def test_consistent_class_colours_across_panels():
    logs = {}
    for metric in ("precision", "recall"):
        for c in range(3):
            logs[f"val_{metric}_{c}"] = [0.1 * c, 0.2, 0.3]
    fig = em.plot_history(logs)
    assert [a.get_title().split(" (")[0] for a in fig.axes] == [
        "precision per class",
        "recall per class",
    ]
    colours = [
        {
            li.get_label().rsplit("_", 1)[1]: li.get_color()
            for li in a.get_lines()
            if "_" in li.get_label()
        }
        for a in fig.axes
    ]
    assert colours[0] == colours[1]
    assert len(set(colours[0].values())) == 3


def test_fifty_classes_highlight_worst_and_best():
    classes = [str(i) for i in range(50)]
    logs = make_logs(classes, epochs=5)
    logs["val_f1_17"] = [0.01, 0.02, 0.03, 0.02, 0.01]  # clearly the worst class
    logs["val_f1_33"] = [0.99] * 5  # clearly the best
    fig = em.plot_history(logs, highlight=2)
    per_class = fig.axes[1]
    faded = [li for li in per_class.get_lines() if li.get_color() == "#b8b8b8"]
    coloured = [li for li in per_class.get_lines() if li.get_label().startswith(("f1_", "val_f1_"))]
    coloured = [li for li in coloured if li not in faded]
    assert len(faded) == 2 * 46
    assert {li.get_label() for li in coloured} >= {"val_f1_17", "val_f1_33", "f1_17", "f1_33"}
    legend = legend_texts(fig)
    assert legend[0].startswith("worst and best val f1, epoch ")
    assert legend[1].startswith("class 17: ")  # worst first
    assert any(t.startswith("class 33: ") for t in legend[1:5])
    assert "46 other classes" in legend
    assert len(legend) < 15  # readable: no 50-entry legend


def test_metrics_selection_per_class_switch_and_support_hidden():
    logs = make_logs(["0", "1"])
    logs.update({"val_support_0": [5.0] * 6, "val_support_1": [7.0] * 6})
    assert "support per class" not in " ".join(titles(em.plot_history(logs)))
    fig = em.plot_history(logs, metrics=["val_loss", "support"])
    assert [t.split(" (")[0] for t in titles(fig)] == ["loss", "support per class"]
    fig = em.plot_history(logs, per_class=False)
    assert [t.split(" (")[0] for t in titles(fig)] == ["f1_macro", "loss"]
    assert em.plot_history(logs, metrics="loss").axes[0].get_ylabel() == "loss"
    with pytest.raises(ValueError, match=r"Unknown metric 'acc'. Available metrics: \['f1', "):
        em.plot_history(logs, metrics=["acc"])
    with pytest.raises(ValueError, match="per-class metric: pass per_class=True"):
        em.plot_history(logs, metrics=["f1"], per_class=False)


def test_ax_argument():
    from matplotlib.figure import Figure

    logs = make_logs(["0", "1"])
    fig = Figure()
    ax = fig.add_subplot()
    assert em.plot_history(logs, metrics="f1", ax=ax) is fig
    assert {"f1_0", "val_f1_1"} <= set(line_labels(ax))
    assert ax.get_legend() is not None
    axes = Figure().subplots(1, 2)
    out = em.plot_history(logs, metrics=["f1_macro", "loss"], ax=axes)
    assert [a.get_ylabel() for a in out.axes] == ["f1_macro", "loss"]
    grid = Figure().subplots(2, 2)  # a 2-D array of Axes, as plt.subplots returns
    out = em.plot_history({**logs, "val_mcc": [0.1] * 6}, ax=grid)
    assert [a.get_ylabel() for a in out.axes] == ["mcc", "f1_macro", "f1", "loss"]
    with pytest.raises(ValueError, match="gives 1 Axes for 3 panels"):
        em.plot_history(logs, ax=Figure().add_subplot())


def test_nan_values_and_all_nan_series():
    logs = {
        "val_f1_macro": [math.nan, 0.5, math.nan, 0.7],
        "val_mcc": [math.nan] * 4,
        "loss": [1, 2, 3, 4],
    }
    fig = em.plot_history(logs)
    assert titles(fig)[0] == "f1_macro (best val 0.7 at epoch 3)"
    assert titles(fig)[1] == "mcc"  # nothing finite: no best epoch


def test_saves_png_of_a_fake_run(tmp_path):
    run = write_fake_run(tmp_path / "run", num_classes=4, epochs=5)
    fig = em.plot_history(run / "history.csv")
    fig.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_install_hint(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'epochmetrics\[plot\]'"):
        em.plot_history({"loss": [1.0, 0.5]})
    with pytest.raises(ImportError, match=r"pip install 'epochmetrics\[plot\]'"):
        em.plot_confusion_matrix([[1, 0], [0, 1]])


def test_class_names_from_a_sibling_run_json(tmp_path):
    run = write_fake_run(tmp_path, num_classes=2, epochs=3, class_names=["cat", "dog"])
    fig = em.plot_history(run / "history.csv")
    assert [t.split(" (")[0] for t in titles(fig)] == ["f1_macro", "f1 per class", "loss"]
    assert {"class cat", "class dog"} <= set(legend_texts(fig))
    (run / "run.json").write_text("{broken")  # unreadable: the keys are then plain metrics
    assert "f1_cat" in [t.split(" (")[0] for t in titles(em.plot_history(run / "history.csv"))]


def test_panel_order_puts_each_family_after_its_averages():
    keys = ["precision_0", "precision_1", "recall_macro", "recall_0", "recall_1", "f1_macro",
            "f1_0", "f1_1", "loss", "accuracy"]  # fmt: skip
    h = _history.History([0, 1], {k: [0.1, 0.2] for k in keys})
    panels, _ = _keys.group_panels(h)
    assert [(p.metric, p.per_class) for p in panels] == [
        ("accuracy", False),
        ("precision", True),
        ("recall_macro", False),
        ("recall", True),
        ("f1_macro", False),
        ("f1", True),
        ("loss", False),
    ]


def test_per_class_without_average_marks_the_best_mean_epoch():
    logs = {"val_f1_0": [math.nan, 0.5, 0.9, 0.8], "val_f1_1": [math.nan, 0.6, 0.5, 0.7]}
    (ax,) = em.plot_history(logs).axes
    assert ax.get_title() == "f1 per class (best mean val over classes at epoch 3)"


def test_intervals_are_bands_and_the_noise_aware_monitor_a_held_line():
    """An evaluator's `K_low` / `K_high` are drawn as a band around K and `K_sig` as a held
    line, in K's panel: never as panels of their own."""
    from matplotlib.collections import PolyCollection

    logs = make_logs(["a", "b"])
    for key in ("val_f1_macro", "val_f1_a", "val_f1_b"):
        v = np.asarray(logs[key])
        logs[key + "_low"], logs[key + "_high"] = (v - 0.05).tolist(), (v + 0.04).tolist()
    logs["val_f1_macro_sig"] = np.maximum.accumulate(logs["val_f1_macro"]).tolist()
    logs["val_f1_macro_p_better"] = [math.nan] + [0.7] * 5
    fig = em.plot_history(logs, class_names=["a", "b"])
    macro, per_class, _ = fig.axes
    assert titles(fig)[0].startswith("f1_macro (") and len(fig.axes) == 3
    (band,) = [c for c in macro.collections if isinstance(c, PolyCollection)]
    assert band.get_label() == "val_f1_macro interval"
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(min(logs["val_f1_macro_low"]))
    assert ys.max() == pytest.approx(max(logs["val_f1_macro_high"]))
    held = {li.get_label(): li for li in macro.get_lines()}["val_f1_macro_sig (noise-aware)"]
    np.testing.assert_allclose(held.get_ydata(), logs["val_f1_macro_sig"])
    bands = [c.get_label() for c in per_class.collections if isinstance(c, PolyCollection)]
    assert sorted(bands) == ["val_f1_a interval", "val_f1_b interval"]
    assert not any(k.endswith(("_low", "_high", "_sig", "_p_better")) for k in line_labels(macro)
                   if k.startswith("val_f1_macro_"))  # fmt: skip
    assert {"confidence interval", "noise-aware best (_sig)"} <= set(legend_texts(fig))
    plain = em.plot_history(make_logs(["a", "b"]), class_names=["a", "b"])
    assert "confidence interval" not in legend_texts(plain)
