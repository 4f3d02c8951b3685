"""plot_confusion_matrix and most_confused."""

from __future__ import annotations

import numpy as np
import pytest

import epochmetrics as em
from epochmetrics.plot import ConfusedPair, most_confused

pytest.importorskip("matplotlib")

CM = [[50, 2, 0], [9, 30, 1], [0, 4, 6]]
NAMES = ["cat", "dog", "fox"]


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_counts_annotations_labels_and_colour_bar():
    fig = em.plot_confusion_matrix(CM, NAMES)
    ax, bar = fig.axes  # the matrix and its colour bar
    assert texts(ax) == ["50", "2", "0", "9", "30", "1", "0", "4", "6"]  # row by row
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert ax.get_xlabel() == "Predicted class" and ax.get_ylabel() == "True class"
    assert bar.get_ylabel() == "count"
    assert ax.get_title() == (
        "Confusion matrix\n"
        "Most confused (true → predicted): dog → cat: 9 (22%), fox → dog: 4 (40%),\n"
        "cat → dog: 2 (4%)"
    )
    np.testing.assert_array_equal(ax.images[0].get_array(), CM)


@pytest.mark.parametrize(
    ("normalize", "expected", "bar_label"),
    [
        ("true", np.array(CM) / np.array(CM).sum(axis=1, keepdims=True), "share of true class"),
        (
            "pred",
            np.array(CM) / np.array(CM).sum(axis=0, keepdims=True),
            "share of predicted class",
        ),
        ("all", np.array(CM) / np.sum(CM), "share of all samples"),
    ],
)
def test_normalisation(normalize, expected, bar_label):
    fig = em.plot_confusion_matrix(CM, NAMES, normalize=normalize)
    ax, bar = fig.axes
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert bar.get_ylabel() == bar_label
    # Rates with the counts under them (few classes).
    assert texts(ax)[0] == f"{expected[0, 0]:.2f}\n(50)"
    assert ax.get_title().startswith(f"Confusion matrix (normalised over {normalize}")


def test_normalize_true_ranks_pairs_by_rate_and_empty_rows_are_zero():
    cm = [[5, 0, 0], [0, 0, 0], [3, 1, 1]]
    fig = em.plot_confusion_matrix(cm, normalize="true")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array()[1], [0, 0, 0])  # no samples of class 1
    assert "2 → 0: 3 (60%)" in ax.get_title()


def test_many_classes_no_annotations_but_readable_ticks():
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 3, size=(31, 31)) + np.diag(np.full(31, 50))
    ax = em.plot_confusion_matrix(cm).axes[0]
    assert texts(ax) == []  # > 30 classes: too small to read
    assert 10 <= len(ax.get_xticks()) <= 30
    ax = em.plot_confusion_matrix(cm[:30, :30]).axes[0]
    assert len(ax.texts) == np.count_nonzero(cm[:30, :30])  # zero cells left blank
    assert len(ax.get_xticks()) == 30
    assert not em.plot_confusion_matrix(cm[:4, :4], annotate=False).axes[0].texts


def test_accepts_tensors_and_ax():
    import keras
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    cm = keras.ops.convert_to_tensor(np.array([[1, 0, 0], [0, 0, 1], [0, 1, 1]], dtype="float32"))
    assert em.plot_confusion_matrix(cm, ax=ax, title="Val") is fig
    assert ax.get_title().startswith("Val\n")
    assert texts(ax) == ["1", "0", "0", "0", "0", "1", "0", "1", "1"]


@pytest.mark.parametrize("framework", ["torch", "tensorflow", "jax"])
def test_accepts_bfloat16_tensors_of_any_framework(framework):
    """A bfloat16 matrix (mixed precision) from any installed framework, whatever the backend."""
    cm = np.array([[3, 1], [0, 2]], dtype="float32")
    if framework == "torch":
        torch = pytest.importorskip("torch")
        tensor = torch.tensor(cm, dtype=torch.bfloat16)
    elif framework == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        tensor = tf.cast(tf.constant(cm), tf.bfloat16)
    else:
        jnp = pytest.importorskip("jax.numpy")
        tensor = jnp.asarray(cm, dtype=jnp.bfloat16)
    ax = em.plot_confusion_matrix(tensor).axes[0]
    assert texts(ax) == ["3", "1", "0", "2"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"cm": [[1, 2, 3]]}, r"square \(C, C\) confusion matrix. Received shape \(1, 3\)"),
        ({"cm": np.zeros((4, 2, 2))}, "multilabel matrices are one \\(2, 2\\) matrix per label"),
        ({"cm": [[1, -1], [0, 1]]}, "finite, non-negative"),
        ({"cm": [[1, 0], [0, 1]], "class_names": ["a"]}, "name the 2 classes .* Received 1 names"),
        ({"cm": [[1, 0], [0, 1]], "normalize": "rows"}, "`normalize` must be None, 'true'"),
    ],
)
def test_bad_inputs(kwargs, error):
    with pytest.raises(ValueError, match=error):
        em.plot_confusion_matrix(**kwargs)


def test_most_confused():
    pairs = most_confused(CM, NAMES, k=5)
    assert pairs == [
        ConfusedPair("dog", "cat", 9.0, 9 / 40),
        ConfusedPair("fox", "dog", 4.0, 4 / 10),
        ConfusedPair("cat", "dog", 2.0, 2 / 52),
        ConfusedPair("dog", "fox", 1.0, 1 / 40),
    ]  # zero cells and the diagonal are never listed
    assert [(p.true, p.pred) for p in most_confused(CM, NAMES, k=2, by="rate")] == [
        ("fox", "dog"),
        ("dog", "cat"),
    ]
    assert most_confused(CM, k=1) == [ConfusedPair("1", "0", 9.0, 9 / 40)]
    assert most_confused(np.eye(3), k=3) == []
    assert most_confused(CM, k=0) == []
    with pytest.raises(ValueError, match="`by` must be 'count' or 'rate'"):
        most_confused(CM, by="share")


def test_most_confused_ties_break_by_rate_then_position():
    cm = [[10, 3, 0], [0, 1, 3], [3, 0, 0]]
    assert [(p.true, p.pred) for p in most_confused(cm, k=3)] == [
        ("2", "0"),
        ("1", "2"),
        ("0", "1"),
    ]


@pytest.mark.parametrize("n", [3, 40])
def test_png_bytes_are_the_pixels_of_savefig(n):
    """The one-draw PNG of em.TensorBoard's images: savefig's pixels, size in the header."""
    import io

    from matplotlib.image import imread

    from epochmetrics.plot._mpl import png_bytes

    cm = np.random.default_rng(n).integers(0, 9, (n, n))
    saved = io.BytesIO()
    em.plot_confusion_matrix(cm, normalize="true").savefig(saved, format="png", dpi=72)
    png, width, height = png_bytes(em.plot_confusion_matrix(cm, normalize="true"), 72)
    expected, got = imread(io.BytesIO(saved.getvalue())), imread(io.BytesIO(png))
    assert got.shape == expected.shape == (height, width, 4)
    np.testing.assert_array_equal(got, expected)
