"""Register the metrics with Keras as soon as Keras is imported, and not before.

Why this exists: `import epochmetrics` must stay cheap (the `epochmetrics` command, plots and
reports never need Keras, which pulls in a backend: seconds and hundreds of MB), so the
package imports its metrics lazily. But a model compiled with our metrics must load with
`keras.models.load_model(path)` and no `custom_objects` after a plain `import epochmetrics`,
and Keras' deserializer only finds classes that are already registered (it imports modules of
Keras' own packages only). So the metrics must be imported no later than Keras itself:

- if Keras is already imported, `install()` imports them at once;
- otherwise it puts a finder at the front of `sys.meta_path`. For the top-level `keras`
  module and for our own modules it hands back the spec the other finders give, with that
  module's loader made to call back once the module's code has run. The metrics are imported
  at the first such moment when Keras is complete and none of our modules is half-way
  through its import (importing `epochmetrics.functional.calibration` first imports Keras
  from inside it). The finder then removes itself; every loader is restored after its one
  call: nothing stays patched.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

__all__ = ["install"]

# Modules whose import registers every serializable class (`register_keras_serializable`).
MODULES = ("epochmetrics.metrics",)


def register() -> None:
    """Import the modules that register our classes with Keras."""
    for name in MODULES:
        importlib.import_module(name)


class _AfterKeras:
    """A `sys.meta_path` finder, active until the metrics are registered.

    It follows two kinds of imports: the top-level `keras` module, and our own modules. The
    metrics are registered when Keras is complete and none of our modules is half-way through
    its own import: `import epochmetrics.functional.calibration` imports Keras from inside,
    and registering at that moment would import modules that need the half-imported one.
    Registration then waits until the outermost of our imports has finished.
    """

    def __init__(self) -> None:
        self.importing = 0  # our modules whose code is running (nested imports)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        ours = fullname.startswith("epochmetrics.")
        if fullname != "keras" and not ours:
            return None
        spec = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        loader: Any = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # not found (Python raises as usual), or a loader we cannot follow
        # The loader instance belongs to this spec alone: shadow its method for one call.
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            self.importing += ours
            try:
                original(module)
            finally:
                self.importing -= ours
                del loader.exec_module
            if self.importing == 0 and "keras" in sys.modules:
                _register_now()

        loader.exec_module = exec_module
        return spec


_FINDER = _AfterKeras()


def _register_now() -> None:
    """Keras is complete and none of our imports is half-way: register, once."""
    _uninstall()
    try:
        register()
    except Exception as err:  # never make an import fail because of us
        warnings.warn(
            f"epochmetrics could not register its metrics with Keras ({err!r}); models saved "
            "with them need `custom_objects` to load. Accessing the metrics (e.g. "
            "`epochmetrics.F1Score`) raises the same error.",
            RuntimeWarning,
            stacklevel=3,
        )


def _uninstall() -> None:
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


def install() -> None:
    """Make sure our classes are registered with Keras whenever Keras is (or gets) imported."""
    if "keras" in sys.modules:
        register()
    elif _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
