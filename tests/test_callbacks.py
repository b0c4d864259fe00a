"""PredictionWriter under DDP (2 CPU processes, gloo): every rank's predictions, in loader order."""

from datetime import timedelta

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy
from torch.utils.data import DataLoader, TensorDataset

from biosig.callbacks import PredictionWriter


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
def test_predictions_of_both_ranks_in_loader_order(tmp_path, as_dict):
    """Under DDP the writer asked for `trainer.log_dir` on rank 0 only (a broadcast: rank 1 had
    left, so `biosig predict --trainer.devices 2` crashed) and would have written rank 0's half
    of the windows; now rank 0 writes every window, in the loader's order and batches."""
    x = torch.arange(7 * 3, dtype=torch.float32).reshape(7, 3)
    loader = DataLoader(TensorDataset(x), batch_size=2)
    trainer = pl.Trainer(accelerator="cpu", devices=2, logger=False, enable_progress_bar=False,
                         strategy=DDPStrategy(start_method="spawn", timeout=timedelta(seconds=20)),
                         callbacks=[PredictionWriter(tmp_path / "p.pt")],
                         enable_model_summary=False)
    trainer.predict(_Echo(as_dict), loader, return_predictions=False)
    got = torch.load(tmp_path / "p.pt", weights_only=True)
    if not as_dict:
        assert torch.equal(got, x)
        return
    assert [len(b["x"]) for b in got] == [2, 2, 2, 1]
    assert torch.equal(torch.cat([b["x"] for b in got]), x)
    assert torch.equal(torch.cat([b["first"] for b in got]), x[:, 0])
