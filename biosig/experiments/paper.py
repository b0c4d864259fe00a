"""Command-line plumbing shared by the DBConformer comparison recipes (recipes/*/dbconformer.py).

The recipes compare DBConformer (Wang et al., IEEE JBHI 2026) with braindecode's EEGConformer
and EEGNet under the paper's protocols and training recipe: Euclidean alignment fitted only on
what the protocol allows (the DataModule's, :func:`biosig.data.alignment.split_whiteners`),
Adam without schedule, cross-entropy, batch 32, a fixed number of epochs, no validation split,
and the test score after the last epoch. Every model runs through
:func:`biosig.experiments.run_experiment` on the same DataModule, so all see identical data,
folds and alignment. Aggregation as the paper: per subject (folds averaged) -> mean over
subjects per seed -> mean ± std over the seed means.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable


from biosig._argparse import add_threads_argument
from biosig._threads import set_threads
from biosig.experiments.runner import ExperimentResult, ModelSpec, run_experiment

__all__ = ["PAPER_SETTINGS", "add_protocol_arguments", "resolve_settings", "model_specs",
           "datamodule_kwargs", "run_protocols"]

#: The official scripts' optimisation settings per protocol (lr, epochs, depth).
#: "competition" (T -> E) and "holdout" are not in the paper; they use the CV/LOSO settings.
PAPER_SETTINGS = {
    "co": {"lr": 1e-4, "epochs": 200, "depth": 2},
    "cv": {"lr": 1e-3, "epochs": 100, "depth": 2},
    "loso": {"lr": 1e-3, "epochs": 100, "depth": 2},  # 6 for datasets other than 2a/2b
    "competition": {"lr": 1e-3, "epochs": 100, "depth": 2},
    "holdout": {"lr": 1e-3, "epochs": 100, "depth": 2},
}
DISPLAY_NAMES = {"dbconformer": "DBConformer", "eegconformer": "EEGConformer", "eegnet": "EEGNet"}


def add_protocol_arguments(parser: argparse.ArgumentParser,
                           default_models=("dbconformer", "eegconformer", "eegnet"),
                           default_protocol: str = "co", default_depth: str = "2") -> None:
    """Arguments every protocol recipe shares (protocol, seeds, models, optimisation, EA);
    ``default_protocol`` and ``default_depth`` say in ``--help`` what the recipe uses without
    ``--protocol`` / ``--depth``."""
    parser.add_argument("--protocol", nargs="+", default=None,
                        choices=["co", "cv", "loso", "competition", "holdout"],
                        help="paper protocols to run: co (chronological 80/20 per class), cv "
                             "(5-fold, no shuffle), loso (leave one subject out), competition "
                             "(session T -> E), holdout (official train -> eval split) "
                             f"(default: {default_protocol})")
    parser.add_argument("--subjects", nargs="+", default=None,
                        help="only the folds whose test subject is one of these (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="training seeds (default: the preset's: paper 1 2 3 4 5, quick 1)")
    parser.add_argument("--models", nargs="+", default=list(default_models),
                        help="classifiers by registry name ('biosig models' lists them)")
    parser.add_argument("--preset", choices=["paper", "quick"], default=None,
                        help="paper: the official lr/epochs per protocol and seeds 1-5; quick: "
                             "lr 1e-3, 20 epochs, seed 1 (default: quick for --data synthetic, "
                             "else paper)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the preset's: paper CO 200, CV/LOSO/others "
                             "100; quick 20)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam learning rate (default: the preset's: paper CO 1e-4, "
                             "CV/LOSO/others 1e-3; quick 1e-3)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size")
    parser.add_argument("--depth", type=int, default=None,
                        help=f"DBConformer depth (default: {default_depth})")
    parser.add_argument("--test-alignment", default="online",
                        choices=["online", "offline", "official", "none"],
                        help="EA of the test windows: online (running reference, no "
                             "look-ahead), offline (one reference from all of a subject's test "
                             "windows), official (DBConformer's double alignment), none")
    parser.add_argument("--no-align", action="store_true", help="skip Euclidean alignment")
    parser.add_argument("--ea-shrinkage", type=float, default=0.0,
                        help="shrink EA references towards a scaled identity (rank-deficient "
                             "montages)")
    parser.add_argument("--metrics", nargs="+", default=["acc"],
                        choices=["acc", "bal_acc", "kappa", "f1_weighted", "auroc"],
                        help="test metrics in the tables")
    parser.add_argument("--cache-dir", default=None,
                        help="window cache root (default: BIOSIG_CACHE)")
    parser.add_argument("--accelerator", default="cpu",
                        help="Lightning accelerator: cpu, gpu, auto")
    add_threads_argument(parser)
    parser.add_argument("--out", default=None,
                        help="folder for <protocol>/results.csv and results.json (default: none "
                             "written)")


def resolve_settings(args, protocol: str, synthetic: bool, depth: int | None = None) -> dict:
    """Optimisation settings of one protocol: preset, then command-line overrides."""
    preset = args.preset or ("quick" if synthetic else "paper")
    s = dict(PAPER_SETTINGS[protocol])
    if depth is not None:
        s["depth"] = depth
    if preset == "quick":
        s.update(lr=1e-3, epochs=20)
    for key in ("epochs", "lr", "depth"):
        if getattr(args, key, None) is not None:
            s[key] = getattr(args, key)
    s["preset"] = preset
    s["seeds"] = list(args.seeds or ([1] if preset == "quick" else [1, 2, 3, 4, 5]))
    return s


def model_specs(names, settings: dict) -> list[ModelSpec]:
    """One :class:`ModelSpec` (ClassificationTask, Adam) per registry name; ``depth`` goes to
    DBConformer only."""
    return [
        ModelSpec(DISPLAY_NAMES.get(n, n), "biosig.tasks.ClassificationTask",
                  {"model": n, "model_kwargs": {"depth": settings["depth"]} if n == "dbconformer"
                   else {}, "lr": settings["lr"], "optimizer": "adam"},
                  trainer={"max_epochs": settings["epochs"]})
        for n in names
    ]


def datamodule_kwargs(args) -> dict:
    """BiosigDataModule arguments of the recipe options (alignment, batch, cache); turns on the
    cache-build progress lines (:func:`~biosig.experiments.runner.progress_logging`)."""
    from biosig.experiments.runner import progress_logging

    progress_logging()
    return {"alignment": None if args.no_align else "ea", "test_alignment": args.test_alignment,
            "shrinkage": args.ea_shrinkage, "batch_size": args.batch_size,
            "cache_dir": args.cache_dir}


def run_protocols(args, make_data: Callable[[str], object], title: str, protocols,
                  settings_for: Callable[[str], dict]) -> dict[str, ExperimentResult]:
    """Run each protocol through the runner, print its tables, save them under ``args.out``.

    ``make_data(protocol)`` gives the BiosigDataModule (with the protocol's folds) and
    ``settings_for(protocol)`` the settings dict of :func:`resolve_settings`.
    """
    set_threads(getattr(args, "threads", None))  # --threads, BIOSIG_THREADS or free cores
    results = {}
    for protocol in protocols:
        s = settings_for(protocol)
        dm = make_data(protocol)
        ea = "off" if args.no_align else f"train offline / test {args.test_alignment}"
        print(f"\n== {protocol.upper()} | {dm.n_outputs} classes | preset {s['preset']}: "
              f"lr {s['lr']:g}, {s['epochs']} epochs, batch {args.batch_size}, depth {s['depth']}, "
              f"seeds {s['seeds']}, EA {ea}", flush=True)
        result = run_experiment(dm, model_specs(args.models, s), seeds=s["seeds"],
                                trainer={"accelerator": args.accelerator},
                                subjects=args.subjects, metrics=args.metrics,
                                title=f"{title} {protocol.upper()}")
        result.settings.update(protocol_name=protocol, **{k: s[k] for k in ("lr", "epochs",
                                                                             "depth", "preset")})
        result.print()
        if args.out:
            folder = result.save(Path(args.out) / protocol)
            print(f"results written to {folder}/results.csv and results.json")
        results[protocol] = result
    return results
