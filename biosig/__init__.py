"""biosig: biosignal deep learning with DBConformer, hvEEGNet, EEGFormer, EEGDM and ECGNet.

Subpackages load on demand: ``biosig.io`` (readers), ``biosig.data`` (preprocessing, windows,
cache, protocols, DataModule), ``biosig.datasets``, ``biosig.models``, ``biosig.tasks``
(LightningModules), ``biosig.metrics`` and ``biosig.plot``.
"""

__version__ = "0.1.0"
