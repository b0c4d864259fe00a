"""Resuming runs: a run killed mid-epoch and resumed ends with the weights of an uninterrupted
run (deterministic mode, built-in data); ``biosig fit --ckpt_path last`` resumes the latest run
and refuses clearly when there is none."""

import json
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from biosig.cli import lightning_cli
from biosig.data import BiosigDataModule, PickChannels, Predefined, Scale
from biosig.datasets import SyntheticMI
from biosig.errors import ConfigError
from biosig.experiments.resume import ExactResume, find_last_checkpoint
from biosig.tasks import ClassificationTask, VQClassificationTask

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]


class _Kill(Callback):
    """Stops the process at the start of a given optimiser step, as a kill would."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at_step:
            raise KeyboardInterrupt  # Lightning's kill path (SIGINT): no graceful end


def _fit(dm, tmp_path, callbacks, ckpt_path=None, max_epochs=3, exact=True):
    pl.seed_everything(0, workers=True, verbose=False)
    task = ClassificationTask(model="eegnet", n_chans=dm.n_chans, n_times=dm.n_times,
                              sfreq=dm.sfreq, n_outputs=dm.n_outputs, lr=0.01)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=max_epochs, deterministic=True,
                         logger=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, default_root_dir=str(tmp_path),
                         callbacks=[ExactResume()] * exact + callbacks)
    trainer.fit(task, datamodule=dm, ckpt_path=ckpt_path)
    return task, trainer


@pytest.mark.parametrize("every, kill_at", [
    ({"every_n_train_steps": 1, "save_top_k": 0}, 5),  # saved after each batch, killed mid-epoch 1
    ({"every_n_train_steps": 1, "save_top_k": 0}, 6),  # ... right after epoch 1's last batch
    ({"every_n_epochs": 1, "save_top_k": -1}, 7),  # saved at epoch ends, killed in epoch 2
])
def test_killed_mid_epoch_and_resumed_equals_uninterrupted(tmp_path, every, kill_at):
    dm = BiosigDataModule(
        SyntheticMI(n_subjects=1, n_trials_per_class=6, include_eog=False),
        preprocessing=[PickChannels(types=["eeg"])],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}),
        batch_size=4, cache_dir=str(tmp_path / "cache"), seed=3)
    dm.setup("fit")
    assert len(dm.splits["train"]) == 12  # 3 steps per epoch, 9 in all
    full, _ = _fit(dm, tmp_path / "full", [])
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True, **every)
    with pytest.raises((KeyboardInterrupt, SystemExit)):
        _fit(dm, tmp_path / "a", [ckpt, _Kill(at_step=kill_at)])
    last = find_last_checkpoint(tmp_path / "ck")
    saved = kill_at if "every_n_train_steps" in every else 6
    assert last is not None and torch.load(last, weights_only=True)["global_step"] == saved
    resumed, trainer = _fit(dm, tmp_path / "b", [], ckpt_path=str(last))
    assert trainer.global_step == 9
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    # the control: resumed without the random states (dropout draws differ) it is not equal
    other, _ = _fit(dm, tmp_path / "c", [], ckpt_path=str(last), exact=False)
    assert not all(torch.equal(a, b) for a, b in zip(full.state_dict().values(),
                                                      other.state_dict().values()))


def _cli(tmp_path, *extra):
    return lightning_cli([
        "fit", "--config", str(REPO / "recipes/synthetic/eegnet.yaml"),
        "--data.source.init_args.n_subjects", "1",
        "--data.source.init_args.n_trials_per_class", "4", "--data.batch_size", "4",
        "--data.cache_dir", str(tmp_path / "cache"),
        "--trainer.default_root_dir", str(tmp_path / "run"),
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        *extra])


def test_ckpt_path_last_resumes_the_latest_run_or_refuses(tmp_path):
    with pytest.raises(ConfigError, match="no last.*ckpt under"):
        _cli(tmp_path, "--trainer.max_epochs", "1", "--ckpt_path", "last")
    first = _cli(tmp_path, "--trainer.max_epochs", "1")  # saves a last checkpoint by default
    last = find_last_checkpoint(tmp_path / "run")
    assert last is not None and "version_0" in str(last)
    steps = first.trainer.global_step
    again = _cli(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert again.trainer.ckpt_path == str(last)  # the previous run's, not a fresh start
    assert again.trainer.global_step == 2 * steps and again.trainer.current_epoch == 2


def test_cli_refuses_resuming_on_other_data_before_making_a_run_folder(tmp_path):
    """``biosig fit --ckpt_path`` with another seed or other preprocessing (the same windows,
    so the split's CRC-32 agrees) is refused before the logger makes a new version folder."""
    _cli(tmp_path, "--trainer.max_epochs", "1")
    last = str(find_last_checkpoint(tmp_path / "run"))
    runs = sorted((tmp_path / "run").rglob("version_*"))
    for extra, what in [(["--data.seed", "7"], "seed"),
                        (["--data.preprocessing", json.dumps([
                            {"class_path": "biosig.data.PickChannels",
                             "init_args": {"types": ["eeg"]}},
                            {"class_path": "biosig.data.Bandpass",
                             "init_args": {"low": 4.0, "high": 30.0}}])], "preprocessing")]:
        with pytest.raises(ConfigError, match=f"last.ckpt's run had data {what} "):
            _cli(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", last, *extra)
        assert sorted((tmp_path / "run").rglob("version_*")) == runs
    again = _cli(tmp_path, "--trainer.max_epochs", "2", "--ckpt_path", last)
    assert again.trainer.current_epoch == 2


@pytest.mark.parametrize("recipe", ["recipes/tuab/eegformer_pretrain.yaml",
                                    "recipes/tuev/eegformer_pretrain.yaml",
                                    "recipes/tuev/eegdm_pretrain.yaml"])
def test_multinode_preset_composes_with_the_pretraining_recipes(recipe, capsys):
    import yaml

    with pytest.raises(SystemExit):
        lightning_cli(["fit", "--config", str(REPO / recipe), "--config",
                       str(REPO / "recipes/configs/trainer/multinode.yaml"),
                       "--trainer.num_nodes", "4", "--print_config"])
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["trainer"]["num_nodes"] == 4 and cfg["trainer"]["strategy"] == "ddp"
    kept = [cb["class_path"].rsplit(".", 1)[-1] for cb in cfg["trainer"]["callbacks"]]
    assert "ModelCheckpoint" in kept  # the recipe's callbacks survive the preset
    assert "slurm_pretrain.sh" in (REPO / recipe).read_text()


class _Stop(Callback):
    """Ends the fit after a given optimiser step on every rank (as a kill; checkpoint kept)."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.at_step:
            trainer.should_stop = True


def test_ddp_two_processes_resume_exactly(tmp_path):
    """2 CPU processes (gloo): every rank's random states and the sampler position go into the
    checkpoint; resumed mid-epoch, the weights equal an uninterrupted 2-process run's."""
    dm = BiosigDataModule(
        SyntheticMI(n_subjects=1, n_trials_per_class=8, include_eog=False),
        preprocessing=[PickChannels(types=["eeg"])],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}),
        batch_size=2, cache_dir=str(tmp_path / "cache"), seed=3)
    dm.setup("fit")  # 16 windows: 8 per rank, 4 steps per epoch

    def fit(root, callbacks, ckpt_path=None):
        pl.seed_everything(0, workers=True, verbose=False)
        task = VQClassificationTask(  # a small EEGFormer (dropout: random states matter)
            model="eegformer", setting="scratch", n_chans=dm.n_chans, n_times=dm.n_times,
            sfreq=dm.sfreq, n_outputs=dm.n_outputs, lr=0.01, model_kwargs=dict(
                emb_size=16, n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=8))
        trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=2,
                             deterministic=True, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, limit_val_batches=0,
                             default_root_dir=str(root), callbacks=[ExactResume(), *callbacks])
        trainer.fit(task, datamodule=dm, ckpt_path=ckpt_path)
        return task

    full = fit(tmp_path / "full", [])
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ck", every_n_train_steps=1, save_top_k=0,
                           save_last=True)
    fit(tmp_path / "a", [ckpt, _Stop(at_step=6)])  # stopped in epoch 1 after 2 of 4 steps
    last = find_last_checkpoint(tmp_path / "ck")
    state = torch.load(last, weights_only=True)
    assert state["global_step"] == 6 and len(state["callbacks"]["ExactResume"]["rng"]) == 2
    resumed = fit(tmp_path / "b", [], ckpt_path=str(last))
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("kwargs", [
    {"monitor": "epoch", "mode": "min", "save_top_k": 1},  # best = epoch 0, never improved
    {"save_top_k": 0},  # no top-k file: Lightning 2.6 wrote last.ckpt only at the end
])
def test_last_checkpoint_is_the_last_epoch(tmp_path, kwargs):
    """``--ckpt_path last`` resumes the newest epoch: ``biosig fit``'s last checkpoint is written
    at every epoch end, also when the monitored value did not improve."""
    from biosig.experiments.resume import prepare_fit

    dm = BiosigDataModule(
        SyntheticMI(n_subjects=1, n_trials_per_class=4, include_eog=False),
        preprocessing=[PickChannels(types=["eeg"])],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}, val_fraction=0.25),
        batch_size=3, cache_dir=str(tmp_path / "cache"))
    seen = []

    class _Look(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            last = find_last_checkpoint(tmp_path / "ck")
            seen.append(last and torch.load(last, weights_only=True)["global_step"])

    dm.setup("fit")
    task = ClassificationTask(model="eegnet", n_chans=dm.n_chans, n_times=dm.n_times,
                              sfreq=dm.sfreq, n_outputs=dm.n_outputs)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=3, logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, default_root_dir=str(tmp_path),
                         callbacks=[_Look(), ModelCheckpoint(dirpath=tmp_path / "ck", **kwargs)])
    prepare_fit(trainer, None)
    trainer.fit(task, datamodule=dm)
    assert seen == [None, 2, 4]  # 2 steps per epoch
    assert torch.load(find_last_checkpoint(tmp_path / "ck"), weights_only=True)["global_step"] == 6


