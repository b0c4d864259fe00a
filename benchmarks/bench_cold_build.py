"""Cold build: EDF files -> every fixed-length window in memory, biosig vs braindecode.

Same real EDFs, same windows (non-overlapping, ``--window`` s, EEG channels only), in this
process, repeated ``--repeats`` times (interleaved, so load on the machine hits both alike):

- biosig reader: :func:`biosig.io.read_edf` (one read per file, float32, only the kept
  channels) -> the windows as one float32 array;
- floor: the reader's windows written to one file: the least any on-disk cache does (no
  signal checks, labels, metadata or checksum), serial;
- biosig cold cache: :func:`biosig.data.get_cache` on the same files into a fresh folder
  (reading, quality statistics, windowing, writing the cache; its fsync runs in the background,
  :mod:`biosig.data.durable`), opened and its last window read; the background sync is waited
  for and the folder deleted after the timing, before the next pipeline starts;
- biosig cold cache float16: the same with ``dtype="float16"`` storage (half the bytes written,
  windows read as float32; a relative rounding of at most 2**-11 per sample);
- biosig cold cache int16: the same with ``dtype="int16"`` storage: the EDF files' own samples
  with a gain and offset per window and channel (half the bytes, never decoded while building;
  read back as float32, bit for bit the float32 cache's windows);
- braindecode: ``mne.io.read_raw_edf(infer_types=True)`` (the EDF+ type prefixes, as biosig
  reads them: both window the same channels) -> ``create_fixed_length_windows(preload=True)``
  -> every window materialised with ``dataset[i]`` (its documented way to get windows);
- with ``--jobs J`` (default 2): braindecode with ``n_jobs=J`` and the cache built by J
  processes (``get_cache(num_workers=J)``), both still as ratios to serial braindecode.

Printed per round: windows/s of each; then min/median of the ratios biosig/braindecode
(goal >= 10x), and the ratio of each pipeline's best round to braindecode's best round (load
on the machine only ever slows a round down, so best against best is the steadier figure).
The OS page cache holds the files after the first round for every pipeline.

    python benchmarks/bench_cold_build.py            # eegmat (32 files) + eegmmidb
    python benchmarks/bench_cold_build.py --repeats 5 --files 8
    python benchmarks/bench_cold_build.py --copies 16          # each file 16 times: corpus scale
    python benchmarks/bench_cold_build.py --rec-rows 1000000   # TUEV .rec parse time only
    python benchmarks/bench_cold_build.py --where-time 15      # where an int16 build's time goes
    python benchmarks/bench_cold_build.py --gather 9           # record gather kernel vs numpy
    python benchmarks/bench_cold_build.py --scaling 5          # fixed cost per build, per file
    python benchmarks/bench_cold_build.py --repeats 5 --shuffle 0  # pipelines in random order

``--shuffle SEED``: each round runs the pipelines in a random order instead of always the same,
so none always follows the same one. On this project's VM a pipeline's speed depends on how
long ago memory was freed (memory freed a few seconds earlier has gone back to the host and
faults on its next use: docs/performance.md), which a fixed order ties to its position.

``--where-time N``: N cold int16 builds (``--where-dtype`` float32 or float16: of that storage)
of the EEGMAT files, timed on both threads (the cache's
writer thread wrapped for it): the writer's write into the page cache and CRC-32, and the
building thread's record processing and its wait for the writer, against the build's wall
time; medians over the builds.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore")


def shared_edfs(limit: int | None) -> list[Path]:
    shared = Path(os.environ.get("BIOSIG_SHARED_DATA", REPO.parent / "shared" / "data"))
    files = sorted((shared / "eeg_edf" / "eegmat").glob("Subject*.edf"))
    files += sorted((shared / "eeg_edf" / "eegmmidb").glob("S*.edf"))
    return files[:limit] if limit else files


def eegmat_edfs(limit: int | None) -> list[Path]:
    """The EEGMAT files of :func:`shared_edfs` (exits naming the variable when there are none)."""
    eegmat = [f for f in shared_edfs(limit) if f.parent.name == "eegmat"]
    if not eegmat:
        raise SystemExit("no EEGMAT EDFs under ../shared/data/eeg_edf (set BIOSIG_SHARED_DATA)")
    return eegmat


def biosig_reader(files, window_s: float, sink=None) -> int:
    """read_edf -> EEG channels -> all fixed windows copied into one float32 array each file
    (handed to ``sink`` when given)."""
    from biosig.io import read_edf

    n = 0
    for f in files:
        rec = read_edf(f)
        eeg = [i for i, t in enumerate(rec.ch_types) if t == "eeg"]
        w = int(round(window_s * rec.sfreq))
        k = rec.n_times // w
        x = np.empty((k, len(eeg), w), dtype=np.float32)
        for j, i in enumerate(eeg):  # one copy of the kept samples into the windows
            x[:, j, :] = rec.data[i, : k * w].reshape(k, w)
        if sink is not None:
            sink(x)
        n += len(x)
    return n


def disk_floor(files, window_s: float, root: Path) -> int:
    """What any on-disk cache must at least do: the reader's windows written to one file in
    ``root`` (no checks, statistics, labels, metadata or checksum; like the cache, no fsync
    before returning)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "floor.f32", "wb") as fh:
        return biosig_reader(files, window_s, lambda x: fh.write(memoryview(x).cast("B")))


