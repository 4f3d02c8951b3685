"""`EpochEvaluator`: any metric on held-out data at epoch end, one prediction pass, in the logs."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import keras

from epochmetrics._docs import docstring
from epochmetrics._files.evaluation import check_history_path, prepare_history_path
from epochmetrics._types import ProcessData
from epochmetrics.callbacks import _keras
from epochmetrics.callbacks._apply_to import check_apply_to, entries_at
from epochmetrics.callbacks._data import BatchSource
from epochmetrics.callbacks._intervals import Intervals, check_noise_aware
from epochmetrics.callbacks._metrics import Entry, build_entries
from epochmetrics.callbacks._outputs import Output
from epochmetrics.callbacks._pass import Memo, run_pass
from epochmetrics.callbacks._processes import Share, check_process_data, resolve
from epochmetrics.callbacks._record import HistoryRecord
from epochmetrics.functional._args import check_direction, check_int, check_output, check_str
from epochmetrics.functional.bootstrap import check_confidence, check_resamples, check_seed

__all__ = ["DEFAULT_RESAMPLES", "EpochEvaluator"]

# Replicates per evaluation: chosen by measurement (README, "Is it noise?").
DEFAULT_RESAMPLES = 1000


@docstring()
class EpochEvaluator(keras.callbacks.Callback):
    """Computes metrics on held-out data at epoch end and puts them into the Keras logs.

    Each evaluation runs the model once over `data`, batch by batch (`model.predict_on_batch`),
    whatever the number of metrics: streamed metrics (epochmetrics metrics other than the
    ranking ones, any `keras.metrics.Metric`) are updated as the batches arrive (epochmetrics
    metrics, whose states are sums, in bounded chunks of batches); the true and predicted
    arrays are gathered only when a callable or an `evaluate_arrays` metric (the ranking
    metrics: exact, no capacity) needs them whole. The values go
    into the epoch's `logs` under `prefix + key`, so EarlyStopping, ReduceLROnPlateau,
    ModelCheckpoint, History, CSVLogger, TensorBoard and the progress bar all see them.

    **Metrics.** `metrics` is one metric, a list of metric objects, or a dict `{name: entry}`:

    - a metric object (`em.F1Score(...)`, `em.ClassificationReport(...)`, any Keras metric):
      a scalar result is logged as `prefix + name` (its `name`, or its key in the dict); a dict
      result logs each of its keys (`val_f1_cat`, `val_recall_macro`); a `ConfusionMatrix` is
      not a log value: its matrix is recorded in `history["matrices"]` each evaluation.
    - an object with `evaluate_arrays(y_true, y_pred, sample_weight=None)` (the ranking
      metrics' exact path) is not streamed: it is called once with the whole arrays.
    - a callable `fn(y_true, y_pred)` in a dict, such as `sklearn.metrics.f1_score` or a
      `functools.partial` of it: called once with the whole arrays of raw model outputs
      (threshold or `argmax` them yourself). When `data` carries sample weights they are passed
      as `sample_weight=`. It returns a float (logged under its name), a 1-D array (logged as
      `name_0, name_1, ...`), a dict (each key logged, nested keys joined with "_") or a matrix
      (recorded in `history["matrices"]`).
    - `ModelEvaluator(fn)`: `fn(model)` runs its own inference (e.g. detection mAP with an
      external evaluation class) and returns a float or a dict.

    **Order of callbacks.** At `on_train_begin` the evaluator moves itself to the front of the
    `CallbackList` that `fit` built (found as the caller of its hook), so its values reach every
    callback of the same epoch wherever it sits in `callbacks=[...]`. Several evaluators keep
    their relative order. Limits: this needs `fit` (or anything that calls the hooks through a
    `keras.callbacks.CallbackList`); with hooks called by hand, order is the caller's.

    **Skipped epochs.** With `every_n_epochs=n` the evaluator runs after the first epoch of
    `fit`, then every n-th epoch after it, and after the last epoch. In between, the logs
    *hold* the last evaluated values (as a sample-and-hold signal): History and CSVLogger keep
    one aligned column per key, and a held value is never an improvement, so
    `ModelCheckpoint(save_best_only=True)` saves only on evaluated epochs, and EarlyStopping /
    ReduceLROnPlateau count held epochs as epochs without improvement: patience counts epochs,
    as in Keras, so use `patience >= n` (`patience=k*n` waits for k evaluations; a smaller
    patience draws a warning). `evaluator.history` lists only evaluated epochs.

    **Directions.** Keras' `mode="auto"` looks the monitored name up in `model.metrics` and
    raises for names it cannot find. At its first evaluation the evaluator gives every monitor
    with `mode="auto"` on one of its keys the key's direction: from the metric's `_direction`
    (epochmetrics metrics: "up"), a `ModelEvaluator(direction=...)`, or `directions=`. For a
    callable without one, pass `directions={"val_map": "up"}` here or `mode="max"` to the
    monitor; otherwise the first evaluation raises a ValueError saying so.

    **Intervals** (`confidence=0.95`): every scalar key K also gets `K_low` and `K_high`, the
    bootstrap percentile interval of K over the evaluation's samples (`resamples` Poisson(1)
    replicates, each sample's weights a function of its position and `seed` alone:
    `functional.bootstrap`). Same replicates every epoch, on every backend, for any batch
    size and any number of processes (a sample's position is its place in all the
    validation data: see below). They say how much K would move on another validation set
    of this size from the same population, not how much training noise there is. Keys of
    `ModelEvaluator`s, of detection metrics and matrices get none. The count metrics cost
    O(R x state) per evaluation; exact ranking metrics O(n K R); callables and other metrics
    R calls (README, "Is it noise?"). Replicates assume the data comes in the same order
    each evaluation (arrays, unshuffled datasets): with shuffled data the intervals hold,
    but epochs are no longer compared on the same replicates.

    **Noise-aware monitors** (`noise_aware=["val_f1_macro"]`, needs `confidence`): for each
    key K listed, `K_sig` holds K's value at the best epoch so far that beat the previous best
    by more than noise: an epoch replaces it when the `confidence` interval of its paired gain
    (this epoch minus the best, on the same replicates) lies above 0. Stock callbacks act on
    it: `ModelCheckpoint(monitor="val_f1_macro_sig", save_best_only=True)` saves only then,
    `EarlyStopping(monitor="val_f1_macro_sig")` waits `patience` epochs for one. `K_p_better`
    is the share of replicates in which this epoch beats that best (NaN at the first
    evaluation). An epoch of equal true quality passes in about (1 - confidence)/2 of
    comparisons: use 0.99 for long runs. It is about validation-sample noise: a real gain on
    the validation population, not a promise of generalisation.

    **Several devices, several processes.** Under `tf.distribute` strategies and JAX's
    `keras.distribution` the model predicts each batch once, split across the devices, and
    the values are the one-device values. With several processes (a `torch.distributed`
    group, JAX processes, `tf.distribute` workers) every process runs the evaluator, and
    `process_data` says what its `data` holds: `"whole"` (every process holds all the
    validation data: each predicts a contiguous 1/N of it) or `"own"` (each holds its own
    part: `em.shard(data)`, or a DataLoader with a `DistributedSampler`, whose padding copies
    are left out, so 1,001 samples on 2 processes count 1,001). A DataLoader with a
    `DistributedSampler` says "own" by itself; any other data in several processes without
    `process_data` is an error at the start of `fit`. The parts then combine exactly: the
    streamed metrics' states in one exchange, the whole arrays gathered in the data's order
    (every process holds them once), DetectionMAP's records appended in image order; every
    process gets process 0's values, so every callback takes the same decision on every
    process, and only process 0 writes `history_path`. Every process must evaluate together
    (the combination is a collective call). A `ModelEvaluator`'s function runs on every
    process; the values are process 0's. With `confidence=`, each process weights its rows
    at their positions in the whole data (a `DistributedSampler`'s interleaved rows
    included), the count metrics' `(R, state)` replicate states are added in one more
    exchange, and the other metrics' replicates are computed on the gathered rows: the
    intervals and noise-aware keys of one process, the same on every process.

    **Errors.** An exception in a metric (or in the model's prediction) becomes an
    `EvaluationError` naming the metric, the epoch and the shapes it received, with the
    original exception chained.

    Args:
        data: `(x, y)` or `(x, y, sample_weight)` arrays, a `tf.data.Dataset`, a
            `keras.utils.PyDataset`, a torch `DataLoader`, any iterable of `(x, y)` batches, a
            zero-argument callable returning one (use this for generators: an iterator can be
            read only once), or None when every metric is a `ModelEvaluator`.
        metrics: as described above.
        every_n_epochs: evaluate after the first epoch, then every n-th epoch, and after the
            last epoch of `fit`.
        prefix: prepended to every key ("val_"; "train_" when `data` is the training data,
            for metrics with the epoch's final weights rather than the running in-fit values).
        batch_size: batch size for array data (default 32). Other forms are already batched.
        steps: at most this many batches per evaluation (needed for infinite datasets; with an
            iterator, each evaluation takes the next `steps` batches).
        output: for a model with several outputs, the one the metrics read, by name or index;
            targets given per output are selected the same way.
        directions: `{key: "up" | "down"}` for keys whose metrics declare no direction. A key
            may be the full log key (`"val_map"`), the key without the prefix, or the name of
            the dict entry that produced it.
        history_path: if set, `evaluator.history` is written there as JSON after every
            evaluation (see `save_history`), through a temporary file in the same directory
            that is never left behind. Checked at construction, which creates nothing: it must
            name a file, not a directory, and its directory must be writable or creatable.
            Checked again at the start of `fit`, which creates the directory if needed and
            tries a write, so a bad path fails before the first epoch, not after it. With
            several processes, only process 0 writes it.
        confidence: a level in (0, 1), e.g. 0.95: add `K_low` / `K_high` for every scalar key
            K (see above). None (default) adds nothing and costs nothing.
        resamples: the number of bootstrap replicates R (default 1,000, chosen by
            measurement: README, "Is it noise?"). Cost and the intervals' own Monte Carlo
            noise follow R and 1 / sqrt(R).
        seed: the replicates' seed, an integer from 0 to 2**64 - 1.
        noise_aware: a log key or a list of them (with or without the prefix) that also get
            `K_sig` and `K_p_better` (see above).
        apply_to: `{prefix: data}`, other data (e.g. a test set, `{"test_": (x_test,
            y_test)}`) evaluated in the same epoch with what was chosen on `data`: metrics
            that choose a threshold (`FBetaAtBestThreshold`) give their value there at the
            thresholds chosen on `data` (no threshold keys), so nothing is tuned on it; the
            other metrics are computed as usual; `ModelEvaluator`s are left out. One more
            prediction pass per evaluation and dataset; no intervals.
        process_data: with several processes, what each one's `data` holds: "whole" or
            "own" (see above). Ignored in one process.

    Raises:
        TypeError, ValueError: on invalid arguments, at construction (and a `history_path`
            that cannot be written, again at the start of `fit`).

    Examples:
        >>> import numpy as np, keras, epochmetrics as em
        >>> inputs = keras.Input((3,))
        >>> model = keras.Model(inputs, keras.layers.Identity()(inputs))  # y_pred = x
        >>> x = np.eye(3)[[0, 1, 2, 0]].astype("float32")
        >>> y = np.array([0, 1, 2, 1])
        >>> ev = em.EpochEvaluator((x, y), [em.F1Score("multiclass", num_classes=3)], batch_size=2)
        >>> {k: round(v, 4) for k, v in ev.evaluate(model).items()}
        {'val_f1': 0.7778}

        In `fit`, anywhere in the callbacks list::

            ev = em.EpochEvaluator((x_val, y_val), [em.F1Score("binary")])
            stop = keras.callbacks.EarlyStopping(monitor="val_f1", patience=3)  # mode="auto"
            model.fit(x, y, epochs=20, callbacks=[stop, ev])
            ev.save_history("history.json")
    """

    def __init__(
        self,
        data: Any,
        metrics: Any,
        *,
        every_n_epochs: int = 1,
        prefix: str = "val_",
        batch_size: int | None = None,
        steps: int | None = None,
        output: Output = None,
        directions: Mapping[str, str] | None = None,
        history_path: str | os.PathLike[str] | None = None,
        confidence: float | None = None,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = 0,
        noise_aware: str | Sequence[str] | None = None,
        apply_to: Mapping[str, Any] | None = None,
        process_data: ProcessData = None,
    ) -> None:
        super().__init__()
        every_n_epochs = check_int("every_n_epochs", every_n_epochs, minimum=1)
        prefix = check_str("prefix", prefix)
        output = check_output(output)
        self.entries: list[Entry] = build_entries(metrics)
        self.source = BatchSource(data, batch_size=batch_size, steps=steps)
        if self.source.kind == "none" and any(e.kind != "model" for e in self.entries):
            raise ValueError(
                "`data` is None, but metrics other than ModelEvaluator need `(x, y)` data to "
                "predict on."
            )
        self.every_n_epochs = every_n_epochs
        self.prefix = prefix
        self.output = output
        self.directions = {
            str(k): check_direction(v, f"`directions[{k!r}]`")
            for k, v in (directions or {}).items()
        }
        check_history_path(history_path)
        self.history_path = history_path
        self.process_data = check_process_data(process_data)
        self._share: Share | None = None
        self._memo = Memo()
        self.confidence = check_confidence(confidence)
        self.resamples = check_resamples(resamples)
        self.seed = check_seed(seed)
        self.noise_aware = check_noise_aware(noise_aware, self.confidence)
        self._intervals = (
            None
            if self.confidence is None
            else Intervals(self.confidence, self.resamples, self.seed, self.noise_aware)
        )
        self.apply_to = {
            key: BatchSource(value, batch_size=batch_size)
            for key, value in check_apply_to(apply_to, prefix).items()
        }
        self._apply_memos = {key: Memo() for key in self.apply_to}
        self._record = HistoryRecord()
        self._held: dict[str, float] = {}
        self._callback_list: Any = None
        self._first_epoch: int | None = None
        self._monitors_ready = False
        self._clash_warned: set[str] = set()
        self._origins: dict[str, Entry] = {}
        self.curve_thresholds: int | None = None
        self._curves: dict[str, Any] = {}

    # --- public API ----------------------------------------------------------------------------
    @property
    def history(self) -> dict[str, Any]:
        """The values of every evaluation of the current (or last) `fit`.

        A dict, with keys exactly as pushed into the Keras logs::

            {"epochs": [0, 1, ...],                          # evaluated epochs only
             "scalars": {"val_f1_macro": [0.71, 0.74, ...], ...},    # floats, NaN allowed
             "matrices": {"val_confusion_matrix": {"class_names": [...] or None,
                                                   "values": [C x C lists, one per epoch]}},
             "directions": {"val_f1_macro": "up", ...}}      # keys with a known direction

        Reset at the start of each `fit`.
        """
        return self._record.data

    @property
    def curves(self) -> dict[str, Any]:
        """The last evaluation's per-class counts at uniform thresholds, by prefixed metric name
        (`{"val_auroc": ThresholdCounts, ...}`, exact: from the whole arrays), for the ranking
        metrics (AUROC, AveragePrecision, operating points). Recorded during `fit` only when
        `curve_thresholds` is set (to the number of thresholds): `em.TensorBoard` and
        `em.RunRecorder` set it; empty otherwise."""
        return self._curves

    def evaluate(self, model: Any = None) -> dict[str, float]:
        """Run one evaluation now and return `{prefix + key: value}` (scalars only).

        Args:
            model: the model to evaluate; defaults to the model of the current `fit`.

        Returns:
            The scalar values, as they would be logged. Matrices go to the metric objects
            (`ConfusionMatrix.matrix()`); `history` is only written during `fit`.
        """
        if model is None and self._model is not None:
            model = self.model  # on JAX this also syncs the weights from the training state
        if model is None:
            raise ValueError("`evaluate()` needs a model: pass it, or call it during `fit`.")
        model = _keras.unwrap(model)
        share = resolve(self.process_data, self.source, model)
        scalars, _, _ = self._evaluate(model, "in evaluate()", share)
        return scalars

    def save_history(self, path: str | os.PathLike[str]) -> None:
        """Write `history` as JSON (`{"format": "epochmetrics.history/1", ...}`).

        Non-finite values are written as `null`; `epochmetrics.load_history` reads them back
        as NaN.
        """
        self._record.save(path)

    # --- Keras hooks ---------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # Several processes: what each one's data holds, or the error that asks for it.
        self._share = resolve(self.process_data, self.source, self.model)
        if self._share.processes.index == 0:
            prepare_history_path(self.history_path)  # fail now, not after the first epoch
        self._record.reset()
        self._curves = {}
        self._held = {}
        self._first_epoch = None
        self._monitors_ready = False
        self._clash_warned = set()
        if self._intervals is not None:
            self._intervals.reset()
        self._callback_list = _keras.find_callback_list(self)
        if self._callback_list is not None:
            _keras.move_to_front(self._callback_list, self, EpochEvaluator)
        epochs = (self.params or {}).get("epochs")
        if self.source.one_shot and (self.source.passes > 0 or (epochs or 0) > 1):
            raise ValueError(
                "`data` is an iterator (e.g. a generator), which can be read only once, and a "
                f"fit of {epochs} epochs evaluates at least twice (first and last epoch). Pass "
                "a zero-argument callable that returns a fresh iterable (`data=lambda: "
                "make_batches()`), a re-iterable (list, tf.data.Dataset, PyDataset, DataLoader), "
                "or `steps=N`."
            )
        self._dry_run()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            logs = {}
        if self._due(epoch):
            share = self._share or resolve(self.process_data, self.source, self.model)
            scalars, matrices, directions = self._evaluate(
                self.model,
                f"at the end of epoch {epoch + 1}",
                share,
                self.curve_thresholds,
                select=True,
            )
            self._record.add(epoch, scalars, matrices, directions)
            self._held = scalars
            _keras.push(scalars, logs, self._clash_warned)
            if not self._monitors_ready:
                self._monitors_ready = True
                self._configure_monitors(directions)
            if self.history_path is not None and share.processes.index == 0:
                self.save_history(self.history_path)
        else:
            _keras.push(self._held, logs, self._clash_warned)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._callback_list = None  # no reference to the finished fit's callbacks
        self._share = None

    # --- internals -----------------------------------------------------------------------------
    def _dry_run(self) -> None:
        """Bad data fails now, not after the first epoch has trained: the first batch through
        the model and every metric that reads batches (shapes, dtypes, label values, box
        formats, dict keys, log keys), then their states reset. Skipped for an iterator (a
        batch read now would be missing later) and with several processes (their passes
        agree on counts and combine states: a partial pass there is not tested). Callables
        and ModelEvaluators are not run: on one batch a callable may fail where the whole
        data would not (scikit-learn's roc_auc_score with one class), and a ModelEvaluator
        runs its own inference."""
        share = self._share
        if self.source.kind in ("none", "iterator") or share is None or share.processes.several:
            return
        entries = [e for e in self.entries if e.kind in ("stream", "arrays")]
        if not entries:
            return
        self._memo.predictor(self.model)  # built once, shared with the evaluations
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one batch: classes without samples are expected
            run_pass(
                entries,
                self.source,
                self.model,
                output=self.output,
                where="on the first batch of `data`, checked before training",
                share=share,
                memo=Memo(predictors=self._memo.predictors),  # the evaluations' sizes kept
                batches=1,
            )
        for e in entries:
            if e.kind == "stream":
                e.obj.reset_state()

    def _due(self, epoch: int) -> bool:
        if self._first_epoch is None:
            self._first_epoch = epoch
        last = (self.params or {}).get("epochs")
        return (epoch - self._first_epoch) % self.every_n_epochs == 0 or (
            last is not None and epoch == last - 1
        )

    def _evaluate(
        self,
        model: Any,
        where: str,
        share: Share,
        curve_thresholds: int | None = None,
        select: bool = False,
    ) -> tuple[dict[str, float], Any, dict[str, Any]]:
        intervals = self._intervals
        if intervals is not None:
            intervals.start(share)
        result = run_pass(
            self.entries,
            self.source,
            model,
            output=self.output,
            where=where,
            share=share,
            memo=self._memo,
            curve_thresholds=curve_thresholds,
            observer=None if intervals is None else intervals.resampler,
        )
        if curve_thresholds is not None:
            self._curves = {self.prefix + k: v for k, v in result.curves.items()}
        scalars = {self.prefix + k: v for k, v in result.scalars.items()}
        matrices = {self.prefix + k: v for k, v in result.matrices.items()}
        self._origins.update({self.prefix + k: e for k, e in result.origins.items()})
        for prefix, source in self.apply_to.items():
            other = run_pass(
                entries_at(self.entries, result.scalars),
                source,
                model,
                output=self.output,
                where=f"{where} on {prefix!r} data",
                share=resolve(self.process_data, source, model),
                memo=self._apply_memos[prefix],
            )
            scalars.update({prefix + k: v for k, v in other.scalars.items()})
            matrices.update({prefix + k: v for k, v in other.matrices.items()})
            self._origins.update({prefix + k: e for k, e in other.origins.items()})
        directions = {key: self._direction(key) for key in scalars}
        if intervals is None:
            return scalars, matrices, directions
        extra = intervals.keys(
            self.entries, self.prefix, scalars, directions, self._origins, share, select
        )
        return {**scalars, **extra}, matrices, directions

    def _direction(self, key: str) -> str | None:
        bare = key[len(self.prefix) :]
        for candidate in (key, bare):
            if candidate in self.directions:
                return self.directions[candidate]
        entry = self._origins.get(key)
        if entry is not None:
            if entry.name in self.directions:
                return self.directions[entry.name]
            return entry.direction
        return None

    def _configure_monitors(self, directions: Mapping[str, str | None]) -> None:
        if self._callback_list is None:
            return
        others = [cb for cb in self._callback_list.callbacks if cb is not self]
        sources = {key: self._origins[key].label for key in directions}
        _keras.configure_monitors(
            others, directions, every_n_epochs=self.every_n_epochs, sources=sources
        )
