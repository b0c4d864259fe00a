"""Model registry: ``register_model``, ``register_variant``, ``create_model(name, **kw)``,
``list_models()`` (``classifier=True``: the models that map windows to class logits),
``model_arguments(name)``.

A *variant* is a registered name for a model with other defaults (timm's entry points), e.g.
``dbconformer_loso`` = ``dbconformer`` with ``depth=6``; it declares its own paper settings and
stated parameter count for the summary table. Arguments given to ``create_model`` override a
variant's defaults; the built model reports the variant's name in ``get_config()``.
"""

from __future__ import annotations

import fnmatch
import inspect
from typing import Any, Callable

import torch.nn as nn

from biosig.errors import ConfigError

_MODELS: dict[str, Callable[..., nn.Module]] = {}


class Variant:
    """A registered name that builds ``base`` with other default arguments.

    ``paper``, ``task``, ``paper_settings`` and ``paper_n_params`` default to the base class's
    declarations; a variant with other defaults usually states its own settings and count.
    """

    def __init__(self, name: str, base: str, defaults: dict[str, Any], *, paper: str | None = None,
                 task: str | None = None, paper_settings: dict | None = None,
                 paper_n_params: int | None = None):
        self.name = name
        self.base = base.lower()
        self.defaults = dict(defaults)
        self._declared = dict(paper=paper, task=task, paper_settings=paper_settings,
                              paper_n_params=paper_n_params)

    @property
    def cls(self) -> type:
        return model_class(self.base)

    def __getattr__(self, key: str):
        # declarations the variant does not state come from the base class
        if key.startswith("_") or key not in ("paper", "task", "paper_settings", "paper_n_params"):
            raise AttributeError(key)
        value = self._declared.get(key)
        return value if value is not None else getattr(self.cls, key, None)

    def __call__(self, **kwargs) -> nn.Module:
        model = _MODELS[self.base](**{**self.defaults, **kwargs})
        model.registry_name = self.name  # get_config() then names the variant
        return model

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"Variant({self.name!r} = {self.base}({args}))"


def register_model(name: str | None = None):
    """Class or factory decorator: ``@register_model("dbconformer")``."""

    def wrap(obj):
        key = (name or obj.__name__).lower()
        _add(key, obj)
        if isinstance(obj, type) and "registry_name" not in obj.__dict__:
            obj.registry_name = key
        return obj

    return wrap


def register_variant(name: str, base: str, *, paper: str | None = None, task: str | None = None,
                     paper_settings: dict | None = None, paper_n_params: int | None = None,
                     **defaults) -> Variant:
    """Register ``name`` as ``base`` with other default keyword arguments.

    >>> register_variant("dbconformer_loso", "dbconformer", depth=6,
    ...                  paper_settings=dict(n_chans=14, n_outputs=2, n_times=1251, sfreq=250.0),
    ...                  paper_n_params=250_947)  # doctest: +SKIP
    """
    if base.lower() not in _MODELS:
        raise KeyError(f"variant {name!r}: base model {base!r} is not registered")
    if isinstance(_MODELS[base.lower()], Variant):
        raise ValueError(f"variant {name!r}: base {base!r} is itself a variant")
    variant = Variant(name.lower(), base, defaults, paper=paper, task=task,
                      paper_settings=paper_settings, paper_n_params=paper_n_params)
    _add(variant.name, variant)
    return variant


def _add(key: str, obj) -> None:
    if key in _MODELS and _MODELS[key] is not obj:
        raise ValueError(f"model name {key!r} registered twice")
    _MODELS[key] = obj


def list_models(pattern: str = "*", *, classifier: bool | None = None) -> list[str]:
    """Registered model names (variants included) matching a glob pattern, sorted.

    ``classifier=True`` keeps the classifiers (``BiosigModel.classifies``: windows -> class
    logits), ``False`` the others.
    """
    _import_all()
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern.lower())
                  and (classifier is None or is_classifier(n) == classifier))


def is_classifier(name: str) -> bool:
    """Whether the model ``name`` maps windows to class logits (``BiosigModel.classifies``)."""
    return bool(getattr(model_class(name), "classifies", False))


def model_arguments(name: str) -> list[str] | None:
    """The keyword arguments model ``name`` accepts; None when it takes any (``**kwargs``
    without an ``extra_arguments()`` classmethod naming them)."""
    cls = model_class(name)
    params = inspect.signature(cls).parameters.values()
    names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        extra = getattr(cls, "extra_arguments", None)
        if extra is None:
            return None
        names += [n for n in extra() if n not in names]
    return names


def get_entry(name: str) -> Callable[..., nn.Module]:
    """The registered class, factory or :class:`Variant` for ``name``."""
    _import_all()
    key = name.lower()
    if key not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _MODELS[key]


def model_class(name: str):
    """The class a registered name builds (the base class for a variant)."""
    entry = get_entry(name)
    return entry.cls if isinstance(entry, Variant) else entry


def check_model_arguments(name: str, kwargs) -> None:
    """ConfigError for an unknown model name, or for an argument the model does not take
    (naming the ones it does); nothing is built."""
    get_entry(name)
    accepted = model_arguments(name)
    unknown = [k for k in kwargs if accepted is not None and k not in accepted]
    if unknown:
        from biosig._checks import colon_without_space

        raise ConfigError(f"model {name!r} has no argument {', '.join(map(repr, unknown))}"
                          f"{colon_without_space(unknown[0])}; its arguments: "
                          f"{', '.join(accepted)}")


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model (or variant) by name with keyword arguments; an argument the
    model does not take is a ConfigError naming the ones it does."""
    check_model_arguments(name, kwargs)
    return get_entry(name)(**kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _import_all() -> None:
    """Import the modules that register the models (:data:`biosig.models.MODEL_MODULES`)."""
    import importlib

    from biosig.models import MODEL_MODULES

    for name in MODEL_MODULES:
        importlib.import_module(f"biosig.models.{name}")
