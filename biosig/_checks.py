"""Checks of configuration values, shared by every constructor that takes numbers from a config.

Each failure is a :class:`~biosig.errors.ConfigError` whose message names the key and the reason
(``"Bandpass.low must be a finite number > 0, got -1"``), raised where the object is built, so a
bad value is refused before any cache or run folder is written. The values are returned as
given (never converted: a step's fields go into the window-cache key as they are).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from biosig.errors import ConfigError

__all__ = ["check_args", "did_you_mean", "number", "one_of"]


def did_you_mean(name: str, choices, *, n: int = 1, cutoff: float = 0.6, prefix: str = "") -> str:
    """``" (did you mean X?)"``: the closest of ``choices`` to a misspelt ``name`` (up to ``n``,
    joined by "or", each after ``prefix``), or ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=cutoff)
    return f" (did you mean {' or '.join(prefix + c for c in close)}?)" if close else ""


def colon_without_space(text) -> str:
    """``" (YAML reads ... write {a: 1})"`` when ``text`` (a mapping's key, or a value given
    as ``{...}``) holds ``name:value`` without a space after the colon, which YAML reads as
    one word, not as an entry; ``""`` otherwise."""
    import re

    found = re.search(r"([A-Za-z_]\w*):([^\s,}/][^\s,}]*)", str(text))
    if not found:
        return ""
    return (f" (YAML reads {found[0]!r}, without a space after the colon, as one word, not as "
            f"an entry: write {{{found[1]}: {found[2]}}})")


def _bounds(gt, ge, lt, le) -> str:
    """``"> 0"``, ``">= 0"``, ``"in (0, 1]"``...: the bounds in words."""
    low = (gt, "(") if gt is not None else (ge, "[")
    high = (lt, ")") if lt is not None else (le, "]")
    if low[0] is not None and high[0] is not None:
        return f"in {low[1]}{low[0]:g}, {high[0]:g}{high[1]}"
    if low[0] is not None:
        return f"{'>' if gt is not None else '>='} {low[0]:g}"
    if high[0] is not None:
        return f"{'<' if lt is not None else '<='} {high[0]:g}"
    return ""


def number(key: str, value, *, gt: float | None = None, ge: float | None = None,
           lt: float | None = None, le: float | None = None, integer: bool = False,
           optional: bool = False):
    """``value`` if it is a finite real number (an integer with ``integer``; never a bool)
    within the bounds (``gt`` > , ``ge`` >=, ``lt`` <, ``le`` <=), else a ConfigError naming
    ``key``; ``None`` passes when ``optional``."""
    if value is None and optional:
        return None
    kind = "an integer" if integer else "a finite number"
    bounds = _bounds(gt, ge, lt, le)
    want = f"{kind} {bounds}".strip() + (" or None" if optional else "")
    ok = (isinstance(value, Integral if integer else Real) and not isinstance(value, bool)
          and math.isfinite(value)
          and (gt is None or value > gt) and (ge is None or value >= ge)
          and (lt is None or value < lt) and (le is None or value <= le))
    if not ok:
        raise ConfigError(f"{key} must be {want}, got {value!r}")
    return value


def names(value) -> list:
    """A name or a sequence of names as a list: one str is one name (``list("feet")`` would
    be its letters, ``['f', 'e', 'e', 't']``)."""
    return [value] if isinstance(value, str) else list(value)


def one_of(key: str, value, allowed, *, optional: bool = False):
    """``value`` if it is one of ``allowed`` (or ``None`` when ``optional``), else a
    ConfigError naming ``key`` and the choices."""
    if (value is None and optional) or value in tuple(allowed):
        return value
    raise ConfigError(f"{key} must be one of {tuple(allowed)}"
                      + (" or None" if optional else "") + f", got {value!r}")


def check_args(args, rules: dict, prefix: str = "") -> None:
    """Check the entries of ``args`` (a mapping of argument names to values) that ``rules``
    names: a rule is either the keyword arguments of :func:`number` (``{"gt": 0}``) or a
    callable ``rule(key, value)`` that raises a ConfigError. Keys in messages are
    ``prefix + name`` (e.g. ``"model.lr"``); arguments without a rule are not looked at."""
    for name, rule in rules.items():
        if name not in args:
            continue
        key = prefix + name
        if callable(rule):
            rule(key, args[name])
        else:
            number(key, args[name], **rule)
