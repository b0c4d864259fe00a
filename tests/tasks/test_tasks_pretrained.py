"""Linear probe, fine-tune and from scratch as three settings of one task (pretrained, freeze)."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from biosig.errors import ConfigError, InvalidFileError
from biosig.models import _registry
from biosig.models.base import BiosigModel
from biosig.tasks import ClassificationTask
from biosig.tasks.base import head_modules

SIG = dict(n_chans=3, n_times=32, sfreq=64.0)
NAMES = ["C3", "Cz", "C4"]


class TinyNet(BiosigModel):
    """Conv + BatchNorm + dropout backbone; a two-layer head (``proj`` then ``final_layer``)."""

    registry_name = "tiny_probe"
    classifies = True  # ClassificationTask trains classifiers only

    def __init__(self, n_chans=None, n_outputs=None, n_times=None, sfreq=None, chs_info=None,
                 hidden: int = 4):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        self.conv = nn.Conv1d(self.n_chans, hidden, 5, padding=2)
        self.bn = nn.BatchNorm1d(hidden)
        self.drop = nn.Dropout(0.5)
        self.proj = nn.Linear(hidden, hidden)
        self.final_layer = nn.Linear(hidden, self.n_outputs)

    def forward_features(self, x):
        return self.drop(torch.relu(self.bn(self.conv(x)))).mean(-1)

    def forward_head(self, features):
        return self.final_layer(torch.relu(self.proj(features)))


@pytest.fixture(autouse=True)
def _tiny(monkeypatch):
    monkeypatch.setitem(_registry._MODELS, "tiny_probe", TinyNet)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def source():
    """'Pretrained' weights: a TinyNet trained a little so its BatchNorm statistics are set."""
    torch.manual_seed(0)
    net = TinyNet(n_outputs=2, **SIG)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 32) * 2 + 1)
    return net.eval()


def _loader(n=16):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 3, 32, generator=g)
    y = torch.arange(n) % 2
    x[y == 1, 0] += 1.0
    return DataLoader(TensorDataset(x, y), batch_size=8)


def _fit(task, epochs=1, callbacks=()):
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", callbacks=list(callbacks))
    trainer.fit(task, _loader())
    return trainer


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    after = module.state_dict()
    return {k for k in before if not torch.equal(before[k], after[k])}


def _task(pretrained=None, freeze="none", n_outputs=2, **kw):
    torch.manual_seed(5)
    return ClassificationTask(model="tiny_probe", n_outputs=n_outputs, pretrained=pretrained,
                              freeze=freeze, lr=1e-2, **SIG, **kw)


@pytest.fixture
def weights_file(source, tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(source.state_dict(), path)
    return path


@pytest.fixture
def weights_folder(source, tmp_path):
    return source.save_pretrained(tmp_path / "tiny", data={"ch_names": NAMES})


class _ModeSpy(pl.Callback):
    def __init__(self):
        self.modes = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        net = module.net
        self.modes.append((net.conv.training, net.bn.training, net.drop.training,
                           net.proj.training, net.final_layer.training))


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_linear_probe_trains_only_the_head(kind, source, weights_file, weights_folder):
    pretrained = weights_folder if kind == "folder" else weights_file
    task = _task(pretrained, freeze="backbone", ch_names=NAMES)
    before = _state(task.net)
    assert all(torch.equal(before[k], v) for k, v in source.state_dict().items())  # loaded
    spy = _ModeSpy()
    _fit(task, callbacks=[spy])
    changed = _changed(before, task.net)
    assert changed == {"proj.weight", "proj.bias", "final_layer.weight", "final_layer.bias"}
    # frozen modules ran in eval mode: BatchNorm statistics unchanged, dropout off
    assert spy.modes and set(spy.modes) == {(False, False, False, True, True)}


def test_all_but_head_trains_only_final_layer(weights_file):
    task = _task(weights_file, freeze="all_but_head")
    before = _state(task.net)
    _fit(task)
    assert _changed(before, task.net) == {"final_layer.weight", "final_layer.bias"}


def test_fine_tune_changes_everything_and_from_scratch_ignores_weights(source, weights_folder):
    task = _task(weights_folder, freeze="none")
    before = _state(task.net)
    _fit(task)
    changed = _changed(before, task.net)
    params = {k for k, _ in task.net.named_parameters()}
    assert params | {"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"} <= changed
    scratch = _task(None)
    for name in ("conv.weight", "proj.weight", "final_layer.weight"):  # random, not loaded
        assert not torch.equal(scratch.net.get_parameter(name), source.get_parameter(name))


def test_head_modules_by_mode(source):
    assert head_modules(source, "backbone") == ["proj", "final_layer"]
    assert head_modules(source, "all_but_head") == ["final_layer"]
    with pytest.raises(ConfigError, match="freeze"):
        _task(None, freeze="half")


def test_new_n_outputs_replaces_the_head(source, weights_file, weights_folder):
    for pretrained in (weights_file, weights_folder):
        task = _task(pretrained, n_outputs=3)
        assert task.net.final_layer.out_features == 3
        assert torch.equal(task.net.conv.weight, source.conv.weight)
        assert torch.equal(task.net.proj.weight, source.proj.weight)


def test_data_contract_is_checked_against_the_card(weights_folder):
    with pytest.raises(ConfigError, match="sfreq"):
        ClassificationTask(model="tiny_probe", pretrained=weights_folder, n_outputs=2,
                           n_chans=3, n_times=32, sfreq=128.0)
    with pytest.raises(ConfigError, match="ch_names"):
        _task(weights_folder, ch_names=["C4", "Cz", "C3"])
    with pytest.raises(ConfigError, match="card"):
        _task(weights_folder, model_kwargs={"hidden": 8})
    with pytest.raises(ConfigError, match="eegnet"):
        ClassificationTask(model="eegnet", pretrained=weights_folder, n_outputs=2, **SIG)
    # the card names the model: model may be left out
    task = ClassificationTask(pretrained=weights_folder, n_outputs=2, **SIG)
    assert isinstance(task.net, TinyNet)


def test_checkpoint_and_bad_files(tmp_path, source):
    task = _task(None)
    trainer = _fit(task)
    ckpt = tmp_path / "task.ckpt"
    trainer.save_checkpoint(ckpt)  # keys are "net.<name>"
    again = _task(ckpt)
    assert all(torch.equal(a, b) for a, b in zip(again.net.parameters(), task.net.parameters()))
    state = source.state_dict()
    torch.save({**state, "extra.weight": torch.zeros(1)}, tmp_path / "extra.pt")
    with pytest.raises(ConfigError, match="unexpected: extra.weight"):
        _task(tmp_path / "extra.pt")
    torch.save({k: v for k, v in state.items() if k != "conv.bias"}, tmp_path / "short.pt")
    with pytest.raises(ConfigError, match="missing: conv.bias"):
        _task(tmp_path / "short.pt")
    with pytest.raises(ConfigError, match="task.ckpt: data n_chans does not match the weights: "
                                          "checkpoint n_chans=3, given n_chans=4"):
        ClassificationTask(model="tiny_probe", pretrained=ckpt, n_outputs=2, n_chans=4,
                           n_times=32, sfreq=64.0)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidFileError, match="junk.pt") as err:
        _task(tmp_path / "junk.pt")
    # torch's own text advises weights_only=False (running the file's code): not repeated
    assert "weights_only=True) reads" in str(err.value) and "False" not in str(err.value)
    with pytest.raises(ConfigError, match="neither"):
        _task(tmp_path / "missing.pt")


class TinyAnyLength(TinyNet):
    """TinyNet declared length-agnostic (its conv and mean fit any window length)."""

    registry_name = "tiny_any_length"
    length_agnostic = True


def test_a_checkpoint_checks_its_data_contract_as_a_weights_folder(tmp_path, monkeypatch):
    """A task checkpoint as pretrained: its data (rate, window, channels by name) is checked as
    a weights folder's card is, with the same adapt semantics, before any weight is loaded
    (shapes agree for another channel order or rate: they loaded silently)."""
    monkeypatch.setitem(_registry._MODELS, "tiny_any_length", TinyAnyLength)
    ckpts = {}
    for name in ("tiny_probe", "tiny_any_length"):
        task = ClassificationTask(model=name, n_outputs=2, ch_names=NAMES, **SIG)
        trainer = pl.Trainer(max_steps=0, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False)
        trainer.strategy.connect(task)
        ckpts[name] = tmp_path / f"{name}.ckpt"
        trainer.save_checkpoint(ckpts[name])

    def build(name, adapt=False, **kw):
        signal = {**SIG, "ch_names": NAMES, **kw}
        return ClassificationTask(pretrained=ckpts[name], n_outputs=2, adapt=adapt, **signal)

    with pytest.raises(ConfigError, match=r"tiny_probe.ckpt: data ch_names does not match the "
                                          r"weights: checkpoint ch_names=\['C3', 'Cz', 'C4'\]"):
        build("tiny_probe", ch_names=NAMES[::-1])  # same channel count, another order
    with pytest.raises(ConfigError, match=r"to the checkpoint's channel layout \(adapt=True "
                                          "cannot change it"):  # the hint said "the card's"
        build("tiny_probe", adapt=True, ch_names=NAMES[::-1])  # tied to its channel layout
    with pytest.raises(ConfigError, match="checkpoint sfreq=64.0, given sfreq=128.0"):
        build("tiny_probe", sfreq=128.0)  # another rate, the same n_times
    with pytest.raises(ConfigError, match="built for one window length"):
        build("tiny_probe", n_times=48, adapt=True)
    with pytest.raises(ConfigError, match="adapt=True rebuilds it"):
        build("tiny_any_length", n_times=48)
    again = build("tiny_any_length", n_times=48, adapt=True)
    assert again.net.n_times == 48
    saved = torch.load(ckpts["tiny_any_length"], weights_only=True)["state_dict"]
    assert torch.equal(again.net.conv.weight, saved["net.conv.weight"])
    assert isinstance(build("tiny_probe").net, TinyNet)  # the same data: loads


def test_gradual_unfreezing_with_lightning_backbone_finetuning(weights_file):
    from lightning.pytorch.callbacks import BackboneFinetuning

    task = _task(weights_file)
    snapshots = {}

    class _Snap(pl.Callback):
        def on_train_epoch_end(self, trainer, module):
            snapshots[trainer.current_epoch] = _state(module.net)

    before = _state(task.net)
    _fit(task, epochs=2, callbacks=[BackboneFinetuning(unfreeze_backbone_at_epoch=1), _Snap()])
    first = {k for k in before if not torch.equal(before[k], snapshots[0][k])}
    # epoch 0: the head trains, the conv not (Lightning's freeze keeps BatchNorm trainable)
    assert {"proj.weight", "final_layer.weight"} <= first and not first & {"conv.weight",
                                                                           "conv.bias"}
    second = {k for k in before if not torch.equal(snapshots[0][k], snapshots[1][k])}
    assert {"conv.weight", "conv.bias"} <= second  # the backbone trains from epoch 1


def test_task_saves_its_network_with_the_data_contract(tmp_path):
    from biosig.models.weights import load_card

    task = _task(None, ch_names=NAMES)
    folder = task.save_pretrained(tmp_path / "out", metrics={"acc": 0.5})
    card = load_card(folder)
    assert card["data"]["ch_names"] == NAMES and card["data"]["sfreq"] == 64.0
    again = _task(folder, freeze="backbone", ch_names=NAMES)
    assert torch.equal(again.net.conv.weight, task.net.conv.weight)


def test_a_fine_tuned_network_s_card_keeps_the_pretraining_recipe_apart(source, tmp_path):
    """Weights loaded from a folder, fine-tuned by a task and saved kept the folder's recipe as
    their own; it is now the card's recipe["pretraining"], beside the recipe given."""
    from biosig.models.weights import load_card

    folder = source.save_pretrained(tmp_path / "pre", data={"ch_names": NAMES},
                                    recipe={"data": "pretraining set"})
    task = _task(folder)
    _fit(task)
    card = load_card(task.save_pretrained(tmp_path / "tuned", recipe={"data": "target set"}))
    assert card["recipe"] == {"data": "target set", "pretraining": {"data": "pretraining set"}}


