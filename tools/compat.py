"""The compatibility job (`make compat`): the built wheel on the oldest and newest stacks.

Builds the wheel once, checks its contents, then for each leg creates a fresh virtual
environment (uv), installs the wheel (never editable: a file or dependency missing from the
package fails here) with that leg's Keras, backend and Python, and runs the smoke suite
(`tests/smoke`, each feature against scikit-learn or pycocotools). The last leg installs
`epochmetrics[jax]` with plain pip into an empty venv and runs the README's usage example.

    python tools/compat.py                  # every leg
    python tools/compat.py --legs oldest    # some legs (names below); --list shows them
    python tools/compat.py --try 3.11:jax:keras==3.11.3,jax==0.7.2   # any other combination

Legs pin the oldest versions pyproject.toml allows (so its lower bounds are proven), or let
the resolver pick the newest it allows (so its upper bounds are). Each leg prints the versions
it ran and its wall time; the summary is the README's compatibility table, as measured.
Standard library only: it runs with any Python 3.10+ that has `uv` importable or on PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "compat"
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
# Where this machine keeps the CPU-only torch wheel (PyPI serves CUDA builds of several GB).
WHEELS = Path("/opt/wheels")
SMOKE_DEPS = ("pytest>=8", "hypothesis>=6.90", "scikit-learn>=1.4", "pycocotools>=2.0.8")


@dataclass(frozen=True)
class Leg:
    name: str
    python: str  # minor version, e.g. "3.10"
    backend: str
    pins: tuple[str, ...]  # exact versions; empty: the newest the package allows
    extra: str | None = None  # the package extra installed (None: the backend is pinned)
    readme: bool = False  # plain pip, `epochmetrics[extra]` only, then the README example
    why: str = ""
    notes: list[str] = field(default_factory=list, compare=False)


# The oldest supported combination is the first leg; keep the pins equal to the lower bounds
# in pyproject.toml (tests/test_packaging.py checks they are).
LEGS = (
    Leg(
        "oldest",
        "3.10",
        "jax",
        ("keras==3.8.0", "jax==0.4.38", "jaxlib==0.4.38", "numpy==1.26.4"),
        why="oldest Python, Keras, JAX and NumPy",
    ),
    Leg(
        "oldest-tensorflow",
        "3.11",
        "tensorflow",
        ("keras==3.8.0", "tensorflow-cpu==2.18.0", "numpy==1.26.4"),
        why="oldest Keras with the oldest TensorFlow (tensorflow-cpu: no CUDA download)",
    ),
    Leg(
        "oldest-torch",
        "3.11",
        "torch",
        ("keras==3.8.0", "torch==2.13.0"),
        why="oldest Keras with torch (the one CPU torch wheel here is cp311)",
    ),
    Leg("newest", "3.13", "jax", (), extra="jax", why="newest Python, Keras and JAX allowed"),
    Leg(
        "readme",
        "3.12",
        "jax",
        (),
        extra="jax",
        readme=True,
        why='pip install "epochmetrics[jax]" into an empty venv, then the README example',
    ),
)


def run(cmd: list[str], log: Path, **kwargs: object) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-40:])
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{tail}")


def uv() -> list[str]:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found:
        return [found]
    return [sys.executable, "-m", "uv"]


def python_for(minor: str) -> str:
    """A CPython of that minor version: pyenv's, else one on PATH."""
    for candidate in sorted(PYENV.glob(f"{minor}.*/bin/python"), reverse=True):
        return str(candidate)
    found = shutil.which(f"python{minor}")
    if found is None:
        raise RuntimeError(f"No Python {minor} found (looked in {PYENV} and PATH).")
    return found


def build_wheel() -> Path:
    dist = WORK / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # The sdist first, then the wheel from it (what uv build does without --wheel): a file the
    # sdist misses fails the build, and no stale file of a build/ folder reaches the wheel.
    run([*uv(), "build", "--out-dir", str(dist), str(ROOT)], WORK / "build.log")
    (wheel,) = dist.glob("epochmetrics-*.whl")
    return wheel


def check_wheel(wheel: Path) -> None:
    """py.typed and every module of src/ are in the wheel; no tests, nothing else."""
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {n for n in names if not n.split("/")[0].endswith(".dist-info")}
    source = {
        p.relative_to(ROOT / "src").as_posix()
        for p in (ROOT / "src" / "epochmetrics").rglob("*")
        if p.is_file() and (p.suffix == ".py" or p.name == "py.typed")
    }
    problems = []
    if "epochmetrics/py.typed" not in package:
        problems.append("no epochmetrics/py.typed")
    if missing := sorted(source - package):
        problems.append(f"missing: {missing}")
    if extra := sorted(package - source):
        problems.append(f"not from src/epochmetrics: {extra}")
    if any(re.search(r"(^|/)(tests?|conftest\.py)(/|$)", n) for n in names):
        problems.append("tests in the wheel")
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(wheel).read(meta).decode()
    if not re.search(r"^Requires-Dist: keras<\d|^Requires-Dist: keras>=3\.\d+,<", metadata, re.M):
        problems.append("keras requirement without an upper bound")
    if not any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names):
        problems.append("no LICENSE")
    if problems:
        raise RuntimeError(f"{wheel.name}: " + "; ".join(problems))
    print(f"wheel {wheel.name}: {len(package)} files, py.typed, no tests, LICENSE: ok")


