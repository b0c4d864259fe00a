"""The import graph flows one way: no module imports a higher layer (parsed with ast, function-level
imports included), and the bottom layers never import torch or Lightning.

The layer order is written once, here. A module of a new top-level package fails the test until it
is given a layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "biosig"

#: Bottom to top. A module may import its own layer and the layers below it. Prefixes name
#: packages or modules; the longest matching prefix decides. Old paths kept as deprecation
#: aliases sit in the layer of their new home.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # exceptions, data locations, the deprecation helper, compiled kernels' loader, --help layout,
    # the root
    (
        "base",
        (
            "biosig",
            "biosig.errors",
            "biosig._checks",
            "biosig.paths",
            "biosig._deprecation",
            "biosig._torchaudio_fix",
            "biosig._threads",
            "biosig._native",
            "biosig._argparse",
        ),
    ),
    # signal building blocks: Recording, steps, windows, montages, ECG leads and delineation
    ("signal", ("biosig.signal", "biosig.ecg_leads")),
    # file formats -> Recording
    ("io", ("biosig.io",)),
    # what the files of each dataset are: index, labels, raw recordings, their standard steps
    ("datasets", ("biosig.datasets",)),
    # preprocessing pipelines, window cache, protocols, DataModule
    ("data", ("biosig.data",)),
    # networks, losses and metrics: never a dataset, a file format or the DataModule
    ("models", ("biosig.losses", "biosig.metrics", "biosig.models", "biosig.diffusion")),
    # figures and analyses of model outputs
    ("analysis", ("biosig.viz", "biosig.analysis", "biosig.anomaly", "biosig.ecg_analysis")),
    # LightningModules
    ("tasks", ("biosig.tasks",)),
    # Lightning callbacks and the experiment runner
    ("experiments", ("biosig.callbacks", "biosig.experiments")),
    # entry points
    ("entry", ("biosig.cli", "biosig.demo", "biosig.__main__")),
]
LEVEL = {name: i for i, (name, _) in enumerate(LAYERS)}

#: Packages a layer must not import although the order alone would allow it: the bottom stays
#: light and Lightning-free; a network, loss or metric never knows a file format, a dataset or the
#: DataModule (it sees tensors only).
_HEAVY = ("torch", "lightning", "pytorch_lightning")
FORBIDDEN = {
    "signal": _HEAVY,
    "io": _HEAVY,
    "datasets": _HEAVY,
    "models": ("biosig.io", "biosig.datasets", "biosig.data"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    best, layer = -1, None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            matches = module == prefix or (prefix != "biosig" and module.startswith(prefix + "."))
            if matches and len(prefix) > best:
                best, layer = len(prefix), name
    return layer


def imports_of(
    source: str, module: str, is_package: bool, known: set[str]
) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import in ``source`` (any depth in the tree)."""
    out = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # "from biosig import models" imports biosig.models
                sub = f"{target}.{alias.name}"
                out.append((node.lineno, sub if sub in known else target))
    return out


def scan(sources: dict[str, tuple[str, bool]]) -> tuple[list[str], list[str]]:
    """``(violations, unassigned modules)`` of ``{module: (source, is_package)}``."""
    known = set(sources)
    bad, unassigned = [], []
    for module, (source, is_package) in sorted(sources.items()):
        layer = layer_of(module)
        if layer is None:
            unassigned.append(module)
            continue
        for line, target in imports_of(source, module, is_package, known):
            if any(target == f or target.startswith(f + ".") for f in FORBIDDEN.get(layer, ())):
                bad.append(f"{module}:{line} ({layer}) imports {target}")
            elif target.split(".")[0] == "biosig":
                other = layer_of(target)
                if other is None:
                    unassigned.append(f"{target} (imported by {module})")
                elif LEVEL[other] > LEVEL[layer]:
                    bad.append(f"{module}:{line} ({layer}) imports {target} ({other})")
    return bad, unassigned


def package_sources() -> dict[str, tuple[str, bool]]:
    return {
        module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for p in sorted(ROOT.rglob("*.py"))
    }


