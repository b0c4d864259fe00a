"""The ``biosig`` command: LightningCLI subcommands plus ``run``, ``demo`` and ``models``.

``biosig --help`` answers without importing torch or Lightning; the heavy stack loads only for
the subcommand that needs it.
"""

from __future__ import annotations

import sys

from biosig._threads import command_first, pop_threads_option

HELP = """usage: biosig <command> [options]
errors print one line (biosig: error: ...); --debug or BIOSIG_DEBUG=1 shows the traceback

commands:
  demo       train and evaluate a small EEG classifier on the built-in motor-imagery data,
             print a metrics table and write plots (biosig demo --help)
  run        run a whole protocol (every fold x seed x model) and write one results table:
             biosig run --config recipes/bciiv2a/dbconformer_co.yaml  (biosig run --help)
  fit        train a model on one fold (LightningCLI: biosig fit --config recipes/...yaml)
  validate   run the validation loop of a trained model (--ckpt_path FILE, last or best)
  test       evaluate a trained model on the test split (--ckpt_path FILE, last or best)
  predict    predict with a trained model (--ckpt_path); writes predictions.pt to the run's log
             folder
  models     list the registered models
  cache      verify or build window caches (biosig cache --help)
  generate   synthetic EEG from an SSMDP weights folder as EDF (biosig generate --help)
  cvd        per-class probabilities of a CVD CNN weights folder on one 12-lead ECG file
             (biosig cvd --help)

Configs compose: biosig fit --config recipes/bciiv2a/dbconformer_co.yaml \\
                   --config recipes/configs/trainer/gpu.yaml
Overrides: --trainer.max_epochs 5, --model.init_args.lr 1e-3; --print_config dumps the full config.
Threads: --threads N (any command) or BIOSIG_THREADS=N; default: the cores not already busy.
"""

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
COMMANDS = ("demo", "run", *LIGHTNING_COMMANDS, "models", "cache", "generate", "cvd")
#: The DataModule attributes linked into the task's arguments.
LINKED = ("n_chans", "n_times", "sfreq", "n_outputs", "ch_names")


def _make_cli_class():
    """The ``BiosigCLI`` class, made once (importable as ``biosig.cli.BiosigCLI``: a process
    spawned by ``strategy=ddp_spawn`` unpickles it with the Trainer)."""
    global _CLI_CLASS
    if _CLI_CLASS is None:
        _CLI_CLASS = _build_cli_class()
        _CLI_CLASS.__qualname__ = "BiosigCLI"
    return _CLI_CLASS


_CLI_CLASS = None


def _build_cli_class():
    from typing import Optional

    from lightning.pytorch.cli import LightningCLI

    _read_biosig_param_docs()

    class BiosigCLI(LightningCLI):
        """LightningCLI whose DataModule's signal shape is linked into the model's arguments.

        A linked argument given explicitly (``--model.init_args.n_chans 64`` or in a config)
        must agree with the data, or the CLI refuses the conflict (ConfigError) instead of
        silently replacing it. A classification task's ``multilabel`` (not linked: other tasks
        take none) must be the data source's, or a ConfigError names both. A project error
        raised while building the model or the data reaches the user as itself (jsonargparse
        would wrap it). ``fit`` prints where its logs and checkpoints go, at its start and its
        end, and one line per epoch when stdout is not a terminal (no progress bar);
        ``test``/``validate``/``predict`` resolve ``--ckpt_path last|best`` from the run folder,
        and without it refuse to score a random initialisation (unless ``pretrained``);
        ``predict`` writes its predictions to a file.
        """

        def instantiate_classes(self):
            config = self.config[self.subcommand] if self.subcommand else self.config
            self._given_links = {k: v for k, v in (config.model.get("init_args") or {}).items()
                                 if k in LINKED and v is not None}
            _check_task_args(config.model)
            if self.subcommand:
                _refuse_random_weights(self.subcommand, config)
            try:
                super().instantiate_classes()
            except ValueError as err:
                cause = _project_cause(err)
                if cause is None or cause is err:
                    raise
                raise cause from err

        def instantiate_trainer(self, **kwargs):
            # the data and the model are built: what needs no Trainer is checked before the
            # Trainer prints its start-up lines (GPU available: ...)
            try:
                _refuse_link_conflicts(self._given_links, self.datamodule)
                # multilabel: not linked (other tasks take none); predict reads no labels
                if self.subcommand != "predict" and callable(getattr(self.model, "check_data",
                                                                     None)):
                    self.model.check_data(self.datamodule)
            except ValueError as err:  # a ConfigError
                source = getattr(self, "_hparams_from_checkpoint", None)
                if source is None:
                    raise
                from biosig.errors import ConfigError

                raise ConfigError(f"{err} (the model's arguments come from the checkpoint "
                                  f"{source}: run with the data it was trained on)") from None
            _check_optimizer(self.model)
            if self.subcommand:  # a file; last/best are resolved (and checked) with the Trainer
                check_checkpoint(self.config_init[self.subcommand].get("ckpt_path"), self.model)
                _refuse_untrained_head(self.subcommand, self.config_init[self.subcommand],
                                       self.model)
            return super().instantiate_trainer(**kwargs)

        def _parse_ckpt_path(self):
            # Lightning reads the checkpoint's hyperparameters while parsing: a cut or foreign
            # file is named here, in one line, instead of torch's traceback
            import os

            sub = self.config.get("subcommand")
            path = self.config[sub].get("ckpt_path") if sub else None
            if path is not None and os.path.isfile(str(path)):
                _refuse_other_task(path, read_checkpoint(path), self.config[sub].get("model"), sub)
                self._hparams_from_checkpoint = path
            super()._parse_ckpt_path()

        def before_fit(self):
            from biosig.experiments.runner import refuse_cpu_sync_batchnorm, stop_ranks_on_sigterm

            refuse_cpu_sync_batchnorm(self.trainer, self.config.fit.trainer.sync_batchnorm)
            stop_ranks_on_sigterm(self.trainer)
            if callable(getattr(self.model, "check_strategy", None)):  # GANTask: before DDP starts
                self.model.check_strategy(self.trainer)
            _refuse_spawn_of_parametrized(self.trainer, self.model)
            _split_before_run_folder(self.datamodule, self.trainer)
            _prepare_resume(self)
            _refuse_resume_on_other_data(self)
            _no_bar_without_tty(self.trainer, epoch_lines=True)
            _print_rank_zero(f"biosig fit: {_folders(self.trainer)}")

        def after_fit(self):
            from pathlib import Path

            cb = self.trainer.checkpoint_callback
            best = getattr(cb, "best_model_path", "")
            # without a monitored value Lightning's "best" is the newest top-k checkpoint
            what = f"best checkpoint ({cb.monitor})" if getattr(cb, "monitor", None) else (
                "checkpoint (no monitored value: the newest)")
            # save_top_k: 0 with save_last (the diffusion pretraining recipes) keeps last.ckpt only
            last = getattr(cb, "last_model_path", "")
            saved = (f"; {what} {Path(best).resolve()}" if best else
                     f"; last checkpoint {Path(last).resolve()}" if last else "")
            _print_rank_zero(f"biosig fit: done; {_folders(self.trainer)}{saved}")

        def before_validate(self):
            _refuse_spawn_of_parametrized(self.trainer, self.model)
            _split_before_run_folder(self.datamodule)
            _resolve_checkpoint(self)
            _no_bar_without_tty(self.trainer)

        before_test = before_validate

        def before_predict(self):
            from biosig.callbacks import PredictionWriter

            self.before_validate()
            # the writer prints the file's line itself (a spawned process writes it)
            self.trainer.callbacks.append(PredictionWriter(announce="biosig predict: "))

        def add_arguments_to_parser(self, parser):
            for key in BATCHES_OR_FRACTION:
                _int_before_float(parser, f"trainer.{key}")
            for key in LINKED:
                parser.link_arguments(
                    f"data.{key}", f"model.init_args.{key}", apply_on="instantiate"
                )
            # A config's `experiment:` section is read by `biosig run` (whole protocol); `fit`
            # and the other subcommands use the protocol's first fold and ignore it.
            parser.add_argument(
                "--experiment",
                type=Optional[dict],
                default=None,
                help="biosig run only: seeds, models, subjects, metrics, reference",
            )

    return BiosigCLI


