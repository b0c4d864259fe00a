"""Tiny runs of the real-data recipes on ../shared/data (skipped where it is absent): the PTB-XL
CLI configs (ECGNet, CVD CNN) train on the real records, the CVD CNN comparison and the hvEEGNet
EEGMAT reconstruction / artefact screening produce their tables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from biosig.cli import lightning_cli

REPO = Path(__file__).resolve().parents[2]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
         "--trainer.logger", "false"]
pytestmark = [pytest.mark.shared_data,
              pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def ptbxl(shared_data):
    path = shared_data / "ecg_wfdb" / "ptbxl"
    if not (path / "ptbxl_database.csv").is_file():
        pytest.skip(f"no PTB-XL records at {path}")
    return path


def _recipe(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem + "_real", REPO / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ecgnet_yaml_trains_on_real_ptbxl(ptbxl, tmp_path):
    cli = lightning_cli(["fit", "--config", str(REPO / "recipes/ptbxl/ecgnet.yaml"),
                         "--config", str(REPO / "recipes/configs/trainer/cpu.yaml"),
                         "--data.source.init_args.path", str(ptbxl),
                         "--data.cache_dir", str(tmp_path / "cache"),
                         "--model.init_args.generator_kwargs", "{hidden_size: 8}",
                         "--model.init_args.critic_kwargs", "{channels: [8, 8]}",
                         "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                         "--trainer.limit_val_batches", "1", *QUIET,
                         "--trainer.default_root_dir", str(tmp_path / "run")])
    assert type(cli.datamodule.source).__name__ == "PTBXL"
    assert (cli.model.hparams.n_chans, cli.model.hparams.n_times) == (12, 1000)
    assert torch.isfinite(cli.trainer.callback_metrics["val_mse"])
    assert any(type(c).__name__ == "EarlyStopping" for c in cli.trainer.callbacks)


def test_cvd_cnn_yaml_trains_on_real_ptbxl(ptbxl, tmp_path):
    cli = lightning_cli(["fit", "--config", str(REPO / "recipes/ptbxl/cvd_cnn.yaml"),
                         "--config", str(REPO / "recipes/configs/trainer/cpu.yaml"),
                         "--data.source.init_args.path", str(ptbxl),
                         "--data.cache_dir", str(tmp_path / "cache"),
                         "--model.init_args.model_kwargs", "{channels: [8, 8]}",
                         "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                         *QUIET, "--trainer.default_root_dir", str(tmp_path / "run")])
    assert cli.datamodule.classes == ["NORM", "MI", "STTC", "CD", "HYP"]
    assert cli.model.hparams.n_chans == 14  # 12 real leads + R-peak and P-Q masks
    assert 0.0 <= float(cli.trainer.callback_metrics["val_auroc"]) <= 1.0


def test_cvd_cnn_comparison_tiny(ptbxl, tmp_path, capsys):
    rc = _recipe("recipes/ptbxl/cvd_cnn.py").main([
        "--data", "ptbxl", "--path", str(ptbxl), "--epochs", "1", "--seeds", "0",
        "--n-boot", "30", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "fold 10: 70 records; positives per class: NORM 37" in out
    df = pd.read_csv(tmp_path / "cvd_scores.csv", index_col=0)
    assert list(df.index) == ["logistic regression (lead features)", "CVD CNN",
                              "CVD CNN + masks"]
    assert ((df.ci_low <= df.macro_auroc) & (df.macro_auroc <= df.ci_high)).all()
    # the first seed's 12-lead CVD CNN, as a weights folder that scores a real record
    from biosig.analysis.cvd import cvd_probabilities

    assert f"saved to {tmp_path / 'weights'}" in out
    probs = cvd_probabilities(tmp_path / "weights", ptbxl / "records100/00000/00001_lr.hea")
    assert list(probs.columns) == ["start_s", "stop_s", "NORM", "MI", "STTC", "CD", "HYP"]
    assert list(probs.index) == [0, "record"] and probs.iloc[:, 2:].stack().between(0, 1).all()


def test_hveegnet_eegmat_tiny(shared_data, tmp_path, capsys):
    path = shared_data / "eeg_edf" / "eegmat"
    if not path.is_dir():
        pytest.skip(f"no EEGMAT recordings at {path}")
    rc = _recipe("recipes/eegmat/hveegnet.py").main([
        "--path", str(path), "--participants", "0", "1", "2", "3", "--window", "1.0",
        "--recon-loss", "mse", "--epochs", "1", "--artifacts", "pop_150uV",
        "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "128 samples @ 128 Hz" in out
    rec = pd.read_csv(tmp_path / "reconstruction.csv")
    assert set(rec.method) == {"hvEEGNet", "mean trial"} and "all" in set(rec.subject.astype(str))
    scr = pd.read_csv(tmp_path / "screening.csv")
    assert list(scr.artefact) == ["pop_150uV"] * 2 and scr.auroc.between(0, 1).all()


def test_eegformer_eegmat_pipeline_tiny(shared_data, tmp_path):
    """VQ pretraining on EEGMAT subjects 1-3 -> weights folder -> probe / fine-tune / scratch
    tested on subject 0, which the pretraining never saw."""
    path = shared_data / "eeg_edf" / "eegmat"
    if not path.is_dir():
        pytest.skip(f"no EEGMAT recordings at {path}")
    result = _recipe("recipes/eegformer/pipeline.py").main([
        "--recipe", "eegmat", "--path", str(path), "--tiny", "--out", str(tmp_path / "o"), "--",
        "--data.cache_dir", str(tmp_path / "cache"), *QUIET[:2]])
    df = pd.read_csv(tmp_path / "o" / "results" / "results.csv")
    assert sorted(df.model) == ["finetune", "probe", "scratch"] and df.bal_acc.between(0, 1).all()
    card = json.loads((tmp_path / "o" / "weights" / "card.json").read_text())
    assert card["data"]["n_chans"] == 19 and card["data"]["n_times"] == 500  # 2 s at 250 Hz
    # fold 0 tests subject 0 alone (the last 60 s of rest, ~60 s of arithmetic), trains on 1-3
    assert set(df.fold) == {"fold0"} and len(result.runs) == 3
    assert set(df.n_test) == {61} and set(df.n_train) == {3 * 61}, df[["n_train", "n_test"]]


def test_eegdm_eegmat_recipes_tiny(shared_data, tmp_path):
    """recipes/eegmat/eegdm_{pretrain,finetune}.yaml as their header says: SSMDP pretraining on
    EEGMAT subjects 1-3 -> weights folder -> ``biosig run``: LFT on the frozen SSMDP, tested on
    subject 0."""
    from biosig.cli import main
    from biosig.tasks import DiffusionTask

    path = shared_data / "eeg_edf" / "eegmat"
    if not path.is_dir():
        pytest.skip(f"no EEGMAT recordings at {path}")
    data = ["--data.source.init_args.path", str(path), "--data.source.init_args.subjects",
            "[0, 1, 2, 3]", "--data.cache_dir", str(tmp_path / "cache"),
            "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
    cli = lightning_cli(["fit", "--config", str(REPO / "recipes/eegmat/eegdm_pretrain.yaml"),
                         *data, *QUIET, "--trainer.limit_val_batches", "1",
                         "--trainer.default_root_dir", str(tmp_path / "pre"),
                         "--model.init_args.model_kwargs",
                         "{n_layers: 1, d_model: 8, d_state: 4, d_embed: 8, d_cond: 16}"])
    assert cli.datamodule.sfreq == 200.0 and cli.datamodule.n_times == 1000
    ssmdp = DiffusionTask.save_pretrained(cli.model, tmp_path / "ssmdp")
    assert main(["run", "--config", str(REPO / "recipes/eegmat/eegdm_finetune.yaml"), *data,
                 "--model.init_args.model_kwargs.backbone_weights", str(ssmdp),
                 "--experiment.seeds", "[0]", "--experiment.out", str(tmp_path / "res")]) == 0
    df = pd.read_csv(tmp_path / "res" / "results.csv")
    assert list(df.model) == ["EEGDM"] and set(df.fold) == {"fold0"}
    assert list(df.n_test) == [24] and df.bal_acc.between(0, 1).all()  # subject 0: 12 + 12
