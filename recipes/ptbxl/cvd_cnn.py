#!/usr/bin/env python
"""CVD CNN on the PTB-XL superclasses: with/without annotation channels, real vs ECGNet input.

1. Trains the multi-label CVD CNN on the real 12-lead training folds (1-8, val 9), once on the
   12 leads alone and once with the R-peak and P-Q mask channels (n_chans 14).
2. Trains ECGNet (unless ``--no-parity``) and generates fold 10 from one input lead.
3. Reports macro-AUROC and macro-F1 (torchmetrics) on fold 10 for each classifier on real input
   and on ECGNet-generated input (diagnostic parity), plus the copy-input and least-squares
   baselines as generated inputs.

    python recipes/ptbxl/cvd_cnn.py                              # built-in simulator, CPU, minutes
    python recipes/ptbxl/cvd_cnn.py --data ptbxl --path ~/data/ptb-xl/1.0.3 --accelerator gpu
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ecgnet import build_datamodule, generate, split_arrays, train_ecgnet  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=["synthetic", "ptbxl", "cinc"], default="synthetic")
    p.add_argument("--path", default=None)
    p.add_argument("--n-records", type=int, default=300)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--sfreq", type=float, default=100.0)
    p.add_argument("--epochs", type=int, default=15, help="CVD CNN epochs")
    p.add_argument("--gan-epochs", type=int, default=8)
    p.add_argument("--hidden", type=int, default=64, help="ECGNet BiLSTM units")
    p.add_argument("--input-lead", default="I")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--detector", choices=["xqrs", "energy"], default="xqrs")
    p.add_argument("--no-parity", action="store_true", help="skip ECGNet / generated input")
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--out", default="biosig_out/ptbxl_cvd_cnn_eval")
    return p


def with_masks(X, sfreq, detector):
    from biosig.ecg_analysis import annotation_masks

    return np.concatenate([X, annotation_masks(X, sfreq, method=detector)], axis=1).astype(np.float32)


def fit_classifier(Xtr, ytr, Xva, yva, args, sfreq):
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from biosig.tasks.classification import ClassificationTask

    pl.seed_everything(args.seed)
    task = ClassificationTask(model="cvd_cnn", n_chans=Xtr.shape[1], n_times=Xtr.shape[2], sfreq=sfreq,
                              n_outputs=ytr.shape[1], multilabel=True, lr=1e-3)
    tr = DataLoader(TensorDataset(torch.from_numpy(Xtr), torch.from_numpy(ytr)), batch_size=args.batch_size,
                    shuffle=True)
    va = DataLoader(TensorDataset(torch.from_numpy(Xva), torch.from_numpy(yva)), batch_size=args.batch_size)
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, tr, va)
    return task.cpu().eval()


def scores(task, X, y) -> dict:
    import torch
    import torchmetrics.functional.classification as tmf

    with torch.no_grad():
        prob = torch.sigmoid(torch.cat([task(torch.from_numpy(X[i : i + 256]))
                                        for i in range(0, len(X), 256)]))
    t = torch.from_numpy(y).long()
    K = y.shape[1]
    return {"macro_auroc": float(tmf.multilabel_auroc(prob, t, K, average="macro")),
            "macro_f1": float(tmf.multilabel_f1_score(prob, t, K, average="macro"))}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import pandas as pd
    import torch

    from biosig.ecg_analysis import LeastSquaresLeadMap, copy_input

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gan_args = argparse.Namespace(**{**vars(args), "epochs": args.gan_epochs, "train_lead": "random",
                                     "adversarial_loss": "bce", "l1_weight": 100.0, "lr_g": 1e-3,
                                     "lr_d": 2e-4, "plain_head": False})
    dm = build_datamodule(gan_args, batch_size=16)
    dm.setup()
    Xtr, ytr = split_arrays(dm, "train")
    Xva, yva = split_arrays(dm, "val")
    Xte, yte = split_arrays(dm, "test")
    sf = dm.sfreq
    inputs = {"real": Xte}
    if not args.no_parity:
        net = train_ecgnet(dm, gan_args)
        inputs["ECGNet"] = generate(net, Xte, args.input_lead)
        inputs["least_squares"] = LeastSquaresLeadMap().fit(Xtr).predict(Xte, args.input_lead)
        inputs["copy_input"] = copy_input(Xte, args.input_lead).astype(np.float32)
    rows = []
    for masks in (False, True):
        t0 = time.perf_counter()
        tr, va = (with_masks(Xtr, sf, args.detector), with_masks(Xva, sf, args.detector)) if masks else (Xtr, Xva)
        clf = fit_classifier(tr, ytr, va, yva, args, sf)
        for name, X in inputs.items():
            Xin = with_masks(X.astype(np.float32), sf, args.detector) if masks else X.astype(np.float32)
            rows.append({"annotations": "R+PQ masks" if masks else "none", "test_input": name,
                         **scores(clf, Xin, yte)})
        print(f"classifier ({'with' if masks else 'without'} masks) done in {time.perf_counter() - t0:.1f} s")
    df = pd.DataFrame(rows).set_index(["annotations", "test_input"])
    print(f"\nFold-10 multi-label scores ({args.data}, {len(Xte)} records, classes {dm.classes}):")
    print(df.round(4).to_string())
    df.to_csv(out / "cvd_scores.csv")
    print(f"\nwrote {out}/cvd_scores.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
