"""VQ pretraining task (EEGFormer): a few Lightning steps on tiny data, codebook statistics."""

import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from _task_fixtures import quiet_trainer
from biosig.errors import ConfigError
from biosig.tasks import VQTask

torch.set_num_threads(1)
TINY = dict(patch_len=20, patch_stride=10, emb_size=32, n_heads=4, encoder_depth=1,
            decoder_depth=1, n_codes=16)


def _loader(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 250, generator=g).cumsum(-1)  # brown-ish noise, labels ignored
    return DataLoader(TensorDataset(x, torch.zeros(n, dtype=torch.long)), batch_size=8)


def test_fits_a_few_steps_and_logs_codebook_statistics(tmp_path):
    torch.manual_seed(0)
    task = VQTask("eegformer_s", dict(TINY, ema=True, data_init=True, dead_after=3),
                  n_chans=3, n_times=250, sfreq=250.0, lr=3e-3, scheduler="cosine",
                  warmup_steps=2)
    assert task.net.n_outputs is None  # pretraining: no head
    before = task.net.patch_embed.weight.detach().clone()
    trainer = quiet_trainer(tmp_path, max_epochs=3, num_sanity_val_steps=1)
    trainer.fit(task, _loader(), _loader(8, seed=1))
    m = trainer.callback_metrics
    for stage in ("train", "val"):
        for key in ("loss", "recon", "vq", "commitment", "codebook", "perplexity",
                    "code_usage", "dead_codes"):
            assert math.isfinite(float(m[f"{stage}_{key}"])), f"{stage}_{key}"
        assert 1.0 <= float(m[f"{stage}_perplexity"]) <= 16
        assert float(m[f"{stage}_dead_codes"]) == 16 - round(16 * float(m[f"{stage}_code_usage"]))
    assert float(m["train_codebook"]) == 0.0  # EMA codebook: no codebook loss term
    assert not torch.equal(before, task.net.patch_embed.weight)
    test = trainer.test(task, _loader(8, seed=2), verbose=False)[0]
    assert test["test_code_usage"] > 0
    assert sorted(k.removeprefix("test_") for k in test) == sorted(VQTask.test_metric_names({}))
    pred = trainer.predict(task, _loader(4, seed=3))[0]
    assert pred["indices"].shape == (4, 3, task.net.n_patches)
    assert pred["recon_error"].shape == (4, 3) and (pred["recon_error"] >= 0).all()


def test_gradient_codebook_gets_a_codebook_loss(tmp_path):
    torch.manual_seed(0)
    task = VQTask("eegformer_s", TINY, n_chans=3, n_times=250)
    trainer = quiet_trainer(tmp_path, max_steps=2, limit_val_batches=0)
    before = task.net.quantizer.codebook.detach().clone()
    trainer.fit(task, _loader())
    assert float(trainer.callback_metrics["train_codebook"]) > 0
    assert not torch.equal(before, task.net.quantizer.codebook)


def test_rejects_models_without_a_quantizer_and_bad_options():
    with pytest.raises(ConfigError, match="vector-quantised"):
        VQTask("eegnet", n_chans=3, n_times=250, n_outputs=2)
    with pytest.raises(ConfigError, match="scheduler"):
        VQTask("eegformer_s", TINY, n_chans=3, n_times=250, scheduler="step")


def test_pretrain_save_then_linear_probe_and_channel_adaptation(tmp_path):
    """The pretrain -> transfer pipeline: VQ pretraining, a weights folder with its card, a
    linear probe that trains only the new head; another montage is adapted by name (the
    encoder is channel-independent), another sampling rate is refused."""
    from biosig.models.weights import load_pretrained
    from biosig.tasks import ClassificationTask

    torch.manual_seed(0)
    names = ["Fz", "Cz", "Pz"]
    task = VQTask("eegformer_s", TINY, n_chans=3, n_times=250, sfreq=250.0, ch_names=names,
                  lr=3e-3)
    quiet_trainer(tmp_path, max_epochs=1).fit(task, _loader())
    folder = task.save_pretrained(tmp_path / "weights")
    card = (folder / "card.json").read_text()
    assert '"sfreq": 250.0' in card and '"Cz"' in card

    probe = ClassificationTask(pretrained=str(folder), freeze="backbone", n_chans=3, n_times=250,
                               sfreq=250.0, n_outputs=2, ch_names=names, lr=1e-2)
    encoder = {k: v.clone() for k, v in probe.net.state_dict().items() if "final_layer" not in k}
    x = torch.randn(8, 3, 250)
    loader = DataLoader(TensorDataset(x, torch.tensor([0, 1] * 4)), batch_size=4)
    quiet_trainer(tmp_path, max_epochs=2).fit(probe, loader)
    after = probe.net.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in encoder.items())
    assert probe.net.final_layer.weight.requires_grad

    sub = load_pretrained(folder, data={"ch_names": ["Pz", "Fz"], "sfreq": 250.0}, adapt=True)
    assert sub.n_chans == 2 and sub.ch_names == ["Pz", "Fz"]
    # a new montage, with channels the card lacks: the probe of a 64-channel dataset
    new = ["Fp1", "Cz", "O1", "O2"]
    probe = ClassificationTask(pretrained=str(folder), freeze="backbone", n_chans=4,
                               n_times=250, sfreq=250.0, n_outputs=2, ch_names=new, adapt=True)
    assert probe.net.ch_names == new and probe(torch.randn(2, 4, 250)).shape == (2, 2)
    with pytest.raises(ConfigError, match="sfreq"):
        load_pretrained(folder, data={"sfreq": 200.0}, adapt=True)


def test_codebook_statistics_are_logged_as_synced(monkeypatch):
    """The codebook values are computed from counts summed over the ranks; logged without
    sync_dist, Lightning warned under DDP for each of them, every epoch's stage."""
    task = VQTask("eegformer_s", TINY, n_chans=3, n_times=250)
    logged = {}
    monkeypatch.setattr(task, "log_dict", lambda values, **kw: logged.update(keys=values, **kw))
    task._counts["train"] = torch.tensor([3, 0, 1] + [0] * 13)
    task._log_codebook("train")
    assert set(logged["keys"]) == {"train_perplexity", "train_code_usage", "train_dead_codes"}
    assert logged.get("sync_dist") is True
