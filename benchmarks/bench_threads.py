#!/usr/bin/env python
"""One vs two torch threads: DBConformer and the ECGNet BiLSTM generator, train steps.

Each (model, threads) pair runs in a fresh subprocess (a fresh intra-op pool) and reports the
median wall time and CPU time (user + system, all threads) per train step (forward + loss +
backward + Adam). Printed ratios: 2 threads / 1 thread (> 1: two threads cost more). The
``biosig`` command's default thread count (:mod:`biosig._threads`: the cores not already busy,
``BIOSIG_THREADS`` / ``--threads`` override) is shown with the machine's load average.

Run: ``python benchmarks/bench_threads.py [--quick] [--threads 1 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _model(name: str, quick: bool):
    import torch

    if name == "dbconformer":  # the paper's settings: 22 x 1001 at 250 Hz, batch 32
        from biosig.models.dbconformer import DBConformer

        m = DBConformer(n_chans=22, n_outputs=2, n_times=1001, sfreq=250.0)
        x = torch.randn(8 if quick else 32, 22, 1001)
        y = torch.randint(0, 2, (len(x),))
        return m, lambda: torch.nn.functional.cross_entropy(m(x), y)
    if name == "ecgnet":  # the recipe's batch 16, 10-s records at 100 Hz
        from biosig.models.ecgnet import ECGNet

        m = ECGNet(sfreq=100.0, n_times=1000)
        x = torch.randn(4 if quick else 16, 12, 1000) * 0.3
        return m, lambda: (m(x) - x).abs().mean()
    raise SystemExit(f"unknown model {name!r}")


def _worker(name: str, threads: int, iters: int, quick: bool) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, loss_fn = _model(name, quick)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    wall, cpu = [], []
    for it in range(iters + 1):  # the first step warms up
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()
        if it:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {"model": name, "threads": threads, "wall_s": statistics.median(wall),
            "cpu_s": statistics.median(cpu)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches, 2 steps")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models", nargs="+", default=["dbconformer", "ecgnet"])
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        name, threads, iters, quick = args.worker
        print(json.dumps(_worker(name, int(threads), int(iters), quick == "1")))
        return 0
    from biosig._threads import auto_threads

    iters = args.iters or (2 if args.quick else 5)
    print(f"train steps, median of {iters}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; biosig default threads here: {auto_threads()}")
    print(f"{'model':<12}{'threads':>8}{'wall s/step':>13}{'CPU s/step':>12}")
    res = {}
    for name in args.models:
        for t in args.threads:
            cmd = [sys.executable, __file__, "--worker", name, str(t), str(iters),
                   "1" if args.quick else "0"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                print(f"{name} threads={t}: failed: {p.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            res[name, t] = r
            print(f"{name:<12}{t:>8}{r['wall_s']:>13.3f}{r['cpu_s']:>12.3f}", flush=True)
    lo, hi = min(args.threads), max(args.threads)
    print(f"\nratios {hi} threads / {lo} thread(s) (> 1: more threads cost more)")
    for name in args.models:
        a, b = res.get((name, lo)), res.get((name, hi))
        if a and b:
            print(f"  {name:<12} wall x{b['wall_s'] / a['wall_s']:.2f}   "
                  f"CPU x{b['cpu_s'] / a['cpu_s']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
