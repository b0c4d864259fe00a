"""Progress inside protocol runs: a run counter with elapsed and remaining time, and epoch lines
inside a long run (so a paper-preset run is never silent for minutes)."""

from __future__ import annotations

import re

import pytest
import torch

from biosig.callbacks import EpochProgress
from biosig.data.datamodule import BiosigDataModule
from biosig.data.paper_splits import WithinSubjectKFold
from biosig.datasets.synthetic import SyntheticMI
from biosig.errors import ConfigError
from biosig.experiments import ModelSpec, run_experiment


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    torch.set_num_threads(1)
    src = SyntheticMI(n_subjects=1, n_trials_per_class=4, sessions=["T"], include_eog=False)
    return BiosigDataModule(src, protocol=WithinSubjectKFold(n_splits=2), batch_size=4,
                            cache_dir=str(tmp_path_factory.mktemp("cache")))


def test_runner_prints_epoch_lines_and_a_run_counter_with_eta(dm, capsys):
    spec = ModelSpec("EEGNet", init_args={"model": "eegnet"}, trainer={"max_epochs": 2})
    run_experiment(dm, spec, seeds=[0], trainer={"accelerator": "cpu"}, progress_s=0)
    out = capsys.readouterr().out
    for run in (1, 2):
        for epoch in (1, 2):
            assert re.search(rf"^  \[{run}/2\] 1/fold{run - 1} EEGNet seed=0 epoch {epoch}/2: "
                             r"train_loss [\d.]+ \([\d.]+ s/epoch; "
                             r"elapsed \d+:\d\d, ~\d+:\d\d left\)$",
                             out, flags=re.M), out
        assert re.search(rf"^\[{run}/2\] 1/fold{run - 1} EEGNet seed=0: acc=[\d.]+ .*elapsed "
                         r"\d+:\d\d, ~\d+:\d\d left\)$", out, flags=re.M), out


def test_runner_epoch_lines_are_throttled_and_can_be_switched_off(dm, capsys):
    spec = ModelSpec("EEGNet", init_args={"model": "eegnet"}, trainer={"max_epochs": 2})
    run_experiment(dm, spec, seeds=[0], trainer={"accelerator": "cpu"}, progress_s=3600)
    run_experiment(dm, spec, seeds=[0], trainer={"accelerator": "cpu"}, progress_s=None)
    out = capsys.readouterr().out
    assert " epoch " not in out and out.count("[2/2]") == 2


def test_epoch_progress_rejects_a_negative_interval():
    with pytest.raises(ConfigError, match="min_interval_s"):
        EpochProgress(min_interval_s=-1)


def test_progress_logging_shows_cache_progress_off_a_terminal():
    """Cache builds log their progress on ``biosig.cache``: the entry points show it on stderr
    (a pipe here), time-stamped; where logging is configured already, they leave it alone."""
    import subprocess
    import sys

    code = ("import logging\nfrom biosig.experiments.runner import progress_logging\n"
            "assert progress_logging() and not progress_logging()\n"
            "logging.getLogger('biosig.cache').info('caching demo: 3/10 records, 120 windows')\n"
            "logging.getLogger('biosig.cache').debug('not shown')\n")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stderr
    assert re.fullmatch(r"\d\d:\d\d:\d\d biosig.cache: caching demo: 3/10 records, 120 windows\n",
                        err), err
    configured = ("import logging, sys\nlogging.basicConfig(stream=sys.stdout)\n"
                  "from biosig.experiments.runner import progress_logging\n"
                  "print(progress_logging())\n")
    out = subprocess.run([sys.executable, "-c", configured], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_progress_logging_follows_a_swapped_stderr():
    """A notebook or a test replaces sys.stderr (and closes the old one): the lines go to the
    current one, never to a closed stream ("--- Logging error ---")."""
    import subprocess
    import sys

    code = ("import io, logging, sys\nfrom biosig.experiments.runner import progress_logging\n"
            "first = sys.stderr = io.StringIO()\nprogress_logging()\nfirst.close()\n"
            "second = sys.stderr = io.StringIO()\n"
            "logging.getLogger('biosig.cache').info('after the swap')\n"
            "sys.stderr = sys.__stderr__\nprint(repr(second.getvalue()))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"'\d\d:\d\d:\d\d biosig.cache: after the swap\\n'\n", run.stdout), run


def _epoch_line(capsys, metrics: dict, monitored=()) -> str:
    """EpochProgress's line after one epoch of a trainer stand-in that logged ``metrics``."""
    from types import SimpleNamespace

    from lightning.pytorch.callbacks import EarlyStopping

    trainer = SimpleNamespace(
        callback_metrics={k: torch.tensor(v) for k, v in metrics.items()},
        checkpoint_callbacks=[], early_stopping_callbacks=[EarlyStopping(m) for m in monitored],
        current_epoch=0, max_epochs=1, sanity_checking=False, is_global_zero=True)
    progress = EpochProgress()
    progress.on_train_start(trainer, None)
    progress.on_train_epoch_end(trainer, None)
    return capsys.readouterr().out


def test_epoch_line_shows_a_gans_losses_and_the_monitored_value(capsys):
    gan = {"train_loss_d": 1.5, "train_loss_g": 11.25, "val_mse": 0.04, "val_fd": 2.0,
           "train_loss_d_step": 9.0}
    line = _epoch_line(capsys, gan, monitored=["val_mse"])
    assert line.startswith("epoch 1/1: train_loss_d 1.5, train_loss_g 11.25, val_mse 0.04 ("), line
    assert _epoch_line(capsys, {"val_fd": 2.0}).startswith("epoch 1/1: val_fd 2 (")  # no loss
