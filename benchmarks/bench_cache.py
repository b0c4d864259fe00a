"""Files -> one full epoch of shuffled training batches: biosig's window cache vs braindecode.

For each data set the same windows are produced three ways, in this process:

- braindecode: ``mne.io.read_raw_edf`` -> ``create_windows_from_events`` -> DataLoader epoch
  (its default lazy windows, and ``preload=True`` windows);
- biosig cold: read the files, build the window cache, one DataLoader epoch;
- biosig warm: open the existing cache, one DataLoader epoch;

and a plain in-memory copy (memcpy) of the same bytes as the floor. Printed: windows/s and the
ratios warm/braindecode (goal >= 10x) and warm epoch/memcpy (goal <= 2x). A second part builds
caches of growing size in child processes and prints their peak memory (it must stay bounded:
records stream one at a time).

Data: the real eegmmidb EDFs in ../shared/data (if present) and EDF files the built-in simulator
writes (default 20 subjects x ~20 min x 22 ch x 250 Hz; ``--quick`` for a small run).

    python benchmarks/bench_cache.py --quick
"""

from __future__ import annotations

import argparse
import os
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


def epoch(loader) -> int:
    n = 0
    for batch in loader:
        x = batch[0]
        n += len(x)
        float(x.reshape(-1)[-1])  # the batch is materialised; touch it
    return n


def braindecode_epoch(files, mapping, tmin_s, n_times, batch_size, preload):
    import mne
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import create_windows_from_events

    t0 = time.perf_counter()
    parts = []
    for f in files:
        raw = mne.io.read_raw_edf(f, preload=False, verbose="error")
        # braindecode raises for a window past the end; biosig drops it: drop it here too
        sf, ann = raw.info["sfreq"], raw.annotations
        late = [
            i
            for i, (o, d) in enumerate(zip(ann.onset, ann.description))
            if d not in mapping
            or round((o + tmin_s) * sf) + n_times > raw.n_times
            or round((o + tmin_s) * sf) < 0
        ]
        ann.delete(late)
        ann.set_durations(0.0)  # braindecode's stop offset counts from onset + duration
        raw.set_annotations(ann)
        parts.append(RawDataset(raw, description={"file": Path(f).name}))
    concat = BaseConcatDataset(parts)
    sfreq = parts[0].raw.info["sfreq"]
    windows = create_windows_from_events(
        concat,
        trial_start_offset_samples=int(round(tmin_s * sfreq)),
        trial_stop_offset_samples=int(round(tmin_s * sfreq)) + n_times,
        mapping=mapping,
        preload=preload,
    )
    loader = DataLoader(
        windows, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    n = epoch(loader)
    return n, time.perf_counter() - t0


def biosig_epoch(source, steps, windows, root, batch_size):
    from biosig.data.cache import get_cache
    from biosig.data.datamodule import WindowDataset, _pass_batch

    t0 = time.perf_counter()
    cache = get_cache(source, steps, windows, root=root, progress=False)
    ds = WindowDataset(cache.path, np.arange(len(cache)))
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        collate_fn=_pass_batch,
        generator=torch.Generator().manual_seed(0),
    )
    t1 = time.perf_counter()
    n = epoch(loader)
    t2 = time.perf_counter()
    return n, t2 - t0, cache, t2 - t1


def memcpy_seconds(nbytes: int, repeats: int = 3) -> float:
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return best


def compare(title, files, source, windows, mapping, tmin_s, batch_size, root, bd_lazy=True):
    from biosig.data import PickChannels, durable

    print(f"\n## {title}: {len(files)} files")
    steps = [PickChannels(types=["eeg"])]
    shutil.rmtree(root, ignore_errors=True)
    n_cold, t_cold, cache, _ = biosig_epoch(source, steps, windows, root, batch_size)
    durable.wait()  # untimed: the cold build's background sync does not slow what follows
    n_warm, t_warm, _, t_epoch = biosig_epoch(source, steps, windows, root, batch_size)
    t_memcpy = memcpy_seconds(cache.X.nbytes)
    n_times = cache.X.shape[-1]
    results = {
        "biosig cold (files -> cache -> epoch)": (n_cold, t_cold),
        "biosig warm (open cache + epoch)": (n_warm, t_warm),
        "biosig warm epoch alone": (n_warm, t_epoch),
    }
    n_bd, t_bd = braindecode_epoch(files, mapping, tmin_s, n_times, batch_size, preload=True)
    results["braindecode, preload=True"] = (n_bd, t_bd)
    if bd_lazy:
        n_bdl, t_bdl = braindecode_epoch(files, mapping, tmin_s, n_times, batch_size, preload=False)
        results["braindecode, lazy (default)"] = (n_bdl, t_bdl)
    print(
        f"windows: {cache.X.shape[0]} x {cache.X.shape[1]} ch x {n_times} samples "
        f"({cache.X.nbytes / 1e6:.1f} MB)"
    )
    print(f"{'pipeline':<40} {'windows':>8} {'seconds':>9} {'windows/s':>11}")
    for name, (n, t) in results.items():
        print(f"{name:<40} {n:>8} {t:>9.3f} {n / t:>11.0f}")
    print(f"{'memcpy of the same bytes':<40} {'':>8} {t_memcpy:>9.4f}")
    if len({n for n, _ in results.values()}) != 1:
        print("WARNING: the pipelines produced different window counts")
    ratios = {
        "warm vs braindecode preload": t_bd / t_warm,
        "cold vs braindecode preload": t_bd / t_cold,
        "warm epoch alone / memcpy": t_epoch / t_memcpy,
    }
    if bd_lazy:
        ratios["warm vs braindecode lazy"] = t_bdl / t_warm
    for k, v in ratios.items():
        print(f"ratio {k}: {v:.1f}x")
    return ratios


