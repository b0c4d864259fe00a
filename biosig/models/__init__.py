"""Models: one public model per file, each registered by name.

>>> from biosig.models import DBConformer, create_model, list_models

================  ===================================================================
``DBConformer``   dual-branch convolutional Transformer for EEG decoding (Wang et al. 2026)
``HVEEGNet``      hierarchical VAE with EEGNet blocks (Cisotto et al. 2024)
``VEEGNet``       vEEGNet-ver3, the single-latent baseline of hvEEGNet
``ECGNet``        any single ECG lead -> 12 leads, BiLSTM GAN (Bagga et al. 2023)
``CVDCNN``        12-lead multi-label CVD predictor (ECGNet's downstream CNN)
``EEGFormer``     VQ Transformer EEG foundation model, eegformer_s/b/l (Chen et al. 2024)
``eegnet``, ``eegconformer``, ``shallowfbcspnet``: braindecode baselines (lazy import)
================  ===================================================================
"""

from biosig.models import baselines  # noqa: F401  (registers eegnet, eegconformer, ...)
from biosig.models._registry import count_parameters, create_model, list_models, register_model
from biosig.models.cvd_cnn import CVDCNN
from biosig.models.dbconformer import DBConformer
from biosig.models.ecgnet import ECGNet
from biosig.models.eegformer import EEGFormer
from biosig.models.hveegnet import HVEEGNet
from biosig.models.veegnet import VEEGNet

__all__ = [
    "CVDCNN", "DBConformer", "ECGNet", "EEGFormer", "HVEEGNet", "VEEGNet", "count_parameters",
    "create_model", "list_models", "register_model",
]
