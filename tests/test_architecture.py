"""The layout of docs/architecture.md, checked: what may import what, and no import cycles.

Module-level imports only (imports inside functions are lazy on purpose: the CLI's commands,
the demo). Read from the source with `ast`, so this runs without importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "epochmetrics"

# Top-level area of a module -> the areas it may import at module level.
ALLOWED = {
    "_types": set(),
    "_backend": {"_backend"},
    "functional": {"_backend", "functional"},
    "metrics": {"_backend", "functional", "metrics"},
    "callbacks": {"_backend", "functional", "metrics", "callbacks", "_files"},
    "distributed": {"metrics", "functional", "_backend"},
    "_files": {"_files"},
    "plot": {"plot", "_files", "_backend"},
    "report": {"report", "plot", "_files"},
    "cli": {"cli", "_files"},
    "__init__": {"_backend"},
    "__main__": {"cli"},
}
ALLOWED["_docs"] = set()
# The names of the options' values and the docstring mechanism (standard library only): every
# area may import them.
for _allowed in ALLOWED.values():
    _allowed |= {"_types", "_docs"}
# The crossings from the compute stack into the artifacts stack: the callbacks write run
# artifacts through their formats' owners (the evaluator its history file; RunRecorder the run
# directory; TensorBoard reads what log keys mean); and plots read tensors with the
# framework-free converter.
CROSSINGS = {
    ("callbacks", "_files"): {
        "epochmetrics._files.curves",
        "epochmetrics._files.evaluation",
        "epochmetrics._files.history",
        "epochmetrics._files.keys",
        "epochmetrics._files.matrix",
        "epochmetrics._files.run",
        "epochmetrics._files.run_dir",
    },
    ("plot", "_backend"): {"epochmetrics._backend.host"},
}
FRAMEWORKS = ("jax", "tensorflow", "torch")


def _module_name(path: Path) -> str:  # src/epochmetrics/a/b.py -> epochmetrics.a.b
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _area(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _top_level_imports(path: Path) -> list[str]:
    """Absolute module names imported at module level (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, ast.Try | ast.If) else [node]:
            if isinstance(sub, ast.Import):
                found += [alias.name for alias in sub.names]
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1])
                    base = f"{base}.{sub.module}" if sub.module else base
                for alias in sub.names:
                    full = f"{base}.{alias.name}"
                    # `from package import submodule` imports the submodule; anything else
                    # is a name defined in `base`.
                    found.append(full if full in MODULES else base)
    return found


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _ours(name: str) -> str | None:
    """The module of ours that an imported name refers to (a module, or a name in one)."""
    while name.startswith("epochmetrics"):
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_inward(module: str) -> None:
    area = _area(module)
    for name in _top_level_imports(MODULES[module]):
        target = _ours(name)
        if target is None or target == "epochmetrics":
            continue
        target_area = _area(target)
        assert target_area in ALLOWED[area], f"{module} imports {target}"
        crossing = CROSSINGS.get((area, target_area))
        if crossing is not None and target_area != area:
            assert target in crossing, f"{module} imports {target}"


def test_framework_names_only_in_the_backend_and_distributed() -> None:
    for module, path in MODULES.items():
        if _area(module) in ("_backend", "distributed"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for name in names:
                    assert name.split(".")[0] not in FRAMEWORKS, f"{module} imports {name}"


def test_keras_internals_only_in_their_module() -> None:
    """`keras.src` is read in one module, with its per-version strategy and canaries."""
    for module, path in MODULES.items():
        if module == "epochmetrics._backend.keras_internals":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                assert not any(n.startswith("keras.src") for n in names), module
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith("keras.src"), module


def _is_backend_name(node: ast.AST) -> bool:
    """`keras.backend.backend()` or `keras.config.backend()`, however imported."""
    return isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "backend"


def test_backend_names_are_compared_only_in_the_backend_and_distributed() -> None:
    """What differs by backend is decided in `_backend/` (and by `distributed.py`, which is
    torch's): elsewhere a backend's name is shown, never compared."""
    for module, path in MODULES.items():
        if _area(module) in ("_backend", "distributed"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                assert not any(_is_backend_name(s) for s in sides), (
                    f"{module}:{node.lineno} compares the backend's name: ask `_backend` instead"
                )


def test_no_import_cycles() -> None:
    graph = {
        m: {t for n in _top_level_imports(p) if (t := _ours(n)) and t != m}
        for m, p in MODULES.items()
    }
    # A package's __init__ importing its own submodules is how packages re-export names.
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            cycle = [*stack[stack.index(node) :], node]
            if not all(n.startswith(cycle[0]) or cycle[0].startswith(n) for n in cycle):
                raise AssertionError(" -> ".join(cycle))
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*stack, node])
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