def reset_carried_init_args(argv: list[str]) -> list[str]:
    """``argv`` with what jsonargparse would carry across a class change undone.

    When a later ``--config`` (a data preset after a recipe) or option names another class for a
    section (``data.source``, ``data.protocol``, ``model``, ...), jsonargparse keeps the earlier
    class's arguments that the new class also takes: a recipe's ``n_subjects`` or ``subjects``
    reached the preset's dataset. Right after the source that changes the class, each such
    argument that neither it nor a later source sets is reset to the new class's default
    (``--section.init_args.key default``). One without a default is a ConfigError naming both
    sources. ``biosig run`` merges its configs the same way
    (:func:`biosig.data.recipe_config.load_config`)."""
    import inspect
    import json

    from biosig.data.recipe_config import config_sources, yaml_setting
    from biosig.errors import ConfigError

    sources = config_sources(argv)
    inserts: dict[int, list[str]] = {}
    for node in _class_nodes([src for _, src, _ in sources]):
        section = ".".join(node)
        before, keys_from = None, {}
        for n, (label, src, end) in enumerate(sources):
            sets, cls = yaml_setting(src, [*node, "class_path"])
            own = _init_arg_keys(src, node)
            if sets and isinstance(cls, str) and before is not None and \
                    "." in cls and _same_class(before, cls) is False:
                params = inspect.signature(_import_class(cls)).parameters
                later = {k for _, s, _ in sources[n + 1:] for k in _init_arg_keys(s, node)}
                for key in sorted(set(keys_from) - own - later):
                    if key not in params:
                        continue  # jsonargparse drops it
                    default = params[key].default
                    if default is inspect.Parameter.empty:
                        raise ConfigError(
                            f"{label or 'an option'} names {cls} for {section}, but its "
                            f"{key!r} would come from {keys_from[key] or 'an option'}, written "
                            f"for {before}: give --{section}.init_args.{key}")
                    if default is None or isinstance(default, (bool, int, float, str, list,
                                                                tuple)):
                        inserts.setdefault(end, []).extend(
                            [f"--{section}.init_args.{key}", json.dumps(default)])
                keys_from = {}
            if sets and isinstance(cls, str):
                before = cls
            keys_from.update(dict.fromkeys(own, label))
    out = []
    for i, arg in enumerate(argv):
        out += inserts.get(i, [])
        out.append(arg)
    return out + inserts.get(len(argv), [])


def _class_nodes(sources: list[dict]) -> list[list[str]]:
    """The key paths of the sections that name a ``class_path`` in any source (not in lists:
    a later list replaces an earlier one whole)."""
    found: list[list[str]] = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        if "class_path" in node and path not in found:
            found.append(path)
        for key, value in node.items():
            if key != "init_args":
                walk(value, [*path, key])
            elif isinstance(value, dict):
                for k, v in value.items():
                    walk(v, [*path, k])

    for src in sources:
        walk(src, [])
    return [p for p in found if p]


