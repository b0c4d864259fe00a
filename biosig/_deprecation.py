"""Deprecation aliases for public names that moved to another module.

An old module keeps a module-level ``__getattr__`` that imports the new home lazily (so the import
graph still shows the arrow) and hands each moved name through :func:`moved`, which warns once per
access with a :class:`FutureWarning` naming the new import path.
"""

from __future__ import annotations

import warnings
from types import ModuleType


def moved(old_module: str, name: str, new_module: ModuleType, names) -> object:
    """``getattr(new_module, name)`` with a FutureWarning, for the moved ``names`` only."""
    if name not in names:
        raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
    warnings.warn(
        f"{old_module}.{name} moved to {new_module.__name__}.{name}; import it from there "
        f"(the old path will be removed)",
        FutureWarning,
        stacklevel=3,
    )
    return getattr(new_module, name)