def settle(root: Path) -> None:
    """Between timed pipelines, untimed: the cache's background sync finishes (so that it does
    not slow the next pipeline down) and the output is deleted."""
    from biosig.data import durable

    durable.wait()
    shutil.rmtree(root, ignore_errors=True)


def biosig_cache(files, window_s: float, root: Path, workers: int = 0,
                 dtype: str = "float32") -> int:
    """A cold window-cache build of the same files into ``root`` (a fresh folder: the caller
    deletes it, untimed), opened and its last window read; ``workers`` build processes (0: in this
    process); ``dtype``: the cache's storage type."""
    from biosig.data import FixedWindows, PickChannels, get_cache
    from biosig.datasets import RecordingFiles

    src = RecordingFiles([str(f) for f in files], name="bench_cold_build")
    cache = get_cache(
        src, [PickChannels(types=["eeg"])], FixedWindows(window_s), root=root, progress=False,
        num_workers=workers, dtype=dtype,
    )
    float(np.asarray(cache.X[len(cache) - 1]).reshape(-1)[-1])
    return len(cache)


def where_time(files, window_s: float, n: int, dtype: str = "int16") -> None:
    """Print where ``n`` cold builds of ``files`` (storage ``dtype``) spend their time, per
    thread."""
    import biosig.data.cache_build as cb

    spent: dict[str, float] = {}

    def timed(key, fn):
        def run(*args, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
        return run

    def write(self, block):  # cb._XWriter._write, its two steps timed apart
        raw = memoryview(block).cast("B")
        timed("writer: write into the page cache", cb.write_pieces)(self.fh, raw)
        self.crc = timed("writer: CRC-32", cb.crc32)(raw, self.crc)

    saved = cb._XWriter._write, cb._XWriter.put, cb.process_record
    cb._XWriter._write = write
    cb._XWriter.put = timed("building thread: waiting for the writer's queue", cb._XWriter.put)
    cb.process_record = timed("building thread: records (read, statistics, windows)",
                              cb.process_record)  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="biosig_where_time_"))
    walls, rows = [], {}
    try:
        biosig_cache(files[:1], window_s, root, dtype=dtype)  # warm-up, not counted
        settle(root)
        for _ in range(n):
            spent.clear()
            t0 = time.perf_counter()
            biosig_cache(files, window_s, root, dtype=dtype)
            walls.append(time.perf_counter() - t0)
            settle(root)
            for key, v in spent.items():
                rows.setdefault(key, []).append(v)
    finally:
        cb._XWriter._write, cb._XWriter.put, cb.process_record = saved
        shutil.rmtree(root, ignore_errors=True)
    print(f"{dtype} cold build of {len(files)} files, {n} builds (medians, ms):")
    print(f"  build wall time {statistics.median(walls) * 1e3:8.1f} (best {min(walls) * 1e3:.1f})")
    for key, v in rows.items():
        print(f"  {key:<55} {statistics.median(v) * 1e3:8.1f}")


