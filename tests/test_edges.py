"""Trust at the edges: log keys, non-finite weights, low precision, many classes, exact sums.

Every case here once gave a plausible wrong number, an obscure error or a stall.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np
import pytest
import sklearn.metrics as skm
from helpers import BACKEND, REPORT_ITEMS, assert_close, make_metric, metric_cases, sk

import epochmetrics as em

C = 3


def _frozen_two_heads() -> keras.Model:
    """Two outputs whose predictions are slices of the input (a frozen identity)."""
    inputs = keras.Input((2 * C,))
    ident = keras.layers.Dense(2 * C, use_bias=False, kernel_initializer="identity")(inputs)
    digit = keras.layers.Lambda(lambda t: t[:, :C], name="digit")(ident)
    parity = keras.layers.Lambda(lambda t: t[:, C:], name="parity")(ident)
    return keras.Model(inputs, {"digit": digit, "parity": parity})


def _frozen(width: int) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((width,)),
            keras.layers.Dense(width, use_bias=False, kernel_initializer="identity"),
        ]
    )


def _compile(model: keras.Model, loss: Any, metrics: Any, **kw: Any) -> None:
    model.compile(keras.optimizers.SGD(learning_rate=0.0), loss=loss, metrics=metrics, **kw)


# --- 1. log keys ---------------------------------------------------------------------------------
def test_two_outputs_keep_their_per_class_keys_apart() -> None:
    rng = np.random.default_rng(0)
    n = 90
    x = rng.random((n, 2 * C)).astype(np.float32)
    y = {"digit": rng.integers(0, C, n), "parity": rng.integers(0, C, n)}
    model = _frozen_two_heads()
    metric = {
        out: [
            em.F1Score("multiclass", num_classes=C, average=None),
            em.ClassificationReport("multiclass", num_classes=C, include=["recall"]),
        ]
        for out in ("digit", "parity")
    }
    loss = "sparse_categorical_crossentropy"
    _compile(model, {"digit": loss, "parity": loss}, metric)
    logs = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    for i, out in enumerate(("digit", "parity")):
        pred = x[:, i * C : (i + 1) * C].argmax(1)
        f1 = sk(skm.f1_score, y[out], pred, average=None, labels=range(C))
        recall = sk(skm.recall_score, y[out], pred, average="macro")
        for k in range(C):
            assert_close(logs[f"{out}_f1_{k}"], f1[k], what=f"{out}_f1_{k}")
        assert_close(logs[f"{out}_recall_macro"], recall, what=out)
    assert not any(key.startswith("f1_") for key in logs)
    # History, hence CSVLogger and the monitors, get the same keys with val_.
    history = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0).history
    assert "val_parity_f1_2" in history and "val_digit_recall_weighted" in history


def test_a_collision_is_an_error_at_the_first_step_naming_both_metrics() -> None:
    model = _frozen(C)
    _compile(
        model,
        "mse",
        [
            em.F1Score("multiclass", num_classes=C, average=None),  # f1_0, f1_1, f1_2
            em.F1Score("multiclass", num_classes=C),  # Keras renames it f1_1
        ],
    )
    x = np.eye(C, dtype=np.float32)
    with pytest.raises(
        ValueError,
        match=r"would write the log key 'f1_1': F1Score 'f1' through its key 'f1_1' and F1Score "
        r"'f1' \(logged by Keras as 'f1_1'\)\. Give one of them a distinct `name`",
    ):
        model.evaluate(x, np.arange(C), verbose=0)


def test_repeated_per_class_metrics_get_keras_renamed_keys() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(60).astype(np.float32)
    y = rng.integers(0, 2, 60)
    model = _frozen(1)
    _compile(
        model,
        "mse",
        [
            em.Recall("binary", average=None, threshold=0.3),
            em.Recall("binary", average=None, threshold=0.7),
        ],
    )
    logs = model.evaluate(p[:, None], y, batch_size=8, return_dict=True, verbose=0)
    assert sorted(k for k in logs if k != "loss") == [
        "recall_0",
        "recall_1",
        "recall_1_0",
        "recall_1_1",
    ]
    for key, threshold in (("recall", 0.3), ("recall_1", 0.7)):
        expected = sk(skm.recall_score, y, (p > threshold).astype(int), average=None)
        assert_close([logs[f"{key}_0"], logs[f"{key}_1"]], expected, what=key)


def test_keras_canary_compiled_metric_names() -> None:
    """Keras-behaviour canary: our copy of CompileMetrics' naming gives Keras' own keys.

    If this fails, Keras changed how it names compiled metrics, and per-class keys would no
    longer follow: update `metrics/_keras_calls.py` (`_compiled_names`).
    """
    from epochmetrics.metrics._keras_calls import _compiled_names

    model = _frozen_two_heads()
    acc = keras.metrics.MeanSquaredError
    model.compile(
        "sgd",
        loss={"digit": "mse", "parity": "mse"},
        metrics={"digit": [acc(name="a"), acc(name="a"), acc(name="a")], "parity": [acc("a")]},
        weighted_metrics={"digit": [acc(name="a"), acc(name="w")], "parity": [acc(name="a")]},
    )
    x = np.eye(2 * C, dtype=np.float32)
    y = {"digit": np.zeros((2 * C, C)), "parity": np.zeros((2 * C, C))}
    model.evaluate(x, y, verbose=0)
    compiled = model._compile_metrics
    ours = [prefix + name for _, prefix, name in _compiled_names(compiled)]
    assert ours == list(compiled.result())


# --- 2. non-finite sample weights ----------------------------------------------------------------
def _data(task: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if task == "binary":
        return rng.integers(0, 2, n), rng.random(n).astype(np.float32)
    if task == "multiclass":
        return rng.integers(0, C, n), rng.random((n, C)).astype(np.float32)
    return rng.integers(0, 2, (n, C)), rng.random((n, C)).astype(np.float32)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(("name", "task"), metric_cases())
def test_a_non_finite_weight_is_an_eager_error(name: str, task: str, bad: float) -> None:
    metric = make_metric(name, task, C)
    y, p = _data(task, 6, np.random.default_rng(2))
    w = np.ones(6)
    w[4] = bad
    with pytest.raises(
        ValueError,
        match=r"`sample_weight` must be finite\. Received 1 NaN or infinite weight"
        r"\(s\), the first at index 4",
    ):
        metric.update_state(y, p, w)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_a_nan_weight_in_a_compiled_step_makes_every_key_nan(task: str) -> None:
    """Never a plausible average: macro, weighted, per-class, MCC, all NaN, with a warning."""
    rng = np.random.default_rng(3)
    n = 40
    y, p = _data(task, n, rng)
    w = rng.integers(1, 3, n).astype(np.float32)
    w[17] = np.nan
    kw = {} if task == "binary" else {"num_classes": C}
    include = [i for i in REPORT_ITEMS if task != "multilabel" or i not in ("mcc", "kappa")]
    if task == "multilabel":
        include = [i for i in include if i != "balanced_accuracy"]
    metrics = [
        em.ClassificationReport(task, **kw, include=include, averages=["micro", "macro"]),
        em.AUROC(task, **kw, average=None),
    ]
    width = 1 if task == "binary" else C
    model = _frozen(width)
    loss = "sparse_categorical_crossentropy" if task == "multiclass" else "binary_crossentropy"
    _compile(model, loss, [], weighted_metrics=metrics)
    x = p.reshape(n, width)
    with pytest.warns(RuntimeWarning, match="1 NaN or infinite sample weights"):
        logs = model.evaluate(x, y, sample_weight=w, batch_size=8, return_dict=True, verbose=0)
    values = {k: v for k, v in logs.items() if k != "loss"}
    assert len(values) > 10
    assert all(math.isnan(v) for v in values.values()), values


# --- 3. float16 and bfloat16 predictions ---------------------------------------------------------
def _low_precision(p: np.ndarray, dtype: str) -> Any:
    if dtype == "float16":
        return p.astype(np.float16)
    import ml_dtypes

    return p.astype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_predictions_in_update_state(dtype: str) -> None:
    rng = np.random.default_rng(4)
    y, p = _data("multiclass", 50, rng)
    low = _low_precision(p, dtype)
    exact = np.asarray(low, np.float32)
    for name in ("F1Score", "AUROC", "AveragePrecision"):
        metric = make_metric(
            name, "multiclass", C, **({"exact": True, "capacity": 64} if name != "F1Score" else {})
        )
        metric.update_state(y, keras.ops.convert_to_tensor(low))
        reference = make_metric(
            name, "multiclass", C, **({"exact": True, "capacity": 64} if name != "F1Score" else {})
        )
        reference.update_state(y, exact)
        assert_close(metric.result(), float(reference.result()), atol=1e-12, what=name)


def test_fit_under_mixed_bfloat16() -> None:
    rng = np.random.default_rng(5)
    y, p = _data("multiclass", 64, rng)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _frozen(C)
        metrics = [
            em.F1Score("multiclass", num_classes=C),
            em.AUROC("multiclass", num_classes=C, exact=True, capacity=64),
            em.AveragePrecision("multiclass", num_classes=C),
        ]
        _compile(model, "sparse_categorical_crossentropy", metrics)
        logs = model.evaluate(p, y, batch_size=16, return_dict=True, verbose=0)
        pred = np.asarray(model.predict(p, verbose=0)).astype(np.float32)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert_close(logs["f1"], sk(skm.f1_score, y, pred.argmax(1), average="macro"))
    one_vs_rest = [skm.roc_auc_score(y == k, pred[:, k]) for k in range(C)]
    assert_close(logs["auroc"], np.mean(one_vs_rest), atol=1e-6)
    assert math.isfinite(logs["average_precision"])


# --- 4. many classes -----------------------------------------------------------------------------
def test_ten_thousand_per_class_keys_in_class_order() -> None:
    c = 10_000
    rng = np.random.default_rng(6)
    y, p = rng.integers(0, c, 500), rng.integers(0, c, 500)
    metric = em.F1Score("multiclass", num_classes=c, average=None)
    metric.update_state(y, p)
    result = metric.result()
    assert list(result) == [f"f1_{k}" for k in range(c)]
    f1 = sk(skm.f1_score, y, p, average=None, labels=range(c))
    assert_close([result[f"f1_{k}"] for k in range(0, c, 97)], f1[::97], atol=1e-12)


def test_a_large_state_warns_at_construction_with_the_alternative() -> None:
    with pytest.warns(
        UserWarning,
        match=r"ConfusionMatrix 'confusion_matrix' keeps 104 MB of "
        r"state .* use the O\(C\) metrics",
    ):
        em.ConfusionMatrix("multiclass", num_classes=3700)
    with pytest.warns(UserWarning, match=r"AUROC 'auroc' keeps 120 MB .*bins_per_octave"):
        em.AUROC("multiclass", num_classes=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        em.ClassificationReport("multiclass", num_classes=100_000)  # O(C): 2.4 MB


# --- 8. decisions: multiclass threshold, soft labels, empty batches --------------------------------
def test_soft_targets_count_as_their_largest_class() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, C, 40)
    soft = np.full((40, C), 0.1 / (C - 1), np.float32)
    soft[np.arange(40), y] = 0.9  # label smoothing
    p = rng.random((40, C)).astype(np.float32)
    metric = em.F1Score("multiclass", num_classes=C, average=None)
    metric.update_state(soft, p)
    expected = sk(skm.f1_score, y, p.argmax(1), average=None, labels=range(C))
    assert_close(list(metric.result().values()), expected)


@pytest.mark.parametrize(("name", "task"), metric_cases())
def test_an_empty_batch_adds_nothing(name: str, task: str) -> None:
    rng = np.random.default_rng(8)
    y, p = _data(task, 12, rng)
    metric = make_metric(name, task, C)
    metric.update_state(y, p)
    before = metric.result()
    metric.update_state(y[:0], p[:0])
    metric.update_state(y[:0], p[:0], np.ones(0))
    after = metric.result()
    assert_close(after, keras.tree.map_structure(lambda v: np.asarray(v), before), atol=0)


# --- 10. key order, report combinations, exact batch sums, dtypes ---------------------------------
@pytest.mark.parametrize("name", ["F1Score", "AUROC", "ClassificationReport"])
def test_result_keys_keep_class_order_on_every_read(name: str) -> None:
    names = ["zebra", "ant", "moth"]
    metric = make_metric(
        name,
        "multiclass",
        C,
        class_names=names,
        **({} if name == "ClassificationReport" else {"average": None}),
    )
    y, p = _data("multiclass", 30, np.random.default_rng(9))
    metric.update_state(y, p)
    first = list(metric.result())
    assert first == list(metric.result()) == list(metric.result())
    if name == "ClassificationReport":
        assert first[:3] == ["precision_zebra", "precision_ant", "precision_moth"]
    else:
        assert first == [f"{metric.name}_{n}" for n in names]


def _report_cases() -> list[tuple[list[str], list[str] | None]]:
    cases: list[tuple[list[str], list[str] | None]] = []
    for item in REPORT_ITEMS:
        cases += [([item], []), ([item], None), ([item], ["micro"])]
    return [*cases, (list(REPORT_ITEMS), []), (["support", "accuracy"], ["macro"])]


@pytest.mark.parametrize(("include", "averages"), _report_cases())
def test_every_include_and_averages_combination(include: list[str], averages: Any) -> None:
    y, p = _data("multiclass", 40, np.random.default_rng(10))
    full = em.ClassificationReport(
        "multiclass", num_classes=C, include=REPORT_ITEMS, averages=["micro", "macro", "weighted"]
    )
    part = em.ClassificationReport("multiclass", num_classes=C, include=include, averages=averages)
    for m in (full, part):
        m.update_state(y, p)
    values, reference = part.result(), full.result()
    assert values and set(values) <= set(reference)
    for key in values:
        assert_close(values[key], reference[key], atol=0, what=key)
    if "accuracy" in include:
        assert_close(values["accuracy"], skm.accuracy_score(y, p.argmax(1)))


def test_integer_weights_past_2_to_the_32_in_one_batch() -> None:
    """scikit-learn's confusion_matrix with uint32-max weights: each cell is exact."""
    y, p = np.array([0, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 1])
    w = np.full(5, np.iinfo(np.uint32).max, np.uint32)
    metric = em.ConfusionMatrix("binary")
    metric.update_state(y, p, w)
    expected = skm.confusion_matrix(y, p, sample_weight=w.astype(np.float64))
    assert metric.matrix().tolist() == expected.tolist()
    assert metric.matrix()[0, 0] == 2 * (2**32 - 1)


