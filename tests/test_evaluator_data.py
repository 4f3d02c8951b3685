"""EpochEvaluator data forms: arrays, tf.data, PyDataset, DataLoader, iterables, generators."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn import metrics as skm

import epochmetrics as em

C, N = 3, 37
_RNG = np.random.default_rng(7)
X = _RNG.dirichlet(np.ones(C), size=N).astype("float32")  # the identity model predicts x
Y = _RNG.integers(0, C, size=N).astype("int32")
W = _RNG.integers(1, 4, size=N).astype("float32")


def _identity_model():
    inputs = keras.Input((C,))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def _batches(x=X, y=Y, w=None, size=10):
    for start in range(0, len(x), size):
        cut = slice(start, start + size)
        yield (x[cut], y[cut]) if w is None else (x[cut], y[cut], w[cut])


def _expected(weighted=False):
    w = W if weighted else None
    return {"val_f1": skm.f1_score(Y, X.argmax(1), average="macro", sample_weight=w)}


def _evaluate(data, weighted=False, **kwargs):
    metrics = [em.F1Score("multiclass", num_classes=C)]
    if weighted:  # a callable must accept the weights the data carries
        metrics = {
            "f1": metrics[0],
            "skl": lambda yt, yp, sample_weight=None: skm.f1_score(
                yt, yp.argmax(1), average="macro", sample_weight=sample_weight
            ),
        }
    ev = em.EpochEvaluator(data, metrics, **kwargs)
    got = ev.evaluate(_identity_model())
    assert got["val_f1"] == pytest.approx(_expected(weighted)["val_f1"], abs=1e-6)
    if weighted:
        assert got["val_skl"] == pytest.approx(got["val_f1"], abs=1e-6)
    return ev


def _tf_dataset(weighted=False):
    tf = pytest.importorskip("tensorflow")
    parts = (X, Y, W) if weighted else (X, Y)
    return tf.data.Dataset.from_tensor_slices(parts).batch(10)


def _torch_loader(weighted=False):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    parts = [torch.from_numpy(X), torch.from_numpy(Y)] + ([torch.from_numpy(W)] if weighted else [])
    return DataLoader(TensorDataset(*parts), batch_size=10, shuffle=False)


class _Sequence(keras.utils.PyDataset):
    def __init__(self, weighted=False):
        super().__init__()
        self.weighted = weighted
        self.epochs_ended = 0

    def __len__(self):
        return 4

    def __getitem__(self, index):
        cut = slice(10 * index, 10 * index + 10)
        return (X[cut], Y[cut], W[cut]) if self.weighted else (X[cut], Y[cut])

    def on_epoch_end(self):
        self.epochs_ended += 1


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "form", ["arrays", "tf.data", "PyDataset", "DataLoader", "list", "callable", "iterator+steps"]
)
def test_each_data_form_gives_the_scikit_learn_value(form, weighted):
    w = W if weighted else None
    if form == "arrays":
        _evaluate((X, Y, W) if weighted else (X, Y), weighted, batch_size=10)
    elif form == "tf.data":
        _evaluate(_tf_dataset(weighted), weighted)
    elif form == "PyDataset":
        seq = _Sequence(weighted)
        _evaluate(seq, weighted)
        assert seq.epochs_ended == 1
    elif form == "DataLoader":
        ev = _evaluate(_torch_loader(weighted), weighted)
        ev.evaluate(_identity_model())  # re-iterable: a second pass works
    elif form == "list":
        _evaluate(list(_batches(w=w)), weighted)
    elif form == "callable":
        ev = _evaluate(lambda: _batches(w=w), weighted)
        ev.evaluate(_identity_model())
    else:  # one long iterator, `steps` batches per evaluation
        twice = (*_batches(w=w), *_batches(w=w))
        ev = _evaluate(iter(twice), weighted, steps=4)
        ev.evaluate(_identity_model())
        with pytest.raises(ValueError, match="ran out of batches"):
            ev.evaluate(_identity_model())


def test_a_generator_is_read_once_with_a_clear_error_on_the_second_pass():
    ev = _evaluate(_batches())
    with pytest.raises(
        ValueError, match=r"used up by an earlier evaluation.*lambda: make_batches\(\)"
    ):
        ev.evaluate(_identity_model())


def test_a_generator_is_refused_at_train_begin_when_fit_would_evaluate_twice():
    model = keras.Sequential([keras.Input((C,)), keras.layers.Dense(C, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    ev = em.EpochEvaluator(_batches(), [em.F1Score("multiclass", num_classes=C)])
    with pytest.raises(ValueError, match="can be read only once"):
        model.fit(X, Y, epochs=2, verbose=0, callbacks=[ev])


def test_infinite_sources_need_steps():
    tf = pytest.importorskip("tensorflow")
    with pytest.raises(ValueError, match="pass `steps=N`"):
        em.EpochEvaluator(
            tf.data.Dataset.from_tensor_slices((X, Y)).batch(8).repeat(), [em.Accuracy("binary")]
        )
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(10).repeat()
    metric = em.Accuracy("multiclass", num_classes=C)
    em.EpochEvaluator(ds, [metric], steps=2).evaluate(_identity_model())
    assert float(metric.result()) == pytest.approx(skm.accuracy_score(Y[:20], X[:20].argmax(1)))


def test_weights_with_a_callable_that_cannot_take_them():
    ev = em.EpochEvaluator((X, Y, W), {"f1": lambda yt, yp: 0.0})
    with pytest.raises(em.callbacks.EvaluationError, match="no `sample_weight` argument"):
        ev.evaluate(_identity_model())


def test_batches_without_targets():
    ev = em.EpochEvaluator([(X,)], [em.Accuracy("multiclass", num_classes=C)])
    with pytest.raises(ValueError, match="has no targets"):
        ev.evaluate(_identity_model())


def test_dict_inputs_for_a_multi_input_model():
    a, b = keras.Input((C,), name="a"), keras.Input((C,), name="b")
    model = keras.Model({"a": a, "b": b}, keras.layers.Add()([a, b]))
    ev = em.EpochEvaluator(
        ({"a": X, "b": X}, Y), [em.F1Score("multiclass", num_classes=C)], batch_size=8
    )
    assert ev.evaluate(model)["val_f1"] == pytest.approx(_expected()["val_f1"], abs=1e-6)


def test_whole_arrays_are_built_in_place_and_large_ones_warn(monkeypatch):
    # The rows of every batch go into one array allocated once (its size known from the data
    # or the previous evaluation), whatever the batches; past LARGE_GATHER_BYTES a warning
    # names the metrics that need whole arrays and the cheaper way.
    from epochmetrics.callbacks import _processes
    from epochmetrics.callbacks._gather import Rows

    rows = Rows()
    for expected in (None, 7, 5):  # unknown, exact, too small: all give the rows in order
        rows.start(expected)
        for part in (np.arange(3), np.arange(3, 4), np.arange(4, 7)):
            rows.add(part)
        np.testing.assert_array_equal(rows.result(), np.arange(7))
    rows.start()  # the previous count (7): preallocated
    rows.add(np.zeros((2, 2)))
    assert rows._out is not None and rows._out.shape == (7, 2)
    rows.add(np.ones((1, 2)))
    np.testing.assert_array_equal(rows.result(), [[0, 0], [0, 0], [1, 1]])

    rng = np.random.default_rng(0)
    x, y = rng.random((50, 3)).astype("float32"), rng.integers(0, 3, 50)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Softmax()(inputs))
    monkeypatch.setattr(_processes, "LARGE_GATHER_BYTES", 100)
    ev = em.EpochEvaluator((x, y), {"auroc": em.AUROC("multiclass", num_classes=3)})
    with pytest.warns(
        UserWarning,
        match=r"holds the whole arrays of the evaluation .* for 'auroc' \(AUROC\).* binned mode",
    ):
        first = ev.evaluate(model)
    assert ev.evaluate(model) == first  # once per evaluator
