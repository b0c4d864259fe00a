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

from biosig.models import baselines  # noqa: F401  (registers eegnet, eegconformer, ...)
from biosig.models._registry import (
    count_parameters,
    create_model,
    is_classifier,
    list_models,
    model_arguments,
    register_model,
    register_variant,
)
from biosig.models.base import BiosigModel
from biosig.models.cvd_cnn import CVDCNN
from biosig.models.dbconformer import DBConformer
from biosig.models.ecgnet import ECGNet
from biosig.models.eegdm import EEGDM
from biosig.models.eegformer import EEGFormer
from biosig.models.hveegnet import HVEEGNet
from biosig.models.lft import LFT
from biosig.models.ssmdp import SSMDP
from biosig.models.veegnet import VEEGNet
from biosig.models.weights import load_pretrained, push_to_hub, save_pretrained

__all__ = [
    "BiosigModel", "CVDCNN", "DBConformer", "ECGNet", "EEGFormer", "HVEEGNet", "VEEGNet",
    "count_parameters", "create_model", "is_classifier", "list_models", "load_pretrained",
    "model_arguments", "push_to_hub",
    "register_model", "register_variant", "save_pretrained",
    "EEGDM", "LFT", "SSMDP",
]
