"""Pretrained weights as a folder: ``model.safetensors`` + ``card.json``.

The card records what is needed to rebuild the network and to use it correctly:

- ``format_version``, ``name`` (registry name) and ``kwargs`` (the model's ``get_config()``),
  ``n_params``, the SHA-256 of the weights file;
- ``data``: the data contract the weights were trained on: ``sfreq``, ``n_times``,
  ``n_chans``, ``ch_names``, ``montage``, ``units``, ``preprocessing``, and for a classifier
  ``classes`` (the names of its outputs, in order) and ``multilabel`` (true: trained with a
  sigmoid per class, e.g. PTB-XL's superclasses; false: one softmax over the classes) and
  ``window_stride_s`` (seconds between the starts of the training windows, as the DataModule's
  windower placed them; null for windows on events or when not known); these three are
  recorded, not compared on loading (other data may be scored at another stride; a card
  without them loads as before);
- ``recipe``, ``metrics``, ``licence`` as given by whoever saved them.

A model loaded from a folder keeps its card's data contract, recipe, licence and the digest of
its tensors (:meth:`~biosig.models.base.BiosigModel.keep_card`): saved again, its card keeps them
where not given anew, less what no longer holds: the class names and ``multilabel`` after a
new head, the montage after ``adapt=True`` chose other channels (the model's own rate, window
and channels are written, adapted or not). The recipe is kept as the recipe only while the
weights are the card's; weights trained further (fine-tuning, a task's fit) keep it as
``recipe["pretraining"]``, beside the recipe given for the new training. Its metrics are not
kept. A task's Lightning checkpoint carries what its networks kept (tensor digest included: it
is the folder's, so the checkpoint's trained weights keep the recipe as ``"pretraining"``), and
``load_from_checkpoint`` gives it back to them.

:func:`load_pretrained` rebuilds the model from the card, checks the user's data against the
card and raises :class:`~biosig.errors.ConfigError` naming the field, the card's value and the
given value. ``adapt=True`` adapts exactly two things, and only where the model allows it:

- another window length (``n_times``) for a model whose weights fit any length
  (``length_agnostic``, e.g. hvEEGNet, CVDCNN): the model is rebuilt for the new length;
- other channels, by name (a subset or another order of the card's, or channels it lacks: a
  new montage; each named once), for a model whose weights are
  shared over channels (``channel_independent``).

A sampling rate, a unit, a montage or preprocessing that differ are never adapted (resample or
rescale the data instead), nor are channels of a model tied to its channel layout. Tensors are
read with ``safetensors`` only (no pickle); their names and shapes must match the rebuilt
model exactly.

Weights on the Hugging Face Hub (optional extra ``pip install biosig[hub]``):
``load_pretrained("hf://owner/name")`` (``@revision`` optional) and :func:`push_to_hub`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from biosig.errors import (
    ConfigError,
    DownloadError,
    InvalidFileError,
    MissingDependencyError,
    channel_difference,
)

__all__ = ["CARD_FILE", "WEIGHTS_FILE", "card_architecture", "check_folder", "load_card",
           "load_pretrained", "push_to_hub", "save_pretrained"]

FORMAT_VERSION = 1
CARD_FILE = "card.json"
WEIGHTS_FILE = "model.safetensors"
HUB_PREFIX = "hf://"
DATA_KEYS = ("sfreq", "n_times", "window_stride_s", "n_chans", "ch_names", "montage", "units",
             "preprocessing", "classes", "multilabel")


# -- saving ---------------------------------------------------------------------------------------
def save_pretrained(model, directory, *, data: dict | None = None, recipe: Any = None,
                    metrics: dict | None = None, licence: str | None = None) -> Path:
    """Write ``model.safetensors`` and ``card.json`` into ``directory`` (created if needed).

    Parameters
    ----------
    model : a :class:`~biosig.models.base.BiosigModel`.
    data : the data contract (any of ``sfreq, n_times, window_stride_s, n_chans, ch_names,
        montage, units, preprocessing, classes, multilabel``). ``sfreq``, ``n_times`` and
        ``ch_names`` default to the model's own and must agree with them; ``units`` defaults to
        the model's (``µV`` for EEG). The sampling rate must be known (from the model or
        here). ``classes`` (the DataModule's label names) and ``multilabel`` (True: a sigmoid
        per class, False: one softmax) are kept for a model that classifies (one name per
        output) and left out for any other (a generator's outputs are not the data's classes).
        ``window_stride_s``: seconds between the starts of the training windows.
    recipe, metrics, licence : how the weights were made, their scores (e.g. ``{"dataset": ...,
        "protocol": ..., "accuracy": ...}``) and their licence; JSON values.

    A model loaded from a weights folder (:attr:`~biosig.models.base.BiosigModel.loaded_card`)
    fills what is not given here from its card: each ``data`` key (the model's own ``sfreq``,
    ``n_times``, ``n_chans``, ``ch_names`` first; no class names after a new head, no montage
    on adapted channels) and the ``licence``, never the metrics. Its ``recipe`` too while the
    weights are the card's (same tensors); weights changed since (fine-tuned, a new head) were
    not made by that recipe alone: the card's recipe goes under ``recipe["pretraining"]`` of
    the one given here (a dict; none given: ``{"pretraining": ...}`` only).

    Returns the folder's path. The tensors are written with ``safetensors``.
    """
    from safetensors.torch import save_file

    from biosig.models._registry import count_parameters

    config = _model_config(model)
    licence = _loaded(model, "licence") if licence is None else licence
    # clone: safetensors refuses tensors that share memory (tied weights, views)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    card = {
        "format_version": FORMAT_VERSION,
        "name": config["name"],
        "kwargs": _jsonable(_known_locations(config["kwargs"]), "kwargs"),
        "n_params": count_parameters(model, trainable_only=False),
        "data": _card_data(model, data),
        "recipe": _jsonable(_card_recipe(model, recipe, tensors), "recipe"),
        "metrics": _jsonable(metrics, "metrics"),
        "licence": licence,
    }
    if licence is not None and not isinstance(licence, str):
        raise ConfigError(f"licence must be a string (e.g. 'CC-BY-4.0'), got {licence!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / WEIGHTS_FILE
    save_file(tensors, str(weights), metadata={"format": "pt", "card": CARD_FILE})
    card["weights"] = {"file": WEIGHTS_FILE, "sha256": _sha256(weights)}
    _write_json(out / CARD_FILE, card)
    return out


def _tensors_digest(tensors: dict) -> str:
    """SHA-256 of a state dict's names, dtypes, shapes and values (not of a file: safetensors
    orders its header's metadata differently from one write to the next)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _card_recipe(model, recipe, tensors: dict):
    """The recipe a card of ``model``'s weights (``tensors``) records: ``recipe``; for a model
    loaded from a card with a recipe, that recipe while the weights are the card's, and under
    ``"pretraining"`` once they changed (it made their starting point, not them)."""
    loaded = getattr(model, "loaded_card", None) or {}
    pretraining = loaded.get("recipe")
    if pretraining is None:
        return recipe
    if loaded.get("tensors_sha256") == _tensors_digest(tensors):
        return pretraining if recipe is None else recipe
    recipe = {} if recipe is None else recipe
    if not isinstance(recipe, dict):
        raise ConfigError(f"save_pretrained: recipe must be a dict: the weights changed since "
                          f"they were loaded and the recipe records the card's under "
                          f"'pretraining'; got {recipe!r}")
    if "pretraining" in recipe and _jsonable(recipe["pretraining"], "recipe") != _jsonable(
            pretraining, "recipe"):
        raise ConfigError(f"save_pretrained: recipe['pretraining']={recipe['pretraining']!r} "
                          f"contradicts the recipe of the card the weights were loaded from: "
                          f"{pretraining!r}")
    return {**recipe, "pretraining": pretraining}


