"""The bottom of the compute stack: the only code that names JAX, TensorFlow or torch.

- `select`: pick an installed Keras backend before Keras is imported (no Keras here).
- `registration`: register the metrics with Keras as soon as Keras is imported (no Keras here).
- `host`: any array or tensor as NumPy, low-precision floats widened (no framework imported).
- `ops`: the primitives whose behaviour differs by backend (scatter-add, argmax with NaN, float
  bits, float64 availability, replica counts, variable reads, host results as backend values).
- `xp`: the two array namespaces results are computed in, `keras_ops` and `numpy_ops`.
- `runtime`: eager updates compiled once per pure function and static arguments.

This `__init__` imports nothing: `epochmetrics/__init__.py` runs `select` and `registration`
before anything imports Keras.
"""
