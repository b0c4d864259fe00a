"""LightningModules, one per task family: classification, VAE, GAN, diffusion and VQ pretraining."""

from biosig.tasks.base import BiosigTask
from biosig.tasks.classification import ClassificationTask
from biosig.tasks.diffusion import DiffusionTask
from biosig.tasks.gan import GANTask
from biosig.tasks.vae import VAETask
from biosig.tasks.vq import VQClassificationTask, VQTask

__all__ = ["BiosigTask", "ClassificationTask", "DiffusionTask", "GANTask", "VAETask",
           "VQClassificationTask", "VQTask"]
