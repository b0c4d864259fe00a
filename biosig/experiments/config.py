"""``biosig run --config CONFIG.yaml``: a whole protocol from a config, through the one runner.

The config is a ``biosig fit`` config (``model``, ``data``, ``trainer`` sections, composable
with several ``--config`` files and ``--section.key value`` overrides) plus an ``experiment:``
section (seeds, models, subjects, metrics, reference numbers, output folder): see ``RUN_HELP``.
"""

from __future__ import annotations

from pathlib import Path

from biosig.data.recipe_config import config_file_of, datamodule_from_config, load_config
from biosig._checks import did_you_mean
from biosig.errors import ConfigError
from biosig.experiments.runner import (
    SIGNAL_ARGS,
    ModelSpec,
    check_metrics,
    refuse_several_processes,
    run_experiment,
)

__all__ = ["RUN_HELP", "load_config", "datamodule_from_config", "experiment_from_config", "main"]

RUN_HELP = """usage: biosig run --config CONFIG.yaml [--config MORE.yaml] [--section.key VALUE ...]

Runs every fold of the data's protocol x every seed x every model and writes one results table
(results.csv, results.json and a printed table). The config is a `biosig fit` config (model,
data, trainer) plus an `experiment:` section:

  experiment:
    seeds: [1, 2, 3, 4, 5]    # integers (one integer: one seed)
    subjects: null            # test subjects to run (null: all folds)
    metrics: [acc]            # tables to print: the task's test metrics (checked before training)
    models:                   # optional; default: the config's model alone
      - {name: DBConformer}   # init_args/class_path/trainer here override the config's model
      - {name: EEGNet, init_args: {model: eegnet, model_kwargs: {}}}
      - {name: Best, test_ckpt: best, monitor: val_loss}   # test the epoch of lowest val_loss
      - {name: BestBA, test_ckpt: best, monitor: val_bal_acc, mode: max}   # or highest score
    reference: {DBConformer: {mean: 81.2}}   # numbers printed beside the first metric's table
    out: biosig_out/my_run    # default: trainer.default_root_dir or biosig_out/experiment

Overrides use the config's dotted keys: --trainer.max_epochs 5 --experiment.seeds '[1]'
--data.source.init_args.path /data/bciiv2a. A value of the wrong type (seeds: one) is refused
before any data are built. An earlier run's results.csv and results.json in the out folder are
replaced (said when the run starts).
No logger and no checkpoint files (a ModelCheckpoint in the callbacks is refused): test_ckpt:
best keeps the best epoch in a temporary folder.
"""


_EXPERIMENT_KEYS = {"seeds", "subjects", "metrics", "models", "reference", "out", "title"}


def _check_trainer_keys(trainer: dict, where: str) -> None:
    """Refuse a key ``lightning.pytorch.Trainer`` does not take (naming the closest valid key)
    and several processes, before any cache is built (the Trainer is made after the data)."""
    import inspect

    import lightning.pytorch as pl

    valid = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in trainer:
        if key not in valid:
            hint = did_you_mean(str(key), sorted(valid), prefix=f"{where}.")
            raise ConfigError(f"{where}.{key}: lightning.pytorch.Trainer takes no such "
                              f"argument{hint}")
    refuse_several_processes(trainer, where)


def _refuse_checkpoint_callbacks(callbacks, where: str) -> None:
    """``biosig run`` keeps no checkpoint files (``enable_checkpointing=False``): a checkpoint
    callback in a model's callbacks is refused here, naming the key, before any data are built
    (Lightning refused it only when the first run's Trainer was made, without saying why)."""
    from lightning.pytorch.callbacks import Checkpoint

    from biosig.experiments.runner import _import

    for cb in callbacks if isinstance(callbacks, list) else [callbacks] if callbacks else []:
        path = cb.get("class_path", "") if isinstance(cb, dict) else ""
        cls = _import(path) if path else None
        if isinstance(cls, type) and issubclass(cls, Checkpoint):
            raise ConfigError(
                f"{where}: biosig run keeps no checkpoint files and takes no {path}; remove "
                "it, or give each model its callbacks without it in experiment.models[]."
                "trainer.callbacks (to test a model's epoch of lowest val_loss: test_ckpt: best "
                "in its entry)")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# key: (what one item is, its test, whether null is allowed); a single item stands for a list
_LIST_KEYS = {"seeds": ("an integer", _is_int, False),
              "subjects": ("a subject (an integer or a name)",
                           lambda v: _is_int(v) or isinstance(v, str), True),
              "metrics": ("a metric name", lambda v: isinstance(v, str), True)}


def _as_list(value):
    """A single seed, metric or subject as a list of one; None and lists as they are."""
    return value if value is None or isinstance(value, list) else [value]


