"""Soft-DTW forward + backward: biosig's wavefront vs tslearn's ``SoftDTWLossPyTorch``.

hvEEGNet's loss is one univariate soft-DTW per channel (gamma = 1), so both implementations get
``B x C`` sequence pairs of length ``T``: biosig as ``(B, C, T)``, tslearn as
``(B * C, T, 1)``. Every measurement runs in a fresh subprocess so that the peak resident
memory (``ru_maxrss`` minus the resident size before the call) belongs to that call alone;
each implementation is warmed up on a tiny input first (tslearn's numba JIT takes ~20 s).

Usage::

    python benchmarks/bench_soft_dtw.py                 # B=30 C=22, T=250/500 both, T=1000 biosig
    python benchmarks/bench_soft_dtw.py --full-tslearn  # also tslearn at T=1000 (~10 GB RAM)
    python benchmarks/bench_soft_dtw.py --times 1000 --full-tslearn --device cuda

Prints a table and the tslearn/biosig time and memory ratios for every size measured by both.
"""

from __future__ import annotations

import argparse
import json
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

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(B, C, T, generator=g) * 10).to(device)
    y = (torch.randn(B, C, T, generator=g) * 10).to(device)
    if impl == "biosig":
        from biosig.losses import SoftDTWLoss

        loss_fn = SoftDTWLoss(gamma=1.0)  # mean over batch, sum over channels

        def run(a, b):
            return loss_fn(a, b)
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
        t0 = time.perf_counter()
        loss = run(xr, y)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        loss.backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        times.append((t2 - t0, t1 - t0, t2 - t1))
        del loss
    total, fwd, bwd = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out = {"impl": impl, "B": B, "C": C, "T": T, "device": device, "fwd_s": fwd,
           "bwd_s": bwd, "total_s": total, "peak_mem_mb": max(peak - rss0, 0.0),
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=30)
    ap.add_argument("--chans", type=int, default=22)
    ap.add_argument("--times", type=int, nargs="+", default=[250, 500, 1000],
                    help="sequence lengths to measure")
    ap.add_argument("--full-tslearn", action="store_true",
                    help="also run tslearn at the largest length (needs ~10 GB RAM at T=1000)")
    ap.add_argument("--device", default="cpu", help="device for biosig (tslearn runs on CPU)")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs per measurement (best is reported; 1 at T >= 1000)")
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        impl, B, C, T, device, rep = args.worker
        print(json.dumps(_worker(impl, int(B), int(C), int(T), device, int(rep))))
        return 0

    import torch

    print(f"soft-DTW forward+backward, gamma=1, B={args.batch}, C={args.chans}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs")
    rows = []
    largest = max(args.times)
    print(f"{'impl':8s} {'device':6s} {'T':>5s} {'fwd s':>8s} {'bwd s':>8s} {'total s':>8s} "
          f"{'peak MB':>9s} {'loss':>12s}", flush=True)
    for T in sorted(args.times):
        for impl in ("biosig", "tslearn"):
            if impl == "tslearn" and T == largest and not args.full_tslearn:
                continue
            r = _measure(impl, args.batch, args.chans, T,
                         args.device if impl == "biosig" else "cpu", args.timeout,
                         args.repeats if T < 1000 else 1)
            if r:
                rows.append(r)
                print(f"{r['impl']:8s} {r['device']:6s} {r['T']:5d} {r['fwd_s']:8.2f} "
                      f"{r['bwd_s']:8.2f} {r['total_s']:8.2f} {r['peak_mem_mb']:9.0f} "
                      f"{r['loss']:12.2f}", flush=True)
    by = {(r["impl"], r["T"]): r for r in rows}
    for T in sorted(args.times):
        a, b = by.get(("biosig", T)), by.get(("tslearn", T))
        if a and b:
            rel = abs(a["loss"] - b["loss"]) / max(abs(b["loss"]), 1e-12)
            print(f"T={T}: tslearn/biosig time ratio {b['total_s'] / a['total_s']:.2f}x, "
                  f"memory ratio {b['peak_mem_mb'] / max(a['peak_mem_mb'], 1e-9):.2f}x "
                  f"(loss rel. diff {rel:.1e})")
        elif a:
            print(f"T={T}: biosig only (tslearn not run at this size; use --full-tslearn)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