def versions(python: Path, backend: str) -> str:
    code = (
        "import importlib.metadata as m, platform;"
        f"names = ['keras', {backend!r} if {backend!r} != 'tensorflow' else 'tensorflow-cpu', "
        "'numpy'];"
        "print(' '.join([f'Python {platform.python_version()}'] + "
        "[f'{n} {m.version(n)}' for n in names]))"
    )
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def run_leg(leg: Leg, wheel: Path) -> str:
    venv = WORK / leg.name
    log = WORK / f"{leg.name}.log"
    log.unlink(missing_ok=True)
    shutil.rmtree(venv, ignore_errors=True)
    python = venv / "bin" / "python"
    env = {
        **os.environ,
        "KERAS_BACKEND": leg.backend,
        "EPOCHMETRICS_SMOKE_INSTALLED": "1",
        "VIRTUAL_ENV": str(venv),
    }
    env.pop("PYTHONPATH", None)
    requirement = f"{wheel}[{leg.extra}]" if leg.extra else str(wheel)
    if leg.readme:  # as a user would: the standard venv and pip, nothing else
        run([python_for(leg.python), "-m", "venv", str(venv)], log)
        run([str(python), "-m", "pip", "install", "-q", requirement], log, env=env)
        run([str(python), str(ROOT / "tools" / "readme_usage.py")], log, env=env, cwd=WORK)
        return versions(python, leg.backend)
    run([*uv(), "venv", "-q", "-p", python_for(leg.python), str(venv)], log)
    links = ["--find-links", str(WHEELS)] if WHEELS.is_dir() else []
    pins = list(leg.pins)
    if "torch==2.13.0" in pins and list(WHEELS.glob("torch-2.13.0+cpu-*.whl")):
        pins[pins.index("torch==2.13.0")] = "torch==2.13.0+cpu"
    install = [*uv(), "pip", "install", "-q", "-p", str(python), *links, requirement, *pins]
    run([*install, *SMOKE_DEPS], log, env=env)
    pytest = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/smoke"]
    run(pytest, log, env=env, cwd=ROOT)
    counts = re.findall(r"^=*\s*(\d+ passed.*?)\s*=*$", log.read_text(), flags=re.M)
    return f"{versions(python, leg.backend)}: smoke {counts[-1] if counts else '?'}"


def _leg_from(spec: str) -> Leg:
    python, backend, pins = spec.split(":", 2)
    name = "try-" + re.sub(r"[^\w.]+", "-", f"{python}-{pins}").strip("-")
    return Leg(name, python, backend, tuple(pins.split(",")), why=spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--legs", help="comma-separated leg names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the legs and exit")
    parser.add_argument("--jobs", type=int, default=2, help="legs run at once (default: 2)")
    parser.add_argument(
        "--try",
        dest="tries",
        action="append",
        default=[],
        metavar="PYTHON:BACKEND:PINS",
        help="run the smoke suite on another combination, e.g. 3.11:jax:keras==3.11.3,jax==0.7.2",
    )
    args = parser.parse_args(argv)
    if args.list:
        for leg in LEGS:
            print(f"{leg.name:18} Python {leg.python} {leg.backend:10} {leg.why}")
        return 0
    chosen = LEGS
    if args.legs:
        wanted = args.legs.split(",")
        unknown = set(wanted) - {leg.name for leg in LEGS}
        if unknown:
            parser.error(f"unknown legs {sorted(unknown)}; --list shows them")
        chosen = tuple(leg for leg in LEGS if leg.name in wanted)
    if args.tries:
        chosen = tuple(leg for leg in chosen if args.legs) + tuple(
            _leg_from(spec) for spec in args.tries
        )
    WORK.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    wheel = build_wheel()
    check_wheel(wheel)

    def one(leg: Leg) -> tuple[str, bool]:
        began = time.perf_counter()
        print(f"=== compat {leg.name}: {leg.why}", flush=True)
        try:
            ran, ok = run_leg(leg, wheel), True
        except RuntimeError as err:
            print(f"=== compat {leg.name} FAILED: {err}", flush=True)
            ran, ok = "", False
        seconds = time.perf_counter() - began
        row = f"{leg.name:18} {'passed' if ok else 'FAILED':7} {seconds:6.0f} s  {ran}"
        print(row, flush=True)
        return row, ok

    # Legs wait mostly on one core (compiling) or on downloads: two at a time on 2 cores.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, chosen))
    rows = [row for row, _ in results]
    failed = [leg.name for leg, (_, ok) in zip(chosen, results, strict=True) if not ok]
    print(f"=== compat summary ({time.perf_counter() - start:.0f} s in all, logs in {WORK})")
    print("\n".join(rows))
    # The closing line CI reads: legs, not tests (each leg's pytest line is in its row).
    print(f"compat: {len(chosen) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
