"""Every task refuses, when built, a network it cannot train: by registry name, by a weights
folder's card or by a checkpoint's network config. Before, the task built and the first training
step failed with a raw traceback (``'Tensor' object has no attribute 'x_hat'``,
``cross_entropy_loss(): ... not VAEOutput``)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from biosig.errors import ConfigError, InvalidFileError
from biosig.models import create_model
from biosig.tasks import ClassificationTask, DiffusionTask, GANTask, VAETask

SIG = dict(n_chans=3, n_times=200, sfreq=100.0)
EEGFORMER = dict(emb_size=32, n_heads=4, encoder_depth=1, decoder_depth=1, n_codes=16,
                 patch_len=20, patch_stride=10)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Tiny weights folders: an hvEEGNet (a VAE) and an EEGFormer (a classifier)."""
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    vae = create_model("hveegnet", **SIG).save_pretrained(root / "hveegnet")
    former = create_model("eegformer", n_outputs=2, n_times=200, sfreq=100.0, **EEGFORMER)
    return {"hveegnet": vae,
            "eegformer": former.save_pretrained(root / "eegformer", data={"n_chans": 3})}


@pytest.mark.parametrize("build, match", [
    (lambda: ClassificationTask("hveegnet", n_outputs=2, **SIG),
     r"model\.model='hveegnet' is not a classifier, so ClassificationTask cannot train it; "
     r"classifiers: .*eegnet"),
    (lambda: VAETask(model="eegformer_s", **SIG),
     r"model\.model='eegformer_s' is not a VAE.*, so VAETask cannot train it; VAEs: "
     r"hveegnet, veegnet$"),
    (lambda: DiffusionTask(model="eegnet", n_outputs=2, **SIG),
     r"model\.model='eegnet' is not a diffusion denoiser.*; denoisers: ssmdp$"),
    (lambda: GANTask(generator="dbconformer", n_chans=12, n_times=40, sfreq=20.0),
     r"model\.generator='dbconformer' is not a GAN generator.*; generators: ecgnet$"),
    (lambda: GANTask(critic="ecgnet", n_chans=12, n_times=40, sfreq=20.0),
     r"model\.critic='ecgnet' is not a GAN critic.*; critics: ecgnet_critic$"),
], ids=["classifier", "vae", "denoiser", "generator", "critic"])
def test_a_registry_name_the_task_cannot_train_is_refused(build, match):
    with pytest.raises(ConfigError, match=match):
        build()


@pytest.mark.parametrize("task, folder, match", [
    (ClassificationTask, "hveegnet",
     r"model\.pretrained=.*hveegnet holds a 'hveegnet' \(its card\.json\), not a classifier, so "
     r"ClassificationTask cannot train it"),
    (VAETask, "eegformer",
     r"model\.pretrained=.*eegformer holds a 'eegformer' \(its card\.json\), not a VAE"),
])
def test_a_weights_folder_the_task_cannot_train_is_refused(task, folder, match, folders):
    with pytest.raises(ConfigError, match=match):
        task(pretrained=str(folders[folder]), n_outputs=2, **SIG)
    # before the data are compared with the card (here: another sampling rate)
    with pytest.raises(ConfigError, match=match):
        task(pretrained=str(folders[folder]), n_outputs=2, **{**SIG, "sfreq": 250.0})
    # and before the data are built: the CLI's and the runner's check of a config
    with pytest.raises(ConfigError, match=match):
        task.check_networks({"pretrained": str(folders[folder])})


def test_a_checkpoint_s_network_config_the_task_cannot_train_is_refused():
    config = create_model("hveegnet", **SIG).get_config()
    with pytest.raises(ConfigError, match=r"model\.pretrained .*'hveegnet'.*not a classifier"):
        ClassificationTask(pretrained=config, n_outputs=2, **SIG)


