#!/usr/bin/env python
"""EEGDM evidence on real EEG: tiny SSMDP pretraining -> latents -> linear probe (CPU).

Data: PhysioNet "EEG During Mental Arithmetic Tasks" (Zyma et al. 2019, ODC-By 1.0) in
``../shared/data/eeg_edf/eegmat``: 16 subjects, 19 EEG channels at 500 Hz, ``_1`` = rest
(about 180 s), ``_2`` = serial subtraction (60 s). Preprocessing as EEGDM: band-pass 0.1-75 Hz,
notch 50 Hz, resample to 200 Hz; non-overlapping 5-s windows (1000 samples), labels rest (0) /
arithmetic (1); SSMDP's own transform (µV / 100, staged mu-law).

CPU budget (defaults): 8 channels (F3, F4, C3, C4, P3, P4, O1, O2), 12 evenly spaced rest
windows per subject next to its 12 arithmetic windows, a 4-layer d_model-16 SSMDP pretrained on
random 2-s crops (the S4D kernels follow the input length; latents use the full 5-s windows).

1. Self-supervised DDPM pretraining (``DiffusionTask`` + ``WarmupEMA``) of a small SSMDP on the
   windows of the *training* subjects for ``--minutes`` of wall time.
2. Latent tokens at step 1 on clean windows (std-pooled gates of every layer, 1-s pools),
   averaged over pools, log -> one vector per window (the tokens are scale-like, as powers).
3. Balanced accuracy of a logistic-regression probe, rest vs arithmetic, on held-out subjects
   (``--folds`` folds of subjects; the SSMDP of a fold never sees its test subjects), for:
   pretrained (EMA) SSMDP latents, the same SSMDP at random initialisation, and log band powers
   (1-45 Hz in 5 bands per channel) as a classical baseline; each also with its features
   z-scored within every subject (label-free, removes subject offsets).

Measured once (2 shared CPU cores, ``--minutes 6``, 2 folds; SSMDP 18,417 params, 332 / 603
steps, EMA v-loss 0.46 -> 0.044 / 0.051): balanced accuracy, plain / per-subject z-scored:
log band powers 0.581 / 0.695; pretrained SSMDP latents 0.539 / 0.602; random-init SSMDP
latents 0.500 / 0.581. Pretraining helps over random weights, but a network this small and
this briefly trained does not reach the band-power baseline: the paper's scale (5.9 M params,
100 epochs on a GPU) is untested here.

Measured again (2026-12-04, idle machine, ``--folds 4 --minutes 8 --threads 1``; 5,577-6,384
steps per fold, EMA v-loss 0.46 -> 0.048-0.064): log band powers 0.523 / 0.664; pretrained
SSMDP latents 0.490 / 0.560; random-init latents 0.518 / 0.568. With four folds and ten times
the steps, pretraining shows no gain over random weights at this scale.

With ``--lft-epochs E`` (:func:`lft_scores`): EEGDM's own downstream, the LFT trained on the
frozen latents of the pretrained and of the random-init SSMDP. Measured (2026-12-04, ``--folds 4
--steps 6000 --lft-epochs 10 --threads 1``): LFT on pretrained latents 0.562, on random-init
latents 0.539 (AUROC 0.588 and 0.585); the linear probes as above (0.495 / 0.518).

Run: ``python benchmarks/eegdm_eegmat_probe.py --minutes 5`` (prints a table; writes nothing
into the repository; the preprocessed windows are cached under ``--scratch``).
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = (Path(os.environ.get("BIOSIG_SHARED_DATA", REPO.parent / "shared" / "data"))
        / "eeg_edf" / "eegmat")
SFREQ, WIN = 200.0, 1000
LFT_KWARGS = dict(n_heads=4, n_fusion_tokens=4, n_classifier_blocks=2, token_norm="logbatch")


def load_windows(data_dir: Path, scratch: Path):
    """``(x (N, 19, 1000) µV float32, y (N,), subject (N,), ch_names)``, cached as .npz."""
    cache = scratch / "eegmat_200hz_5s.npz"
    if cache.exists():
        z = np.load(cache)
        return z["x"], z["y"], z["subject"], list(z["ch_names"])
    from biosig.signal.preprocessing import Bandpass, Notch, PickChannels, Resample, apply_steps
    from biosig.io import read_recording

    xs, ys, subs = [], [], []
    names = None
    paths = sorted(data_dir.glob("Subject*_[12].edf"))
    if not paths:
        raise SystemExit(f"no Subject*_1.edf / _2.edf in {data_dir} (set --data or "
                         "BIOSIG_SHARED_DATA)")
    for path in paths:
        rec = read_recording(path)
        eeg = [n for n, t in zip(rec.ch_names, rec.ch_types) if t == "eeg" and n != "EEG A2-A1"]
        rec = apply_steps(rec, [PickChannels(names=eeg), Bandpass(0.1, 75.0), Notch(50.0),
                                Resample(SFREQ)])
        names = names or rec.ch_names
        if rec.ch_names != names:
            raise ValueError(f"{path}: channels {rec.ch_names} differ from {names}")
        n = rec.data.shape[1] // WIN
        xs.append(rec.data[:, : n * WIN].reshape(len(names), n, WIN).transpose(1, 0, 2))
        ys.append(np.full(n, int(path.stem.endswith("_2"))))
        subs.append(np.full(n, int(path.stem[7:9])))
    x, y, s = np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(subs)
    scratch.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=x, y=y, subject=s, ch_names=np.array(names))
    return x, y, s, names


def pretrain(x_train: np.ndarray, minutes: float, model_kwargs: dict, seed: int, crop: int,
             steps: int = 0):
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.tasks import DiffusionTask
    from biosig.callbacks import WarmupEMA

    pl.seed_everything(seed, workers=True)
    task = DiffusionTask(n_chans=x_train.shape[1], n_times=crop, sfreq=SFREQ,
                         model_kwargs=model_kwargs, channels_per_window=4, lr=2e-3)
    random_init = copy.deepcopy(task.net)

    def random_crops(batch):  # S4D kernels follow the input length: train on shorter crops
        x = torch.stack([b[0] for b in batch])
        start = int(torch.randint(0, x.shape[-1] - crop + 1, ()))
        return (x[..., start:start + crop],)

    loader = DataLoader(TensorDataset(torch.from_numpy(x_train)), batch_size=8, shuffle=True,
                        drop_last=True, collate_fn=random_crops)
    ema = WarmupEMA(update_after_step=20, update_every=2)
    budget = dict(max_steps=steps) if steps else dict(max_time={"minutes": minutes})
    trainer = pl.Trainer(**budget, max_epochs=10_000, accelerator="cpu",
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=1.0, callbacks=[ema])
    probe = torch.from_numpy(x_train[:32, :, :crop])
    with torch.no_grad():
        before = float(task.diffusion_loss(probe, torch.Generator().manual_seed(0)))
    t0 = time.perf_counter()
    trainer.fit(task, loader)
    elapsed = time.perf_counter() - t0
    task.eval()
    with torch.no_grad():
        after = float(task.diffusion_loss(probe, torch.Generator().manual_seed(0)))
    return task.net, random_init, dict(steps=trainer.global_step, seconds=elapsed,
                                       loss_before=before, loss_after=after)


@torch.no_grad()
def latent_features(net, x: np.ndarray, batch: int = 8) -> np.ndarray:
    net.eval()
    out = []
    for i in range(0, len(x), batch):
        tokens = net.latents(torch.from_numpy(x[i:i + batch]))  # (B, layers, pools, C, d)
        out.append(torch.log(tokens.mean(dim=2) + 1e-6).flatten(1).numpy())
    return np.concatenate(out)


def band_powers(x: np.ndarray) -> np.ndarray:
    from scipy.signal import welch

    f, p = welch(x, fs=SFREQ, nperseg=400, axis=-1)
    bands = [(1, 4), (4, 8), (8, 13), (13, 30), (30, 45)]
    return np.log(np.stack([p[..., (f >= lo) & (f < hi)].mean(-1) for lo, hi in bands], -1)
                  + 1e-12).reshape(len(x), -1)


def per_subject_z(features: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """z-score every feature within each subject (label-free; uses the test subjects' windows)."""
    out = np.empty_like(features)
    for s_ in np.unique(subject):
        f = features[subject == s_]
        out[subject == s_] = (f - f.mean(0)) / (f.std(0) + 1e-8)
    return out


def probe_fold(features: np.ndarray, y: np.ndarray, test: np.ndarray, c: float = 0.1) -> float:
    """Balanced accuracy on the ``test`` windows of a logistic regression fit on the others."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(
        C=c, class_weight="balanced", max_iter=5000))
    clf.fit(features[~test], y[~test])
    return float(balanced_accuracy_score(y[test], clf.predict(features[test])))


def lft_scores(backbones: dict, x: np.ndarray, y: np.ndarray, test: np.ndarray, epochs: int,
               seed: int) -> dict[str, float]:
    """EEGDM's own downstream: the LFT trained on the frozen SSMDP's latents (``ClassificationTask``
    with model ``eegdm``, the backbone loaded from a weights folder), for each backbone, on the
    training subjects' windows; held-out balanced accuracy. Settings of
    ``recipes/tuev/eegdm_finetune.yaml`` (AdamW betas 0.9/0.98, weight decay 0.05, OneCycle peak
    5e-4 with 10 % warm-up, label smoothing 0.1, gradient clipping 3), ``epochs`` epochs of
    batch 16 (chosen here: 288 windows); the LFT sized for a small backbone as in
    ``recipes/synthetic/eegdm_finetune.yaml`` (4 heads, 4 fusion tokens, 2 classifier blocks,
    ``token_norm="logbatch"``: on a small backbone's raw gate deviations the LFT stays at
    chance)."""
    import logging
    import tempfile

    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.tasks import ClassificationTask

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    data = {part: TensorDataset(torch.from_numpy(x[rows]), torch.from_numpy(y[rows]))
            for part, rows in (("train", ~test), ("test", test))}
    out = {}
    for name, net in backbones.items():
        with tempfile.TemporaryDirectory() as weights:
            net.save_pretrained(weights)
            pl.seed_everything(seed, verbose=False)
            t0 = time.time()
            task = ClassificationTask(
                "eegdm", model_kwargs=dict(backbone_weights=weights, lft=LFT_KWARGS),
                n_chans=x.shape[1],
                n_times=x.shape[2], sfreq=SFREQ, n_outputs=2, label_smoothing=0.1,
                optimizer="adamw", betas=[0.9, 0.98], weight_decay=0.05, lr=5e-4,
                scheduler="onecycle", pct_start=0.1)
            trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                                 enable_checkpointing=False, enable_progress_bar=False,
                                 enable_model_summary=False, gradient_clip_val=3.0)
            trainer.fit(task, DataLoader(data["train"], batch_size=16, shuffle=True))
            scores = trainer.test(task, DataLoader(data["test"], batch_size=64),
                                  verbose=False)[0]
        out[name] = scores["test_bal_acc"]
        print(f"  LFT on {name} latents: balanced accuracy {out[name]:.3f}, AUROC "
              f"{scores['test_auroc']:.3f} ({time.time() - t0:.0f} s)", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/biosig_eegdm_probe"))
    ap.add_argument("--minutes", type=float, default=8.0, help="pretraining per fold")
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--channels", default="F3,F4,C3,C4,P3,P4,O1,O2",
                    help="comma-separated 10-20 names ('all': the 19)")
    ap.add_argument("--rest-per-subject", type=int, default=12,
                    help="rest windows kept per subject (the task has 12; 0: all)")
    ap.add_argument("--crop", type=int, default=400, help="pretraining crop (samples)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=0,
                    help="pretraining steps per fold instead of --minutes (0: the time budget)")
    ap.add_argument("--lft-epochs", type=int, default=0,
                    help="also train EEGDM's LFT on the pretrained and the random-init latents "
                         "for this many epochs (0: no)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y, subject, names = load_windows(args.data, args.scratch)
    if args.channels != "all":
        keep = [names.index(f"EEG {c}") for c in args.channels.split(",")]
        x, names = x[:, keep], [names[i] for i in keep]
    if args.rest_per_subject:  # evenly spaced rest windows: CPU time, balanced classes
        rows = []
        for s_ in np.unique(subject):
            rest = np.flatnonzero((subject == s_) & (y == 0))
            pick = np.linspace(0, len(rest) - 1, min(args.rest_per_subject, len(rest)))
            rows += rest[pick.round().astype(int)].tolist()
            rows += np.flatnonzero((subject == s_) & (y == 1)).tolist()
        rows = np.sort(rows)
        x, y, subject = x[rows], y[rows], subject[rows]
    print(f"windows: {len(x)} ({int((y == 0).sum())} rest, {int(y.sum())} arithmetic), "
          f"{x.shape[1]} channels x {x.shape[2]} samples @ {SFREQ:g} Hz, "
          f"{len(np.unique(subject))} subjects")
    kw = dict(n_channel_ids=len(names), n_layers=4, d_model=16, d_state=16, d_embed=16,
              d_cond=32)
    subjects = np.unique(subject)
    names_ = ["log band powers (5 bands per channel)", "SSMDP pretrained (EMA)",
              "SSMDP random init"]
    scores = {(n, z): [] for n in names_ for z in (False, True)}
    base = band_powers(x)
    for fold, held_out in enumerate(np.array_split(subjects, args.folds)):
        test = np.isin(subject, held_out)
        # the SSMDP of each fold is pretrained on that fold's training subjects only
        net, random_init, info = pretrain(x[~test], args.minutes, kw, args.seed, args.crop,
                                          args.steps)
        from biosig.models import count_parameters
        print(f"fold {fold} (test subjects {held_out.tolist()}): SSMDP "
              f"{count_parameters(net):,} params, {info['steps']} steps in "
              f"{info['seconds'] / 60:.1f} min, v-loss {info['loss_before']:.4f} -> "
              f"{info['loss_after']:.4f} (EMA weights)", flush=True)
        feats = dict(zip(names_, (base, latent_features(net, x), latent_features(random_init, x))))
        np.savez(args.scratch / f"features_fold{fold}.npz", y=y, subject=subject, test=test,
                 **{str(i): f for i, f in enumerate(feats.values())})
        for name, f in feats.items():
            scores[(name, False)].append(probe_fold(f, y, test))
            scores[(name, True)].append(probe_fold(per_subject_z(f, subject), y, test))
        if args.lft_epochs:
            lft = lft_scores({"SSMDP pretrained (EMA)": net, "SSMDP random init": random_init},
                             x, y, test, args.lft_epochs, args.seed)
            for name, value in lft.items():
                scores.setdefault((f"LFT ({args.lft_epochs} epochs) on {name}", False),
                                  []).append(value)
    print(f"\nrest vs arithmetic, balanced accuracy on held-out subjects ({args.folds} folds; "
          "z: features z-scored within each subject, label-free)")
    for (name, z), vals in scores.items():
        label = name + (" + z" if z else "")
        print(f"{label:44s} {np.mean(vals):.3f}  (folds: {', '.join(f'{v:.3f}' for v in vals)})")


if __name__ == "__main__":
    main()
