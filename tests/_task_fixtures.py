"""Shared helpers of the task tests."""

from __future__ import annotations

from lightning.pytorch.loggers.logger import Logger


class FigureLogger(Logger):
    """A logger whose experiment records ``add_figure`` calls (as TensorBoard's) and metrics."""

    def __init__(self):
        super().__init__()
        self.figures = []
        self.metrics = []

    name = "fig"
    version = 0

    @property
    def experiment(self):
        return self

    def add_figure(self, tag, fig, global_step=None):
        self.figures.append((tag, fig, global_step))

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.metrics.append(dict(metrics))


def quiet_trainer(tmp_path, **kw):
    """A CPU Trainer that writes and prints nothing of its own (no logger, checkpoints, bar or
    summary), for a test's few steps."""
    import lightning.pytorch as pl

    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, **kw)
