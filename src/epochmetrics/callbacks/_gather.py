"""Whole arrays from batches, at about their own size in memory.

Callables and `evaluate_arrays` metrics need the epoch's arrays whole. Appending batches to a
list and concatenating at the end holds both at once (2x the bytes). `Rows` writes each batch
into one preallocated array when the number of rows is known (array data, or the count of the
previous evaluation: the evaluator keeps its `Rows` between evaluations); otherwise it keeps
the batches and, at the end, copies them into the result one by one, freeing each as it is
copied (the result's pages are touched only as they are written, so the resident peak stays
about 1x the bytes plus one batch).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

__all__ = ["LARGE_GATHER_BYTES", "Rows", "Stack"]

# Whole arrays past this many bytes (all processes together) draw a warning naming the
# cheaper alternatives.
LARGE_GATHER_BYTES = 2**30


class Rows:
    """One array built from batches along axis 0."""

    def __init__(self) -> None:
        self.expected: int | None = None  # rows of the previous evaluation, or given
        self._out: np.ndarray | None = None
        self._parts: list[np.ndarray] = []
        self._rows = 0

    def start(self, expected: int | None = None) -> None:
        """Begin a new array of (probably) `expected` rows (default: the previous count)."""
        if expected is not None:
            self.expected = expected
        self._out, self._parts, self._rows = None, [], 0

    def add(self, batch: Any) -> None:
        batch = np.asarray(batch)
        n = len(batch)
        if self._out is None and not self._parts and self.expected is not None:
            self._out = np.empty((self.expected, *batch.shape[1:]), batch.dtype)
        out = self._out
        if out is not None and (
            self._rows + n > len(out)
            or out.shape[1:] != batch.shape[1:]
            or out.dtype != batch.dtype
        ):
            # Not what was expected: keep what was written as a batch, go on with a list.
            self._parts, self._out = [out[: self._rows]], None
            out = None
        if out is not None:
            out[self._rows : self._rows + n] = batch
        else:
            self._parts.append(batch)
        self._rows += n

    def result(self) -> np.ndarray:
        """The rows added since `start`, as one array (the buffers are released)."""
        rows, self._rows = self._rows, 0
        self.expected = rows
        if self._out is not None:
            out, self._out = self._out, None
            return out[:rows]
        parts, self._parts = self._parts, []
        if len(parts) == 1:
            return parts[0]
        shapes = {p.shape[1:] for p in parts}
        if len(shapes) != 1:  # ragged batches: let NumPy say what differs
            return np.concatenate(parts, axis=0)
        out = np.empty((rows, *parts[0].shape[1:]), np.result_type(*parts))
        at = 0
        parts.reverse()
        while parts:
            part = parts.pop()
            out[at : at + len(part)] = part
            at += len(part)
            del part
        return out


class Stack:
    """`Rows` for every leaf of a structure of arrays (targets or outputs)."""

    def __init__(self) -> None:
        self._rows: list[Rows] = []
        self._structure: Any = None
        self._pending: int | None = None

    def start(self, expected: int | None = None) -> None:
        self._structure = None
        for rows in self._rows:
            rows.start(expected)
        self._pending = expected

    def add(self, tree: Any) -> None:
        leaves = keras.tree.flatten(tree)
        if self._structure is None:
            self._structure = tree
            while len(self._rows) < len(leaves):
                rows = Rows()
                rows.start(self._pending)
                self._rows.append(rows)
        for rows, leaf in zip(self._rows, leaves, strict=False):
            rows.add(leaf)

    @property
    def empty(self) -> bool:
        return self._structure is None

    def result(self) -> Any:
        leaves = [rows.result() for rows in self._rows[: len(keras.tree.flatten(self._structure))]]
        return keras.tree.pack_sequence_as(self._structure, leaves)

    def nbytes(self) -> int:
        return sum(r._rows * _row_bytes(r) for r in self._rows)


def _row_bytes(rows: Rows) -> int:
    ref = rows._out if rows._out is not None else (rows._parts[0] if rows._parts else None)
    if ref is None:
        return 0
    return int(np.prod(ref.shape[1:], dtype=np.int64)) * ref.dtype.itemsize
