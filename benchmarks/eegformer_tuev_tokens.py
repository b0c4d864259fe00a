#!/usr/bin/env python
"""EEGFormer tokens on TUEV-like data: anomaly AUROC and n-gram naive Bayes (issue 11).

Data: :class:`biosig.datasets.synthetic.SyntheticTUEV`'s simulator (22 TCP bipolar channels,
200 Hz, 5-s windows, 6 classes: spsw, gped, pled, eyem, artf, bckg); subjects 1-4 train,
5-6 evaluate.

1. Pretrain a small EEGFormer with ``VQTask`` on the **background** windows of the training
   subjects only. Tokens are time-localised: ``fft_frame`` gives the amplitude spectrum
   of every 0.5-s frame, one patch per frame, so a channel is a sequence of 10 tokens.
2. Anomaly detection on the evaluation subjects: AUROC of event windows (the five non-bckg
   classes) against background, for the reconstruction-error score and the token-rarity score
   (code frequencies of the training background, per patch position).
   Scores are the mean or the max over a window's tokens (events are local: max).
3. Interpretation: 1-2-gram token counts per window, multinomial naive Bayes trained on all
   training windows, balanced accuracy (6 classes) on the evaluation subjects.

Run: ``PYTHONPATH=. python benchmarks/eegformer_tuev_tokens.py [--epochs 6] [--per-class 20]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from biosig.analysis import tokens as tk
from biosig.datasets.synthetic import TUEV_LIKE_CLASSES, simulate_tuev_subject

SFREQ, N_TIMES = 200.0, 1000
SMALL = dict(input_domain="fft", fft_frame=100, log_amplitude=False, patch_len=50,
             patch_stride=50, emb_size=32, n_heads=4, encoder_depth=2, decoder_depth=1,
             n_codes=64, ema=True, data_init=True, dead_after=5)
BCKG = TUEV_LIKE_CLASSES.index("bckg")


def tuev_windows(subjects, n_per_class: int, seed: int = 0):
    """``(x (N, 22, 1000) float32 µV, y (N,) class ids)`` of the simulated subjects."""
    xs, ys = [], []
    for s in subjects:
        rec = simulate_tuev_subject(s, n_per_class, SFREQ, seed)
        n = rec.data.shape[1] // N_TIMES
        xs.append(rec.data.reshape(rec.data.shape[0], n, N_TIMES).transpose(1, 0, 2))
        ys.append([TUEV_LIKE_CLASSES.index(d) for d in rec.annotations.description])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def pretrain(x_bckg: np.ndarray, epochs: int, seed: int = 0):
    """Short VQ pretraining on background windows; returns the network (eval mode)."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.tasks import VQTask

    pl.seed_everything(seed, verbose=False)
    task = VQTask("eegformer_s", SMALL, n_chans=x_bckg.shape[1], n_times=N_TIMES, sfreq=SFREQ,
                  lr=2e-3)
    loader = DataLoader(TensorDataset(torch.from_numpy(x_bckg)), batch_size=8, shuffle=True)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(task, loader)
    return task.net.eval()


def evaluate(net, x_train, y_train, x_test, y_test, n: int = 2) -> dict:
    """AUROCs (event vs background) and naive-Bayes balanced accuracy on the test windows."""
    k = net.quantizer.n_codes
    idx_train, _ = tk.window_tokens(net, x_train)
    idx_test, err_test = tk.window_tokens(net, x_test)
    event = y_test != BCKG
    freq = tk.code_frequencies(idx_train[y_train == BCKG], k, per_position=True)
    vocab = tk.NgramVocabulary(k, n=n)
    nb = tk.MultinomialNB(fit_prior=False).fit(vocab.fit_transform(idx_train), y_train)
    out = {}
    for red in ("mean", "max"):
        rec = tk.reconstruction_scores(err_test, red)
        rare = tk.token_rarity_scores(idx_test, freq, red)
        out[f"auroc_reconstruction_{red}"] = tk.auroc(rec, event)
        out[f"auroc_rarity_{red}"] = tk.auroc(rare, event)
    return {
        **out,
        "nb_balanced_accuracy": tk.balanced_accuracy(y_test, nb.predict(vocab.transform(idx_test))),
        "codes_used": int(len(np.unique(idx_train))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    x_train, y_train = tuev_windows(range(1, 5), args.per_class, args.seed)
    x_test, y_test = tuev_windows(range(5, 7), args.per_class, args.seed)
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    from biosig.models import create_model

    untrained = create_model("eegformer_s", n_times=N_TIMES, sfreq=SFREQ, **SMALL).eval()
    net = pretrain(x_train[y_train == BCKG], args.epochs, args.seed)
    minutes = (time.perf_counter() - t0) / 60
    print(f"train {x_train.shape}, test {x_test.shape}, pretraining {minutes:.1f} min")
    for name, model in (("untrained", untrained), ("pretrained", net)):
        res = evaluate(model, x_train, y_train, x_test, y_test)
        print(name, {k: round(v, 3) for k, v in res.items()})


if __name__ == "__main__":
    main()