def test_rare_event_mcc_from_four_weighted_samples() -> None:
    """[[19392673, 1], [76216, 0]]: a float32 batch sum gave +0.0018, the true MCC is -1.4e-5."""
    y, p = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    w = np.array([19392673, 1, 76216, 0], np.int64)
    metric = em.MatthewsCorrCoef("binary")
    metric.update_state(y, p, w)
    expected = skm.matthews_corrcoef(y, p, sample_weight=w)
    assert expected < 0
    assert_close(metric.result(), expected, atol=1e-15)


def test_one_unweighted_batch_past_2_to_the_24() -> None:
    """A dense batch of 16 x 1024 x 1024 elements is 2**24: counts stay exact within it."""
    n = 2**24 + 3
    y = np.ones(n, np.int8)
    p = np.ones(n, np.int8)
    p[:5] = 0
    metric = em.Recall("binary")
    metric.update_state(y, p)
    assert float(metric.result()) == (n - 5) / n


@pytest.mark.parametrize(
    "weight_dtype", ["uint8", "int32", "uint32", "int64", "uint64", "float16", "float32", "float64"]
)
def test_weight_dtypes_accepted_everywhere(weight_dtype: str) -> None:
    y, p = _data("multiclass", 20, np.random.default_rng(11))
    w = np.arange(1, 21).astype(weight_dtype)
    metric = em.Precision("multiclass", num_classes=C, average="weighted")
    metric.update_state(y, p, w)
    expected = sk(
        skm.precision_score, y, p.argmax(1), average="weighted", sample_weight=w.astype(float)
    )
    assert_close(metric.result(), expected)


