"""Model registry: ``register_model``, ``create_model(name, **kw)``, ``list_models()``."""

from __future__ import annotations

import fnmatch
from typing import Callable

import torch.nn as nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str | None = None):
    """Class or factory decorator: ``@register_model("dbconformer")``."""

    def wrap(obj):
        key = (name or obj.__name__).lower()
        if key in _MODELS and _MODELS[key] is not obj:
            raise ValueError(f"model name {key!r} registered twice")
        _MODELS[key] = obj
        if isinstance(obj, type) and "registry_name" not in obj.__dict__:
            obj.registry_name = key
        return obj

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a glob pattern, sorted."""
    _import_all()
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern.lower()))


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model by name with keyword arguments."""
    _import_all()
    key = name.lower()
    if key not in _MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _MODELS[key](**kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _import_all() -> None:
    import biosig.models  # noqa: F401  (importing the package registers every model)
