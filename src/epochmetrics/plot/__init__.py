"""Figures of a training run: metric curves per epoch (per class too) and confusion matrices.

- `plot_history(source, metrics=None, per_class=True, ...)`: one panel per metric, train dashed
  and validation solid, one colour per class, the best epoch marked (`plot/history.py`).
- `plot_confusion_matrix(cm, class_names=None, normalize=None, ...)`, `most_confused(cm, ...)`
  and `ConfusedPair` (`plot/confusion.py`).
- `plot_pr_roc(counts)`: per-class PR and ROC curves from counts at thresholds (a ranking
  metric's `threshold_counts()`); `plot_confusion_matrices([(epoch, cm), ...])`: one matrix
  per epoch, small multiples (`plot/curves.py`).
- `plot_predictions(y_true, y_pred, ...)`: a regression model's predictions against the true
  values, and its residuals (`plot/regression.py`).

matplotlib is optional (`pip install 'epochmetrics[plot]'`) and imported inside the functions.
Figures are built on matplotlib's Agg canvas without pyplot: nothing is shown, no global
backend is switched, and the caller owns the returned `Figure` (`fig.savefig(...)`).
"""

from epochmetrics.plot.confusion import ConfusedPair, most_confused, plot_confusion_matrix
from epochmetrics.plot.curves import plot_confusion_matrices, plot_pr_roc
from epochmetrics.plot.history import plot_history
from epochmetrics.plot.regression import plot_predictions

__all__ = [
    "ConfusedPair",
    "most_confused",
    "plot_confusion_matrices",
    "plot_confusion_matrix",
    "plot_history",
    "plot_pr_roc",
    "plot_predictions",
]
