"""Models: one public model per file, each registered by name, all following the contract of
:class:`~biosig.models.base.BiosigModel` (signal arguments, ``forward_features`` /
``forward_head`` / ``reset_head``, ``get_config`` / ``from_config``, ``save_pretrained`` /
``from_pretrained``).

>>> from biosig.models import DBConformer, create_model, list_models

================  ===================================================================
``DBConformer``   dual-branch convolutional Transformer for EEG decoding (Wang et al. 2026)
``HVEEGNet``      hierarchical VAE with EEGNet blocks (Cisotto et al. 2024)
``VEEGNet``       vEEGNet-ver3, the single-latent baseline of hvEEGNet
``ECGNet``        any single ECG lead -> 12 leads, BiLSTM GAN (Bagga et al. 2023)
``CVDCNN``        12-lead multi-label CVD predictor (ECGNet's downstream CNN)
``SSMDP``         EEGDM's S4D diffusion denoiser (Puah et al. 2025)
``LFT``           EEGDM's latent fusion transformer on SSMDP latents
``EEGDM``         frozen SSMDP + LFT on raw windows (on-the-fly latents)
``EEGFormer``     VQ Transformer EEG foundation model, eegformer_s/b/l (Chen et al. 2024)
``eegnet``, ``eegconformer``, ``shallowfbcspnet``: braindecode baselines (lazy import)
================  ===================================================================

The full table (papers, parameter counts, input contracts) is generated from the registry:
``python -m biosig.models.summary``. Weights: :mod:`biosig.models.weights`.
"""

import importlib

#: The modules that register models: the registry's first lookup imports them
#: (:func:`biosig.models._registry.list_models`, ``get_entry``).
MODEL_MODULES = ("baselines", "cvd_cnn", "dbconformer", "ecgnet", "eegdm", "eegformer",
                 "hveegnet", "lft", "ssmdp", "veegnet")
#: Public name -> its module; imported on first use, so that ``python -m biosig.models.summary
#: --help`` (which imports this package first) needs no torch.
_EXPORTS = {
    **dict.fromkeys(["count_parameters", "create_model", "is_classifier", "list_models",
                     "model_arguments", "register_model", "register_variant"], "_registry"),
    "BiosigModel": "base", "CVDCNN": "cvd_cnn", "DBConformer": "dbconformer", "ECGNet": "ecgnet",
    "EEGDM": "eegdm", "EEGFormer": "eegformer", "HVEEGNet": "hveegnet", "LFT": "lft",
    "SSMDP": "ssmdp", "VEEGNet": "veegnet",
    **dict.fromkeys(["load_pretrained", "push_to_hub", "save_pretrained"], "weights"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
