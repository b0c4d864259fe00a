#!/usr/bin/env python
"""DBConformer on TUEV-style 6-class EEG event classification, with baselines.

Classes (TUEV): spsw (spike and slow wave), gped (generalized periodic epileptiform discharges),
pled (periodic lateralized epileptiform discharges), eyem (eye movement), artf (artifact),
bckg (background). Windows of 5 s at 200 Hz (1000 samples) in the 22-channel TCP bipolar
montage; DBConformer's patch = 100 samples (0.5 s) -> 10 tokens. Protocol: the official
train -> eval split by subject ("holdout"; DBConformer uses no validation split, so train + val
train), EA per training subject, online EA on each evaluation subject. Metrics: balanced
accuracy, Cohen's kappa, weighted F1 (the TUEV literature's), and accuracy.

    python recipes/tuev/dbconformer.py                         # TUEV-like simulator, CPU, minutes
    python recipes/tuev/dbconformer.py --data tuev --path ~/data/tuev/v2.0.1 --accelerator gpu

TUEV itself needs the TUH data-use agreement; biosig never downloads it. DBConformer's paper
has no TUEV setting (its seizure datasets CHSZ/NICU have no loader in the official code): the
optimisation defaults to the CV/LOSO settings (Adam 1e-3, 100 epochs, batch 32, depth 2).

The built-in TUEV-like simulator (``biosig.datasets.synthetic.SyntheticTUEV``) is a small
generator for CPU runs: 1/f background with posterior alpha, focal spike-and-slow-wave
complexes, generalized / lateralized periodic sharp waves, eye movements, muscle bursts and
electrode pops in the 22-channel TCP montage; its last 2 subjects form the eval part.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from biosig._argparse import HelpFormatter
from biosig.data.paper_splits import paper_protocol
from biosig.experiments.paper import (
    add_protocol_arguments,
    datamodule_kwargs,
    resolve_settings,
    run_protocols,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--data", choices=["synthetic", "tuev"], default="synthetic",
                   help="the built-in TUEV-like simulator or TUEV (your own licensed copy)")
    p.add_argument("--path", default=None,
                   help="TUEV folder (edf/train, edf/eval; default: under BIOSIG_DATA)")
    p.add_argument("--n-subjects", type=int, default=6, help="simulator subjects (last 2 = eval)")
    p.add_argument("--n-per-class", type=int, default=20,
                   help="simulator events per class and subject")
    add_protocol_arguments(p, default_protocol="holdout")
    # 22 TCP derivations of 21 electrodes have rank <= 20: EA needs a regularised reference.
    p.set_defaults(metrics=["bal_acc", "kappa", "f1_weighted", "acc"], ea_shrinkage=0.01)
    return p


def make_datamodule(args, protocol: str):
    from biosig.data.datamodule import BiosigDataModule

    if args.data == "synthetic":
        from biosig.datasets.synthetic import SyntheticTUEV

        source = SyntheticTUEV(n_subjects=args.n_subjects, n_per_class=args.n_per_class)
    else:
        from biosig.datasets.tuev import TUEV

        source = TUEV(path=args.path)
    return BiosigDataModule(source, protocol=paper_protocol(protocol), **datamodule_kwargs(args))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    synthetic = args.data == "synthetic"
    protocols = args.protocol or ["holdout"]
    t0 = time.perf_counter()

    def make_data(protocol):
        dm = make_datamodule(args, protocol)
        counts = np.bincount(dm.cache.y, minlength=dm.n_outputs)
        print(f"data: {args.data}, {len(dm.cache)} windows, {dm.n_chans} ch x {dm.n_times} "
              f"samples @ {dm.sfreq:g} Hz, per class {dict(zip(dm.classes, counts.tolist()))} "
              f"({time.perf_counter() - t0:.1f} s)")
        return dm

    run_protocols(args, make_data, f"TUEV ({args.data}) 6-class", protocols,
                  lambda p: resolve_settings(args, p, synthetic))
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