def _init_arg_keys(source: dict, node: list[str]) -> set[str]:
    from biosig.data.recipe_config import yaml_setting

    sets, section = yaml_setting(source, node)
    if not sets or not isinstance(section, dict):
        return set()
    keys = set(section.get("init_args") or {}) if isinstance(section.get("init_args"),
                                                                dict) else set()
    return keys | {k for k in section if k not in ("class_path", "init_args", "dict_kwargs")}


def _import_class(path: str):
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _same_class(a: str, b: str) -> bool | None:
    """Whether two ``class_path`` values (full or short names) name the same class; None when it
    cannot be told (a name that does not import)."""
    if "." not in a or "." not in b:
        return a.rpartition(".")[2] == b.rpartition(".")[2]
    try:
        return _import_class(a) is _import_class(b)
    except (ImportError, AttributeError):
        return None


def _refuse_spawn_of_parametrized(trainer, model) -> None:
    """A ConfigError for processes started by spawn (``strategy=ddp_spawn``) with a model that
    holds parametrized modules (braindecode's EEGNet max-norm constraint, spectral norm):
    the spawned ranks get the model pickled, which torch refuses for them (a traceback from
    inside multiprocessing); ``strategy=ddp`` starts processes that build the model."""
    from torch.nn.utils import parametrize

    from biosig.errors import ConfigError

    launcher = getattr(trainer.strategy, "launcher", None)
    if type(launcher).__name__ != "_MultiProcessingLauncher" or launcher.is_interactive_compatible:
        return  # one process, fork, or processes that run the command themselves
    names = [n for n, m in model.named_modules() if parametrize.is_parametrized(m)]
    if names:
        raise ConfigError(
            f"trainer.strategy: {type(trainer.strategy).__name__} with start method spawn "
            f"pickles the model for each process, and torch cannot pickle its parametrized "
            f"modules ({', '.join(names[:2])}{', ...' if len(names) > 2 else ''}); use "
            "--trainer.strategy ddp (each process runs the command and builds the model)")


def _print_rank_zero(line: str) -> None:
    """Print (flushed) in the process of global rank 0 only: under DDP every rank runs the CLI
    (``strategy=ddp``, ``srun``, ``torchrun``) and each printed the line."""
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) == 0:
        print(line, flush=True)


def _split_before_run_folder(datamodule, fitting=None) -> None:
    """Split the data (the protocol's first fold) before the logger's run folder is made: a
    protocol the data cannot follow (a ``group`` column the metadata lack, a subject not in
    the data) is refused with nothing written, and so is a trainer (``fitting``) whose callbacks
    would select an epoch on the test part. The cache is already built (the linked signal
    shape needs it); Lightning's own ``setup`` call then finds the split done."""
    from biosig.data import BiosigDataModule

    if isinstance(datamodule, BiosigDataModule):
        datamodule.setup()
        if fitting is not None:
            datamodule.refuse_selection_on_test(fitting)


def _refuse_link_conflicts(given: dict, datamodule) -> None:
    """ConfigError naming each explicit model argument that disagrees with the data's value."""
    import math

    from biosig.errors import ConfigError

    clashes = []
    for key, value in given.items():
        data_value = getattr(datamodule, key)
        if key == "sfreq":
            same = data_value is not None and math.isclose(float(value), float(data_value))
        elif key == "ch_names":
            same = data_value is not None and list(value) == list(data_value)
        else:
            same = data_value is not None and int(value) == int(data_value)
        if not same:
            shown = (f"{len(data_value)} names" if key == "ch_names" and data_value is not None
                     else repr(data_value))
            clashes.append(f"model.init_args.{key}={value!r} but the data give {shown}")
    if clashes:
        raise ConfigError(
            "; ".join(clashes) + ". These arguments are linked from the DataModule: remove them "
            "(the data's values are used), or change the data (e.g. a PickChannels or Resample "
            "step in data.preprocessing, the window length in data.windows)")


# Trainer options where an int counts batches and a float is a fraction of the epoch; Lightning
# declares them Union[float, int], which jsonargparse tries in that order, so a typed 1 (one batch)
# became 1.0 (the whole epoch).
BATCHES_OR_FRACTION = ("limit_train_batches", "limit_val_batches", "limit_test_batches",
                       "limit_predict_batches", "overfit_batches", "val_check_interval")


def _int_before_float(parser, dest: str) -> None:
    """Have the parser try ``int`` before ``float`` for the option ``dest`` (``1`` stays one
    batch, ``1.0`` the whole epoch)."""
    from typing import Union, get_args

    action = next(a for a in parser._actions if a.dest == dest)
    subtypes = get_args(action._typehint)
    if int in subtypes and float in subtypes:
        action._typehint = Union[tuple(sorted(subtypes, key=lambda t: t is not int))]


def _project_cause(err: BaseException) -> BaseException | None:
    """The project error (BiosigError) that ``err`` was raised from, if any (jsonargparse turns
    an error in a constructor into ``ValueError: Does not validate against ...``)."""
    from biosig.errors import BiosigError

    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, BiosigError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _task_class(model_config):
    """The task class a config's ``model:`` section names, or None (an unknown class path is
    the parser's error)."""
    import importlib

    module, _, name = str(model_config.get("class_path") or "").rpartition(".")
    try:
        task = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    return task if isinstance(task, type) else None


def _check_task_args(model_config) -> None:
    """The task's own argument checks (:meth:`biosig.tasks.BiosigTask.check_args`: learning
    rates, weight decay, loss weights...; ``check_networks``: registry names, ``model_kwargs``,
    a classification task's non-classifier) on the config, before the data are built: the data
    come first (their shape is linked into the model), so the task's constructor would see
    a bad value only after the window cache was written."""
    from biosig.tasks.base import BiosigTask

    task = _task_class(model_config)
    if task is None or not issubclass(task, BiosigTask):
        return
    args = dict(model_config.get("init_args") or {})
    task.check_args(args)
    task.check_networks(args)  # registry names and *_kwargs (model, generator, critic)


