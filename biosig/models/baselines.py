"""Baselines from braindecode as biosig contract models (braindecode is imported lazily: it
costs ~3 s to import).

- ``eegnet``: EEGNet-v4 (Lawhern et al. 2018, doi:10.1088/1741-2552/aace8c).
- ``eegconformer``: EEG Conformer (Song et al. 2023, doi:10.1109/TNSRE.2022.3230250).
- ``shallowfbcspnet``: Shallow ConvNet (Schirrmeister et al. 2017, doi:10.1002/hbm.23730).

Each is a thin :class:`~biosig.models.base.BiosigModel` around the braindecode network: the
braindecode model lives in ``net`` with its ``final_layer`` moved to the wrapper's
``final_layer``, so ``forward_features`` is braindecode's forward pass without that layer and
``reset_head`` builds a new one. Other keyword arguments go to the braindecode class.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biosig.errors import BiosigError, MissingDependencyError, ShapeError
from biosig.models._registry import register_model
from biosig.models.base import BiosigModel

__all__ = ["EEGConformerBaseline", "EEGNetBaseline", "ShallowFBCSPNetBaseline"]


def _braindecode_models():
    import warnings

    try:
        with warnings.catch_warnings():
            # braindecode's EEGPT module builds MNE's 'standard_1020' montage at import (MNE
            # 1.11 deprecates the name): two FutureWarnings on every command, none for us
            warnings.filterwarnings("ignore", "Montage name 'standard_1020' is deprecated",
                                    FutureWarning)
            import braindecode.models as bd
    except ImportError as err:  # pragma: no cover - depends on the install
        raise MissingDependencyError("baseline models need braindecode: "
                                     "pip install 'biosig[baselines]'") from err
    return bd


class _BraindecodeBaseline(BiosigModel):
    """A braindecode network behind the biosig contract (see the module docstring)."""

    braindecode_name = ""
    requires = ("n_chans", "n_outputs", "n_times")
    classifies = True

    def __init__(self, n_chans: int | None = None, n_outputs: int | None = None,
                 n_times: int | None = None, sfreq: float | None = None,
                 chs_info: list[dict] | None = None, **kwargs):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        self._braindecode_kwargs = dict(kwargs)
        self.net = self._build(self.n_outputs)
        head = self.net.final_layer
        self.net.final_layer = nn.Identity()
        self.final_layer = head

    @classmethod
    def extra_arguments(cls) -> list[str]:
        """The braindecode class's arguments (what ``**kwargs`` passes on)."""
        import inspect

        params = inspect.signature(getattr(_braindecode_models(), cls.braindecode_name)).parameters
        return [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def _build(self, n_outputs: int) -> nn.Module:
        signal = dict(n_chans=self.n_chans, n_outputs=n_outputs, n_times=self.n_times)
        if self.sfreq:
            signal["sfreq"] = self.sfreq
        cls = getattr(_braindecode_models(), self.braindecode_name)
        try:
            return cls(**signal, **self._braindecode_kwargs)
        except (ValueError, RuntimeError) as err:  # einops.EinopsError is a RuntimeError
            if isinstance(err, BiosigError):
                raise
            rate = f" at {self.sfreq:g} Hz" if self.sfreq else ""
            raise ShapeError(
                f"{type(self).__name__} (braindecode {self.braindecode_name}) cannot be built for "
                f"input (batch, n_chans={self.n_chans}, n_times={self.n_times}){rate}: {err} "
                "Give longer windows (n_times) or other model arguments."
            ) from err

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """braindecode's forward pass up to (without) its ``final_layer``."""
        return self.net(self.check_input(x))

    def reset_head(self, n_outputs: int) -> None:
        """A fresh braindecode ``final_layer`` for ``n_outputs`` classes."""
        ref = next(self.parameters())
        self._set_n_outputs(n_outputs)
        self.final_layer = self._build(self.n_outputs).final_layer.to(ref.device, ref.dtype)


@register_model("eegnet")
class EEGNetBaseline(_BraindecodeBaseline):
    """braindecode's EEGNet (v4), Lawhern et al., J. Neural Eng. 15:056013 (2018),
    doi:10.1088/1741-2552/aace8c. 2,484 parameters at 22 x 512 @ 128 Hz, 4 classes (as
    braindecode's ``summary.csv`` states)."""

    braindecode_name = "EEGNet"
    paper = "Lawhern et al., J. Neural Eng. 2018, doi:10.1088/1741-2552/aace8c (braindecode)"
    task = "baseline: compact CNN for EEG decoding"
    paper_settings = dict(n_chans=22, n_outputs=4, n_times=512, sfreq=128.0)
    paper_n_params = 2_484


@register_model("eegconformer")
class EEGConformerBaseline(_BraindecodeBaseline):
    """braindecode's EEG Conformer, Song et al., IEEE TNSRE 31:710-719 (2023),
    doi:10.1109/TNSRE.2022.3230250. 789,572 parameters at 22 x 1000, 4 classes (as braindecode's
    ``summary.csv`` states)."""

    braindecode_name = "EEGConformer"
    paper = "Song et al., IEEE TNSRE 2023, doi:10.1109/TNSRE.2022.3230250 (braindecode)"
    task = "baseline: convolutional transformer for EEG decoding"
    paper_settings = dict(n_chans=22, n_outputs=4, n_times=1000, sfreq=250.0)
    paper_n_params = 789_572


@register_model("shallowfbcspnet")
class ShallowFBCSPNetBaseline(_BraindecodeBaseline):
    """braindecode's Shallow ConvNet, Schirrmeister et al., Hum. Brain Mapp. 38:5391 (2017),
    doi:10.1002/hbm.23730. 46,084 parameters at 22 x 1000 @ 250 Hz, 4 classes (as braindecode's
    ``summary.csv`` states)."""

    braindecode_name = "ShallowFBCSPNet"
    paper = "Schirrmeister et al., Hum. Brain Mapp. 2017, doi:10.1002/hbm.23730 (braindecode)"
    task = "baseline: shallow filter-bank CSP-like CNN"
    paper_settings = dict(n_chans=22, n_outputs=4, n_times=1000, sfreq=250.0)
    paper_n_params = 46_084
