"""Figures and EMA are callbacks: ECGFigures / ReconstructionFigures, Lightning's EMA."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import matplotlib
import pytest
import torch
from _task_fixtures import FigureLogger
from torch.utils.data import DataLoader, TensorDataset

from biosig.callbacks import ECGFigures, ReconstructionFigures
from biosig.errors import ConfigError
from biosig.tasks import ClassificationTask, GANTask

matplotlib.use("Agg")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def _trainer(logger, callbacks, epochs=2):
    return pl.Trainer(max_epochs=epochs, logger=logger, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                      callbacks=callbacks, num_sanity_val_steps=1)


def _gan(**kw):
    torch.manual_seed(0)
    return GANTask(n_chans=12, n_times=40, sfreq=20.0, input_channel="II",
                   generator_kwargs={"hidden_size": 4}, critic_kwargs={"channels": (4,)}, **kw)


def _ecg_loader(n=8):
    x = torch.randn(n, 12, 40) * 0.3
    return DataLoader(TensorDataset(x, torch.zeros(n)), batch_size=4)


def test_ecg_figures_per_validation_epoch_not_in_sanity_check():
    logger = FigureLogger()
    _trainer(logger, [ECGFigures()]).fit(_gan(), _ecg_loader(), _ecg_loader())
    # one 12-lead figure per epoch (6 x 2 panels), none for the sanity check
    assert [(tag, len(fig.axes), step) for tag, fig, step in logger.figures] == [
        ("val_12lead", 12, 0), ("val_12lead", 12, 1)]
    every_other = FigureLogger()
    _trainer(every_other, [ECGFigures(every_n_epochs=2)]).fit(_gan(), _ecg_loader(),
                                                              _ecg_loader())
    assert [f[2] for f in every_other.figures] == [0]


def test_figure_callbacks_refuse_what_they_cannot_draw():
    no_rate = GANTask(n_chans=12, n_times=40, generator_kwargs={"hidden_size": 4},
                      critic_kwargs={"channels": (4,)})
    with pytest.raises(ConfigError, match="sampling rate"):
        _trainer(FigureLogger(), [ECGFigures()]).fit(no_rate, _ecg_loader(), _ecg_loader())
    clf = ClassificationTask(model="eegnet", n_chans=12, n_times=40, sfreq=20.0, n_outputs=2)
    with pytest.raises(ConfigError, match="reconstruct"):
        _trainer(FigureLogger(), [ReconstructionFigures()]).fit(clf, _ecg_loader())
    with pytest.raises(ConfigError, match="every_n_epochs"):
        ECGFigures(every_n_epochs=0)


def test_without_a_figure_logger_the_figures_are_png_files_in_the_log_folder(tmp_path, caplog):
    """recipes/ptbxl/ecgnet.yaml under the default CSVLogger (no TensorBoard) dropped every
    figure with a warning; they are now PNG files in the run's log folder, said once where."""
    import logging
    import warnings

    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(tmp_path)
    with warnings.catch_warnings(), caplog.at_level(logging.INFO):
        warnings.filterwarnings("error", message=".*figures")
        _trainer(logger, [ECGFigures()], epochs=2).fit(_gan(), _ecg_loader(), _ecg_loader())
    folder = Path(logger.log_dir) / "figures"
    assert sorted(p.name for p in folder.iterdir()) == ["val_12lead_epoch000.png",
                                                        "val_12lead_epoch001.png"]
    assert (folder / "val_12lead_epoch000.png").read_bytes()[:4] == b"\x89PNG"
    said = [r.getMessage() for r in caplog.records if "no logger takes figures" in r.getMessage()]
    assert said == [f"ECGFigures: no logger takes figures (TensorBoard or a logger with "
                    f"log_image); saving them as PNG files in {folder}"]


