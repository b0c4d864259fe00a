"""Tiny runs of the real-data evidence recipes (EEGMAT rest vs task, eegmmidb run-wise)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from _dataset_fixtures import SHARED

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.shared_data


def _recipe(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem, REPO / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_eegmat_recipe_tiny(tmp_path, capsys):
    path = SHARED / "eeg_edf" / "eegmat"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    rc = _recipe("recipes/eegmat/rest_vs_task.py").main([
        "--path", str(path), "--participants", *map(str, range(8)), "--models", "eegnet",
        "--seeds", "1", "--epochs", "1", "--alignment", "ea",
        "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0 and "4 folds x 1 models x 1 seeds" in out
    # named as the results name them (it printed the dataset's fold values 1..4)
    assert ("test subjects per fold: fold0: [0, 4]; fold1: [1, 5]; fold2: [2, 6]; "
            "fold3: [3, 7]") in out
    assert (tmp_path / "out" / "ea_ea" / "results.csv").is_file()


def test_eegmat_recipe_online_alignment_runs_with_shrinkage(tmp_path, capsys):
    """--test-alignment online/official stopped on EEGMAT's singular one-window references, and
    the recipe had no way to pass the shrinkage the error asked for."""
    path = SHARED / "eeg_edf" / "eegmat"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    args = ["--path", str(path), "--participants", "0", "1", "2", "3", "--n-folds", "2",
            "--models", "eegnet", "--seeds", "1", "--epochs", "1", "--alignment", "ea",
            "--test-alignment", "online", "--cache-dir", str(tmp_path / "cache")]
    recipe = _recipe("recipes/eegmat/rest_vs_task.py")
    with pytest.raises(Exception, match=r"singular.*data\.shrinkage in a config \(now 0"):
        recipe.main(args)
    assert recipe.main([*args, "--shrinkage", "0.01"]) == 0
    assert "2 folds x 1 models x 1 seeds" in capsys.readouterr().out


def test_eegmmidb_runwise_recipe_tiny(tmp_path, capsys):
    path = SHARED / "eeg_edf" / "eegmmidb"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    rc = _recipe("recipes/eegmmidb/runwise.py").main([
        "--path", str(path), "--train-runs", "3", "--test-runs", "4", "--models", "eegnet",
        "--seeds", "1", "--epochs", "1", "--bandpass", "on",
        "--cache-dir", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert rc == 0 and "steps ['Resample', 'Bandpass'], 30 trials" in out
    assert "runs [3] -> [4]" in out and "bal_acc" in out
    assert "nan" not in out.split("band-pass  model")[-1]  # one seed printed "66.7 ±  nan"


def test_eegmmidb_runwise_refuses_a_test_run_it_trains_on():
    from biosig.errors import ConfigError

    recipe = _recipe("recipes/eegmmidb/runwise.py")
    with pytest.raises(ConfigError, match=r"share run\(s\) \[3\]: the test runs must be unseen"):
        recipe.main(["--train-runs", "3", "4", "--test-runs", "3"])
    with pytest.raises(ConfigError, match=r"run\(s\) \[1, 6\] are not left/right-fist runs .* "
                                          r"runs \[3, 4, 7, 8, 11, 12\]$"):
        recipe.main(["--train-runs", "1", "4", "--test-runs", "6"])