@pytest.mark.parametrize("form", ["bool", "int8", "uint8", "float16"])
def test_one_hot_targets_of_any_dtype(form: str) -> None:
    y, p = _data("multiclass", 20, np.random.default_rng(12))
    one_hot = np.eye(C)[y].astype(form)
    metric = em.Recall("multiclass", num_classes=C)
    metric.update_state(one_hot, p)
    assert_close(metric.result(), sk(skm.recall_score, y, p.argmax(1), average="macro"))


def test_a_scalar_weight_weighs_every_sample() -> None:
    y, p = _data("binary", 10, np.random.default_rng(13))
    a, b = em.F1Score("binary"), em.F1Score("binary")
    a.update_state(y, p, 2.0)
    b.update_state(y, p)
    assert_close(a.result(), float(b.result()), atol=0)


def test_merge_state_takes_a_list() -> None:
    y, p = _data("multiclass", 30, np.random.default_rng(14))
    parts = [em.F1Score("multiclass", num_classes=C) for _ in range(3)]
    for m, cut in zip(parts, [slice(0, 10), slice(10, 20), slice(20, 30)], strict=True):
        m.update_state(y[cut], p[cut])
    whole = em.F1Score("multiclass", num_classes=C)
    whole.merge_state(parts)
    assert_close(whole.result(), sk(skm.f1_score, y, p.argmax(1), average="macro"))


