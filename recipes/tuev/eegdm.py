#!/usr/bin/env python
"""EEGDM on TUEV in one command: pretrain -> cache latents -> fine-tune seeds -> table.

1. SSMDP diffusion pretraining (v-prediction DDPM, EMA with the warm-up) on the training
   windows only (``DiffusionTask``), or ``--backbone FOLDER`` (a saved SSMDP weights folder).
2. Latent tokens (std-pooled gates of every layer, step 1, clean input) of every window through
   the latent cache (:func:`biosig.data.latents.latent_cache`; float16 by default) or
   ``--on-the-fly``.
3. LFT fine-tuning over ``--seeds`` (label smoothing 0.1, AdamW (0.9, 0.98) wd 0.05 with the
   official exemptions, OneCycle peak 5e-4, grad clip 3, EMA, early stopping on validation kappa
   after ``--min-epochs``); test = the official eval part.
4. Baselines on the same split: a linear probe (logistic regression on the log of the tokens
   averaged over pools, z-scored with training statistics) on the same latents, and DBConformer
   on the raw windows (``--no-dbconformer`` to skip).
5. A Markdown table of BAcc / kappa / weighted F1 (mean +- std over seeds) next to the paper's
   75.57 / 74.23 / 86.88.

Split as the paper: the official train part -> 80 % train / 20 % validation by subject
(``int(0.2 n)`` subjects, at least one, drawn with ``numpy.random.RandomState(4523)`` from the
sorted subjects; TUEV's loader does the same), the official eval part = test.

    python recipes/tuev/eegdm.py --tiny                  # built-in TUEV-like data, CPU, minutes
    python recipes/tuev/eegdm.py --data tuev --path ~/data/tuev/v2.0.1 --accelerator gpu

``--tiny`` shrinks everything for a CPU (and CI): a 2-block SSMDP, a small LFT with
``token_norm="logbatch"`` (the raw gate deviations of such a small backbone are ~0.04 +- 0.01
and the LFT stays at chance on them; see ``biosig.models.LFT``). The full setting is the paper's
(20 + 8 blocks, ``token_norm=None``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from biosig._argparse import HelpFormatter, add_threads_argument

PAPER = {"bal_acc": 75.57, "kappa": 74.23, "f1_weighted": 86.88}
METRICS = ("bal_acc", "kappa", "f1_weighted")
TINY_SSMDP = dict(n_layers=2, d_model=16, d_state=8, d_embed=16, d_cond=32)
TINY_LFT = dict(n_heads=4, n_fusion_tokens=4, n_classifier_blocks=2, token_norm="logbatch")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--data", choices=["synthetic", "tuev"], default="synthetic",
                   help="the built-in TUEV-like simulator or TUEV (your own licensed copy)")
    p.add_argument("--path", default=None,
                   help="TUEV folder (edf/train, edf/eval; default: under BIOSIG_DATA)")
    p.add_argument("--tiny", action="store_true", help="small models and data (CPU, CI)")
    p.add_argument("--n-subjects", type=int, default=6, help="simulator subjects (last 2: eval)")
    p.add_argument("--n-per-class", type=int, default=20, help="simulator events per class")
    p.add_argument("--backbone", default=None,
                   help="a pretrained SSMDP weights folder: skip the pretraining")
    p.add_argument("--pretrain-epochs", type=int, default=None,
                   help="SSMDP pretraining epochs (default: 100; --tiny 2)")
    p.add_argument("--epochs", type=int, default=None,
                   help="LFT max epochs (default: 50; --tiny 15)")
    p.add_argument("--min-epochs", type=int, default=None,
                   help="LFT epochs before early stopping may end it (default: 20; --tiny 5)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="LFT batch size (default: 256; --tiny 32)")
    p.add_argument("--lr", type=float, default=None,
                   help="LFT OneCycle peak learning rate (default: 5e-4)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                   help="fine-tuning seeds (table: mean +- std over them)")
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16",
                   help="storage type of the latent cache")
    p.add_argument("--on-the-fly", action="store_true", help="no latent cache on disk")
    p.add_argument("--token-norm", default="",
                   help="LFT token_norm, 'none' for None (default: the paper's None; --tiny "
                        "'logbatch')")
    p.add_argument("--no-dbconformer", action="store_true",
                   help="skip the DBConformer baseline on the raw windows")
    p.add_argument("--cache-dir", default=None,
                   help="window and latent caches (default: BIOSIG_CACHE)")
    p.add_argument("--out", default="biosig_out/tuev_eegdm", help="weights, logs, results.json")
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, auto")
    add_threads_argument(p)
    return p


def settings(args) -> dict:
    tiny = args.tiny

    def pick(value, full, small):
        return value if value is not None else (small if tiny else full)

    norm = args.token_norm or ("logbatch" if tiny else "none")
    lft = dict(TINY_LFT) if tiny else {}
    lft["token_norm"] = None if norm == "none" else norm
    return dict(ssmdp=TINY_SSMDP if tiny else {}, lft=lft,
                pretrain_epochs=pick(args.pretrain_epochs, 100, 2),
                pretrain_batch=16 if tiny else 108 // 22 + 1,
                channels_per_window=4 if tiny else 0, pretrain_lr=1e-3 if tiny else 1e-4,
                epochs=pick(args.epochs, 50, 15), min_epochs=pick(args.min_epochs, 20, 5),
                batch_size=pick(args.batch_size, 256, 32), lr=args.lr or 5e-4,
                ema=dict(max_decay=0.999, update_after_step=20 if tiny else 100,
                         update_every=2 if tiny else 10))


def load_windows(args):
    from biosig.data.cache import get_cache

    if args.data == "synthetic":
        from biosig.datasets.synthetic import SyntheticTUEV

        source = SyntheticTUEV(n_subjects=args.n_subjects, n_per_class=args.n_per_class)
    else:
        from biosig.datasets.tuev import TUEV

        source = TUEV(path=args.path)
    return get_cache(source, root=args.cache_dir)


def split(meta) -> dict[str, np.ndarray]:
    """Indices of train / val / test: 20 % of the training subjects (seed 4523) validate."""
    part = meta["split"].to_numpy().astype(str)
    subjects = meta["subject"].to_numpy()
    if (part == "val").any():  # TUEV's loader made the split already
        val = part == "val"
    else:
        train_subjects = sorted(set(subjects[part == "train"]))
        n_val = max(1, int(len(train_subjects) * 0.2))
        chosen = np.random.RandomState(4523).choice(len(train_subjects), n_val, replace=False)
        val = np.isin(subjects, [train_subjects[i] for i in chosen]) & (part == "train")
    out = {"train": np.where((part == "train") & ~val)[0], "val": np.where(val)[0],
           "test": np.where(part == "test")[0]}
    empty = [k for k, v in out.items() if not len(v)]
    if empty:
        from biosig.errors import ConfigError

        raise ConfigError(
            f"the split leaves no {' and no '.join(empty)} windows "
            f"({len(set(subjects[part == 'train']))} training subjects, one in five of them "
            "validating): give more subjects (the simulator: --n-subjects of at least 4; its last "
            "2 are the test part)")
    return out


def _trainer(args, root, max_epochs, callbacks, **kw):
    import lightning.pytorch as pl

    return pl.Trainer(max_epochs=max_epochs, accelerator=args.accelerator, logger=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=root, callbacks=callbacks, **kw)


def pretrain(args, cfg, windows, idx):
    """DDPM pretraining of the SSMDP on the training windows; the EMA weights are kept."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.callbacks import WarmupEMA
    from biosig.tasks import DiffusionTask

    x = torch.from_numpy(np.array(windows.X[idx]))
    task = DiffusionTask("ssmdp", cfg["ssmdp"], n_chans=x.shape[1], n_times=x.shape[2],
                         sfreq=windows.sfreq, ch_names=windows.ch_names,
                         channels_per_window=cfg["channels_per_window"], lr=cfg["pretrain_lr"])
    trainer = _trainer(args, Path(args.out) / "pretrain", cfg["pretrain_epochs"],
                       [WarmupEMA(**cfg["ema"])], gradient_clip_val=1.0,
                       enable_checkpointing=False)
    loader = DataLoader(TensorDataset(x), batch_size=cfg["pretrain_batch"], shuffle=True)
    trainer.fit(task, loader)
    # the task adds its sampler settings (n_diffusion_steps, schedule, clip_sample)
    recipe = {"epochs": cfg["pretrain_epochs"], "data": args.data,
              "script": "recipes/tuev/eegdm.py"}
    folder = task.save_pretrained(Path(args.out) / "ssmdp", recipe=recipe)
    return task.net.eval(), folder


