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
from pathlib import Path

import numpy as np

ECGNET_RECIPE = Path(__file__).resolve().parent / "ecgnet.yaml"


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


def datamodule(args, steps=(), batch_size=None):
    from biosig.data.presets import ecg_datamodule

    return ecg_datamodule(args.data, args.path, args.sfreq, steps, seed=args.seed,
                          n_records=args.n_records, duration=args.duration,
                          batch_size=batch_size or args.batch_size, cache_dir=args.cache_dir)


def test_part(dm):
    idx = np.sort(dm.splits["test"])
    return np.asarray(dm.cache.X[idx]), np.asarray(dm.cache.y[idx])


def train_ecgnet(args):
    """ECGNet with the settings of recipes/ptbxl/ecgnet.yaml, through the runner; returns the
    generator network and the DataModule's first fold."""
    from biosig.experiments import run_experiment
    from biosig.experiments.config import experiment_from_config, load_config

    spec = experiment_from_config(load_config(["--config", str(ECGNET_RECIPE)]))["models"][0]
    generator_kwargs = {**spec.init_args["generator_kwargs"], "hidden_size": args.hidden}
    spec.init_args.update(generator_kwargs=generator_kwargs)
    spec.trainer["max_epochs"] = args.gan_epochs
    kept = {}
    dm = datamodule(args, batch_size=16)
    run_experiment(dm, spec, seeds=[args.seed], trainer={"accelerator": args.accelerator},
                   metrics=["l1"], title="ECGNet for generated inputs",
                   on_run=lambda run: kept.update(net=run.task.generator.cpu().eval(),
                                                  dm=run.datamodule))
    return kept["net"], kept["dm"]


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import pandas as pd
    import torch

    from biosig.analysis.ecg import LeastSquaresLeadMap, copy_input
    from biosig.signal.ecg_delineation import ECGAnnotationChannels, annotation_masks
    from biosig.experiments import ModelSpec, run_experiment
    from biosig.tasks.classification import classification_metrics

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    real = datamodule(args)
    real.setup()
    Xte, yte = test_part(real)
    inputs = {"real": Xte}
    if not args.no_parity:
        net, gan_dm = train_ecgnet(args)
        Xtr = np.asarray(gan_dm.cache.X[np.sort(gan_dm.splits["train"])])
        with torch.no_grad():
            inputs["ECGNet"] = np.concatenate([
                net.generate(torch.from_numpy(Xte[i:i + 64]).float(), lead=args.input_lead).numpy()
                for i in range(0, len(Xte), 64)])
        inputs["least_squares"] = LeastSquaresLeadMap().fit(Xtr).predict(Xte, args.input_lead)
        inputs["copy_input"] = copy_input(Xte, args.input_lead)

    def parity(run):
        """Scores (the task's torchmetrics collection) of the classifier on each test input."""
        masks = run.spec.name.endswith("masks")
        row = {}
        for name, X in inputs.items():
            X = X.astype(np.float32)
            if masks:
                X = np.concatenate([X, annotation_masks(X, real.sfreq, method=args.detector)], 1)
            metrics = classification_metrics(yte.shape[1], multilabel=True)
            task = run.task.cpu().eval()
            with torch.no_grad():
                for i in range(0, len(X), 256):
                    prob = torch.sigmoid(task(torch.from_numpy(X[i:i + 256].astype(np.float32))))
                    metrics.update(prob, torch.from_numpy(yte[i:i + 256]).long())
            values = metrics.compute()
            row.update({f"{name}_macro_auroc": float(values["auroc"]),
                        f"{name}_macro_f1": float(values["f1_macro"])})
        return row

    def spec(name):
        return ModelSpec(name, "biosig.tasks.ClassificationTask",
                         {"model": "cvd_cnn", "multilabel": True, "lr": 1e-3},
                         trainer={"max_epochs": args.epochs})

    trainer = {"accelerator": args.accelerator}
    plain = run_experiment(real, spec("CVD CNN"), seeds=[args.seed], trainer=trainer,
                           metrics=["auroc", "f1_macro"], on_run=parity, title="12 leads")
    masked = run_experiment(
        datamodule(args, [ECGAnnotationChannels(reference_lead="II", method=args.detector)]),
        spec("CVD CNN + masks"), seeds=[args.seed], trainer=trainer,
        metrics=["auroc", "f1_macro"], on_run=parity, title="12 leads + R/PQ masks")
    runs = pd.concat([plain.runs, masked.runs], ignore_index=True)
    rows = [{"annotations": "R+PQ masks" if r["model"].endswith("masks") else "none",
             "test_input": name, "macro_auroc": r[f"{name}_macro_auroc"],
             "macro_f1": r[f"{name}_macro_f1"]}
            for _, r in runs.iterrows() for name in inputs]
    df = pd.DataFrame(rows).set_index(["annotations", "test_input"])
    print(f"\nFold-10 multi-label scores ({args.data}, {len(Xte)} records, classes "
          f"{real.classes}):")
    print(df.round(4).to_string())
    df.to_csv(out / "cvd_scores.csv")
    runs.to_csv(out / "results.csv", index=False)
    print(f"\nwrote {out}/cvd_scores.csv and results.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
