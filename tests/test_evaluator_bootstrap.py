"""EpochEvaluator(confidence=...): interval keys, equal to a NumPy bootstrap with the same
replicate weights, the same for any batch size and any split of the data, and noise-aware
monitors that ModelCheckpoint and EarlyStopping act on."""

from __future__ import annotations

import math
import os
from typing import Any

import keras
import numpy as np
import pytest
from helpers import sk
from sklearn import metrics as skm

import epochmetrics as em
from epochmetrics.callbacks._bootstrap import Resampler
from epochmetrics.callbacks._data import BatchSource
from epochmetrics.callbacks._metrics import build_entries
from epochmetrics.callbacks._pass import Memo, run_pass
from epochmetrics.callbacks._processes import resolve
from epochmetrics.functional.bootstrap import replicate_weights

C = 3


def _identity_model(width: int) -> Any:
    inputs = keras.Input((width,))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities that are right about 70% of the time, labels, sample weights."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n)
    logits = 1.5 * np.eye(C)[y] + rng.normal(size=(n, C))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return p.astype("float32"), y, rng.random(n).astype("float32") + 0.5


def _metrics() -> dict[str, Any]:
    return {
        "f1_macro": em.F1Score("multiclass", num_classes=C),
        "recall": em.Recall("multiclass", num_classes=C, average=None),
        "mcc": em.MatthewsCorrCoef("multiclass", num_classes=C),
        "auroc": em.AUROC("multiclass", num_classes=C),  # exact, on the whole arrays
        "top2": em.Accuracy("multiclass", num_classes=C, top_k=2),  # re-weighted copies
        "sk_f1": lambda y, p, sample_weight=None: skm.f1_score(
            y, p.argmax(axis=1), average="macro", sample_weight=sample_weight
        ),
    }


def _numpy_bootstrap(
    x: np.ndarray, y: np.ndarray, sw: np.ndarray | None, resamples: int, seed: int, conf: float
) -> dict[str, tuple[float, float]]:
    """The percentile bootstrap written out: scikit-learn on each resampled set (every sample
    repeated by its replicate weight), then NumPy's quantiles."""
    w = replicate_weights(np.arange(len(y)), resamples, seed)
    pred = x.argmax(axis=1)
    rows: dict[str, list[float]] = {}
    for r in range(resamples):
        i = np.repeat(np.arange(len(y)), w[:, r])
        kw = {} if sw is None else {"sample_weight": sw[i]}
        values = {
            "f1_macro": sk(skm.f1_score, y[i], pred[i], average="macro", **kw),
            "mcc": sk(skm.matthews_corrcoef, y[i], pred[i], **kw),
            "auroc": sk(skm.roc_auc_score, y[i], x[i], multi_class="ovr", labels=range(C), **kw),
            "top2": sk(skm.top_k_accuracy_score, y[i], x[i], k=2, labels=range(C), **kw),
        }
        recalls = sk(skm.recall_score, y[i], pred[i], average=None, labels=range(C), **kw)
        values.update({f"recall_{c}": v for c, v in enumerate(recalls)})
        values["sk_f1"] = values["f1_macro"]
        for key, value in values.items():
            rows.setdefault(key, []).append(float(value))
    alpha = (1 - conf) / 2
    return {k: tuple(np.quantile(v, [alpha, 1 - alpha])) for k, v in rows.items()}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_intervals_equal_a_numpy_bootstrap_with_the_same_replicate_weights(weighted: bool) -> None:
    x, y, sw = _data(300)
    data = (x, y, sw) if weighted else (x, y)
    ev = em.EpochEvaluator(
        data, _metrics(), batch_size=32, confidence=0.9, resamples=80, seed=5, prefix=""
    )
    logs = ev.evaluate(_identity_model(C))
    expected = _numpy_bootstrap(x, y, sw if weighted else None, 80, 5, 0.9)
    for key, (low, high) in expected.items():
        assert logs[key + "_low"] == pytest.approx(low, abs=1e-9), key
        assert logs[key + "_high"] == pytest.approx(high, abs=1e-9), key
        assert logs[key + "_low"] <= logs[key] <= logs[key + "_high"], key