def test_task_card_says_whether_the_outputs_are_sigmoids_or_one_softmax(tmp_path):
    """A card did not say whether its classifier was trained multi-label (a sigmoid per class)
    or single-label (one softmax), so whoever scored with it had to guess."""
    from biosig.models.weights import load_card

    for multilabel in (True, False):
        folder = _task(None, multilabel=multilabel).save_pretrained(tmp_path / f"{multilabel}")
        assert load_card(folder)["data"]["multilabel"] is multilabel
    with pytest.raises(ConfigError, match=r"data says multilabel=True, but this task was "
                                          r"trained with multilabel=False"):
        _task(None).save_pretrained(tmp_path / "x", data={"multilabel": True})


# Every registered classifier, small: linear probe through the contract, for every model.
CLASSIFIERS = {
    "cvd_cnn": dict(n_chans=12, n_times=250, sfreq=100.0),
    "dbconformer": dict(n_chans=4, n_times=250, sfreq=250.0),
    "dbconformer_loso": dict(n_chans=4, n_times=250, sfreq=250.0),
    "eegconformer": dict(n_chans=4, n_times=250, sfreq=250.0),
    **{name: dict(n_chans=3, n_times=250, sfreq=250.0, model_kwargs=dict(
        emb_size=16, n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=8, patch_len=20,
        patch_stride=10)) for name in ("eegformer", "eegformer_s", "eegformer_b", "eegformer_l")},
    "eegdm": dict(n_chans=2, n_times=40, sfreq=10.0, model_kwargs=dict(
        lft=dict(n_heads=2), backbone=dict(n_layers=2, d_model=8, d_state=4))),
    "eegnet": dict(n_chans=4, n_times=250, sfreq=250.0),
    "shallowfbcspnet": dict(n_chans=4, n_times=250, sfreq=250.0),
}
NOT_CLASSIFIERS = {"ecgnet", "ecgnet_critic", "hveegnet", "veegnet", "tiny_probe", "ssmdp", "lft"}


