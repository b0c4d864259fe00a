"""The ECGNet / CVD CNN recipes run through the Lightning CLI (tiny settings)."""

from pathlib import Path

import pytest
import torch

from biosig.cli import lightning_cli

REPO = Path(__file__).resolve().parents[2]
TINY_GAN = ["--model.init_args.generator_kwargs", "{hidden_size: 8}",
            "--model.init_args.critic_kwargs", "{channels: [8, 8]}",
            "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def test_ptbxl_ecgnet_recipe_fits_on_builtin_data(tmp_path):
    root = tmp_path / "run"
    cli = lightning_cli(["fit", "--config", str(REPO / "recipes/ptbxl/ecgnet.yaml"),
                         "--config", str(REPO / "recipes/ptbxl/simulator.yaml"),
                         "--config", str(REPO / "recipes/configs/trainer/cpu.yaml"),
                         "--data.source.init_args.n_records", "30",
                         "--data.source.init_args.duration", "2.0", *TINY_GAN,
                         "--trainer.default_root_dir", str(root)])
    hp = cli.model.hparams
    assert (hp.n_chans, hp.n_times, hp.sfreq) == (12, 200, 100.0)
    metrics = cli.trainer.callback_metrics
    assert "val_mse_V1" in metrics and "train_loss_d" in metrics and "val_pearson" in metrics
    assert sorted(p.name != "last.ckpt" for p in root.rglob("*.ckpt")) == [False, True]


def test_cvd_cnn_recipe_fits_on_builtin_data(tmp_path):
    cli = lightning_cli(["fit", "--config", str(REPO / "recipes/ptbxl/cvd_cnn.yaml"),
                         "--config", str(REPO / "recipes/ptbxl/simulator.yaml"),
                         "--config", str(REPO / "recipes/configs/trainer/cpu.yaml"),
                         "--data.source.init_args.n_records", "30",
                         "--data.source.init_args.duration", "3.0",
                         "--model.init_args.model_kwargs", "{channels: [8, 8]}",
                         "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false",
                         "--trainer.default_root_dir", str(tmp_path / "cvd")])
    assert cli.model.hparams.n_chans == 14  # 12 leads + R-peak and P-Q masks
    assert "val_auroc" in cli.trainer.callback_metrics


@pytest.mark.shared_data
def test_cinc2021_recipe_smoke_on_real_records(shared_data, tmp_path):
    cinc = shared_data / "ecg_wfdb" / "cinc2021"
    if not cinc.is_dir():
        pytest.skip("no CinC 2021 records in the shared data")
    cli = lightning_cli(["fit", "--config", str(REPO / "recipes/cinc2021/ecgnet.yaml"),
                         "--data.source.init_args.path", str(cinc), *TINY_GAN,
                         "--trainer.default_root_dir", str(tmp_path / "cinc"),
                         "--trainer.logger", "false"])
    assert cli.model.hparams.n_times == 1000
    assert torch.isfinite(cli.trainer.callback_metrics["val_mse"])
