"""Run the reader fuzzer at full size and print the tally (issue #14: >= 1,500 cases).

PYTHONPATH=$PWD python tests/fuzz/run_fuzz.py --cases 2000 --seed 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

from fuzzer import run, sources, tally  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    shared = Path(os.environ.get("BIOSIG_SHARED_DATA", HERE.parents[2] / "shared" / "data"))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        srcs = sources(shared, Path(tmp))
        print(f"{len(srcs)} sources: " + ", ".join(s.name for s in srcs))
        t0 = time.perf_counter()
        results = run(srcs, args.cases, seed=args.seed)
    print(tally(results))
    print(f"{time.perf_counter() - t0:.0f} s")
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