def test_every_registered_model_is_covered():
    from biosig.models import list_models

    assert set(list_models()) == set(CLASSIFIERS) | NOT_CLASSIFIERS


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_linear_probe_of_every_classifier(name):
    torch.manual_seed(0)
    sig = CLASSIFIERS[name]
    task = ClassificationTask(model=name, n_outputs=2, freeze="backbone", **sig)
    heads = head_modules(task.net, "backbone")
    before = _state(task.net)
    x = torch.randn(4, sig["n_chans"], sig["n_times"])
    loader = DataLoader(TensorDataset(x, torch.tensor([0, 1, 0, 1])), batch_size=4)
    pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, accelerator="cpu").fit(task, loader)
    changed = _changed(before, task.net)
    assert changed and all(any(k.startswith(h + ".") for h in heads) for k in changed), changed


def test_cli_links_the_data_contract_and_fine_tunes_a_weights_folder(tmp_path):
    """biosig fit with model.pretrained + freeze: the card is checked against the linked data."""
    from pathlib import Path

    from biosig.cli import lightning_cli

    recipe = Path(__file__).resolve().parents[2] / "recipes/synthetic/eegnet.yaml"
    tiny = ["--config", str(recipe), "--data.source.init_args.n_subjects", "1",
            "--data.source.init_args.n_trials_per_class", "4", "--data.batch_size", "4",
            "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.max_epochs", "1",
            "--data.cache_dir", str(tmp_path / "cache"),
            "--trainer.default_root_dir", str(tmp_path / "run")]
    first = lightning_cli(tiny, run=False)
    assert first.model.ch_names == first.datamodule.ch_names  # linked from the data
    folder = first.model.save_pretrained(tmp_path / "eegnet")
    before = _state(first.model.net)
    cli = lightning_cli(["fit", *tiny, "--model.init_args.pretrained", str(folder),
                         "--model.init_args.freeze", "backbone"])
    changed = _changed(before, cli.model.net)
    heads = head_modules(cli.model.net, "backbone")
    assert changed and all(any(k.startswith(h + ".") for h in heads) for k in changed)
    with pytest.raises(ValueError, match="sfreq does not match"):  # jsonargparse wraps it
        lightning_cli([*tiny, "--model.init_args.pretrained", str(folder),
                       "--data.source.init_args.sfreq", "128"], run=False)


