"""Epoch-level training values are averaged over the DDP ranks (they were rank 0's own: Lightning
warns, and half the data went unreported); one real 2-process run (gloo, CPU) per task kind."""

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from biosig.tasks import ClassificationTask, DiffusionTask
from biosig.tasks.vae import VAETask


class _Recording:
    """Writes each training batch's loss, per rank."""

    out = ""

    def on_train_batch_end(self, outputs, batch, batch_idx):
        with open(f"{self.out}/rank{self.global_rank}.txt", "a") as f:
            f.write(f"{float(outputs['loss'])}\n")


# module level: ddp_spawn pickles the task
class _Classification(_Recording, ClassificationTask):
    pass


class _VAE(_Recording, VAETask):
    pass


class _Diffusion(_Recording, DiffusionTask):
    pass


TASKS = {
    "classification": lambda: _Classification(model="shallowfbcspnet", n_chans=3, n_outputs=2,
                                              n_times=250, sfreq=250.0),
    "vae": lambda: _VAE(model="hveegnet", n_chans=3, n_times=100, sfreq=100.0, n_outputs=2,
                        recon_loss="mse"),
    "diffusion": lambda: _Diffusion(n_chans=3, n_times=64, sfreq=64.0, model_kwargs=dict(
        n_layers=2, d_model=16, d_state=8, d_embed=8, d_cond=16)),
}


@pytest.mark.parametrize("kind", list(TASKS))
def test_train_loss_is_the_mean_over_both_ranks(tmp_path, kind):
    torch.manual_seed(0)
    task = TASKS[kind]()
    x = torch.randn(8, 3, task.hparams.n_times)
    x[1::2] *= 30  # rank 1's windows (DistributedSampler, no shuffle): far larger losses
    y = torch.tensor([0, 1] * 4)
    task.out = str(tmp_path)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=2))
    losses = [[float(v) for v in (tmp_path / f"rank{r}.txt").read_text().split()] for r in (0, 1)]
    assert [len(v) for v in losses] == [2, 2]
    own = sum(losses[0]) / 2
    both = sum(losses[0] + losses[1]) / 4
    assert abs(own - both) > 1e-3 * abs(both)  # the ranks' losses differ
    assert float(trainer.callback_metrics["train_loss"]) == pytest.approx(both, rel=1e-5)


def test_epoch_progress_line_under_ddp_does_not_hang(tmp_path, capsys):
    """biosig fit under a pipe adds EpochProgress, which read `trainer.callback_metrics` on rank
    0 only: that read all-reduces the epoch's synced values, while rank 1 went on to the task's
    own epoch-end all-gather, so `biosig fit --trainer.devices 2 --trainer.strategy ddp > log`
    hung for ever after the first epoch. A short collective timeout turns a hang into a failure."""
    from datetime import timedelta

    from lightning.pytorch.strategies import DDPStrategy

    from biosig.callbacks import EpochProgress

    torch.manual_seed(0)
    task = TASKS["classification"]()
    task.out = str(tmp_path)
    x, y = torch.randn(8, 3, 250), torch.tensor([0, 1] * 4)
    trainer = pl.Trainer(accelerator="cpu", devices=2, max_epochs=1, logger=False,
                         strategy=DDPStrategy(start_method="spawn", timeout=timedelta(seconds=20)),
                         callbacks=[EpochProgress()], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    loader = DataLoader(TensorDataset(x, y), batch_size=2)
    trainer.fit(task, loader, loader)
    assert float(trainer.callback_metrics["train_loss"]) > 0