def _model_config(model) -> dict:
    get_config = getattr(model, "get_config", None)
    if get_config is None:
        raise ConfigError(f"{type(model).__name__} is not a BiosigModel (no get_config); only "
                          "biosig models can be saved with a card")
    return get_config()


def _known_locations(kwargs: dict) -> dict:
    """``chs_info`` as MNE's ``info["chs"]`` gives it, with unknown (NaN) coordinates as None
    (JSON has no NaN; MNE leaves ``loc`` NaN where no montage sets it)."""
    def unknown(value):
        value = value.tolist() if callable(getattr(value, "tolist", None)) else value
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, (list, tuple)):
            return [unknown(v) for v in value]
        return value

    chs = kwargs.get("chs_info")
    if not chs:
        return kwargs
    return {**kwargs, "chs_info": [{k: unknown(v) for k, v in dict(ch).items()} for ch in chs]}


def _refuse_unknown_data_keys(data: dict, where: str) -> None:
    """A ConfigError naming the keys of ``data`` that are not :data:`DATA_KEYS`, and the
    closest one of each (``sfrq``: did you mean sfreq?)."""
    from biosig._checks import did_you_mean

    unknown = sorted(set(data) - set(DATA_KEYS))
    if unknown:
        hints = "".join(did_you_mean(str(k), DATA_KEYS) for k in unknown)
        raise ConfigError(f"{where}: unknown data key(s) {unknown}{hints}; "
                          f"allowed: {', '.join(DATA_KEYS)}")


