#!/usr/bin/env python
"""EEGDM throughput: S4D vs a plain FFT convolution, SSMDP train step, latents, samplers.

Ratios are taken within one run (same machine state):

- S4D layer forward (kernel generation + FFT convolution) vs a plain FFT convolution with the
  same, precomputed two-sided kernel: the price of generating the kernel from (A, B, C, dt);
- SSMDP train step (v-prediction loss + backward + AdamW), single-channel sequences/s;
- latent extraction (``SSMDP.latents``, no grad), windows/s, and the size of one window's
  tokens in float32 vs float16;
- sampling: ancestral DDPM (all T = 50 steps) vs deterministic DDIM with 10 steps, s/sample.

Defaults are the paper's sizes (SSMDP 20 x 128, TUEV windows 22 x 1000); ``--small`` uses a
4-layer d_model-32 SSMDP for a quick CPU look. ``--device cuda --bf16`` times the GPU path.
Run: ``python benchmarks/bench_eegdm.py --small --threads 2``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def _median_time(fn, iters: int, warmup: int = 1, sync=lambda: None) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="autocast to bfloat16 (GPU)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8, help="windows per batch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from biosig.diffusion import GaussianDiffusion
    from biosig.models import SSMDP

    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16)
    kw = (dict(n_layers=4, d_model=32, d_state=32, d_embed=32, d_cond=64) if args.small
          else {})
    n_chans, length = 22, 1000
    net = SSMDP(n_chans=n_chans, sfreq=200.0, **kw).to(dev)
    h = 2 * net.blocks[0].out_skip.in_features
    print(f"SSMDP {sum(p.numel() for p in net.parameters()):,} params, S4D width {h}, "
          f"L = {length}, device {dev}{' bf16' if args.bf16 else ''}")

    # S4D vs a plain FFT convolution with the same kernel
    layer = net.blocks[0].ssm
    u = torch.randn(args.batch * 4, length, h, device=dev)
    with torch.no_grad():
        k = layer.kernel(length)
        kern = torch.nn.functional.pad(k[0], (0, length)) + torch.nn.functional.pad(
            k[1].flip(-1), (length, 0))
        k_f = torch.fft.rfft(kern, n=2 * length)

        def plain():
            x = u.transpose(1, 2)
            y = torch.fft.irfft(torch.fft.rfft(x, n=2 * length) * k_f, n=2 * length)[..., :length]
            return (y + x * layer.D[:, None]).transpose(1, 2)

        torch.testing.assert_close(plain(), layer(u), rtol=1e-3, atol=1e-3)
        t_s4d = _median_time(lambda: layer(u), args.iters, sync=sync)
        t_plain = _median_time(plain, args.iters, sync=sync)
    print(f"S4D layer {t_s4d * 1e3:.1f} ms vs plain FFT conv {t_plain * 1e3:.1f} ms "
          f"(ratio {t_s4d / t_plain:.2f}) for {u.shape[0]} sequences")

    # train step
    diffusion = GaussianDiffusion(50).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    seqs = args.batch * 4
    x0 = torch.randn(seqs, 1, length, device=dev).clamp(-3, 3)
    ids = torch.randint(0, 22, (seqs, 1), device=dev)

    def step():
        with amp:
            loss = diffusion.loss(lambda xt, t: net(xt, t, ids), x0)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_step = _median_time(step, args.iters, sync=sync)
    print(f"train step: {seqs / t_step:.1f} single-channel sequences/s ({t_step:.2f} s/step)")

    # latents
    net.eval()
    windows = 100 * torch.randn(max(1, args.batch // 4), n_chans, length, device=dev)
    with amp:
        t_lat = _median_time(lambda: net.latents(windows), args.iters, sync=sync)
        tokens = net.latents(windows)
    per32 = tokens[0].numel() * 4
    print(f"latents: {windows.shape[0] / t_lat:.2f} windows/s; tokens per window "
          f"{tuple(tokens.shape[1:])} = {per32 / 1e6:.2f} MB float32, {per32 / 2e6:.2f} MB "
          "float16")

    # samplers
    n = 2
    ids_s = torch.randint(0, 22, (n, 1), device=dev)
    with torch.no_grad(), amp:
        t_ddpm = _median_time(lambda: diffusion.sample(lambda xt, t: net(xt, t, ids_s),
                                                       (n, 1, length), device=dev), 1, 0, sync)
        t_ddim = _median_time(lambda: diffusion.sample(lambda xt, t: net(xt, t, ids_s),
                                                       (n, 1, length), steps=10, method="ddim",
                                                       device=dev), 1, 0, sync)
    print(f"sampling {n} x {length}: DDPM-50 {t_ddpm / n:.2f} s/sample, DDIM-10 "
          f"{t_ddim / n:.2f} s/sample (speed-up {t_ddpm / t_ddim:.1f}x)")


if __name__ == "__main__":
    main()
