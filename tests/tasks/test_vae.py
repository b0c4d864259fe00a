"""VAETask: losses, KL warm-up, optimiser defaults, figures, and a short fit on built-in data."""

from __future__ import annotations

import math
from fnmatch import fnmatchcase

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _task_fixtures import FigureLogger
from torch.utils.data import DataLoader, TensorDataset

from biosig.errors import ConfigError
from biosig.losses import SoftDTWLoss
from biosig.tasks.vae import VAETask


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def _loader(n=12, c=3, t=100, bs=4, seed=0, shuffle=False):
    g = torch.Generator().manual_seed(seed)
    tt = torch.arange(t) / 100.0
    x = 10 * torch.sin(2 * math.pi * (8 + 4 * torch.rand(n, c, 1, generator=g)) * tt)
    x = x + torch.randn(n, c, t, generator=g)
    return DataLoader(TensorDataset(x, torch.zeros(n, dtype=torch.long)), batch_size=bs,
                      shuffle=shuffle)


def _task(**kw):
    torch.manual_seed(0)
    base = dict(model="hveegnet", n_chans=3, n_times=100, sfreq=100.0, n_outputs=2)
    base.update(kw)
    return VAETask(**base)


@pytest.mark.filterwarnings("ignore:.*self.trainer. reference is not registered")
@pytest.mark.parametrize("recon", ["soft_dtw", "soft_dtw_divergence", "mse"])
def test_step_losses(recon):
    task = _task(recon_loss=recon)
    x, y = next(iter(_loader()))
    torch.manual_seed(1)
    loss = task._step((x, y), "val")
    torch.manual_seed(1)
    out = task.net(x)
    rec = task.reconstruction_loss(out.x_hat, x)
    if recon == "soft_dtw":
        torch.testing.assert_close(rec, SoftDTWLoss(1.0)(out.x_hat, x))  # mean B, sum C
    elif recon == "mse":
        torch.testing.assert_close(rec, ((out.x_hat - x) ** 2).mean())
    expected = rec + out.kl_total().mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()


def test_defaults_follow_the_paper():
    task = _task()
    assert task.hparams.recon_loss == "soft_dtw" and task.hparams.gamma_dtw == 1.0
    assert task.hparams.alpha == task.hparams.beta == 1.0
    conf = task.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["lr"] == 1e-2 and opt.defaults["weight_decay"] == 1e-2
    assert isinstance(sched["scheduler"], torch.optim.lr_scheduler.ExponentialLR)
    assert sched["scheduler"].gamma == 0.999 and sched["interval"] == "epoch"
    assert isinstance(_task(model="veegnet").net, torch.nn.Module)


def test_bad_config():
    with pytest.raises(ConfigError, match="recon_loss"):
        _task(recon_loss="l1")
    with pytest.raises(ConfigError, match="gamma_dtw"):
        _task(gamma_dtw=0.0)
    with pytest.raises(ConfigError, match="n_chans"):
        VAETask(model="hveegnet", n_chans=0, n_times=100)
    with pytest.raises(ConfigError, match="model.model"):
        VAETask(n_chans=3, n_times=100, sfreq=100.0)
    with pytest.raises(ConfigError, match="edge_samples"):
        _task(edge_samples_ignored=50)


def test_fit_with_kl_warmup_and_figures(tmp_path):
    from biosig.callbacks import ReconstructionFigures

    task = _task(kl_warmup_epochs=2, edge_samples_ignored=5)
    logger = FigureLogger()
    trainer = pl.Trainer(max_epochs=2, logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path, num_sanity_val_steps=0,
                         callbacks=[ReconstructionFigures()])
    weights = []

    class _Spy(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            weights.append(module.kl_weight())

    trainer.callbacks.append(_Spy())
    trainer.fit(task, _loader(shuffle=True), _loader(n=4, seed=1))
    # linear warm-up over 2 epochs of 3 batches: 0, 1/6, ..., 5/6
    np.testing.assert_allclose(weights, np.arange(6) / 6.0)
    assert [f[0] for f in logger.figures] == ["reconstruction", "reconstruction"]
    assert len(logger.figures[0][1].axes) == 3 * 2  # 3 channels x (trial + generated)
    logged = set().union(*[m.keys() for m in logger.metrics])
    assert {"train_loss", "val_loss", "val_recon", "val_kl", "val_kl1", "val_kl3"} <= logged
    # the learning rate decays by 0.999 per epoch
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert lr == pytest.approx(1e-2 * 0.999**2)
    res = trainer.test(task, _loader(n=4, seed=2), verbose=False)[0]
    assert {"test_loss", "test_mse", "test_corr"} <= set(res)
    # biosig run checks its metric names against the declared ones
    declared = VAETask.test_metric_names({})
    assert all(any(fnmatchcase(k.removeprefix("test_"), n) for n in declared) for k in res), res
    pred = trainer.predict(task, _loader(n=4, seed=2))
    assert pred[0]["x_hat"].shape == (4, 3, 100) and pred[0]["sq_error"].shape == (4, 3)