def probe(tokens: dict, labels: dict) -> dict:
    """Logistic regression on log(mean over pools) of the tokens, z-scored on train."""
    from sklearn.linear_model import LogisticRegression

    feats = {k: np.log(np.maximum(v.mean(axis=2), 1e-8)).reshape(len(v), -1)
             for k, v in tokens.items()}
    mu, sd = feats["train"].mean(0), feats["train"].std(0) + 1e-8
    clf = LogisticRegression(max_iter=3000).fit((feats["train"] - mu) / sd, labels["train"])
    return scores(labels["test"], clf.predict((feats["test"] - mu) / sd))


def scores(y, pred) -> dict:
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score

    return {"bal_acc": 100 * balanced_accuracy_score(y, pred),
            "kappa": 100 * cohen_kappa_score(y, pred),
            "f1_weighted": 100 * f1_score(y, pred, average="weighted")}


def fit_classifier(args, cfg, model, model_kwargs, data, seed, n_chans, n_outputs, **signal):
    """ClassificationTask with EEGDM's fine-tuning setup; returns test scores (EMA weights)."""
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import EarlyStopping
    from torch.utils.data import DataLoader

    from biosig.callbacks import WarmupEMA
    from biosig.tasks import ClassificationTask

    pl.seed_everything(seed, verbose=False)
    task = ClassificationTask(model, model_kwargs, n_chans=n_chans, n_outputs=n_outputs,
                              label_smoothing=0.1, optimizer="adamw", betas=(0.9, 0.98),
                              weight_decay=0.05, lr=cfg["lr"], scheduler="onecycle", pct_start=0.1,
                              **signal)
    stop = EarlyStopping(monitor="val_kappa", mode="max", patience=3)
    trainer = _trainer(args, Path(args.out) / f"{model}_seed{seed}", cfg["epochs"],
                       [WarmupEMA(**cfg["ema"]), stop], min_epochs=cfg["min_epochs"],
                       gradient_clip_val=3.0, enable_checkpointing=False)
    bs = cfg["batch_size"]
    trainer.fit(task, DataLoader(data["train"], batch_size=bs, shuffle=True, drop_last=True),
                DataLoader(data["val"], batch_size=bs))
    task.eval()
    preds, ys = [], []
    with torch.no_grad():
        for x, y in DataLoader(data["test"], batch_size=bs):
            preds.append(task(x.to(task.device)).argmax(1).cpu())
            ys.append(y)
    return scores(torch.cat(ys).numpy(), torch.cat(preds).numpy())


