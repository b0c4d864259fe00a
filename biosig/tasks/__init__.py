"""LightningModules, one per task family: classification, VAE (``vae``), GAN (``gan``)."""

from biosig.tasks.base import BiosigTask
from biosig.tasks.classification import ClassificationTask
from biosig.tasks.gan import GANTask

__all__ = ["BiosigTask", "ClassificationTask", "GANTask"]
