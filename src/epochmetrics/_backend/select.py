"""Pick an installed Keras backend when the user chose none and Keras' default is missing.

Runs before Keras is imported. It never overrides a choice: an explicit `KERAS_BACKEND`, a
backend named in `~/.keras/keras.json` (or `$KERAS_HOME`), or an already imported Keras win.
It only fills in when Keras would otherwise start on a backend that is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

_MODULES = {
    "jax": "jax",
    "tensorflow": "tensorflow",
    "torch": "torch",
    "numpy": "numpy",
    "openvino": "openvino",
}


def _configured() -> str:
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    try:
        return str(json.loads((Path(home) / "keras.json").read_text()).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _installed(backend: str) -> bool:
    module = _MODULES.get(backend)
    return module is not None and importlib.util.find_spec(module) is not None


def select_backend() -> str | None:
    """Set KERAS_BACKEND to an installed backend if needed; return what was set, else None."""
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return None
    if _installed(_configured()):
        return None
    for backend in ("jax", "tensorflow", "torch"):
        if _installed(backend):
            os.environ["KERAS_BACKEND"] = backend
            return backend
    return None
