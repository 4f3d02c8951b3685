"""The evaluator's `data` argument as a fresh stream of NumPy `(x, y, sample_weight)` batches.

Accepted forms, tried in this order:

- `None`: no data (only `ModelEvaluator`s, which run their own inference).
- a tuple `(x, y)` or `(x, y, sample_weight)` of arrays (NumPy, or anything `np.asarray` takes;
  `x` may be a dict or list of arrays for multi-input models), cut into `batch_size` batches.
- a `tf.data.Dataset` (read with `as_numpy_iterator()`; one pass per evaluation).
- a `keras.utils.PyDataset` (indexed `0 .. num_batches - 1`).
- a zero-argument callable returning a fresh iterable of batches (one call per evaluation).
- an iterator, such as a generator: it can be read only once. With `steps=N` each evaluation
  takes the next `N` batches from it, as Keras does with `steps_per_epoch`; without `steps`
  a second evaluation is an error.
- any other iterable of batches (a torch `DataLoader`, a list of tuples): `iter()` per pass.

Batches are `(x, y)` or `(x, y, sample_weight)` tuples (or lists, as torch collates them);
tensors of any framework are turned into NumPy arrays. Targets and weights in float16 or
bfloat16 become float32 (exact); inputs `x` keep their dtype.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import keras
import numpy as np

from epochmetrics._backend import collectives
from epochmetrics._backend import host as _host
from epochmetrics.functional._args import check_int

__all__ = ["Batch", "BatchSource"]

Batch = tuple[Any, Any, Any]
DEFAULT_BATCH_SIZE = 32

_FORMS = (
    "an `(x, y)` or `(x, y, sample_weight)` tuple of arrays, a tf.data.Dataset, a "
    "keras.utils.PyDataset, a torch DataLoader, an iterable or generator of `(x, y)` batches, "
    "or a zero-argument callable returning such an iterable"
)


def to_numpy(value: Any, *, widen_floats: bool = True) -> Any:
    """One leaf (array, tensor of any framework, list of numbers) as a NumPy array.

    Floats narrower than 32 bits (float16, bfloat16: mixed-precision outputs) become float32,
    exactly, unless `widen_floats=False` (model inputs are passed on as given).
    """
    return _host.to_numpy(value, widen_floats=widen_floats)


def _tree_to_numpy(value: Any, *, widen_floats: bool = True) -> Any:
    if value is None:
        return None
    return keras.tree.map_structure(partial(to_numpy, widen_floats=widen_floats), value)


def _length(x: Any) -> int:
    leaves = keras.tree.flatten(x)
    if not leaves:
        raise ValueError("`data` holds no arrays: `x` is empty.")
    sizes = {int(np.shape(leaf)[0]) if np.ndim(leaf) else -1 for leaf in leaves}
    if len(sizes) != 1 or -1 in sizes:
        raise ValueError(
            f"All arrays in `data` must have the same number of samples along axis 0. "
            f"Received lengths {sorted(sizes)}."
        )
    return sizes.pop()


class BatchSource:
    """Normalised `data`: `batches()` yields NumPy `(x, y, sample_weight)` once per call.

    Args:
        data: one of the forms listed in the module docstring.
        batch_size: batch size for array data (default 32); must be None for other forms.
        steps: at most this many batches per pass (needed for infinite datasets; lets an
            iterator serve several passes).
    """

    def __init__(
        self, data: Any, *, batch_size: int | None = None, steps: int | None = None
    ) -> None:
        steps = check_int("steps", steps, minimum=1, none=True)
        batch_size = check_int("batch_size", batch_size, minimum=1, none=True)
        self.steps = steps
        self.batch_size = batch_size
        self.one_shot = False  # an iterator without `steps`: one pass only
        self._passes = 0
        self._arrays: Batch | None = None
        self._factory: Callable[[], Iterable[Any]] | None = None
        self._iterator: Iterator[Any] | None = None
        self._data = data
        self.kind = self._classify(data)
        if batch_size is not None and self.kind != "arrays":
            raise ValueError(
                f"`batch_size` only applies to array data; {self.kind} data is already batched. "
                f"Received: batch_size={batch_size!r} with a {type(data).__name__}."
            )

    def _classify(self, data: Any) -> str:
        if data is None:
            return "none"
        if isinstance(data, tuple):
            if len(data) not in (2, 3):
                raise ValueError(
                    f"Array `data` must be a tuple `(x, y)` or `(x, y, sample_weight)`. "
                    f"Received a tuple of length {len(data)}."
                )
            x, y, sw = (*data, None) if len(data) == 2 else data
            x, y, sw = _tree_to_numpy(x, widen_floats=False), _tree_to_numpy(y), _tree_to_numpy(sw)
            n = _length(x)
            for label, part in (("y", y), ("sample_weight", sw)):
                if part is not None and _length(part) != n:
                    raise ValueError(
                        f"`x` has {n} samples but `{label}` has {_length(part)}: they must match."
                    )
            self._arrays = (x, y, sw)
            return "arrays"
        if _host.is_tf_dataset(data):
            if self.steps is None and int(data.cardinality()) == -1:  # tf.data.INFINITE_CARDINALITY
                raise ValueError(
                    "`data` is an infinite tf.data.Dataset (it repeats): pass `steps=N`, the "
                    "number of batches per evaluation."
                )
            self._factory = data.as_numpy_iterator
            return "tf.data"
        if isinstance(data, keras.utils.PyDataset):
            if _num_batches(data) is None and self.steps is None:
                raise ValueError(
                    "`data` is a PyDataset without `num_batches` (infinite): pass `steps=N`."
                )
            self._factory = lambda: _py_dataset_batches(data, self.steps)
            return "PyDataset"
        if isinstance(data, Iterator):
            self._iterator = data
            self.one_shot = self.steps is None
            return "iterator"
        if callable(data):
            self._factory = data
            return "callable"
        if isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict, np.ndarray)):
            self._factory = lambda: data
            return type(data).__name__
        raise TypeError(f"`data` must be {_FORMS}. Received: {type(data).__name__}.")

    @property
    def passes(self) -> int:
        """How many passes `batches()` has started."""
        return self._passes

    def rows(self) -> int | None:
        """The number of samples of array data (None for batched data)."""
        return None if self._arrays is None else _length(self._arrays[0])

    def sampler(self) -> Any:
        """The torch `DistributedSampler` that gives this process its part of a DataLoader
        (None for other data)."""
        if self._factory is None or self.kind in ("tf.data", "PyDataset", "callable"):
            return None
        data = self._data
        sampler = getattr(data, "sampler", None)
        names = [f"{c.__module__}.{c.__name__}" for c in type(sampler).__mro__]
        if "torch.utils.data.distributed.DistributedSampler" not in names:
            return None
        return sampler

    def num_batches(self) -> int | None:
        """The number of batches of one pass, where the data knows it (None otherwise)."""
        if self.kind == "arrays":
            n = self.rows() or 0
            count = -(-n // (self.batch_size or DEFAULT_BATCH_SIZE))
        elif self.kind == "tf.data":
            count = int(self._data.cardinality())
            if count < 0:
                return None
        elif self.kind == "PyDataset":
            known = _num_batches(self._data)
            if known is None:
                return None
            count = known
        elif self._iterator is None and self.kind != "callable" and hasattr(self._data, "__len__"):
            count = len(self._data)
        else:
            return None
        return count if self.steps is None else min(count, self.steps)

    def batches(self, part: tuple[int, int] | None = None) -> Iterator[Batch]:
        """A fresh pass over the data as NumPy `(x, y, sample_weight)` batches.

        `part=(index, count)`: only process `index`'s contiguous share of `count` (array
        data: its samples, cut into batches; batched data of known length: its batches)."""
        if self.kind == "none":
            raise ValueError("This evaluator has no `data`.")
        if self.one_shot and self._passes > 0:
            raise ValueError(
                "`data` is an iterator (e.g. a generator), which can be read only once, and it was "
                "used up by an earlier evaluation. Pass a zero-argument callable that returns a "
                "fresh iterable (`data=lambda: make_batches()`), a re-iterable such as a list, "
                "tf.data.Dataset, PyDataset or DataLoader, or `steps=N` to take N batches per "
                "evaluation from one long iterator."
            )
        self._passes += 1
        if part is None:
            return self._generate()
        if self._arrays is not None:
            return self._array_batches(collectives.bounds(self.rows() or 0, part[1], part[0]))
        total = self.num_batches()
        if total is None:
            raise ValueError(
                "process_data='whole' splits `data` into one contiguous part per process, and "
                f"this {self.kind} data does not say how many batches it has. Pass arrays or a "
                "dataset of known length (a list, DataLoader, PyDataset, a finite "
                "tf.data.Dataset), or give each process its own part (em.shard) with "
                "process_data='own'."
            )
        start, stop = collectives.bounds(total, part[1], part[0])
        return itertools.islice(self._generate(), start, stop)

    def _generate(self) -> Iterator[Batch]:
        if self._arrays is not None:
            yield from self._array_batches()
            return
        if self._iterator is not None:
            source: Iterator[Any] = self._iterator
        else:
            assert self._factory is not None
            produced = self._factory()
            if not isinstance(produced, Iterable):
                raise TypeError(
                    f"The `data` callable must return an iterable of `(x, y)` batches. "
                    f"It returned a {type(produced).__name__}."
                )
            source = iter(produced)
        for index, element in enumerate(source):
            yield self._unpack(element, index)
            if self.steps is not None and index + 1 >= self.steps:
                return
        if self._iterator is not None and self.steps is not None:
            raise ValueError(
                f"`data` ran out of batches: the iterator must yield `steps={self.steps}` batches "
                "per evaluation, and it stopped early."
            )

    def _array_batches(self, part: tuple[int, int] | None = None) -> Iterator[Batch]:
        assert self._arrays is not None
        x, y, sw = self._arrays
        first, last = (0, _length(x)) if part is None else part
        size = self.batch_size or DEFAULT_BATCH_SIZE
        for index, start in enumerate(range(first, last, size)):
            if self.steps is not None and index >= self.steps:
                return
            cut = slice(start, min(start + size, last))
            yield (
                keras.tree.map_structure(lambda a, c=cut: a[c], x),
                None if y is None else keras.tree.map_structure(lambda a, c=cut: a[c], y),
                None if sw is None else keras.tree.map_structure(lambda a, c=cut: a[c], sw),
            )

    @staticmethod
    def _unpack(element: Any, index: int) -> Batch:
        if not isinstance(element, (tuple, list)) or not 1 <= len(element) <= 3:
            raise ValueError(
                f"Each batch of `data` must be a tuple `(x, y)` or `(x, y, sample_weight)`. "
                f"Batch {index} is a {type(element).__name__}"
                + (f" of length {len(element)}." if isinstance(element, (tuple, list)) else ".")
            )
        x, y, sw = keras.utils.unpack_x_y_sample_weight(tuple(element))
        return _tree_to_numpy(x, widen_floats=False), _tree_to_numpy(y), _tree_to_numpy(sw)


def _num_batches(data: Any) -> int | None:
    try:
        return data.num_batches
    except NotImplementedError:  # neither `num_batches` nor `__len__`: infinite
        return None


def _py_dataset_batches(data: Any, steps: int | None) -> Iterator[Any]:
    total = _num_batches(data)
    count = min(s for s in (total, steps) if s is not None)  # the caller checked one is set
    data.on_epoch_begin()
    for index in range(count):
        yield data[index]
    data.on_epoch_end()