def test_no_import_reaches_a_higher_layer():
    sources = package_sources()
    assert len(sources) > 50
    bad, unassigned = scan(sources)
    assert not unassigned, f"modules without a layer (add them to LAYERS): {unassigned}"
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_every_layer_is_populated():
    used = {layer_of(m) for m in package_sources()}
    assert {
        "base",
        "signal",
        "io",
        "datasets",
        "data",
        "models",
        "analysis",
        "tasks",
        "entry",
    } <= used


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "biosig.datasets.x",
            "def f():\n    from biosig.data.cache import get_cache\n",
            "biosig.datasets.x:2 (datasets) imports biosig.data.cache (data)",
        ),
        (
            "biosig.models.x",
            "import biosig.io.edf\n",
            "biosig.models.x:1 (models) imports biosig.io.edf",
        ),
        (
            "biosig.metrics.x",
            "from biosig.data import WindowCache\n",
            "biosig.metrics.x:1 (models) imports biosig.data",
        ),
        (
            "biosig.signal.x",
            "from .. import tasks\n",
            "biosig.signal.x:1 (signal) imports biosig.tasks (tasks)",
        ),
        (
            "biosig.datasets.x",
            "import lightning.pytorch as pl\n",
            "biosig.datasets.x:1 (datasets) imports lightning.pytorch",
        ),
    ],
)
def test_scan_catches_upward_and_forbidden_imports(module, source, expected):
    sources = {module: (source, False), "biosig.tasks": ("", True)}
    bad, _ = scan(sources)
    assert bad == [expected]


def test_scan_allows_downward_and_reports_unassigned():
    sources = {
        "biosig.tasks.x": ("from biosig.signal.windows import EventWindows\nimport numpy\n", False),
        "biosig.newpkg": ("", True),
    }
    bad, unassigned = scan(sources)
    assert bad == [] and unassigned == ["biosig.newpkg"]


MOVED = [
    ("biosig.io.recording", "Recording", "biosig.signal.recording"),
    ("biosig.data.preprocessing", "Bandpass", "biosig.signal.preprocessing"),
    ("biosig.data.windows", "EventWindows", "biosig.signal.windows"),
    ("biosig.datasets.montages", "apply_bipolar", "biosig.signal.montages"),
    ("biosig.ecg_leads", "einthoven_residual", "biosig.signal.ecg_leads"),
    ("biosig.anomaly", "score_trials", "biosig.analysis.anomaly"),
    ("biosig.anomaly", "plot_worst_trials", "biosig.viz.reconstruction"),
    ("biosig.ecg_analysis", "evaluation_report", "biosig.analysis.ecg"),
    ("biosig.ecg_analysis", "ECGAnnotationChannels", "biosig.signal.ecg_delineation"),
    ("biosig.datasets.bciiv2a", "read_true_labels", "biosig.io.bnci"),
    ("biosig.datasets.tuev", "read_rec", "biosig.io.rec"),
    ("biosig.data.paper_splits", "with_trial_index", "biosig.data.protocols"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_moved_names_import_from_the_old_path_with_a_warning(old, name, new):
    import importlib

    module = importlib.import_module(old)
    with pytest.warns(FutureWarning, match=f"{old}.{name} moved to {new}.{name}"):
        obj = getattr(module, name)
    assert obj is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018 (the access itself must raise)


def test_removed_paper_split_functions_name_their_replacement():
    from biosig.data import paper_splits

    with pytest.raises(AttributeError, match=r"paper_protocol\('co'\)\.folds"):
        paper_splits.chronological_split  # noqa: B018 (the access itself must raise)
    with pytest.raises(AttributeError, match="alignment='ea'"):
        paper_splits.align_split  # noqa: B018


def _code_outside_tests():
    """``(path, source)`` of the package, recipes, benchmarks, docs scripts and notebook cells."""
    import json

    repo = ROOT.parent
    for folder in ("biosig", "recipes", "benchmarks", "docs"):
        for path in sorted((repo / folder).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")
    for path in sorted((repo / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                yield path, "\n".join(x for x in lines if not x.lstrip().startswith(("%", "!")))


def test_no_code_imports_a_moved_name_from_its_old_path():
    """The old paths warn (FutureWarning) and will go: recipes, benchmarks, notebooks and the
    package itself import from the new homes (a benchmark still used one)."""
    import importlib

    old_modules = {old for old, _, _ in MOVED}
    bad = []
    for path, text in _code_outside_tests():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module in old_modules:
                own = vars(importlib.import_module(node.module))
                bad += [f"{path.relative_to(ROOT.parent)}:{node.lineno}: {node.module}.{a.name}"
                        for a in node.names if a.name not in own]
    assert not bad, "\n".join(bad)
