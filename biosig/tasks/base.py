"""Shared parts of biosig's LightningModules."""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from biosig.errors import ConfigError
from biosig.models import create_model


class BiosigTask(pl.LightningModule):
    """Base of every task: builds the network from the registry with the signal kwargs.

    ``n_chans``, ``n_times``, ``sfreq`` and ``n_outputs`` are linked from the DataModule by the CLI
    (or passed by hand); ``model`` is a registry name and ``model_kwargs`` its other arguments.
    """

    def __init__(self, model: str, model_kwargs: dict | None = None, n_chans: int = 0,
                 n_times: int = 0, sfreq: float = 0.0, n_outputs: int = 0):
        super().__init__()
        if n_chans <= 0 or n_times <= 0:
            raise ConfigError(f"model.n_chans and model.n_times must be positive (got {n_chans}, "
                              f"{n_times}); the CLI links them from the data")
        self.net = self.build_net(model, dict(model_kwargs or {}), n_chans, n_times, sfreq, n_outputs)

    def build_net(self, model, model_kwargs, n_chans, n_times, sfreq, n_outputs) -> torch.nn.Module:
        signal = dict(n_chans=n_chans, n_times=n_times, n_outputs=n_outputs, sfreq=sfreq)
        kwargs = {**{k: v for k, v in signal.items() if v}, **model_kwargs}  # 0 = not given
        return create_model(model, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_optimizer(params, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    if name.lower() not in optimizers:
        raise ConfigError(f"optimizer must be one of {sorted(optimizers)}, got {name!r}")
    return optimizers[name.lower()](params, lr=lr, weight_decay=weight_decay)
