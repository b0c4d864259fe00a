#!/usr/bin/env python
"""DBConformer on TUEV-style 6-class EEG event classification, with baselines.

Classes (TUEV): spsw (spike and slow wave), gped (generalized periodic epileptiform discharges),
pled (periodic lateralized epileptiform discharges), eyem (eye movement), artf (artifact),
bckg (background). Windows of 5 s at 200 Hz (1000 samples) in the 22-channel TCP bipolar
montage; DBConformer's patch = 100 samples (0.5 s) -> 10 tokens. Protocol: the official
train -> eval split by subject ("holdout"; DBConformer uses no validation split, so train + val
train), EA per training subject, online EA on each evaluation subject. Metrics: balanced
accuracy, Cohen's kappa, weighted F1 (the TUEV literature's), and accuracy.

    python recipes/tuev/dbconformer.py                            # TUEV-like simulator, CPU, minutes
    python recipes/tuev/dbconformer.py --data tuev --path ~/data/tuev/v2.0.1 --accelerator gpu

TUEV itself needs the TUH data-use agreement; biosig never downloads it. DBConformer's paper
has no TUEV setting (its seizure datasets CHSZ/NICU have no loader in the official code): the
optimisation defaults to the CV/LOSO settings (Adam 1e-3, 100 epochs, batch 32, depth 2).

The simulator below is a small TUEV-like generator for CPU runs: a spatially smooth 1/f
background with posterior alpha on 19 referential 10-20 electrodes (+ A1/A2, µV), events
placed in the middle second of each window -- focal spike-and-slow-wave complexes,
generalized periodic sharp waves (1-2.5 Hz), lateralized periodic sharp waves (0.5-1.5 Hz,
one hemisphere), frontal eye-movement deflections (horizontal: opposite polarity at F7/F8), and
muscle bursts (20-70 Hz, temporal) or electrode pops -- then the TCP bipolar derivations.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from biosig.datasets.synthetic import pink_noise
from biosig.tasks.paper_protocol import (
    TrialSet,
    add_protocol_arguments,
    resolve_settings,
    run_protocols,
    trials_from_cache,
)

TUEV_CLASSES = ["spsw", "gped", "pled", "eyem", "artf", "bckg"]
_ELECTRODES = ["FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "A1", "T3", "C3", "CZ", "C4", "T4", "A2",
               "T5", "P3", "PZ", "P4", "T6", "O1", "O2"]


def _positions() -> np.ndarray:
    """Electrode positions (m) from MNE's standard 10-20 montage."""
    import warnings

    import mne

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # 'standard_1020' renamed in MNE 1.14
        pos = mne.channels.make_standard_montage("standard_1020").get_positions()["ch_pos"]
    lookup = {k.upper(): v for k, v in pos.items()}
    return np.stack([lookup[e] for e in _ELECTRODES])


def _spread(pos, centre, width_m):
    d2 = ((pos - centre) ** 2).sum(1)
    return np.exp(-d2 / (2 * width_m**2))


def _sharp(t, t0, width_s, amp):
    """A biphasic sharp transient (fast negative peak then slower positive after-wave)."""
    spike = -amp * np.exp(-0.5 * ((t - t0) / (width_s / 2)) ** 2)
    wave = 0.45 * amp * np.exp(-0.5 * ((t - t0 - 2.5 * width_s) / (2 * width_s)) ** 2)
    return spike + wave


