"""LightningModules, one per task family."""

from biosig.tasks.base import BiosigTask
from biosig.tasks.classification import ClassificationTask

__all__ = ["BiosigTask", "ClassificationTask"]