def _refuse_random_weights(command: str, config) -> None:
    """``validate``/``test``/``predict`` without ``--ckpt_path`` scored the task's random
    initialisation as if trained: a ConfigError before the data are built, unless the model
    loads pretrained weights (``model.init_args.pretrained``)."""
    from biosig.errors import ConfigError

    if command == "fit" or config.get("ckpt_path") is not None:
        return
    if (config.model.get("init_args") or {}).get("pretrained") is not None:
        return
    raise ConfigError(f"biosig {command} without --ckpt_path would use the model's random "
                      "initialisation as its weights (no model.init_args.pretrained); give the "
                      "trained weights: --ckpt_path FILE|last|best")


def _refuse_untrained_head(command: str, config, task) -> None:
    """``validate``/``test``/``predict`` without ``--ckpt_path`` of pretrained weights whose head
    the task made afresh (pretraining weights have none; another ``n_outputs`` gets a new one)
    scored a random head as if trained: a ConfigError instead."""
    from biosig.errors import ConfigError

    untrained = getattr(task, "untrained_head", None)
    if command == "fit" or config.get("ckpt_path") is not None or untrained is None:
        return
    source, saved = untrained
    had = "no head" if saved is None else f"a head of {saved} outputs"
    raise ConfigError(f"biosig {command} without --ckpt_path would score a random head: the "
                      f"weights in {source} have {had}, so the head for these data's "
                      f"{task.n_outputs} classes is new and untrained; give the weights of the "
                      "probe or fine-tuning run: --ckpt_path FILE|last|best")


def _check_optimizer(task) -> None:
    """The task's ``optimizer`` (and ``betas``) checked now, before any run folder is written
    (the task builds its optimizer only when fitting starts)."""
    import torch

    from biosig.tasks.base import make_optimizer

    hp = getattr(task, "hparams", {})
    if isinstance(hp.get("optimizer"), str):
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], hp["optimizer"], 1e-3, 0.0,
                       betas=hp.get("betas"))


def _no_bar_without_tty(trainer, epoch_lines: bool = False) -> None:
    """Without a terminal on stdout, no progress bar (its redraws garble a file or a pipe);
    with ``epoch_lines``, an :class:`~biosig.callbacks.EpochProgress` line per epoch instead."""
    from lightning.pytorch.callbacks import ProgressBar

    from biosig.callbacks import EpochProgress

    if sys.stdout.isatty():
        return
    trainer.callbacks[:] = [c for c in trainer.callbacks if not isinstance(c, ProgressBar)]
    if epoch_lines and not any(isinstance(c, EpochProgress) for c in trainer.callbacks):
        trainer.callbacks.append(EpochProgress())


def _resolve_checkpoint(cli) -> None:
    """``--ckpt_path last|best`` of validate/test/predict in a new process: the newest last
    checkpoint of the run folder, or the best checkpoint that it records."""
    from biosig.data import BiosigDataModule

    config = cli.config_init[cli.subcommand]
    which = config.get("ckpt_path")
    if which not in ("last", "best"):
        return  # a file was checked when the Trainer was built
    config["ckpt_path"] = str(_saved_checkpoint(cli.trainer, which))
    ckpt = check_checkpoint(config["ckpt_path"], cli.model)
    if isinstance(cli.datamodule, BiosigDataModule):
        # the newest run of the folder may have other data (a preset after the recipe writes
        # to the recipe's folder): its weights could fit and score other windows
        state = (ckpt or {}).get(type(cli.datamodule).__qualname__)
        cli.datamodule.refuse_other_data(
            state, config["ckpt_path"], doing=f"--ckpt_path {which}", ignore=("seed",),
            advice=f"it is the newest run under {cli.trainer.default_root_dir}, trained with "
                   "other data settings; give the checkpoint file of the run you mean "
                   "(--ckpt_path FILE)")


def read_checkpoint(path) -> dict | None:
    """A Lightning checkpoint's dict (tensors memory-mapped), or None when it holds more than
    tensors and plain values (``weights_only`` refuses it: Lightning decides). A missing, cut,
    empty or foreign file is an :class:`InvalidFileError` naming it."""
    import pickle

    import torch

    from biosig.errors import InvalidFileError

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        return None
    except Exception as err:  # noqa: BLE001 (a cut, empty or foreign file, however torch fails)
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise InvalidFileError(path, f"not a readable checkpoint ({reason}); a file cut short "
                                     "or not written by Lightning") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise InvalidFileError(path, "not a Lightning checkpoint (no state_dict)")
    return ckpt


def _refuse_other_task(path, ckpt: dict | None, model_config, command: str) -> None:
    """ConfigError when ``--ckpt_path`` holds a checkpoint of another task class than the
    config's ``model:``: Lightning takes the checkpoint's class and arguments in place of the
    config's, so ``fit`` would resume (say) the VQ pretraining instead of fine-tuning and
    ``test`` would report its metrics, without a word."""
    from biosig.errors import ConfigError

    saved = ((ckpt or {}).get("hyper_parameters") or {}).get("_class_path")
    given = (model_config or {}).get("class_path")
    if not saved or not given or saved == given:
        return
    classes = [_task_class({"class_path": name}) for name in (saved, given)]
    if None not in classes and classes[0] is classes[1]:
        return  # two import paths of one class (biosig.tasks.VQTask, biosig.tasks.vq.VQTask)
    start = (" To start from its weights, give them as --model.init_args.pretrained (a weights "
             "folder: <Task>.load_from_checkpoint(ckpt).save_pretrained(folder))"
             if command == "fit" else "")
    raise ConfigError(f"--ckpt_path {path} is a checkpoint of {saved}, but the config's model "
                      f"is {given}: Lightning would {command} the checkpoint's task in its place; "
                      f"give a checkpoint of a {given.rpartition('.')[2]} run, or the config its "
                      f"run was trained with.{start}")


