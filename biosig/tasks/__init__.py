"""LightningModules, one per task family: classification, VAE, GAN, VQ pretraining."""

from biosig.tasks.base import BiosigTask
from biosig.tasks.classification import ClassificationTask
from biosig.tasks.gan import GANTask
from biosig.tasks.vae import VAETask
from biosig.tasks.vq import VQTask

__all__ = ["BiosigTask", "ClassificationTask", "GANTask", "VAETask", "VQTask"]
