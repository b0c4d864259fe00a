"""biosig's callbacks under DDP (2 CPU processes, gloo; a short collective timeout turns a hang
into a failure): PredictionWriter writes every rank's predictions in loader order, FigureCallback
saves its figures without hanging the run."""

import os
import signal
import subprocess
import sys
import time
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


_SIGTERM_SCRIPT = '''
import os, sys, time
from pathlib import Path
import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset
from biosig.callbacks import StopRanksOnSigterm

out = Path(sys.argv[1])

class Slow(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
    def training_step(self, batch, batch_idx):
        time.sleep(0.05)
        return self.layer(batch[0]).mean()
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)
    def on_train_start(self):
        (out / f"rank{self.global_rank}.pid").write_text(str(os.getpid()))

callbacks = [StopRanksOnSigterm()] if sys.argv[2] == "with" else []
trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=10_000,
                     logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, callbacks=callbacks)
trainer.fit(Slow(), DataLoader(TensorDataset(torch.randn(64, 4)), batch_size=4))
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has ended
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")
def test_sigterm_stops_every_ddp_rank(tmp_path):
    """`timeout 600 biosig fit ... ddp.yaml` never ended: `timeout` signals its whole process
    group, and Lightning's SIGTERM handler runs a broadcast inside the handler, which deadlocked
    the two ranks (without the callback this test's run hangs past its 30 s). With
    StopRanksOnSigterm (which biosig fit and biosig run add to multi-process fits) rank 0 kills
    the rank it started and exits with 143 within seconds."""
    script = tmp_path / "fit.py"
    script.write_text(_SIGTERM_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), "with"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "rank1.pid").exists() or not (tmp_path / "rank0.pid").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
            time.sleep(0.2)
        rank1 = int((tmp_path / "rank1.pid").read_text())
        time.sleep(0.5)  # inside the training loop
        os.killpg(proc.pid, signal.SIGTERM)  # as `timeout` does: every process of the group
        log = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, log[-2000:]
    assert "[rank 0] SIGTERM: stopping and killing 1 rank(s) it started" in log
    deadline = time.monotonic() + 10
    while _alive(rank1) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(rank1)


def test_multi_process_fits_get_the_sigterm_callback_once():
    """What biosig fit (before_fit) and biosig run (_fit_test) call on their Trainer."""
    from types import SimpleNamespace

    from biosig.callbacks import StopRanksOnSigterm
    from biosig.experiments.runner import stop_ranks_on_sigterm

    one, two = SimpleNamespace(world_size=1, callbacks=[]), SimpleNamespace(world_size=2,
                                                                            callbacks=[])
    for trainer in (one, two, two):
        stop_ranks_on_sigterm(trainer)
    assert one.callbacks == [] and [type(c) for c in two.callbacks] == [StopRanksOnSigterm]