def copies(files: list[Path], k: int, folder: Path) -> list[Path]:
    """``k`` symbolic links to each of ``files`` in ``folder``, named apart (the same bytes, the
    same page cache: a corpus of ``k`` times the files)."""
    folder.mkdir(parents=True)
    links = []
    for i in range(k):
        for f in files:
            links.append(folder / f"{f.stem}_copy{i}{f.suffix}")
            links[-1].symlink_to(f.resolve())
    return links


def scaling(groups: dict, window_s: float, rounds: int, root: Path, sizes=(1, 2, 4, 8)) -> None:
    """Braindecode and the int16 cold cache on each group's files read 1, 2, 4 and 8 times
    (:func:`copies`), interleaved over ``rounds``; a line ``time = fixed + per_file * files``
    fitted to each pipeline's medians splits what a build costs once from what each file
    costs. Printed: both lines, the ratio of the per-file costs, and the measured ratios at the
    fewest and the most files."""
    out = root / "cache"
    pipes = {"braindecode": braindecode_windows,
             "biosig cold cache int16": lambda fs, w: biosig_cache(fs, w, out, dtype="int16")}
    for name, files in groups.items():
        sets = {k: copies(files, k, root / "scaling" / name / str(k)) if k > 1 else files
                for k in sizes}  # fmt: skip
        times: dict[tuple[str, int], list[float]] = {}
        for fn in pipes.values():  # first calls not timed
            fn(files[:1], window_s)
            settle(out)
        for _ in range(rounds):
            for k, fs in sets.items():
                for label, fn in pipes.items():
                    t0 = time.perf_counter()
                    fn(fs, window_s)
                    times.setdefault((label, k), []).append(time.perf_counter() - t0)
                    settle(out)
        n = np.array([len(sets[k]) for k in sizes])
        fits = {}
        for label in pipes:
            med = np.array([statistics.median(times[label, k]) for k in sizes])
            per_file, fixed = np.polyfit(n, med, 1)
            fits[label] = per_file, med
            print(f"scaling {name}: {label}: {fixed * 1e3:.1f} ms + {per_file * 1e3:.2f} ms per "
                  f"file (line through the medians of {rounds} rounds at "
                  f"{', '.join(map(str, n))} files)")
        (bd, bd_med), (bs, bs_med) = fits["braindecode"], fits["biosig cold cache int16"]
        print(f"scaling {name}: per file, biosig cold cache int16 / braindecode {bd / bs:.1f}x; "
              f"measured {bd_med[0] / bs_med[0]:.1f}x at {n[0]} files, "
              f"{bd_med[-1] / bs_med[-1]:.1f}x at {n[-1]} files")


def gather_speed(files, window_s: float, repeats: int) -> None:
    """The build's per-record work on a file's samples, the compiled record gather
    (:mod:`biosig.io._gather`: quality counts and int16 windows straight from the data records)
    against its numpy path (channels gathered into ``(C, T)``, numpy counts, strided window
    copy), on the files read once (interleaved rounds; the same values)."""
    from biosig.data import quality
    from biosig.io import _gather, read_edf
    from biosig.signal.windows import window_block

    recs = [read_edf(f) for f in files]
    samples = [r.digital for r in recs]
    n = [int(round(window_s * r.sfreq)) for r in recs]
    starts = [np.arange(0, s.shape[1] - k + 1, k) for s, k in zip(samples, n)]
    if _gather._LIB.load() is None:
        raise SystemExit("no C++ compiler: the record gather kernel cannot be built")

    def kernel():
        return [(quality.channel_quality(s), s.windows(st, k)) for s, st, k in
                zip(samples, starts, n)]  # fmt: skip

    def numpy_path():
        out = []
        for s, st, k in zip(samples, starts, n):
            s._gathered = None  # gathered anew each round, as in a build
            x = s.samples()
            out.append((quality.channel_quality(x), window_block(x, st, k)))
        return out

    ratios = []
    kernel(), numpy_path()  # first calls (the kernel's load) not timed
    for _ in range(repeats):
        t0 = time.perf_counter()
        a = kernel()
        t1 = time.perf_counter()
        b = numpy_path()
        ratios.append((time.perf_counter() - t1) / (t1 - t0))
        for (qa, wa), (qb, wb) in zip(a, b):
            assert np.array_equal(wa, wb) and all(np.array_equal(qa[k], qb[k]) for k in qb)
    print(f"record gather of {len(files)} files (quality counts + int16 windows): kernel "
          f"{min(ratios):.1f}x / {statistics.median(ratios):.1f}x faster than the numpy path "
          f"(min / median of {repeats} interleaved rounds; same values)")


