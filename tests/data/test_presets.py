"""Data presets by name (Python) and their CLI twins in recipes/configs/data/*.yaml (generated)."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from biosig.cli import lightning_cli
from biosig.data.presets import _presets, datamodule_preset, list_presets, preset_yaml
from biosig.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_every_dataset_has_a_preset_and_a_yaml():
    assert set(list_presets()) == {"bciiv2a", "chbmit", "tuev", "ptbxl", "cinc2021", "eegmmidb",
                                   "eegmmidb_runs", "eegmat", "synthetic_mi", "synthetic_ecg",
                                   "synthetic_tuev"}
    folder = REPO / "recipes" / "configs" / "data"
    assert sorted(p.stem for p in folder.glob("*.yaml")) == list_presets()
    for name, (cls, _dm, protocol) in _presets().items():
        text = (folder / f"{name}.yaml").read_text()
        # defined once: the YAML is the generated text (python -m biosig.data.presets ...)
        assert text == preset_yaml(name), f"{name}.yaml is stale: regenerate it"
        cfg = yaml.safe_load(text)["data"]
        assert cfg["source"]["class_path"].endswith(cls.__name__)
        assert cfg["protocol"]["class_path"].endswith(type(protocol).__name__)
        assert cfg["protocol"]["init_args"] == dataclasses.asdict(protocol)


def test_synthetic_presets_build(tmp_path):
    dm = datamodule_preset("synthetic_mi", n_subjects=1, n_trials_per_class=2, batch_size=4,
                           cache_dir=str(tmp_path))
    dm.setup()
    assert dm.n_chans == 22 and dm.batch_size == 4
    assert set(dm.meta.session[dm.splits["test"]]) == {"E"}
    ecg = datamodule_preset("synthetic_ecg", n_records=20, duration=2.0, cache_dir=str(tmp_path))
    ecg.setup()
    assert ecg.n_chans == 12 and set(ecg.meta.fold[ecg.splits["test"]]) == {10}


def test_preset_errors():
    with pytest.raises(ConfigError, match="available"):
        datamodule_preset("bciv2a")
    with pytest.raises(ConfigError, match="n_subject"):
        datamodule_preset("synthetic_mi", n_subject=3)


def test_real_dataset_preset_needs_its_folder(tmp_path):
    with pytest.raises(Exception, match="TUEV"):
        datamodule_preset("tuev", path=str(tmp_path / "missing"))


def test_generated_preset_config_instantiates(tmp_path):
    """The CLI builds the same DataModule from the generated YAML as the Python preset."""
    cli = lightning_cli(["--config", str(REPO / "recipes/synthetic/eegnet.yaml"),
                         "--config", str(REPO / "recipes/configs/data/synthetic_mi.yaml"),
                         "--data.source.init_args.n_subjects", "1",
                         "--data.source.init_args.n_trials_per_class", "2",
                         "--data.cache_dir", str(tmp_path)], run=False)
    py = datamodule_preset("synthetic_mi", n_subjects=1, n_trials_per_class=2)
    assert cli.datamodule.protocol == py.protocol
    assert [type(s) for s in cli.datamodule.preprocessing] == [type(s) for s in py.preprocessing]