def _card_data(model, data: dict | None) -> dict:
    data = dict(data or {})
    _refuse_unknown_data_keys(data, "save_pretrained")
    own = {"sfreq": getattr(model, "sfreq", None), "n_times": getattr(model, "n_times", None),
           "n_chans": getattr(model, "n_chans", None), "ch_names": getattr(model, "ch_names", None)}
    for key in own:
        if own[key] is not None and data.get(key) is not None and not _same(key, own[key],
                                                                              data[key]):
            raise ConfigError(f"save_pretrained: data {key}={data[key]!r} contradicts the model's "
                              f"{key}={own[key]!r}")
    given = {k: v for k, v in own.items() if v is not None}
    base = {"units": getattr(model, "units", None), **_loaded_data(model, given), **given}
    out = {key: data.get(key, base.get(key)) for key in DATA_KEYS}
    if out["ch_names"] is not None:
        out["ch_names"] = [str(c) for c in out["ch_names"]]
        if out["n_chans"] is None:
            out["n_chans"] = len(out["ch_names"])
        elif len(out["ch_names"]) != int(out["n_chans"]):
            raise ConfigError(f"save_pretrained: data ch_names has {len(out['ch_names'])} names "
                              f"but the model has n_chans={out['n_chans']}")
    out["classes"] = _card_classes(model, out["classes"])
    out["multilabel"] = _card_multilabel(model, out["multilabel"])
    if out["sfreq"] is None:
        raise ConfigError("save_pretrained: the card needs the sampling rate of the training "
                          "data; the model has none, pass data={'sfreq': ...}")
    out["sfreq"] = float(out["sfreq"])
    if out["window_stride_s"] is not None:
        out["window_stride_s"] = float(out["window_stride_s"])
    for key in ("n_times", "n_chans"):
        if out[key] is not None:
            out[key] = int(out[key])
    return _jsonable(out, "data")


def _loaded(model, key: str):
    """The ``key`` entry of the card ``model`` was loaded from (None for a model built here)."""
    return (getattr(model, "loaded_card", None) or {}).get(key)


def _loaded_data(model, own: dict) -> dict:
    """The data contract of the card ``model`` was loaded from, less its montage where the
    model's channels (``own``) are not the card's (``adapt=True`` chose others)."""
    data = dict(_loaded(model, "data") or {})
    if any(key in own and data.get(key) is not None and not _same(key, own[key], data[key])
           for key in ("n_chans", "ch_names")):
        data.pop("montage", None)
    return data


def _card_classes(model, classes) -> list[str] | None:
    """The class names a card keeps: one per output of a classifying model, else None."""
    if classes is None or not getattr(model, "classifies", False):
        return None
    classes = [str(c) for c in classes]
    n_outputs = getattr(model, "n_outputs", None)
    if n_outputs is not None and len(classes) != int(n_outputs):
        raise ConfigError(f"save_pretrained: data classes has {len(classes)} names "
                          f"({', '.join(classes)}) but the model has n_outputs={n_outputs}")
    return classes