def braindecode_windows(files, window_s: float, n_jobs: int = 1) -> int:
    import mne
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import create_fixed_length_windows

    parts = []
    for f in files:
        # the EDF+ type prefixes ("EEG Fp1", "ECG ECG"), as biosig reads them: both window the
        # same channels (MNE's default types every channel EEG)
        raw = mne.io.read_raw_edf(f, preload=False, infer_types=True, verbose="error")
        parts.append(RawDataset(raw, description={"file": Path(f).name}))
    sfreq = parts[0].raw.info["sfreq"]
    w = int(round(window_s * sfreq))
    if any(p.raw.info["sfreq"] != sfreq for p in parts):
        raise SystemExit("braindecode needs one rate per call: pass files of one rate")
    windows = create_fixed_length_windows(
        BaseConcatDataset(parts),
        window_size_samples=w,
        window_stride_samples=w,
        drop_last_window=True,
        preload=True,
        picks="eeg",
        n_jobs=n_jobs,
    )
    for i in range(len(windows)):
        windows[i]
    return len(windows)


def rec_parse(n_rows: int) -> None:
    """Seconds to parse a TUEV ``.rec`` file of ``n_rows`` rows (labels of a cold build)."""
    from biosig.io import read_rec

    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1000, n_rows)
    rows = zip(rng.integers(0, 22, n_rows), start, rng.integers(1, 7, n_rows))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.rec"
        path.write_text("\n".join(f"{c},{a:.4f},{a + 1:.4f},{lab}" for c, a, lab in rows))
        t0 = time.perf_counter()
        out = read_rec(path)
        print(f"read_rec: {len(out):,} rows in {time.perf_counter() - t0:.2f} s")


