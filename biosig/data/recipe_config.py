"""Recipe configs as ``biosig fit``, ``run`` and ``cache build`` read them: ``--config`` files
merged in order, ``--section.key value`` overrides, and the DataModule of a ``data:`` section."""

from __future__ import annotations

from pathlib import Path

from biosig.errors import ConfigError, InvalidFileError

__all__ = ["datamodule_from_config", "load_config", "read_yaml"]


def _deep_merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``, section by section; a section naming another ``class_path``
    replaces the old one whole (its ``init_args`` belong to the old class), as in ``biosig fit``."""
    if _other_class(base, extra.get("class_path")):
        return dict(extra)
    out = dict(base)
    for k, v in extra.items():
        both = isinstance(v, dict) and isinstance(out.get(k), dict)
        out[k] = _deep_merge(out[k], v) if both else v
    return out


def _other_class(node: dict, class_path) -> bool:
    """Whether ``class_path`` names a class other than the section ``node``'s."""
    old = node.get("class_path")
    return class_path is not None and old is not None and class_path != old


def read_yaml(path: str | Path):
    """A YAML file's content; a syntax error is an :class:`InvalidFileError` naming the file and
    the line and column (yaml's own message names neither the file nor, in one line, the place)."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.MarkedYAMLError as err:
        def at(mark) -> str:
            return f"line {mark.line + 1}, column {mark.column + 1}"

        context = f" ({err.context} at {at(err.context_mark)})" if err.context_mark else ""
        where = f" at {at(err.problem_mark)}" if err.problem_mark else ""
        raise InvalidFileError(path, f"not valid YAML{where}: {err.problem}{context}") from None
    except yaml.YAMLError as err:
        raise InvalidFileError(path, f"not valid YAML: {' '.join(str(err).split())}") from None


#: The top-level keys of a config (those of ``biosig fit``, and ``experiment`` for ``biosig run``)
SECTIONS = ("seed_everything", "trainer", "model", "data", "optimizer", "lr_scheduler",
            "ckpt_path", "experiment")


def _check_section(key: str, where: str, options: tuple[str, ...] = ()) -> None:
    if key not in SECTIONS:
        from biosig._checks import did_you_mean

        hint = did_you_mean(key, [*SECTIONS, *options], cutoff=0.75, prefix="--")
        raise ConfigError(f"{where}: unknown key {key!r}{hint}; a config's keys are "
                          f"{list(SECTIONS)}")


def load_config(argv: list[str], options: tuple[str, ...] = ()) -> dict:
    """Merge ``--config`` files in order, then apply ``--a.b.c value`` overrides (YAML values).
    A top-level key outside :data:`SECTIONS` (a typo, ``--shard`` for ``--shards``) is a
    ConfigError naming the closest section or command option (``options``, without ``--``)."""
    import yaml

    cfg: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or i + 1 >= len(argv):
            raise ConfigError(f"expected '--config FILE' or '--key value', got {arg!r}")
        key, value = arg[2:], argv[i + 1]
        if key == "config":
            path = Path(value)
            if not path.is_file():
                raise ConfigError(f"config file {path} not found")
            loaded = read_yaml(path) or {}
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path}: a config must be a mapping of sections")
            for section in loaded:
                _check_section(section, str(path))
            cfg = _deep_merge(cfg, loaded)
        else:
            _check_section(key.split(".")[0], f"--{key}", (*options, "config"))
            node = cfg
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"--{key}: {p!r} is not a section")
            new = yaml.safe_load(value)
            if leaf == "class_path" and _other_class(node, new):  # the old class's arguments go
                node.pop("init_args", None)
            node[leaf] = new
        i += 2
    return cfg


def config_file_of(message: str, argv: list[str], last: bool = False) -> str:
    """``" (in FILE)"`` when the setting that an error ``message`` names (``key: expected T, got
    'v'``, ``key must be ..., got 'v'``, ``key: X takes no argument 'name'``, ``unknown setting
    'key'``) came from a ``--config`` file of ``argv`` (``--config FILE``, ``--config=FILE``,
    ``--key value``): the first source to set it to that value (``biosig fit`` parses them in
    order, so that one failed), or with ``last`` the last one to set it (``biosig run`` merges
    them); ``""`` when an option set it or no source is found."""
    import re

    got = re.fullmatch(r"([\w.]+)(?::| must) .*, got (.*)", message)
    named = re.fullmatch(r"([\w.]+): \w+ takes no argument '([^']+)'.*", message)
    unknown = re.fullmatch(r"unknown setting '([\w.]+)'.*", message)
    if not (got or named or unknown):
        return ""
    keys = (got[1].split(".") if got else unknown[1].split(".") if unknown
            else [*named[1].split("."), named[2]])
    named = named or unknown  # any value: the key alone is wrong
    found = ""
    for label, source, _ in config_sources(argv):
        sets, setting = yaml_setting(source, keys)
        if sets and (named or last or repr(str(setting)) == got[2]):
            found = f" (in {label})" if label else ""
            if not last:
                break
    return found


def config_sources(argv: list[str]) -> list[tuple[str, dict, int]]:
    """The settings of ``argv`` in order, each as ``(file, nested dict, end)``: a ``--config``
    file's YAML (``--config FILE`` or ``--config=FILE``; one that is not a file is skipped), or
    an option ``--a.b value`` as ``("", {"a": {"b": "value"}}, end)`` (the value as given);
    ``end``: the index in ``argv`` after the source."""
    sources = []
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            continue
        option, joined, value = arg.partition("=")
        if not joined:
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") \
                else None
        if option in ("--config", "-c"):
            if value is not None and Path(value).is_file():
                sources.append((value, read_yaml(value) or {}, i + 1 + (not joined)))
        elif option.startswith("--") and value is not None:
            node: dict = {}
            *parents, leaf = option[2:].split(".")
            tip = node
            for key in parents:
                tip = tip.setdefault(key, {})
            tip[leaf] = value
            sources.append(("", node, i + 1 + (not joined)))
    return sources


def yaml_setting(config, keys: list[str]) -> tuple[bool, object]:
    """Whether a parsed YAML config sets ``keys`` (each level read directly, under
    ``init_args``, or in any item of a list such as the preprocessing steps), and the value."""
    if not keys:
        return True, config
    if isinstance(config, list):
        return next((found for found in (yaml_setting(c, keys) for c in config) if found[0]),
                    (False, None))
    if isinstance(config, dict) and keys[0] not in config:
        config = config.get("init_args")
    if not isinstance(config, dict) or keys[0] not in config:
        return False, None
    return yaml_setting(config[keys[0]], keys[1:])


def no_such_argument(class_path: str, name: str) -> str:
    """``"X takes no argument 'name'"``, with the closest of X's arguments."""
    import importlib
    import inspect

    from biosig._checks import colon_without_space, did_you_mean

    module, _, cls_name = class_path.rpartition(".")
    text = f"{cls_name} takes no argument {name!r}{colon_without_space(name)}"
    try:
        params = inspect.signature(getattr(importlib.import_module(module), cls_name)).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return text
    return text + did_you_mean(name, [p for p in params if p not in ("args", "kwargs")], n=2,
                               cutoff=0.7)