def _card_multilabel(model, multilabel) -> bool | None:
    """True (a sigmoid per class) or False (one softmax) for a classifying model; None for any
    other model or when not given."""
    if multilabel is None or not getattr(model, "classifies", False):
        return None
    item = getattr(multilabel, "item", None)  # a NumPy or torch bool
    value = item() if callable(item) else multilabel
    if not isinstance(value, bool):
        raise ConfigError(f"save_pretrained: data multilabel must be True (a sigmoid per class) "
                          f"or False (one softmax), got {multilabel!r}")
    return value


# -- loading --------------------------------------------------------------------------------------
def load_pretrained(directory, *, data: dict | None = None, n_outputs: int | None = None,
                    adapt: bool = False):
    """Rebuild a model from a weights folder (or ``"hf://owner/name[@revision]"``).

    Parameters
    ----------
    directory : folder written by :func:`save_pretrained`, or a Hub repository.
    data : the data the model will see: any of ``sfreq, n_times, n_chans, ch_names, units,
        montage, preprocessing``; each is checked against the card (ConfigError on a mismatch
        naming the field, the card's value and the given value). ``window_stride_s``,
        ``classes`` and ``multilabel`` are accepted and never compared.
    n_outputs : a different number of outputs replaces the head (``reset_head``) after the
        weights are loaded.
    adapt : allow the two adaptations the model supports (see the module docstring): another
        ``n_times`` for a length-agnostic model, other channels by name for a
        channel-independent one. Everything else still fails.

    Returns the model in eval mode. An unusable folder (:func:`check_folder`: weights file
    missing, corrupt or truncated) is refused before the data are compared with the card.
    """
    return _load(directory, data=data, n_outputs=n_outputs, adapt=adapt)


def load_card(directory) -> dict:
    """Read and check ``card.json`` of a weights folder (or a Hub repository)."""
    return _read_card(_resolve(directory))


#: Card arguments that come from the data, not the architecture
DATA_KWARGS = ("n_chans", "n_times", "sfreq", "n_outputs", "chs_info")


def card_architecture(directory) -> tuple[str, dict]:
    """``(registry name, kwargs)`` of a weights folder's network without the data's arguments
    (:data:`DATA_KWARGS`), classes resolved: ``create_model(name, **kwargs, <data>)`` builds
    the same architecture untrained (a from-scratch baseline for the pretrained weights)."""
    from biosig.models.base import _resolve_class

    card = load_card(directory)
    return card["name"], {k: _resolve_class(v) for k, v in card["kwargs"].items()
                          if k not in DATA_KWARGS}


def check_folder(directory) -> dict:
    """The card of an intact weights folder: ``card.json`` valid, and the weights file it names
    present, of the card's SHA-256 and readable as safetensors; an InvalidFileError otherwise.
    Nothing is built and no data are compared (:func:`load_pretrained` checks this first)."""
    folder = _resolve(directory)
    card = _read_card(folder)
    _check_weights_file(folder, card)
    return card


def _load(directory, *, data=None, n_outputs=None, adapt=False, expected: type | None = None,
          check=None):
    """:func:`load_pretrained`; ``expected``: a class the card's model must be; ``check``: called
    with the card of the intact folder before the data are compared (it may raise)."""
    from biosig.models._registry import create_model, model_class

    folder = _resolve(directory)
    card = _read_card(folder)
    _check_weights_file(folder, card)  # an unusable folder first: not a data mismatch
    name = card["name"]
    try:
        cls = model_class(name)
    except ConfigError as err:
        raise ConfigError(f"{folder / CARD_FILE}: model {name!r} is not registered in this "
                          "biosig version") from err
    if expected is not None and not (isinstance(cls, type) and issubclass(cls, expected)):
        raise ConfigError(f"{folder / CARD_FILE}: the weights are for model {name!r}, not "
                          f"{expected.__name__}")
    if check is not None:
        check(card)
    changes = _check_data(card, data, adapt, cls, folder / CARD_FILE)
    from biosig.models.base import _resolve_class

    kwargs = {k: _resolve_class(v) for k, v in {**card["kwargs"], **changes}.items()}
    try:
        model = create_model(name, **kwargs)
    except ConfigError as err:  # e.g. an argument this biosig's model does not take
        raise ConfigError(f"{folder / CARD_FILE}: kwargs: {err}") from err
    _load_tensors(model, folder, card, adapted=sorted(changes))
    keep_card = getattr(model, "keep_card", None)
    if keep_card is not None:
        try:
            keep_card(card)
        except ConfigError as err:  # e.g. data.ch_names not one per channel of its model
            raise ConfigError(f"{folder / CARD_FILE}: {err}") from err
    if n_outputs is not None and int(n_outputs) != getattr(model, "n_outputs", None):
        model.reset_head(int(n_outputs))
    return model.eval()


