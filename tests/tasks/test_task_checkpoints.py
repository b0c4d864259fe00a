"""A task's checkpoint is self-contained: ``load_from_checkpoint`` rebuilds the network without
the weights folder or file the training started from (and without the EEGDM backbone's folder),
in every VQ setting, from Lightning's own loader and from the CLI's instantiator."""

from __future__ import annotations

import shutil

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.cli import instantiate_module
from torch.utils.data import DataLoader, TensorDataset

from biosig.models import create_model
from biosig.tasks import ClassificationTask, VQClassificationTask

VQ_KW = dict(emb_size=16, n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=8, patch_len=20,
             patch_stride=20)
SIG = dict(n_chans=3, n_times=80, sfreq=40.0)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _fit_and_save(task, path):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, SIG["n_chans"], SIG["n_times"], generator=g), torch.arange(8) % 2
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=4))
    trainer.save_checkpoint(path)
    return x


def _same_outputs(task, again, x):
    task.eval(), again.eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x), task(x), rtol=0, atol=0)


@pytest.mark.parametrize("setting", ["probe", "finetune", "scratch"])
def test_vq_checkpoint_reloads_in_every_setting_without_the_weights_folder(tmp_path, setting):
    torch.manual_seed(0)
    folder = create_model("eegformer", n_times=80, sfreq=40.0, **VQ_KW).save_pretrained(
        tmp_path / "weights")
    kw = (dict(model="eegformer", model_kwargs=VQ_KW) if setting == "scratch"
          else dict(pretrained=str(folder)))
    task = VQClassificationTask(setting=setting, n_outputs=2, **SIG, **kw)
    x = _fit_and_save(task, tmp_path / "task.ckpt")
    shutil.rmtree(folder)
    again = VQClassificationTask.load_from_checkpoint(tmp_path / "task.ckpt")
    assert again.setting == setting and again.freeze_mode == task.freeze_mode
    _same_outputs(task, again, x)
    assert task.hparams["pretrained"] == kw.get("pretrained")  # the task's own are unchanged


def test_relative_weights_folder_and_the_cli_instantiator(tmp_path, monkeypatch):
    torch.manual_seed(0)
    monkeypatch.chdir(tmp_path)
    create_model("eegnet", n_outputs=4, **SIG).save_pretrained("w")
    task = ClassificationTask(pretrained="w", freeze="backbone", n_outputs=2, **SIG)
    x = _fit_and_save(task, tmp_path / "task.ckpt")
    shutil.rmtree(tmp_path / "w")
    again = ClassificationTask.load_from_checkpoint(tmp_path / "task.ckpt")
    _same_outputs(task, again, x)
    assert again.net.get_config() == task.net.get_config()
    # a checkpoint written under biosig fit is rebuilt by LightningCLI's instantiator, which
    # type-checks the arguments: the config in `pretrained` must pass it
    hparams = torch.load(tmp_path / "task.ckpt", weights_only=True)["hyper_parameters"]
    built = instantiate_module(ClassificationTask, dict(hparams))
    assert built.net.get_config() == task.net.get_config()


def test_eegdm_checkpoint_does_not_need_the_backbone_folder(tmp_path):
    torch.manual_seed(0)
    backbone = dict(n_layers=2, d_model=8, d_state=4, d_embed=4, d_cond=8)
    folder = create_model("ssmdp", **{k: v for k, v in SIG.items()}, **backbone).save_pretrained(
        tmp_path / "ssmdp")
    lft = dict(n_heads=2, n_fusion_tokens=2, n_classifier_blocks=1)
    task = ClassificationTask(model="eegdm", n_outputs=2, **SIG,
                              model_kwargs=dict(backbone_weights=str(folder), lft=lft))
    x = _fit_and_save(task, tmp_path / "task.ckpt")
    shutil.rmtree(folder)
    again = ClassificationTask.load_from_checkpoint(tmp_path / "task.ckpt")
    _same_outputs(task, again, x)


def test_a_task_from_scratch_keeps_its_arguments(tmp_path):
    task = ClassificationTask(model="eegnet", n_outputs=2, **SIG)
    _fit_and_save(task, tmp_path / "task.ckpt")
    hparams = torch.load(tmp_path / "task.ckpt", weights_only=True)["hyper_parameters"]
    assert hparams["pretrained"] is None and hparams["model"] == "eegnet"
