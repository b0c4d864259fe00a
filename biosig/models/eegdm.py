"""EEGDM on raw windows: a frozen SSMDP backbone extracting latents on the fly, then LFT.

References
----------
.. [Puah2025] J. H. Puah et al., "EEGDM: EEG Representation Learning via Generative Diffusion
   Model", arXiv:2508.14086, 2025.
"""

from __future__ import annotations

import torch

from biosig.errors import ConfigError
from biosig.models._registry import register_model
from biosig.models.base import BiosigModel
from biosig.models.lft import LFT
from biosig.models.ssmdp import SSMDP

__all__ = ["EEGDM"]

_SIGNAL = ("n_chans", "n_outputs", "n_times", "sfreq", "chs_info")


def _check_part_arguments(part: str, name: str, kwargs: dict) -> None:
    """ConfigError for an argument of EEGDM's ``backbone`` or ``lft`` that the part does not
    take (a TypeError traceback otherwise) or that EEGDM passes itself (the data's shape)."""
    from biosig.models._registry import check_model_arguments

    own = [k for k in kwargs if k in _SIGNAL]
    if own:
        raise ConfigError(f"EEGDM: {part} must not set {', '.join(own)}: EEGDM passes the "
                          "data's shape to its parts")
    try:
        check_model_arguments(name, kwargs)
    except ConfigError as err:
        raise ConfigError(f"EEGDM {part}: {err}") from None