def check_checkpoint(path, model) -> dict | None:
    """Before a run uses ``--ckpt_path`` (and writes its run folder): the file exists, reads as
    a checkpoint, and its weights fit ``model``. Raises :class:`InvalidFileError` (a missing,
    cut or foreign file) or :class:`ConfigError` (weights of another shape: other data settings)
    naming the file, instead of Lightning's traceback after the run folder was written. Returns
    the checkpoint as read (:func:`read_checkpoint`), None where it was not read."""
    from pathlib import Path

    from biosig.errors import ConfigError, InvalidFileError

    if path is None or str(path) in ("best", "last", "hpc") or str(path).startswith("registry"):
        return  # Lightning's own names (those biosig resolves are files by now)
    path = Path(path)
    if path.is_dir():
        from biosig.models.weights import CARD_FILE

        what = ("a weights folder (save_pretrained): give it as --model.init_args.pretrained, "
                "not --ckpt_path" if (path / CARD_FILE).is_file() else "a folder")
        raise InvalidFileError(path, f"{what} (--ckpt_path: a .ckpt file, last or best)")
    if not path.is_file():
        raise InvalidFileError(path, "Checkpoint file not found (--ckpt_path: a .ckpt file, "
                                     "last or best)")
    ckpt = read_checkpoint(path)
    if ckpt is None:
        return None  # more than tensors and plain values: Lightning reads it (and decides)
    state = ckpt["state_dict"]
    own = model.state_dict()
    shapes = [f"{k} {tuple(v.shape)} in the file, {tuple(own[k].shape)} here"
              for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing = [k for k in own if k not in state]
    if shapes or missing:
        hp = ckpt.get("hyper_parameters") or {}
        differ = [f"{k}={hp[k]!r} in the file, {getattr(model, k)!r} here"
                  for k in ("n_chans", "n_times", "sfreq", "n_outputs", "model")
                  if k in hp and getattr(model, k, None) not in (None, hp[k])]
        what = "; ".join(differ or shapes[:2] or [f"missing weights {missing[:3]}"])
        raise ConfigError(f"{path}: the checkpoint's weights do not fit this model ({what}); "
                          "run with the data and model settings it was trained with (its run "
                          "folder's config.yaml)")
    return ckpt


def _saved_checkpoint(trainer, which: str):
    """``which="last"``: the newest ``last*.ckpt`` under the trainer's run folder; ``"best"``:
    the best checkpoint recorded in it by its ModelCheckpoint. ConfigError when there is none."""
    import pickle
    from pathlib import Path

    import torch

    from biosig.errors import ConfigError
    from biosig.experiments.resume import prepare_fit

    try:
        last = Path(prepare_fit(trainer, "last"))  # as `biosig fit --ckpt_path last`
    except ConfigError as err:
        if which == "last":
            raise
        raise ConfigError(f"ckpt_path=best is read from the run's last checkpoint: "
                          f"{str(err).removeprefix('ckpt_path=last: ')}") from None
    if which == "last":
        return last
    try:  # tensors and plain values only: the callbacks' states are no more than that
        states = torch.load(last, map_location="cpu", weights_only=True).get("callbacks") or {}
    except pickle.UnpicklingError as err:
        raise ConfigError(f"ckpt_path=best: {last} holds more than tensors and plain values, "
                          f"so it is not read to find the best checkpoint ({str(err)[:200]}); "
                          "give the checkpoint file") from None
    best = [s.get("best_model_path") for k, s in states.items()
            if k.startswith("ModelCheckpoint") and isinstance(s, dict)]
    best = next((Path(b) for b in best if b), None)
    if best is not None and not best.is_file() and (last.parent / best.name).is_file():
        best = last.parent / best.name  # a relative path from another working folder
    if best is None or not best.is_file():
        raise ConfigError(f"ckpt_path=best: {last} records no best checkpoint"
                          + (f" ({best} is gone)" if best else "")
                          + "; give the checkpoint file (or --ckpt_path last)")
    return best


def _folders(trainer) -> str:
    """Where a trainer's logs and checkpoints go (resolved paths)."""
    from pathlib import Path

    logs = trainer.log_dir if trainer.loggers else None
    ckpt = trainer.checkpoint_callback
    folder = getattr(ckpt, "dirpath", None) if ckpt is not None else None
    if ckpt is not None and folder is None:  # Lightning's default, set only during setup
        folder = Path(logs or trainer.default_root_dir) / "checkpoints"
    return (f"logs in {Path(logs).resolve()}" if logs else "no logger (trainer.logger false)") + (
        f"; checkpoints in {Path(folder).resolve()}" if folder else "; checkpointing off")


def _read_biosig_param_docs() -> None:
    """Make jsonargparse's help (``--data.source.help CLASS``, ``--help`` of a class) take a
    biosig class's parameter texts from :func:`param_docs`: its numpydoc reading takes the text
    after ``name :`` for a type and shows only the continuation lines."""
    import inspect

    from jsonargparse import _parameter_resolvers as resolvers

    original = resolvers.parse_docs
    if getattr(original, "biosig", False):
        return

    def parse_docs(component, parent, logger):
        docs = original(component, parent, logger)
        cls = parent if inspect.isclass(parent) else component
        if inspect.isclass(cls) and cls.__module__.split(".")[0] == "biosig":
            docs.update(param_docs(cls))
        return docs

    parse_docs.biosig = True
    resolvers.parse_docs = parse_docs


def param_docs(cls) -> dict[str, str]:
    """``{parameter: description}`` from the ``Parameters`` sections of ``cls`` and its bases
    (biosig's style: ``name : text`` or ``a, b : text``, continued on indented lines; the
    class's own entry wins over a base's)."""
    import inspect
    import re

    docs: dict[str, str] = {}
    for klass in reversed(inspect.getmro(cls)):
        text = inspect.cleandoc(klass.__doc__ or "")
        section = re.search(r"^Parameters\n-+\n(.*?)(?:\n\s*\n|\Z)", text, re.S | re.M)
        if section is None:
            continue
        entries: list[tuple[list[str], list[str]]] = []
        for line in section.group(1).splitlines():
            head = re.match(r"^([A-Za-z_*][\w*]*(?:, [A-Za-z_*][\w*]*)*) : (.*)$", line)
            if head:
                entries.append(([n.strip("*") for n in head.group(1).split(", ")], [head.group(2)]))
            elif entries and line.startswith(" "):
                entries[-1][1].append(line.strip())
        for names, lines in entries:
            for name in names:
                docs[name] = " ".join(" ".join(lines).split())
    return docs


def _first_sentence(text: str) -> str:
    """The first sentence of ``text`` (whole), without reST markup."""
    import re

    from biosig._argparse import plain_text

    text = plain_text(text)
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        if ch == "." and depth == 0 and re.match(r"\s+[A-Z]", text[i + 1:]):
            return text[: i + 1]
    return text


def option_lines(cls, prefix: str, linked: tuple[str, ...] = ()) -> list[str]:
    """One line per ``__init__`` argument of ``cls``: ``--<prefix><name>  description (default)``.

    An argument without an entry of its own points at the entry whose text names it; one that
    no docstring mentions reads ``undocumented`` (a test keeps that list empty).
    """
    import inspect
    import re

    docs = param_docs(cls)
    lines = []
    for name, par in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD):
            continue
        if name in linked:
            text = "from the data (linked by the CLI; an explicit value must agree)"
        elif name in docs:
            text = _first_sentence(docs[name])
        else:
            named_in = [k for k, v in docs.items() if re.search(rf"\b{name}\b", v)]
            text = f"see {named_in[0]}" if named_in else "undocumented"
        default = "" if par.default is inspect.Parameter.empty else f" [{par.default!r}]"
        lines.append(f"  --{prefix}{name}  {text}{default}")
    return lines


