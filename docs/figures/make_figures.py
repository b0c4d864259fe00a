"""Write the model pages' figures into docs/img/ (built-in data, CPU, a few minutes).

    python docs/figures/make_figures.py [--only dbconformer hveegnet ...]

Each figure shows what the model page describes, made with biosig's own plot functions on the
built-in simulator: short CPU training where a figure needs a trained model (the step counts are
printed in the figure titles), so the pictures illustrate the pipeline, not a benchmark result.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "img"
sys.path.insert(0, str(REPO))


def _mi_windows(n_subjects: int = 2, n_trials: int = 30, seed: int = 0):
    """Band-passed built-in MI windows (EEG channels only): train (session T) and test (E)."""
    from biosig.data import Bandpass, BiosigDataModule, PickChannels, Predefined
    from biosig.datasets import SyntheticMI

    cache = tempfile.mkdtemp(prefix="biosig_docs_")
    dm = BiosigDataModule(
        SyntheticMI(n_subjects=n_subjects, n_trials_per_class=n_trials, seed=seed),
        preprocessing=[PickChannels(types=["eeg"]), Bandpass(8.0, 30.0)],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}),
        cache_dir=cache, batch_size=16,
    )
    dm.setup()
    parts = []
    for loader in (dm.train_dataloader(), dm.test_dataloader()):
        xs, ys = zip(*loader)
        parts.append((torch.cat(xs), torch.cat(ys)))
    return dm, parts


def _train(model, loss_fn, x, y=None, steps: int = 60, lr: float = 1e-3, batch: int = 16):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(x), (batch,), generator=gen)
        loss = loss_fn(model, x[idx], None if y is None else y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


def fig_dbconformer(path: Path, steps: int = 80) -> None:
    from biosig.models.dbconformer import DBConformer
    from biosig.viz.topomap import class_mean_attention, plot_channel_attention

    dm, ((xt, yt), (xe, ye)) = _mi_windows()
    torch.manual_seed(0)
    model = DBConformer(n_chans=dm.n_chans, n_outputs=dm.n_outputs, n_times=dm.n_times,
                        sfreq=dm.sfreq)
    _train(model, lambda m, x, y: torch.nn.functional.cross_entropy(m(x), y), xt, yt, steps)
    with torch.no_grad():
        acc = (model(xe).argmax(1) == ye).float().mean().item()
    weights = class_mean_attention(model, xe, ye)
    fig = plot_channel_attention(weights, dm.ch_names, dm.classes, normalize="classes")
    fig.suptitle(f"DBConformer channel attention, class contrast (built-in MI, {steps} steps, "
                 f"session-E accuracy {acc:.2f})", fontsize=10)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def fig_hveegnet(path: Path, steps: int = 150) -> None:
    from biosig.models.hveegnet import HVEEGNet
    from biosig.viz.reconstruction import plot_reconstructions

    dm, ((xt, _), (xe, _)) = _mi_windows(n_subjects=1)
    torch.manual_seed(0)
    model = HVEEGNet(n_chans=dm.n_chans, n_times=dm.n_times, sfreq=dm.sfreq)

    def elbo(m, x, _y):  # MSE reconstruction (the paper uses soft-DTW; MSE keeps this script short)
        out = m(x)
        return torch.nn.functional.mse_loss(out.x_hat, x) + 1e-3 * sum(k.mean() for k in out.kl)

    _train(model, elbo, xt, steps=steps, lr=1e-2)
    with torch.no_grad():
        x_hat = model.reconstruct(xe[:3])
    fig = plot_reconstructions(xe[:3].numpy(), x_hat.numpy(), sfreq=dm.sfreq,
                               ch_names=dm.ch_names, max_channels=3,
                               title=f"hvEEGNet reconstructions of unseen trials (built-in MI, "
                                     f"{steps} MSE steps)")
    fig.savefig(path, dpi=100, bbox_inches="tight")


def fig_eegformer(path: Path) -> None:
    from biosig.models import create_model

    dm, ((xt, _), _) = _mi_windows(n_subjects=1)
    model = create_model("eegformer_s", n_chans=dm.n_chans, n_outputs=2, n_times=dm.n_times,
                         sfreq=dm.sfreq)
    patches = model.patches(xt[:1])[0]  # (C, N, P)
    names = ["C3", "Cz", "C4"]
    fig, axes = plt.subplots(1, len(names), figsize=(11, 3), sharey=True)
    for ax, name in zip(axes, names):
        image = patches[dm.ch_names.index(name)].detach().numpy()
        ax.imshow(image.T, aspect="auto", origin="lower", cmap="viridis")
        ax.set_title(f"{name}: {image.shape[0]} tokens × {image.shape[1]} values", fontsize=9)
        ax.set_xlabel("token (overlapping patch of the spectrum, low → high)")
    axes[0].set_ylabel("value within the patch")
    fig.suptitle("EEGFormer encoder input: one 4-s built-in MI window (8-30 Hz), amplitude "
                 "spectrum per channel, instance-normalised, cut into patches", fontsize=10,
                 y=1.03)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def fig_eegdm(path: Path) -> None:
    from biosig.diffusion import GaussianDiffusion
    from biosig.models import create_model

    dm, ((xt, _), _) = _mi_windows(n_subjects=1)
    ssmdp = create_model("ssmdp", n_chans=dm.n_chans, n_times=dm.n_times, sfreq=dm.sfreq)
    x0 = ssmdp.encode_signal(xt[:1, dm.ch_names.index("C3")])  # (1, T), the denoiser's domain
    diffusion = GaussianDiffusion(n_steps=50, schedule="cosine")
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    steps = (0, 5, 15, 30, 49)
    t_axis = np.arange(x0.shape[-1]) / dm.sfreq
    fig, axes = plt.subplots(len(steps), 1, figsize=(10, 6), sharex=True)
    for ax, t in zip(axes, steps):
        xt_ = diffusion.q_sample(x0, torch.tensor([t]), noise)[0].numpy()
        ax.plot(t_axis, xt_, lw=0.6)
        ax.set_ylabel(f"t = {t}", rotation=0, ha="right", va="center")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle("EEGDM forward diffusion (cosine schedule, T = 50) of channel C3 in the "
                 "SSMDP domain (µV × 0.01, staged µ-law)", fontsize=10)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def fig_ecgnet(path: Path) -> None:
    from biosig.analysis.ecg import LeastSquaresLeadMap
    from biosig.datasets.synthetic import simulate_ecg12
    from biosig.viz.ecg import plot_12lead

    records = simulate_ecg12(n_records=41, duration=10.0, sfreq=100.0, seed=0)
    ecg = np.stack([r.data for r in records])
    lead_map = LeastSquaresLeadMap().fit(ecg[:40])
    generated = lead_map.predict(ecg[40:], "I")[0]
    title = ("Built-in 12-lead ECG (black) and, from lead I alone, the least-squares lead map "
             "that ECGNet is measured against (red)")
    fig = plot_12lead(ecg[40], 100.0, generated=generated, input_lead="I", title=title)
    fig.savefig(path, dpi=100, bbox_inches="tight")


FIGURES = {"dbconformer": fig_dbconformer, "hveegnet": fig_hveegnet,
           "eegformer": fig_eegformer, "eegdm": fig_eegdm, "ecgnet": fig_ecgnet}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), default=sorted(FIGURES))
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        start = time.perf_counter()
        FIGURES[name](OUT / f"{name}.png")
        plt.close("all")
        print(f"{OUT / name}.png: {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