def test_resumed_run_keeps_the_best_checkpoint_of_the_epochs_before(tmp_path):
    """A resumed run (another folder: biosig's new log version) goes on saving in the folder of
    the checkpoint it resumes, so its best checkpoint is the best of all epochs (Lightning kept
    only the path there, and the first epoch after the resume became the best)."""
    from biosig.experiments.resume import prepare_fit

    dm = BiosigDataModule(
        SyntheticMI(n_subjects=1, n_trials_per_class=4, include_eog=False),
        preprocessing=[PickChannels(types=["eeg"])],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}, val_fraction=0.25),
        batch_size=3, cache_dir=str(tmp_path / "cache"))
    dm.setup("fit")

    def fit(root, epochs, ckpt_path=None):
        task = ClassificationTask(model="eegnet", n_chans=dm.n_chans, n_times=dm.n_times,
                                  sfreq=dm.sfreq, n_outputs=dm.n_outputs)
        ckpt = ModelCheckpoint(monitor="epoch", mode="min")  # best: epoch 0, never improved
        trainer = pl.Trainer(accelerator="cpu", max_epochs=epochs, logger=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             num_sanity_val_steps=0, default_root_dir=str(root),
                             callbacks=[ckpt])
        trainer.fit(task, datamodule=dm, ckpt_path=prepare_fit(trainer, ckpt_path))
        return ckpt

    first = fit(tmp_path / "a", 2)
    assert Path(first.best_model_path).name == "epoch=0-step=2.ckpt"
    again = fit(tmp_path / "b", 3, ckpt_path=str(find_last_checkpoint(tmp_path / "a")))
    assert again.best_model_path == first.best_model_path and again.best_model_score == 0
    assert torch.load(again.last_model_path, weights_only=True)["global_step"] == 6


