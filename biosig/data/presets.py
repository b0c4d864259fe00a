"""DataModule presets by name: a dataset with its standard preprocessing and protocol.

>>> dm = datamodule_preset("bciiv2a", path="~/data/bciiv2a", classes=["left_hand", "right_hand"])
>>> dm = datamodule_preset("ptbxl", path="~/data/ptb-xl/1.0.3", batch_size=128)

Keyword arguments go to the dataset if its constructor takes them, else to
:class:`~biosig.data.datamodule.BiosigDataModule` (``batch_size``, ``protocol``, ``subjects``,
``preprocessing``, ``alignment``...), so any default can be overridden.

The presets are defined here once. The CLI's composable data configs
``recipes/configs/data/<name>.yaml`` are generated from them (:func:`preset_yaml`;
``python -m biosig.data.presets recipes/configs/data`` rewrites them, and a test checks that
the files equal the generated text).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path

from biosig.signal.preprocessing import Bandpass, PickChannels, Resample
from biosig.data.protocols import GroupKFold, Predefined
from biosig.errors import ConfigError

#: One line per preset for the generated YAML's header (plus how to point it at the data).
DESCRIPTIONS = {
    "bciiv2a": "BCI Competition IV 2a, competition protocol (session T -> E, 10 % of T for "
               "validation).\nSet the folder: --data.source.init_args.path /path/to/bciiv2a",
    "tuev": "TUEV (licensed: your own copy), official train/eval, 20 % of training subjects for "
            "validation.\n--data.source.init_args.path /path/to/tuev/v2.0.1",
    "ptbxl": "PTB-XL 1.0.3, folds 1-8 / 9 / 10. --data.source.init_args.path "
             "/path/to/ptb-xl/1.0.3",
    "cinc2021": "PhysioNet/CinC 2021, resampled to 500 Hz, 5-fold by subject (fold 0 held out)."
                "\n--data.source.init_args.path /path/to/challenge-2021/training",
    "eegmmidb": "EEG Motor Movement/Imagery, imagined left/right fist (runs 4, 8, 12), 5-fold by "
                "subject;\nresampled to 160 Hz (a few subjects were recorded at 128 Hz), "
                "band-passed 8-32 Hz as the recipes.",
    "eegmmidb_runs": "EEG Motor Movement/Imagery within subjects: train on imagined runs 4 and 8, "
                     "test on run 12\n(works on one subject's folder); 160 Hz, 8-32 Hz.",
    "eegmat": "EEG During Mental Arithmetic Tasks, rest vs serial subtraction, 0.5-45 Hz at 128 "
              "Hz,\n4-s windows; subject-wise fold 1 of 4 held out. --data.source.init_args.path "
              "/path/to/eegmat/1.0.0",
    "chbmit": "CHB-MIT seizure detection, 16 bipolar channels, 10-s windows at 200 Hz; CBraMod's "
              "case split\n(1-20 less 12/13/17 / 21-22 / 23-24). --data.source.init_args.path "
              "/path/to/chbmit/1.0.0",
    "synthetic_mi": "Built-in motor-imagery simulator, session T -> E.",
    "synthetic_ecg": "Built-in 12-lead ECG simulator, folds 1-8 / 9 / 10.",
    "synthetic_tuev": "Built-in TUEV-like 6-class event simulator, train -> eval subjects "
                      "(the DBConformer 'holdout' protocol).",
}


def _presets() -> dict:
    from biosig.datasets import (
        CHBMIT, BCIIV2a, CinC, EEGMAT, EEGMMIDB, PTBXL, TUEV, SyntheticECG, SyntheticMI,
    )
    from biosig.data.paper_splits import paper_protocol
    from biosig.datasets.synthetic import SyntheticTUEV

    by_split = Predefined(train={"split": "train"}, val={"split": "val"}, test={"split": "test"})
    # eegmmidb: the recipes' preprocessing (recipes/eegmmidb/dbconformer.py): without the
    # 8-32 Hz band-pass DBConformer + EA scored below chance on subject 1's runs, with it above.
    mmi_steps = [Resample(160.0), Bandpass(8.0, 32.0)]
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
        "eegmmidb": (EEGMMIDB, {"preprocessing": mmi_steps},
                     GroupKFold(n_splits=5, fold=0, group="subject", val_fraction=0.1)),
        # eegmmidb run-wise, within subjects: earlier imagery runs -> the last one (GroupKFold
        # with group="run" lists every leave-one-run-out fold instead).
        "eegmmidb_runs": (EEGMMIDB, {"preprocessing": mmi_steps},
                          Predefined(train={"run": [4, 8]}, test={"run": [12]},
                                     val_fraction=0.1)),
        # EEGMAT rest vs task: the dataset's own 0.5-45 Hz / 128 Hz steps; its subject-wise
        # folds (fold = position among the chosen subjects % 4 + 1), the first held out.
        "eegmat": (EEGMAT, {}, GroupKFold(n_splits=4, fold=0, group="fold", shuffle=False)),
        # CHB-MIT: CBraMod's case split (EEGDM Table VII), as the records' "split" field.
        "chbmit": (CHBMIT, {}, by_split),
        "synthetic_mi": (SyntheticMI, {"preprocessing": [PickChannels(types=["eeg"])]},
                         Predefined(train={"session": "T"}, test={"session": "E"},
                                    val_fraction=0.1)),
        "synthetic_ecg": (SyntheticECG, {}, Predefined(train={"fold": list(range(1, 9))},
                                                       val={"fold": 9}, test={"fold": 10})),
        "synthetic_tuev": (SyntheticTUEV, {}, paper_protocol("holdout")),
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


def _class_path(obj) -> str:
    """``biosig.data.<Name>`` where the package exports it, else the defining module's path."""
    import biosig.data

    name = type(obj).__name__ if not isinstance(obj, type) else obj.__name__
    cls = obj if isinstance(obj, type) else type(obj)
    if getattr(biosig.data, name, None) is cls:
        return f"biosig.data.{name}"
    return f"{cls.__module__}.{name}"


