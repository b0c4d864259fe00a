"""What a training step reads back from its tensors (on a GPU, each read waits for the device):
one finiteness check of the loss, no torchmetrics input validation, one read per tensor of
lead ids."""

from __future__ import annotations

import traceback
from collections import Counter

import lightning.pytorch as pl
import pytest
import torch
from torch.overrides import TorchFunctionMode

from biosig.models.ecgnet import _lead_ids
from biosig.tasks import ClassificationTask
from tests._task_fixtures import quiet_trainer

READS = {"item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy", "unique",
         "nonzero"}


class CountReads(TorchFunctionMode):
    """Counts host reads of tensors (and ``torch.unique``) by the function that made them."""

    def __init__(self):
        super().__init__()
        self.reads: Counter = Counter()
        self.on = True

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if self.on and name in READS:
            caller = traceback.extract_stack(limit=2)[0]
            if "/torch/optim/" not in caller.filename:  # the optimisers' CPU step counters
                self.reads[(name, caller.name)] += 1
        return func(*args, **(kwargs or {}))


class Window(pl.Callback):
    """Counting on from the second training step (the first builds state) to the last."""

    def __init__(self, counter):
        self.counter, self.steps = counter, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.counter.on = batch_idx >= 1
        self.steps += batch_idx >= 1

    def on_train_batch_end(self, *args):
        self.counter.on = False


@pytest.mark.parametrize("interval, loss_reads", [(None, 2), (100, 0)])
def test_a_classification_step_reads_its_loss_once_and_validates_no_metric_input(
        tmp_path, interval, loss_reads):
    """On CPU each loss check is read at once; on an accelerator (``finite_check_interval``,
    forced here) several are read together, so the steps themselves read nothing."""
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(12, 3, 128), torch.randint(0, 2, (12,)))
    task = ClassificationTask(model="eegnet", n_chans=3, n_times=128, sfreq=128.0, n_outputs=2)
    task.finite_check_interval = interval
    counter = CountReads()
    window = Window(counter)
    counter.on = False
    with counter:
        quiet_trainer(tmp_path, max_steps=3, callbacks=[window]).fit(
            task, torch.utils.data.DataLoader(data, batch_size=4))
    assert window.steps == 2
    assert counter.reads[("__bool__", "check_finite")] == loss_reads
    # and nothing else, but torchmetrics' check of its inputs' range, a read on CPU only (on a
    # device it takes torch.where)
    assert {k for k in counter.reads if k[1] not in ("check_finite",
                                                      "normalize_logits_if_needed")} == set()
    assert not [k for k in counter.reads if k[0] == "unique"]  # torchmetrics' validation
    # the validation and test metrics still check their inputs
    assert task.metrics["val_metrics"]["acc"].validate_args
    assert not task.metrics["train_metrics"]["acc"].validate_args


def test_a_tensor_of_lead_ids_is_read_back_once():
    counter = CountReads()
    with counter:
        _lead_ids(torch.tensor([0, 11, 5]), 3, "cpu")
    assert sum(counter.reads.values()) == 1