def parser_error_line(message: str, parser) -> str:
    """jsonargparse's report of a wrong value (a tree of union subtypes, 8-18 lines) as one
    line: the key, the expected type and the value given; an unrecognised option with the
    closest known ones. Any other message is returned as it is."""
    import re

    from biosig._checks import colon_without_space, did_you_mean

    keys = re.findall(r'Parser key "([^"]+)"', message)
    nested = re.search(r"Problem with given class_path '([\w.]+)':\s*\n\s*(.+)", message)
    if keys and nested:  # a class's own parser reported first (its line is condensed already)
        inner = nested[2].strip()
        option = re.fullmatch(r"Option '([^']+)' is not accepted", inner)
        if option:
            return f"{keys[0]}: {no_such_argument(nested[1], option[1])}"
        return f"{keys[0]}.{inner}" if re.match(r"[\w.]+: expected ", inner) else message
    expected = [t for t in dict.fromkeys(re.findall(r"Expected a <class '([\w.]+)'>", message))
                if t != "NoneType"]
    given = re.findall(r"(?:Got value|Given value): (.*)", message)
    if keys and expected and given:
        value = given[0].strip()
        hint = colon_without_space(value) if value.startswith("{") else ""
        return f"{'.'.join(keys)}: expected {' or '.join(expected)}, got {value!r}{hint}"
    known = [o for o in getattr(parser, "_option_string_actions", {}) if o.startswith("--")]
    unknown = re.match(r"unrecognized arguments: (--[\w.-]+)", message, re.I)
    if unknown:
        return message + did_you_mean(unknown[1], known, n=2, cutoff=0.8)
    in_config = re.fullmatch(r"(Subcommand|Group) '(\w+)' does not accept option '([\w.]+)'",
                             message.strip())
    if in_config:  # a key of a config file that no option has
        key = in_config[3] if in_config[1] == "Subcommand" else f"{in_config[2]}.{in_config[3]}"
        return f"unknown setting {key!r}" + did_you_mean(
            key, [o.removeprefix("--") for o in known], n=2, cutoff=0.8)
    return message


def datamodule_from_config(data: dict):
    """A BiosigDataModule from a config's ``data:`` section (the LightningCLI form)."""
    from jsonargparse import ArgumentError, ArgumentParser

    from biosig.data.datamodule import BiosigDataModule

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(BiosigDataModule, "data", fail_untyped=False)
    try:  # checks every key and value against the signatures (nested class_path's too)
        cfg = parser.parse_object({"data": data})
    except ArgumentError as err:  # jsonargparse reports the offending key
        raise ConfigError(f"data section of the config: {parser_error_line(str(err), parser)}"
                          ) from err
    # what the classes raise while building (a missing file, a bad value) propagates unchanged
    return parser.instantiate_classes(cfg).data
