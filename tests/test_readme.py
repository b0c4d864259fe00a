"""The README: short, its links resolve, no speed claims, and its Python example runs."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_is_short():
    assert len(README) < 12_000, f"README.md has {len(README)} characters: move text into docs/"


def test_readme_has_the_two_commands():
    assert "./.ci/setup && .venv/bin/biosig demo" in README
    assert "./.ci/setup && .venv/bin/python -m pytest -q" in README


def test_readme_links_resolve():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into docs/"
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_readme_makes_no_speed_claims():
    """Speed figures live on docs/performance.md with their benchmark command and machine load."""
    ratios = re.findall(r"\b\d+(?:\.\d+)?\s?[x×](?!\s*\d)", README)
    seconds = re.findall(r"\b\d+(?:\.\d+)?\s?(?:s|ms|min) (?:per|a) (?:step|batch|epoch)", README)
    assert not ratios and not seconds, (ratios, seconds)


def _python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    return blocks[0]


def test_readme_python_example_uses_nothing_outside_the_clone():
    code = _python_example()
    assert "shared" not in code and "~/" not in code and "../" not in code


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    """Exactly the README's code, with 1 epoch instead of 5 (sizes are already tiny)."""
    code = _python_example()
    assert "max_epochs=5" in code
    monkeypatch.chdir(tmp_path)  # Lightning writes lightning_logs/ here
    namespace: dict = {}
    exec(compile(code.replace("max_epochs=5", "max_epochs=1"), "README.md", "exec"), namespace)
    metrics = namespace["trainer"].callback_metrics
    assert {"test_acc", "test_kappa"} <= set(metrics)


def _results_rows() -> list[tuple[str, str]]:
    """(model page, its "scored" and "baseline" cells) of the README's results table."""
    section = README.split("## Results on real recordings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| \[[^]]+\]\(([^)]+)\) \|[^|]+\|([^|]+\|[^|]+)\|$", section, flags=re.M)
    assert len(rows) >= 5, "the README's results table has a row per model"
    return rows


def _figures(text: str) -> set[str]:
    return set(re.findall(r"-?\d+(?:\.\d+)?", text.replace(",", "")))


def test_readme_results_are_the_model_pages_figures():
    """Every figure in the README's results table is on the model page it links to."""
    for page, cells in _results_rows():
        figures = _figures(cells)
        assert figures, cells
        missing = figures - _figures((REPO / page).read_text(encoding="utf-8"))
        assert not missing, f"{page} does not state {sorted(missing)} (README: {cells.strip()})"
