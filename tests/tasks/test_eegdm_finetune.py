"""The LFT fine-tuning setup as ClassificationTask settings: weight-decay exemptions, OneCycle."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from biosig.errors import ConfigError
from biosig.models import LFT
from biosig.tasks import ClassificationTask
from biosig.tasks.base import make_optimizer, no_weight_decay_parameters

SMALL = dict(backbone=dict(n_layers=2, d_model=8, d_state=4, d_embed=4, d_cond=8),
             lft=dict(n_heads=2, n_fusion_tokens=2, n_classifier_blocks=1))
SETUP = dict(model="eegdm", model_kwargs=SMALL, n_chans=2, n_times=40, sfreq=10.0, n_outputs=3,
             label_smoothing=0.1, optimizer="adamw", betas=(0.9, 0.98), weight_decay=0.05,
             lr=5e-4, scheduler="onecycle", pct_start=0.1)


def _names(module: nn.Module, params) -> set[str]:
    ids = {id(p) for p in params}
    return {n for n, p in module.named_parameters() if id(p) in ids}


def test_lft_exemptions_are_the_official_ones():
    m = LFT(n_chans=2, n_outputs=3, n_pools=2, n_layers=2, d_model=8, n_heads=2,
            n_fusion_tokens=2, n_classifier_blocks=1)
    opt = make_optimizer(m.parameters(), "adamw", 1e-3, 0.05, betas=(0.9, 0.98), module=m)
    decayed, exempt = opt.param_groups
    assert decayed["weight_decay"] == 0.05 and exempt["weight_decay"] == 0.0
    assert decayed["betas"] == exempt["betas"] == (0.9, 0.98)
    exempt_names = _names(m, exempt["params"])
    assert "fusion_tokens" in exempt_names and "final_layer.bias" in exempt_names
    assert all(p.ndim <= 1 for n, p in m.named_parameters()
               if n in exempt_names and n != "fusion_tokens")
    decayed_names = _names(m, decayed["params"])
    assert {"pos_embedding", "final_layer.weight"} <= decayed_names  # pos. embedding decays
    assert all(p.ndim >= 2 for n, p in m.named_parameters() if n in decayed_names)
    assert len(decayed_names) + len(exempt_names) == len(list(m.parameters()))


def test_eegdm_task_optimises_the_lft_only_with_nested_exemptions():
    task = ClassificationTask(**SETUP)
    opt = make_optimizer(task.trainable_parameters(), "adamw", 5e-4, 0.05, module=task.net)
    groups = [_names(task.net, g["params"]) for g in opt.param_groups]
    assert all(n.startswith("lft.") for g in groups for n in g)  # frozen backbone left out
    assert "lft.fusion_tokens" in groups[1] and "lft.pos_embedding" in groups[0]
    # the backbone's own hook (S4D dt/A/B) is found through the nested modules too
    ssm = {id(p) for p in task.net.backbone.ssm_parameters()}
    assert ssm and ssm <= no_weight_decay_parameters(task.net)


def test_a_hook_naming_an_unknown_parameter_and_bad_betas_are_errors():
    class Bad(nn.Linear):
        def no_weight_decay(self):
            return {"weight", "scale"}

    with pytest.raises(ConfigError, match="'scale'"):
        make_optimizer(Bad(2, 2).parameters(), "adamw", 1e-3, 0.1, module=Bad(2, 2))
    with pytest.raises(ConfigError, match="betas"):
        make_optimizer(nn.Linear(2, 2).parameters(), "sgd", 1e-3, 0.0, betas=(0.9, 0.98))
    with pytest.raises(ConfigError, match="betas"):
        make_optimizer(nn.Linear(2, 2).parameters(), "adamw", 1e-3, 0.0, betas=(0.9, 1.5))
    with pytest.raises(ConfigError, match="pct_start"):
        ClassificationTask(**{**SETUP, "pct_start": 1.0})


class _LR(pl.Callback):
    def __init__(self):
        self.lrs, self.beta1 = [], []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        group = trainer.optimizers[0].param_groups[0]
        self.lrs.append(group["lr"])
        self.beta1.append(group["betas"][0])


def test_onecycle_warms_up_to_the_peak_then_anneals_per_batch(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    task = ClassificationTask(**SETUP)
    data = TensorDataset(50 * torch.randn(20, 2, 40), torch.arange(20) % 3)
    lrs = _LR()
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=3.0, callbacks=[lrs],
                         default_root_dir=tmp_path)
    trainer.fit(task, DataLoader(data, batch_size=2))  # 10 steps per epoch, 20 in all
    lr = lrs.lrs
    assert len(lr) == 20
    assert lr[0] == pytest.approx(5e-4 / 25)  # OneCycle's start: max_lr / div_factor
    assert max(lr) == pytest.approx(5e-4, rel=1e-3) and lr.index(max(lr)) == 1
    # (PyTorch: the peak at step pct_start * total - 1 = 1 of 20)
    assert all(a > b for a, b in zip(lr[2:], lr[3:]))  # cosine annealing afterwards
    assert lr[-1] < 5e-4 / 25
    assert lrs.beta1[0] == pytest.approx(0.95) and min(lrs.beta1) == pytest.approx(0.85)
    assert trainer.optimizers[0].param_groups[0]["betas"][1] == 0.98


def _fit(tmp_path, loader, **trainer_kwargs):
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        **{"max_epochs": 1, **trainer_kwargs},
    )
    trainer.fit(ClassificationTask(**SETUP), loader)


def test_a_training_set_smaller_than_one_drop_last_batch_is_a_config_error(tmp_path):
    torch.set_num_threads(1)
    data = TensorDataset(torch.randn(18, 2, 40), torch.arange(18) % 3)
    want = r"training set \(18 windows\) is smaller than one batch \(32\) with drop_last.*most 18"
    with pytest.raises(ConfigError, match=want):
        _fit(tmp_path, DataLoader(data, batch_size=32, drop_last=True))
    with pytest.raises(ConfigError, match=r"no optimiser step \(limit_train_batches=0"):
        _fit(tmp_path, DataLoader(data, batch_size=6), limit_train_batches=0)