def test_task_checkpoint_of_a_wrapped_baseline_loads_as_pretrained(tmp_path):
    """eegnet keeps braindecode's network in ``net``: a task checkpoint's ``net.net.*`` keys
    still load (the task prefix is stripped by key overlap, not by name)."""
    torch.manual_seed(0)
    sig = dict(n_chans=4, n_times=250, sfreq=250.0, n_outputs=2)
    task = ClassificationTask(model="eegnet", **sig)
    path = tmp_path / "task.pt"
    torch.save({"state_dict": task.state_dict()}, path)
    again = ClassificationTask(model="eegnet", pretrained=str(path), **sig)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in task.state_dict().items())


def test_eegdm_head_is_found_for_all_but_head():
    task = ClassificationTask(model="eegdm", freeze="all_but_head", n_outputs=2,
                              **CLASSIFIERS["eegdm"])
    trainable = {n for n, p in task.net.named_parameters() if p.requires_grad}
    assert trainable == {"lft.final_layer.weight", "lft.final_layer.bias"}


def test_vae_from_a_weights_folder_gets_no_classifier(tmp_path):
    from biosig.tasks import VAETask

    sig = dict(n_chans=3, n_times=100, sfreq=100.0)
    VAETask(model="hveegnet", **sig).save_pretrained(tmp_path / "vae")
    task = VAETask(pretrained=str(tmp_path / "vae"), n_outputs=4, **sig)
    assert task.net.classifier is None


