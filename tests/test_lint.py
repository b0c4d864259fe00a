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
