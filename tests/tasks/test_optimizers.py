"""The tasks' optimisers are PyTorch's fused ones where PyTorch has them: the same update, and
gradient clipping still works under bf16 autocast (Lightning refuses it for fused optimisers)."""

from __future__ import annotations

from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch

from biosig.tasks import ClassificationTask, GANTask
from biosig.tasks.base import make_optimizer
from tests._task_fixtures import quiet_trainer

SIGNAL = dict(n_chans=3, n_times=128, sfreq=128.0, n_outputs=2)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_make_optimizer_is_fused_where_pytorch_has_a_fused_kernel(name):
    cpu = [torch.nn.Parameter(torch.randn(3))]
    assert make_optimizer(cpu, name, 1e-3, 0.0).defaults["fused"] is True
    assert not make_optimizer(cpu, name, 1e-3, 0.0, fused=False).defaults["fused"]
    meta = [torch.nn.Parameter(torch.zeros(3, device="meta"))]  # no fused kernel there
    assert not make_optimizer(meta, name, 1e-3, 0.0).defaults["fused"]


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_the_fused_update_is_pytorchs_default_update(name):
    torch.manual_seed(0)
    start = torch.randn(50)
    grads = [torch.randn(50) for _ in range(3)]
    result = {}
    for fused in (True, False):
        p = torch.nn.Parameter(start.clone())
        opt = make_optimizer([p], name, 1e-2, 0.01, fused=fused)
        for g in grads:
            p.grad = g.clone()
            opt.step()
        result[fused] = p.detach()
    assert not torch.equal(result[True], start)
    torch.testing.assert_close(result[True], result[False], rtol=1e-6, atol=1e-7)


def _gradients(task, scale: float) -> float:
    for p in task.parameters():
        p.grad = torch.full_like(p, scale)
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in task.parameters()])))


def test_a_fused_optimizer_clips_gradients_under_bf16_autocast(tmp_path):
    task = ClassificationTask(model="eegnet", **SIGNAL)
    task.trainer = quiet_trainer(tmp_path, precision="bf16-mixed", gradient_clip_val=0.5)
    opt = make_optimizer(task.parameters(), "adam", 1e-3, 0.0)
    assert _gradients(task, 1.0) > 0.5
    # Lightning's own hook refuses: its mixed-precision plugin assumes a GradScaler
    with pytest.raises(RuntimeError, match="fused"):
        pl.LightningModule.configure_gradient_clipping(task, opt, 0.5, None)
    task.configure_gradient_clipping(opt, 0.5, None)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in task.parameters()]))
    assert float(norm) == pytest.approx(0.5, rel=1e-3)
    _gradients(task, 1.0)
    task.configure_gradient_clipping(opt, 0.25, "value")
    assert max(float(p.grad.abs().max()) for p in task.parameters()) == pytest.approx(0.25)


def test_no_fused_optimizer_where_a_grad_scaler_meets_clipping():
    task = ClassificationTask(model="eegnet", **SIGNAL)
    assert task.fused_optimizer() is None  # no trainer: make_optimizer decides
    for clip, scaler, fused in ((1.0, object(), False), (None, object(), None),
                                (1.0, None, None)):
        task._trainer = SimpleNamespace(gradient_clip_val=clip,
                                        precision_plugin=SimpleNamespace(scaler=scaler))
        assert task.fused_optimizer() is fused


@pytest.mark.parametrize("task_cls, kwargs", [
    (ClassificationTask, dict(model="eegnet", **SIGNAL)),
    (GANTask, dict(n_chans=12, n_times=128, sfreq=100.0, generator_kwargs={"hidden_size": 8},
                   critic_kwargs={"channels": (4, 4)})),
])
def test_fits_train_with_fused_optimizers_and_clipping(tmp_path, task_cls, kwargs):
    torch.manual_seed(0)
    x, y = torch.randn(8, kwargs["n_chans"], 128) * 0.3, torch.randint(0, 2, (8,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    task = task_cls(**kwargs)
    manual = task_cls is GANTask  # manual optimisation: Lightning does not clip
    trainer = quiet_trainer(tmp_path, max_steps=2 if not manual else 4, precision="bf16-mixed",
                            gradient_clip_val=None if manual else 1.0)
    before = [p.detach().clone() for p in task.parameters()]
    trainer.fit(task, loader)
    assert trainer.optimizers and all(o.defaults["fused"] for o in trainer.optimizers)
    assert any(not torch.equal(a, b) for a, b in zip(before, task.parameters()))