def test_ckpt_path_last_takes_a_newer_slurm_signal_checkpoint(tmp_path):
    """At SIGUSR1 (slurm_pretrain.sh: --signal before the time limit, then requeued) Lightning
    saves hpc_ckpt_N.ckpt in the root folder, but reads it only without a ckpt_path; the
    requeued job runs with --ckpt_path last, which took the older last.ckpt."""
    import os

    from biosig.experiments.resume import prepare_fit

    last = tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    hpc = tmp_path / "hpc_ckpt_1.ckpt"
    for i, path in enumerate([last, hpc]):
        torch.save({"state_dict": {}, "callbacks": {}}, path)
        os.utime(path, (1000 + i, 1000 + i))
    trainer = pl.Trainer(default_root_dir=str(tmp_path), logger=False, accelerator="cpu")
    assert prepare_fit(trainer, "last") == str(hpc)
    os.utime(last, (2000, 2000))  # a last checkpoint saved after the requeued job went on
    assert prepare_fit(trainer, "last") == str(last)


def test_resuming_with_another_seed_or_split_is_refused(tmp_path):
    """A checkpoint saved at an epoch end holds no loader position (whose seed the sampler
    checks), so another data.seed, or other windows in a part, were resumed silently: the
    default protocol's split follows the seed, so the resumed epochs trained on the windows
    the first epochs validated on. Other preprocessing keeps the same rows (and CRC-32): the
    checkpoint records the processing too. Testing from the checkpoint on other data stays
    allowed."""

    def data(seed, subjects=None, protocol=None, steps=()):
        return BiosigDataModule(
            SyntheticMI(n_subjects=3, n_trials_per_class=4, include_eog=False),
            preprocessing=[PickChannels(types=["eeg"]), *steps], subjects=subjects,
            protocol=protocol,
            batch_size=4, cache_dir=str(tmp_path / "cache"), seed=seed)

    ckpt = ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)
    _fit(data(3), tmp_path / "a", [ckpt], max_epochs=1)
    last = str(find_last_checkpoint(tmp_path / "ck"))
    state = torch.load(last, weights_only=True)["BiosigDataModule"]
    assert state["seed"] == 3 and set(state["splits"]) == {"train", "val", "test"}
    for other, what in [(data(4), "seed"), (data(3, subjects=[1, 2]), "split"),
                        (data(3, protocol=Predefined(train={"session": "T"},
                                                     test={"session": "E"})), "split"),
                       (data(3, steps=[Scale(factor=2.0)]), "preprocessing")]:
        with pytest.raises(ConfigError, match=f"checkpoint's run had data {what}"):
            _fit(other, tmp_path / "b", [], ckpt_path=last, max_epochs=2)
    resumed, trainer = _fit(data(3), tmp_path / "c", [], ckpt_path=last, max_epochs=2)
    assert trainer.current_epoch == 2
    trainer.test(resumed, datamodule=data(4, subjects=[2, 3]), ckpt_path=last, verbose=False)


