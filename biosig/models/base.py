"""The model contract every biosig network follows (``BiosigModel``).

A biosig model is an ``nn.Module`` that

- takes the braindecode signal arguments ``n_chans, n_outputs, n_times, sfreq, chs_info``,
  handled once here (``None`` means "not given"; ``n_chans`` is inferred from ``chs_info``);
- splits its forward pass into ``forward_features(x)`` (the backbone) and
  ``forward_head(features)`` (the part ``reset_head(n_outputs)`` replaces, by default the
  ``final_layer`` attribute), so a task can freeze the backbone or swap the head;
- records the keyword arguments it was built with: ``get_config()`` returns them (with the
  registry name) and ``from_config(config)`` rebuilds the same network.

Shape errors are :class:`biosig.errors.ShapeError`; bad arguments are
:class:`biosig.errors.ConfigError`. Weights and their card are handled by
:mod:`biosig.models.weights` (``save_pretrained`` / ``from_pretrained``).

Each model also declares what the summary table (:mod:`biosig.models.summary`) shows: the
paper, the task, the keyword arguments of the paper's settings and the parameter count stated
for them (checked by a test), and its input contract (modality, unit, which signal arguments
it needs, whether it accepts any window length or any channel set).
"""

from __future__ import annotations

import copy
import functools
import inspect

import torch
import torch.nn as nn

from biosig.errors import ConfigError, ShapeError, channel_difference

__all__ = ["BiosigModel"]


def integer_input_error(model: str, dtype, want, units: str, cast: str | None = None) -> str:
    """The message for integer samples given to ``model``: a file's digital values (ADC counts)
    have no unit, so they are not cast; ``cast`` says how to pass integers that are values in
    ``units`` (default ``x.to(want)``)."""
    return (f"{model} expects {want} samples in {units}; got integers ({dtype}), e.g. a file's "
            "digital values (ADC counts, wfdb's d_signal), which have no unit: read the file with "
            f"biosig.io (physical units) or convert them, (counts - baseline) / gain, to {units} "
            f"as {want}; integers that are values in {units}: {cast or f'x.to({want})'}")


