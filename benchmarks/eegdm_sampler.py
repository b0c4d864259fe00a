#!/usr/bin/env python
"""EEGDM samplers: 50-step ancestral DDPM vs few-step DDIM (v-prediction), speed and spectra.

For a pretrained SSMDP weights folder (``recipes/tuev/eegdm.py`` writes one to
``<out>/ssmdp``), generates ``--n`` windows per sampler and compares them with real windows of
the built-in TUEV-like data (the eval subjects, never seen in pretraining):

- time per generated window (s), and the speed-up over the ancestral sampler;
- spectral distance: per band (delta 1-4, theta 4-8, alpha 8-13, beta 13-30, gamma 30-70 Hz)
  and channel, the absolute difference of the log10 mean band power of generated vs real
  windows, averaged (0 = the real spectra); and the same distance between two disjoint halves
  of the real windows (the noise floor of this estimate).

Goal (issue #10): DDIM with 10 steps within 5 % of the ancestral sampler's distance and >= 5x
faster. Run: ``python benchmarks/eegdm_sampler.py biosig_out/tuev_eegdm/ssmdp --n 16``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

BANDS = {"delta": (1, 4), "theta": (4, 8), "alpha": (8, 13), "beta": (13, 30), "gamma": (30, 70)}


def band_log_power(x: np.ndarray, sfreq: float) -> np.ndarray:
    """``(N, C, T)`` -> ``(C, bands)`` log10 of the mean (over windows) band power."""
    f = np.fft.rfftfreq(x.shape[-1], 1 / sfreq)
    p = (np.abs(np.fft.rfft(x - x.mean(-1, keepdims=True), axis=-1)) ** 2).mean(0)
    return np.log10(np.stack([p[:, (f >= lo) & (f < hi)].mean(-1)
                              for lo, hi in BANDS.values()], axis=-1) + 1e-12)


def distance(a: np.ndarray, b: np.ndarray, sfreq: float) -> float:
    return float(np.abs(band_log_power(a, sfreq) - band_log_power(b, sfreq)).mean())


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[1])
    p.add_argument("weights")
    p.add_argument("--n", type=int, default=16, help="windows per sampler")
    p.add_argument("--steps", type=int, nargs="+", default=[10, 20])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from biosig.analysis.generate import generate
    from biosig.datasets.synthetic import SyntheticTUEV
    from biosig.models.weights import load_card

    card = load_card(args.weights)
    sfreq, n_times = float(card["data"]["sfreq"]), int(card["data"]["n_times"])
    src = SyntheticTUEV()
    real = np.concatenate([src.load(r).data for r in src.records() if r["split"] == "test"], 1)
    real = real[:, : real.shape[1] // n_times * n_times]
    real = real.reshape(real.shape[0], -1, n_times).transpose(1, 0, 2)
    half = len(real) // 2
    print(f"real windows: {len(real)}; noise floor (half vs half): "
          f"{distance(real[:half], real[half:], sfreq):.4f}")
    rows = []
    for method, steps in [("ddpm", None)] + [("ddim", s) for s in args.steps]:
        t0 = time.perf_counter()
        rec = generate(args.weights, args.n, method=method, steps=steps, seed=args.seed)
        dt = (time.perf_counter() - t0) / args.n
        gen = rec.data.reshape(rec.data.shape[0], args.n, n_times).transpose(1, 0, 2)
        rows.append((f"{method} {steps or (card.get('recipe') or {}).get('n_diffusion_steps', 50)}",
                     dt, distance(gen, real, sfreq)))
    base_t, base_d = rows[0][1], rows[0][2]
    print("| sampler | s / window | speed-up | spectral distance | vs ancestral |")
    print("|---|---|---|---|---|")
    for name, dt, d in rows:
        rel = 100 * (d / base_d - 1)
        print(f"| {name} | {dt:.3f} | {base_t / dt:.1f}x | {d:.4f} | {rel:+.1f} % |")


if __name__ == "__main__":
    main()