def _intervals(logs: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in logs.items() if k.endswith(("_low", "_high"))}


def test_the_same_intervals_for_any_batch_size_and_any_split_of_the_data() -> None:
    """Replicate weights follow each sample's position: batches and shards do not matter. (On
    every backend they equal the NumPy bootstrap above: the same numbers everywhere.)"""
    x, y, _ = _data(90, seed=1)
    model = _identity_model(C)
    runs = []
    for batch_size in (1, 7, 32, 90):
        ev = em.EpochEvaluator((x, y), _metrics(), batch_size=batch_size, confidence=0.95,
                               resamples=60, seed=11)  # fmt: skip
        runs.append(_intervals(ev.evaluate(model)))
    assert all(r == runs[0] for r in runs[1:])  # bit for bit
    assert len(runs[0]) == 2 * (len(_metrics()) - 1 + C)

    # Two processes, each with its share of the positions: the count states add up.
    entries = build_entries({"f1": em.F1Score("multiclass", num_classes=C),
                             "mcc": em.MatthewsCorrCoef("multiclass", num_classes=C)})  # fmt: skip
    whole, first, second = (Resampler(0.95, 60, 11) for _ in range(3))
    for resampler, start, stop in ((whole, 0, 90), (first, 0, 40), (second, 40, 90)):
        resampler.start(first=start)
        source = BatchSource((x[start:stop], y[start:stop]), batch_size=16)
        run_pass(entries, source, model, output=None, where="", share=resolve(None, source),
                 memo=Memo(), observer=resampler)  # fmt: skip
    first.merge(second)
    merged, expected = first.values(entries), whole.values(entries)
    assert merged.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(merged[key], expected[key])


def test_interval_keys_in_every_log_and_their_directions(tmp_path: Any) -> None:
    x, y, _ = _data(64, seed=2)
    report = em.ClassificationReport(
        "multiclass", num_classes=C, include=["recall", "mcc"], averages=["macro"]
    )
    ev = em.EpochEvaluator(
        (x, y),
        {
            "report": report,
            "cm": em.ConfusionMatrix("multiclass", num_classes=C),
            "own": em.callbacks.ModelEvaluator(lambda model: 0.5, direction="up"),
        },
        confidence=0.8,
        resamples=50,
        every_n_epochs=2,
    )
    keys = set(ev.evaluate(_identity_model(C)))
    scalars = {f"val_recall_{c}" for c in range(C)} | {"val_recall_macro", "val_mcc"}
    assert keys == scalars | {f"{k}_{e}" for k in scalars for e in ("low", "high")} | {"val_own"}

    inputs = keras.Input((C,))
    model = keras.Model(inputs, keras.layers.Dense(C, activation="softmax")(inputs))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    stop = keras.callbacks.EarlyStopping(monitor="val_mcc_low", patience=9)  # mode="auto"
    csv = str(tmp_path / "history.csv")
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[stop, ev, keras.callbacks.CSVLogger(csv)])  # fmt: skip
    assert stop.monitor_op is not None  # the key's direction came from the metric
    low, high = history.history["val_mcc_low"], history.history["val_mcc_high"]
    assert low[0] == low[1] and high[0] == high[1]  # epoch 2 is skipped: values held
    assert all(a <= v <= b for a, v, b in zip(low, history.history["val_mcc"], high, strict=True))
    assert ev.history["directions"]["val_mcc_low"] == "up"
    with open(csv) as f:
        assert "val_recall_2_high" in f.readline()


