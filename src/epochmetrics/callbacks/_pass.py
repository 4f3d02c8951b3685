"""One evaluation: a single prediction pass over the data, then every metric's result.

Streamed metrics are fed as the batches arrive; whole arrays are gathered only when a callable
or an `evaluate_arrays` metric needs them; `ModelEvaluator`s run last, on the model.
"""

from __future__ import annotations

import inspect
import itertools
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import keras
import numpy as np

from epochmetrics._backend import collectives
from epochmetrics._backend.inference import Predictor
from epochmetrics.callbacks._data import Batch, BatchSource, to_numpy
from epochmetrics.callbacks._gather import Rows, Stack
from epochmetrics.callbacks._metrics import Entry, EvaluationError, flatten_result
from epochmetrics.callbacks._outputs import Output, select, select_target
from epochmetrics.callbacks._processes import (
    Share,
    agree_on_the_pass,
    global_positions,
    local_positions,
    padding,
    warn_if_large,
    whole_arrays,
)
from epochmetrics.metrics import _combine
from epochmetrics.metrics._base import SumStateMetric

__all__ = ["Memo", "Observer", "Output", "PassResult", "run_pass"]


class Observer(Protocol):
    """What sees the data of a pass besides the metrics (the bootstrap's `Resampler`)."""

    def stream(self, entry: Entry, y: Any, pred: Any, sw: Any) -> None: ...

    def whole(self, entry: Entry, y_true: Any, y_pred: Any, sample_weight: Any) -> None: ...

    def finish(self, entries: list[Entry], positions: Any, processes: Any) -> None: ...


# --- one evaluation -----------------------------------------------------------------------------
def _shapes(**parts: Any) -> str:
    def shape(x: Any) -> Any:
        if x is None:
            return None
        return keras.tree.map_structure(lambda a: tuple(np.shape(a)), x)

    return ", ".join(f"{k}.shape={shape(v)}" for k, v in parts.items())


def _fail(
    entry_label: str, where: str, detail: str, err: BaseException, hint: str = ""
) -> EvaluationError:
    return EvaluationError(
        f"{entry_label} failed {where}{detail}: {type(err).__name__}: {err}{hint}", err
    )


# keras-hub 0.32's object detectors fail in `predict_on_batch` (the fix: docs/detection.md).
_KERAS_HUB_PREDICT_ON_BATCH = (
    ". This is keras-hub's object detectors failing in `predict_on_batch`, which the "
    "evaluator uses: their `decode_predictions` unpacks `(images, _)` from the one-element "
    "tuple `(x,)` that Keras passes (`predict` works). Until keras-hub fixes it, unwrap the "
    "tuple once before fitting: `decode = detector.decode_predictions; "
    "detector.decode_predictions = lambda predictions, data: decode(predictions, data[0] if "
    "isinstance(data, (tuple, list)) and len(data) == 1 else data)` (docs/detection.md)."
)


def _prediction_hint(model: Any, err: BaseException) -> str:
    """What to do about a known failure of a model's `predict_on_batch`, or ""."""
    known = isinstance(err, ValueError) and "not enough values to unpack" in str(err)
    return _KERAS_HUB_PREDICT_ON_BATCH if known and hasattr(model, "decode_predictions") else ""