def _check_data(card: dict, data: dict | None, adapt: bool, cls, where: Path,
                source: str = "card") -> dict:
    """Compare the user's data with the card; return the kwargs an adaptation changes.
    ``source`` names where the card's contract comes from in errors (a checkpoint's: see
    :meth:`biosig.tasks.base.BiosigTask.build_network`)."""
    data = dict(data or {})
    _refuse_unknown_data_keys(data, "load_pretrained")
    have = card["data"]
    name = card["name"]
    changes: dict = {}

    def refuse(key, why=""):
        raise ConfigError(f"{where}: data {key} does not match the weights: {source} {key}="
                          f"{have.get(key)!r}, given {key}={data[key]!r}{why}")

    for key in ("sfreq", "units", "montage", "preprocessing"):
        if data.get(key) is not None and have.get(key) is not None and not _same(
                key, have[key], data[key]):
            hint = {"sfreq": f"; resample the data to {have['sfreq']:g} Hz (a sampling rate is "
                             "never adapted)",
                    "units": f"; scale the data to {have['units']} (units are never adapted)"}
            refuse(key, hint.get(key, f" ({key} is never adapted)"))
    if data.get("n_times") is not None and have.get("n_times") is not None and int(
            data["n_times"]) != int(have["n_times"]):
        if not cls.length_agnostic:
            refuse("n_times", f"; {name} is built for one window length (adapt=True cannot "
                              "change it): cut or pad the windows")
        if not adapt:
            refuse("n_times", "; its weights fit any length: adapt=True rebuilds it for yours")
        changes["n_times"] = int(data["n_times"])
    changes.update(_check_channels(card, data, adapt, cls, refuse, source))
    return changes


def _check_channels(card, data, adapt, cls, refuse, source: str = "card") -> dict:
    have = card["data"]
    names = data.get("ch_names")
    if names is None:
        if data.get("n_chans") is not None and have.get("n_chans") is not None and int(
                data["n_chans"]) != int(have["n_chans"]):
            refuse("n_chans", "; pass ch_names to let adapt=True select channels by name"
                   if cls.adapts_channels(card["kwargs"]) else "")
        return {}
    names = data["ch_names"] = [str(c) for c in names]
    duplicates = channel_difference(names, list(dict.fromkeys(names)))  # "" or the duplicates
    if duplicates:
        raise ConfigError(f"load_pretrained: data ch_names has {duplicates} ({names}): name each "
                          "channel once (the card's channels are matched by name)")
    if data.get("n_chans") is not None and int(data["n_chans"]) != len(names):
        raise ConfigError(f"load_pretrained: data ch_names has {len(names)} names but "
                          f"n_chans={data['n_chans']}")
    card_names = have.get("ch_names")
    if card_names is None:
        if have.get("n_chans") is not None and len(names) != int(have["n_chans"]):
            refuse("ch_names", f"; the weights expect {have['n_chans']} channels (the "
                               f"{source} names none)")
        return {}
    if names == card_names:
        return {}
    if not cls.adapts_channels(card["kwargs"]):
        refuse("ch_names", f"; {card['name']} ties its weights to the {source}'s channel "
                           "layout (adapt=True cannot change it): select these channels in this "
                           "order")
    if not adapt:
        refuse("ch_names", "; the model shares its weights over channels: adapt=True loads them "
                           "on these channels by name")
    old = card["kwargs"].get("chs_info")
    by_name = {str(ch.get("ch_name", ch.get("name"))): ch for ch in old} if old else {}
    return {"n_chans": len(names), "chs_info": [by_name.get(c, {"ch_name": c}) for c in names]}


