"""One evaluation: a single prediction pass over the data, then every metric's result.

Streamed metrics are fed as the batches arrive; whole arrays are gathered only when a callable
or an `evaluate_arrays` metric needs them; `ModelEvaluator`s run last, on the model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import keras
import numpy as np

from epochmetrics.callbacks._data import BatchSource, to_numpy
from epochmetrics.callbacks._metrics import Entry, EvaluationError, flatten_result
from epochmetrics.metrics._base import SumStateMetric

__all__ = ["Output", "PassResult", "run_pass"]

Output = int | str | None


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


def _select(value: Any, output: Output, names: list[str], what: str) -> Any:
    """Pick one output from a structure of model outputs (or of targets)."""
    if isinstance(value, Mapping):
        if output is None:
            if len(value) == 1:
                return next(iter(value.values()))
            raise ValueError(
                f"The model has {len(value)} outputs {sorted(value)}: pass `output=` (a name or an "
                "index) to choose the one the metrics read."
            )
        if isinstance(output, str):
            key = output
        else:
            keys = names or list(value)
            if not -len(keys) <= output < len(keys):
                raise ValueError(
                    f"`output={output!r}` is out of range: the {what} has {len(keys)} entries."
                )
            key = keys[output]
        if key not in value:
            raise ValueError(f"`output={output!r}` is not among the {what} keys {sorted(value)}.")
        return value[key]
    if isinstance(value, (list, tuple)):
        if output is None:
            if len(value) == 1:
                return value[0]
            raise ValueError(
                f"The model has {len(value)} outputs{' ' + str(names) if names else ''}: pass "
                "`output=` (a name or an index) to choose the one the metrics read."
            )
        if isinstance(output, str):
            if output not in names:
                raise ValueError(
                    f"`output={output!r}` is not an output name of the model: {names}."
                )
            index = names.index(output)
        else:
            index = output
        if not -len(value) <= index < len(value):
            raise ValueError(
                f"`output={output!r}` is out of range: the {what} has {len(value)} entries."
            )
        return value[index]
    if output is not None and output not in (0, -1, *names[:1]):
        raise ValueError(
            f"`output={output!r}` does not name the model's only output"
            f"{' ' + repr(names[0]) if names else ''} (index 0)."
        )
    return value


def _select_target(y: Any, output: Output, names: list[str]) -> Any:
    # Targets given for every output are narrowed like the predictions; a single array is the
    # target of the selected output.
    if isinstance(y, (Mapping, list, tuple)):
        return _select(y, output, names, "target")
    return y


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

    def flush(self, entries: list[Entry], last: int, where: str) -> None:
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
                _update(e, y, pred, sw, where, span)
        self.parts, self.values = [], 0


def _update(e: Entry, y: Any, pred: Any, sw: Any, where: str, span: str) -> None:
    try:
        e.obj.update_state(y, pred, sample_weight=sw)
    except Exception as err:
        detail = f" on {span} with {_shapes(y_true=y, y_pred=pred, sample_weight=sw)}"
        raise _fail(f"Metric {e.label}", where, detail, err) from err


def run_pass(
    entries: list[Entry],
    source: BatchSource,
    model: Any,
    *,
    output: Output,
    where: str,
    curve_thresholds: int | None = None,
) -> PassResult:
    """One prediction pass over `source`, then every entry's result (unprefixed keys).

    With `curve_thresholds`, entries that can (the ranking metrics) also give their counts at
    that many uniform thresholds, from the same whole arrays (`PassResult.curves`)."""
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
    curves: dict[str, Any] = {}
    if streamed or whole:
        names = list(getattr(model, "output_names", None) or [])
        for e in streamed:
            e.obj.reset_state()
        gathered: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        chunk = _Chunk()
        weighted: bool | None = None
        index = -1
        for index, (x, y, sw) in enumerate(source.batches()):
            if y is None:
                raise ValueError(
                    f"Batch {index} of `data` has no targets `y`: metrics on predictions need "
                    "`(x, y)` batches."
                )
            if weighted is not None and weighted != (sw is not None):
                raise ValueError(
                    f"Batch {index} of `data` {'lacks' if weighted else 'has'} sample weights, "
                    "unlike the batches before it: give them for every batch or for none."
                )
            weighted = sw is not None
            try:
                pred = model.predict_on_batch(x)
            except Exception as err:
                detail = f" on batch {index} with {_shapes(x=x)}"
                hint = _prediction_hint(model, err)
                raise _fail("The model's prediction", where, detail, err, hint) from err
            whole_pred = keras.tree.map_structure(to_numpy, pred) if structured else None
            for e in structured:
                _update(e, y, whole_pred, sw, where, f"batch {index}")
            if not (per_batch or chunked or whole):
                continue
            pred = np.asarray(to_numpy(_select(pred, output, names, "model output")))
            y = _select_target(y, output, names)
            for e in per_batch:
                _update(e, y, pred, sw, where, f"batch {index}")
            if chunked:
                chunk.add(index, y, pred, sw)
                if chunk.values >= CHUNK_VALUES:
                    chunk.flush(chunked, index, where)
            if whole:
                gathered[0].append(y)
                gathered[1].append(pred)
                gathered[2].append(sw)
        if index < 0:
            raise ValueError("`data` yielded no batches: there is nothing to evaluate.")
        chunk.flush(chunked, index, where)
        for e in streamed:
            _collect(e, partial(_stream_result, e), scalars, matrices, origins, where, "")
        if whole:
            y_true, y_pred = _concat(gathered[0]), _concat(gathered[1])
            sample_weight = _concat(gathered[2]) if weighted else None
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
    for e in entries:
        if e.kind == "model":
            _collect(e, partial(e.obj, model), scalars, matrices, origins, where, " on the model")
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