# --- per-step keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("per_step", ["all", "averages", "none"])
def test_per_step_keys_leave_the_epoch_logs_complete(per_step: str) -> None:
    """History and evaluate get every key whatever `per_step`; only step logs get fewer."""
    rng = np.random.default_rng(15)
    x = rng.random((64, C)).astype(np.float32)
    y = rng.integers(0, C, 64)

    def run(step: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        model = _frozen(C)
        metrics = [
            em.ClassificationReport("multiclass", num_classes=C, per_step=step),
            em.F1Score("multiclass", num_classes=C, average=None, name="f", per_step=step),
        ]
        _compile(model, "sparse_categorical_crossentropy", metrics)
        seen: list[str] = []
        record = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: seen.extend(logs)
        )
        history = model.fit(
            x, y, validation_data=(x, y), batch_size=16, epochs=2, verbose=0, callbacks=[record]
        ).history
        return history, model.evaluate(x, y, return_dict=True, verbose=0), sorted(set(seen))

    history, evaluated, step_keys = run(per_step)
    reference, _, _ = run("all")
    assert history.keys() == reference.keys()
    for key, values in reference.items():
        # The loss is Keras' own float32 running mean: equal up to rounding between runs.
        assert_close(history[key], values, atol=1e-6 if "loss" in key else 0, what=key)
    assert len(evaluated) == 1 + 4 * C + 3 * 2 + 2 + C  # loss, report, per-class f
    per_class = {f"f_{k}" for k in range(C)} | {f"recall_{k}" for k in range(C)}
    averaged = {"f1_macro", "recall_weighted", "accuracy", "mcc"}
    if per_step == "all":
        assert per_class | averaged <= set(step_keys)
    elif per_step == "averages":
        assert averaged <= set(step_keys) and not per_class & set(step_keys)
    else:
        assert not (per_class | averaged) & set(step_keys)
    assert "loss" in step_keys


