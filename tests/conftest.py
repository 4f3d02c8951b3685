"""Pytest configuration: hypothesis profile (in helpers) and shared fixtures."""

from __future__ import annotations

import helpers  # noqa: F401  (registers the hypothesis profile, quiets TensorFlow)
import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