def table(results: dict) -> str:
    rows = ["| model | BAcc | kappa | weighted F1 |", "|---|---|---|---|"]
    for name, runs in results.items():
        cells = []
        for m in METRICS:
            vals = np.array([r[m] for r in runs])
            cells.append(f"{vals.mean():.2f} ± {vals.std():.2f}" if len(vals) > 1
                         else f"{vals[0]:.2f}")
        rows.append(f"| {name} (n={len(runs)}) | " + " | ".join(cells) + " |")
    rows.append("| EEGDM, paper (TUEV, 5 seeds) | 75.57 | 74.23 | 86.88 |")
    return "\n".join(rows)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    import torch

    from biosig.data.latents import OnTheFlyLatents, latent_cache
    from biosig.models import SSMDP

    from biosig._threads import set_threads
    from biosig.experiments import quiet_lightning_notices

    set_threads(args.threads)  # --threads, BIOSIG_THREADS, else the cores not already busy
    quiet_lightning_notices()  # Lightning's tips and its own deprecations: nothing to act on
    cfg, t0 = settings(args), time.perf_counter()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    windows = load_windows(args)
    idx = split(windows.meta)
    n_outputs = len(windows.classes)
    print(f"windows: {len(windows.y)} ({', '.join(f'{k} {len(v)}' for k, v in idx.items())}), "
          f"{len(windows.ch_names)} ch x {windows.X.shape[2]} @ {windows.sfreq:g} Hz")
    if args.backbone:  # an SSMDP of these windows' rate and channels (else a ConfigError)
        data = {"sfreq": windows.sfreq, "n_chans": len(windows.ch_names),
                "ch_names": list(windows.ch_names)}
        net, folder = SSMDP.from_pretrained(args.backbone, data=data).eval(), args.backbone
    else:
        torch.manual_seed(0)
        net, folder = pretrain(args, cfg, windows, idx["train"])
    print(f"SSMDP ({sum(p.numel() for p in net.parameters()):,} params): {folder} "
          f"({time.perf_counter() - t0:.0f} s)")
    if args.on_the_fly:
        lat = OnTheFlyLatents(windows, net)
    else:
        lat = latent_cache(windows, net, dtype=args.dtype, root=args.cache_dir)
        print(f"latent cache {lat.path}: {lat.bytes_per_window:,} bytes per window "
              f"({args.dtype}) ({time.perf_counter() - t0:.0f} s)")
    data = {k: lat.subset(v) for k, v in idx.items()}
    tokens = {k: np.stack([d[i][0].numpy() for i in range(len(d))]) for k, d in data.items()}
    labels = {k: np.asarray(windows.y[v]) for k, v in idx.items()}
    results = {"linear probe (same latents)": [probe(tokens, labels)]}
    n_layers, n_pools, n_chans, d_model = tokens["train"].shape[1:]
    lft = dict(n_pools=n_pools, n_layers=n_layers, d_model=d_model, **cfg["lft"])
    results["EEGDM (LFT)"] = [fit_classifier(args, cfg, "lft", lft, data, s, n_chans, n_outputs)
                              for s in args.seeds]
    if not args.no_dbconformer:
        from torch.utils.data import Subset, TensorDataset

        raw = TensorDataset(torch.from_numpy(np.array(windows.X)),
                            torch.from_numpy(np.asarray(windows.y)).long())
        results["DBConformer (raw windows)"] = [
            fit_classifier(args, cfg, "dbconformer", {}, {k: Subset(raw, v) for k, v in
                                                          idx.items()}, s, n_chans, n_outputs,
                           n_times=windows.X.shape[2], sfreq=windows.sfreq)
            for s in args.seeds]
    text = table(results)
    print(f"\nTUEV ({args.data}{', tiny' if args.tiny else ''}), test = eval part\n\n{text}\n"
          f"total {time.perf_counter() - t0:.0f} s")
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