class BiosigModel(nn.Module):
    """Base of every biosig model (see the module docstring for the contract).

    Class attributes a model may set:

    - ``registry_name``: set by ``register_model``; ``get_config`` stores it;
    - ``requires``: signal arguments the model cannot be built without (e.g.
      ``("n_chans", "n_times", "sfreq")`` where kernel lengths follow the sampling rate:
      a model built by hand without ``sfreq`` then fails instead of assuming 250 Hz);
    - ``head_attr``: name of the module ``reset_head`` replaces (default ``"final_layer"``);
    - ``paper``, ``task``: citation and purpose shown in the model summary;
    - ``classifies``: ``forward`` maps its input (``modality``) to class logits
      ``(batch, n_outputs)``, so :class:`~biosig.tasks.ClassificationTask` can train it (not a
      VAE, GAN or denoiser); ``biosig demo`` takes the classifiers of EEG windows;
    - ``variational``: ``forward`` returns a :class:`~biosig.models.blocks.vae.VAEOutput`
      (reconstruction, KL terms) and ``reconstruct(x)`` a reconstruction, so
      :class:`~biosig.tasks.VAETask` can train it;
    - ``gan_role``: ``"generator"`` or ``"critic"``, the part of
      :class:`~biosig.tasks.gan.GANTask`'s protocol ``forward`` follows (empty: neither);
    - ``paper_settings`` / ``paper_n_params``: keyword arguments of the paper's stated settings
      and the parameter count stated for them (a test builds the model and compares);
    - ``modality``, ``units``: what the input is (``"EEG"``, ``"µV"``); ``units`` is the default
      unit written into a weights card;
    - ``input_note``: extra words for the summary's input contract (e.g. an alternative to
      ``sfreq``);
    - ``length_agnostic``: the weights fit any ``n_times`` (rebuilding with another window
      length keeps every parameter shape), so ``load_pretrained(adapt=True)`` may change it;
    - ``channel_independent``: the weights are shared over channels, so
      ``load_pretrained(adapt=True)`` may load them on other channels by name (a subset,
      another order, channels the card lacks);
    - ``used_through``: how to use the model where a task cannot train it (e.g. a pretrained
      SSMDP as EEGDM's backbone), added to that refusal; ``{weights}`` stands for its weights
      folder;
    - ``compiled_methods``: methods besides ``forward`` that a task calls in its training step
      (EEGFormer's ``forward_pretrain``), which :class:`~biosig.callbacks.CompileNetworks`
      compiles too.
    """

    registry_name: str | None = None
    requires: tuple[str, ...] = ()
    head_attr: str = "final_layer"
    paper: str = ""
    task: str = ""
    classifies: bool = False
    variational: bool = False
    gan_role: str = ""
    paper_settings: dict | None = None
    paper_n_params: int | None = None
    modality: str = "EEG"
    units: str = "µV"
    input_note: str = ""
    length_agnostic: bool = False
    channel_independent: bool = False
    used_through: str = ""
    compiled_methods: tuple[str, ...] = ()
    #: what a model loaded from a weights folder keeps of its card (:meth:`keep_card`) for
    #: ``save_pretrained`` to write again; None for a model built here
    loaded_card: dict | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__dict__["__init__"]
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            outermost = not getattr(self, "_recording_config", False)
            if outermost:
                object.__setattr__(self, "_recording_config", True)
            try:
                init(self, *args, **kw)
            finally:
                if outermost:
                    object.__setattr__(self, "_recording_config", False)
            if outermost:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                arguments.pop("self")
                for name, param in signature.parameters.items():
                    if param.kind is inspect.Parameter.VAR_KEYWORD:
                        arguments.update(arguments.pop(name, {}))
                    elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                        arguments.pop(name, None)
                object.__setattr__(self, "_init_kwargs", arguments)

        cls.__init__ = recording_init

    # -- signal arguments ---------------------------------------------------------------------
    def _init_signal(self, n_chans=None, n_outputs=None, n_times=None, sfreq=None,
                     chs_info=None) -> None:
        """Check and store the signal arguments; call at the top of ``__init__``."""
        name = type(self).__name__
        if chs_info is not None:
            chs_info = [dict(ch) for ch in chs_info]
            if n_chans is None:
                n_chans = len(chs_info)
            elif len(chs_info) != int(n_chans):
                raise ConfigError(f"{name}: chs_info has {len(chs_info)} entries but "
                                  f"n_chans={n_chans}")
        given = dict(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, sfreq=sfreq,
                     chs_info=chs_info)
        for key in self.requires:
            if given[key] is None:
                hint = (" (kernel lengths follow the sampling rate; pass the rate of your data)"
                        if key == "sfreq" else "")
                raise ConfigError(f"{name} needs {key}{hint}")
        for key in ("n_chans", "n_outputs", "n_times"):
            if given[key] is not None and not _positive(given[key], integer=True):
                raise ConfigError(f"{name}: {key} must be a positive integer, got {given[key]!r}")
        if sfreq is not None and not _positive(sfreq, integer=False):
            raise ConfigError(f"{name}: sfreq must be a positive number, got {sfreq!r}")
        self.n_chans = None if n_chans is None else int(n_chans)
        self.n_outputs = None if n_outputs is None else int(n_outputs)
        self.n_times = None if n_times is None else int(n_times)
        self.sfreq = None if sfreq is None else float(sfreq)
        self.chs_info = chs_info

    @property
    def ch_names(self) -> list[str] | None:
        if not self.chs_info:
            return None
        return [str(ch.get("ch_name", ch.get("name"))) for ch in self.chs_info]

    def check_input(self, x: torch.Tensor, n_times: bool = True) -> torch.Tensor:
        """Raise :class:`ShapeError` unless ``x`` is ``(batch, n_chans, n_times)`` of the
        weights' dtype (:meth:`check_dtype`)."""
        self.check_dtype(x)
        want_t = self.n_times if n_times else None
        if (x.ndim != 3 or (self.n_chans is not None and x.shape[1] != self.n_chans)
                or (want_t is not None and x.shape[2] != want_t)):
            t = f"n_times={want_t}" if want_t is not None else "n_times"
            only_length = (x.ndim == 3 and want_t is not None
                           and (self.n_chans is None or x.shape[1] == self.n_chans))
            rebuild = (f"; {type(self).__name__}'s weights can serve other lengths: load them "
                       f"for {x.shape[2]} samples with from_pretrained(folder, data={{'n_times': "
                       f"{x.shape[2]}}}, adapt=True) (refused, naming the layer, where a layer's "
                       "size follows the length)" if only_length and self.length_agnostic else "")
            raise ShapeError(f"{type(self).__name__} expects (batch, n_chans={self.n_chans}, {t}) "
                             f"{self.modality} in {self.units}; got {tuple(x.shape)}, not the "
                             f"expected input shape{rebuild}")
        return x

    def check_dtype(self, x: torch.Tensor) -> torch.Tensor:
        """Raise :class:`ShapeError` unless ``x`` is floating point of the weights' dtype
        (``torch.from_numpy`` gives float64; torch's own error names neither the model nor the
        fix). Not checked under autocast, which casts inside the layers."""
        weight = next(self.parameters(), None)
        if weight is None or torch.is_autocast_enabled(x.device.type):
            return x
        if not x.is_floating_point() and x.dtype != torch.bool:
            raise ShapeError(integer_input_error(type(self).__name__, x.dtype, weight.dtype,
                                                 self.units))
        if not x.is_floating_point() or (weight.is_floating_point() and x.dtype != weight.dtype):
            raise ShapeError(f"{type(self).__name__} expects {weight.dtype} input (its weights' "
                             f"dtype); got {x.dtype}: convert it, e.g. x.to({weight.dtype})")
        return x

    # -- features / head -----------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define forward_features")

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.get_classifier()(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        try:
            head = self.get_submodule(self.head_attr)  # a dotted path works too
        except AttributeError:
            head = None
        if not isinstance(head, nn.Module):
            raise ConfigError(f"{type(self).__name__} has no head module {self.head_attr!r}")
        return head

    def reset_head(self, n_outputs: int) -> None:
        """Replace the head's last linear layer by a fresh one with ``n_outputs`` units."""
        head = self.get_classifier()
        if not isinstance(head, nn.Linear):
            raise ConfigError(f"{type(self).__name__}.{self.head_attr} is not a Linear layer; "
                              "override reset_head")
        self._set_n_outputs(n_outputs)
        new = nn.Linear(head.in_features, self.n_outputs, bias=head.bias is not None)
        parent, _, leaf = self.head_attr.rpartition(".")
        owner = self.get_submodule(parent) if parent else self
        setattr(owner, leaf, new.to(head.weight.device, head.weight.dtype))

    def _set_n_outputs(self, n_outputs) -> None:
        """Check and store a new ``n_outputs`` (also in the recorded config); for ``reset_head``."""
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, (int, float)) or int(
                n_outputs) != n_outputs or n_outputs <= 0:
            raise ConfigError(f"{type(self).__name__}: n_outputs must be a positive integer, "
                              f"got {n_outputs!r}")
        self.n_outputs = int(n_outputs)
        if hasattr(self, "_init_kwargs"):
            self._init_kwargs["n_outputs"] = self.n_outputs
        if self.loaded_card is not None:  # the card's class names describe the old head
            self.loaded_card["data"].update(classes=None, multilabel=None)

    @classmethod
    def adapts_channels(cls, kwargs: dict) -> bool:
        """Whether weights built with ``kwargs`` may be loaded on other channels
        (``load_pretrained(adapt=True)``): ``channel_independent`` unless a model says
        otherwise for some settings."""
        return cls.channel_independent

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """``{"name": registry name, "kwargs": {...}}``: what ``from_config`` rebuilds from.

        In the form a JSON card keeps: classes (activations) as their dotted names, tuples as
        lists.
        """
        kwargs = {k: _plain(v) for k, v in getattr(self, "_init_kwargs", {}).items()}
        return {"name": self.registry_name or type(self).__name__.lower(), "kwargs": kwargs}

    @classmethod
    def from_config(cls, config: dict) -> "BiosigModel":
        """Rebuild from ``get_config()``'s dict (through the registry, so variants keep their name).

        Called on a subclass, the config must name that class (or one of its variants).
        """
        from biosig.models._registry import create_model, model_class

        kwargs = {k: _resolve_class(v) for k, v in dict(config.get("kwargs", {})).items()}
        name = config.get("name") or cls.registry_name
        if not name:
            raise ConfigError(f"{cls.__name__}.from_config: the config names no model ('name')")
        if cls is not BiosigModel:
            built = model_class(name)
            if not (isinstance(built, type) and issubclass(built, cls)):
                raise ConfigError(f"{cls.__name__}.from_config: the config is for model {name!r}, "
                                  f"not {cls.__name__}")
        return create_model(name, **kwargs)

    # -- weights -------------------------------------------------------------------------------
    def save_pretrained(self, directory, **card):
        """Write the weights folder; see :func:`biosig.models.weights.save_pretrained`."""
        from biosig.models.weights import save_pretrained

        return save_pretrained(self, directory, **card)

    @classmethod
    def from_pretrained(cls, directory, **kwargs) -> "BiosigModel":
        """Load weights saved by ``save_pretrained`` (a folder or ``"hf://owner/name"``).

        Keywords as :func:`biosig.models.weights.load_pretrained` (``data``, ``n_outputs``,
        ``adapt``); called on a subclass, the card must name that class.
        """
        from biosig.models.weights import _load

        return _load(directory, expected=None if cls is BiosigModel else cls, **kwargs)

    def keep_card(self, card: dict) -> None:
        """Called by ``from_pretrained`` with the weights' card: keep what the model's kwargs do
        not hold. Here the channel names the weights were trained on (``ch_names``, where the
        kwargs named none), so their order stays checkable, and as :attr:`loaded_card` the
        card's data contract (class names, preprocessing...), recipe and licence, which
        ``save_pretrained`` writes again where not given (not the metrics: they score these
        weights, not what training makes of them; a new head (``reset_head``) drops the
        class names and ``multilabel``), and the digest of the loaded tensors
        (``tensors_sha256``): weights changed since keep the recipe as
        ``recipe["pretraining"]`` only."""
        from biosig.models.weights import _tensors_digest

        self.keep_ch_names(card["data"].get("ch_names"))
        self.loaded_card = copy.deepcopy({"data": card["data"], "recipe": card.get("recipe"),
                                          "licence": card.get("licence")})
        self.loaded_card["tensors_sha256"] = _tensors_digest(self.state_dict())

    def keep_ch_names(self, names) -> None:
        """Name the channels the weights see (``ch_names``) where the model names none (no
        ``chs_info`` in its kwargs, no built-in names): the card's for a loaded model
        (:meth:`keep_card`), the data's for a network a task builds (after
        :meth:`ch_names_difference`), so their order stays checkable (``score_trials``) and
        ``save_pretrained`` records them. Not part of the config. ConfigError when ``names``
        are not one per channel; with ``n_chans`` unknown (a model taking any count) nothing
        is named."""
        if not names or self.chs_info is not None or self.n_chans is None:
            return
        if len(names) != self.n_chans:
            raise ConfigError(f"{type(self).__name__}: {len(names)} channel names "
                              f"{[str(c) for c in names]} for n_chans={self.n_chans} channels: "
                              "name each channel of the data once")
        self.chs_info = [{"ch_name": str(c)} for c in names]

    def ch_names_difference(self, names) -> str:
        """How the data's channel names ``names`` differ from the channels the model names
        (:attr:`ch_names`: built-in, its kwargs' ``chs_info`` or a card's), as
        :func:`biosig.errors.channel_difference` says it; ``""`` when they are the same in the
        same order, or the model names none."""
        own = self.ch_names
        return "" if own is None else channel_difference([str(c) for c in names], own)

    def push_to_hub(self, repo_id: str, **kwargs):
        """Publish to the Hugging Face Hub; see :func:`biosig.models.weights.push_to_hub`."""
        from biosig.models.weights import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)


def _positive(value, integer: bool) -> bool:
    if isinstance(value, (bool, str)):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number > 0 and (not integer or number == int(number))


def _plain(value):
    if isinstance(value, type):  # activations are passed as classes
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _resolve_class(value):
    """Turn ``"torch.nn.modules.activation.ELU"`` back into the class (torch.nn only)."""
    if isinstance(value, str) and value.startswith("torch.nn."):
        module, _, qualname = value.rpartition(".")
        import importlib

        return getattr(importlib.import_module(module), qualname)
    return value
