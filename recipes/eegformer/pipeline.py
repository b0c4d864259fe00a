#!/usr/bin/env python
"""EEGFormer in one command: VQ pretraining -> linear probe / fine-tune / scratch -> one table.

1. ``biosig fit`` on ``recipes/<recipe>/eegformer_pretrain.yaml`` (VQ pretraining, labels
   unused; last checkpoints saved, so ``--resume`` continues a killed pretraining exactly);
2. the trained network is saved as a weights folder (``<out>/weights``: safetensors + card with
   the data contract);
3. ``biosig run`` on ``recipes/<recipe>/eegformer_downstream.yaml``: the three settings of
   :class:`biosig.tasks.VQClassificationTask` (probe, finetune, scratch; scratch gets the
   pretraining's architecture) x seeds, tested on the recipe's test part; the table shows the
   recipe's metrics: macro AUROC, macro AUPRC and balanced accuracy, and for TUAB also the AUPRC
   of the abnormal class (``auprc_pos``) (``<out>/results/results.csv|json``).

    python recipes/eegformer/pipeline.py --recipe synthetic --tiny      # CI-sized, ~2 CPU min
    python recipes/eegformer/pipeline.py --recipe synthetic             # built-in data
    python recipes/eegformer/pipeline.py --recipe eegmat --path ../shared/data/eeg_edf/eegmat
    python recipes/eegformer/pipeline.py --recipe tuab --path /data/tuab/v3.0.1 \\
        --trainer-config recipes/configs/trainer/gpu.yaml
    python recipes/eegformer/pipeline.py --recipe tuev --path /data/tuev/v2.0.1 \\
        --pretrained biosig_out/tuev_eegformer/weights                 # skip pretraining

Any further ``--section.key value`` pairs after ``--`` go to both configs (e.g. ``--
--data.num_workers 4``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biosig._argparse import HelpFormatter, add_threads_argument

REPO = Path(__file__).resolve().parents[2]
RECIPES = ("synthetic", "eegmat", "tuab", "tuev")
#: --tiny: a small EEGFormer and a few windows of the built-in data (CI)
TINY_MODEL = {"ema": True, "data_init": True, "dead_after": 20, "emb_size": 32, "n_heads": 4,
              "encoder_depth": 1, "decoder_depth": 1, "n_codes": 32}
#: --tiny: a few windows of the recipe's data (the open ones: built-in, EEGMAT)
TINY_DATA = {
    "synthetic": ["--data.source.init_args.n_subjects", "1",
                  "--data.source.init_args.n_trials_per_class", "10", "--data.batch_size", "8"],
    "eegmat": ["--data.source.init_args.subjects", "[0, 1, 2, 3]",
               "--data.source.init_args.window", "2.0", "--data.batch_size", "8"],
}
#: --tiny: pretraining epochs, downstream epochs, downstream seeds (their --help states them)
TINY_PRETRAIN_EPOCHS, TINY_EPOCHS, TINY_SEEDS = 2, 2, [0]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--recipe", choices=RECIPES, default="synthetic",
                   help="recipes/<recipe>/eegformer_{pretrain,downstream}.yaml: the built-in "
                        "data, EEGMAT (real, open), TUAB or TUEV")
    p.add_argument("--path", default=None,
                   help="dataset folder (TUAB / TUEV: your own copy; EEGMAT: default under "
                        "BIOSIG_DATA)")
    p.add_argument("--out", default=None,
                   help="output folder (default: biosig_out/<recipe>_eegformer)")
    p.add_argument("--pretrained", default=None,
                   help="an existing weights folder: skip the pretraining")
    p.add_argument("--tiny", action="store_true",
                   help="CI size (synthetic and EEGMAT recipes: EEGMAT subjects 0-3, 2-s windows)")
    p.add_argument("--pretrain-epochs", type=int, default=None,
                   help="VQ pretraining epochs (default: the recipe's: 10 synthetic and EEGMAT, 20 "
                        "TUAB/TUEV; --tiny 2)")
    p.add_argument("--epochs", type=int, default=None,
                   help="downstream epochs (default: the recipe's, 10; --tiny 2)")
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="downstream seeds (default: the recipe's: 0 1 synthetic and EEGMAT, 0 1 2 "
                        "TUAB/TUEV; --tiny 0)")
    p.add_argument("--settings", nargs="+", default=None,
                   choices=["probe", "finetune", "scratch"],
                   help="downstream settings: linear probe, fine-tune, from scratch (default: all "
                        "three)")
    p.add_argument("--trainer-config", default=None,
                   help="a trainer preset YAML for both stages, e.g. "
                        "recipes/configs/trainer/gpu.yaml (default: the recipes' own)")
    p.add_argument("--resume", action="store_true",
                   help="continue the latest pretraining run from its last checkpoint")
    add_threads_argument(p)
    return p


def pretrain(config: Path, overrides: list[str], root: Path, weights: Path, resume: bool):
    """Step 1-2: ``biosig fit`` on the pretraining recipe, then the weights folder."""
    from biosig.cli import lightning_cli

    args = ["fit", "--config", str(config), *overrides, "--trainer.default_root_dir", str(root)]
    if resume:
        args += ["--ckpt_path", "last"]
    cli = lightning_cli(args)
    folder = cli.model.save_pretrained(weights, recipe={"config": config.relative_to(REPO)
                                                        .as_posix(), "overrides": overrides})
    print(f"pretrained weights written to {folder}", flush=True)
    return cli


def downstream(config: Path, overrides: list[str], weights: Path, model_kwargs: dict,
               model: str, out: Path, args):
    """Step 3: the three settings x seeds through the experiment runner; the table."""
    from biosig.experiments.config import (
        datamodule_from_config,
        experiment_from_config,
        load_config,
    )
    from biosig.experiments.runner import run_experiment

    cfg = load_config(["--config", str(config), *overrides,
                       "--model.init_args.pretrained", str(weights)])
    entries = cfg["experiment"]["models"]
    for entry in entries:
        if entry.get("init_args", {}).get("setting") == "scratch":
            # from scratch = the pretrained architecture, randomly initialised
            entry["init_args"].update(model=model, model_kwargs=dict(model_kwargs))
    if args.settings:
        cfg["experiment"]["models"] = [e for e in entries
                                       if e.get("init_args", {}).get("setting") in args.settings]
    if args.seeds:
        cfg["experiment"]["seeds"] = list(args.seeds)
    kwargs = experiment_from_config(cfg)
    kwargs.pop("out")
    kwargs["title"] = kwargs["title"] or f"EEGFormer {args.recipe}: probe / fine-tune / scratch"
    result = run_experiment(datamodule_from_config(cfg["data"]), **kwargs)
    result.print()
    folder = result.save(out)
    print(f"\nresults written to {folder}/results.csv and results.json", flush=True)
    return result


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    from biosig.errors import ConfigError

    if args.tiny and args.recipe not in TINY_DATA:
        raise ConfigError(f"--tiny runs open data: use it with --recipe {' or '.join(TINY_DATA)}")
    if args.recipe in ("tuab", "tuev") and args.path is None and args.pretrained is None:
        raise ConfigError(f"--recipe {args.recipe}: give --path (your own licensed TUH copy)")
    from biosig._threads import set_threads

    set_threads(args.threads)  # --threads, BIOSIG_THREADS, else the cores not already busy
    pre_cfg = REPO / "recipes" / args.recipe / "eegformer_pretrain.yaml"
    down_cfg = REPO / "recipes" / args.recipe / "eegformer_downstream.yaml"
    out = Path(args.out or f"biosig_out/{args.recipe}_eegformer")
    common = list(extra)
    if args.path:
        common += ["--data.source.init_args.path", args.path]
    if args.trainer_config:
        common = ["--config", args.trainer_config, *common]
    pre_over, down_over = list(common), list(common)
    if args.tiny:
        pre_over += [*TINY_DATA[args.recipe], "--model.init_args.model_kwargs", str(TINY_MODEL),
                     "--model.init_args.warmup_steps", "2",
                     "--trainer.max_epochs", str(TINY_PRETRAIN_EPOCHS),
                     "--trainer.enable_progress_bar", "false"]
        down_over += [*TINY_DATA[args.recipe], "--trainer.max_epochs", str(TINY_EPOCHS)]
        args.seeds = args.seeds or list(TINY_SEEDS)
    if args.pretrain_epochs:
        pre_over += ["--trainer.max_epochs", str(args.pretrain_epochs)]
    if args.epochs:
        down_over += ["--trainer.max_epochs", str(args.epochs)]
    weights = Path(args.pretrained) if args.pretrained else out / "weights"
    if args.pretrained is None:
        pretrain(pre_cfg, pre_over, out / "pretrain", weights, args.resume)
    # from scratch = the weights' own architecture (given weights may not be the recipe's)
    from biosig.models.weights import card_architecture

    model, model_kwargs = card_architecture(weights)
    return downstream(down_cfg, down_over, weights, model_kwargs, model, out / "results", args)


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
