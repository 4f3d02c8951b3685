"""The names of the options' values, defined once for both stacks (standard library only).

Every `Literal` a public signature uses lives here, so that a value list changes in one place
and the compute stack (metrics, callbacks) and the artifacts stack (plots, report, command
line) spell it alike. The checks that enforce them live in `functional/_args.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

__all__ = [
    "Average",
    "CalibrationAverage",
    "Direction",
    "KappaWeights",
    "Mode",
    "Multioutput",
    "MultidimAverage",
    "Norm",
    "Normalize",
    "PerStep",
    "ProcessData",
    "Progress",
    "RankingAverage",
    "RatioAverage",
    "Task",
    "TauVariant",
    "UpdateFreq",
]

Task = Literal["binary", "multiclass", "multilabel"]
# The averages of the count family's results; "binary" is the positive class.
Average = Literal["binary", "micro", "macro", "weighted"] | None
# What the ratio metrics take: "auto" (binary for binary, else macro) and multilabel "samples".
RatioAverage = Literal["auto", "binary", "micro", "macro", "weighted", "samples"] | None
RankingAverage = Literal["micro", "macro", "weighted"] | None
CalibrationAverage = Literal["macro", "micro"] | None
MultidimAverage = Literal["global", "samplewise"]
KappaWeights = Literal["linear", "quadratic"] | None
Normalize = Literal["true", "pred", "all"] | None
Norm = Literal["l1", "l2", "max"]
PerStep = Literal["all", "averages", "none"]
# What each process's evaluation data holds: all of it, or its own part (None: one process).
ProcessData = Literal["whole", "own"] | None
# How the outputs of a regression metric combine (scikit-learn's `multioutput`); or D weights.
Multioutput = Literal["raw_values", "uniform_average", "variance_weighted"] | Sequence[float]
# Kendall's tau: tau-b or Stuart's tau-c.
TauVariant = Literal["b", "c"]
# Whether higher ("up") or lower ("down") values of a log key are better.
Direction = Literal["up", "down"]
# Called with a short message at each stage of a long job (COCO files, reports).
Progress = Callable[[str], None]
# How often em.TensorBoard writes the training step's logs (besides every epoch), as Keras' own.
UpdateFreq = Literal["epoch", "batch"] | int
# Which way a monitored key improves, as Keras' callbacks say it ("auto": from the key).
Mode = Literal["auto", "max", "min"]