def test_freezing_without_pretrained_weights_is_warned_about():
    """freeze="backbone" without pretrained trained a head on random features, silently."""
    with pytest.warns(UserWarning, match=r"freeze='backbone' without model.pretrained"):
        _task(freeze="backbone")


def test_the_card_records_the_datamodule_s_channels_and_preprocessing(tmp_path):
    """A task trained on a DataModule wrote "ch_names": null, "preprocessing": null unless
    ch_names was passed by hand: a reloaded model could not say it expects EA-aligned input."""
    from biosig.data import Bandpass, BiosigDataModule, PickChannels, RandomSplit
    from biosig.datasets import SyntheticMI
    from biosig.models.weights import load_card, load_pretrained

    dm = BiosigDataModule(SyntheticMI(n_subjects=2, n_trials_per_class=4, sessions=["T"]),
                          preprocessing=[PickChannels(types=["eeg"]), Bandpass(4.0, 38.0)],
                          protocol=RandomSplit(val_fraction=0.25, test_fraction=0.25, by=None),
                          alignment="ea", batch_size=8, cache_dir=str(tmp_path / "c"))
    dm.setup()
    task = ClassificationTask("eegnet", n_chans=dm.n_chans, n_times=dm.n_times, sfreq=dm.sfreq,
                              n_outputs=dm.n_outputs)
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, dm)
    card = load_card(task.save_pretrained(tmp_path / "w"))["data"]
    assert card["ch_names"] == dm.ch_names and card["preprocessing"]["alignment"] == "ea"
    assert task.net.ch_names == dm.ch_names  # the task named none: the DataModule's
    assert [s["step"] for s in card["preprocessing"]["steps"]] == ["PickChannels", "Bandpass"]
    # from a checkpoint (no DataModule then: the EEGFormer recipe's route), the same card
    trainer.save_checkpoint(tmp_path / "t.ckpt")
    loaded = ClassificationTask.load_from_checkpoint(tmp_path / "t.ckpt")
    assert load_card(loaded.save_pretrained(tmp_path / "w2"))["data"] == card
    with pytest.raises(ConfigError, match="preprocessing"):
        load_pretrained(tmp_path / "w", data={"preprocessing": {"steps": [],
                                                                "alignment": None}})


def test_fitting_on_otherwise_preprocessed_data_warns_with_both(tmp_path):
    """The card records the pretraining's steps, but only its rate, window and channels were
    compared: a downstream DataModule band-passed otherwise (EEGMAT: the card said 0.5-45 Hz
    and 128 Hz, the data 20-40 Hz) trained without a word."""
    from biosig.data import Bandpass, BiosigDataModule, PickChannels, RandomSplit
    from biosig.datasets import SyntheticMI

    def data(low):
        return BiosigDataModule(SyntheticMI(n_subjects=2, n_trials_per_class=4, sessions=["T"]),
                                preprocessing=[PickChannels(types=["eeg"]), Bandpass(low, 38.0)],
                                protocol=RandomSplit(val_fraction=0.25, test_fraction=0.25,
                                                     by=None),
                                batch_size=8, cache_dir=str(tmp_path / "c"))

    def fit(task, dm):
        pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                   enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, accelerator="cpu").fit(task, dm)

    first = data(4.0)
    first.setup()
    task = ClassificationTask("eegnet", n_chans=first.n_chans, n_times=first.n_times,
                              sfreq=first.sfreq, n_outputs=first.n_outputs)
    fit(task, first)
    folder = task.save_pretrained(tmp_path / "w")
    sig = dict(n_chans=first.n_chans, n_times=first.n_times, sfreq=first.sfreq,
               n_outputs=first.n_outputs)
    with pytest.warns(UserWarning, match=r"model.model: the weights in .*w were pretrained on "
                                         r"data preprocessed as .*'low': 4.0.*, this DataModule's "
                                         r"is .*'low': 8.0.*transfer may suffer"):
        fit(ClassificationTask(pretrained=str(folder), **sig), data(8.0))
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*pretrained on data preprocessed as")
        fit(ClassificationTask(pretrained=str(folder), **sig), data(4.0))  # the same: quiet


