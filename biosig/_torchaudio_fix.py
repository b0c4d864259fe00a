"""Make torchaudio importable beside a CPU build of torch (run by ``.ci/setup``).

braindecode >= 1.0 imports torchaudio. The only torchaudio release that accepts torch 2.13 ships
compiled extensions linked against CUDA libraries, so ``import torchaudio`` fails next to a CPU
torch with ``OSError: ... libc10_cuda.so``. torchaudio falls back to pure Python when its
``lib/*.so`` files are absent, which is all braindecode needs. This script removes them only when
the import actually fails for that reason, and checks the import afterwards; it is idempotent and
leaves a working torchaudio (e.g. on a CUDA machine) untouched.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path


def _import_error() -> str | None:
    proc = subprocess.run(
        [sys.executable, "-c", "import torchaudio"], capture_output=True, text=True
    )
    return None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["?"])[-1]


def main() -> int:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        print("torchaudio: not installed (braindecode baselines unavailable)")
        return 0
    error = _import_error()
    if error is None:
        print("torchaudio: imports fine")
        return 0
    if not any(k in error for k in ("libc10_cuda", "libcudart", "Could not load this library")):
        print(f"torchaudio: import fails for another reason, not touched: {error}", file=sys.stderr)
        return 1
    lib = Path(spec.origin).parent / "lib"
    removed = [p for p in lib.glob("*.so")]
    for p in removed:
        p.unlink()
    error = _import_error()
    if error is not None:
        print(
            f"torchaudio: still fails after removing {len(removed)} .so files: {error}",
            file=sys.stderr,
        )
        return 1
    print(f"torchaudio: removed {len(removed)} CUDA-linked .so files; pure-Python fallback imports")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
