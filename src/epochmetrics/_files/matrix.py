"""A confusion matrix of counts: the one check, shared by the run reader and the plots, and the
per-class table it gives."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["confusion_counts", "per_class_table"]


def confusion_counts(values: Any) -> np.ndarray:
    """`values` as a `(C, C)` float64 array, checked: square, not empty, finite, non-negative.

    Raises:
        ValueError: saying which of these fails, and the shape received.
    """
    m = np.asarray(values, dtype=np.float64)
    if m.ndim == 3 and m.shape[1:] == (2, 2):
        raise ValueError(
            f"Expected a (C, C) confusion matrix. Received shape {m.shape}: multilabel "
            "matrices are one (2, 2) matrix per label; pass one of them, e.g. cm[i]."
        )
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"Expected a square (C, C) confusion matrix. Received shape {m.shape}.")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ValueError("A confusion matrix holds finite, non-negative counts.")
    return m


def per_class_table(values: Any) -> dict[str, list[float]]:
    """Precision, recall, F1 and support per class of a `(C, C)` matrix of counts (rows true,
    columns predicted), scikit-learn's definitions with `zero_division=0`.

    Examples:
        >>> per_class_table([[3, 1], [0, 4]])["precision"]
        [1.0, 0.8]
    """
    m = confusion_counts(values)
    tp, pred, true = np.diag(m), m.sum(axis=0), m.sum(axis=1)

    def ratio(a: np.ndarray, b: np.ndarray) -> list[float]:
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0).tolist()  # type: ignore[no-any-return]

    return {
        "precision": ratio(tp, pred),
        "recall": ratio(tp, true),
        "f1": ratio(2 * tp, pred + true),
        "support": true.tolist(),
    }
