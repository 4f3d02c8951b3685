"""Everything epochmetrics reads from Keras' internals (`keras.src`), in one place.

Keras has no public API for what per-class log keys need: the name Keras logs a compiled
metric under, whether a read comes from inside a train/test step, and how the epoch's logs are
assembled. Nor for two runtime facts on torch (the stateless scope, the default device). So
they are read here, and nowhere else (`tests/test_architecture.py` checks that no other module
imports `keras.src`). Each read rests on a named assumption, verified when this module is
imported; a Keras that breaks one gets a `KerasCompatibilityWarning` naming it and a safe
fallback, never a History quietly missing keys. Canary tests (`tests/test_keras_internals.py`)
check each assumption against the installed Keras.

The supported range is `SUPPORTED_KERAS` (as in pyproject.toml). An older Keras is an
ImportError naming both versions; a newer one a warning, with every check below still made.

Per-version strategy (what differs between the Keras versions we support):

- The epoch's logs re-read the metrics: on Keras 3.14-3.15 whenever the step returned the
  same metric names; on 3.8-3.13 only if the step returned the same flattened keys, so a step
  must return every key there (`per_step` has no effect). Fallback: every key.
- `CompileMetrics.result` names the metrics from `_flat_metrics` and `_flat_weighted_metrics`,
  renaming repeats `<name>_<i>` (3.8-3.15 alike). Fallback: keys from the metric's own name.
- A step reads the metrics through `Trainer.compute_metrics` (3.8-3.15 alike). Fallback: step
  reads look eager, and return every key.
- Torch `fit`/`evaluate` iterate a DataLoader through `TorchDataLoaderAdapter.
  get_torch_dataloader`, called afresh for each pass under `TorchTrainer.fit`/`evaluate`
  (3.8-3.15 alike; `wrap_torch_loaders`, where a DistributedSampler's padding is cut off).
  Fallback: the DataLoader as it is (its padding copies count).

The first is not read off the version number: `per_step_honoured()` runs Keras' own
`get_metrics_result` and `_get_metrics_result_or_logs` on a stand-in model whose step returns
no key of a metric and whose epoch read returns one. Before Keras 3.14 `get_metrics_result`
flattens dict results, so the step's key set differs from the epoch's and Keras keeps the
step's logs for the whole epoch: there a metric's step read must return every key.

Keras logs a metric of `compile(metrics=...)` under `<output>_<name>` on multi-output models,
and renames repeats `<name>_1`, `<name>_2` (`CompileMetrics.result`). A dict result is
flattened into the logs by its own keys, dropping that name. So a per-class key built from the
metric's own `name` would lose the output prefix and Keras' renaming. When
`CompileMetrics.result` asks for our result, `keras_read` finds it one frame up and computes
the names it gives every metric (its own algorithm, checked against Keras by a canary test);
`metrics/_base.py` builds the keys from that name and checks them for collisions.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import sys
import types
import warnings
from typing import Any, NamedTuple

import keras

__all__ = [
    "SUPPORTED_BACKENDS",
    "SUPPORTED_KERAS",
    "SYNCS_METRICS_ON_READ",
    "CompiledList",
    "KerasCompatibilityWarning",
    "KerasName",
    "KerasRead",
    "add_metric_variable",
    "called_by_compiled_metrics",
    "compile_metrics_of",
    "compiled_lists",
    "in_stateless_scope",
    "in_symbolic_scope",
    "keras_read",
    "keras_version",
    "per_step_honoured",
    "torch_device",
    "wrap_model_reads",
    "wrap_torch_loaders",
]

# [oldest supported minor, newest tested minor]; pyproject.toml bounds keras to match.
SUPPORTED_KERAS = ((3, 8), (3, 15))

KerasName = tuple[str, str]  # (output prefix such as "digit_" or "", name after renaming)


class KerasCompatibilityWarning(UserWarning):
    """A Keras internal that epochmetrics reads is not as expected (a newer Keras)."""


def keras_version() -> tuple[int, int, int]:
    """The installed Keras version as (major, minor, patch)."""
    found = re.match(r"(\d+)\.(\d+)\.?(\d*)", keras.__version__)
    if found is None:
        return (0, 0, 0)
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch or 0)


def _check_version() -> None:
    (lo_major, lo_minor), (hi_major, hi_minor) = SUPPORTED_KERAS
    version = keras_version()
    supported = f"Keras {lo_major}.{lo_minor} to {hi_major}.{hi_minor}"
    if version[:2] < SUPPORTED_KERAS[0]:
        raise ImportError(
            f"epochmetrics supports {supported}; Keras {keras.__version__} is installed. "
            f"Upgrade it: pip install 'keras>={lo_major}.{lo_minor},<{hi_major}.{hi_minor + 1}'."
        )
    if version[:2] > SUPPORTED_KERAS[1]:
        warnings.warn(
            f"epochmetrics is tested with {supported}; Keras {keras.__version__} is newer. "
            "The Keras internals it reads are checked, and any that changed is reported; "
            f"if per-class keys go missing, install 'keras<{hi_major}.{hi_minor + 1}'.",
            KerasCompatibilityWarning,
            stacklevel=2,
        )


# Backend versions tested with the Keras range (pyproject.toml's extras): [oldest, newest minor].
SUPPORTED_BACKENDS = {
    "jax": ((0, 4, 38), (0, 10)),
    "tensorflow": ((2, 18, 0), (2, 21)),
    "torch": ((2, 13, 0), (2, 13)),
}


def _check_backend() -> None:
    """A warning naming the versions when Keras runs on a backend version never tested."""
    backend = keras.backend.backend()
    module = sys.modules.get(backend)
    if backend not in SUPPORTED_BACKENDS or module is None:
        return
    found = re.match(r"(\d+)\.(\d+)\.?(\d*)", str(getattr(module, "__version__", "")))
    if found is None:
        return
    version = tuple(int(part or 0) for part in found.groups())
    low, high = SUPPORTED_BACKENDS[backend]
    if low <= version and version[:2] <= high:
        return
    warnings.warn(
        f"epochmetrics is tested with {backend} {'.'.join(map(str, low))} to "
        f"{'.'.join(map(str, high))}.x; {backend} {module.__version__} is installed, a "
        "combination not run in CI.",
        KerasCompatibilityWarning,
        stacklevel=2,
    )


_check_version()
_check_backend()

_BROKEN: dict[str, str] = {}  # assumption -> what was found instead


def _broken(assumption: str, found: Exception | str) -> None:
    _BROKEN[assumption] = repr(found) if isinstance(found, Exception) else found
    warnings.warn(
        f"epochmetrics cannot rely on Keras {keras.__version__}: {assumption} "
        f"({_BROKEN[assumption]}). {_FALLBACK[assumption]}",
        KerasCompatibilityWarning,
        stacklevel=3,
    )


_NAMES_ASSUMPTION = (
    "CompileMetrics.result calls each compiled metric's result(), listed in its _flat_metrics "
    "and _flat_weighted_metrics"
)
_STEP_ASSUMPTION = "train/test steps read metrics through Trainer.compute_metrics"
_LOGS_ASSUMPTION = "the epoch's logs come from Trainer._get_metrics_result_or_logs"
_READS_ASSUMPTION = "Keras reads a model's metrics through Trainer.get_metrics_result"
_LOADER_ASSUMPTION = (
    "torch fit/evaluate iterate a DataLoader through TorchDataLoaderAdapter."
    "get_torch_dataloader, called from TorchTrainer.fit/evaluate"
)
_FALLBACK = {
    _NAMES_ASSUMPTION: "Per-class keys are named after the metric's own `name` (no output "
    "prefix on multi-output models): give every metric a distinct name.",
    _STEP_ASSUMPTION: "Metrics return every key in every step (per_step has no effect).",
    _LOGS_ASSUMPTION: "Metrics return every key in every step (per_step has no effect).",
    _READS_ASSUMPTION: "Under torch.distributed the epoch's logs stay per process: call "
    "em.all_reduce_metrics(model) before reading them.",
    _LOADER_ASSUMPTION: "fit's metrics count a DistributedSampler's padding repeats: give "
    "fit em.shard(dataset) instead.",
}

try:
    from keras.src.trainers.compile_utils import CompileMetrics

    _RESULT_CODE: types.CodeType | None = CompileMetrics.result.__code__
except (ImportError, AttributeError) as err:  # pragma: no cover - a Keras outside the range
    CompileMetrics, _RESULT_CODE = None, None
    _broken(_NAMES_ASSUMPTION, err)
try:
    from keras.src.trainers.trainer import Trainer

    _STEP_CODE: types.CodeType | None = Trainer.compute_metrics.__code__
except (ImportError, AttributeError) as err:  # pragma: no cover - a Keras outside the range
    Trainer, _STEP_CODE = None, None
    _broken(_STEP_ASSUMPTION, err)
try:
    from keras.src.backend.common.stateless_scope import in_stateless_scope
except ImportError:  # pragma: no cover - a Keras outside the range

    def in_stateless_scope() -> bool:
        return True  # callers then use Keras' public variable API, which is always right


try:  # Keras' scope for shape inference (`compute_output_spec`), 3.8-3.15 alike
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope
except ImportError:  # pragma: no cover - a Keras outside the range

    def in_symbolic_scope() -> bool:
        return False  # updates then count torch's dummy inputs of shape inference


# Frames from the caller of `keras_read` up to CompileMetrics.result (1: result() calls us),
# then up to Trainer.compute_metrics (CompileMetrics.result <- get_metrics_result <- it);
# a few more allow for wrappers.
_MAX_FRAMES = 4
_TRAINERS = "keras.src.trainers"


class KerasRead(NamedTuple):
    """Who is reading a metric's result: Keras' compiled metrics (with the name they log it
    under) or someone else (None), and whether from inside a train/test step."""

    name: KerasName | None
    in_step: bool


_NOT_KERAS = KerasRead(None, False)


def keras_read(metric: Any, names: Any, depth: int = 2) -> KerasRead:
    """How the caller of `metric.result()` reads it; `depth`: frames from here to the caller
    of `result()` (2 when `result()` calls this function).

    `names(owner)` gives `{id(metric): KerasName}` for a `CompileMetrics` (computed once per
    owner by the caller, who also checks the keys for collisions).
    """
    if _RESULT_CODE is None:
        return _NOT_KERAS
    frame: types.FrameType | None = sys._getframe(depth)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return _NOT_KERAS
        if frame.f_code is _RESULT_CODE:
            owner = frame.f_locals.get("self")
            if CompileMetrics is None or not isinstance(owner, CompileMetrics):
                return _NOT_KERAS
            return KerasRead(names(owner).get(id(metric)), _in_step(frame))
        frame = frame.f_back
    return _NOT_KERAS


def _in_step(frame: Any) -> bool:
    for _ in range(_MAX_FRAMES):
        frame = frame.f_back
        if frame is None:
            return False
        if frame.f_code is _STEP_CODE:
            return True
    return False


class CompiledList(NamedTuple):
    """One list of compiled metrics: for which output, whether weighted, the metrics."""

    output_name: str | None
    weighted: bool
    metrics: list[Any]


def compiled_lists(owner: Any) -> list[CompiledList]:
    """The metric lists of a `CompileMetrics`, in the order its `result()` names them (none,
    with a warning, where they are not where Keras 3.8-3.15 keep them)."""
    lists = []
    try:
        for weighted, attribute in ((False, "_flat_metrics"), (True, "_flat_weighted_metrics")):
            for mls in getattr(owner, attribute):
                if mls:
                    lists.append(CompiledList(mls.output_name, weighted, list(mls.metrics)))
    except (AttributeError, TypeError) as err:
        if _NAMES_ASSUMPTION not in _BROKEN:
            _broken(_NAMES_ASSUMPTION, err)
        return []
    return lists


def compile_metrics_of(model: Any) -> Any:
    """The model's `CompileMetrics` (what `compile(metrics=...)` built), or None before Keras
    has built it (at the first step), without compiled metrics, or where Keras keeps it
    elsewhere (then per-class curves of compiled metrics are not read)."""
    owner = getattr(model, "_compile_metrics", None)
    if CompileMetrics is None or not isinstance(owner, CompileMetrics):
        return None
    return owner if getattr(owner, "built", False) else None


def called_by_compiled_metrics() -> bool:
    """Whether the caller's caller is Keras' compiled metrics (`compile(metrics=...)`), e.g.
    in `fit`/`evaluate` steps: JAX and TensorFlow trace them (symbolic inputs), while torch
    runs them eagerly with real tensors, so the calling module tells all three apart."""
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return False
        if frame.f_globals.get("__name__", "").startswith(_TRAINERS):
            return True
        frame = frame.f_back
    return False


@functools.cache
def per_step_honoured() -> bool:
    """Whether a train/test step may return fewer keys than the epoch's read (`per_step`).

    Runs Keras' own epoch-log assembly on a stand-in model (see the module docstring): True
    when the epoch's logs hold the key that the step left out. False on Keras < 3.14, on a
    Keras newer than the range (its fit loop is not known to use these methods: every key
    costs time, a missing key would cost the user's History), and with a warning when the
    methods are missing or fail.
    """
    if Trainer is None or _STEP_CODE is None or _RESULT_CODE is None:
        return False
    if keras_version()[:2] > SUPPORTED_KERAS[1]:
        return False

    class _Compiled:
        name = "compile_metrics"

        def __init__(self, value: dict[str, Any]) -> None:
            self.value = value

        def result(self) -> dict[str, Any]:
            return {"probe": self.value}

    class _Model:  # what the two methods use of a model: its metrics
        def __init__(self, value: dict[str, Any]) -> None:
            self.metrics = [_Compiled(value)]

        def get_metrics_result(self) -> Any:
            return Trainer.get_metrics_result(self)

    try:
        step = _Model({}).get_metrics_result()
        epoch = Trainer._get_metrics_result_or_logs(_Model({"probe_0": 1.0}), dict(step))
        return "probe_0" in _flat_keys(epoch)
    except Exception as err:  # a Keras whose methods changed
        _broken(_LOGS_ASSUMPTION, err)
        return False


def _flat_keys(logs: Any) -> set[str]:
    keys: set[str] = set()
    for key, value in dict(logs).items():
        keys |= _flat_keys(value) if isinstance(value, dict) else {key}
    return keys


# Keras < 3.10 creates a TensorFlow variable with its aggregation but without its
# synchronization (both mapped since keras-team/keras#21072, in 3.10), and its Metric.add_variable
# asks for none: under a tf.distribute strategy a metric variable is then synced on write, so
# each replica's assign of its new state is summed across the replicas (the state roughly
# doubles per step: silently wrong values). Our metric variables are made synced on read there,
# as Keras >= 3.10 makes them (every read, `ops.read_parts`, takes the replicas' sum).
SYNCS_METRICS_ON_READ = keras_version()[:2] >= (3, 10)


def add_metric_variable(
    metric: Any, shape: Any, initializer: Any, dtype: Any, name: str, aggregation: str = "sum"
) -> Any:
    """`metric.add_variable(...)`, synced on read under TensorFlow whatever the Keras."""
    variable = metric.add_variable(
        shape=shape, initializer=initializer, dtype=dtype, aggregation=aggregation, name=name
    )
    if not SYNCS_METRICS_ON_READ and keras.backend.backend() == "tensorflow":
        _sync_on_read(variable)
    return variable


def _sync_on_read(variable: Any) -> None:
    """Give a Keras < 3.10 TensorFlow variable a `tf.Variable` synced on read, in place of (or,
    deferred, instead of) the one Keras made: what Keras >= 3.10's `_initialize` does."""
    import tensorflow as tf

    def initialize(value: Any) -> None:
        variable._value = tf.Variable(
            value,
            dtype=variable._dtype,
            trainable=False,
            name=variable.name,
            aggregation=variable._map_aggregation(variable.aggregation),
            synchronization=tf.VariableSynchronization.ON_READ,
        )

    if variable._value is None:  # deferred: Keras calls `_initialize` later
        variable._initialize = initialize
        return
    with tf.init_scope():  # made where Keras made it: in the strategy's scope if any
        initialize(tf.identity(variable._value.read_value()))


def torch_device() -> Any:
    """Keras' torch device (where `keras.ops.convert_to_tensor` puts tensors)."""
    from keras.src.backend.torch.core import get_device

    return get_device()


def wrap_model_reads(hook: Any, step_reads: Any = contextlib.nullcontext) -> None:
    """Route every read of a model's metrics outside a step through `hook(model, read)`, and
    run those from inside a step within `step_reads()` (a context manager).

    Keras reads all of a model's metrics in `Trainer.get_metrics_result`: for the epoch's logs
    of `fit` and `evaluate` (through `_get_metrics_result_or_logs`), for `evaluate`'s return
    value, and inside every train/test step (through `compute_metrics`). The hook gets the
    reads from outside a step, with `read()` doing Keras' own; reads inside steps go to Keras
    directly, within `step_reads()` (that includes metrics a model tracks as its attributes,
    which Keras reads there without going through its compiled metrics). Installed once
    (idempotent); a Keras without these methods is reported, and its reads stay Keras' own
    (`tests/test_distributed.py` has the canary).
    """
    if Trainer is None or _STEP_CODE is None:
        return
    original = getattr(Trainer, "get_metrics_result", None)
    if original is None:  # pragma: no cover - a Keras outside the range
        _broken(_READS_ASSUMPTION, "no Trainer.get_metrics_result")
        return
    if getattr(original, "_epochmetrics_hook", None) is hook:
        return
    original = getattr(original, "_epochmetrics_original", original)

    def get_metrics_result(self: Any) -> Any:
        if sys._getframe(1).f_code is _STEP_CODE:
            with step_reads():
                return original(self)
        return hook(self, lambda: original(self))

    get_metrics_result.__doc__ = original.__doc__
    get_metrics_result._epochmetrics_hook = hook  # type: ignore[attr-defined]
    get_metrics_result._epochmetrics_original = original  # type: ignore[attr-defined]
    Trainer.get_metrics_result = get_metrics_result


# Frames from `get_torch_dataloader` up to TorchTrainer.fit/evaluate: TorchEpochIterator.
# _get_iterator <- EpochIterator._enumerate_iterator <- __next__ (<- _symbolic_build) <- fit.
_LOADER_FRAMES = 8


def wrap_torch_loaders(hook: Any) -> None:
    """Make torch `fit`/`evaluate` iterate `hook(loader)` in place of a `torch.utils.data.
    DataLoader` they are given (training and validation data); `predict` keeps the DataLoader.

    On the torch backend Keras 3.8-3.15 wrap a DataLoader in `TorchDataLoaderAdapter`, and
    `TorchEpochIterator._get_iterator` iterates `adapter.get_torch_dataloader()` afresh for
    every pass; that call, made under `TorchTrainer.fit` or `evaluate`, goes through `hook`.
    Installed once (idempotent); a Keras without these is reported and keeps its own
    iteration (`tests/smoke/test_keras_internals.py` has the canary).
    """
    if keras.backend.backend() != "torch":
        return
    try:
        from keras.src.backend.torch.trainer import TorchTrainer
        from keras.src.trainers.data_adapters.torch_data_loader_adapter import (
            TorchDataLoaderAdapter,
        )

        original = TorchDataLoaderAdapter.get_torch_dataloader
        codes = {inspect.unwrap(TorchTrainer.fit).__code__}
        codes.add(inspect.unwrap(TorchTrainer.evaluate).__code__)
    except (ImportError, AttributeError) as err:  # pragma: no cover - a Keras outside the range
        _broken(_LOADER_ASSUMPTION, err)
        return
    if getattr(original, "_epochmetrics_hook", None) is hook:
        return
    original = getattr(original, "_epochmetrics_original", original)

    def get_torch_dataloader(self: Any) -> Any:
        loader = original(self)
        frame: types.FrameType | None = sys._getframe(1)
        for _ in range(_LOADER_FRAMES):
            if frame is None:
                break
            if frame.f_code in codes:
                return hook(loader)
            frame = frame.f_back
        return loader

    get_torch_dataloader.__doc__ = original.__doc__
    get_torch_dataloader._epochmetrics_hook = hook  # type: ignore[attr-defined]
    get_torch_dataloader._epochmetrics_original = original  # type: ignore[attr-defined]
    TorchDataLoaderAdapter.get_torch_dataloader = get_torch_dataloader
