#!/usr/bin/env python
"""DBConformer vs braindecode's EEGConformer: CPU throughput and online single-trial latency.

Measures, in one run and on the same inputs (batch 64, 22 channels x 1000 samples @ 250 Hz,
4 classes):

- train step (forward + cross-entropy + backward + Adam step), samples/s;
- inference (eval, no grad), samples/s;
- ratios DBConformer / EEGConformer (> 1: DBConformer faster);
- single-trial online latency of a real-time BCI loop: online Euclidean-alignment update
  (running reference, ``R^-1/2`` by eigh) + one forward pass of one trial (median, p95).

DBConformer is timed with its default (``temporal_conv_impl="auto"``: the faster of direct and
FFT, timed once per shape and thread count) against ``"direct"``, which performs the official
code's operations (depthwise ``nn.Conv1d``, same 93,747 parameters at the paper's settings):
the ratio default / direct is the speed-up over the official-code-equivalent (goal >= 1.2).
Models are timed round-robin (one step of each in turn) so that load changes on a shared
machine hit all of them alike. ``--compile`` adds the default compiled with ``torch.compile``
(Inductor, its default mode; compiled during the warm-up, which then takes about a minute),
against the eager default. Defaults are the paper's settings (BCI IV 2a: 22 x 1001 at
250 Hz, 2 classes, batch 32). Run: ``python benchmarks/bench_dbconformer.py [--threads 1]
[--iters 10] [--quick] [--compile]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch


def throughput(models: dict, x, y, iters, warmup) -> dict:
    """{name: (train samples/s, inference samples/s)}, medians, models interleaved per step."""
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = {}
    for name, model in models.items():
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def train_step(model=model, opt=opt):
            model.train()
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()

        def infer(model=model):
            model.eval()
            with torch.no_grad():
                model(x)

        steps[name] = (train_step, infer)
    times = {name: ([], []) for name in models}
    for it in range(warmup + iters):
        for kind in (0, 1):
            for name, fns in steps.items():
                t0 = time.perf_counter()
                fns[kind]()
                if it >= warmup:
                    times[name][kind].append(time.perf_counter() - t0)
    return {name: (len(x) / statistics.median(tr), len(x) / statistics.median(inf))
            for name, (tr, inf) in times.items()}


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
    from biosig.models._registry import count_parameters
    from biosig.models.dbconformer import DBConformer

    paper = DBConformer.paper_settings
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[1])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n-chans", type=int, default=paper["n_chans"])
    p.add_argument("--n-times", type=int, default=paper["n_times"])
    p.add_argument("--n-outputs", type=int, default=paper["n_outputs"])
    p.add_argument("--iters", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--online-trials", type=int, default=50)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--skip-baseline", action="store_true", help="no braindecode EEGConformer")
    p.add_argument("--compile", action="store_true",
                   help="also the default under torch.compile (Inductor)")
    p.add_argument("--quick", action="store_true",
                   help="3 iterations, no EEGConformer, 10 online trials")
    args = p.parse_args(argv)
    if args.quick:
        args.iters, args.warmup, args.online_trials, args.skip_baseline = 3, 1, 10, True
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    x = torch.randn(args.batch_size, args.n_chans, args.n_times)
    y = torch.randint(0, args.n_outputs, (args.batch_size,))
    sig = dict(n_chans=args.n_chans, n_outputs=args.n_outputs, n_times=args.n_times)
    default = DBConformer(sfreq=250.0, **sig)
    models = {
        "DBConformer (default)": default,
        "DBConformer (direct=official)": DBConformer(sfreq=250.0, temporal_conv_impl="direct",
                                                     **sig),
        "DBConformer (fft)": DBConformer(sfreq=250.0, temporal_conv_impl="fft", **sig),
    }
    if args.compile:  # compiled in place: "auto" takes the direct convolution when compiled
        compiled = DBConformer(sfreq=250.0, **sig)
        compiled.compile()
        models["DBConformer (compiled)"] = compiled
    if not args.skip_baseline:
        from braindecode.models import EEGConformer

        models["EEGConformer (braindecode)"] = EEGConformer(**sig)
    print(
        f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
        f"{os.getloadavg()[0]:.1f}; batch {args.batch_size}, "
        f"{args.n_chans} ch x {args.n_times} samples, {args.n_outputs} classes; "
        f"median of {args.iters} iterations after {args.warmup} warm-up, models interleaved\n"
    )
    rows = throughput(models, x, y, args.iters, args.warmup)
    from biosig.models import dbconformer as mod

    fft_chosen = [v for k, v in mod._AUTO_FFT.items() if k[0][0] == args.batch_size and k[3]]
    print(f"{'model':<32}{'params':>10}{'train samples/s':>18}{'infer samples/s':>18}")
    for name, model in models.items():
        tr, inf = rows[name]
        print(f"{name:<32}{count_parameters(model):>10,}{tr:>18.1f}{inf:>18.1f}", flush=True)
    print(f"default chose: {['direct', 'fft'][fft_chosen[-1]] if fft_chosen else '?'} "
          f"(train, this shape and thread count)")
    off = rows["DBConformer (direct=official)"]
    print("\nratios vs the official-code-equivalent (direct), > 1 = faster")
    for name in ("DBConformer (default)", "DBConformer (fft)", "DBConformer (compiled)"):
        if name in rows:
            tr, inf = rows[name]
            print(f"  {name:<30} train x{tr / off[0]:.2f}   inference x{inf / off[1]:.2f}")
    if "DBConformer (compiled)" in rows:
        (tr, inf), (dtr, dinf) = rows["DBConformer (compiled)"], rows["DBConformer (default)"]
        print(f"  compiled / default (eager)      train x{tr / dtr:.2f}   "
              f"inference x{inf / dinf:.2f}")
    base = rows.get("EEGConformer (braindecode)")
    if base:
        print("ratios vs EEGConformer (> 1 = DBConformer faster)")
        for name in ("DBConformer (default)", "DBConformer (direct=official)"):
            tr, inf = rows[name]
            print(f"  {name:<30} train x{tr / base[0]:.2f}   inference x{inf / base[1]:.2f}")
    print(
        f"\nsingle-trial online latency (online EA update + forward, 1 x {args.n_chans} x "
        f"{args.n_times}), median / p95 ms over {args.online_trials} trials"
    )
    for name in ("DBConformer (default)", "DBConformer (direct=official)"):
        lat = online_latency(models[name], args.n_chans, args.n_times, args.online_trials, 5)
        print(
            f"  {name:<30} total {lat['total'][0]:.2f} / {lat['total'][1]:.2f}   "
            f"(EA {lat['ea'][0]:.2f} / {lat['ea'][1]:.2f}, forward {lat['forward'][0]:.2f} / "
            f"{lat['forward'][1]:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
