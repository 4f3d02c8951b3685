"""The bottom of the artifacts stack: the files a run leaves behind, one owner per format.

Standard library and NumPy only (no Keras, no matplotlib). See `docs/architecture.md`.
"""
