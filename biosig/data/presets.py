"""DataModule presets by name: a dataset with its standard preprocessing and protocol.

>>> dm = datamodule_preset("bciiv2a", path="~/data/bciiv2a", classes=["left_hand", "right_hand"])
>>> dm = datamodule_preset("ptbxl", path="~/data/ptb-xl/1.0.3", batch_size=128)

Keyword arguments go to the dataset if its constructor takes them, else to
:class:`~biosig.data.datamodule.BiosigDataModule` (``batch_size``, ``protocol``, ``subjects``,
``preprocessing``, ``alignment``...), so any default can be overridden. The same presets exist
for the CLI as composable data configs in ``recipes/data/<name>.yaml``.
"""

from __future__ import annotations

import inspect

from biosig.data.preprocessing import PickChannels, Resample
from biosig.data.protocols import GroupKFold, Predefined
from biosig.errors import ConfigError


def _presets() -> dict:
    from biosig.datasets import (
        BCIIV2a, CinC, EEGMMIDB, PTBXL, TUEV, SyntheticECG, SyntheticMI,
    )

    by_split = Predefined(train={"split": "train"}, val={"split": "val"}, test={"split": "test"})
    return {
        # BCI IV 2a competition protocol: session T -> E per subject, 10 % of T for validation.
        "bciiv2a": (BCIIV2a, {}, Predefined(train={"session": "T"}, test={"session": "E"},
                                           val_fraction=0.1)),
        # TUEV: official train/eval, validation = 20 % of the training subjects (seed 4523).
        "tuev": (TUEV, {}, by_split),
        # PTB-XL: recommended folds 1-8 / 9 / 10.
        "ptbxl": (PTBXL, {}, by_split),
        # CinC 2021: 5-fold by subject (duplicated signals share a subject), fold 0 held out.
        "cinc2021": (CinC, {"preprocessing": [Resample(500.0)]},
                     GroupKFold(n_splits=5, fold=0, group="subject", val_fraction=0.1)),
        # eegmmidb imagined left/right fist (runs 4, 8, 12), by subject; a few subjects were
        # recorded at 128 Hz: resample everyone to 160 Hz.
        "eegmmidb": (EEGMMIDB, {"preprocessing": [Resample(160.0)]}, GroupKFold(n_splits=5, fold=0, group="subject",
                                              val_fraction=0.1)),
        "synthetic_mi": (SyntheticMI, {"preprocessing": [PickChannels(types=["eeg"])]},
                         Predefined(train={"session": "T"}, test={"session": "E"},
                                    val_fraction=0.1)),
        "synthetic_ecg": (SyntheticECG, {}, Predefined(train={"fold": list(range(1, 9))},
                                                       val={"fold": 9}, test={"fold": 10})),
    }


def list_presets() -> list[str]:
    return sorted(_presets())


def datamodule_preset(name: str, **kwargs):
    """A :class:`BiosigDataModule` for dataset ``name`` (see :func:`list_presets`)."""
    from biosig.data.datamodule import BiosigDataModule

    presets = _presets()
    if name not in presets:
        raise ConfigError(f"unknown data preset {name!r}; available: {', '.join(sorted(presets))}")
    cls, dm_defaults, protocol = presets[name]
    ds_params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    dm_params = set(inspect.signature(BiosigDataModule.__init__).parameters) - {"self", "source"}
    unknown = set(kwargs) - ds_params - dm_params
    if unknown:
        raise ConfigError(f"preset {name!r}: unknown arguments {sorted(unknown)}")
    source = cls(**{k: v for k, v in kwargs.items() if k in ds_params})
    dm_kwargs = {"protocol": protocol, **dm_defaults,
                 **{k: v for k, v in kwargs.items() if k in dm_params and k not in ds_params}}
    return BiosigDataModule(source, **dm_kwargs)


def ecg_datamodule(data: str, path=None, sfreq: float = 100.0, steps=(), seed: int = 0,
                   n_records: int = 200, duration: float = 10.0, **kwargs):
    """12-lead ECG DataModule of the ECG recipes at ``sfreq``: ``data`` = ``"synthetic"``
    (``synthetic_ecg``, folds 1-8 / 9 / 10), ``"ptbxl"`` (same folds) or ``"cinc"`` (CinC 2021,
    random 70/10/20 by subject); ``steps`` are appended to the preset's preprocessing."""
    from biosig.data.protocols import RandomSplit

    steps = list(steps)
    if data == "synthetic":
        return datamodule_preset("synthetic_ecg", n_records=n_records, duration=duration,
                                 sfreq=sfreq, seed=seed, preprocessing=steps, **kwargs)
    if data == "ptbxl":
        return datamodule_preset("ptbxl", path=path, sampling_rate=100 if sfreq <= 100 else 500,
                                 preprocessing=[Resample(sfreq), *steps], seed=seed, **kwargs)
    if data == "cinc":
        return datamodule_preset("cinc2021", path=path, year=2021, leads=12,
                                 preprocessing=[Resample(sfreq), *steps], seed=seed,
                                 protocol=RandomSplit(0.1, 0.2, by="subject", seed=seed), **kwargs)
    raise ConfigError(f"ECG data must be 'synthetic', 'ptbxl' or 'cinc', got {data!r}")
