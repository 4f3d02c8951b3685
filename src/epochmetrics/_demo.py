"""`epochmetrics demo`: placeholder until the demo lands."""

from __future__ import annotations


def run(out: str, epochs: int, seed: int = 0) -> int:
    raise NotImplementedError
