"""Keras callbacks: `EpochEvaluator` and the helpers that go with it.

- `EpochEvaluator(data, metrics, ...)`: metrics on held-out data at epoch end, one prediction
  pass, visible to every callback of the epoch.
- `ModelEvaluator(fn)`: marks `fn(model) -> float | dict` as a metric that runs its own inference.
- `load_history(path)`: read back a history saved by `EpochEvaluator.save_history`.
- `EvaluationError`: raised when a metric fails; names the metric, the epoch and the shapes.
"""

from epochmetrics.callbacks._metrics import EvaluationError, ModelEvaluator
from epochmetrics.callbacks._record import load_history
from epochmetrics.callbacks.evaluator import EpochEvaluator

__all__ = ["EpochEvaluator", "EvaluationError", "ModelEvaluator", "load_history"]
