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


def test_a_preset_of_another_dataset_takes_none_of_the_recipes_source_arguments(tmp_path):
    """jsonargparse keeps an earlier class's arguments that a new class also takes: after
    recipes/synthetic/eegnet.yaml (SyntheticMI, n_subjects 2), the SyntheticTUEV preset built
    2 subjects instead of its default 6 (and failed: n_eval_subjects must be below them). The
    preset's class now starts from its own defaults; options after it still apply."""
    from biosig.cli import reset_carried_init_args
    from biosig.datasets.synthetic import SyntheticTUEV

    recipe = str(REPO / "recipes/synthetic/eegnet.yaml")
    preset = str(REPO / "recipes/configs/data/synthetic_tuev.yaml")
    argv = ["fit", "--config", recipe, "--config", preset, "--data.cache_dir", str(tmp_path)]
    assert reset_carried_init_args(argv)[5:7] == ["--data.source.init_args.n_subjects", "6"]
    cli = lightning_cli(argv[1:], run=False)
    assert isinstance(cli.datamodule.source, SyntheticTUEV)
    assert cli.datamodule.source.n_subjects == 6
    cli = lightning_cli([*argv[1:], "--data.source.init_args.n_subjects", "5"], run=False)
    assert cli.datamodule.source.n_subjects == 5
    # the same class named again (full or short name) resets nothing
    same = tmp_path / "same.yaml"
    same.write_text("data:\n  source:\n    class_path: SyntheticMI\n")
    argv = ["fit", "--config", recipe, "--config", str(same)]
    assert reset_carried_init_args(argv) == argv


def test_a_carried_argument_without_a_default_is_refused_naming_both_files(tmp_path):
    """A recipe's dataset folder must not silently become another dataset's folder."""
    from biosig.cli import reset_carried_init_args

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("data:\n  source:\n    class_path: biosig.datasets.eegmat.EEGMAT\n"
                      "    init_args: {path: /data/eegmat}\n")
    other = tmp_path / "wfdb.yaml"  # WFDBRecords: path has no default
    other.write_text("data:\n  source:\n    class_path: biosig.datasets.wfdb_records.WFDBRecords\n")
    with pytest.raises(ConfigError, match=rf"^{other} names biosig.datasets.wfdb_records."
                                          rf"WFDBRecords for data.source, but its 'path' would "
                                          rf"come from {recipe}, written for biosig.datasets."
                                          r"eegmat.EEGMAT: give --data.source.init_args.path$"):
        reset_carried_init_args(["fit", "--config", str(recipe), "--config", str(other)])
    argv = ["fit", "--config", str(recipe), "--config", str(other),
            "--data.source.init_args.path", "/data/wfdb"]
    assert reset_carried_init_args(argv) == argv
    # a path with a default (the dataset's own folder) is reset to it, not refused
    preset = str(REPO / "recipes/configs/data/eegmmidb.yaml")
    assert reset_carried_init_args(["fit", "--config", str(recipe), "--config", preset])[5:] == [
        "--data.source.init_args.path", "null"]