def _accepts_sample_weight(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return True
    return any(p.name == "sample_weight" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


@dataclass
class PassResult:
    scalars: dict[str, float]
    matrices: dict[str, tuple[np.ndarray, Any]]  # key -> (matrix, class names or None)
    origins: dict[str, Entry]  # key -> the entry that produced it
    curves: dict[str, Any]  # entry name -> its ThresholdCounts (when asked for)


# Metrics whose state is a sum give the same result for any partition of the data, so their
# batches are buffered and fed in chunks of about this many predicted values: one eager update
# costs milliseconds of dispatch whatever its size, and the memory stays bounded.
CHUNK_VALUES = 2**21


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    return keras.tree.map_structure(
        lambda *a: np.concatenate([np.asarray(p) for p in a], axis=0), *parts
    )


class _Chunk:
    """Buffered batches for the sum-state metrics."""

    def __init__(self) -> None:
        self.parts: list[tuple[Any, Any, Any]] = []
        self.first = 0
        self.values = 0

    def add(self, index: int, y: Any, pred: Any, sw: Any) -> None:
        if not self.parts:
            self.first = index
        self.parts.append((y, pred, sw))
        self.values += int(np.size(pred))

    def flush(
        self, entries: list[Entry], last: int, where: str, observer: Observer | None = None
    ) -> None:
        if not self.parts:
            return
        try:
            y, pred = _concat([p[0] for p in self.parts]), _concat([p[1] for p in self.parts])
            sw = None if self.parts[0][2] is None else _concat([p[2] for p in self.parts])
            groups = [(y, pred, sw)]
        except ValueError:  # batches of different trailing shapes: feed them one by one
            groups = self.parts
        span = f"batch {last}" if self.first == last else f"batches {self.first}-{last}"
        for e in entries:
            for y, pred, sw in groups:
                _update(e, y, pred, sw, where, span, observer)
        self.parts, self.values = [], 0


def _update(
    e: Entry, y: Any, pred: Any, sw: Any, where: str, span: str, observer: Observer | None = None
) -> None:
    try:
        e.obj.update_state(y, pred, sample_weight=sw)
        if observer is not None:
            observer.stream(e, y, pred, sw)
    except Exception as err:
        detail = f" on {span} with {_shapes(y_true=y, y_pred=pred, sample_weight=sw)}"
        raise _fail(f"Metric {e.label}", where, detail, err) from err


@dataclass
class Memo:
    """What the evaluator keeps between evaluations: each model's predictor, the row stacks
    (preallocated from the previous evaluation's size), whether it warned, statistics."""

    predictors: Any = None
    stacks: tuple[Stack, Stack, Stack, Rows] | None = None
    warned_large: bool = False
    rows_predicted: int = 0  # rows this process ran through the model, last evaluation
    # The position in the validation data (all processes' data, in its order) of each row this
    # process evaluated last, in the order it evaluated them: what a per-sample computation
    # (a resampling of the rows) keys on, the same whatever the engine or the process count.
    positions: Any = None

    def predictor(self, model: Any) -> Predictor:
        if self.predictors is None:
            self.predictors = weakref.WeakKeyDictionary()
        found = self.predictors.get(model)
        if found is None:
            found = self.predictors[model] = Predictor(model)
        return found  # type: ignore[no-any-return]


def _batches(
    source: BatchSource, share: Share, predictor: Predictor, where: str
) -> Iterator[tuple[int, Batch, Any]]:
    """`(index, batch, prediction)` for this process's batches. In lockstep (JAX processes)
    every process steps until all are out of data; an error here is raised after that, so
    the others are never left waiting. A failed prediction is an EvaluationError naming the
    batch (with the fix of a known one)."""
    items = iter(source.batches(share.part))
    index, failed = -1, None
    while True:
        item = None
        if failed is None:
            try:
                item = next(items, None)
            except Exception as err:  # raised once every process has stepped out
                failed = err
        rows = 0 if item is None else _rows(item[0])
        if predictor.lockstep:
            more, pred = predictor.step(None if item is None else item[0], rows)
            if not more:
                break
            if item is None:
                continue
        elif item is None:
            break
        else:
            try:
                pred = predictor.predict(item[0], rows)
            except Exception as err:
                detail = f" on batch {index + 1} with {_shapes(x=item[0])}"
                hint = _prediction_hint(predictor.model, err)
                raise _fail("The model's prediction", where, detail, err, hint) from err
        index += 1
        yield index, item, pred
    if failed is not None:
        raise failed


def _rows(x: Any) -> int:
    leaves = keras.tree.flatten(x)
    return int(np.shape(leaves[0])[0]) if leaves else 0


def _take(tree: Any, keep: np.ndarray) -> Any:
    if tree is None:
        return None
    return keras.tree.map_structure(lambda a: np.asarray(a)[keep], tree)


def run_pass(
    entries: list[Entry],
    source: BatchSource,
    model: Any,
    *,
    output: Output,
    where: str,
    share: Share,
    memo: Memo,
    curve_thresholds: int | None = None,
    observer: Observer | None = None,
    batches: int | None = None,
) -> PassResult:
    """One prediction pass over this process's part of `source`, combined over the processes,
    then every entry's result (unprefixed keys, the same on every process).

    `batches`: stop after that many (a dry run; one process only, never in lockstep).

    With `curve_thresholds`, entries that can (the ranking metrics) also give their counts at
    that many uniform thresholds, from the same whole arrays (`PassResult.curves`).
    `observer` (the bootstrap) sees every batch a streamed entry receives, in this process's
    order, the positions of this process's rows in the data once every process is done
    (`finish`, with several processes: collective), and the whole arrays of every whole-array
    entry (all processes' rows, in the data's order)."""
    streamed = [e for e in entries if e.kind == "stream"]
    chunked = [e for e in streamed if isinstance(e.obj, SumStateMetric)]
    per_batch = [e for e in streamed if not isinstance(e.obj, SumStateMetric)]
    # Metrics that declare `_structured_inputs` (DetectionMAP: dicts of boxes, scores and
    # labels) get the model's whole prediction and target, never one selected output.
    structured = [e for e in per_batch if getattr(e.obj, "_structured_inputs", False)]
    per_batch = [e for e in per_batch if not getattr(e.obj, "_structured_inputs", False)]
    whole = [e for e in entries if e.kind in ("arrays", "callable")]
    scalars: dict[str, float] = {}
    matrices: dict[str, tuple[np.ndarray, Any]] = {}
    origins: dict[str, Entry] = {}
    processes = share.processes
    curves: dict[str, Any] = {}
    if streamed or whole:
        names = list(getattr(model, "output_names", None) or [])
        for e in streamed:
            e.obj.reset_state()
        if memo.stacks is None:
            memo.stacks = (Stack(), Stack(), Stack(), Rows())
        stacks = memo.stacks
        expected = source.rows()
        if expected is not None and share.part is not None:
            start, stop = collectives.bounds(expected, share.part[1], share.part[0])
            expected = stop - start
        for stack in stacks:
            stack.start(expected)
        sampler = source.sampler() if share.mode == "own" else None
        pad, at = padding(sampler), 0
        chunk = _Chunk()
        weighted: bool | None = None
        index, failure, predicted, kept = -1, None, 0, 0
        try:
            items = _batches(source, share, memo.predictor(model), where)
            for index, (x, y, sw), pred in itertools.islice(items, batches):
                if y is None:
                    raise ValueError(
                        f"Batch {index} of `data` has no targets `y`: metrics on predictions "
                        "need `(x, y)` batches."
                    )
                if weighted is not None and weighted != (sw is not None):
                    raise ValueError(
                        f"Batch {index} of `data` {'lacks' if weighted else 'has'} sample "
                        "weights, unlike the batches before it: give them for every batch or "
                        "for none."
                    )
                weighted = sw is not None
                rows = _rows(x)
                predicted += rows
                if pad is not None:  # a DistributedSampler's padding copies are left out
                    keep = ~pad[at : at + rows]
                    at += rows
                    if not keep.all():
                        y, pred, sw = _take(y, keep), _take(pred, keep), _take(sw, keep)
                kept += _rows(y)
                if structured:
                    for e in structured:
                        _update(e, y, pred, sw, where, f"batch {index}", observer)
                if not (per_batch or chunked or whole):
                    continue
                pred = np.asarray(to_numpy(select(pred, output, names, "model output")))
                y = select_target(y, output, names)
                for e in per_batch:
                    _update(e, y, pred, sw, where, f"batch {index}", observer)
                if chunked:
                    chunk.add(index, y, pred, sw)
                    if chunk.values >= CHUNK_VALUES:
                        chunk.flush(chunked, index, where, observer)
                if whole:
                    stacks[0].add(y)
                    stacks[1].add(pred)
                    if sw is not None:
                        stacks[2].add(sw)
            chunk.flush(chunked, index, where, observer)
        except Exception as err:
            if not processes.several:
                raise
            failure = err  # raised on every process below, never a process left waiting
        memo.rows_predicted = predicted
        counts = agree_on_the_pass(processes, index + 1, kept, failure, where)
        memo.positions = local_positions(counts, processes.index, sampler, pad, at)
        order = None
        if processes.several:
            _combine.all_reduce([e.obj for e in streamed], processes)
            if observer is not None:
                observer.finish(streamed, memo.positions, processes)
            order = global_positions(processes, None if sampler is None else memo.positions)
            if order is not None:  # images in the data's order (ties break by it)
                for e in structured:
                    e.obj._renumber_images(order)
        with _combine.local_reads():
            for e in streamed:
                _collect(e, partial(_stream_result, e), scalars, matrices, origins, where, "")
        if whole:
            arrays = whole_arrays(stacks, weighted, processes, order)
            if not memo.warned_large:
                memo.warned_large = warn_if_large(arrays, whole)
            y_true, y_pred, sample_weight = arrays
            detail = f" on {_shapes(y_true=y_true, y_pred=y_pred, sample_weight=sample_weight)}"
            for e in whole:
                compute = partial(_call_whole, e, y_true, y_pred, sample_weight)
                _collect(e, compute, scalars, matrices, origins, where, detail)
                if curve_thresholds is not None and hasattr(e.obj, "threshold_counts_arrays"):
                    try:
                        curves[e.name] = e.obj.threshold_counts_arrays(
                            y_true, y_pred, sample_weight, num_thresholds=curve_thresholds
                        )
                    except Exception as err:
                        raise _fail(f"Metric {e.label}", where, detail, err) from err
                if observer is None:
                    continue
                try:
                    observer.whole(e, y_true, y_pred, sample_weight)
                except Exception as err:
                    raise _fail(f"Metric {e.label}", where, detail + " (replicates)", err) from err
    for e in entries:
        if e.kind == "model":
            _collect(e, partial(e.obj, model), scalars, matrices, origins, where, " on the model")
    if processes.several:  # process 0's values everywhere: the same logs, the same decisions
        scalars, matrices, curves = processes.broadcast((scalars, matrices, curves))
    return PassResult(scalars, matrices, origins, curves)


def _stream_result(e: Entry) -> Any:
    if callable(getattr(e.obj, "matrix", None)):
        return _Matrix(e.obj.matrix(), getattr(e.obj, "class_names", None))
    return e.obj.result()


@dataclass
class _Matrix:
    values: np.ndarray
    class_names: Any


def _call_whole(e: Entry, y_true: Any, y_pred: Any, sample_weight: Any) -> Any:
    if e.kind == "arrays":
        return e.obj.evaluate_arrays(y_true, y_pred, sample_weight=sample_weight)
    if sample_weight is None:
        return e.obj(y_true, y_pred)
    if not _accepts_sample_weight(e.obj):
        raise TypeError(
            "`data` carries sample weights, and this callable has no `sample_weight` argument, "
            "so it would silently ignore them. Accept it (`def fn(y_true, y_pred, "
            "sample_weight=None)`) or drop the weights from `data`."
        )
    return e.obj(y_true, y_pred, sample_weight=sample_weight)


def _collect(
    e: Entry,
    compute: Callable[[], Any],
    scalars: dict[str, float],
    matrices: dict[str, tuple[np.ndarray, Any]],
    origins: dict[str, Entry],
    where: str,
    detail: str,
) -> None:
    try:
        value = compute()
        if isinstance(value, _Matrix):
            names = None if value.class_names is None else [str(c) for c in value.class_names]
            s: dict[str, float] = {}
            m = {e.name: value.values}
        else:
            names = None
            s, m = flatten_result(value, e.name)
    except Exception as err:
        raise _fail(f"Metric {e.label}", where, detail, err) from err
    for key in (*s, *m):
        if key in scalars or key in matrices:
            raise ValueError(
                f"Two metrics produce the log key {key!r} (the second is {e.label}). Rename one "
                "(the metric's `name`, or its key in the `metrics` dict)."
            )
    scalars.update(s)
    matrices.update({k: (v, names) for k, v in m.items()})
    origins.update(dict.fromkeys((*s, *m), e))
