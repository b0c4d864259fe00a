"""Soft-DTW forward + backward: biosig's fused kernel vs its PyTorch wavefront and tslearn.

hvEEGNet's loss is one univariate soft-DTW per channel (gamma = 1), so every implementation gets
``B x C`` sequence pairs of length ``T``: biosig as ``(B, C, T)``, tslearn as
``(B * C, T, 1)``. Implementations:

- ``kernel``: biosig's default (``backend="auto"``): the fused C++ CPU kernel (or Triton on CUDA);
- ``torch``: biosig's pure-PyTorch wavefront (``backend="torch"``, the reference path);
- ``torch-noclamp``: the same without the exponent clamp (the code before issue #15);
- ``tslearn``: ``tslearn.metrics.SoftDTWLossPyTorch`` (numba).

Every measurement runs in a fresh subprocess so that the peak resident memory (``ru_maxrss``
minus the resident size before the call) belongs to that call alone; each implementation is
warmed up on a tiny input first (tslearn's numba JIT takes ~20 s). CPU time (user + system of
the process, all threads) gives ns per DP cell per core; ``limit`` is the ~10 ns/cell a fused
loop needs for ~7 vector transcendentals per cell (issue #15), so ``limit/actual >= 0.5`` is the
goal. On a shared machine wall time is inflated by other processes; CPU time is not.

Usage::

    python benchmarks/bench_soft_dtw.py            # T=250/500/1000 kernel, baselines at 250/500
    python benchmarks/bench_soft_dtw.py --quick    # T=250: kernel, torch, torch-noclamp
    python benchmarks/bench_soft_dtw.py --times 1000 --full-tslearn --device cuda

Prints a table and, per size, every baseline's time over the kernel's (> 1: kernel faster).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker(impl: str, B: int, C: int, T: int, device: str, repeats: int = 1) -> dict:
    import torch

    if os.environ.get("BIOSIG_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BIOSIG_BENCH_THREADS"]))
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(B, C, T, generator=g) * 10).to(device)
    y = (torch.randn(B, C, T, generator=g) * 10).to(device)
    if impl in ("kernel", "torch", "torch-noclamp"):
        import importlib

        sdtw_mod = importlib.import_module("biosig.losses.soft_dtw")  # the module, not the function

        if impl == "torch-noclamp":
            sdtw_mod._exp_floor = lambda dtype: -math.inf  # clamp_(min=-inf) is a no-op
        backend = "auto" if impl == "kernel" else "torch"

        def run(a, b):  # SoftDTWLoss's "channel_sum": mean over the batch, sum over channels
            return sdtw_mod.soft_dtw(a, b, 1.0, backend=backend).mean(0).sum()
    elif impl == "tslearn":
        from tslearn.metrics import SoftDTWLossPyTorch

        ts = SoftDTWLossPyTorch(gamma=1.0)

        def run(a, b):
            n = a.shape[0]
            v = ts(a.reshape(-1, a.shape[-1], 1), b.reshape(-1, b.shape[-1], 1))
            return v.reshape(n, -1).mean(0).sum()
    else:
        raise SystemExit(f"unknown implementation {impl!r}")
    # warm-up (JIT compilation, allocator) on a tiny problem
    w = torch.randn(2, 2, 16, device=device, requires_grad=True)
    run(w, torch.randn(2, 2, 16, device=device)).backward()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss0 = _rss_mb()
    times = []
    for _ in range(repeats):  # best of `repeats`: the machine may be shared
        xr = x.clone().requires_grad_()
        c0 = time.process_time()
        t0 = time.perf_counter()
        loss = run(xr, y)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        loss.backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        times.append((t2 - t0, t1 - t0, t2 - t1, time.process_time() - c0))
        del loss
    first_cpu = times[0][3]  # the kernel's first call also page-faults its fresh R buffer
    total, fwd, bwd, cpu = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out = {"impl": impl, "B": B, "C": C, "T": T, "device": device, "fwd_s": fwd,
           "bwd_s": bwd, "total_s": total, "cpu_s": cpu, "peak_mem_mb": max(peak - rss0, 0.0),
           "ns_per_cell_cpu": cpu / (B * C * T * T) * 1e9,
           "first_ns_per_cell_cpu": first_cpu / (B * C * T * T) * 1e9,
           "threads": torch.get_num_threads(),
           "repeats": repeats, "grad_norm": float(xr.grad.norm())}
    out["loss"] = float(run(x, y))  # inputs without grad: biosig's three-diagonal path
    if device.startswith("cuda"):
        out["peak_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _measure(impl, B, C, T, device, timeout, repeats=1) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", impl, str(B), str(C), str(T), device,
           str(repeats)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {impl} T={T}: timed out after {timeout} s")
        return None
    if p.returncode != 0:
        print(f"  {impl} T={T}: failed ({p.returncode}): {p.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


LIMIT_NS = 10.0  # ns per cell of a fused loop bounded by ~7 vector transcendentals (issue #15)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=30)
    ap.add_argument("--chans", type=int, default=22)
    ap.add_argument("--times", type=int, nargs="+", default=None,
                    help="sequence lengths (default 250 500 1000; --quick: 250)")
    ap.add_argument("--baselines", nargs="+", default=None,
                    choices=["torch", "torch-noclamp", "tslearn"],
                    help="default: all three (--quick: torch torch-noclamp)")
    ap.add_argument("--baseline-max-t", type=int, default=500,
                    help="baselines only up to this length (torch-noclamp: 110 ns/cell)")
    ap.add_argument("--full-tslearn", action="store_true",
                    help="tslearn at every length (needs ~10 GB RAM at T=1000)")
    ap.add_argument("--quick", action="store_true", help="T=250, no tslearn (about a minute)")
    ap.add_argument("--device", default="cpu", help="device for biosig (tslearn runs on CPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads in the workers")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs per measurement (best is reported; at T >= 1000: 2 for "
                         "the kernel, 1 for the baselines)")
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        impl, B, C, T, device, rep = args.worker
        print(json.dumps(_worker(impl, int(B), int(C), int(T), device, int(rep))))
        return 0
    if args.threads:
        os.environ["BIOSIG_BENCH_THREADS"] = str(args.threads)
    times = args.times or ([250] if args.quick else [250, 500, 1000])
    baselines = args.baselines or (["torch", "torch-noclamp"] if args.quick
                                   else ["torch", "torch-noclamp", "tslearn"])

    import torch

    print(f"soft-DTW forward+backward, gamma=1, B={args.batch}, C={args.chans}; "
          f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    rows = []
    print(f"{'impl':14s} {'device':6s} {'T':>5s} {'fwd s':>8s} {'bwd s':>8s} {'total s':>8s} "
          f"{'CPU s':>8s} {'ns/cell':>8s} {'peak MB':>9s} {'loss':>14s}", flush=True)
    for T in sorted(times):
        for impl in ["kernel", *baselines]:
            if impl != "kernel" and T > args.baseline_max_t and not (
                    impl == "tslearn" and args.full_tslearn):
                continue
            # the kernel gets >= 2 runs: a training loop reuses R from the previous step
            reps = args.repeats if T < 1000 else (2 if impl == "kernel" else 1)
            r = _measure(impl, args.batch, args.chans, T,
                         "cpu" if impl == "tslearn" else args.device, args.timeout, reps)
            if r:
                rows.append(r)
                print(f"{r['impl']:14s} {r['device']:6s} {r['T']:5d} {r['fwd_s']:8.2f} "
                      f"{r['bwd_s']:8.2f} {r['total_s']:8.2f} {r['cpu_s']:8.2f} "
                      f"{r['ns_per_cell_cpu']:8.2f} {r['peak_mem_mb']:9.0f} {r['loss']:14.2f}",
                      flush=True)
    by = {(r["impl"], r["T"]): r for r in rows}
    print(f"\nratios (> 1: the kernel is faster / smaller); limit = {LIMIT_NS:.0f} ns/cell/core")
    for T in sorted(times):
        a = by.get(("kernel", T))
        if not a:
            continue
        line = (f"T={T}: kernel {a['ns_per_cell_cpu']:.2f} CPU-ns/cell = "
                f"{LIMIT_NS / a['ns_per_cell_cpu']:.2f}x the limit (first call "
                f"{a['first_ns_per_cell_cpu']:.2f})")
        for impl in baselines:
            b = by.get((impl, T))
            if b:
                rel = abs(a["loss"] - b["loss"]) / max(abs(b["loss"]), 1e-12)
                line += (f"; {impl}/kernel CPU x{b['cpu_s'] / a['cpu_s']:.1f}, wall "
                         f"x{b['total_s'] / a['total_s']:.1f}, memory "
                         f"x{b['peak_mem_mb'] / max(a['peak_mem_mb'], 1e-9):.2f} "
                         f"(loss rel. diff {rel:.1e})")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
