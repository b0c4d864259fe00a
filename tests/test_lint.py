"""The linter (ruff, 100 columns, rules in pyproject.toml) passes on the whole repository."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_check_passes():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: it is a dev dependency (pip install -e '.[dev]')")
    proc = subprocess.run([ruff, "check", "--no-cache", "."], cwd=REPO, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_every_argparse_parser_refuses_abbreviated_options():
    """argparse takes ``--rep 3`` for ``--repeats 3`` unless told not to: a typo then silently
    sets another option. Every parser of the package, recipes, benchmarks and tools refuses it."""
    import ast

    missing = []
    for folder in ("biosig", "recipes", "benchmarks", "tests", "docs"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "ArgumentParser"
                        and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "argparse"):
                    ok = any(k.arg == "allow_abbrev" and isinstance(k.value, ast.Constant)
                             and k.value.value is False for k in node.keywords)
                    if not ok:
                        missing.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not missing, f"argparse.ArgumentParser without allow_abbrev=False: {missing}"


def _imported_from_biosig(tree) -> dict:
    """Local name -> ``(module, name)`` of the script's ``from biosig... import name`` lines."""
    import ast

    return {a.asname or a.name: (n.module, a.name) for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("biosig")
            for a in n.names}


def _option_problems(calls, where: str) -> list[str]:
    """``add_argument`` calls without a help text, or with a hand-written ``%(default)s``."""
    import ast

    problems = []
    for call in calls:
        name = next((a.value for a in call.args if isinstance(a, ast.Constant)), "?")
        if any(k.arg is None for k in call.keywords):  # **kwargs: cannot tell
            continue
        text = next((k.value for k in call.keywords if k.arg == "help"), None)
        if text is None or (isinstance(text, ast.Constant) and not str(text.value).strip()):
            problems.append(f"{where}:{call.lineno} {name}: no help text")
        elif isinstance(text, ast.Constant) and "%(default)" in str(text.value):
            problems.append(f"{where}:{call.lineno} {name}: '%(default)' written by hand (the "
                            "formatter appends the default)")
    return problems


def _add_argument_calls(tree) -> list:
    import ast

    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.func.attr == "add_argument"]


def _parser_calls(tree, module: str | None = None) -> list:
    """``X.ArgumentParser(...)`` (with ``module``: only ``module.ArgumentParser``, not e.g.
    jsonargparse's) and ``subparsers.add_parser(...)`` calls in ``tree``."""
    import ast

    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and (n.func.attr == "add_parser" or (
                n.func.attr == "ArgumentParser" and (module is None or (
                    isinstance(n.func.value, ast.Name) and n.func.value.id == module))))]


def _formatter_problems(parsers, imported: dict, where: str) -> list[str]:
    """``ArgumentParser``/``add_parser`` calls without ``formatter_class=HelpFormatter`` imported
    from :mod:`biosig._argparse`."""
    import ast

    problems = []
    for call in parsers:
        fmt = next((k.value for k in call.keywords if k.arg == "formatter_class"), None)
        ok = (isinstance(fmt, ast.Name)
              and imported.get(fmt.id) == ("biosig._argparse", "HelpFormatter"))
        if not ok:
            name = getattr(call.func, "attr", None) or getattr(call.func, "id", "?")
            problems.append(f"{where}:{call.lineno}: {name} without "
                            "formatter_class=HelpFormatter (from biosig._argparse)")
    return problems


def test_recipe_options_say_what_they_are_and_show_their_defaults():
    """``python recipes/<x>/<y>.py --help`` listed options with no text and no default. Every
    recipe parser uses :class:`biosig._argparse.HelpFormatter` (which appends ``(default:
    ...)``, but only to options that have a help text), and every option it gets, also from a
    ``biosig`` helper the script calls (``add_protocol_arguments``), has a help text."""
    import ast

    problems, scripts = [], []
    for path in sorted((REPO / "recipes").rglob("*.py")):
        rel = str(path.relative_to(REPO))
        tree = ast.parse(path.read_text(), rel)
        parsers = _parser_calls(tree)
        if not parsers:
            continue
        scripts.append(rel)
        imported = _imported_from_biosig(tree)
        problems += _formatter_problems(parsers, imported, rel)
        problems += _option_problems(_add_argument_calls(tree), rel)
        # options added by a biosig function the script calls (one level deep)
        called = {n.func.id for n in ast.walk(tree)
                  if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        for local in sorted(called & set(imported)):
            module, name = imported[local]
            source = REPO.joinpath(*module.split(".")).with_suffix(".py")
            if not source.is_file():
                source = REPO.joinpath(*module.split("."), "__init__.py")
            if not source.is_file():
                continue
            mod_rel = str(source.relative_to(REPO))
            for fn in ast.walk(ast.parse(source.read_text(), mod_rel)):
                if isinstance(fn, ast.FunctionDef) and fn.name == name:
                    problems += _option_problems(_add_argument_calls(fn), mod_rel)
    assert scripts, "no recipe script builds an argparse parser: the check found nothing"
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_biosig_command_options_say_what_they_are_and_show_their_defaults():
    """The same for the parsers of the package itself (``biosig demo``, ``biosig generate``,
    ``biosig cache verify|build``, ``python -m biosig.models.summary``): every
    ``argparse.ArgumentParser`` and subparser under ``biosig/`` uses ``HelpFormatter`` and every
    option of the module has a help text without a hand-written ``%(default)``. LightningCLI's
    parser (jsonargparse) is Lightning's; ``biosig.data.recipe_config``'s jsonargparse parser
    only checks a config's ``data:`` section and prints no help."""
    import ast

    problems, modules = [], []
    for path in sorted((REPO / "biosig").rglob("*.py")):
        rel = str(path.relative_to(REPO))
        tree = ast.parse(path.read_text(), rel)
        imported = _imported_from_biosig(tree)
        parsers = _parser_calls(tree, "argparse") + [  # biosig._argparse's (suggests options)
            n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            and imported.get(n.func.id) == ("biosig._argparse", "ArgumentParser")]
        if not parsers:
            continue
        modules.append(rel)
        problems += _formatter_problems(parsers, imported, rel)
        problems += _option_problems(_add_argument_calls(tree), rel)
    for expected in ("biosig/demo.py", "biosig/analysis/generate.py", "biosig/data/cache.py",
                     "biosig/models/summary.py"):
        assert expected in modules, f"{expected}: no argparse parser found (moved? update the test)"
    assert not problems, "\n".join(dict.fromkeys(problems))
