"""Dataset benchmarks: index-only opening and cold cache builds.

1. PTB-XL index: writes a 20,000-record PTB-XL-shaped tree (the two CSVs plus a tiny header per
   record, 1,000 per folder as in records100/) in a temp dir and times ``PTBXL(path).records()``
   (listing records and labels without reading a signal). Goal: seconds, not minutes.
2. CinC index: 5,000 challenge-style headers (``# Dx:``), times ``CinC(path).records()`` without
   and with the duplicate check (which hashes every signal file once and memoises it).
3. Cold cache build (windows/s) per dataset on the shared real files or written fixtures:
   BCI IV 2a (GDF fixture, 288 trials), eegmmidb (real S001R03/R04), CinC (real Georgia
   records), TUEV (fixture EDF + .rec), PTB-XL (real 00001_lr tiled into a small tree).

Run: ``python benchmarks/bench_datasets.py [--n-records 20000] [--quick]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def bench_ptbxl_index(tmp: Path, n: int) -> dict:
    from _dataset_fixtures import write_ptbxl_tree

    from biosig.datasets.ptbxl import PTBXL

    t0 = time.perf_counter()
    write_ptbxl_tree(tmp / "ptbxl", n, headers=True)
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = PTBXL(tmp / "ptbxl", task="superdiagnostic")
    recs = ds.records()
    t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    PTBXL(tmp / "ptbxl", task="all").identity()
    t_ident = time.perf_counter() - t0
    return {"records": len(recs), "write_s": t_write, "index_s": t_index, "identity_all_s": t_ident}


def bench_cinc_index(tmp: Path, n: int) -> dict:
    from biosig.datasets.cinc import CinC

    folder = tmp / "cinc" / "training" / "georgia" / "g1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    codes = ["426783006", "164889003", "59118001", "427084000", "111975006", "164873001"]
    sig = np.zeros(8, np.int16).tobytes()
    for i in range(n):
        name = f"E{i:05d}"
        dx = ",".join(rng.choice(codes, size=int(rng.integers(1, 3)), replace=False))
        (folder / f"{name}.hea").write_text(
            f"{name} 12 500 5000\n"
            + "".join(f"{name}.mat 16x1+24 1000.0(0)/mV 16 0 0 0 0 L{j}\n" for j in range(12))
            + f"# Age: {int(rng.integers(20, 90))}\n# Sex: Male\n# Dx: {dx}\n# Rx: Unknown\n"
        )
        (folder / f"{name}.mat").write_bytes(sig + i.to_bytes(4, "little"))
    t0 = time.perf_counter()
    recs = CinC(tmp / "cinc", check_duplicates=False).records()
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    CinC(tmp / "cinc", check_duplicates=True, hash_cache=tmp / "hashcache").records()
    t_hash_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    CinC(tmp / "cinc", check_duplicates=True, hash_cache=tmp / "hashcache").records()
    t_hash_warm = time.perf_counter() - t0
    return {
        "records": len(recs),
        "index_s": t_plain,
        "index_dedup_cold_s": t_hash_cold,
        "index_dedup_warm_s": t_hash_warm,
    }


def _cold_build(source, steps, tmp: Path) -> tuple[int, float]:
    from biosig.data import durable
    from biosig.data.cache import get_cache

    root = tmp / f"cache-{source.name}"
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    cache = get_cache(source, steps, root=root, progress=False)
    dt = time.perf_counter() - t0
    durable.wait()  # untimed: its background sync does not slow the next build
    return len(cache), dt


def bench_cold_builds(tmp: Path, quick: bool) -> dict:
    from _dataset_fixtures import SHARED, write_bciiv2a_session, write_tuev_tree

    from biosig.signal.preprocessing import Resample
    from biosig.datasets.bciiv2a import BCIIV2a
    from biosig.datasets.cinc import CinC
    from biosig.datasets.eegmmidb import EEGMMIDB
    from biosig.datasets.tuev import TUEV

    out = {}
    labels = np.tile([1, 2, 3, 4], 72)
    write_bciiv2a_session(
        tmp / "bci",
        "A01T",
        labels if not quick else labels[:48],
        trial_len=6.0,
        write_bnci=False,
        rejected=(),
    )
    out["bciiv2a (GDF fixture)"] = _cold_build(
        BCIIV2a(tmp / "bci", subjects=[1], sessions=["T"]), [], tmp
    )
    write_tuev_tree(
        tmp / "tuev", n_subjects=2 if quick else 4, files_per_subject=1, events_per_file=20
    )
    out["tuev (EDF + .rec fixture)"] = _cold_build(TUEV(tmp / "tuev"), None, tmp)
    if SHARED.is_dir():
        out["eegmmidb (real S001R03/R04)"] = _cold_build(
            EEGMMIDB(SHARED / "eeg_edf" / "eegmmidb", subjects=[1], runs=[3, 4]), [], tmp
        )
        out["cinc2021 (real Georgia, 20)"] = _cold_build(
            CinC(SHARED / "ecg_wfdb" / "cinc2021", hash_cache=tmp / "hc"), [Resample(100.0)], tmp
        )
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--n-records", type=int, default=20000)
    ap.add_argument("--n-cinc", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = ap.parse_args(argv)
    n = 2000 if args.quick else args.n_records
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        r = bench_ptbxl_index(tmp, n)
        print(
            f"PTB-XL index-only open, {r['records']:,} labelled of {n:,} records: "
            f"{r['index_s']:.2f} s ({r['records'] / r['index_s']:,.0f} records/s); identity "
            f"(task=all) {r['identity_all_s']:.2f} s; writing the tree took {r['write_s']:.1f} s"
        )
        c = bench_cinc_index(tmp, 500 if args.quick else args.n_cinc)
        print(
            f"CinC index-only open, {c['records']:,} headers: {c['index_s']:.2f} s; with duplicate "
            f"check: cold {c['index_dedup_cold_s']:.2f} s, memoised {c['index_dedup_warm_s']:.2f} s"
        )
        print("cold window-cache build (preprocess + window + write), windows/s:")
        for name, (nw, dt) in bench_cold_builds(tmp, args.quick).items():
            print(f"  {name:32s} {nw:6d} windows in {dt:6.2f} s = {nw / dt:8.1f} windows/s")


if __name__ == "__main__":
    main()
