"""Models: one public model per file, each registered by name.

>>> from biosig.models import create_model, list_models
"""

from biosig.models import baselines  # noqa: F401  (registers eegnet, eegconformer, ...)
from biosig.models._registry import count_parameters, create_model, list_models, register_model

__all__ = ["count_parameters", "create_model", "list_models", "register_model"]