def main():
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--files", type=int, default=0, help="use the first N files (0 = all)")
    p.add_argument("--window", type=float, default=2.0, help="window length in s")
    p.add_argument("--no-cache", action="store_true", help="skip the get_cache pipeline")
    p.add_argument("--jobs", type=int, default=2,
                   help="also time braindecode n_jobs=J and a cache build with J processes "
                        "(1: skip)")
    p.add_argument("--copies", type=int, default=1, metavar="K",
                   help="read every file K times under other names (symlinks): a corpus of K "
                        "times the files, over which a build's fixed costs are spread")  # fmt: skip
    p.add_argument("--rec-rows", type=int, default=0, help="only time parsing a .rec of N rows")
    p.add_argument("--where-time", type=int, default=0, metavar="N",
                   help="only time N int16 builds of the EEGMAT files per thread")  # fmt: skip
    p.add_argument("--gather", type=int, default=0, metavar="N",
                   help="only time the record gather kernel against numpy, N rounds")
    p.add_argument("--where-dtype", default="int16", choices=["int16", "float32", "float16"],
                   help="the cache storage --where-time builds")  # fmt: skip
    p.add_argument("--shuffle", type=int, default=None, metavar="SEED",
                   help="run a round's pipelines in a random order (seeded), braindecode's "
                        "included, instead of always the same: each then meets the machine's "
                        "memory in every state, as left by any other")  # fmt: skip
    p.add_argument("--scaling", type=int, default=0, metavar="R",
                   help="only time braindecode and the int16 cache on 1, 2, 4 and 8 times the "
                        "files, R rounds: fixed cost per build and cost per file")  # fmt: skip
    args = p.parse_args()
    if args.rec_rows:
        rec_parse(args.rec_rows)
        return
    import torch

    torch.set_num_threads(1)
    if args.gather:
        gather_speed(eegmat_edfs(args.files or None), args.window, args.gather)
        return
    if args.where_time:
        where_time(eegmat_edfs(args.files or None), args.window, args.where_time, args.where_dtype)
        return
    groups = {}
    for f in shared_edfs(args.files or None):
        groups.setdefault(f.parent.name, []).append(f)
    if not groups:
        raise SystemExit("no EDF files under ../shared/data/eeg_edf (set BIOSIG_SHARED_DATA)")
    root = Path(tempfile.mkdtemp(prefix="biosig_cold_build_"))
    if args.scaling:
        try:
            scaling(groups, args.window, args.scaling, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return
    if args.copies > 1:
        groups = {name: copies(files, args.copies, root / "copies" / name)
                  for name, files in groups.items()}  # fmt: skip
    ratios: dict[str, list[float]] = {}
    best: dict[tuple[str, str], float] = {}  # (group, pipeline) -> its best rate over the rounds
    times = f"; every file {args.copies} times (symlinks)" if args.copies > 1 else ""
    order = f"; pipelines shuffled (seed {args.shuffle})" if args.shuffle is not None else ""
    print(f"cpu count {os.cpu_count()}, 1 torch thread; window {args.window} s{times}{order}")
    rng = random.Random(args.shuffle)
    pipelines = {"braindecode": braindecode_windows, "biosig read_edf": biosig_reader}
    if not args.no_cache:
        out = root / "cache"  # each pipeline's output, deleted after it (settle)
        pipelines["floor: read_edf + write"] = lambda files, w: disk_floor(files, w, out)
        pipelines["biosig cold cache"] = lambda files, w: biosig_cache(files, w, out)
        pipelines["biosig cold cache float16"] = (
            lambda files, w: biosig_cache(files, w, out, dtype="float16"))
        pipelines["biosig cold cache int16"] = (
            lambda files, w: biosig_cache(files, w, out, dtype="int16"))
    if args.jobs > 1:
        pipelines[f"braindecode n_jobs={args.jobs}"] = (
            lambda files, w: braindecode_windows(files, w, args.jobs))
        if not args.no_cache:
            pipelines[f"biosig cold cache {args.jobs} processes"] = (
                lambda files, w: biosig_cache(files, w, root / "cache", args.jobs))
    others = [label for label in pipelines if label != "braindecode"]  # each against it
    try:
        first = next(iter(groups.values()))[:1]
        for fn in pipelines.values():  # warm-up: imports and first-call costs are not timed
            fn(first, args.window)
            settle(root / "cache")
        for rnd in range(args.repeats):
            for name, files in groups.items():
                rates, counts = {}, {}
                turn = list(pipelines.items())
                if args.shuffle is not None:
                    rng.shuffle(turn)
                for label, fn in turn:
                    t0 = time.perf_counter()
                    counts[label] = fn(files, args.window)
                    rates[label] = counts[label] / (time.perf_counter() - t0)
                    best[name, label] = max(best.get((name, label), 0.0), rates[label])
                    settle(root / "cache")
                line = ", ".join(f"{k} {rates[k]:,.0f} win/s" for k in pipelines)
                print(
                    f"round {rnd + 1} {name} ({len(files)} files, {counts['braindecode']} "
                    f"windows): {line}"
                )
                if len(set(counts.values())) != 1:
                    print(f"  WARNING: different window counts {counts}")
                for label in others:
                    key = f"{name}: {label} / braindecode"
                    ratios.setdefault(key, []).append(rates[label] / rates["braindecode"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    for key, vals in ratios.items():
        print(
            f"ratio {key}: min {min(vals):.1f}x, median {statistics.median(vals):.1f}x "
            f"({len(vals)} rounds)"
        )
    print()
    for name in groups:  # noise only slows a round down: best against best
        for label in others:
            rate, base = best[name, label], best[name, "braindecode"]
            print(f"best rate {name}: {label} / braindecode: {rate / base:.1f}x "
                  f"({rate:,.0f} / {base:,.0f} win/s)")


if __name__ == "__main__":
    main()