def _as_config(obj) -> dict:
    return {"class_path": _class_path(obj), "init_args": dataclasses.asdict(obj)}


def preset_config(name: str) -> dict:
    """The ``data:`` section of preset ``name`` in the CLI's class_path form."""
    presets = _presets()
    if name not in presets:
        raise ConfigError(f"unknown data preset {name!r}; available: {', '.join(sorted(presets))}")
    cls, dm_defaults, protocol = presets[name]
    data = {"source": {"class_path": _class_path(cls), "init_args": {}}}
    if dm_defaults.get("preprocessing"):
        data["preprocessing"] = [_as_config(step) for step in dm_defaults["preprocessing"]]
    data["protocol"] = _as_config(protocol)
    return {"data": data}


def preset_yaml(name: str) -> str:
    """The text of ``recipes/configs/data/<name>.yaml``: a comment header and the section."""
    import yaml

    head = [f"Data preset {name!r}, generated from biosig/data/presets.py (edit it there, then",
            "regenerate: python -m biosig.data.presets recipes/configs/data).",
            *DESCRIPTIONS[name].split("\n"),
            f"Compose: biosig fit --config <recipe> --config recipes/configs/data/{name}.yaml",
            "(after the recipe: its source, protocol and any steps listed here replace the",
            "recipe's; the recipe's windows, batch size and other data settings stay)"]
    body = yaml.safe_dump(preset_config(name), sort_keys=False, default_flow_style=False)
    return "".join(f"# {line}\n" for line in head) + body


def write_preset_configs(folder) -> list[Path]:
    """(Re)write every preset's YAML into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in list_presets():
        path = folder / f"{name}.yaml"
        path.write_text(preset_yaml(name))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_preset_configs(sys.argv[1] if len(sys.argv) > 1 else "recipes/configs/data"):
        print(p)