def _prepare_resume(cli) -> None:
    """``biosig fit``: save last checkpoints, keep random states, resolve ``--ckpt_path last``
    to the newest last checkpoint of the run folder (:mod:`biosig.experiments.resume`)."""
    from biosig.experiments.resume import prepare_fit

    config = cli.config_init[cli.subcommand]
    given = config.get("ckpt_path")
    config["ckpt_path"] = prepare_fit(cli.trainer, given)
    if config["ckpt_path"] != given:  # `last` resolved to a file (a given file was checked
        check_checkpoint(config["ckpt_path"], cli.model)  # before the Trainer was built)


def _refuse_resume_on_other_data(cli) -> None:
    """``biosig fit --ckpt_path``: the checkpoint's data (seed, split, processing) against this
    run's, before the logger makes the run folder (Lightning checks it again on restoring)."""
    from pathlib import Path

    from biosig.data import BiosigDataModule

    path = cli.config_init[cli.subcommand].get("ckpt_path")
    if not isinstance(cli.datamodule, BiosigDataModule) or path is None or not Path(
            str(path)).is_file():
        return
    ckpt = read_checkpoint(path)
    state = (ckpt or {}).get(type(cli.datamodule).__qualname__)
    if state:
        cli.datamodule.refuse_other_data(state, source=str(path))


def short_help(command: str = "fit") -> str:
    """``biosig <command> --help``: how to call it and every DataModule and task option, one
    line each (Lightning's full help: ``--help-all``; the Trainer's options are Lightning's)."""
    from biosig.data.datamodule import BiosigDataModule
    from biosig.tasks import BiosigTask

    tasks = sorted({c for c in _subclasses(BiosigTask)}, key=lambda c: c.__name__)
    out = [
        f"usage: biosig {command} --config FILE [--config FILE ...] [--SECTION.OPTION VALUE ...]",
        "",
        f"{command} a task on the first fold of a DataModule's protocol (LightningCLI). Configs",
        "compose left to right; options override them; --print_config prints the result.",
        "Environment variables PL_<COMMAND>__<SECTION>__<OPTION> set options too (over the",
        "configs; options typed on the command line override them).",
        "Other options: --trainer.* (Lightning's Trainer, e.g. --trainer.max_epochs 5,",
        "--trainer.accelerator gpu), --optimizer/--lr_scheduler (torch classes), --ckpt_path",
        "(a file, last or best of the newest run);",
        "their full descriptions: biosig " + command + " --help-all.",
        "",
        "data (BiosigDataModule; --data.source etc. take class_path + init_args):",
        *option_lines(BiosigDataModule, "data."),
    ]
    for task in tasks:
        out += ["", f"model (--model.class_path {task.__module__.rsplit('.', 1)[0]}."
                    f"{task.__name__}; --model.init_args.<name>):",
                *option_lines(task, "model.init_args.", LINKED)]
    return "\n".join(out)


def _subclasses(cls) -> list:
    found = []
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("biosig."):
            found += [sub, *_subclasses(sub)]
    return found