def test_resuming_a_channel_independent_model_on_other_channels_is_refused(tmp_path):
    """EEGFormer's weights fit any channel count, so resuming its pretraining with the EOG
    channels added (22 -> 25) went through and overwrote the run's checkpoints: the
    checkpoint records the channel names now."""
    kw = ("{ema: true, data_init: true, dead_after: 50, emb_size: 32, n_heads: 4, "
          "encoder_depth: 1, decoder_depth: 1, n_codes: 32}")
    args = ["fit", "--config", "recipes/synthetic/eegformer_pretrain.yaml",
            "--model.init_args.model_kwargs", kw, "--trainer.limit_train_batches", "2",
            "--trainer.limit_val_batches", "1", "--data.source.init_args.n_subjects", "1",
            "--data.source.init_args.n_trials_per_class", "4", "--data.batch_size", "4",
            "--data.cache_dir", str(tmp_path / "cache"),
            "--trainer.default_root_dir", str(tmp_path / "run"),
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
    root = Path(__file__).resolve().parents[2]
    args[2] = str(root / args[2])
    lightning_cli([*args, "--trainer.max_epochs", "1"])
    with pytest.raises(ConfigError, match=r"last.ckpt's run had data channels \[.*'Pz', 'P2', "
                                          r"'POz'\] but this run has \[.*'EOG"):
        lightning_cli([*args, "--trainer.max_epochs", "2", "--ckpt_path", "last",
                       "--data.source.init_args.include_eog", "true"])
    # (a checkpoint file given by its path: its hyperparameters' channels are refused first)
