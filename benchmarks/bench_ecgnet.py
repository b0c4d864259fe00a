#!/usr/bin/env python
"""ECGNet benchmarks: discrete Fréchet distance vs a straightforward loop, generator throughput.

    python benchmarks/bench_ecgnet.py            # CPU, about a minute
    python benchmarks/bench_ecgnet.py --quick    # smaller sizes

Prints (1) the time of :func:`biosig.metrics.frechet.frechet_distance_curve` (anti-diagonal numpy
DP, with and without the exact band pruning) against ``frechet_reference`` (row-by-row pure-Python
O(n*m) loop) and the speed-up ratio on the same curves, (2) 7,500 x 7,500 cells (15 s at 500 Hz),
(3) ECGNet generator inference in records/s on CPU (default model, 10-s records at 100 and 500 Hz).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _best(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def ecg_like(n, sfreq, rng):
    t = np.arange(n) / sfreq
    x = np.zeros(n)
    for c in np.arange(0.3, n / sfreq, 0.8):
        x += 1.2 * np.exp(-0.5 * ((t - c) / 0.012) ** 2) + 0.3 * np.exp(
            -0.5 * ((t - c - 0.25) / 0.05) ** 2
        )
    return x + 0.02 * rng.standard_normal(n)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[1])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    from biosig.metrics.frechet import frechet_distance_curve, frechet_reference
    from biosig.models import count_parameters
    from biosig.models.ecgnet import ECGNet

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n_ref = 300 if args.quick else 1000
    sf = 500.0
    a = ecg_like(n_ref, sf, rng)
    b = np.roll(a, 5) * 0.9 + 0.03 * rng.standard_normal(n_ref)
    t_ref, v_ref = _best(
        lambda: frechet_reference(np.c_[np.arange(n_ref) / sf, a], np.c_[np.arange(n_ref) / sf, b]),
        repeat=1,
    )
    t_full, v_full = _best(
        lambda: frechet_distance_curve(a, b, sfreq=sf, prune=False, dtype=np.float64)
    )
    t_pr, v_pr = _best(lambda: frechet_distance_curve(a, b, sfreq=sf, dtype=np.float64))
    assert abs(v_full - v_ref) < 1e-9 and abs(v_pr - v_ref) < 1e-9
    print(
        f"Fréchet {n_ref} x {n_ref} cells (s, mV): reference loop {t_ref:.3f} s | "
        f"anti-diagonal {t_full * 1e3:.1f} ms (x{t_ref / t_full:.0f}) | "
        f"+ exact pruning {t_pr * 1e3:.1f} ms (x{t_ref / t_pr:.0f}); same value {v_ref:.6f}"
    )
    n = 1500 if args.quick else 7500
    a = ecg_like(n, sf, rng)
    b = np.roll(a, 5) * 0.9 + 0.03 * rng.standard_normal(n)
    t_full, v1 = _best(lambda: frechet_distance_curve(a, b, sfreq=sf, prune=False), repeat=2)
    t_pr, v2 = _best(lambda: frechet_distance_curve(a, b, sfreq=sf), repeat=2)
    t_smp, _ = _best(
        lambda: frechet_distance_curve(
            a, b, sfreq=sf, time_unit="samples", amplitude_unit="uV", prune=False
        ),
        repeat=2,
    )
    batch = np.stack([a] * 6), np.stack([b] * 6)
    t_b, _ = _best(lambda: frechet_distance_curve(*batch, sfreq=sf, prune=False), repeat=1)
    print(
        f"Fréchet {n} x {n} = {n * n / 1e6:.1f} M cells, float32: full DP {t_full:.3f} s "
        f"(samples/uV {t_smp:.3f} s), exact pruning {t_pr:.3f} s; "
        f"6 leads batched {t_b:.3f} s ({t_b / 6:.3f} s per lead); values {v1:.5f} / {v2:.5f}"
    )

    net = ECGNet().eval()
    print(
        f"ECGNet default generator: {count_parameters(net):,} parameters, "
        f"{args.threads} CPU thread(s)"
    )
    for sfreq in (100.0, 500.0):
        T = int(10 * sfreq)
        B = 8 if not args.quick else 2
        x = torch.randn(B, 12, T) * 0.3
        net.generate(x[:1, :, :100], lead="I")
        t, _ = _best(lambda x=x: net.generate(x, lead="I"), repeat=2)
        print(f"  10-s records at {sfreq:g} Hz ({T} samples): {B / t:.1f} records/s (batch {B})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
