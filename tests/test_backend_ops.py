"""The backend's argmax primitives against NumPy: ties to the first index; a row holding a NaN
has a NaN maximum (its index is the backend's own: TensorFlow's argmax skips NaN, and the
callers drop such rows as invalid).

Class counts cover every path of `_backend/ops.py` (on JAX's CPU: one argmax up to 21 classes,
slices of 21 up to 168, `top_k` beyond), on dense shapes too.
"""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from epochmetrics._backend import host
from epochmetrics._backend import ops as _backend


def _scores(classes: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, (*shape, classes)).astype(np.float32)  # many ties
    flat = x.reshape(-1, classes)
    flat[5, classes // 2] = np.nan
    flat[6, [0, classes - 1]] = np.nan  # two NaNs: the first is the argmax
    flat[7, :] = 3.0  # all tied: index 0
    return x


@pytest.mark.parametrize("classes", [2, 21, 22, 40, 150, 168, 169, 300])
@pytest.mark.parametrize("shape", [(64,), (3, 5, 7)])
def test_top_1_and_argmax_equal_numpy(classes: int, shape: tuple[int, ...]) -> None:
    x = _scores(classes, shape, classes)
    clean = ~np.isnan(x).any(axis=-1)
    values, index = _backend.top_1(ops.convert_to_tensor(x))
    got = host.to_numpy(index)
    assert str(got.dtype) == "int32"
    np.testing.assert_array_equal(got[clean], np.argmax(x, axis=-1)[clean])  # the first maximum
    np.testing.assert_array_equal(host.to_numpy(values), np.max(x, axis=-1))  # NaN where one is
    finite = np.nan_to_num(x, nan=-1.0)
    got = host.to_numpy(_backend.argmax(ops.convert_to_tensor(finite)))
    np.testing.assert_array_equal(got, np.argmax(finite, axis=-1))
    index, has_nan = _backend.argmax_with_nan(ops.convert_to_tensor(x))
    np.testing.assert_array_equal(host.to_numpy(has_nan), np.isnan(x).any(axis=-1))
