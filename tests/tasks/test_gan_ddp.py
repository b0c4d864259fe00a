"""GANTask refuses plain DDP (the critic step leaves the generator unused) and names the fix."""

import lightning.pytorch as pl
import pytest

from biosig.errors import ConfigError
from biosig.tasks import GANTask


def _task():
    return GANTask(generator_kwargs={"hidden_size": 4, "n_layers": 1}, n_chans=12, n_times=50,
                   sfreq=50.0)


def test_plain_ddp_is_refused_with_the_fix():
    task = _task()
    task.trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)
    with pytest.raises(ConfigError, match="ddp_find_unused_parameters_true"):
        task.setup("fit")


def test_ddp_with_unused_parameters_is_accepted():
    task = _task()
    task.trainer = pl.Trainer(accelerator="cpu", devices=2,
                              strategy="ddp_find_unused_parameters_true", logger=False)
    task.setup("fit")


@pytest.mark.parametrize("stage", ["validate", "test", "predict"])
def test_plain_ddp_is_accepted_without_training(stage):
    """Only training leaves parameters unused (Lightning wraps the model in DDP for fit only):
    `biosig predict --trainer.strategy ddp` of a GAN checkpoint was refused."""
    task = _task()
    task.trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)
    task.setup(stage)
