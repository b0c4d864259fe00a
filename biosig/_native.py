"""Small C++ kernels, compiled with the system's C++ compiler at first use and loaded with
:mod:`ctypes` (soft-DTW's fused loop, the int16 window decode, the EDF record gather and
quality counts, the cache's CRC-32).

Why a plain shared library (and not ``torch.utils.cpp_extension``, ``torch.compile`` or numba):
a kernel needs no torch headers, so it compiles in under a second instead of about a minute per
torch version and has no ABI tie to torch; ``ctypes`` releases the GIL during a call; numba
would be a new dependency with a JIT of seconds per process.

A library is cached in ``$BIOSIG_BUILD_DIR`` (default ``~/.cache/biosig/build``), named by a
hash of its source, flags, compiler version and CPU feature flags (``-march=native`` code differs
between CPUs sharing a home folder), and written atomically, so concurrent processes never load
a partial file. Without a compiler (``$CXX``, else ``g++``) :meth:`NativeLibrary.load` warns once
and returns ``None``: the caller runs its PyTorch path, and so it does when the build folder
cannot be written. A compiler that fails on a source raises (a bug, not a missing tool).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

LINK_FLAGS = ["-shared", "-fPIC"]


def build_dir() -> Path:
    """Where compiled libraries are cached (``$BIOSIG_BUILD_DIR`` or ``~/.cache/biosig/build``)."""
    root = os.environ.get("BIOSIG_BUILD_DIR")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "biosig" / "build"


def compiler() -> str | None:
    """The C++ compiler used: ``$CXX`` if set, else ``g++`` on the ``PATH``; ``None`` if absent."""
    return shutil.which(os.environ.get("CXX") or "g++")


def _cpu_id() -> str:
    """CPU feature flags (``-march=native`` output differs between CPUs sharing a home)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln for ln in f if ln.startswith("flags")), "")
    except OSError:
        return platform.machine()


def compile_library(cxx: str, name: str, source: str, flags: list[str]) -> Path:
    """The shared library of ``source`` built with ``flags`` (cached; see the module)."""
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    key = "\0".join([source, *flags, *LINK_FLAGS, version, _cpu_id()])
    key = hashlib.sha256(key.encode()).hexdigest()[:16]
    out_dir = build_dir()
    so = out_dir / f"{name}_{key}.so"
    if so.exists():
        return so
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        src = Path(tmp) / f"{name}.cpp"
        src.write_text(source)
        tmp_so, obj = Path(tmp) / so.name, Path(tmp) / f"{name}.o"
        for cmd in ([cxx, *flags, "-c", str(src), "-o", str(obj)],
                    [cxx, *LINK_FLAGS, str(obj), "-o", str(tmp_so)]):  # fmt: skip
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"building the {name} CPU kernel failed: {' '.join(cmd)} "
                                   f"(exit {p.returncode}):\n{p.stderr[-2000:]}")  # fmt: skip
        os.replace(tmp_so, so)  # atomic: concurrent processes never load a partial file
    return so


class NativeLibrary:
    """``source`` compiled with ``flags`` at the first :meth:`load`; ``signatures`` maps each
    exported function to ``(argtypes, restype)``; ``fallback`` completes the warning given once
    when there is no compiler (what runs instead, and at what cost)."""

    def __init__(self, name: str, source: str, flags: list[str], signatures: dict,
                 fallback: str):  # fmt: skip
        self.name, self.source, self.flags = name, source, list(flags)
        self.signatures, self.fallback = signatures, fallback
        self._lock = threading.Lock()
        self._lib: ctypes.CDLL | None = None
        self._tried = False

    def load(self) -> ctypes.CDLL | None:
        """The library, built at first use; ``None`` (after one :class:`UserWarning`) without a
        C++ compiler."""
        with self._lock:
            if self._tried:
                return self._lib
            cxx = compiler()
            if cxx is None:
                self._tried = True
                cxx_name = os.environ.get("CXX") or "g++"
                warnings.warn(
                    f"{self.name} kernel: no C++ compiler found ({cxx_name}); {self.fallback} "
                    "Install g++ (or set CXX) for the compiled kernel.",
                    UserWarning, stacklevel=4)  # fmt: skip
                return None
            try:
                so = compile_library(cxx, self.name, self.source, self.flags)
            except OSError as err:  # the build folder cannot be written: as without a compiler
                self._tried = True
                warnings.warn(
                    f"{self.name} kernel: cannot build it in {build_dir()} ({err}); "
                    f"{self.fallback} Set BIOSIG_BUILD_DIR to a writable folder.",
                    UserWarning, stacklevel=4)  # fmt: skip
                return None
            lib = ctypes.CDLL(str(so))
            for fn, (argtypes, restype) in self.signatures.items():
                getattr(lib, fn).argtypes = argtypes
                getattr(lib, fn).restype = restype
            self._lib, self._tried = lib, True
            return lib

    def reset(self) -> None:
        """Forget the loaded library (tests: look for the compiler again)."""
        with self._lock:
            self._lib, self._tried = None, False
