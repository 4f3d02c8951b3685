"""What the public metric classes share: their own `__init__`."""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["own_init"]


def own_init(cls: type) -> type:
    """Give a public class that inherits `__init__` its own copy of it, named after the class.

    The signature stays the inherited one (explicit keywords for `help()` and IDEs), and
    Python's argument errors name the class the user called (`Accuracy.__init__() got an
    unexpected keyword argument ...`) instead of a private base class.
    """
    if "__init__" in vars(cls):
        return cls
    base: Any = next(vars(c)["__init__"] for c in cls.__mro__ if "__init__" in vars(c))
    qualname = f"{cls.__qualname__}.__init__"
    code = base.__code__
    if sys.version_info >= (3, 11):  # argument errors name co_qualname; 3.10 has no such field
        code = code.replace(co_qualname=qualname)
    init = types.FunctionType(
        code,
        base.__globals__,
        base.__name__,
        base.__defaults__,
        base.__closure__,
    )
    init.__kwdefaults__ = base.__kwdefaults__
    init.__annotations__ = base.__annotations__
    init.__doc__ = base.__doc__
    init.__qualname__ = qualname
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[misc]
    return cls
