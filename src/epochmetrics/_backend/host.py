"""Arrays on the host: a tensor of any framework as a NumPy array, low-precision floats widened.

Mixed-precision models (`keras.mixed_precision.set_global_policy("mixed_bfloat16")`) output
float16 or bfloat16. NumPy has float16, but bfloat16 (and the float8 types) come from
`ml_dtypes` as NumPy dtypes of kind "V" (void), which NumPy's own checks, sorting semantics and
scikit-learn do not treat as numbers; a torch bfloat16 tensor has no `.numpy()` at all.

`to_numpy(value, widen=True)` turns every float narrower than 32 bits into float32. That is
exact: every float16, bfloat16 and float8 value is a float32 value, so ties, ranks and sums are
those of the original values. `widen=False` keeps the dtype (model inputs stay as the user gave
them) and only makes torch bfloat16 readable, as an ml_dtypes bfloat16 array.

No framework is imported here: tensors are recognised by the module of their type, so reading
a tensor never imports a framework the caller did not already use.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["is_tf_dataset", "to_numpy", "widen"]


def _ml_dtypes_float(dtype: np.dtype) -> bool:
    """Whether `dtype` is one of ml_dtypes' floats (bfloat16, float8_*, ...)."""
    if dtype.kind != "V" or dtype.names is not None or dtype.type.__module__ != "ml_dtypes":
        return False
    import ml_dtypes  # already imported: an array of its dtype exists

    try:
        ml_dtypes.finfo(dtype)
    except ValueError:  # int4, uint4, ...: ml_dtypes' integers
        return False
    return True


def widen(array: np.ndarray) -> np.ndarray:
    """`array` with floats narrower than 32 bits as float32 (exact); ml_dtypes ints as int32."""
    dtype = array.dtype
    if dtype.kind == "f" and dtype.itemsize < 4:
        return array.astype(np.float32)
    if dtype.kind == "V" and dtype.names is None and dtype.type.__module__ == "ml_dtypes":
        return array.astype(np.float32 if _ml_dtypes_float(dtype) else np.int32)
    return array


def _torch_to_numpy(value: Any, widen_floats: bool) -> np.ndarray:
    import torch  # already imported: `value` is one of its tensors

    tensor = value.detach()
    if tensor.dtype == torch.bfloat16 and not widen_floats:
        # NumPy has no bfloat16 of its own: hand the bits over and view them as ml_dtypes'.
        import ml_dtypes

        return tensor.cpu().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    if widen_floats and tensor.is_floating_point() and tensor.element_size() < 4:
        tensor = tensor.float()
    return tensor.cpu().resolve_conj().resolve_neg().numpy()


def to_numpy(value: Any, *, widen_floats: bool = True) -> Any:
    """One leaf (NumPy array, tensor of any framework, number, list) as a NumPy array.

    Args:
        value: the leaf; None is returned as is.
        widen_floats: turn float16, bfloat16 and other floats narrower than 32 bits into
            float32 (exact), so the result is an ordinary NumPy float array.

    Returns:
        A NumPy array (or None).

    Examples:
        >>> import numpy as np, ml_dtypes
        >>> to_numpy(np.array([0.25, 0.5], dtype=ml_dtypes.bfloat16)).dtype
        dtype('float32')
        >>> to_numpy(np.array([1, 2], dtype=np.float16), widen_floats=False).dtype
        dtype('float16')
    """
    if value is None:
        return None
    if not isinstance(value, np.ndarray):
        module = type(value).__module__
        if module.startswith("torch") and hasattr(value, "detach"):
            value = _torch_to_numpy(value, widen_floats)
        elif module.startswith("tensorflow") and hasattr(value, "numpy"):
            value = np.asarray(value.numpy())
        else:
            keras = sys.modules.get("keras")
            if keras is not None and keras.ops.is_tensor(value):
                value = np.asarray(keras.ops.convert_to_numpy(value))
            else:
                value = np.asarray(value)
    return widen(value) if widen_floats else value


def is_tf_dataset(value: Any) -> bool:
    """Whether `value` is a `tf.data.Dataset` (without importing TensorFlow)."""
    return type(value).__module__.startswith("tensorflow") and hasattr(value, "as_numpy_iterator")
