"""DiffusionTask: a tiny SSMDP learns (validation loss drops), EMA callback, sampling in µV."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from biosig.errors import ConfigError
from biosig.tasks import DiffusionTask
from biosig.callbacks import WarmupEMA

TINY = dict(n_layers=2, d_model=16, d_state=8, d_embed=8, d_cond=16)


def _windows(n: int = 32, c: int = 2, t: int = 64, seed: int = 0) -> torch.Tensor:
    """Alpha-like bursts in µV: channel-dependent frequency, random phase and amplitude."""
    g = torch.Generator().manual_seed(seed)
    time = torch.arange(t) / 64.0
    freq = torch.tensor([6.0, 10.0])[:c, None]
    phase = 2 * math.pi * torch.rand(n, c, 1, generator=g)
    amp = 40 + 30 * torch.rand(n, c, 1, generator=g)
    noise = 5 * torch.randn(n, c, t, generator=g)
    return amp * torch.sin(2 * math.pi * freq * time + phase) + noise


def _val_loss(task: DiffusionTask, x: torch.Tensor) -> float:
    task.eval()
    with torch.no_grad():
        loss = float(task.diffusion_loss(x, torch.Generator().manual_seed(0)))
    task.train()
    return loss


def test_tiny_ssmdp_pretraining_lowers_the_validation_loss(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    task = DiffusionTask(n_chans=2, n_times=64, sfreq=64.0, model_kwargs=TINY, lr=3e-3)
    train, val = _windows(64), _windows(16, seed=1)
    before = _val_loss(task, val)
    ema = WarmupEMA(update_after_step=5, update_every=2)
    trainer = pl.Trainer(max_steps=60, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         gradient_clip_val=1.0, callbacks=[ema], default_root_dir=tmp_path)
    trainer.fit(task, DataLoader(TensorDataset(train), batch_size=16, shuffle=True))
    after = _val_loss(task, val)  # the EMA weights, copied in at the end of training
    assert after < 0.8 * before, (before, after)
    assert ema.step_idx == 58 and 0 < ema.decay() < 0.999


def test_sampling_in_microvolts_and_channel_subsampling():
    torch.manual_seed(0)
    task = DiffusionTask(n_chans=3, n_times=32, sfreq=32.0, model_kwargs=TINY,
                         channels_per_window=2)
    y, ids = task._samples(_windows(4, c=2, t=32).repeat(1, 2, 1)[:, :3])
    assert y.shape == (8, 1, 32) and ids.shape == (8, 1)
    assert all(len(set(row)) == 2 for row in ids.reshape(4, 2).tolist())
    g = torch.Generator().manual_seed(0)
    a = task.sample(2, generator=g)
    b = task.sample(2, method="ddim", steps=5)
    assert a.shape == b.shape == (2, 3, 32) and torch.isfinite(a).all()
    assert a.abs().max() <= 100.0 + 1e-3  # x0 clipped at 1 -> at most 1 / input_scale µV
    with pytest.raises(ConfigError):
        DiffusionTask(n_chans=2, n_times=32, model_kwargs=TINY, channels_per_window=3)
    with pytest.raises(ConfigError, match="denoiser"):
        DiffusionTask(model="eegnet", n_chans=2, n_times=128, n_outputs=2)


def test_ssm_parameters_get_no_weight_decay():
    task = DiffusionTask(n_chans=2, n_times=32, model_kwargs=TINY, weight_decay=0.1)
    opt = task.configure_optimizers()
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert len(plain["params"]) == 4 * TINY["n_layers"]
    assert opt.defaults["betas"] == (0.9, 0.999)