def test_per_step_defaults() -> None:
    """A report returns no key inside steps by default; single metrics return their averages."""
    assert em.ClassificationReport("multiclass", num_classes=C).per_step == "none"
    assert em.F1Score("multiclass", num_classes=C).per_step == "averages"
    assert em.AUROC("multiclass", num_classes=C).per_step == "averages"
    rng = np.random.default_rng(16)
    x, y = rng.random((32, C)).astype(np.float32), rng.integers(0, C, 32)
    model = _frozen(C)
    _compile(
        model,
        "sparse_categorical_crossentropy",
        [
            em.ClassificationReport("multiclass", num_classes=C),
            em.F1Score("multiclass", num_classes=C),
        ],
    )
    step = model.train_on_batch(x, y, return_dict=True)
    assert sorted(step) == ["f1", "loss"]
    # Keras nests a dict result under the metric's name there.
    assert {"f1_macro", "recall_0", "mcc"} <= set(
        model.get_metrics_result()["classification_report"]
    )


def test_per_step_is_validated_and_saved() -> None:
    with pytest.raises(ValueError, match="`per_step` must be 'all', 'averages' or 'none'"):
        em.F1Score("binary", per_step="some")
    metric = em.AUROC("multiclass", num_classes=C, average=None, per_step="none")
    assert em.AUROC.from_config(metric.get_config()).per_step == "none"


@pytest.mark.skipif(BACKEND != "torch", reason="torch's Tensor.__array__ warns under NumPy 2")
def test_no_numpy_deprecation_warning_from_our_code_on_torch() -> None:
    """Keras' own conversions warn (pyproject filters them); ours never convert that way."""
    import torch

    rng = np.random.default_rng(16)
    y = torch.as_tensor(rng.integers(0, C, 40))
    p = torch.as_tensor(rng.random((40, C)).astype(np.float32))
    w = torch.as_tensor(rng.random(40))
    metrics = [
        em.ClassificationReport("multiclass", num_classes=C),
        em.ConfusionMatrix("multiclass", num_classes=C),
        em.AUROC("multiclass", num_classes=C),
        em.AveragePrecision("multiclass", num_classes=C, exact=True, capacity=8),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"keras\.")  # theirs
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow of capacity=8
        for m in metrics:
            m.update_state(y, p, w)
            m.result()
            m.merge_state(type(m).from_config(m.get_config()))
        metrics[1].matrix()
        metrics[2].error_bound()
        metrics[2].evaluate_arrays(y, p, w)
        em.EpochEvaluator([(p, y)], {"f1": em.F1Score("multiclass", num_classes=C)}).evaluate(
            _frozen(C)
        )