def test_lightning_ema_on_a_linear_probe_keeps_the_frozen_backbone():
    """EMA is Lightning's callback; averaging a frozen backbone leaves it (and its BatchNorm
    statistics) as it was."""
    from lightning.pytorch.callbacks import EMAWeightAveraging

    torch.manual_seed(0)
    task = ClassificationTask(model="eegnet", n_chans=4, n_times=64, sfreq=64.0, n_outputs=2,
                              freeze="all_but_head", lr=1e-2)
    head = task.net.head_attr
    before = {k: v.clone() for k, v in task.net.state_dict().items()}
    x, y = torch.randn(16, 4, 64), torch.arange(16) % 2
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    _trainer(False, [EMAWeightAveraging(decay=0.5)]).fit(task, loader)
    after = task.net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(head + ".") for k in changed), changed


# -- CompileNetworks ----------------------------------------------------------------------------
def test_compile_networks_refuses_a_bad_mode():
    from biosig.callbacks import CompileNetworks

    with pytest.raises(ConfigError, match="mode must be one of"):
        CompileNetworks(mode="fast")


def test_task_networks_are_the_top_level_biosig_models():
    from biosig.callbacks import task_networks

    gan = _gan()
    assert [n for n, _ in task_networks(gan)] == ["generator", "critic"]
    task = ClassificationTask("eegnet", n_chans=3, n_times=64, sfreq=64.0, n_outputs=2)
    assert [(n, m) for n, m in task_networks(task)] == [("net", task.net)]
    with pytest.raises(ConfigError, match="holds no biosig network"):
        from biosig.callbacks import CompileNetworks

        CompileNetworks().setup(None, pl.LightningModule(), "fit")


def test_compiled_network_trains_tests_and_keeps_its_parameter_names(tmp_path):
    """Through a fit and a test: each network compiled once, in place (its state dict's keys
    unchanged, so checkpoints and weights folders are the uncompiled network's); the
    eager backend only traces, which keeps the test quick."""
    from biosig.callbacks import CompileNetworks

    torch.manual_seed(0)
    task = ClassificationTask("eegnet", n_chans=3, n_times=64, sfreq=64.0, n_outputs=2)
    keys = list(task.net.state_dict())
    x, y = torch.randn(8, 3, 64), torch.randint(0, 2, (8,))
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    callback = CompileNetworks(backend="eager")
    trainer = _trainer(False, [callback], epochs=1)
    trainer.fit(task, loader, loader)
    assert task.net._compiled_call_impl is not None
    assert callback.compiled == ["net"]
    trainer.test(task, loader, verbose=False)
    assert callback.compiled == ["net"]
    assert list(task.net.state_dict()) == keys
    assert torch.isfinite(task.net(x)).all()


def test_compile_networks_compiles_the_methods_a_training_step_calls(tmp_path):
    """VQTask trains EEGFormer through ``forward_pretrain``, not ``forward``: compiling only
    ``forward`` would leave its training eager. The compiled method stays bound to its network,
    also in a deep copy (as an EMA's averaged model)."""
    import copy

    from biosig.callbacks import CompileNetworks
    from biosig.tasks import VQTask

    torch.manual_seed(0)
    task = VQTask("eegformer_s", dict(patch_len=20, patch_stride=10, emb_size=32, n_heads=4,
                                      encoder_depth=1, decoder_depth=1, n_codes=16),
                  n_chans=3, n_times=250, sfreq=250.0)
    x = torch.randn(8, 3, 250).cumsum(-1)
    loader = DataLoader(TensorDataset(x, torch.zeros(8, dtype=torch.long)), batch_size=4)
    _trainer(False, [CompileNetworks(backend="eager")], epochs=1).fit(task, loader)
    method = task.net.__dict__["forward_pretrain"]
    assert method.__self__ is task.net and method.__func__ is not type(task.net).forward_pretrain
    twin = copy.deepcopy(task.net.eval())  # eval: no dropout, no codebook update
    assert twin.forward_pretrain.__self__ is twin
    torch.testing.assert_close(twin.forward_pretrain(x[:2]).recon,
                               task.net.forward_pretrain(x[:2]).recon)