def _check_weights_file(folder: Path, card: dict) -> None:
    """InvalidFileError unless the card's weights file is present, of the card's SHA-256 and a
    safetensors file whose header fits its size (a truncated file is refused here)."""
    from safetensors import SafetensorError, safe_open

    path = folder / card["weights"]["file"]
    if not path.is_file():
        raise InvalidFileError(path, "weights file missing (the card names it)")
    digest = card["weights"].get("sha256")
    if digest and _sha256(path) != digest:
        raise InvalidFileError(path, "SHA-256 differs from the card: the file is corrupt or was "
                                     "replaced")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            f.keys()
    except (SafetensorError, OSError) as err:
        raise InvalidFileError(path, f"not a readable safetensors file ({err})") from err


def _load_tensors(model, folder: Path, card: dict, adapted: list[str]) -> None:
    """Load the weights file (checked by :func:`_check_weights_file`) into ``model``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / card["weights"]["file"]
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as err:
        raise InvalidFileError(path, f"not a readable safetensors file ({err})") from err
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [f"{k}: file {tuple(tensors[k].shape)}, model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(tensors)) if tensors[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = [f"missing {_few(missing)}" if missing else "",
                 f"unexpected {_few(unexpected)}" if unexpected else "",
                 f"shape mismatch {_few(shapes)}" if shapes else ""]
        reason = "; ".join(p for p in parts if p)
        if adapted:
            raise ConfigError(f"{path}: adapt=True cannot rebuild {card['name']} with "
                              f"{', '.join(adapted)} changed: {reason}")
        raise InvalidFileError(path, f"tensors do not fit {card['name']} built from the card: "
                                     f"{reason}")
    model.load_state_dict(tensors, strict=True)


def _read_card(folder: Path) -> dict:
    path = folder / CARD_FILE
    if not path.is_file():
        inside = sorted(str(p.parent) for p in folder.glob(f"*/{CARD_FILE}"))
        where = (f"; weights folders in it: {_few(inside, 3)}" if inside else
                 " (save_pretrained writes one: card.json and model.safetensors)")
        raise InvalidFileError(path, f"no card.json: not a biosig weights folder{where}")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidFileError(path, f"not valid JSON ({err})") from err
    if not isinstance(card, dict):
        raise InvalidFileError(path, "the card must be a JSON object")
    version = card.get("format_version")
    if version is None:
        raise InvalidFileError(path, "key 'format_version' missing (a card written by "
                                     f"save_pretrained has format_version {FORMAT_VERSION})")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise InvalidFileError(path, f"format_version {version!r} is not supported (this biosig "
                                     f"reads 1..{FORMAT_VERSION})")
    for key, kind in (("name", str), ("kwargs", dict), ("data", dict), ("weights", dict)):
        if not isinstance(card.get(key), kind):
            raise InvalidFileError(path, f"key {key!r} missing or not a {kind.__name__}")
    if not isinstance(card["weights"].get("file"), str) or "/" in card["weights"]["file"]:
        raise InvalidFileError(path, "weights.file must name a file in the same folder")
    _check_card_data(card["data"], path)
    return card


def _check_card_data(data: dict, path: Path) -> None:
    """InvalidFileError unless the card's data contract has a sampling rate (save_pretrained
    requires one) and its numbers and channel names are of their types (a card edited by hand:
    ``"sfreq": "200 Hz"`` failed later in float(), a missing sfreq was never compared)."""
    def refuse(key, what):
        raise InvalidFileError(path, f"data.{key} must be {what}, got {data.get(key)!r} (the "
                                     "card's data contract, as save_pretrained writes it)")

    sfreq = data.get("sfreq")
    if isinstance(sfreq, bool) or not isinstance(sfreq, (int, float)) or not (
            math.isfinite(sfreq) and sfreq > 0):
        refuse("sfreq", "the training data's sampling rate in Hz (a number > 0)")
    for key in ("n_times", "n_chans"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            refuse(key, "an integer >= 1 or null")
    stride = data.get("window_stride_s")
    if stride is not None and (isinstance(stride, bool) or not isinstance(stride, (int, float))
                               or not (math.isfinite(stride) and stride > 0)):
        refuse("window_stride_s", "the seconds between window starts (a number > 0) or null")
    for key, what in (("ch_names", "channel names"), ("classes", "class names")):
        names = data.get(key)
        if names is not None and not (isinstance(names, list)
                                      and all(isinstance(n, str) for n in names)):
            refuse(key, f"a list of {what} (strings) or null")
    if not isinstance(data.get("multilabel"), (bool, type(None))):
        refuse("multilabel", "true (a sigmoid per class), false (one softmax) or null")


# -- Hugging Face Hub -------------------------------------------------------------------------
def _hub():
    try:
        import huggingface_hub
    except ImportError as err:
        raise MissingDependencyError("Hugging Face Hub support (hf://) needs huggingface_hub: "
                                     "pip install 'biosig[hub]'") from err
    return huggingface_hub


def _hub_download(address: str, repo_id: str, revision: str | None) -> Path:
    """Local snapshot of a Hub repository holding a weights folder; a DownloadError naming the
    address and what to do when it cannot be had (no network, no such repository or revision,
    no access): huggingface_hub's errors are OSErrors."""
    hub = _hub()
    try:
        path = hub.snapshot_download(repo_id=repo_id, revision=revision,
                                     allow_patterns=[CARD_FILE, WEIGHTS_FILE, "README.md"])
    except OSError as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DownloadError(
            f"{address}: cannot get the weights from the Hugging Face Hub ({type(err).__name__}: "
            f"{reason}). Check the network and the name (a private repository needs "
            "a token: HF_TOKEN); offline, HF_HUB_OFFLINE=1 uses a copy already in the "
            "Hub cache, or give the path of a weights folder downloaded elsewhere") from err
    return Path(path)


