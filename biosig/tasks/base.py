"""Shared parts of biosig's LightningModules: the network, pretrained weights, freezing.

"Linear probe", "fine-tune" and "from scratch" are three settings of one task, for every model:

- from scratch: ``pretrained=None`` (the network is built from the registry);
- fine-tune: ``pretrained=<weights folder or checkpoint>, freeze="none"``;
- linear probe: ``pretrained=..., freeze="backbone"`` (only the head trains).

Gradual unfreezing is Lightning's :class:`~lightning.pytorch.callbacks.BackboneFinetuning`
callback: it freezes ``task.backbone`` before training and unfreezes it at a given epoch (the
tasks' optimisers take only trainable parameters, as that callback requires).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import pickle
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn as nn
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.utilities import GradClipAlgorithmType

from biosig._checks import check_args, number
from biosig.errors import ConfigError, InvalidFileError, NonFiniteInputError
from biosig.models import create_model
from biosig.models._registry import check_model_arguments

__all__ = ["FREEZE_MODES", "OPTIMIZERS", "OPTIMIZER_RULES", "BiosigTask", "NetworkKind",
           "head_modules", "load_weights_file", "make_optimizer", "no_weight_decay_parameters",
           "non_finite_error", "scheduler_total_steps"]

FREEZE_MODES = ("none", "backbone", "all_but_head")
#: Where a task's checkpoint keeps its DataModule's weights-card data (BiosigTask.save_pretrained)
DATA_CARD_KEY = "biosig_data_card"
#: Where it keeps, by network (``net``; GANTask's ``generator``, ``critic``), what a network
#: loaded from a weights folder kept of its card (:attr:`BiosigModel.loaded_card`)
LOADED_CARDS_KEY = "biosig_loaded_cards"
OPTIMIZERS = ("adam", "adamw", "sgd")
_PASSED = ("n_chans", "n_outputs", "n_times", "sfreq")  # signal arguments the task passes


def _refuse_signal_kwargs(kwargs, key: str) -> None:
    clash = sorted(set(kwargs) & set(_PASSED))
    if clash:
        raise ConfigError(f"model.{key}_kwargs must not set {clash}: the task passes the "
                          "data's signal arguments (model.n_chans, ...)")


def _check_optimizer_name(key: str, value) -> None:
    if not isinstance(value, str) or value.lower() not in OPTIMIZERS:
        raise ConfigError(f"{key} must be one of {list(OPTIMIZERS)}, got {value!r}")


def _check_betas(key: str, value) -> None:
    if value is None:
        return
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ConfigError(f"{key} must be two numbers in [0, 1), got {value!r}")
    for i, beta in enumerate(value):
        number(f"{key}[{i}]", beta, ge=0, lt=1)


#: The optimiser settings every task checks alike (names as the tasks' arguments; rules as
#: :func:`biosig._checks.check_args` takes them): learning rates finite and > 0, weight decay
#: finite and >= 0, Adam betas in [0, 1), a known optimiser name.
OPTIMIZER_RULES = {
    "lr": dict(gt=0),
    "lr_g": dict(gt=0),
    "lr_d": dict(gt=0),
    "weight_decay": dict(ge=0),
    "betas": _check_betas,
    "optimizer": _check_optimizer_name,
}


@dataclass(frozen=True)
class NetworkKind:
    """What a task's network must be (an entry of ``BiosigTask.NETWORKS``): ``fits(cls)`` of a
    registered model class; ``what`` names it in errors (``"a classifier"``), ``plural`` heads
    the list of the registered models that fit (``"classifiers"``)."""

    what: str
    plural: str
    fits: Callable[[type], bool]


class BiosigTask(pl.LightningModule):
    """Base of every task: builds its network from the registry or from pretrained weights.

    Parameters
    ----------
    model, model_kwargs : registry name and the network's other arguments.
    n_chans, n_times, sfreq, n_outputs : the data's signal arguments, linked from the DataModule
        by the CLI (or passed by hand); ``None`` means unknown and is passed on as such (no
        default sampling rate: a model whose kernels follow ``sfreq`` then refuses to build).
    ch_names : the data's channel names (linked from the DataModule), checked against a
        weights card (:meth:`data_contract`) and against a network that names its channels
        itself (ECGNet its 12 leads, a ``chs_info`` in ``model_kwargs``): another order, or
        not one name per channel, is a ConfigError (:meth:`_name_channels`).
    pretrained : a weights folder (``model.safetensors`` + ``card.json``, see
        :mod:`biosig.models.weights`; the card fixes the architecture, ``model`` may be left
        out) or a file: a Lightning checkpoint of a task (it names its network: ``model`` and
        ``model_kwargs`` default to its, and one that contradicts it is refused) or a state
        dict (``.ckpt``/``.pt``/``.pth``, read with ``weights_only=True``, or
        ``.safetensors``) for the network that ``model``/``model_kwargs`` build. A task's own
        checkpoints replace it with the network's config (``get_config()``, a dict):
        ``load_from_checkpoint`` rebuilds the architecture from it and loads the checkpoint's
        weights, without the folder or file the training started from. The data contract
        (``sfreq``, ``n_times``, ``n_chans``, ``ch_names``) is checked against a card, or the
        data a task checkpoint recorded, alike (a mismatch is a ConfigError unless ``adapt``
        allows the model's adaptation); an ``n_outputs`` other than the weights'
        gives a new head; any other missing, unexpected or mis-shaped weight in a file is a
        ConfigError too.
    freeze : ``"none"``; ``"backbone"``: everything but the head trains not, where the head is
        every module ``forward_head`` runs (found by running it once on a dummy input);
        ``"all_but_head"``: only the head module (``model.head_attr``, e.g. ``final_layer``)
        trains. The two differ where ``forward_head`` does more than the last layer. Frozen
        modules stay in eval mode during training (BatchNorm statistics and dropout frozen too).
    adapt : passed to :func:`biosig.models.weights.load_pretrained`: allow its documented
        adaptations to the data instead of refusing a mismatch.

    A task that composes several networks (:class:`biosig.tasks.gan.GANTask`) leaves ``model``
    and ``pretrained`` out and builds each with :meth:`build_network`.

    A task declares what each network must be in ``NETWORKS`` (:class:`NetworkKind`, e.g. a
    classifier); :meth:`check_network` refuses any other model, whether named, held by a weights
    folder (its card, read before the weights and before the data are compared) or by a
    checkpoint's network config, so a network the task cannot train never reaches a step.

    Each task checks its scalar arguments first thing in ``__init__`` with :meth:`check_args`
    (rules: ``ARG_RULES`` of the class and its bases, the optimiser's :data:`OPTIMIZER_RULES`
    for all), so a bad value is a ConfigError naming ``model.<argument>``; the CLI runs the
    same check on the config before the data are built.

    Each step checks its loss (``predict_step`` its output) with :meth:`check_finite`: a NaN or
    infinite one is a NonFiniteInputError naming the input batch's bad windows, or, from a
    finite batch, a FloatingPointError (training diverged). On an accelerator the checks of
    ``finite_check_interval`` steps are read at once (see :meth:`check_finite`).
    """

    #: On an accelerator, how many loss checks wait to be read at once (each read makes the
    #: host wait for the device); None: the trainer's ``log_every_n_steps``, 1 on CPU.
    finite_check_interval: int | None = None

    #: The scores ``trainer.test`` reports, without the ``test_`` prefix (``*``: a channel or
    #: level name); None: not declared (see :meth:`test_metric_names`).
    TEST_METRICS: tuple[str, ...] | None = None

    #: Rules for the task's own arguments (``{name: rule}``, see :func:`biosig._checks.check_args`);
    #: a subclass's entries add to (or replace) its bases'.
    ARG_RULES: dict = OPTIMIZER_RULES

    #: What each network must be, by key (``"model"``; GANTask's ``"generator"``, ``"critic"``);
    #: a key without an entry takes any registered model.
    NETWORKS: dict[str, NetworkKind] = {}

    @classmethod
    def check_network(cls, key: str, name: str, source: str | None = None,
                      folder=None) -> None:
        """A ConfigError when the registered model ``name`` is not what the ``key`` network must
        be (``NETWORKS``), listing the models that fit and how ``name`` is used instead (its
        ``used_through``); ``source`` replaces ``model.<key>=<name> is`` in the message (e.g. a
        weights folder holding ``name``), ``folder`` is that weights folder."""
        kind = cls.NETWORKS.get(key)
        if kind is None:
            return
        from biosig.models._registry import list_models, model_class

        model = model_class(name)
        if kind.fits(model):
            return
        fitting = [n for n in list_models() if kind.fits(model_class(n))]
        subject = f"model.{key}={name!r} is" if source is None else f"{source},"
        weights = repr(str(folder)) if folder is not None else "<its weights folder>"
        hint = f"; {model.used_through.format(weights=weights)}" if model.used_through else ""
        raise ConfigError(f"{subject} not {kind.what}, so {cls.__name__} cannot train it; "
                          f"{kind.plural}: {', '.join(fitting) or 'none registered'}{hint}")

    @classmethod
    def arg_rules(cls) -> dict:
        """The rules of ``cls`` and its bases (``ARG_RULES``; a subclass's entry wins)."""
        rules: dict = {}
        for klass in reversed(cls.__mro__):
            rules.update(vars(klass).get("ARG_RULES", {}))
        return rules

    @classmethod
    def check_args(cls, args) -> None:
        """A ConfigError naming ``model.<name>`` for the first bad value among ``args`` (a
        mapping of argument names to values, e.g. an ``__init__``'s ``locals()`` or a config's
        ``init_args``); arguments without a rule are not looked at."""
        check_args(args, cls.arg_rules(), prefix="model.")

    @classmethod
    def test_metric_names(cls, args: Mapping, n_outputs: int | None = None) -> list[str] | None:
        """The scores a task built with ``args`` (its ``init_args``) reports at test, without
        the ``test_`` prefix (``*`` stands for a channel or level name), for the data's
        ``n_outputs`` where known; ``biosig run`` checks its metric names against them before
        training. None: not declared."""
        return None if cls.TEST_METRICS is None else list(cls.TEST_METRICS)

    @classmethod
    def check_networks(cls, args) -> None:
        """The networks a config's ``init_args`` give: the registry names (``model``; GANTask's
        ``generator`` and ``critic``) with their ``*_kwargs``, and a local ``pretrained`` folder
        or file. A ConfigError for an unknown name, a model the task cannot train
        (:meth:`check_network`), an argument the network does not take or a signal argument
        the task passes (``n_chans``...); an InvalidFileError for an unusable weights folder.
        Nothing is built and no weights are loaded, so the CLI runs it before the data."""
        params = inspect.signature(cls.__init__).parameters
        for key in ("model", "generator", "critic"):
            if key not in params:
                continue
            name = args.get(key, params[key].default)
            if isinstance(name, str):
                cls.check_network(key, name)
            kwargs = args.get(f"{key}_kwargs") or {}
            if isinstance(kwargs, Mapping):
                _refuse_signal_kwargs(kwargs, key)
                if isinstance(name, str):
                    check_model_arguments(name, kwargs)
        pretrained = args.get("pretrained") if "pretrained" in params else None
        if not isinstance(pretrained, (str, os.PathLike)) or str(pretrained).startswith("hf://"):
            return  # a checkpoint's config, or a Hub address (downloaded when the task is built)
        name = args.get("model", params["model"].default if "model" in params else None)
        path = Path(pretrained)
        if path.is_dir():
            from biosig.models.weights import check_folder

            cls._check_card("model", name, path, check_folder(path))
        elif path.is_file():
            kwargs = args.get("model_kwargs") or {}
            if isinstance(kwargs, Mapping) and (name is None or isinstance(name, str)):
                name, kwargs, _ = cls._checkpoint_architecture("model", name, kwargs, path)
                if name is None:
                    raise _file_without_name(path, "model")
                check_model_arguments(name, kwargs)

    @classmethod
    def _check_card(cls, key: str, name: str | None, folder, card: Mapping) -> None:
        """The model a weights folder's card names: one the task can train, and ``name`` if
        given."""
        card_name = card["name"]
        cls.check_network(key, card_name, folder=folder,
                          source=f"model.pretrained={folder} holds a {card_name!r} (its card.json)")
        if isinstance(name, str) and name.lower() != card_name.lower():
            raise ConfigError(f"model.{key}={name!r} but the weights in {folder} are a "
                              f"{card_name!r}; leave model.{key} out or name the card's model")

    @classmethod
    def _checkpoint_architecture(cls, key: str, name: str | None, kwargs: Mapping,
                                 path: Path) -> tuple[str | None, dict, dict | None]:
        """The network name and ``model_kwargs`` for the weights file ``path``, and where it is
        a task's Lightning checkpoint, its card (:func:`_checkpoint_network`): the checkpoint's
        name and arguments fill in those not given (a network the task cannot train is refused,
        :meth:`check_network`); a given name or argument that contradicts the checkpoint's is a
        ConfigError naming both. Other files: as given, and no card."""
        made = _checkpoint_network(path)
        if made is None:
            return name, dict(kwargs), None
        saved_name, saved, card = made
        source = f"model.pretrained={path} is a Lightning checkpoint of a {saved_name!r} network"
        if name is not None and name.lower() != saved_name.lower():
            raise ConfigError(f"model.{key}={name!r} but {source}; leave model.{key} out (the "
                              "checkpoint names its network) or give a checkpoint of a "
                              f"{name!r}")
        cls.check_network(key, saved_name, source=source)
        from biosig.models.base import _plain

        clash = [k for k in kwargs if k in saved and _plain(kwargs[k]) != _plain(saved[k])]
        if clash:
            raise ConfigError(
                f"model.{key}_kwargs " + ", ".join(f"{k}={kwargs[k]!r}" for k in clash)
                + f" but {source} made with " + ", ".join(f"{k}={saved[k]!r}" for k in clash)
                + f"; leave them out of model.{key}_kwargs (the checkpoint's are used)")
        return saved_name, {**saved, **kwargs}, card

    def __init__(
        self,
        model: str | None = None,
        model_kwargs: dict | None = None,
        n_chans: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        n_outputs: int | None = None,
        *,
        ch_names: list[str] | None = None,
        pretrained: str | dict | None = None,
        freeze: str = "none",
        adapt: bool = False,
    ):
        super().__init__()
        self._frozen_modules: list[str] = []
        #: (source, its n_outputs) of pretrained weights whose head was made afresh for these
        #: data's n_outputs: untrained until fitted (``biosig test`` refuses to score it)
        self.untrained_head: tuple[str, int | None] | None = None
        self._weights_preprocessing: dict[str, tuple] = {}  # of loaded weights folders, by key
        self._batch_idx: int | None = None  # of the current step, for check_finite's message
        self._finite_pending: list[_PendingCheck] = []  # checks not read yet (check_finite)
        self.n_chans, self.n_times, self.sfreq, self.n_outputs, self.ch_names = _check_signal(
            n_chans, n_times, sfreq, n_outputs, ch_names)
        if freeze not in FREEZE_MODES:
            raise ConfigError(f"model.freeze must be one of {FREEZE_MODES}, got {freeze!r}")
        self.freeze_mode = freeze
        self.net: nn.Module | None = None
        if model is not None or pretrained is not None:
            self.net = self.build_network(model, model_kwargs, self.n_outputs,
                                          pretrained=pretrained, adapt=adapt)
        elif model_kwargs:
            raise ConfigError("model.model_kwargs given without model.model")
        if freeze != "none":
            if self.net is None:
                raise ConfigError(f"model.freeze={freeze!r} needs the task's network "
                                  "(model.model or model.pretrained)")
            if pretrained is None:  # legitimate (a random-features baseline), rarely meant
                warnings.warn(f"model.freeze={freeze!r} without model.pretrained: the frozen "
                              "part keeps its random initialisation (a probe of random "
                              "features); give pretrained weights for a linear probe",
                              stacklevel=2)
            heads = head_modules(self.net, freeze, self.n_chans, self.n_times)
            self._frozen_modules = _freeze_all_but(self.net, heads)
            self._sync_frozen_modes()

    # -- networks ------------------------------------------------------------------------------
    def build_network(self, name: str | None, kwargs: dict | None = None,
                      n_outputs: int | None = None, *, pretrained: str | dict | None = None,
                      adapt: bool = False, key: str = "model") -> nn.Module:
        """A registry network with the data's signal arguments, or one from ``pretrained``.

        ``key`` names the config entries in error messages (``"generator"`` ->
        ``model.generator``, ``model.generator_kwargs``). The network keeps the data's channel
        names (``ch_names``, as a loaded model keeps its card's), or is refused when it names
        others (:meth:`_name_channels`).
        """
        net = self._build_network(name, kwargs, n_outputs, pretrained=pretrained, adapt=adapt,
                                  key=key)
        self._name_channels(net, self.ch_names, f"model.{key}")
        return net

    @staticmethod
    def _name_channels(net: nn.Module, ch_names, where: str) -> None:
        """Give ``net`` the data's channel names where it has none (``keep_ch_names``, as
        ``from_pretrained`` gives the card's), so ``score_trials`` checks their order and the
        network's own ``save_pretrained`` records them; unknown names change nothing. A
        ConfigError (prefixed with ``where``) when ``net`` already names its channels (built in,
        as ECGNet its 12 leads, or its ``chs_info``) and the data's are not those in that order
        (``ch_names_difference``), or when the names are not one per channel."""
        keep = getattr(net, "keep_ch_names", None)
        if ch_names is None or not callable(keep):
            return
        difference = net.ch_names_difference(ch_names)
        if difference:
            raise ConfigError(f"{where}: the data's channels {[str(c) for c in ch_names]} are not "
                              f"those {type(net).__name__} names, {net.ch_names}: {difference}; "
                              "give the data in the network's channel order")
        try:
            keep(ch_names)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from err

    def _build_network(self, name, kwargs, n_outputs, *, pretrained, adapt, key) -> nn.Module:
        """:meth:`build_network` before the channels are named."""
        kwargs = dict(kwargs or {})
        _refuse_signal_kwargs(kwargs, key)
        if name is not None:
            self.check_network(key, name)
        if isinstance(pretrained, Mapping):  # a network config from this task's checkpoint
            from biosig.models.base import BiosigModel

            if isinstance(pretrained.get("name"), str):
                self.check_network(key, pretrained["name"], source="model.pretrained (a "
                                   f"checkpoint's network config) is a {pretrained['name']!r}")
            return BiosigModel.from_config(pretrained)
        if pretrained is not None and _is_weights_folder(pretrained):
            if kwargs:
                raise ConfigError(f"model.{key}_kwargs given with the weights folder "
                                  f"{pretrained}: its card fixes the architecture")
            return self._load_folder(name, pretrained, n_outputs, adapt, key)
        if pretrained is not None:  # a file: a task's checkpoint names its network
            path = Path(str(pretrained))
            name, kwargs, card = self._checkpoint_architecture(key, name, kwargs, path)
            if card is not None:
                kwargs.update(self._check_checkpoint_data(card, path, adapt))
        if name is None:
            if pretrained is not None:
                raise _file_without_name(Path(str(pretrained)), key)
            raise ConfigError(f"model.{key}: give a registry name (or model.pretrained, a "
                              "weights folder)")
        net = create_model(name, n_chans=self.n_chans, n_times=self.n_times, sfreq=self.sfreq,
                           n_outputs=n_outputs, **kwargs)
        if pretrained is not None:
            if load_weights_file(net, pretrained, key=f"model.pretrained ({name})"):
                self.untrained_head = (str(pretrained), None)
        return net

    def _load_folder(self, name, folder, n_outputs, adapt, key) -> nn.Module:
        """The network of a weights folder: the folder checked intact, then its card's model
        (:meth:`_check_card`), then the data contract, before anything is built."""
        from biosig.models.weights import _load

        def check(card):
            self._check_card(key, name, folder, card)
            self._weights_preprocessing[key] = (folder, card["data"].get("preprocessing"))
            saved = card["kwargs"].get("n_outputs")
            if n_outputs is not None and saved != n_outputs:  # _load gives it a new head
                self.untrained_head = (str(folder), saved)

        return _load(folder, data=self.data_contract(), n_outputs=n_outputs, adapt=adapt,
                     check=check).train()  # loaded in eval mode; the task sets the modes

    def _check_checkpoint_data(self, card: dict, path: Path, adapt: bool) -> dict:
        """The data contract of a task checkpoint's ``card`` checked against this task's data
        as a weights folder's card is (:func:`biosig.models.weights.load_pretrained`: a
        mismatch is a ConfigError unless ``adapt`` allows the model's adaptation); returns the
        network arguments an adaptation sets besides the data's own (``chs_info``)."""
        from biosig.models._registry import model_class
        from biosig.models.weights import _check_data

        changes = _check_data(card, self.data_contract(), adapt, model_class(card["name"]),
                              path, source="checkpoint")
        return {k: v for k, v in changes.items() if k not in _PASSED}

    def on_fit_start(self) -> None:
        """The networks take the DataModule's channel names, or refuse them where they name
        others (the task's ``ch_names``, built-in or a card's; :meth:`_name_channels`). A
        warning when the DataModule preprocesses otherwise than the data the loaded weights
        were pretrained on (their card's steps and alignment): the task only knows the rate,
        window and channels, which the card check refuses on a mismatch; other steps (another
        band-pass, no resampling of the amplitude scale...) may be deliberate."""
        self._finite_pending = []  # left by a fit that stopped with another error
        datamodule = getattr(self._trainer, "datamodule", None)
        for key, net in self.named_children():  # the DataModule's, where it names them
            self._name_channels(net, getattr(datamodule, "ch_names", None),
                                f"the DataModule's ch_names (task.{key})")
        data_card = getattr(datamodule, "data_card", None)
        if not self._weights_preprocessing or not callable(data_card):
            return
        from biosig.models.weights import _jsonable

        here = data_card().get("preprocessing")
        for key, (folder, was) in self._weights_preprocessing.items():
            if was is not None and _jsonable(was, key) != _jsonable(here, key):
                from lightning.pytorch.utilities import rank_zero_warn

                rank_zero_warn(f"model.{key}: the weights in {folder} were pretrained on data "
                               f"preprocessed as {was}, this DataModule's is {here}; transfer "
                               "may suffer (give data.preprocessing the card's steps if that was "
                               "not deliberate)")

    def data_contract(self) -> dict:
        """What the task knows of its data: ``sfreq``, ``n_times``, ``n_chans``, ``ch_names``
        (those given), as checked against a weights card."""
        given = {"sfreq": self.sfreq, "n_times": self.n_times, "n_chans": self.n_chans,
                 "ch_names": self.ch_names}
        return {k: v for k, v in given.items() if v is not None}

    def save_pretrained(self, directory, **card) -> Path:
        """Save ``self.net`` with a card whose data contract is this task's data: that of the
        DataModule it was trained with (:meth:`BiosigDataModule.data_card`: channel names,
        preprocessing, alignment), attached or, for a task loaded with ``load_from_checkpoint``,
        as its checkpoint recorded it; then the task's own (``card["data"]`` entries override
        both); see :func:`biosig.models.weights.save_pretrained`. A network loaded from a
        weights folder and trained here records that folder's recipe as
        ``recipe["pretraining"]``, not as its own.
        """
        return self._save_network(self._network(), directory, **card)

    def _save_network(self, net: nn.Module, directory, **card) -> Path:
        """:meth:`save_pretrained` of ``net`` (one of this task's networks)."""
        from biosig.models.weights import save_pretrained

        data = {**(self._data_card() or {}), **self.data_contract(),
                **dict(card.pop("data", None) or {})}
        return save_pretrained(net, directory, data=data, **card)

    def _card_with_recipe(self, card: dict, own: Mapping) -> dict:
        """``card`` (:meth:`save_pretrained`'s) with the task's ``own`` entries merged into its
        ``recipe``: a given ``recipe`` must be a dict and must not contradict them."""
        card = dict(card)
        recipe = card.pop("recipe", None)
        if recipe is None:
            recipe = {}
        where = f"{type(self).__name__}.save_pretrained"
        if not isinstance(recipe, Mapping):
            raise ConfigError(f"{where}: recipe must be a dict (the card's recipe records "
                              f"{', '.join(own)}), got {recipe!r}")
        clash = {k: v for k, v in recipe.items() if k in own and v != own[k]}
        if clash:
            raise ConfigError(f"{where}: recipe {clash} contradicts the task's "
                              f"{({k: own[k] for k in clash})}")
        return {**card, "recipe": {**recipe, **own}}

    def _data_card(self) -> dict | None:
        """The attached DataModule's :meth:`~BiosigDataModule.data_card`, else the one a loaded
        checkpoint recorded (None without either)."""
        trainer = getattr(self, "_trainer", None)
        data_card = getattr(getattr(trainer, "datamodule", None), "data_card", None)
        return data_card() if callable(data_card) else getattr(self, "_loaded_data_card", None)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """The data's card and, for each network loaded from a weights folder, what it kept of
        that folder's card (:meth:`on_save_checkpoint`): :meth:`save_pretrained` then writes
        them as it would have before the checkpoint. A checkpoint without them (older) loads as
        before."""
        self._loaded_data_card = checkpoint.get(DATA_CARD_KEY)
        kept = checkpoint.get(LOADED_CARDS_KEY) or {}
        networks = dict(task_networks(self))
        for key, card in kept.items():
            if key not in networks or not isinstance(card, Mapping):
                raise ConfigError(f"the checkpoint's {LOADED_CARDS_KEY}[{key!r}] is not the card "
                                  f"of one of {type(self).__name__}'s networks "
                                  f"({', '.join(networks)})")
            networks[key].loaded_card = json.loads(json.dumps(card))

    def _loaded_cards(self) -> dict:
        """What each network loaded from a weights folder kept of its card, by attribute name."""
        return {key: net.loaded_card for key, net in task_networks(self)
                if net.loaded_card is not None}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._network()(x)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Make the checkpoint self-contained: the data's card (rate, channels, preprocessing:
        :meth:`save_pretrained` of a loaded checkpoint writes it), what each network loaded
        from a weights folder kept of its card (data contract, recipe, licence and the digest
        of the folder's tensors: a card of the checkpoint's weights, changed since, records
        that recipe as ``recipe["pretraining"]``), and where the network came
        from weights outside it (``pretrained``, or a model argument its config drops, such as
        EEGDM's ``backbone_weights``), ``pretrained`` becomes the network's config."""
        self.read_finite_checks()  # no checkpoint of weights a non-finite loss has updated
        data_card = self._data_card()
        if data_card:  # for save_pretrained after load_from_checkpoint (no DataModule then)
            checkpoint[DATA_CARD_KEY] = json.loads(json.dumps(data_card, default=str))
        loaded_cards = self._loaded_cards()
        if loaded_cards:
            checkpoint[LOADED_CARDS_KEY] = json.loads(json.dumps(loaded_cards))
        hparams = checkpoint.get(self.CHECKPOINT_HYPER_PARAMS_KEY)
        if not hparams or "pretrained" not in hparams or self.net is None:
            return
        get_config = getattr(self.net, "get_config", None)
        if get_config is None:
            return
        from biosig.models.base import _plain

        config = get_config()
        given = {k: _plain(v) for k, v in dict(hparams.get("model_kwargs") or {}).items()}
        if hparams["pretrained"] is not None or any(
                v is not None and config["kwargs"].get(k, v) is None for k, v in given.items()):
            hparams["pretrained"] = config

    def log_loss(self, stage: str, loss: torch.Tensor, batch_size: int) -> None:
        """``{stage}_loss``: its mean over the epoch and, under DDP, over every rank (one reduce
        per epoch); while training also each step's value as ``train_loss_step``, this rank's
        own (a reduce per step would cost a synchronisation per step)."""
        if stage == "train":
            self.log("train_loss_step", loss.detach(), prog_bar=True, on_step=True,
                     on_epoch=False, batch_size=batch_size)
        self.log(f"{stage}_loss", loss.detach(), prog_bar=stage != "train", on_step=False,
                 on_epoch=True, batch_size=batch_size, sync_dist=True)

    # One step per stage through the subclass's ``_step(batch, stage)`` (loss and logging);
    # a task with its own loop (GANTask's manual optimisation) overrides these.
    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    # -- optimisers ----------------------------------------------------------------------------
    def fused_optimizer(self) -> bool | None:
        """``fused`` for :func:`make_optimizer` in ``configure_optimizers``: False when the
        trainer clips gradients with a GradScaler (``16-mixed``), where a fused optimiser would
        unscale them only inside its step, after clipping saw them scaled; else None (fused
        where PyTorch can)."""
        trainer = self._trainer
        scaler = getattr(getattr(trainer, "precision_plugin", None), "scaler", None)
        return False if trainer is not None and trainer.gradient_clip_val and scaler else None

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None,
                                    gradient_clip_algorithm=None) -> None:
        """As Lightning's, but a fused optimiser's gradients are clipped under ``bf16-mixed``
        too: Lightning's mixed-precision plugin refuses any optimiser that unscales gradients
        inside its step, which matters only with float16's GradScaler; bf16 has none."""
        plugin = self.trainer.precision_plugin
        if (gradient_clip_val and isinstance(plugin, MixedPrecision) and plugin.scaler is None
                and getattr(optimizer, "_step_supports_amp_scaling", False)):
            Precision.clip_gradients(plugin, optimizer, gradient_clip_val,
                                     GradClipAlgorithmType(gradient_clip_algorithm or "norm"))
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    # -- non-finite losses and outputs ---------------------------------------------------------
    def check_finite(self, value: torch.Tensor, stage: str, x=None, *, what: str = "loss",
                     batch_idx: int | None = None, **parts) -> None:
        """Nothing when ``value`` (a step's loss, or its output) is finite. Otherwise it
        raises the diagnosis of :func:`non_finite_error`: a NonFiniteInputError when the
        input batch ``x`` holds NaN or infinite samples, else a FloatingPointError naming
        ``parts`` (e.g. ``recon=..., kl=...``). ``batch_idx``: the batch's index (default: the
        one Lightning gave the latest step, if any).

        On CPU (and for ``predict`` outputs) the check is read at once. On an accelerator, where
        a read makes the host wait for the device every step, the check stays on the device
        with whether ``x`` was finite, and :meth:`read_finite_checks` reads
        ``finite_check_interval`` of them at once (default: the trainer's
        ``log_every_n_steps``), and at the end of every fit, validation and test, and before a
        checkpoint is saved; the error then names the first bad batch, and how many checks
        later it was found."""
        idx = self._batch_idx if batch_idx is None else batch_idx
        interval = self._finite_interval(value)
        if stage == "predict" or interval in (None, 1):
            if bool(torch.isfinite(value).all()):
                return
            raise non_finite_error(stage, x, what=what, parts=parts, batch_idx=idx)
        ok = torch.isfinite(value.detach()).all()
        has_x = isinstance(x, torch.Tensor)
        x_ok = torch.isfinite(x.detach()).all() if has_x else ok
        self._finite_pending.append(_PendingCheck(
            stage, what, idx, torch.stack((ok, x_ok)), has_x,
            {k: torch.as_tensor(v).detach() for k, v in parts.items()}))
        if len(self._finite_pending) >= interval:
            self.read_finite_checks()

    def _finite_interval(self, value: torch.Tensor) -> int | None:
        """Checks to read at once; None: read this one now."""
        if self.finite_check_interval is not None:
            return max(1, int(self.finite_check_interval))
        if value.device.type == "cpu":
            return None
        trainer = self._trainer
        return max(1, trainer.log_every_n_steps) if trainer is not None else None

    def read_finite_checks(self) -> None:
        """Read the loss checks :meth:`check_finite` left on the device (one read for all);
        raise the error of the first non-finite one."""
        pending, self._finite_pending = self._finite_pending, []
        if not pending:
            return
        flags = torch.stack([p.flags.to(pending[0].flags.device) for p in pending]).cpu()
        bad = (~flags[:, 0]).nonzero()
        if not len(bad):
            return
        first = int(bad[0, 0])
        p = pending[first]
        later = len(pending) - 1 - first
        raise non_finite_error(
            p.stage, what=p.what, parts=p.parts, batch_idx=p.batch_idx,
            input_finite=bool(flags[first, 1]) if p.has_input else None,
            note=f"found {later} checks later: on an accelerator "
            f"{type(self).__name__}.finite_check_interval checks (the trainer's "
            "log_every_n_steps) are read at once; 1 reads each at once, naming bad windows")

    # the ends of a fit, validation or test, and a checkpoint, read every check left
    def on_train_end(self) -> None:
        self.read_finite_checks()

    def on_validation_end(self) -> None:
        self.read_finite_checks()

    def on_test_end(self) -> None:
        self.read_finite_checks()

    # Lightning calls these before every step, whatever the step methods are
    def on_train_batch_start(self, batch, batch_idx):
        self._batch_idx = batch_idx

    def on_validation_batch_start(self, batch, batch_idx, dataloader_idx=0):
        self._batch_idx = batch_idx

    def on_test_batch_start(self, batch, batch_idx, dataloader_idx=0):
        self._batch_idx = batch_idx

    def on_predict_batch_start(self, batch, batch_idx, dataloader_idx=0):
        self._batch_idx = batch_idx

    def _network(self) -> nn.Module:
        if self.net is None:
            raise ConfigError(f"{type(self).__name__} has no single network (self.net)")
        return self.net

    # -- freezing ------------------------------------------------------------------------------
    @property
    def backbone(self) -> nn.Module:
        """The network without the modules ``forward_head`` runs, as one module (for
        Lightning's ``BackboneFinetuning``); parameters held by the network itself (e.g. a
        class token) are included."""
        net = self._network()
        heads = head_modules(net, "backbone", self.n_chans, self.n_times)
        parts = nn.ModuleList(net.get_submodule(n) for n in _outermost_outside(net, heads))
        own = dict(net.named_parameters(recurse=False))
        if own:
            holder = nn.Module()
            for name, param in own.items():
                holder.register_parameter(name, param)
            parts.append(holder)
        return parts

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters that train (what the optimisers get; frozen ones are left out)."""
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True):
        """As ``nn.Module.train``; modules frozen by ``freeze`` stay in eval mode."""
        super().train(mode)
        if mode:
            self._sync_frozen_modes()
        return self

    def on_train_epoch_start(self) -> None:
        # Lightning keeps each module's mode; a module unfrozen since (BackboneFinetuning
        # runs before this hook) goes back to train mode here
        self._sync_frozen_modes()

    def _sync_frozen_modes(self) -> None:
        """Frozen modules in eval mode (BatchNorm statistics, dropout), unfrozen ones in train."""
        for name in self._frozen_modules:
            module = self.net.get_submodule(name)
            module.train(any(p.requires_grad for p in module.parameters()))


# -- helpers -----------------------------------------------------------------------------------
def task_networks(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The biosig networks a task holds (``net``; a GAN's ``generator`` and ``critic``): every
    :class:`~biosig.models.base.BiosigModel` submodule not inside another one, by name."""
    from biosig.models.base import BiosigModel

    found: list[tuple[str, nn.Module]] = []
    for name, sub in module.named_modules():
        if isinstance(sub, BiosigModel) and not any(name.startswith(f"{n}.") for n, _ in found):
            found.append((name, sub))
    return found


@dataclass
class _PendingCheck:
    """A loss check left on the device: ``flags`` = (loss finite, input batch finite, if
    ``has_input``)."""

    stage: str
    what: str
    batch_idx: int | None
    flags: torch.Tensor
    has_input: bool
    parts: dict


def non_finite_error(stage: str, x=None, *, what: str = "loss", parts: Mapping | None = None,
                     batch_idx: int | None = None, limit: int = 5,
                     input_finite: bool | None = None, note: str = "") -> Exception:
    """The error for a non-finite ``what`` (``"loss"``, ``"output"``...) of a ``stage`` step.

    A :class:`~biosig.errors.NonFiniteInputError` when the input batch ``x`` (windows along
    its first axis) holds NaN or infinite samples: how many, in which windows (the first
    ``limit``), and what to do; without ``x``, when ``input_finite`` is False. Otherwise a
    FloatingPointError naming the values of ``parts`` and suggesting a lower learning rate or
    gradient clipping. ``note`` is added in brackets.
    """
    number = f" {batch_idx}" if batch_idx is not None else ""
    note = f" ({note})" if note else ""
    where = ""
    if isinstance(x, torch.Tensor):
        bad = ~torch.isfinite(x.detach())
        input_finite = not bad.any()
        if not input_finite:
            per_window = bad.reshape(bad.shape[0] if bad.ndim else 1, -1).any(1)
            windows = per_window.nonzero().flatten().tolist()
            more = f" and {len(windows) - limit} more" if len(windows) > limit else ""
            where = (f" {int(bad.sum())} NaN or infinite samples, in windows {windows[:limit]}"
                     f"{more} of its {per_window.numel()}")
    if input_finite is False:
        return NonFiniteInputError(
            f"the {stage} input batch{number} holds{where or ' NaN or infinite samples'}, so "
            f"the {what} is not finite{note}: biosig's window cache keeps such windows out "
            "(data.nan_policy 'reject' drops them, 'interpolate' fills them); clean or drop "
            "them in your own DataLoader")
    values = ", ".join(f"{k} {float(torch.as_tensor(v).detach()):.4g}"
                       for k, v in (parts or {}).items())
    return FloatingPointError(
        f"non-finite {stage} {what}" + (f" ({values})" if values else "")
        + (f" at batch{number}" if number else "")
        + (" from a finite input batch" if input_finite else "") + note
        + ": training diverged (or the weights came from a run that did); lower the learning "
        "rate or clip gradients (trainer.gradient_clip_val)")


def _check_signal(n_chans, n_times, sfreq, n_outputs, ch_names):
    ints = {}
    for key, value in (("n_chans", n_chans), ("n_times", n_times), ("n_outputs", n_outputs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)
                                  or value <= 0):
            raise ConfigError(f"model.{key} must be a positive integer or None (unknown), got "
                              f"{value!r}; the CLI links it from the data")
        ints[key] = None if value is None else int(value)
    n_chans, n_times, n_outputs = ints["n_chans"], ints["n_times"], ints["n_outputs"]
    if sfreq is not None:
        if isinstance(sfreq, bool) or not (math.isfinite(float(sfreq)) and float(sfreq) > 0):
            raise ConfigError(f"model.sfreq must be a positive rate in Hz or None (unknown), "
                              f"got {sfreq!r}")
        sfreq = float(sfreq)
    if ch_names is not None:
        ch_names = [str(n) for n in ch_names]
        if n_chans is not None and len(ch_names) != n_chans:
            raise ConfigError(f"model.ch_names has {len(ch_names)} names but "
                              f"model.n_chans={n_chans}")
    return n_chans, n_times, sfreq, n_outputs, ch_names


def _is_weights_folder(pretrained) -> bool:
    text = str(pretrained)
    if text.startswith("hf://") or Path(text).is_dir():
        return True
    if not Path(text).is_file():
        raise ConfigError(f"model.pretrained: {text} is neither a weights folder nor a file")
    return False


def _file_without_name(path: Path, key: str) -> ConfigError:
    """The error for a weights file given without the registry name of its network."""
    from biosig.models.weights import CARD_FILE, WEIGHTS_FILE

    if path.name == WEIGHTS_FILE or (path.parent / CARD_FILE).is_file():
        return ConfigError(f"model.pretrained must be the weights folder ({path.parent}) holding "
                           f"{WEIGHTS_FILE} and {CARD_FILE}, not the file {path.name}")
    return ConfigError(f"model.pretrained={path} is a weights file: name its network in "
                       f"model.{key} (or give a weights folder, whose card names it)")


def _checkpoint_network(path: Path) -> tuple[str, dict, dict] | None:
    """(registry name, model_kwargs, card) of the network of a task's Lightning checkpoint, or
    None (not such a checkpoint, or unreadable: the loader names the problem). The network's
    config (``pretrained``, see :meth:`BiosigTask.on_save_checkpoint`) comes first: it is
    complete and drops arguments that load weights (EEGDM's ``backbone_weights``). The card
    (``name``, ``kwargs``, ``data``) is what :meth:`BiosigTask.save_pretrained` of the loaded
    checkpoint would write: the data card the checkpoint recorded, then the task's own data
    arguments (``sfreq``, ``n_times``, ``n_chans``, ``ch_names``)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 (any unreadable file: the loader names the problem)
        return None
    hp = obj.get("hyper_parameters") if isinstance(obj, Mapping) else None
    if not isinstance(hp, Mapping):
        return None
    config = hp.get("pretrained")
    if isinstance(config, Mapping) and isinstance(config.get("name"), str):
        from biosig.models.base import _resolve_class

        name, made = config["name"], dict(config.get("kwargs") or {})
        kwargs = {k: _resolve_class(v) for k, v in made.items() if k not in (*_PASSED, "chs_info")}
    elif isinstance(hp.get("model"), str):
        name, made = hp["model"], dict(hp.get("model_kwargs") or {})
        kwargs = dict(made)
    else:
        return None
    from biosig.models.weights import DATA_KEYS

    recorded = obj.get(DATA_CARD_KEY)
    data = {**(recorded if isinstance(recorded, Mapping) else {}),
            **{k: hp[k] for k in ("sfreq", "n_times", "n_chans", "ch_names")
               if hp.get(k) is not None}}
    card = {"name": name, "kwargs": made, "data": {k: data.get(k) for k in DATA_KEYS}}
    return name, kwargs, card


def load_weights_file(net: nn.Module, path, *, key: str = "model.pretrained") -> list[str]:
    """Load a state dict or a Lightning checkpoint from ``path`` into ``net``.

    A prefix shared by every key (``net.`` in a task's checkpoint) is dropped when ``net`` has
    no key starting with it. Head weights (under ``net.head_attr``) of another shape, or absent
    (a pretraining checkpoint, whose network was built without a head), are left at their fresh
    values (a new ``n_outputs``); any other missing, unexpected or mis-shaped key is a
    :class:`ConfigError` naming them. Returns the head keys left fresh.
    """
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # torch's text advises weights_only=False: not here
        why = str(err).partition("WeightsUnpickler error:")[2].strip().splitlines()
        raise InvalidFileError(
            path, f"{key}: not weights that torch.load(weights_only=True) reads"
            + (f" ({why[0]})" if why else "") + ": a file that is not a torch checkpoint, or one "
            "holding pickled objects besides tensors (save the network's state_dict())"
        ) from None
    except Exception as err:  # any reader error: name the file, keep the cause
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidFileError(path, f"{key}: cannot read weights ({first})") from err
    state = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor)
                                                 for v in state.values()):
        raise InvalidFileError(path, f"{key}: holds no state dict (names -> tensors)")
    own = net.state_dict()
    state = _strip_common_prefix(dict(state), own)
    head = getattr(net, "head_attr", "final_layer") + "."
    # a pretraining checkpoint has no head (built without n_outputs): the head stays fresh
    no_head = [k for k in own if k not in state and k.startswith(head)]
    missing = [k for k in own if k not in state and not k.startswith(head)]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and state[k].shape != own[k].shape]
    fresh = [k for k in shapes if k.startswith(head)]
    wrong = [k for k in shapes if not k.startswith(head)]
    if missing or unexpected or wrong:
        parts = [f"{label}: {_few(keys)}" for label, keys in
                 (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        hp = obj.get("hyper_parameters") if isinstance(obj, Mapping) else None
        made = (f"; the checkpoint's task was made with model={hp['model']!r}, model_kwargs="
                f"{str(hp.get('model_kwargs'))[:200]}" if isinstance(hp, Mapping) and "model" in hp
                else "")  # a task checkpoint: what to give for the same network
        raise ConfigError(f"{key}: the weights in {path} do not fit {type(net).__name__} ("
                          + "; ".join(parts) + ")" + made)
    net.load_state_dict({k: v for k, v in state.items() if k not in fresh}, strict=False)
    return fresh + no_head


def _strip_common_prefix(state: dict, own: Mapping) -> dict:
    """A task checkpoint's keys without the task's attribute prefix (``net.``), when the
    stripped keys fit the network better than the keys as they are (a network may have a
    submodule of the same name, as the braindecode wrappers' ``net``)."""
    firsts = {k.split(".", 1)[0] for k in state}
    if len(firsts) == 1 and all("." in k for k in state):
        prefix = firsts.pop() + "."
        stripped = {k[len(prefix):]: v for k, v in state.items()}
        if len(stripped.keys() & own.keys()) > len(state.keys() & own.keys()):
            return stripped
    return state


def _few(keys: list[str], n: int = 5) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


def head_modules(net: nn.Module, mode: str, n_chans: int | None = None,
                 n_times: int | None = None) -> list[str]:
    """Names of the modules of ``net`` that train under ``freeze=mode`` (outermost ones).

    ``"all_but_head"``: the head module ``net.head_attr`` (default ``final_layer``).
    ``"backbone"``: every module ``net.forward_head`` runs, found by running
    ``forward_features`` and ``forward_head`` once on a zero input ``(2, n_chans, n_times)``
    in eval mode (the network's own ``n_chans``/``n_times`` first, else the arguments).
    """
    name = type(net).__name__
    if mode == "all_but_head":
        attr = getattr(net, "head_attr", "final_layer")
        try:
            head = net.get_submodule(attr)
        except AttributeError:
            head = None
        if not isinstance(head, nn.Module):
            raise ConfigError(f"freeze='all_but_head': {name} has no head module {attr!r}")
        return [attr]
    if mode != "backbone":
        raise ConfigError(f"freeze must be one of {FREEZE_MODES}, got {mode!r}")
    n_chans = getattr(net, "n_chans", None) or n_chans
    n_times = getattr(net, "n_times", None) or n_times
    if n_chans is None or n_times is None:
        raise ConfigError(f"freeze='backbone' runs {name}.forward_head once to find the head: "
                          "it needs n_chans and n_times")
    param = next(net.parameters())
    x = torch.zeros(2, n_chans, n_times, device=param.device, dtype=param.dtype)
    called: list[str] = []
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            try:
                features = net.forward_features(x)
            except (NotImplementedError, AttributeError) as err:
                raise ConfigError(f"freeze='backbone' needs {name}.forward_features / "
                                  f"forward_head (the model contract): {err}") from err
            hooks = [m.register_forward_pre_hook(functools.partial(_record, called, n))
                     for n, m in net.named_modules() if n]
            try:
                net.forward_head(features)
            finally:
                for hook in hooks:
                    hook.remove()
    finally:
        net.train(was_training)
    heads = [n for n in dict.fromkeys(called) if not any(n.startswith(o + ".") for o in called)]
    if not heads:
        raise ConfigError(f"freeze='backbone': {name}.forward_head runs no module, so nothing "
                          "would train; use freeze='all_but_head' or 'none'")
    return heads


def _record(called: list, name: str, module, args) -> None:
    called.append(name)


def _inside(name: str, heads: list[str]) -> bool:
    return any(name == h or name.startswith(h + ".") for h in heads)


def _outermost_outside(net: nn.Module, heads: list[str]) -> list[str]:
    """The outermost modules that neither are, lie in, nor hold a head module."""
    out: list[str] = []
    for name, _ in net.named_modules():
        if (not name or _inside(name, heads) or any(h.startswith(name + ".") for h in heads)
                or any(name.startswith(o + ".") for o in out)):
            continue
        out.append(name)
    return out


def _freeze_all_but(net: nn.Module, heads: list[str]) -> list[str]:
    """Freeze every parameter outside ``heads``; return the frozen modules (kept in eval)."""
    for name, param in net.named_parameters():
        param.requires_grad_(_inside(name, heads))
    return _outermost_outside(net, heads)


def no_weight_decay_parameters(module: nn.Module) -> set[int]:
    """Ids of the parameters exempt from weight decay by the ``no_weight_decay()`` hooks of
    ``module`` and its submodules (each hook names parameters relative to its own module, as
    ``LFT.no_weight_decay``). A name that is not a parameter there is a ConfigError."""
    exempt: set[int] = set()
    for prefix, sub in module.named_modules():
        hook = getattr(sub, "no_weight_decay", None)
        if not callable(hook):
            continue
        own = dict(sub.named_parameters())
        for name in hook():
            if name not in own:
                where = f"{type(sub).__name__} ({prefix or 'the network'})"
                raise ConfigError(f"{where}.no_weight_decay() names {name!r}, which is not one "
                                  "of its parameters")
            exempt.add(id(own[name]))
    return exempt


#: devices on which make_optimizer builds a fused optimiser by default
FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def make_optimizer(params, name: str, lr: float, weight_decay: float, *,
                   betas: tuple[float, float] | None = None,
                   module: nn.Module | None = None,
                   fused: bool | None = None) -> torch.optim.Optimizer:
    """``"adam"``, ``"adamw"`` or ``"sgd"`` over ``params``.

    With ``module``, the parameters its ``no_weight_decay()`` hooks name (see
    :func:`no_weight_decay_parameters`) form a second group without weight decay (the first
    group keeps ``weight_decay``); only parameters in ``params`` are used, so pass the trainable
    ones. ``betas`` (Adam/AdamW only) default to PyTorch's.

    ``fused`` (default: when every parameter is a floating-point tensor on a device of
    :data:`FUSED_OPTIMIZER_DEVICES`) takes PyTorch's fused implementation: one kernel updates
    every parameter, instead of a loop over them (PyTorch's CPU default) or a few multi-tensor
    kernels per step (its CUDA default); the same update up to float rounding
    (``benchmarks/bench_optimizer.py`` measures the speed). ``False``: PyTorch's default.
    """
    check_args({"optimizer": name, "lr": lr, "weight_decay": weight_decay, "betas": betas},
               OPTIMIZER_RULES, prefix="model.")
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    extra = {}
    if betas is not None:
        if name.lower() == "sgd":
            raise ConfigError("model.betas is for adam/adamw, not sgd")
        extra["betas"] = tuple(float(b) for b in betas)
    params = list(params)
    if fused is None:
        fused = bool(params) and all(p.is_floating_point()
                                     and p.device.type in FUSED_OPTIMIZER_DEVICES for p in params)
    if module is not None:
        exempt = no_weight_decay_parameters(module)
        groups = [{"params": [p for p in params if id(p) not in exempt]},
                  {"params": [p for p in params if id(p) in exempt], "weight_decay": 0.0}]
        params = [g for g in groups if g["params"]]
    return optimizers[name.lower()](params, lr=lr, weight_decay=weight_decay, fused=fused,
                                    **extra)


def scheduler_total_steps(trainer: pl.Trainer) -> int:
    """The optimiser steps of the whole fit (``trainer.estimated_stepping_batches``), the length
    of a per-step learning-rate schedule (OneCycle, warm-up + cosine).

    Raises
    ------
    ConfigError
        The fit takes no optimiser step, saying why: a training set smaller than one batch
        with ``drop_last=True`` (N windows, batch B: use a batch size of at most N), or no
        training batch / epoch / step at all; or an unbounded fit (``max_epochs=-1`` and no
        ``max_steps``), which no schedule can span.
    """
    steps = trainer.estimated_stepping_batches
    if math.isinf(steps):
        raise ConfigError(
            "a per-step learning-rate schedule needs a bounded fit: set trainer max_epochs or "
            "max_steps (got max_epochs=-1, no max_steps)"
        )
    if steps >= 1:
        return int(steps)
    loader = trainer.train_dataloader
    try:
        n, batch, n_batches = len(loader.sampler), loader.batch_size, len(loader)
    except (AttributeError, TypeError):  # not a map-style DataLoader: no sizes to report
        n = batch = n_batches = None
    if batch and loader.drop_last and n < batch:
        raise ConfigError(
            f"the training set ({n} windows) is smaller than one batch ({batch}) with "
            "drop_last=True: training would take no optimiser step; use a batch size of at "
            f"most {n} (or more training windows)"
        )
    raise ConfigError(
        f"the fit takes no optimiser step (limit_train_batches={trainer.limit_train_batches}, "
        f"max_epochs={trainer.max_epochs}, max_steps={trainer.max_steps}, training batches: "
        f"{n_batches if n_batches is not None else 'unknown'}): a per-step learning-rate "
        "schedule needs at least one; check the training data and these limits"
    )
