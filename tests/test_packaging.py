"""The declared supported range is one range: pyproject.toml, the Keras-internals module and
the compatibility job's oldest leg agree, and the version comes from the package metadata."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from epochmetrics._backend import keras_internals

tomllib = pytest.importorskip("tomllib")  # Python 3.11+: the development stack

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _compat() -> object:
    spec = importlib.util.spec_from_file_location("compat", ROOT / "tools" / "compat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("compat", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _bounds(requirements: list[str], name: str) -> tuple[str, str]:
    (spec,) = [r for r in requirements if re.match(rf"{name}\b", r)]
    found = re.fullmatch(rf"{name}>=([\d.]+),<([\d.]+)", spec.replace(" ", ""))
    assert found, f"{spec!r}: give {name} a lower and an upper bound"
    return found.group(1), found.group(2)


def _minor_after(version: tuple[int, ...]) -> str:
    return f"{version[0]}.{version[1] + 1}"


def test_keras_bounds_are_the_internals_module_range() -> None:
    low, high = keras_internals.SUPPORTED_KERAS
    assert _bounds(PYPROJECT["dependencies"], "keras") == (
        ".".join(map(str, low)),
        _minor_after(high),
    )


@pytest.mark.parametrize("backend", ["jax", "tensorflow", "torch"])
def test_backend_extras_are_the_tested_range(backend: str) -> None:
    low, high = keras_internals.SUPPORTED_BACKENDS[backend]
    lower, upper = _bounds(PYPROJECT["optional-dependencies"][backend], backend)
    assert tuple(int(p) for p in lower.split(".")) + (0,) * (3 - lower.count(".") - 1) == low
    assert upper == _minor_after(high)


def test_the_oldest_legs_pin_the_lower_bounds() -> None:
    compat: object = _compat()
    legs = {leg.name: leg for leg in compat.LEGS}  # type: ignore[attr-defined]
    low_keras = ".".join(map(str, keras_internals.SUPPORTED_KERAS[0]))
    assert f"keras=={low_keras}.0" in legs["oldest"].pins
    low_jax = ".".join(map(str, keras_internals.SUPPORTED_BACKENDS["jax"][0]))
    assert f"jax=={low_jax}" in legs["oldest"].pins
    low_numpy = re.search(r"numpy>=([\d.]+)", " ".join(PYPROJECT["dependencies"])).group(1)
    assert any(p.startswith(f"numpy=={low_numpy}") for p in legs["oldest"].pins)
    low_tf = ".".join(map(str, keras_internals.SUPPORTED_BACKENDS["tensorflow"][0]))
    assert f"tensorflow-cpu=={low_tf}" in legs["oldest-tensorflow"].pins
    low_torch = ".".join(map(str, keras_internals.SUPPORTED_BACKENDS["torch"][0]))
    assert f"torch=={low_torch}" in legs["oldest-torch"].pins
    # Python: the oldest and the newest declared minor are both run.
    declared = re.findall(r"Python :: (3\.\d+)$", "\n".join(PYPROJECT["classifiers"]), re.M)
    assert PYPROJECT["requires-python"] == f">={declared[0]},<3.{int(declared[-1][2:]) + 1}"
    ran = {leg.python for leg in legs.values()}
    assert {declared[0], declared[-1]} <= ran


def test_no_version_string_in_the_source() -> None:
    """`epochmetrics.__version__` comes from the installed metadata (pyproject.toml)."""
    for path in (ROOT / "src" / "epochmetrics").rglob("*.py"):
        assert not re.search(r"__version__\s*=\s*['\"]", path.read_text()), path
