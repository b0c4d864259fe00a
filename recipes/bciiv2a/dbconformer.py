#!/usr/bin/env python
"""DBConformer on BCI IV 2a: a whole paper protocol over subjects and seeds, with baselines.

Runs CO (chronological 80/20), CV (5-fold, no shuffle), LOSO and the competition split
(T -> E) in 2- or 4-class form, for DBConformer and braindecode's EEGConformer and EEGNet under
identical data, Euclidean alignment and optimisation, and prints the paper's table: accuracy
per subject (mean ± std over seeds) and the mean over subjects (mean ± std over seed means).

    python recipes/bciiv2a/dbconformer.py                      # built-in simulator, CPU, minutes
    python recipes/bciiv2a/dbconformer.py --data bciiv2a --path ~/data/bciiv2a \\
        --protocol co --accelerator gpu                         # real data, paper settings
    python recipes/bciiv2a/dbconformer.py --data bciiv2a --path ~/data/bciiv2a \\
        --participants 1 2 3 --protocol competition             # only the subjects 1-3 loaded

One protocol from a config, without this script: ``biosig run --config
recipes/bciiv2a/dbconformer_co.yaml`` (same runner, same table).

Paper settings (``--preset paper``, the default for real data): CO lr 1e-4 x 200 epochs; CV and
LOSO lr 1e-3 x 100 epochs; Adam, batch 32, depth 2, seeds 1-5; CO/CV/LOSO use session T only
(144 trials per subject for 2 classes), as the official scripts. ``--preset quick`` (default for
the simulator) uses lr 1e-3, 20 epochs, 1 seed. EA: offline on the training trials of every
training subject; the test trials online (running reference, no look-ahead) unless
``--test-alignment`` says otherwise (``official`` reproduces the official CO/CV double
alignment of the test set).
"""

from __future__ import annotations

import argparse
import time

from biosig._argparse import HelpFormatter
from biosig.data.paper_splits import paper_protocol
from biosig.experiments.paper import (
    add_protocol_arguments,
    datamodule_kwargs,
    resolve_settings,
    run_protocols,
)

CLASSES = {2: ["left_hand", "right_hand"], 4: ["left_hand", "right_hand", "feet", "tongue"]}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--data", choices=["synthetic", "bciiv2a"], default="synthetic",
                   help="the built-in motor-imagery simulator or BCI IV 2a")
    p.add_argument("--path", default=None,
                   help="BCI IV 2a folder (GDF or BNCI .mat files; default: under BIOSIG_DATA)")
    p.add_argument("--download", action="store_true",
                   help="fetch the BNCI .mat files into --path (or BIOSIG_DATA) when absent")
    p.add_argument("--participants", nargs="+", type=int, default=None,
                   help="BCI IV 2a subjects to load (1..9; default: all): a partial copy, or "
                        "fewer files to cache (--subjects picks the folds to run among them)")
    p.add_argument("--n-classes", type=int, choices=[2, 4], default=2,
                   help="2: left vs right hand; 4: also feet and tongue")
    p.add_argument("--bandpass", nargs=2, type=float, default=[8.0, 32.0], metavar=("LOW", "HIGH"),
                   help="band-pass edges in Hz (MOABB's MI default; the official X.npy "
                        "filtering is undocumented)")
    p.add_argument("--no-bandpass", action="store_true", help="no band-pass filter")
    p.add_argument("--n-subjects", type=int, default=3, help="simulator subjects")
    p.add_argument("--n-trials-per-class", type=int, default=40,
                   help="simulator trials per class and session")
    add_protocol_arguments(p, default_protocol="competition for --data synthetic, else co")
    return p


def make_datamodule(args, protocol: str):
    """4-s windows from the cue (1001 samples @ 250 Hz, as MOABB/DBConformer), 22 EEG channels;
    the official CO/CV/LOSO scripts use the first session (T) only."""
    from biosig.data.datamodule import BiosigDataModule
    from biosig.signal.preprocessing import Bandpass

    classes = CLASSES[args.n_classes]
    band = None if args.no_bandpass else tuple(args.bandpass)
    sessions = ["T", "E"] if protocol == "competition" else ["T"]
    if args.data == "synthetic":
        from biosig.signal.windows import EventWindows
        from biosig.datasets.synthetic import SyntheticMI

        source = SyntheticMI(n_subjects=args.n_subjects, n_trials_per_class=args.n_trials_per_class,
                             classes=classes, sessions=sessions, include_eog=False)
        steps = [Bandpass(*band)] if band else []
        windows = EventWindows(tmin=0.0, tmax=4.0, include_end=True,
                               mapping={c: i for i, c in enumerate(classes)})
    else:
        from biosig.datasets.bciiv2a import BCIIV2a

        source = BCIIV2a(path=args.path, subjects=args.participants, sessions=sessions,
                         classes=classes, include_end=True, bandpass=band, download=args.download)
        steps, windows = [], None
    return BiosigDataModule(source, steps, windows, protocol=paper_protocol(protocol),
                            **datamodule_kwargs(args))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    synthetic = args.data == "synthetic"
    if args.download and synthetic:
        raise SystemExit("--download fetches BCI IV 2a: use it with --data bciiv2a")
    if args.participants and synthetic:
        raise SystemExit("--participants picks BCI IV 2a subjects: use it with --data bciiv2a "
                         "(the simulator takes --n-subjects)")
    protocols = args.protocol or (["competition"] if synthetic else ["co"])
    t0 = time.perf_counter()

    def make_data(protocol):
        dm = make_datamodule(args, protocol)
        print(f"data: {args.data}, {len(dm.cache)} trials, {dm.n_chans} ch x {dm.n_times} samples "
              f"@ {dm.sfreq:g} Hz, classes {dm.classes} ({time.perf_counter() - t0:.1f} s)")
        return dm

    run_protocols(args, make_data, f"BCI IV 2a ({args.data}), {args.n_classes}-class", protocols,
                  lambda p: resolve_settings(args, p, synthetic))
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    from biosig.cli import run_script

    run_script(main)
