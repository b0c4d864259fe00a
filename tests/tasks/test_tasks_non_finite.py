"""A non-finite loss or output: every task names the input batch's NaN windows, or says that
training diverged (FloatingPointError with the loss parts) when the batch is finite."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from _task_fixtures import quiet_trainer
from biosig.errors import NonFiniteInputError
from biosig.tasks import ClassificationTask, DiffusionTask, GANTask, VAETask, VQTask

pytestmark = [pytest.mark.filterwarnings("ignore:.*self.trainer. reference is not registered"),
              pytest.mark.usefixtures("one_torch_thread")]


# the smallest configurations the tasks' own tests use
def _classification():
    return ClassificationTask("eegnet", n_outputs=2, n_chans=2, n_times=64, sfreq=64.0), (2, 64)


def _vq():
    tiny = dict(patch_len=20, patch_stride=10, emb_size=32, n_heads=4, encoder_depth=1,
                decoder_depth=1, n_codes=16)
    return VQTask("eegformer_s", tiny, n_chans=3, n_times=250), (3, 250)


def _vae():
    return VAETask(model="hveegnet", n_chans=3, n_times=100, sfreq=100.0, n_outputs=2), (3, 100)


def _diffusion():
    tiny = dict(n_layers=2, d_model=16, d_state=8, d_embed=8, d_cond=16)
    return DiffusionTask(n_chans=2, n_times=64, sfreq=64.0, model_kwargs=tiny), (2, 64)


TASKS = {"classification": _classification, "vq": _vq, "vae": _vae, "diffusion": _diffusion}
#: the loss parts each task's divergence error names
PARTS = {"classification": "", "vq": r" \(recon nan, vq nan\)", "vae": r" \(recon nan, kl nan\)",
         "diffusion": ""}


def _batch(shape, n=4, bad=()):
    x = 10 * torch.randn(n, *shape, generator=torch.Generator().manual_seed(0))
    for i in bad:
        x[i, 0, 5] = float("nan")
        x[i, -1, -1] = float("inf")
    return x, torch.zeros(n, dtype=torch.long)


@pytest.mark.parametrize("name", TASKS)
def test_a_nan_window_is_named_as_the_cause(name):
    torch.manual_seed(0)
    task, shape = TASKS[name]()
    with pytest.raises(NonFiniteInputError,
                       match=r"the train input batch holds 2 NaN or infinite samples, in windows "
                             r"\[2\] of its 4, so the loss is not finite: .*nan_policy.* your "
                             r"own DataLoader"):
        task._step(_batch(shape, bad=[2]), "train")


@pytest.mark.parametrize("interval, found", [(None, ":"), (2, r" \(found 0 checks later: .*\):")])
@pytest.mark.parametrize("name", TASKS)
def test_a_diverged_loss_from_a_finite_batch_is_a_floating_point_error(name, interval, found):
    """Read at once (CPU), or with the step before it (``finite_check_interval``, an
    accelerator's way): the same error, with how late it was found."""
    torch.manual_seed(0)
    task, shape = TASKS[name]()
    task.finite_check_interval = interval
    if interval:
        task._step(_batch(shape), "val")  # finite: left on the device, read with the next
    with torch.no_grad():
        for p in task.net.parameters():
            p.fill_(float("nan"))
    with pytest.raises(FloatingPointError,
                       match=rf"^non-finite val loss{PARTS[name]} from a finite input batch"
                             rf"{found} training diverged.*learning rate.*gradient_clip_val"):
        task._step(_batch(shape), "val")


def test_fit_and_predict_name_the_batch_and_list_the_first_windows(tmp_path):
    torch.manual_seed(0)
    task, shape = _classification()
    x, y = _batch(shape, n=16, bad=[9, 10, 11, 12, 13, 14, 15])  # batch 1 of 8: windows 1..7
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    with pytest.raises(NonFiniteInputError,
                       match=r"the train input batch 1 holds 14 NaN or infinite samples, in "
                             r"windows \[1, 2, 3, 4, 5\] and 2 more of its 8"):
        quiet_trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(task, loader)
    task, _ = _classification()  # that batch's forward put NaN in the BatchNorm statistics
    with pytest.raises(NonFiniteInputError,
                       match=r"the predict input batch 1 holds .* so the output is not finite"):
        quiet_trainer(tmp_path).predict(task, loader)


def test_predict_steps_check_their_output():
    torch.manual_seed(0)
    for make in (_vq, _vae):
        task, shape = make()
        task.eval()
        x, _ = _batch(shape, bad=[0])
        with torch.no_grad(), pytest.raises(NonFiniteInputError,
                                            match=r"predict input batch 3 .* windows \[0\] .* "
                                                  "the reconstruction error"):
            task.predict_step(x, 3)
        out = task.predict_step(_batch(shape)[0], 0)  # finite: returned as before
        error = out["recon_error" if make is _vq else "sq_error"]
        assert error.shape == (4, shape[0]) and torch.isfinite(error).all()


def test_gan_steps_check_both_losses_and_the_generated_channels(tmp_path):
    torch.manual_seed(0)
    task = GANTask(n_chans=12, n_times=40, sfreq=20.0, input_channel="I",
                   generator_kwargs={"hidden_size": 4}, critic_kwargs={"channels": (4,)})
    x = torch.randn(8, 12, 40) * 0.3
    x[5, 3, 7] = float("nan")  # not the input channel: the generator's output stays finite
    loader = DataLoader(TensorDataset(x, torch.zeros(8)), batch_size=4)
    with pytest.raises(NonFiniteInputError,
                       match=r"the train input batch 1 holds 1 NaN .* windows \[1\] of its 4, "
                             "so the critic loss"):
        quiet_trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(task, loader)
    with pytest.raises(NonFiniteInputError,
                       match=r"the val input batch 1 .* so the error of the generated channels"):
        quiet_trainer(tmp_path).validate(task, loader)


# -- on an accelerator the checks are read several at once (forced here on CPU) ---------------
def test_checks_read_together_name_the_first_bad_batch_and_how_late(tmp_path):
    torch.manual_seed(0)
    task, shape = _classification()
    task.finite_check_interval = 3  # an accelerator's default: the trainer's log_every_n_steps
    x, y = _batch(shape, n=32, bad=[9])  # batch 1 of 8 windows
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    with pytest.raises(NonFiniteInputError,
                       match=r"the train input batch 1 holds NaN or infinite samples, so the loss "
                             r"is not finite \(found 1 checks later: .*finite_check_interval.*"
                             r"1 reads each at once, naming bad windows\): .*nan_policy"):
        quiet_trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(task, loader)


def test_checks_left_are_read_when_the_fit_ends_and_before_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    task, shape = _classification()
    task.finite_check_interval = 100
    x, y = _batch(shape, n=16, bad=[9])
    with pytest.raises(NonFiniteInputError, match=r"train input batch 1 .* \(found 0 checks"):
        quiet_trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(
            task, DataLoader(TensorDataset(x, y), batch_size=8))
    task, shape = _classification()
    task.finite_check_interval = 100
    trainer = quiet_trainer(tmp_path, max_epochs=1, limit_val_batches=0)
    x, y = _batch(shape, n=16)
    trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=8))  # finite: no error
    task.check_finite(torch.tensor(float("nan")), "train", what="loss", recon=1.5)
    with pytest.raises(FloatingPointError,
                       match=r"^non-finite train loss \(recon 1\.5\) at batch 1 \(found"):
        trainer.save_checkpoint(tmp_path / "diverged.ckpt")
    assert not (tmp_path / "diverged.ckpt").exists()


def test_where_checks_wait():
    from types import SimpleNamespace

    task, _ = _classification()
    device = torch.zeros((), device="meta")  # a tensor off the CPU
    assert task._finite_interval(torch.zeros(())) is None  # CPU: read at once
    assert task._finite_interval(device) is None  # no trainer
    task._trainer = SimpleNamespace(log_every_n_steps=50)
    assert task._finite_interval(device) == 50 and task._finite_interval(torch.zeros(())) is None
    task.finite_check_interval = 1  # read at once, with the bad windows' indices
    assert task._finite_interval(torch.zeros(())) == 1
    with pytest.raises(NonFiniteInputError, match=r"in windows \[2\] of its 4"):
        task._step(_batch((2, 64), bad=[2]), "train")