def peak_memory(sizes, folder, tmin, tmax):
    """Peak RSS of a cold cache build over the first k files, each in a fresh process."""
    print("\n## peak memory of a cold cache build (child process max RSS)")
    files = sorted(Path(folder).glob("*.edf"))
    for k in sizes:
        code = (
            "import sys, resource; sys.path.insert(0, %r)\n"
            "from biosig.datasets import RecordingFiles\n"
            "from biosig.data import get_cache, PickChannels\n"
            "src = RecordingFiles(%r, classes=['left_hand', 'right_hand'], tmin=%r, tmax=%r, "
            "subject_pattern=r'_s(\\d+)')\n"
            "c = get_cache(src, [PickChannels(types=['eeg'])], root=%r, progress=False)\n"
            "print(c.X.nbytes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        ) % (str(REPO), [str(f) for f in files[:k]], tmin, tmax, tempfile.mkdtemp())
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        nbytes, rss_kb = map(int, out.stdout.split())
        print(f"{k:>3} files: cache {nbytes / 1e6:8.1f} MB, peak RSS {rss_kb / 1e3:8.1f} MB")


def main():
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 subjects x ~5 min")
    p.add_argument("--subjects", type=int, default=20)
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "biosig_bench_cache"))
    args = p.parse_args()
    if args.quick:
        args.subjects, args.minutes = 4, 5.0
    work = Path(args.workdir)
    from biosig.data import EventWindows
    from biosig.datasets import RecordingFiles, write_recordings
    from biosig.datasets.synthetic import simulate_mi_session

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu count {os.cpu_count()}"
    )
    shared = Path(os.environ.get("BIOSIG_SHARED_DATA", REPO.parent / "shared" / "data"))
    real = sorted((shared / "eeg_edf" / "eegmmidb").glob("S*R0[34].edf"))
    if real:
        src = RecordingFiles(
            [str(f) for f in real], classes=["T1", "T2"], tmin=0.0, tmax=4.0, name="bench_eegmmidb"
        )
        compare(
            "real eegmmidb (S001 R03/R04, 64 ch, 160 Hz)",
            real,
            src,
            EventWindows(0.0, 4.0, {"T1": 0, "T2": 1}),
            {"T1": 0, "T2": 1},
            0.0,
            args.batch_size,
            work / "cache_real",
        )
    else:
        print(f"(no eegmmidb files under {shared}: skipping the real-data part)")

    trials = max(2, int(args.minutes * 60 / 8.0 / 2))  # ~8 s per trial, 2 classes
    sim = work / f"sim_{args.subjects}x{trials}"
    if len(list(sim.glob("*.edf"))) != args.subjects:
        shutil.rmtree(sim, ignore_errors=True)
        t0 = time.perf_counter()
        for s in range(1, args.subjects + 1):
            rec = simulate_mi_session(
                s, "T", trials, ("left_hand", "right_hand"), include_eog=False
            )
            write_recordings([rec], sim, "edf")
        print(
            f"\nsimulator wrote {args.subjects} EDF files of {rec.duration / 60:.1f} min "
            f"in {time.perf_counter() - t0:.0f} s"
        )
    files = sorted(sim.glob("*.edf"))
    src = RecordingFiles(
        [str(f) for f in files],
        classes=["left_hand", "right_hand"],
        tmin=0.0,
        tmax=4.0,
        subject_pattern=r"_s(\d+)",
        name="bench_sim",
    )
    compare(
        f"simulated MI EDF ({args.subjects} subjects, 22 ch, 250 Hz)",
        files,
        src,
        EventWindows(0.0, 4.0, {"left_hand": 0, "right_hand": 1}),
        {"left_hand": 0, "right_hand": 1},
        0.0,
        args.batch_size,
        work / "cache_sim",
        bd_lazy=True,
    )
    sizes = sorted({max(1, args.subjects // 4), max(1, args.subjects // 2), args.subjects})
    peak_memory(sizes, sim, 0.0, 4.0)


if __name__ == "__main__":
    main()