def lightning_cli(args: list[str] | None, run: bool = True):
    """Run (or with ``run=False`` only build) the LightningCLI on ``args`` (None: ``sys.argv``).

    ``--help`` prints biosig's short help (:func:`short_help`: every DataModule and task option
    in one line); ``--help-all`` Lightning's full one. ``PL_<COMMAND>__...`` environment
    variables are options too (:func:`with_env_options`).
    """
    argv = list(sys.argv[1:] if args is None else args)
    command = argv[0] if argv and argv[0] in LIGHTNING_COMMANDS else "fit"
    if "-h" in argv or "--help" in argv:
        print(short_help(command))
        raise SystemExit(0)
    if "--help-all" in argv:
        argv[argv.index("--help-all")] = "--help"
    elif argv and argv[0] in LIGHTNING_COMMANDS:
        argv = with_env_options(argv)
        _check_config_syntax(argv)
    if "--help" not in argv:
        argv = reset_carried_init_args(argv)
    _PARSED_ARGV[:] = argv
    if args is None:  # LightningCLI reads sys.argv (and warns when given both)
        sys.argv[1:] = argv
    else:
        args = argv
    from biosig.data.datamodule import BiosigDataModule
    from biosig.experiments.runner import progress_logging, quiet_lightning_notices
    from biosig.tasks.base import BiosigTask

    progress_logging()  # window-cache builds and downloads report in logs, not only on a tty
    quiet_lightning_notices()
    cli_class = _make_cli_class()
    return cli_class(
        BiosigTask,
        BiosigDataModule,
        subclass_mode_model=True,
        args=args,
        run=run,
        parser_class=_short_usage_parser(),
        # prog: not __main__.py (python -m biosig); no abbreviated keys (--trainer.max_epoch)
        parser_kwargs={"default_env": True, "prog": "biosig", "allow_abbrev": False},
        save_config_kwargs={"overwrite": True},
    )


def _short_usage_parser():
    """Lightning's parser, whose usage line on an error is one line instead of every option
    (70 lines before the error itself); ``--help`` still lists them.

    Made once and importable as ``biosig.cli.ShortUsageParser`` (module ``__getattr__``): a
    spawned DDP process (``strategy=ddp_spawn``) unpickles the Trainer, whose config-saving
    callback holds the parser (a class local to this function could not be pickled).
    """
    global _SHORT_USAGE_PARSER
    if _SHORT_USAGE_PARSER is None:
        from lightning.pytorch.cli import LightningArgumentParser

        class ShortUsageParser(LightningArgumentParser):
            def print_usage(self, file=None):
                prog = self.prog.replace(" [options]", "")
                (file or sys.stdout).write(f"usage: {prog} [options]\n")

            def error(self, message, ex=None):
                parser = getattr(ex, "subcommand_parser", None) or self
                from biosig.data.recipe_config import config_file_of, parser_error_line

                line = parser_error_line(message, parser)  # configs are parsed in order: the
                return super().error(line + config_file_of(line, _PARSED_ARGV), ex)  # 1st failed

        ShortUsageParser.__qualname__ = "ShortUsageParser"
        _SHORT_USAGE_PARSER = ShortUsageParser
    return _SHORT_USAGE_PARSER


_SHORT_USAGE_PARSER = None
_PARSED_ARGV: list[str] = []  # what lightning_cli parses now (for config_file_of)


def __getattr__(name: str):
    if name == "ShortUsageParser":  # built on first use (this module imports no Lightning)
        return _short_usage_parser()
    if name == "BiosigCLI":
        return _make_cli_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_config_syntax(argv: list[str]) -> None:
    """Each ``--config`` file read as YAML first: a syntax error is one line naming the file, the
    line and the column (jsonargparse's names neither the file nor, in one line, the place)."""
    from pathlib import Path

    from biosig.data.recipe_config import read_yaml

    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.removeprefix("--config=")
        else:
            continue
        if Path(path).is_file():  # otherwise the parser's error (or an inline YAML string)
            read_yaml(path)


def with_env_options(argv: list[str]) -> list[str]:
    """``argv`` (``[command, ...]``) with each ``PL_<COMMAND>__SECTION__OPTION=value`` variable
    as ``--section.option value`` after the last ``--config``: a variable overrides the configs,
    an option typed after them overrides it (jsonargparse alone lets any ``--config`` on the
    command line override the environment)."""
    import os

    prefix = f"PL_{argv[0].upper()}__"
    extra = []
    for key, value in sorted(os.environ.items()):
        if key.startswith(prefix) and key != prefix + "CONFIG":
            extra += [f"--{key[len(prefix):].lower().replace('__', '.')}", value]
    configs = [i for i, a in enumerate(argv) if a == "--config" or a.startswith("--config=")]
    at = configs[-1] + (2 if argv[configs[-1]] == "--config" else 1) if configs else 1
    return argv[:at] + extra + argv[at:]


CPU_PRESET = "recipes/configs/trainer/cpu.yaml"


def _error_line(exc: BaseException) -> str | None:
    """``biosig: error: ...`` (plus a hint line) for a project or Lightning configuration error
    (a MisconfigurationException, or Lightning refusing a ``ckpt_path``).

    None for anything else: an unexpected exception is a bug and keeps its traceback. Under DDP
    every process prints its own line; a process other than global rank 0 names its rank, so the
    copies read as copies and an error only one rank met is still seen.
    """
    from biosig.errors import BiosigError

    hint = ""
    if not isinstance(exc, BiosigError) and not _lightning_ckpt_path_error(exc):
        # Lightning is imported only by the commands that train; look it up, never import it here.
        exceptions = sys.modules.get("lightning.fabric.utilities.exceptions")
        misconfig = getattr(exceptions, "MisconfigurationException", None)
        if misconfig is None or not isinstance(exc, misconfig):
            return None
        text = str(exc).lower()
        if "gpu" in text or "cuda" in text or "mps" in text:
            hint = (f"\nhint: this machine has no usable GPU: biosig fit/test/run: use the CPU "
                    f"preset --config {CPU_PRESET} (or --trainer.accelerator cpu) instead of the "
                    "GPU one; a recipe script: --accelerator cpu")
    message = " ".join(str(exc).split()) or type(exc).__name__
    rank = _global_rank()
    return f"biosig: error{f' (rank {rank})' if rank else ''}: {message}{hint}"


