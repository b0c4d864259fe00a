"""CPU thread count for torch: ``--threads`` / ``BIOSIG_THREADS``, default from the machine load.

torch's intra-op pool spins on barriers between many short kernels; when the cores are already
busy (other processes), every extra thread waits for a core. Measured on a loaded 2-core machine
(``python -m benchmarks``, figures in the docs): 2 threads instead of 1 made DBConformer training
and the ECGNet LSTM several times slower. The default therefore uses only the cores that are
free: ``max(1, usable cores - round(1-minute load average))``, so an idle machine keeps all its
cores and a saturated one runs single-threaded.

Precedence: an explicit value (``--threads N`` of the ``biosig`` command and the recipe scripts)
over ``BIOSIG_THREADS`` over ``OMP_NUM_THREADS`` (if set, torch's count is left as it is) over
that default. ``"auto"`` (either place) asks for the next one down.
"""

from __future__ import annotations

import os

from biosig.errors import ConfigError

ENV = "BIOSIG_THREADS"

__all__ = ["ENV", "auto_threads", "resolve_threads", "set_threads", "pop_threads_option",
           "command_first"]
NEEDS_VALUE = "--threads needs a value (a positive integer or 'auto')"


def auto_threads() -> int:
    """Cores not already busy: ``max(1, usable - round(load average))``, at most ``usable``."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, min(usable, usable - round(load)))


def _parse(value, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return None
        try:
            value = int(value)
        except ValueError:
            raise ConfigError(
                f"{where} must be a positive integer or 'auto', got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where} must be a positive integer or 'auto', got {value!r}")
    return value


def resolve_threads(threads: int | str | None = None) -> int:
    """The thread count to use: ``threads`` if given, else ``$BIOSIG_THREADS``, else torch's
    current count where ``$OMP_NUM_THREADS`` is set (torch already honours it), else the
    free-core default."""
    n = _parse(threads, "--threads")
    if n is None:
        n = _parse(os.environ.get(ENV), ENV)
    if n is None and os.environ.get("OMP_NUM_THREADS"):
        import torch

        return torch.get_num_threads()
    return auto_threads() if n is None else n


def set_threads(threads: int | str | None = None) -> int:
    """``torch.set_num_threads(resolve_threads(threads))``; returns the count."""
    import torch

    n = resolve_threads(threads)
    torch.set_num_threads(n)
    return n


def pop_threads_option(argv: list[str], apply: bool = True) -> list[str]:
    """Remove ``--threads N`` / ``--threads=N`` from ``argv``, apply it (or the default; not with
    ``apply=False``: torch not imported), return the remaining arguments. Used by the ``biosig``
    command before its subcommands parse."""
    rest, value = [], None
    it = iter(argv)
    for a in it:
        if a == "--threads":
            value = next(it, None)
            if value is None:
                raise ConfigError(NEEDS_VALUE)
        elif a.startswith("--threads="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
    if apply:
        set_threads(value)
    return rest


def command_first(argv: list[str]) -> list[str]:
    """``--threads N <command> ...`` as ``<command> --threads N ...`` (nothing applied, torch not
    imported); other arguments unchanged. ``--threads`` without a value is a ConfigError."""
    if not argv or not argv[0].startswith("--threads"):
        return argv
    n = 1 if "=" in argv[0] else 2
    if len(argv) < n:
        raise ConfigError(NEEDS_VALUE)
    return argv[n:n + 1] + argv[:n] + argv[n + 1:]
