"""``biosig demo``: train and evaluate a small EEG classifier on the built-in motor-imagery data.

Protocol: the built-in simulator's BCI IV 2a layout (22 EEG channels, 250 Hz), left vs right hand
imagery, every subject's session T for training (10 % held out for validation) and session E for
testing. Prints accuracy, balanced accuracy and Cohen's kappa (overall and per subject;
torchmetrics) and writes training curves, the confusion matrix and example windows to ``--out``.
Training and testing go through the experiment runner (:func:`biosig.experiments.run_experiment`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

#: Registered EEG classifiers the demo does not train (it trains from scratch, on a CPU, in
#: minutes), and why. EEGDM: one training step on 2 demo windows took 23 s (1 thread).
#: EEGFormer: 14 s (eegformer, eegformer_s), 21 s (_b) and 36 s (_l) per demo epoch on 2 loaded
#: cores, so 7-18 min for the 30 epochs, and it is meant to be pretrained first.
NOT_IN_THE_DEMO = {
    "eegdm": "its frozen SSMDP backbone needs pretraining and costs ~10 s per window per CPU "
             "training step (recipes/synthetic/eegdm_pretrain.yaml, then eegdm_finetune.yaml)",
    **dict.fromkeys(
        ("eegformer", "eegformer_s", "eegformer_b", "eegformer_l"),
        "a foundation model, pretrained and then transferred (python "
        "recipes/eegformer/pipeline.py --recipe synthetic); from scratch the demo's 30 epochs "
        "take 7-18 min on a CPU"),
}


def build_parser() -> argparse.ArgumentParser:
    from biosig._argparse import ArgumentParser, HelpFormatter, plain_text

    p = ArgumentParser(prog="biosig demo", description=plain_text(__doc__),
                       formatter_class=HelpFormatter)
    p.add_argument("--out", default="biosig_out/demo", help="output folder")
    p.add_argument("--model", default="eegnet",
                   help="registered EEG classifier (names: biosig models), except "
                        f"{', '.join(NOT_IN_THE_DEMO)} (not CPU-sized)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs")
    p.add_argument("--subjects", type=int, default=4,
                   help="simulated subjects, each with sessions T and E")
    p.add_argument("--trials", type=int, default=40, help="trials per class and session")
    p.add_argument("--classes", nargs="+", default=["left_hand", "right_hand"],
                   help="MI classes, two or more of left_hand right_hand feet tongue")
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the simulated data and of training")
    return p


def _scores(probs, y, n_outputs: int) -> dict:
    """Accuracy, balanced accuracy and Cohen's kappa with the task's torchmetrics collection."""
    from biosig.tasks.classification import classification_metrics

    m = classification_metrics(n_outputs, multilabel=False)
    m.update(probs, y)
    s = {k: float(v) for k, v in m.compute().items()}
    return {"accuracy": s["acc"], "balanced_accuracy": s["bal_acc"], "kappa": s["kappa"]}


def check_args(args) -> None:
    """ConfigError naming the first bad option: a model that is not a registered classifier
    of EEG windows or is one of :data:`NOT_IN_THE_DEMO`, a count below 1, a learning rate that is
    not positive, fewer than two classes."""
    from biosig.errors import ConfigError
    from biosig.models import list_models
    from biosig.models._registry import model_class

    usable = [m for m in list_models(classifier=True)
              if model_class(m).modality == "EEG" and m not in NOT_IN_THE_DEMO]
    classifiers = ", ".join(usable)
    if args.model not in list_models():
        raise ConfigError(f"--model {args.model!r}: not a registered model; choose one of "
                          f"{classifiers} (biosig models)")
    if args.model in NOT_IN_THE_DEMO:
        raise ConfigError(f"--model {args.model!r}: not in the demo (CPU-sized models trained "
                          f"from scratch): {NOT_IN_THE_DEMO[args.model]}; choose one of "
                          f"{classifiers}")
    if args.model not in usable:
        raise ConfigError(f"--model {args.model!r}: not a classifier of EEG windows (the demo "
                          f"trains EEG windows -> classes); choose one of {classifiers}")
    for option in ("epochs", "subjects", "trials", "batch_size"):
        if getattr(args, option) < 1:
            raise ConfigError(f"--{option.replace('_', '-')} must be >= 1, got "
                              f"{getattr(args, option)}")
    if not args.lr > 0:
        raise ConfigError(f"--lr must be > 0, got {args.lr}")
    if len(set(args.classes)) < 2:
        raise ConfigError(f"--classes needs at least two different classes to classify, got "
                          f"{list(args.classes)}")


def run(args) -> dict:
    """Train, test, print and plot; the output folder is removed again if the run fails before
    writing anything into it."""
    from biosig.experiments.runner import output_folder

    check_args(args)
    with output_folder(args.out) as out:
        return _run(args, out)


def _run(args, out: Path) -> dict:
    import warnings

    import numpy as np
    import torch
    import torchmetrics.functional.classification as tmf
    from lightning.pytorch.loggers import CSVLogger

    from biosig.callbacks import EpochProgress
    from biosig.data import Bandpass, PickChannels, Predefined
    from biosig.data.datamodule import BiosigDataModule
    from biosig.datasets import SyntheticMI
    from biosig.experiments import ModelSpec, run_experiment
    from biosig.viz.training import (
        plot_confusion_matrix, plot_example_windows, plot_training_curves,
    )

    from biosig.experiments.runner import progress_logging

    warnings.filterwarnings("ignore", category=FutureWarning)
    progress_logging()  # window-cache builds and downloads report in logs, not only on a tty
    t0 = time.perf_counter()
    dm = BiosigDataModule(
        SyntheticMI(n_subjects=args.subjects, n_trials_per_class=args.trials,
                    classes=list(args.classes), seed=args.seed),
        preprocessing=[PickChannels(types=["eeg"]), Bandpass(4.0, 38.0)],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}, val_fraction=0.1,
                            seed=args.seed),
        batch_size=args.batch_size, seed=args.seed,
    )
    print(f"data: {len(dm.cache)} windows of {dm.n_chans} ch x {dm.n_times} samples "
          f"@ {dm.sfreq:g} Hz, classes {dm.classes}; cache {dm.cache.path}", flush=True)
    logger = CSVLogger(out, name="logs", version="")
    print(f"training {args.model} for {args.epochs} epochs (one line per epoch); logs in "
          f"{Path(logger.log_dir).resolve()}", flush=True)
    kept = {}

    def on_run(run):  # predictions of the trained task on the test windows, for the tables
        loader = run.datamodule.test_dataloader()
        probs = torch.cat(run.trainer.predict(run.task, dataloaders=loader))
        kept.update(probs=probs, test_rows=run.datamodule.splits["test"])
        return {}

    spec = ModelSpec(args.model, "biosig.tasks.ClassificationTask",
                     {"model": args.model, "lr": args.lr}, trainer={"max_epochs": args.epochs})
    result = run_experiment(dm, spec, seeds=[args.seed], on_run=on_run, verbose=False,
                            trainer={"logger": logger, "accelerator": "cpu",
                                     "log_every_n_steps": 1, "deterministic": True,
                                     "callbacks": [EpochProgress()]})
    probs, test_idx = kept["probs"], kept["test_rows"]
    y = torch.from_numpy(np.asarray(dm.cache.y[test_idx]))
    subjects = dm.meta["subject"].to_numpy()[test_idx]
    table = {f"subject {s}": _scores(probs[torch.from_numpy(subjects == s)],
                                     y[torch.from_numpy(subjects == s)], dm.n_outputs)
             for s in np.unique(subjects)}
    run_scores = result.runs.iloc[0]
    table["all"] = {"accuracy": float(run_scores["acc"]),
                    "balanced_accuracy": float(run_scores["bal_acc"]),
                    "kappa": float(run_scores["kappa"])}
    cm = tmf.multiclass_confusion_matrix(probs, y, dm.n_outputs).numpy()

    print(f"\n{args.model} on built-in MI data, session T -> E ({len(y)} test trials, "
          f"chance {1 / dm.n_outputs:.0%})")
    print(f"{'':>12} {'accuracy':>9} {'bal. acc.':>9} {'kappa':>7}")
    for name, s in table.items():
        print(f"{name:>12} {s['accuracy']:9.3f} {s['balanced_accuracy']:9.3f} {s['kappa']:7.3f}")

    plots = {
        "training_curves": plot_training_curves(Path(logger.log_dir) / "metrics.csv",
                                                out / "training_curves.png"),
        "confusion_matrix": plot_confusion_matrix(cm, dm.classes, out / "confusion_matrix.png"),
        "example_windows": plot_example_windows(dm.cache.X[test_idx], y.numpy(), dm.ch_names,
                                                dm.classes, dm.sfreq, out / "example_windows.png"),
    }
    result.save(out)  # results.json: plain values (plain_value), no object reprs
    summary = {"model": args.model, "epochs": args.epochs, "metrics": table,
               "confusion_matrix": cm.tolist(), "classes": dm.classes,
               "plots": {k: str(v) for k, v in plots.items()},
               "seconds": round(time.perf_counter() - t0, 1)}
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    print(f"\nplots, metrics.json and results.csv/json written to {out.resolve()} "
          f"({summary['seconds']} s)")
    return summary


def main(argv: list[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0
