#!/usr/bin/env python
"""DBConformer vs braindecode's EEGConformer: CPU throughput and online single-trial latency.

Measures, in one run and on the same inputs (batch 64, 22 channels x 1000 samples @ 250 Hz,
4 classes):

- train step (forward + cross-entropy + backward + Adam step), samples/s;
- inference (eval, no grad), samples/s;
- ratios DBConformer / EEGConformer (> 1: DBConformer faster);
- single-trial online latency of a real-time BCI loop: online Euclidean-alignment update
  (running reference, ``R^-1/2`` by eigh) + one forward pass of one trial (median, p95).

DBConformer is timed with both temporal-convolution paths (``direct`` and ``fft``; ``auto`` =
``fft`` on CPU). Run: ``python benchmarks/bench_dbconformer.py [--threads 1] [--iters 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def _time(fn, iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def throughput(model, x, y, iters, warmup) -> tuple[float, float]:
    """(train samples/s, inference samples/s), medians over ``iters`` batches."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    model.train()
    t_train = statistics.median(_time(train_step, iters, warmup))
    model.eval()
    with torch.no_grad():
        t_inf = statistics.median(_time(lambda: model(x), iters, warmup))
    return len(x) / t_train, len(x) / t_inf


def online_latency(model, n_chans, n_times, n_trials, warmup) -> dict:
    """Per-trial latency (ms) of online EA update + forward, and of each part alone."""
    from biosig.data.alignment import OnlineEuclideanAlignment

    rng = np.random.default_rng(0)
    trials = (rng.standard_normal((n_trials + warmup, n_chans, n_times)) * 20).astype(np.float32)
    ea = OnlineEuclideanAlignment()
    model.eval()
    total, ea_t, fwd_t = [], [], []
    with torch.no_grad():
        for i, trial in enumerate(trials):
            t0 = time.perf_counter()
            aligned = ea.update(trial)
            t1 = time.perf_counter()
            model(torch.from_numpy(aligned)[None])
            t2 = time.perf_counter()
            if i >= warmup:
                total.append(t2 - t0)
                ea_t.append(t1 - t0)
                fwd_t.append(t2 - t1)

    def stats(v):
        return statistics.median(v) * 1e3, float(np.percentile(v, 95)) * 1e3

    return {"total": stats(total), "ea": stats(ea_t), "forward": stats(fwd_t)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n-chans", type=int, default=22)
    p.add_argument("--n-times", type=int, default=1000)
    p.add_argument("--n-outputs", type=int, default=4)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--online-trials", type=int, default=50)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--skip-baseline", action="store_true", help="no braindecode EEGConformer")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from biosig.models._registry import count_parameters
    from biosig.models.dbconformer import DBConformer

    torch.manual_seed(0)
    x = torch.randn(args.batch_size, args.n_chans, args.n_times)
    y = torch.randint(0, args.n_outputs, (args.batch_size,))
    sig = dict(n_chans=args.n_chans, n_outputs=args.n_outputs, n_times=args.n_times)
    models = {
        "DBConformer (fft)": DBConformer(sfreq=250.0, temporal_conv_impl="fft", **sig),
        "DBConformer (direct)": DBConformer(sfreq=250.0, temporal_conv_impl="direct", **sig),
    }
    if not args.skip_baseline:
        from braindecode.models import EEGConformer

        models["EEGConformer (braindecode)"] = EEGConformer(**sig)
    print(
        f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"batch {args.batch_size}, "
        f"{args.n_chans} ch x {args.n_times} samples, {args.n_outputs} classes; "
        f"median of {args.iters} iterations after {args.warmup} warm-up\n"
    )
    rows = {}
    print(f"{'model':<28}{'params':>10}{'train samples/s':>18}{'infer samples/s':>18}")
    for name, model in models.items():
        tr, inf = throughput(model, x, y, args.iters, args.warmup)
        rows[name] = (tr, inf)
        print(f"{name:<28}{count_parameters(model):>10,}{tr:>18.1f}{inf:>18.1f}", flush=True)
    base = rows.get("EEGConformer (braindecode)")
    if base:
        print("\nratios vs EEGConformer (> 1 = DBConformer faster)")
        for name in ("DBConformer (fft)", "DBConformer (direct)"):
            tr, inf = rows[name]
            print(f"  {name:<26} train x{tr / base[0]:.2f}   inference x{inf / base[1]:.2f}")
    print(
        f"\nsingle-trial online latency (online EA update + forward, 1 x {args.n_chans} x "
        f"{args.n_times}), median / p95 ms over {args.online_trials} trials"
    )
    for name in ("DBConformer (fft)", "DBConformer (direct)"):
        lat = online_latency(models[name], args.n_chans, args.n_times, args.online_trials, 5)
        print(
            f"  {name:<26} total {lat['total'][0]:.2f} / {lat['total'][1]:.2f}   "
            f"(EA {lat['ea'][0]:.2f} / {lat['ea'][1]:.2f}, forward {lat['forward'][0]:.2f} / "
            f"{lat['forward'][1]:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