def test_interval_keys_that_clash_with_a_metrics_keys_are_an_error() -> None:
    x, y, _ = _data(20)
    ev = em.EpochEvaluator(
        (x, y),
        {"f1": em.F1Score("multiclass", num_classes=C), "f1_low": lambda a, b: 0.0},
        confidence=0.9,
        resamples=10,
    )
    with pytest.raises(ValueError, match=r"The evaluator's keys \['val_f1_low'\] are also keys"):
        ev.evaluate(_identity_model(C))


# --- noise-aware selection ------------------------------------------------------------------------
N_VAL, K = 1000, 3  # epochs 0..K improve for real; then noise; then a real gain of 3 SE
NOISY = 6


def _script(seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Labels and, per epoch, which validation samples the model gets right.

    Epochs 0-3 get better for real (60% -> 80% right, each epoch fixing some of the previous
    epoch's mistakes). Epochs 4-9 re-draw a random fifth of epoch 3's samples, each right with
    probability 0.8: the population accuracy stays 0.8 and the validation accuracy moves by
    noise. Epoch 10 fixes 3 standard errors' worth (3 sqrt(0.8 * 0.2 / n)) of epoch 3's mistakes.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, N_VAL)
    right = rng.random(N_VAL) < 0.6
    epochs = [right.copy()]
    for target in (0.70, 0.76, 0.80):
        wrong = np.flatnonzero(~right)
        fix = rng.choice(wrong, round(target * N_VAL) - int(right.sum()), replace=False)
        right[fix] = True
        epochs.append(right.copy())
    for _ in range(NOISY):
        noisy = right.copy()
        redraw = rng.random(N_VAL) < 0.2
        noisy[redraw] = rng.random(int(redraw.sum())) < 0.8
        epochs.append(noisy)
    better = right.copy()
    gain = math.ceil(3 * math.sqrt(0.8 * 0.2 / N_VAL) * N_VAL)
    better[rng.choice(np.flatnonzero(~right), gain, replace=False)] = True
    epochs.append(better)
    return y, epochs


def _predictions(y: np.ndarray, right: np.ndarray) -> np.ndarray:
    label = np.where(right, y, (y + 1) % C)
    return (0.1 + 0.7 * np.eye(C)[label]).astype("float32")


def test_noise_aware_checkpoint_keeps_the_real_best_and_takes_a_real_gain(tmp_path: Any) -> None:
    """Plain ModelCheckpoint(save_best_only) replaces epoch 3's model by a lucky noisy epoch;
    on `val_accuracy_sig` it keeps epoch 3 until the real gain of epoch 10, which it takes."""
    y, script = _script()
    epoch = [0]

    def val_data() -> list[Any]:  # the model's predictions of this epoch, as its input
        return [(_predictions(y, script[epoch[0]]), y)]

    class Epoch(keras.callbacks.Callback):
        def on_epoch_begin(self, e: int, logs: Any = None) -> None:
            epoch[0] = e

    inputs = keras.Input((C,))
    trained = keras.layers.Dense(C)(inputs)  # something to train; it adds 0 to the output
    outputs = keras.layers.Add()([inputs, keras.layers.Lambda(lambda t: 0.0 * t)(trained)])
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    ev = em.EpochEvaluator(
        val_data,
        [em.Accuracy("multiclass", num_classes=C)],
        confidence=0.99,  # an epoch of equal quality passes in 0.5% of comparisons
        resamples=500,
        noise_aware="val_accuracy",
    )
    plain, aware = tmp_path / "plain", tmp_path / "aware"
    callbacks = [
        Epoch(),
        keras.callbacks.ModelCheckpoint(
            str(plain / "{epoch:02d}.weights.h5"), monitor="val_accuracy", mode="max",
            save_best_only=True, save_weights_only=True),
        keras.callbacks.ModelCheckpoint(
            str(aware / "{epoch:02d}.weights.h5"), monitor="val_accuracy_sig",
            save_best_only=True, save_weights_only=True),  # mode="auto": the evaluator's
        ev,
    ]  # fmt: skip
    x = np.zeros((4, C), "float32")
    history = model.fit(x, x, epochs=len(script), verbose=0, callbacks=callbacks)

    def saved(folder: Any) -> list[int]:  # 0-based epochs
        return sorted(int(name[:2]) - 1 for name in os.listdir(folder))

    acc = history.history["val_accuracy"]
    records = [e for e in range(len(acc)) if e == 0 or acc[e] > max(acc[:e])]
    assert saved(plain) == records  # Keras saves on every new record
    assert any(K < e < len(acc) - 1 for e in records), "noise replaced epoch 3's model"
    assert saved(aware) == [0, 1, 2, K, len(script) - 1]
    sig = history.history["val_accuracy_sig"]
    assert sig[K : K + 1 + NOISY] == [acc[K]] * (NOISY + 1)  # held at epoch 3's value
    assert sig[-1] == acc[-1]
    p_better = history.history["val_accuracy_p_better"]
    assert math.isnan(p_better[0]) and p_better[-1] > 0.99


def test_noise_aware_selection_accepts_pure_noise_in_about_half_of_one_minus_confidence() -> None:
    """What `confidence` means for selection: an epoch whose true value equals the best one's
    is accepted in about (1 - confidence) / 2 of comparisons, a 3-SE gain almost always.
    Measured on 300 scripted pairs with the replicate weights the evaluator uses; and the run
    of the test above, over 40 seeds: plain checkpointing keeps a lucky epoch in 39, the
    noise-aware one in none."""
    from epochmetrics.functional.bootstrap import paired_gain

    rng = np.random.default_rng(3)
    w = replicate_weights(np.arange(N_VAL), 500, seed=0).astype(np.float64)

    def acc(right: np.ndarray) -> tuple[float, np.ndarray]:
        return float(right.mean()), (w * right[:, None]).sum(axis=0) / w.sum(axis=0)

    noise, real = 0, 0
    for _ in range(300):
        best = rng.random(N_VAL) < 0.8
        other = best.copy()
        redraw = rng.random(N_VAL) < 0.2
        other[redraw] = rng.random(int(redraw.sum())) < 0.8
        noise += paired_gain(*acc(other), *acc(best), "up", 0.95).significant
        gained = best.copy()
        gained[rng.choice(np.flatnonzero(~best), 38, replace=False)] = True
        real += paired_gain(*acc(gained), *acc(best), "up", 0.95).significant
    assert noise / 300 < 0.05
    assert real / 300 > 0.99
    plain = aware = 0
    for seed in range(40):
        _, script = _script(seed)
        value, reps = acc(script[0])
        accepted, values = [0], [value]
        for e in range(1, len(script)):
            v, r = acc(script[e])
            values.append(v)
            if paired_gain(v, r, value, reps, "up", 0.99).significant:
                value, reps = v, r
                accepted.append(e)
        aware += accepted != [0, 1, 2, K, len(script) - 1]
        plain += any(values[e] > max(values[:e]) for e in range(K + 1, K + 1 + NOISY))
    assert plain >= 35 and aware <= 2


def test_regression_metrics_get_intervals_by_reweighted_updates() -> None:
    """A metric whose state is not a plain sum of per-sample contributions (the regression
    moments) takes the re-weighted-updates path: the same interval as scikit-learn's r2_score
    with the replicate weights."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(120, 1)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=120)).astype("float32")
    ev = em.EpochEvaluator(
        (x, y), [em.R2Score()], confidence=0.9, resamples=40, seed=3, batch_size=32, prefix=""
    )
    logs = ev.evaluate(_identity_model(1))
    w = replicate_weights(np.arange(120), 40, 3)
    reps = [skm.r2_score(y, x[:, 0], sample_weight=w[:, r]) for r in range(40)]
    low, high = np.quantile(reps, [0.05, 0.95])
    assert logs["r2_low"] == pytest.approx(low, abs=1e-6)
    assert logs["r2_high"] == pytest.approx(high, abs=1e-6)