def _resolve(directory) -> Path:
    text = os.fspath(directory)
    if isinstance(text, str) and text.startswith(HUB_PREFIX):
        repo, _, revision = text[len(HUB_PREFIX):].partition("@")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ConfigError(f"{text!r}: a Hub address is hf://owner/name[@revision]")
        return _hub_download(text, repo, revision or None)
    folder = Path(text)
    if folder.is_file():  # e.g. a Lightning .ckpt
        hint = ("; a Lightning checkpoint gives one: <Task>.load_from_checkpoint(ckpt)"
                ".save_pretrained(folder)" if folder.suffix == ".ckpt" else "")
        raise InvalidFileError(folder, f"a file, not a weights folder (a folder holding "
                                       f"{CARD_FILE} and {WEIGHTS_FILE}, as save_pretrained "
                                       f"writes it){hint}")
    if not folder.is_dir():
        raise InvalidFileError(folder, "weights folder not found")
    return folder


def push_to_hub(model, repo_id: str, *, data: dict | None = None, recipe: Any = None,
                metrics: dict | None = None, licence: str | None = None, private: bool = False,
                token: str | None = None, commit_message: str = "Upload biosig weights"):
    """Save the weights folder and upload it to the Hub repository ``repo_id`` ("owner/name").

    Creates the repository if needed. Needs ``pip install biosig[hub]``; returns what
    ``HfApi.upload_folder`` returns (the commit information).
    """
    hub = _hub()
    api = hub.HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, data=data, recipe=recipe, metrics=metrics, licence=licence)
        api.create_repo(repo_id=repo_id, private=private, exist_ok=True)
        return api.upload_folder(repo_id=repo_id, folder_path=tmp,
                                 commit_message=commit_message)


# -- helpers --------------------------------------------------------------------------------------
def _same(key: str, a, b) -> bool:
    if key == "sfreq":
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    if key in ("n_times", "n_chans"):
        return int(a) == int(b)
    if key == "ch_names":
        return [str(c) for c in a] == [str(c) for c in b]
    return _jsonable(a, key) == _jsonable(b, key)


def _jsonable(value, where: str):
    """Plain JSON types (tuples -> lists, NumPy scalars/arrays -> numbers/lists)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {value!r} is not a finite number (JSON has none)")
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, torch.Tensor):
        return _jsonable(value.tolist(), where)
    tolist = getattr(value, "tolist", None)  # NumPy arrays and scalars
    if callable(tolist):
        return _jsonable(tolist(), where)
    raise ConfigError(f"{where}: {type(value).__name__} value {value!r} cannot be written to a "
                      "JSON card")


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")
