"""A confusion matrix of counts: the one check, shared by the run reader and the plots."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["confusion_counts"]


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
