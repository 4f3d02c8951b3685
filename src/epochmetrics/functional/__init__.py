"""Pure math on `keras.ops` (and host NumPy for ranking): no Metric, Callback or plotting here."""
