"""MkDocs hooks: the pages that come from the repository instead of being written twice.

- ``datasets/<name>.md``: the dataset cards in ``datasets/`` (the same files the loaders cite);
- ``notebooks/<name>.ipynb``: the notebooks as they are on disk (with the outputs they were
  committed with; rendered by mkdocs-jupyter, never executed here);
- ``api/<package>.md``: one reference page per package, every public module, from docstrings;
- the model zoo table: ``<!-- biosig:model-table -->`` becomes
  ``biosig.models.summary.summary_markdown()``, the table the README holds between its markers;
  ``<!-- biosig:model-table dbconformer dbconformer_loso -->`` gives those rows only (model pages).

The generated pages are appended to the nav sections named in ``GENERATED_SECTIONS``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parents[2]
MODEL_TABLE = re.compile(r"<!-- biosig:model-table((?: [\w-]+)*) -->")
GENERATED_SECTIONS = {"Datasets": "datasets", "Examples": "notebooks", "API reference": "api"}
# top-level modules of biosig documented on api/biosig.md (the others are old import paths)
TOP_LEVEL = ("errors", "paths", "diffusion", "callbacks", "cli", "demo")


def _is_shim(path: Path) -> bool:
    """An old import path kept for compatibility: it only re-exports, with a FutureWarning."""
    text = path.read_text(encoding="utf-8")
    defined = set(re.findall(r"^(?:async def|def|class) (\w+)", text, flags=re.M))
    return "_deprecation" in text and defined <= {"__getattr__"}


def dataset_cards() -> dict[str, Path]:
    return {f"datasets/{p.stem}.md": p for p in sorted((REPO / "datasets").glob("*.md"))}


def notebooks() -> dict[str, Path]:
    return {f"notebooks/{p.name}": p for p in sorted((REPO / "notebooks").glob("*.ipynb"))}


def api_pages() -> dict[str, str]:
    """``api/<package>.md`` -> its markdown: the package docstring, then each public module."""
    pages = {}
    top = [f"biosig.{m}" for m in TOP_LEVEL if (REPO / "biosig" / f"{m}.py").is_file()]
    pages["api/biosig.md"] = _api_markdown("biosig", top)
    for pkg in sorted(p for p in (REPO / "biosig").iterdir() if (p / "__init__.py").is_file()):
        if pkg.name.startswith("_"):
            continue
        modules = []
        for path in sorted(pkg.rglob("*.py")):
            rel = path.relative_to(REPO / "biosig").with_suffix("")
            if any(part.startswith("_") for part in rel.parts) or _is_shim(path):
                continue
            modules.append("biosig." + ".".join(rel.parts))
        pages[f"api/{pkg.name}.md"] = _api_markdown(f"biosig.{pkg.name}", modules)
    return pages


def _api_markdown(package: str, modules: list[str]) -> str:
    lines = [f"# `{package}`", ""]
    if package != "biosig":
        lines += [f"::: {package}", "    options:", "      members: false",
                  "      show_root_heading: false", ""]
    else:
        lines += ["Top-level modules; the packages have their own pages.", ""]
    for module in modules:
        lines += [f"::: {module}", ""]
    return "\n".join(lines)


def _generated() -> dict[str, Path | str]:
    return {**dataset_cards(), **notebooks(), **api_pages()}


def on_config(config, **kwargs):
    """Append the generated pages to their nav sections (so a new card or notebook appears)."""
    generated = sorted(_generated())
    for entry in config["nav"] or []:
        if not isinstance(entry, dict):
            continue
        for title, children in entry.items():
            folder = GENERATED_SECTIONS.get(title)
            if folder is None:
                continue
            listed = {c if isinstance(c, str) else next(iter(c.values())) for c in children}
            children.extend(p for p in generated
                            if p.startswith(folder + "/") and p not in listed)
    return config


@event_priority(100)  # before mkdocs-jupyter looks for notebooks
def on_files(files, config, **kwargs):
    for uri, source in _generated().items():
        if uri.startswith("notebooks/"):
            # a real file under the repository root: mkdocs-jupyter's wrapper needs its src_dir
            file = File(uri, src_dir=str(REPO), dest_dir=config["site_dir"],
                        use_directory_urls=config["use_directory_urls"])
        elif isinstance(source, Path):
            file = File.generated(config, uri, abs_src_path=str(source))
        else:
            file = File.generated(config, uri, content=source)
        files.append(file)
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    if MODEL_TABLE.search(markdown):
        markdown = MODEL_TABLE.sub(lambda m: model_table(m.group(1).split()), markdown)
    return markdown


_ROWS: list[dict] = []


def model_table(names: list[str]) -> str:
    """The registry's summary table, all rows or the named ones (an unknown name is an error)."""
    from biosig.errors import ConfigError
    from biosig.models.summary import summary_markdown, summary_rows

    if not _ROWS:
        _ROWS.extend(summary_rows())
    rows = _ROWS
    if names:
        by_name = {row["name"]: row for row in _ROWS}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(f"docs: model-table marker names unregistered models {unknown}")
        rows = [by_name[n] for n in names]
    return summary_markdown(rows)
