"""Which model output (and which target) the evaluator's metrics read, on multi-output models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Output", "select", "select_target"]

Output = int | str | None


def select(value: Any, output: Output, names: list[str], what: str) -> Any:
    """Pick one output from a structure of model outputs (or of targets)."""
    if isinstance(value, Mapping):
        if output is None:
            if len(value) == 1:
                return next(iter(value.values()))
            raise ValueError(
                f"The model has {len(value)} outputs {sorted(value)}: pass `output=` (a name or an "
                "index) to choose the one the metrics read."
            )
        if isinstance(output, str):
            key = output
        else:
            keys = names or list(value)
            if not -len(keys) <= output < len(keys):
                raise ValueError(
                    f"`output={output!r}` is out of range: the {what} has {len(keys)} entries."
                )
            key = keys[output]
        if key not in value:
            raise ValueError(f"`output={output!r}` is not among the {what} keys {sorted(value)}.")
        return value[key]
    if isinstance(value, (list, tuple)):
        if output is None:
            if len(value) == 1:
                return value[0]
            raise ValueError(
                f"The model has {len(value)} outputs{' ' + str(names) if names else ''}: pass "
                "`output=` (a name or an index) to choose the one the metrics read."
            )
        if isinstance(output, str):
            if output not in names:
                raise ValueError(
                    f"`output={output!r}` is not an output name of the model: {names}."
                )
            index = names.index(output)
        else:
            index = output
        if not -len(value) <= index < len(value):
            raise ValueError(
                f"`output={output!r}` is out of range: the {what} has {len(value)} entries."
            )
        return value[index]
    if output is not None and output not in (0, -1, *names[:1]):
        raise ValueError(
            f"`output={output!r}` does not name the model's only output"
            f"{' ' + repr(names[0]) if names else ''} (index 0)."
        )
    return value


def select_target(y: Any, output: Output, names: list[str]) -> Any:
    # Targets given for every output are narrowed like the predictions; a single array is the
    # target of the selected output.
    if isinstance(y, (Mapping, list, tuple)):
        return select(y, output, names, "target")
    return y
