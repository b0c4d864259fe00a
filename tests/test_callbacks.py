"""biosig's callbacks under DDP (2 CPU processes, gloo; a short collective timeout turns a hang
into a failure): PredictionWriter writes every rank's predictions in loader order, FigureCallback
saves its figures without hanging the run."""

from datetime import timedelta

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy
from torch.utils.data import DataLoader, TensorDataset

from biosig.callbacks import FigureCallback, PredictionWriter


def _ddp_trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", devices=2, enable_progress_bar=False,
                      strategy=DDPStrategy(start_method="spawn", timeout=timedelta(seconds=20)),
                      enable_model_summary=False, **kwargs)


class _Echo(pl.LightningModule):
    """Predicts its input (as a tensor or a dict), so the order of the rows can be checked."""

    def __init__(self, as_dict: bool):
        super().__init__()
        self.as_dict = as_dict
        self.layer = torch.nn.Linear(1, 1)

    def predict_step(self, batch, batch_idx):
        x = batch[0]
        return {"x": x, "first": x[:, 0]} if self.as_dict else x


@pytest.mark.parametrize("as_dict", [False, True], ids=["tensor", "dict"])
def test_predictions_of_both_ranks_in_loader_order(tmp_path, as_dict, capfd):
    """Under DDP the writer asked for `trainer.log_dir` on rank 0 only (a broadcast: rank 1 had
    left, so `biosig predict --trainer.devices 2` crashed) and would have written rank 0's half
    of the windows; now rank 0 writes every window, in the loader's order and batches. Its line
    is printed once, by the spawned rank 0 (`biosig predict` printed none under ddp_spawn)."""
    x = torch.arange(7 * 3, dtype=torch.float32).reshape(7, 3)
    loader = DataLoader(TensorDataset(x), batch_size=2)
    writer = PredictionWriter(tmp_path / "p.pt", announce="predict: ")
    trainer = _ddp_trainer(logger=False, callbacks=[writer])
    trainer.predict(_Echo(as_dict), loader, return_predictions=False)
    what = "4 batch outputs" if as_dict else "(7, 3) tensor"
    lines = [ln for ln in capfd.readouterr().out.splitlines() if ln.startswith("predict: ")]
    assert lines == [f"predict: predictions ({what}) written to {(tmp_path / 'p.pt').resolve()}"]
    got = torch.load(tmp_path / "p.pt", weights_only=True)
    if not as_dict:
        assert torch.equal(got, x)
        return
    assert [len(b["x"]) for b in got] == [2, 2, 2, 1]
    assert torch.equal(torch.cat([b["x"] for b in got]), x)
    assert torch.equal(torch.cat([b["first"] for b in got]), x[:, 0])


class _Linear(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        return self.layer(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _Curve(FigureCallback):
    tag = "curve"

    def capture(self, pl_module, outputs, batch):
        return outputs.detach()

    def draw(self, pl_module, example, epoch):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(example.flatten().numpy())
        return fig


def test_figures_under_ddp_are_saved_once_without_a_hang(tmp_path):
    """Rank 0 asked for `trainer.log_dir` (a broadcast) alone when saving a figure, while rank 1
    went on to the epoch's metric reduction: ECGNet's recipe under DDP hung after its first
    validation. Now every rank asks; rank 0 draws and saves one file per epoch."""
    x = torch.randn(8, 3)
    loader = DataLoader(TensorDataset(x), batch_size=2)
    trainer = _ddp_trainer(logger=pl.loggers.CSVLogger(tmp_path), callbacks=[_Curve()],
                           max_epochs=2, num_sanity_val_steps=0, enable_checkpointing=False)
    trainer.fit(_Linear(), loader, loader)
    figures = sorted(p.name for p in tmp_path.rglob("*.png"))
    assert figures == ["curve_epoch000.png", "curve_epoch001.png"]