def simulate_tuev_like(n_subjects: int = 6, n_per_class: int = 20, sfreq: float = 200.0,
                       n_eval_subjects: int = 2, seed: int = 0) -> TrialSet:
    """TUEV-like windows (5 s, TCP bipolar, µV); the last ``n_eval_subjects`` form the eval part."""
    from biosig.datasets.montages import MONTAGES, bipolar_names

    pos = _positions()
    idx = {e: i for i, e in enumerate(_ELECTRODES)}
    pairs = MONTAGES["tcp22"]
    n = int(round(5.0 * sfreq))
    t = np.arange(n) / sfreq
    xs, labels, meta = [], [], []
    for subject in range(1, n_subjects + 1):
        rng = np.random.default_rng([seed, subject])
        gain = rng.uniform(0.8, 1.25)
        alpha_f = rng.uniform(8.5, 11.0)
        order = rng.permutation(np.repeat(np.arange(6), n_per_class))
        for k, label in enumerate(order):
            bg = rng.normal(size=(len(_ELECTRODES), 6)) @ pink_noise(rng, 6, n) / 2.5  # smooth, correlated
            x = 15.0 * (bg + 0.4 * pink_noise(rng, len(_ELECTRODES), n))
            alpha = np.sin(2 * np.pi * (alpha_f + rng.normal(0, 0.2)) * t + rng.uniform(0, 2 * np.pi))
            x += 12.0 * np.outer(_spread(pos, (pos[idx["O1"]] + pos[idx["O2"]]) / 2, 0.05), alpha)
            cls = TUEV_CLASSES[label]
            t_ev = 2.0 + rng.uniform(0.1, 0.9)
            if cls == "spsw":
                centre = pos[rng.integers(len(_ELECTRODES))]
                for j in range(rng.integers(1, 4)):  # 1-3 complexes at ~3 Hz
                    x += np.outer(_spread(pos, centre, 0.04), _sharp(t, t_ev + j / 3.0, 0.04, rng.uniform(80, 150)))
            elif cls == "gped":
                period = 1.0 / rng.uniform(1.0, 2.5)
                w = 0.6 + 0.4 * _spread(pos, pos[idx["FZ"]], 0.08)
                for t0 in np.arange(rng.uniform(0, period), 5.0, period):
                    x += np.outer(w, _sharp(t, t0, 0.08, rng.uniform(60, 110)))
            elif cls == "pled":
                side = pos[idx["T3"] if rng.random() < 0.5 else idx["T4"]]
                period = 1.0 / rng.uniform(0.5, 1.5)
                for t0 in np.arange(rng.uniform(0, period), 5.0, period):
                    x += np.outer(_spread(pos, side, 0.05), _sharp(t, t0, 0.07, rng.uniform(60, 120)))
            elif cls == "eyem":
                dur = rng.uniform(0.3, 0.9)
                shape = np.exp(-0.5 * ((t - t_ev) / (dur / 3)) ** 2) * rng.uniform(80, 200)
                front = _spread(pos, (pos[idx["FP1"]] + pos[idx["FP2"]]) / 2, 0.035)
                if rng.random() < 0.5:  # blink / vertical: symmetric frontal
                    x += np.outer(front, shape)
                else:  # horizontal: opposite polarity at F7 and F8
                    lat = _spread(pos, pos[idx["F7"]], 0.03) - _spread(pos, pos[idx["F8"]], 0.03)
                    x += np.outer(lat * rng.choice([-1, 1]), shape)
            elif cls == "artf":
                if rng.random() < 0.7:  # muscle: 20-70 Hz burst over temporal electrodes
                    f = np.fft.rfftfreq(n, 1 / sfreq)
                    spec = rng.standard_normal(len(f)) * ((f > 20) & (f < 70))
                    burst = np.fft.irfft(spec * np.exp(2j * np.pi * rng.random(len(f))), n=n)
                    burst *= np.exp(-0.5 * ((t - t_ev) / rng.uniform(0.3, 0.7)) ** 2)
                    burst /= burst.std() + 1e-12
                    site = pos[idx[rng.choice(["T3", "T4", "F7", "F8"])]]
                    x += np.outer(_spread(pos, site, 0.04), 40.0 * burst)
                else:  # electrode pop: a step with exponential decay at one electrode
                    e = rng.integers(len(_ELECTRODES))
                    x[e] += rng.choice([-1, 1]) * rng.uniform(100, 250) * (t >= t_ev) * np.exp(-(t - t_ev).clip(0) / 0.3)
            x *= gain
            xs.append(np.stack([x[idx[a]] - x[idx[c]] for a, c in pairs]))
            labels.append(label)
            meta.append({"subject": subject, "session": "1", "trial": k,
                         "split": "test" if subject > n_subjects - n_eval_subjects else "train"})
    meta = pd.DataFrame(meta)
    y = np.asarray(labels, dtype=np.int64)
    meta["label"] = y
    return TrialSet(np.stack(xs).astype(np.float32), y, meta, bipolar_names("tcp22"), sfreq,
                    list(TUEV_CLASSES))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=["synthetic", "tuev"], default="synthetic")
    p.add_argument("--path", default=None, help="TUEV folder (edf/train, edf/eval)")
    p.add_argument("--n-subjects", type=int, default=6, help="simulator subjects (last 2 = eval)")
    p.add_argument("--n-per-class", type=int, default=20, help="simulator events per class and subject")
    add_protocol_arguments(p)
    # 22 TCP derivations of 21 electrodes have rank <= 20: EA needs a regularised reference.
    p.set_defaults(metrics=["bal_acc", "kappa", "f1_weighted", "acc"], ea_shrinkage=0.01)
    return p


def load_trials(args) -> TrialSet:
    if args.data == "synthetic":
        return simulate_tuev_like(args.n_subjects, args.n_per_class)
    from biosig.data.cache import get_cache
    from biosig.datasets.tuev import TUEV

    source = TUEV(path=args.path)
    return trials_from_cache(get_cache(source, [], None, root=args.cache_dir))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    synthetic = args.data == "synthetic"
    protocols = args.protocol or ["holdout"]
    t0 = time.perf_counter()
    trials = load_trials(args)
    counts = np.bincount(trials.y, minlength=len(trials.classes))
    print(f"data: {args.data}, {len(trials.y)} windows, {trials.X.shape[1]} ch x {trials.X.shape[2]} "
          f"samples @ {trials.sfreq:g} Hz, per class {dict(zip(trials.classes, counts.tolist()))} "
          f"({time.perf_counter() - t0:.1f} s)")
    run_protocols(args, trials, f"TUEV ({args.data}) 6-class", protocols,
                  lambda p: resolve_settings(args, p, synthetic))
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