def _global_rank() -> int:
    """This process's global rank under DDP (0 alone): the rank Lightning's strategy set, else
    the launcher's environment (torchrun, SLURM), as Lightning reads it."""
    rank_zero = sys.modules.get("lightning.fabric.utilities.rank_zero")
    rank = getattr(getattr(rank_zero, "rank_zero_only", None), "rank", None)
    if rank is None:
        import os

        for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
            if os.environ.get(key, "").isdigit():
                return int(os.environ[key])
        return 0
    return int(rank)


def _lightning_ckpt_path_error(exc: BaseException) -> bool:
    """Lightning refusing a ``ckpt_path`` (``"best"`` without a fitted ModelCheckpoint, a file
    that is not there), raised in Lightning's own code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return (isinstance(exc, (ValueError, FileNotFoundError)) and where.startswith("lightning.")
            and ("ckpt_path" in str(exc) or str(exc).startswith("Checkpoint file not found")))


def run_script(main) -> None:
    """Run a recipe script's ``main(argv=None)`` from the shell, as ``biosig`` runs its commands:
    a project or configuration error prints one line and exits with 2 (``--debug`` or
    ``BIOSIG_DEBUG=1``: the traceback); an int that ``main`` returns is the exit status, anything
    else exits 0."""
    status = _one_line_errors(main)()
    sys.exit(status if isinstance(status, int) else 0)


def _one_line_errors(func):
    """Run the command; a project or Lightning configuration error prints one line, exit code 2.

    ``--debug`` anywhere in the arguments (removed before parsing) or ``BIOSIG_DEBUG=1`` lets the
    exception through with its traceback.
    """
    import functools
    import os

    @functools.wraps(func)
    def wrapper(argv: list[str] | None = None) -> int:
        if argv is None:  # from the shell: LightningCLI reads sys.argv itself
            debug = "--debug" in sys.argv[1:]
            sys.argv[1:] = [a for a in sys.argv[1:] if a != "--debug"]
        else:
            debug = "--debug" in argv
            argv = [a for a in argv if a != "--debug"]
        debug = debug or os.environ.get("BIOSIG_DEBUG", "").strip() not in ("", "0")
        try:
            try:
                return func(argv) if debug else _one_line(func, argv)
            finally:  # also after argparse's --help (SystemExit)
                sys.stdout.flush()  # a closed pipe's error here, not at the interpreter's exit
        except BrokenPipeError:  # stdout closed early (`biosig fit --help | head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
            return 1

    return wrapper


def _one_line(func, argv):
    """``func(argv)``; a project or configuration error prints its line, status 2."""
    try:
        return func(argv)
    except BrokenPipeError:
        raise
    except Exception as exc:  # filtered by _error_line; anything else is re-raised
        line = _error_line(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 2


@_one_line_errors
def main(argv: list[str] | None = None) -> int:
    from_shell = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = command_first(argv)  # `biosig --threads N <command>`: the command first
    if not argv or argv[0] in ("-h", "--help", "help") or argv[0].startswith("--threads"):
        print(HELP)
        return 0
    command = argv[0]
    if command == "--version":
        from biosig import __version__

        print(__version__)
        return 0
    # --threads N / BIOSIG_THREADS / free cores (biosig._threads); a subcommand's --help trains
    # nothing and stays instant (setting the count imports torch)
    argv = pop_threads_option(argv, apply=not {"-h", "--help"} & set(argv[1:]))
    if from_shell:
        sys.argv[1:] = argv
    if command == "demo":
        from biosig.demo import main as demo_main

        return demo_main(argv[1:])
    if command == "run":
        from biosig.experiments.config import main as run_main

        return run_main(argv[1:])
    if command == "models":
        table = "the table of parameters and input contracts: python -m biosig.models.summary"
        if argv[1:] in (["-h"], ["--help"]):  # before the registry's imports (torch)
            print(f"usage: biosig models (the registered names, one a line); {table}")
            return 0
        from biosig.errors import ConfigError
        from biosig.models import list_models

        if argv[1:]:  # `biosig models summary eegdm` printed the names, as if understood
            raise ConfigError(f"biosig models takes no arguments (it lists the registered "
                              f"names), got {' '.join(argv[1:])!r}; {table}")
        print("\n".join(list_models()))
        return 0
    if command == "cache":
        return _cache(argv[1:])
    if command == "generate":
        return _generate(argv[1:])
    if command == "cvd":
        from biosig.analysis.cvd import cvd_main

        return cvd_main(argv[1:])
    if command in LIGHTNING_COMMANDS:
        lightning_cli(None if from_shell else argv)
        return 0
    from biosig._checks import did_you_mean
    from biosig.errors import ConfigError

    started = [c for c in COMMANDS if command and c.startswith(command)]  # `biosig gen`
    hint = f" (did you mean {' or '.join(started)}?)" if started else did_you_mean(command,
                                                                                   COMMANDS)
    raise ConfigError(f"unknown command {command!r}{hint}; the "
                      f"commands: {', '.join(COMMANDS)} (biosig --help says what each does)")


def _cache(argv: list[str]) -> int:
    from biosig.data.cache import cache_command

    if argv[:1] == ["build"] and not {"-h", "--help"} & set(argv):
        from biosig.experiments.runner import progress_logging

        progress_logging()  # the build's lines as biosig fit shows them (time, logger, message)

    return cache_command(argv)


def _generate(argv: list[str]) -> int:
    from biosig.analysis.generate import generate_main

    return generate_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
