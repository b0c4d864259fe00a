"""Window caches at corpus scale, on copies (symlinks) of the real EDFs in ../shared/data:

1. cold build windows/s: serial vs 2 worker processes (same bytes; ratio);
2. warm epoch windows/s (shuffled DataLoader batches through ``WindowDataset``) vs a plain
   memcpy of the same bytes: float32 vs float16, one cache vs 8 shards, and float32 vs int16 of
   the files' own 500 Hz samples (ratio epoch/memcpy of the float32 bytes);
3. peak memory (max RSS of a child process) of a build over 10x and 100x the files: flat;
4. float16 storage error on real EEG (EEGMAT, µV) and real ECG (PTB-XL, mV);
5. the cache's CRC-32 (``biosig.data._crc``, carry-less multiplication) against ``zlib.crc32``
   on the bytes of the real EDFs (the same value; ratio of times).

    python benchmarks/bench_cache_scale.py            # --quick for a smaller run

Every number is printed with its baseline from the same run; the machine's load changes the
absolute times, not the ratios much.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore")
SHARED = Path(os.environ.get("BIOSIG_SHARED_DATA", REPO.parent / "shared" / "data"))
EEGMAT = SHARED / "eeg_edf" / "eegmat"
PTBXL = SHARED / "ecg_wfdb" / "ptbxl"


def link_tree(files, n_copies: int, dest: Path) -> Path:
    """``n_copies`` x ``files`` as symlinks in a TUH-like tree (distinct record names)."""
    shutil.rmtree(dest, ignore_errors=True)
    for k in range(n_copies):
        for f in files:
            sub = f"c{k:04d}{f.stem.lower().replace('_', '')}"
            p = dest / f"{k // 100:03d}" / sub / "s001_2019" / "01_tcp_ar" / f"{sub}_s001_t000.edf"
            p.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f, p)
    return dest


def corpus(root, sfreq: float | None = 200.0):
    from biosig.datasets import EDFCorpus

    return EDFCorpus(root, sfreq=sfreq, window=4.0)


def cold_builds(files, copies, work):
    from biosig.data import durable, get_cache

    print("\n## 1. cold build: serial vs 2 worker processes")
    root = link_tree(files, copies, work / "cold_tree")
    out = {}
    for workers in (0, 2):
        cache_root = work / f"cold_{workers}"
        shutil.rmtree(cache_root, ignore_errors=True)
        t0 = time.perf_counter()
        cache = get_cache(corpus(root), root=cache_root, num_workers=workers, progress=False)
        out[workers] = (time.perf_counter() - t0, cache)
        durable.wait()  # untimed: its background sync does not slow the next build
    (t_s, c_s), (t_p, c_p) = out[0], out[2]
    same = all(
        (c_s.path / n).read_bytes() == (c_p.path / n).read_bytes()
        for n in ("X.f32", "y.npy", "meta.csv")
    )
    n = len(c_s)
    print(f"{len(files) * copies} files, {n} windows x {c_s.X.shape[1]} ch x {c_s.X.shape[2]}")
    print(f"serial      {t_s:7.2f} s {n / t_s:8.0f} windows/s")
    print(f"2 processes {t_p:7.2f} s {n / t_p:8.0f} windows/s   same bytes: {same}")
    print(f"ratio 2 processes / serial: {t_s / t_p:.2f}x (cpu count {os.cpu_count()})")
    return root



def warm_epoch(cache, batch_size: int, repeats: int = 7) -> tuple[float, float, float]:
    """Shuffled epochs of one ``WindowDataset`` (as with ``num_workers=0`` or persistent
    workers): the first after opening (the memmap's pages fault in) and the best of ``repeats``
    later ones; interleaved with them, the best of as many memcpys of the same float32 bytes
    (the load on the machine hits both alike)."""
    from biosig.data.datamodule import WindowDataset, _pass_batch

    nbytes = len(cache) * cache.X.shape[1] * cache.X.shape[2] * 4
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    ds = WindowDataset(cache.path, np.arange(len(cache)))
    _ = ds.cache  # opened once per worker process, before its first epoch: not timed
    times, best_mem = [], np.inf
    for r in range(repeats + 1):
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=_pass_batch,
                            generator=torch.Generator().manual_seed(r))  # fmt: skip
        t0 = time.perf_counter()
        n = 0
        for x, _ in loader:
            n += len(x)
            float(x.reshape(-1)[-1])
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best_mem = min(best_mem, time.perf_counter() - t0)
        assert n == len(cache)
    return min(times[1:]), best_mem, times[0]


def warm_epochs(root, work, batch_size):
    from biosig.data import durable, get_cache

    print("\n## 2. warm epoch vs memcpy of the same (float32) bytes (batch %d)" % batch_size)
    resampled, raw = corpus(root), corpus(root, sfreq=None)  # int16 keeps the files' samples
    variants = {
        "float32, one cache": (resampled, {}),
        "float16, one cache": (resampled, {"dtype": "float16"}),
        "float32, 8 shards": (resampled, {"shards": 8}),
        "float16, 8 shards": (resampled, {"shards": 8, "dtype": "float16"}),
        "float32, raw 500 Hz": (raw, {}),
        "int16, raw 500 Hz": (raw, {"dtype": "int16"}),
    }
    print(f"{'cache':<22} {'windows/s':>10} {'epoch s':>8} {'memcpy s':>9} {'ratio':>6} "
          f"{'open s':>7} {'1st epoch ratio':>15}")  # fmt: skip
    for name, (src, kw) in variants.items():
        cache = get_cache(src, root=work / "warm", progress=False, **kw)
        durable.wait()  # its background sync does not slow the timed epochs
        t0 = time.perf_counter()
        from biosig.data.cache import WindowCache

        WindowCache(cache.path)
        t_open = time.perf_counter() - t0
        t, t_mem, t_first = warm_epoch(cache, batch_size)
        print(f"{name:<22} {len(cache) / t:>10.0f} {t:>8.3f} {t_mem:>9.4f} {t / t_mem:>6.2f} "
              f"{t_open:>7.3f} {t_first / t_mem:>15.2f}")  # fmt: skip


def peak_memory(files, sizes, work):
    print("\n## 3. peak memory of a cold build (max RSS of a child process, 1 worker)")
    for k in sizes:
        tree = link_tree(files, k, work / f"mem_tree_{k}")
        code = (
            "import sys, resource; sys.path.insert(0, %r)\n"
            "from biosig.datasets import EDFCorpus\n"
            "from biosig.data import get_cache\n"
            "c = get_cache(EDFCorpus(%r, sfreq=200.0, window=4.0), root=%r, num_workers=0,"
            " progress=False)\n"
            "print(len(c), c.X.nbytes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        ) % (str(REPO), str(tree), tempfile.mkdtemp(dir=work))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr)
        n, nbytes, rss_kb = map(int, out.stdout.split()[-3:])
        print(f"{k * len(files):>5} files: {n:>6} windows, cache {nbytes / 1e6:8.1f} MB, "
              f"peak RSS {rss_kb / 1e3:7.1f} MB ({time.perf_counter() - t0:.0f} s)")  # fmt: skip


def float16_error(work):
    from biosig.data import FixedWindows, get_cache

    print("\n## 4. float16 storage error (cache float16 vs float32 of the same windows)")
    cases = []
    if EEGMAT.is_dir():
        from biosig.datasets import EEGMAT as EEGMATSource

        cases.append(("EEG: EEGMAT, 19 ch, µV", EEGMATSource(EEGMAT), None))
    if PTBXL.is_dir():
        from biosig.datasets import PTBXL as PTBXLSource

        cases.append(("ECG: PTB-XL 100 Hz, 12 leads, mV", PTBXLSource(PTBXL), FixedWindows(10.0)))
    print(f"{'data':<34} {'windows':>7} {'signal rms':>10} {'max |err|':>10} {'rms err':>9} "
          f"{'max rel':>8} {'SNR dB':>7}")  # fmt: skip
    for name, src, windows in cases:
        a = get_cache(src, windows=windows, root=work / "f16", progress=False)
        b = get_cache(src, windows=windows, root=work / "f16", progress=False, dtype="float16")
        x, y = np.asarray(a.X, np.float64), np.asarray(b.X, np.float64)
        err = np.abs(x - y)
        rms, rms_err = np.sqrt(np.mean(x**2)), np.sqrt(np.mean(err**2))
        big = np.abs(x) > 6.1e-5  # float16 normal range
        rel = np.max(err[big] / np.abs(x[big]))
        unit = "µV" if "EEG" in name else "mV"
        print(f"{name:<34} {len(a):>7} {rms:>8.3g}{unit} {err.max():>8.2g}{unit} "
              f"{rms_err:>7.2g}{unit} {rel:>8.2g} {20 * np.log10(rms / rms_err):>7.1f}")
    if cases:
        float16_cast_speed(np.ascontiguousarray(np.asarray(a.X[:64])))


def float16_cast_speed(block: np.ndarray, repeats: int = 9) -> None:
    """The build's float32 -> float16 cast (torch's, ``to_float16``) against numpy's ``astype``
    on the same windows, interleaved; both give the same bits."""
    from biosig.data.cache_build import to_float16

    to_float16(block[:1])  # first call (torch's dispatch set-up) not timed
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        want = block.astype(np.float16)
        t1 = time.perf_counter()
        got = to_float16(block)
        ratios.append((t1 - t0) / (time.perf_counter() - t1))
        assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
    print(f"float32 -> float16 cast of {block.nbytes / 1e6:.1f} MB of windows: to_float16 "
          f"{min(ratios):.0f}x / {np.median(ratios):.0f}x faster than numpy's astype "
          f"(min / median of {repeats} interleaved rounds)")


def crc_speed(files, repeats: int = 9) -> None:
    """The cache's CRC-32 against zlib's on the same bytes (the EDF files read into memory),
    interleaved; both give the same value."""
    import zlib

    from biosig.data._crc import _kernel, crc32

    print("\n## 5. CRC-32 of cache files: biosig.data._crc vs zlib.crc32")
    data = b"".join(f.read_bytes() for f in files)
    crc32(data[:4096])  # the kernel's first load (compiled once per machine) not timed
    ratios, best = [], float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        want = zlib.crc32(data)
        t1 = time.perf_counter()
        got = crc32(data)
        t2 = time.perf_counter()
        assert got == want
        ratios.append((t1 - t0) / (t2 - t1))
        best = min(best, t2 - t1)
    how = "PCLMULQDQ kernel" if _kernel() is not None else "zlib fallback (no kernel)"
    print(f"{len(data) / 1e6:.0f} MB ({how}): {min(ratios):.1f}x / {np.median(ratios):.1f}x "
          f"faster than zlib.crc32 (min / median of {repeats} interleaved rounds; best "
          f"{len(data) / best / 1e9:.1f} GB/s)")


def main():
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer copies, smaller memory sizes")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "biosig_scale"))
    p.add_argument("--only", nargs="*", default=["cold", "warm", "memory", "float16", "crc"])
    args = p.parse_args()
    torch.set_num_threads(1)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    files = sorted(EEGMAT.glob("Subject*_2.edf"))  # 60 s each, 500 Hz, 21 ch
    if not files:
        raise SystemExit(f"no EEGMAT EDFs under {EEGMAT} (set BIOSIG_SHARED_DATA)")
    print(f"torch {torch.__version__}, cpu count {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f}; base files: {len(files)} EEGMAT _2 EDFs")  # fmt: skip
    copies = 1 if args.quick else 8
    root = link_tree(files, copies, work / "cold_tree")
    if "cold" in args.only:
        root = cold_builds(files, copies, work)
    if "warm" in args.only:
        warm_epochs(root, work, args.batch_size)
    if "memory" in args.only:
        base = files[:1] if args.quick else files[:2]
        peak_memory(base, (10, 100), work)
    if "float16" in args.only:
        float16_error(work)
    if "crc" in args.only:
        crc_speed(files)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"\nmax RSS of this process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
