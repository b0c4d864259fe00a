"""The DBConformer protocol scripts run end to end (through the runner) on tiny built-in data;
table aggregation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from biosig.experiments import format_table, summarize

ROOT = Path(__file__).resolve().parents[2]


def _script(rel):
    spec = importlib.util.spec_from_file_location(rel.replace("/", "_")[:-3], ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(mod, args: str, tmp_path) -> None:
    """Run a recipe script's main() with ``args`` and a cache folder under ``tmp_path``."""
    mod.main(args.split() + ["--cache-dir", str(tmp_path / "cache")])


def test_summarize_is_mean_over_subjects_then_seeds():
    rows = []
    for seed, accs in {1: [0.6, 0.8], 2: [0.7, 1.0]}.items():
        for subject, acc in zip([1, 2], accs):
            for fold in range(2):  # folds averaged per subject
                rows.append(
                    {"model": "m", "seed": seed, "subject": subject, "fold": fold, "acc": acc}
                )
    s = summarize(pd.DataFrame(rows)).set_index("subject")
    assert s.loc["mean", "mean"] == pytest.approx(77.5)  # seed means 70 and 85
    assert s.loc["mean", "std"] == pytest.approx(7.5)  # numpy std (ddof 0) over seed means
    assert s.loc["1", "mean"] == pytest.approx(65.0) and s.loc["1", "std"] == pytest.approx(5.0)
    table = format_table(summarize(pd.DataFrame(rows)), reference={"m": {"mean": 80.0}})
    assert "77.50 ± 7.50" in table and "m (ref)" in table and "80.00" in table
    mse = summarize(pd.DataFrame(rows).rename(columns={"acc": "mse"}), "mse").set_index("subject")
    assert mse.loc["mean", "mean"] == pytest.approx(0.775)  # not a percentage
    one_seed = summarize(pd.DataFrame(rows[:4]))  # seed 1 alone: no spread to show
    assert one_seed["std"].isna().all()
    assert format_table(one_seed).endswith("mean     70.00") and "±" not in format_table(one_seed)


def test_bciiv2a_script_synthetic(tmp_path, capsys):
    mod = _script("recipes/bciiv2a/dbconformer.py")
    out = tmp_path / "res"
    mod.main(
        [
            "--n-subjects",
            "2",
            "--n-trials-per-class",
            "5",
            "--epochs",
            "1",
            "--protocol",
            "loso",
            "--models",
            "dbconformer",
            "eegnet",
            "--subjects",
            "1",
            "--depth",
            "1",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert "DBConformer" in text and "EEGNet" in text and "± " in text and "[2/2]" in text
    res = pd.read_csv(out / "loso" / "results.csv")
    assert (out / "loso" / "results.json").is_file()
    assert set(res["model"]) == {"DBConformer", "EEGNet"} and set(res["subject"]) == {1}
    assert (res["n_train"] == 10).all() and (res["n_test"] == 10).all()  # session T only


def test_eegmmidb_script_synthetic(tmp_path, capsys):
    mod = _script("recipes/eegmmidb/dbconformer.py")
    _run(
        mod,
        "--n-subjects 1 --n-trials-per-class 6 --epochs 1 --protocol cv --models "
        "dbconformer --depth 1",
        tmp_path,
    )
    text = capsys.readouterr().out
    assert "ch x 656 samples @ 160 Hz" in text and "CV" in text


def test_tuev_script_synthetic(tmp_path, capsys):
    from biosig.data.cache import get_cache
    from biosig.datasets.synthetic import SyntheticTUEV

    src = SyntheticTUEV(n_subjects=3, n_per_class=2)
    cache = get_cache(src, [], None, root=tmp_path / "cache")
    assert cache.X.shape == (36, 22, 1000) and cache.classes[0] == "spsw"
    assert set(cache.meta.loc[cache.meta.subject == 3, "split"]) == {"test"}
    mod = _script("recipes/tuev/dbconformer.py")
    _run(
        mod,
        "--n-subjects 3 --n-per-class 2 --epochs 1 --models dbconformer --depth 1",
        tmp_path,
    )
    text = capsys.readouterr().out
    assert "bal_acc" in text and "kappa" in text and "HOLDOUT" in text


@pytest.mark.shared_data
def test_eegmmidb_script_on_real_s001r04(tmp_path, capsys):
    from conftest import shared_data_dir

    data = shared_data_dir() / "eeg_edf" / "eegmmidb"
    if not (data / "S001R04.edf").is_file():
        pytest.skip(f"{data}/S001R04.edf not available (set BIOSIG_SHARED_DATA)")
    mod = _script("recipes/eegmmidb/dbconformer.py")
    mod.main(
        [
            "--data",
            "eegmmidb",
            "--path",
            str(data),
            "--participants",
            "1",
            "--runs",
            "4",
            "--protocol",
            "co",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--models",
            "dbconformer",
            "--depth",
            "1",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    text = capsys.readouterr().out
    assert "15 trials" in text and "64 ch x 656 samples @ 160 Hz" in text


def test_bciiv2a_script_on_a_partial_gdf_copy(tmp_path, capsys):
    """A copy holding subject 1 only (GDF + true labels, the real layout): --participants loads
    just it (without, every subject 1-9 was read and A02T.gdf reported missing)."""
    import numpy as np

    from _dataset_fixtures import write_bciiv2a_session, write_true_labels

    labels = np.array([1, 2, 1, 2, 2, 1, 1, 2, 3, 4, 1, 2])
    data = tmp_path / "bciiv2a"
    for session in "TE":
        write_bciiv2a_session(data, f"A01{session}", labels, session=session, trials_per_run=6,
                              write_bnci=False, eog_runs=False)
        write_true_labels(data / "true_labels" / f"A01{session}.mat", labels)
    mod = _script("recipes/bciiv2a/dbconformer.py")
    _run(mod, f"--data bciiv2a --path {data} --participants 1 --protocol competition "
              "--models dbconformer --depth 1 --seeds 1 --epochs 1 --batch-size 4", tmp_path)
    text = capsys.readouterr().out
    assert "20 trials, 22 ch x 1001 samples @ 250 Hz" in text and "COMPETITION" in text
    with pytest.raises(SystemExit, match="--participants picks BCI IV 2a"):
        mod.main(["--participants", "1"])