@register_model("eegdm")
class EEGDM(BiosigModel):
    """EEGDM classifier [Puah2025]_: frozen SSMDP latents (step 1, clean input) -> LFT.

    Takes EEG windows ``(batch, n_chans, n_times)`` in µV, so any classification task can
    train it; the latents are recomputed at every step (EEGDM caches them instead; use
    :meth:`SSMDP.latents` with the window cache for that). The backbone stays frozen and in
    eval mode (EEGDM's setting); only the LFT trains.

    Trainable parameters at the paper's TUEV settings (22 channels, 5-s windows at 200 Hz,
    6 classes): **6,898,950**; with the frozen SSMDP (5,931,649) 12,830,599 in all, as the
    official code (12.8 M in the paper).

    Parameters
    ----------
    n_chans, n_outputs, n_times, sfreq, chs_info : signal kwargs of the windows.
    backbone : keyword arguments of :class:`SSMDP` (e.g. ``channel_ids``).
    backbone_weights : a weights folder of a pretrained SSMDP (``DiffusionTask.save_pretrained``
        or ``SSMDP.save_pretrained``): its card fixes the backbone's architecture (``backbone``
        must then be empty) and its ``sfreq``/``n_chans``/``ch_names`` are checked against these
        windows' (:func:`biosig.models.weights.load_pretrained`). The recorded config keeps the
        card's architecture instead of the folder, so a saved EEGDM reloads without it.
    lft : keyword arguments of :class:`LFT` (its ``n_layers`` and ``d_model`` follow the
        backbone).
    segment : samples per denoiser pass (CHB-MIT: 1000, two halves of a 10-s window).
    extraction_step : diffusion step of the extraction (EEGDM: 1).
    channel_ids : the backbone's channel-embedding row of each input channel, for windows whose
        channels differ from the pretraining montage (CHB-MIT's 16 bipolar channels on a TUEV
        backbone: :data:`biosig.datasets.chbmit.CHBMIT_SSMDP_IDS`). With ``backbone_weights``
        only the sampling rate is then checked against the card: the ids state the mapping.
    """

    requires = ("n_chans", "n_outputs", "n_times", "sfreq")
    head_attr = "lft.final_layer"
    paper = "Puah et al., EEGDM, arXiv 2508.14086 (2025)"
    task = "EEG classification: frozen SSMDP latents + LFT (6,898,950 trainable)"
    classifies = True
    paper_settings = dict(n_chans=22, n_outputs=6, n_times=1000, sfreq=200.0)
    paper_n_params = 12_830_599

    def __init__(self, n_chans=None, n_outputs=None, n_times=None, sfreq=None, chs_info=None,
                 backbone: dict | None = None, lft: dict | None = None,
                 segment: int | None = None, extraction_step: int = 1,
                 backbone_weights: str | None = None, channel_ids: list[int] | None = None):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        backbone, lft = dict(backbone or {}), dict(lft or {})
        _check_part_arguments("backbone", "ssmdp", backbone)
        _check_part_arguments("lft", "lft", lft)
        pretrained = None
        if backbone_weights is not None:
            if backbone:
                raise ConfigError(f"EEGDM: backbone={backbone} given with backbone_weights="
                                  f"{backbone_weights}: its card fixes the backbone")
            pretrained = self._pretrained_backbone(backbone_weights, remapped=channel_ids)
            backbone = {k: v for k, v in pretrained.get_config()["kwargs"].items()
                        if k not in _SIGNAL}
        if channel_ids is not None:
            if backbone_weights is None and backbone.get("channel_ids") is not None:
                raise ConfigError("EEGDM: give channel_ids once (not also in backbone)")
            backbone["channel_ids"] = [int(i) for i in channel_ids]
        self._backbone_kwargs = backbone
        self.backbone = SSMDP(n_chans=self.n_chans, n_times=self.n_times, sfreq=self.sfreq,
                              **backbone)
        if pretrained is not None:  # length-agnostic weights: rebuilt for these windows
            self.backbone.load_state_dict(pretrained.state_dict())
        n_layers, d_model = len(self.backbone.blocks), self.backbone.blocks[0].out_skip.in_features
        for key, value in (("n_layers", n_layers), ("d_model", d_model)):
            if lft.setdefault(key, value) != value:
                raise ConfigError(f"EEGDM: lft.{key}={lft[key]} but the backbone has {value}")
        self.lft = LFT(n_chans=self.n_chans, n_outputs=self.n_outputs, n_times=self.n_times,
                       sfreq=self.sfreq, **lft)
        self.segment, self.extraction_step = segment, int(extraction_step)
        self.backbone.requires_grad_(False)
        self.backbone.eval()

    def _pretrained_backbone(self, folder, remapped=None) -> SSMDP:
        from biosig.models._registry import model_class
        from biosig.models.weights import load_card, load_pretrained

        data = {"sfreq": self.sfreq}
        if remapped is None:  # the same montage as the pretraining: check the channels too
            data["n_chans"] = self.n_chans
            if self.chs_info:
                data["ch_names"] = [ch.get("ch_name") for ch in self.chs_info]
        card = load_card(folder)  # the model first: its data checks would mislead
        if not issubclass(model_class(card["name"]), SSMDP):
            raise ConfigError(f"EEGDM: backbone_weights {folder} hold a {card['name']!r}, not "
                              "an SSMDP")
        if remapped is None:
            self._refuse_other_montage(folder, card["data"], data)
        return load_pretrained(folder, data={k: v for k, v in data.items() if v is not None})

    @staticmethod
    def _refuse_other_montage(folder, pretrained: dict, given: dict) -> None:
        """ConfigError when these windows' channels (count, or names where both are known)
        are not the backbone's pretraining channels, saying how another montage is mapped."""
        was, now = pretrained.get("ch_names"), given.get("ch_names")
        if pretrained.get("n_chans") == given["n_chans"] and (not was or not now or was == now):
            return

        def channels(n, names):
            return f"{n} channels" + (f" {names}" if names else "")

        raise ConfigError(
            f"EEGDM: backbone_weights {folder} were pretrained on "
            f"{channels(pretrained.get('n_chans'), was)}, these windows have "
            f"{channels(given['n_chans'], now)}: give "
            "the same channels in the card's order, or channel_ids: for each of these channels "
            "its row in the backbone's channel table (the card's channel order), as the CHB-MIT "
            "recipe does")

    def get_config(self) -> dict:
        config = super().get_config()
        if config["kwargs"].get("backbone_weights") is not None:
            config["kwargs"].update(backbone=dict(self._backbone_kwargs), backbone_weights=None,
                                    channel_ids=None)  # the ids are in the backbone's kwargs
        return config

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()
        return self

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        tokens = self.backbone.latents(x, step=self.extraction_step, segment=self.segment)
        return self.lft.forward_features(tokens)

    def reset_head(self, n_outputs: int) -> None:
        self.lft.reset_head(n_outputs)
        self._set_n_outputs(self.lft.n_outputs)