def check_experiment_types(exp: dict) -> None:
    """A ConfigError naming the key and the value for an ``experiment:`` entry of the wrong
    type (``seeds: one``, ``seeds: 1.5``), before any data are built."""
    for key, (what, ok, nullable) in _LIST_KEYS.items():
        if key not in exp or (exp[key] is None and nullable):
            continue
        value = exp[key]
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ConfigError(f"experiment.{key}: an empty list; give {what} or a list of them")
        for item in items:
            if not ok(item):
                raise ConfigError(f"experiment.{key}: {item!r} is not {what} (experiment.{key} "
                                  f"takes {what} or a list of them, got {value!r})")
    for key in ("title", "out"):
        if exp.get(key) is not None and not isinstance(exp[key], str):
            raise ConfigError(f"experiment.{key} must be a string, got {exp[key]!r}")
    models = exp.get("models")
    if models is not None and not isinstance(models, list):
        raise ConfigError(f"experiment.models must be a list of mappings ({{name: ..., "
                          f"init_args: {{...}}}}), got {models!r}")
    for entry in models or []:
        if not isinstance(entry, dict):
            raise ConfigError(f"experiment.models entries must be mappings, got {entry!r}")
        for key, kind, name in (("name", str, "a string"), ("class_path", str, "a string"),
                                ("monitor", str, "a string"), ("init_args", dict, "a mapping"),
                                ("trainer", dict, "a mapping")):
            if entry.get(key) is not None and not isinstance(entry[key], kind):
                raise ConfigError(f"experiment.models[].{key} must be {name}, got "
                                  f"{entry[key]!r}")
    reference = exp.get("reference")
    if reference is None:
        return
    if not isinstance(reference, dict) or not all(isinstance(v, dict)
                                                   for v in reference.values()):
        raise ConfigError(f"experiment.reference must map each model to {{subject: number}} "
                          f"(e.g. {{EEGNet: {{mean: 81.2}}}}), got {reference!r}")
    for model, numbers in reference.items():
        for subject, number in numbers.items():
            if not _is_number(number):
                raise ConfigError(f"experiment.reference.{model}.{subject}: {number!r} is not a "
                                  "number")


def experiment_from_config(cfg: dict) -> dict:
    """The keyword arguments of :func:`run_experiment` (and ``out``) from a merged config."""
    exp = dict(cfg.get("experiment") or {})
    unknown = set(exp) - _EXPERIMENT_KEYS
    if unknown:
        raise ConfigError(f"experiment section: unknown keys {sorted(unknown)} "
                          f"(allowed: {sorted(_EXPERIMENT_KEYS)})")
    check_experiment_types(exp)
    for section in ("model", "data"):
        if not isinstance(cfg.get(section), dict):
            raise ConfigError(f"biosig run: the config has no {section!r} section")
    base = cfg["model"]
    if "class_path" not in base:
        raise ConfigError("model section: class_path (the task) is missing")
    trainer = dict(cfg.get("trainer") or {})
    if isinstance(trainer.get("logger"), (dict, list)):
        raise ConfigError("trainer.logger: biosig run writes its own results table and takes no "
                          "logger; remove it (or use biosig fit)")
    _check_trainer_keys(trainer, "trainer")
    callbacks = trainer.get("callbacks") or []
    for cb in callbacks if isinstance(callbacks, list) else [callbacks]:
        if not (isinstance(cb, dict) and "class_path" in cb):
            raise ConfigError(f"trainer.callbacks: each entry needs a class_path, got {cb!r}")
    specs = []
    for entry in exp.get("models") or [{}]:
        extra = set(entry) - {"name", "class_path", "init_args", "trainer", "test_ckpt", "monitor",
                              "mode"}
        if extra:
            raise ConfigError(f"experiment.models: unknown keys {sorted(extra)}")
        _check_trainer_keys(entry.get("trainer") or {}, "experiment.models[].trainer")
        init = {**(base.get("init_args") or {}), **(entry.get("init_args") or {})}
        for k in SIGNAL_ARGS:
            init.pop(k, None)  # linked from the data
        name = entry.get("name") or str(init.get("model", base["class_path"].rsplit(".", 1)[-1]))
        specs.append(ModelSpec(name, entry.get("class_path", base["class_path"]), init,
                               dict(entry.get("trainer") or {}), entry.get("test_ckpt", "last"),
                               entry.get("monitor", "val_loss"), entry.get("mode", "min")))
        specs[-1].check()  # before the data: a bad name or argument writes no window cache
        own = "callbacks" in (entry.get("trainer") or {})
        _refuse_checkpoint_callbacks(
            entry["trainer"]["callbacks"] if own else trainer.get("callbacks"),
            f"experiment.models[{name}].trainer.callbacks" if own else "trainer.callbacks")
    seeds = _as_list(exp.get("seeds", cfg.get("seed_everything", 0) or 0))
    metrics = _as_list(exp.get("metrics"))
    check_metrics(metrics, specs, key="experiment.metrics")  # the data's n_outputs: not yet known
    out = exp.get("out") or trainer.get("default_root_dir") or "biosig_out/experiment"
    trainer.pop("default_root_dir", None)
    return {"models": specs, "seeds": seeds, "trainer": trainer,
            "subjects": _as_list(exp.get("subjects")), "metrics": metrics,
            "reference": exp.get("reference"), "title": exp.get("title", ""), "out": out}


def main(argv: list[str]) -> int:
    """``biosig run``: a whole protocol from a config (see ``RUN_HELP``)."""
    if not argv or argv[0] in ("-h", "--help"):
        print(RUN_HELP)
        return 0
    cfg = load_config(argv)
    try:
        kwargs = experiment_from_config(cfg)
    except ConfigError as err:  # the merged config's setting: the last file to set it
        raise ConfigError(f"{err}{config_file_of(str(err), argv, last=True)}") from None
    out = kwargs.pop("out")
    # said before the runs (the user may stop now), not kept as results.1.csv: one line, no
    # numbering of old files to explain
    earlier = [n for n in ("results.csv", "results.json") if (Path(out) / n).is_file()]
    if earlier:
        print(f"biosig run: {out} holds {' and '.join(earlier)} of an earlier run; this run "
              "replaces them", flush=True)
    dm = datamodule_from_config(cfg["data"])
    result = run_experiment(dm, **kwargs)
    result.print()
    folder = result.save(out)
    print(f"\nresults written to {folder}/results.csv and results.json")
    return 0
