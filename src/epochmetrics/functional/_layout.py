"""A named layout of a state vector: segments by name, packed in order, invalid counts last.

Every sum metric keeps one flat vector of sums (see `metrics._sums`). What each cell holds is
known in one place per state family, the `Layout` defined next to its update function:
`layout.pack(...)` builds a batch's vector from named parts, `layout.unpack(state)` gives them
back by name, and the three invalid counts (`_args.INVALID_KINDS`) are always the last
segment, `"invalid"`.
"""

from __future__ import annotations

from typing import Any

from keras import ops

from epochmetrics.functional._args import INVALID_KINDS

__all__ = ["Layout"]


class Layout:
    """Segments `name -> length` of a state vector, in order, with `invalid` appended.

    Examples:
        >>> import numpy as np
        >>> layout = Layout(tp=3, support=3)
        >>> layout.size, layout.names
        (9, ('tp', 'support', 'invalid'))
        >>> parts = layout.unpack(np.arange(9.0))
        >>> parts["support"].tolist(), parts["invalid"].tolist()
        ([3.0, 4.0, 5.0], [6.0, 7.0, 8.0])
    """

    def __init__(self, **segments: int) -> None:
        items = [*segments.items(), ("invalid", len(INVALID_KINDS))]
        self._slices: dict[str, slice] = {}
        start = 0
        for name, length in items:
            self._slices[name] = slice(start, start + int(length))
            start += int(length)
        self.size = start

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._slices)

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={s.stop - s.start}" for n, s in self._slices.items())
        return f"Layout({parts})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and self._slices == other._slices

    def __hash__(self) -> int:
        return hash(tuple((n, s.start, s.stop) for n, s in self._slices.items()))

    def slice(self, name: str) -> slice:
        return self._slices[name]

    def unpack(self, state: Any) -> dict[str, Any]:
        """The segments of `state` (any array: NumPy or a tensor; a stack of states `(..., S)`
        gives stacked segments) by name."""
        return {name: state[..., s] for name, s in self._slices.items()}

    def pack(self, dtype: str, **parts: Any) -> Any:
        """One batch's vector from its named parts (1-element segments may be scalars), cast to
        `dtype`, in layout order. Inside compiled steps: `keras.ops` only."""
        missing = set(self._slices) - set(parts)
        if missing or set(parts) - set(self._slices):
            raise ValueError(f"{self!r} needs the parts {self.names}. Received {sorted(parts)}.")
        pieces = []
        for name, s in self._slices.items():
            part = ops.cast(parts[name], dtype)
            pieces.append(ops.reshape(part, (1,)) if s.stop - s.start == 1 else part)
        return ops.concatenate(pieces)