def test_networks_the_tasks_can_train_still_build(folders):
    ClassificationTask.check_networks({"pretrained": str(folders["eegformer"])})
    ClassificationTask(pretrained=str(folders["eegformer"]), n_outputs=2, **SIG)
    VAETask.check_networks({"pretrained": str(folders["hveegnet"])})
    VAETask(pretrained=str(folders["hveegnet"]), **SIG)
    VAETask(model="veegnet", **SIG)
    GANTask(n_chans=12, n_times=40, sfreq=20.0, generator_kwargs={"hidden_size": 4},
            critic_kwargs={"channels": (4,)})


def _copy(folder, tmp_path, name, card=None):
    copy = tmp_path / name
    shutil.copytree(folder, copy)
    if card is not None:
        data = json.loads((copy / "card.json").read_text())
        card(data)
        (copy / "card.json").write_text(json.dumps(data))
    return copy


def test_an_unusable_folder_is_refused_before_the_data_are_compared(folders, tmp_path):
    """A folder without its weights file, or with a truncated one, said first that the data's
    sampling rate did not match the card: the user resampled, then learnt the folder was
    unusable anyway."""
    wrong_rate = {**SIG, "sfreq": 250.0}
    missing = _copy(folders["eegformer"], tmp_path, "missing")
    (missing / "model.safetensors").unlink()
    truncated = _copy(folders["eegformer"], tmp_path, "truncated")
    unchecked = _copy(folders["eegformer"], tmp_path, "unchecked",
                      card=lambda c: c["weights"].pop("sha256"))
    for folder in (truncated, unchecked):
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[:len(data) // 2])
    for folder, match in ((missing, "weights file missing"), (truncated, "SHA-256"),
                          (unchecked, "not a readable safetensors file")):
        with pytest.raises(InvalidFileError, match=match):
            ClassificationTask(pretrained=str(folder), n_outputs=2, **wrong_rate)
        with pytest.raises(InvalidFileError, match=match):  # the CLI's check, before the data
            ClassificationTask.check_networks({"pretrained": str(folder)})


def test_the_weights_file_instead_of_its_folder_names_the_folder(folders):
    """pretrained=<folder>/model.safetensors said 'give a registry name (or model.pretrained,
    a weights folder)' although pretrained was given."""
    file = folders["eegformer"] / "model.safetensors"
    match = (r"model\.pretrained must be the weights folder \(.*eegformer\) holding "
             r"model\.safetensors and card\.json, not the file")
    with pytest.raises(ConfigError, match=match):
        ClassificationTask(pretrained=str(file), n_outputs=2, **SIG)
    with pytest.raises(ConfigError, match=match):  # the CLI's check, before the data
        ClassificationTask.check_networks({"pretrained": str(file)})


def test_a_weights_file_without_a_model_name_asks_for_one(tmp_path):
    path = tmp_path / "net.pt"
    torch.save(create_model("eegnet", n_outputs=2, **SIG).state_dict(), path)
    with pytest.raises(ConfigError, match=r"model\.pretrained=.*net\.pt is a weights file: "
                                          r"name its network in model\.model"):
        ClassificationTask(pretrained=str(path), n_outputs=2, **SIG)


def _fit_one_step(task, tmp_path, name: str, y=None):
    """``task`` trained one step on two random windows; its checkpoint's path."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(tmp_path))
    tensors = (torch.randn(2, 3, 200),) + (() if y is None else (y,))
    trainer.fit(task, DataLoader(TensorDataset(*tensors), batch_size=2))
    trainer.save_checkpoint(tmp_path / name)
    return tmp_path / name


def test_a_task_checkpoint_as_pretrained_names_its_network(tmp_path):
    """The docs say a Lightning checkpoint works as ``pretrained``: given a VQTask's without
    model/model_kwargs, the task refused it and asked for the network and arguments the
    checkpoint holds; given the name alone, it built the default architecture and failed on
    100 mis-shaped weights. Now the checkpoint's are used, and contradicting ones refused."""
    from biosig.tasks import VQClassificationTask, VQTask

    ckpt = _fit_one_step(VQTask("eegformer_s", EEGFORMER, **SIG, lr=1e-3), tmp_path, "vq.ckpt")
    for given in ({}, {"model": "eegformer_s"}, {"model_kwargs": {"n_codes": 16}}):
        probe = VQClassificationTask(pretrained=str(ckpt), setting="probe", n_outputs=2, **SIG,
                                     **given)
        assert probe.net.emb_size == 32 and probe.untrained_head is not None
        ClassificationTask.check_networks({"pretrained": str(ckpt), **given})  # the CLI's check
    source = r"model\.pretrained=.*vq\.ckpt is a Lightning checkpoint of a 'eegformer_s' network"
    for given, match in (({"model": "eegformer_b"}, r"model\.model='eegformer_b' but " + source),
                         ({"model_kwargs": {"emb_size": 64}},
                          r"model\.model_kwargs emb_size=64 but " + source
                          + r" made with emb_size=32; leave them out")):
        with pytest.raises(ConfigError, match=match):
            ClassificationTask(pretrained=str(ckpt), n_outputs=2, **SIG, **given)
        with pytest.raises(ConfigError, match=match):
            ClassificationTask.check_networks({"pretrained": str(ckpt), **given})
    # a checkpoint of that probe (its network config in place of pretrained) names it too
    tuned = _fit_one_step(probe, tmp_path, "probe.ckpt", y=torch.tensor([0, 1]))
    again = ClassificationTask(pretrained=str(tuned), n_outputs=2, **SIG)
    assert again.untrained_head is None
    assert torch.equal(again.net.final_layer.weight, probe.net.final_layer.weight)


def test_vq_tasks_declare_their_networks_so_the_cli_checks_them_before_the_data():
    """VQTask checked its model only when built (from the CLI: after the window cache);
    VQClassificationTask only after loading the weights and comparing the data."""
    from biosig.tasks import VQClassificationTask, VQTask

    with pytest.raises(ConfigError, match=r"model.model='dbconformer' is not a vector-quantised "
                                          r"model .*VQTask cannot train it; vector-quantised "
                                          r"models: eegformer"):
        VQTask.check_networks({"model": "dbconformer"})
    with pytest.raises(ConfigError, match=r"'hveegnet' is not a VQ model \(forward_pretrain\) "
                                          r"that classifies"):
        VQClassificationTask.check_networks({"model": "hveegnet", "setting": "scratch"})
    VQTask.check_networks({"model": "eegformer_s"})
    VQClassificationTask.check_networks({"model": "eegformer_s", "setting": "scratch"})


def test_a_pretrained_ssmdp_given_to_a_classifier_says_to_use_it_as_eegdm_s_backbone(tmp_path):
    """ClassificationTask(pretrained=<SSMDP folder>) said only 'not a classifier' and listed
    eegdm among the classifiers: the way in, EEGDM's backbone_weights, was not named."""
    torch.manual_seed(0)
    folder = create_model("ssmdp", **SIG, n_layers=1, d_model=4, d_state=2, d_embed=2,
                          d_cond=4).save_pretrained(tmp_path / "ssmdp")
    hint = (r"not a classifier.*; a pretrained SSMDP is EEGDM's backbone: classify with "
            r"model='eegdm', model_kwargs=\{'backbone_weights': ")
    for given in ({"pretrained": str(folder)}, {"model": "eegdm", "pretrained": str(folder)}):
        with pytest.raises(ConfigError, match=hint + f"'{folder}'" + r"\} \(docs/models/eegdm"):
            ClassificationTask(n_outputs=2, **SIG, **given)
        with pytest.raises(ConfigError, match=hint + f"'{folder}'"):  # the CLI's check
            ClassificationTask.check_networks(given)
    with pytest.raises(ConfigError, match=hint + "<its weights folder>"):
        ClassificationTask("ssmdp", n_outputs=2, **SIG)
