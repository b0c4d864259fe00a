"""Every notebook in notebooks/ executes top to bottom (small settings) and draws its figures, and
is committed executed: outputs present (rendered by GitHub and the docs), PNG figures, no error,
small on disk."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MAX_BYTES = 1_000_000


def _images(nb) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )


def _errors(nb) -> list:
    return [
        o
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {
        "datasets",
        "dbconformer",
        "ecgnet",
        "eegformer",
        "hveegnet",
    }


def test_every_notebook_is_listed_on_the_examples_page():
    page = (NOTEBOOKS[0].parents[1] / "docs" / "examples" / "index.md").read_text()
    missing = [p.name for p in NOTEBOOKS if f"(../notebooks/{p.name})" not in page]
    assert not missing, f"docs/examples/index.md does not link {missing}"
    assert "tests/notebooks/test_notebooks.py" in page  # the page names this file


def _machine_paths(nb) -> list:
    """Output lines naming a path of the machine that executed the notebook: a library's
    warning names its site-packages (Lightning's notices, a missing ipywidgets)."""
    text = (o.get("text", "") for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []))
    lines = (line for t in text for line in ("".join(t) if isinstance(t, list) else t).split("\n"))
    return [line for line in lines if "site-packages" in line or "/work/" in line]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_executed_with_figures(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes"
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), f"{path.name}: a cell was not executed"
    counts = [c["execution_count"] for c in code]
    assert counts == sorted(counts), f"{path.name}: cells were run out of order"
    assert not _errors(nb)
    assert _images(nb) >= 1, f"{path.name}: no figure in the committed outputs"
    for c in code:  # figures as PNG, never Agg's silent nothing or an SVG blob
        for o in c.get("outputs", []):
            assert "image/svg+xml" not in o.get("data", {})
    text = path.read_text()
    assert 'matplotlib.use("Agg")' not in text and "matplotlib.use('Agg')" not in text
    assert not _machine_paths(nb), f"{path.name}: {_machine_paths(nb)}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_draws_its_figures(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws PNGs
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert not _errors(nb)
    assert not _machine_paths(nb), f"{path.name} printed {_machine_paths(nb)}"
    assert _images(nb) >= 1, f"{path.name}: executed, but no figure was drawn"
