"""``biosig fit`` / ``biosig test`` with the hvEEGNet recipe on the built-in simulator (tiny), and
the per-subject report script through the experiment runner."""

from pathlib import Path

import torch
import yaml

import importlib.util

import pandas as pd

from biosig.cli import lightning_cli

REPO = Path(__file__).resolve().parents[2]
# 4 trials per class, 50 Hz (4-s trials = 200 samples; kernels scale to 26 / 6): seconds on CPU
TINY = ["--data.source.init_args.n_trials_per_class", "4", "--data.source.init_args.sfreq", "50",
        "--data.batch_size", "4", "--trainer.enable_progress_bar", "false"]


def test_recipe_is_the_paper_setting():
    cfg = yaml.safe_load((REPO / "recipes/bciiv2a/hveegnet.yaml").read_text())
    init = cfg["model"]["init_args"]
    assert cfg["model"]["class_path"] == "biosig.tasks.vae.VAETask"
    assert (init["model"], init["recon_loss"], init["gamma_dtw"]) == ("hveegnet", "soft_dtw", 1.0)
    assert (init["optimizer"], init["lr"], init["weight_decay"], init["lr_decay"]) == (
        "adamw", 0.01, 0.01, 0.999)
    assert cfg["data"]["batch_size"] == 30 and cfg["trainer"]["max_epochs"] == 80
    prot = cfg["data"]["protocol"]["init_args"]
    assert prot["val_fraction"] == 0.1 and prot["seed"] == 42
    src = cfg["data"]["source"]["init_args"]
    assert (src["tmin"], src["tmax"], src["bandpass"]) == (2.0, 6.0, None)


def test_cli_fit_and_test_on_builtin_data(tmp_path):
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = tmp_path / "run"
        cfg = str(REPO / "recipes/synthetic/hveegnet.yaml")
        lightning_cli(["fit", "--config", cfg, *TINY, "--trainer.max_epochs", "1",
                       "--trainer.default_root_dir", str(root)])
        ckpts = [p for p in root.rglob("*.ckpt") if p.name != "last.ckpt"]  # + last.ckpt
        assert len(ckpts) == 1
        lightning_cli(["test", "--config", cfg, *TINY, "--ckpt_path", str(ckpts[0]),
                       "--trainer.default_root_dir", str(root)])
        out = lightning_cli(["--config", cfg, *TINY, "--trainer.default_root_dir", str(root)],
                            run=False)
        assert out.model.hparams.n_chans == 22 and out.model.hparams.n_times == 200
        res = out.trainer.test(out.model, datamodule=out.datamodule, ckpt_path=str(ckpts[0]),
                               verbose=False)[0]
        assert {"test_loss", "test_recon", "test_kl", "test_mse", "test_corr"} <= set(res)
        assert all(torch.isfinite(torch.tensor(v)) for v in res.values())
    finally:
        torch.set_num_threads(prev)


def test_report_script_through_the_runner(tmp_path, capsys):
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = importlib.util.spec_from_file_location("hv_recipe",
                                                      REPO / "recipes/bciiv2a/hveegnet.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out = tmp_path / "out"
        mod.main(["--subjects", "2", "--epochs", "1", "--n-trials-per-class",
                  "5", "--cache-dir", str(tmp_path / "c"), "--out", str(out)])
    finally:
        torch.set_num_threads(prev)
    text = capsys.readouterr().out
    assert "[1/1] 2 hveegnet seed=42" in text and "mean over subjects" in text
    runs = pd.read_csv(out / "results.csv")
    row = runs.iloc[0]
    assert (row["subject"], row["n_train"], row["n_val"], row["n_test"]) == (2, 9, 1, 10)
    assert {"test_dtw", "test_sdtw", "baseline_dtw", "flagged_E", "best_val_loss",
            "corr"} <= set(runs)
    assert (out / "s02_E_trials.csv").is_file() and (out / "s02_worst_test_trials.png").is_file()


def test_biosig_run_tests_the_best_checkpoint_per_subject(tmp_path, capsys):
    from biosig.cli import main

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path / "run"
        assert main(["run", "--config", str(REPO / "recipes/synthetic/hveegnet.yaml"), *TINY,
                     "--trainer.max_epochs", "2", "--data.cache_dir", str(tmp_path / "c"),
                     "--experiment.out", str(out)]) == 0
    finally:
        torch.set_num_threads(prev)
    runs = pd.read_csv(out / "results.csv")
    assert list(runs["model"]) == ["hvEEGNet"] and (runs["n_val"] == 1).all()
    assert {"loss", "mse", "corr", "best_val_loss"} <= set(runs.columns)
    assert "hvEEGNet per subject, loss" in capsys.readouterr().out
