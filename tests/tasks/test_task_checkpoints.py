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


def _fit_and_save(task, path, steps=None):
    """The task fitted one epoch (``steps``: that many steps; 0: none) and checkpointed."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, SIG["n_chans"], SIG["n_times"], generator=g), torch.arange(8) % 2
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=steps, logger=False,
                         enable_checkpointing=False,
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


def _card_but_its_file(folder):
    from biosig.models.weights import load_card

    card = load_card(folder)
    card.pop("weights")  # the file's SHA-256: safetensors' header differs from write to write
    return card


@pytest.mark.parametrize("trained", [True, False])
def test_a_reloaded_checkpoint_keeps_the_provenance_of_its_weights_folder(tmp_path, trained):
    """A task fine-tuned from a weights folder, checkpointed and reloaded, saved a card without
    the folder's recipe (not even as recipe["pretraining"]), licence or montage: the reloaded
    network was built from its config. Now the card is the one saved without the round trip;
    a checkpoint of the folder's own weights (no step) keeps the folder's recipe as its own."""
    torch.manual_seed(0)
    folder = create_model("eegnet", n_outputs=2, **SIG).save_pretrained(
        tmp_path / "weights", data={"montage": "standard_1020"},
        recipe={"data": "pretraining set"}, licence="CC-BY-4.0", metrics={"acc": 0.9})
    task = ClassificationTask(pretrained=str(folder), n_outputs=2, **SIG)
    _fit_and_save(task, tmp_path / "task.ckpt", steps=None if trained else 0)
    direct = _card_but_its_file(task.save_pretrained(tmp_path / "direct"))
    shutil.rmtree(folder)
    again = ClassificationTask.load_from_checkpoint(tmp_path / "task.ckpt")
    card = _card_but_its_file(again.save_pretrained(tmp_path / "again"))
    assert card == direct
    assert card["licence"] == "CC-BY-4.0" and card["data"]["montage"] == "standard_1020"
    assert card["metrics"] is None
    pretraining = {"data": "pretraining set"}
    assert card["recipe"] == ({"pretraining": pretraining} if trained else pretraining)


def test_an_older_checkpoint_without_the_folder_s_card_loads_as_before(tmp_path):
    """A checkpoint written before it kept the folder's card loads; its network knows no card
    (no recipe, no licence to write); an entry naming no network of the task is refused."""
    from biosig.errors import ConfigError
    from biosig.tasks.base import LOADED_CARDS_KEY

    torch.manual_seed(0)
    folder = create_model("eegnet", n_outputs=2, **SIG).save_pretrained(
        tmp_path / "weights", recipe={"data": "pretraining set"}, licence="CC-BY-4.0")
    task = ClassificationTask(pretrained=str(folder), n_outputs=2, **SIG)
    x = _fit_and_save(task, tmp_path / "task.ckpt")
    checkpoint = torch.load(tmp_path / "task.ckpt", weights_only=True)
    assert set(checkpoint[LOADED_CARDS_KEY]) == {"net"}
    torch.save({k: v for k, v in checkpoint.items() if k != LOADED_CARDS_KEY},
               tmp_path / "old.ckpt")
    old = ClassificationTask.load_from_checkpoint(tmp_path / "old.ckpt")
    _same_outputs(task, old, x)
    assert old.net.loaded_card is None
    card = _card_but_its_file(old.save_pretrained(tmp_path / "old"))
    assert card["recipe"] is None and card["licence"] is None
    checkpoint[LOADED_CARDS_KEY] = {"generator": checkpoint[LOADED_CARDS_KEY]["net"]}
    torch.save(checkpoint, tmp_path / "odd.ckpt")
    with pytest.raises(ConfigError, match=r"biosig_loaded_cards\['generator'\] .* \(net\)"):
        ClassificationTask.load_from_checkpoint(tmp_path / "odd.ckpt")


def test_each_gan_network_keeps_its_folder_s_card_by_name(tmp_path):
    """GANTask: the generator's and the critic's cards come back to each; the generator's card
    records its folder's recipe under "pretraining" beside the task's train_leads."""
    from biosig.models.base import BiosigModel
    from biosig.models.weights import load_card
    from biosig.tasks.gan import GANTask

    small = dict(n_chans=12, n_times=40, sfreq=20.0, input_channel="I",
                 generator_kwargs={"hidden_size": 4}, critic_kwargs={"channels": (4,)})
    torch.manual_seed(0)
    task = GANTask(**small)
    for key in ("generator", "critic"):
        folder = getattr(task, key).save_pretrained(tmp_path / key, recipe={"data": key},
                                                    licence=f"{key} licence")
        setattr(task, key, BiosigModel.from_pretrained(folder).train())
    with torch.no_grad():  # as a step would: the weights are no longer the folder's
        next(task.generator.parameters()).add_(1.0)
    checkpoint = {"state_dict": task.state_dict()}
    task.on_save_checkpoint(checkpoint)
    again = GANTask(**small)
    again.on_load_checkpoint(checkpoint)
    again.load_state_dict(checkpoint["state_dict"])
    assert again.critic.loaded_card == task.critic.loaded_card
    card = load_card(again.save_pretrained(tmp_path / "again"))
    assert card["recipe"] == {"train_leads": ["I"], "pretraining": {"data": "generator"}}
    assert card["licence"] == "generator licence"
