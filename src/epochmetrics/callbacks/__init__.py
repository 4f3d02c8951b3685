"""Keras callbacks: `EpochEvaluator` and the helpers that go with it.

- `EpochEvaluator(data, metrics, ...)`: metrics on held-out data at epoch end, one prediction
  pass, visible to every callback of the epoch.
- `ModelEvaluator(fn)`: marks `fn(model) -> float | dict` as a metric that runs its own inference.
- `load_history(path)`: read back a history saved by `EpochEvaluator.save_history`.
- `EvaluationError`: raised when a metric fails; names the metric, the epoch and the shapes.
- `RunRecorder(run_dir)`: keeps a run directory (history, matrices, best epoch, curves)
  current each epoch, for `epochmetrics report`.
- `TensorBoard(log_dir)`: scalars, per-class PR/ROC curves and confusion matrices for
  TensorBoard, on every backend, without TensorFlow.

Names are imported on first use, so `load_history` (plain JSON) does not import Keras.
"""

import importlib as _importlib
import typing as _typing

_EXPORTS = {
    "EpochEvaluator": "epochmetrics.callbacks.evaluator",
    "EvaluationError": "epochmetrics.callbacks._metrics",
    "ModelEvaluator": "epochmetrics.callbacks._metrics",
    "RunRecorder": "epochmetrics.callbacks.run_recorder",
    "TensorBoard": "epochmetrics.callbacks.tensorboard",
    "load_history": "epochmetrics._files.evaluation",
}

__all__ = [
    "EpochEvaluator",
    "EvaluationError",
    "ModelEvaluator",
    "RunRecorder",
    "TensorBoard",
    "load_history",
]


def __getattr__(name: str) -> _typing.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if _typing.TYPE_CHECKING:
    from epochmetrics._files.evaluation import load_history
    from epochmetrics.callbacks._metrics import EvaluationError, ModelEvaluator
    from epochmetrics.callbacks.evaluator import EpochEvaluator
    from epochmetrics.callbacks.run_recorder import RunRecorder
    from epochmetrics.callbacks.tensorboard import TensorBoard
