"""What the public metric classes share: their own `__init__`."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["own_init"]

_SOURCE = """
class {cls}:
    def __init__({params}):
        _base({args})
"""


_SOURCE = """
class {cls}:
    def __init__({params}):
        _base({args})
"""


def own_init(cls: type) -> type:
    """Give a public class that inherits `__init__` its own `__init__`, named after the class.

    The signature stays the inherited one (explicit keywords for `help()` and IDEs), and
    Python's argument errors name the class the user called (`Accuracy.__init__() got an
    unexpected keyword argument ...`) instead of a private base class. The new `__init__` is
    compiled in a class block of the class's name, so its code carries that qualified name on
    every supported Python (3.10 names the function's, 3.11+ the code's, in argument errors),
    and it passes every argument on to the inherited one.
    """
    if "__init__" in vars(cls):
        return cls
    base: Any = next(vars(c)["__init__"] for c in cls.__mro__ if "__init__" in vars(c))
    params, args = [], []
    kind = inspect.Parameter
    previous = None
    for p in inspect.signature(base).parameters.values():
        if previous is kind.POSITIONAL_ONLY and p.kind is not kind.POSITIONAL_ONLY:
            params.append("/")
        if p.kind is kind.KEYWORD_ONLY and previous not in (kind.KEYWORD_ONLY, kind.VAR_POSITIONAL):
            params.append("*")
        previous = p.kind
        # Placeholder defaults: the inherited objects themselves are set below.
        default = "" if p.default is kind.empty else "=None"
        if p.kind is kind.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            args.append(f"*{p.name}")
        elif p.kind is kind.VAR_KEYWORD:
            params.append(f"**{p.name}")
            args.append(f"**{p.name}")
        elif p.kind is kind.KEYWORD_ONLY:
            params.append(p.name + default)
            args.append(f"{p.name}={p.name}")
        else:
            params.append(p.name + default)
            args.append(p.name)
    if previous is kind.POSITIONAL_ONLY:
        params.append("/")
    source = _SOURCE.format(cls=cls.__name__, params=", ".join(params), args=", ".join(args))
    namespace: dict[str, Any] = {"_base": base}
    exec(compile(source, f"<{cls.__module__}.{cls.__name__}.__init__>", "exec"), namespace)
    init = vars(namespace[cls.__name__])["__init__"]
    init.__defaults__ = base.__defaults__
    init.__kwdefaults__ = base.__kwdefaults__
    init.__annotations__ = base.__annotations__
    init.__doc__ = base.__doc__
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[misc]
    return cls