def test_a_task_s_network_knows_the_data_s_channel_names(tmp_path):
    """A network built by a task given ch_names named no channels (only one loaded from a card
    did): its own save_pretrained wrote "ch_names": null and its order was not checkable."""
    from biosig.models.weights import load_card

    task = _task(None, ch_names=NAMES)
    assert task.net.ch_names == NAMES
    assert load_card(task.net.save_pretrained(tmp_path / "net"))["data"]["ch_names"] == NAMES
    trainer = pl.Trainer(max_epochs=0, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, _loader())
    trainer.save_checkpoint(tmp_path / "t.ckpt")
    loaded = ClassificationTask.load_from_checkpoint(tmp_path / "t.ckpt")
    assert loaded.net.ch_names == NAMES  # rebuilt from its config: named again
    assert _task(None).net.ch_names is None  # channels unknown: unnamed, as before


class _NamedData(pl.LightningDataModule):
    """A DataModule whose records have the channels ``ch_names``."""

    def __init__(self, ch_names):
        super().__init__()
        self.ch_names = ch_names

    def train_dataloader(self):
        return _loader()


def _start_fit(task, ch_names):
    """Run the fit's start (on_fit_start, where the DataModule's names reach the networks)."""
    pl.Trainer(max_epochs=0, logger=False, enable_progress_bar=False, enable_model_summary=False,
               enable_checkpointing=False, accelerator="cpu").fit(task, datamodule=_NamedData(
                   ch_names))


def test_a_network_naming_other_channels_than_the_data_is_refused():
    """A network that names its channels itself (chs_info in model_kwargs; built in, as ECGNet's
    leads) kept its names whatever the task's or the DataModule's ch_names were: data in
    another channel order trained, and were scored, silently wrong."""
    named = {"chs_info": [{"ch_name": c} for c in NAMES]}
    with pytest.raises(ConfigError, match=r"^model.model: the data's channels \['C4', 'Cz', "
                                          r"'C3'\] are not those TinyNet names, \['C3', 'Cz', "
                                          r"'C4'\]: same channels in another order \(first "
                                          r"difference at position 0: 'C4' instead of 'C3'\)"):
        _task(model_kwargs=named, ch_names=NAMES[::-1])
    assert _task(model_kwargs=named, ch_names=NAMES).net.ch_names == NAMES  # same order: fine
    with pytest.raises(ConfigError, match=r"^the DataModule's ch_names \(task.net\): the data's "
                                          r"channels \['C3', 'Pz', 'C4'\] are not those TinyNet "
                                          r"names.*missing \['Cz'\]; extra \['Pz'\]"):
        _start_fit(_task(model_kwargs=named), ["C3", "Pz", "C4"])  # the task given no names
    with pytest.raises(ConfigError, match=r"^the DataModule's ch_names \(task.net\): .*another "
                                          r"order"):
        _start_fit(_task(ch_names=NAMES), NAMES[::-1])  # the DataModule contradicts the task
    task = _task(model_kwargs=named)
    _start_fit(task, NAMES)
    _start_fit(task, None)  # channels unnamed: nothing to compare
    assert task.net.ch_names == NAMES


def test_channel_names_not_one_per_channel_of_the_network_are_refused():
    """A DataModule naming 4 channels for a 3-channel network left the network unnamed without
    a word (keep_ch_names ignored names of another count)."""
    task = _task()
    with pytest.raises(ConfigError, match=r"^the DataModule's ch_names \(task.net\): TinyNet: 4 "
                                          r"channel names \['C3', 'Cz', 'C4', 'Pz'\] for "
                                          r"n_chans=3 channels"):
        _start_fit(task, [*NAMES, "Pz"])
    assert task.net.ch_names is None
    _start_fit(task, NAMES)
    assert task.net.ch_names == NAMES
