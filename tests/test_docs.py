"""The documentation site builds offline in strict mode and has every generated page.

CI installs the `docs` extra (.ci/setup), so there the build always runs; elsewhere, without
mkdocs installed, the build test is skipped with the install command as its reason.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python",
                 "mkdocs_jupyter")


def _missing_docs_packages() -> list[str]:
    missing = []
    for name in DOCS_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def _nav_pages(nav) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_written_nav_page_exists():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = _nav_pages(config["nav"])
    assert len(pages) >= 20
    missing = [p for p in pages if not (REPO / "docs" / p).is_file()]
    assert not missing, missing


def test_docs_name_the_real_default_cache_folder_and_no_internal_paths():
    """Window caches live in BIOSIG_CACHE, default ~/biosig_data/cache (biosig.paths); only the
    native build cache (BIOSIG_BUILD_DIR) is under ~/.cache/biosig. No developer-machine path."""
    wrong = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stale_cache = "~/.cache/biosig" in line and "~/.cache/biosig/build" not in line
            if stale_cache or "/work/" in line or "_notes/" in line:
                wrong.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not wrong, "\n".join(wrong)


def test_model_pages_have_their_figure():
    for page in ("dbconformer", "hveegnet", "eegformer", "eegdm", "ecgnet"):
        text = (REPO / "docs" / "models" / f"{page}.md").read_text(encoding="utf-8")
        assert f"../img/{page}.png" in text and "## Results on real data" in text
        assert (REPO / "docs" / "img" / f"{page}.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = _missing_docs_packages()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the docs extra (pip install -e '.[docs]'): {missing}")
        pytest.skip(f"docs packages not installed ({missing}): pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"),
         "-d", str(out)], capture_output=True, text=True, cwd=out.parent, env=env, timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "WARNING" not in log, log[-4000:]
    return out


@pytest.mark.docs
def test_site_builds_strict_with_every_generated_page(site):
    cards = sorted(p.stem for p in (REPO / "datasets").glob("*.md"))
    notebooks = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
    packages = sorted(p.name for p in (REPO / "biosig").iterdir()
                      if (p / "__init__.py").is_file() and not p.name.startswith("_"))
    assert cards and notebooks and packages
    for name in cards:
        assert (site / "datasets" / f"{name}.html").is_file(), name
    for name in notebooks:
        page = (site / "notebooks" / f"{name}.html").read_text(encoding="utf-8")
        cells = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        figures = sum("image/png" in out.get("data", {}) for cell in cells["cells"]
                      for out in cell.get("outputs", []))
        assert page.count("data:image/png") >= figures, f"{name}: committed figures not shown"
    for name in packages:
        page = (site / "api" / f"{name}.html").read_text(encoding="utf-8")
        assert "doc-heading" in page, f"api/{name}: no object rendered"


@pytest.mark.docs
def test_model_zoo_lists_every_registered_model(site):
    from biosig.models import list_models

    zoo = (site / "models" / "index.html").read_text(encoding="utf-8")
    for name in list_models():
        assert f"<code>{name}</code>" in zoo, name


def test_prose_after_parameters_becomes_notes():
    if _missing_docs_packages() and not os.environ.get("CI"):
        pytest.skip("docs packages not installed: pip install -e '.[docs]'")
    spec = importlib.util.spec_from_file_location("griffe_notes",
                                                  REPO / "docs/hooks/griffe_notes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = ("Summary.\n\nParameters\n----------\nx, y,\nz : inputs.\n    More on them.\n"
           "lr : rate.\n\nLogs ``loss`` per step.\n\nReturns\n-------\nout : tensor.")
    fixed = module.with_notes(doc)
    assert fixed.split("\n")[8:12] == ["", "Notes", "-----", "Logs ``loss`` per step."]
    assert fixed.replace("\nNotes\n-----", "", 1) == doc
    clean = "Parameters\n----------\na : b.\n\nNotes\n-----\nText."
    assert module.with_notes(clean) == clean
    assert (module.plain_roles("see :class:`~biosig.data.BiosigDataModule` and :func:`f.g`")
            == "see `BiosigDataModule` and `f.g`")


@pytest.mark.parametrize("page, which", [
    ("models/dbconformer.md", 0), ("models/hveegnet.md", 0), ("models/ecgnet.md", 0),
    ("models/index.md", 0), ("models/eegformer.md", 0),
    ("models/dbconformer.md", "class_mean_attention"),
    ("models/eegdm.md", "latent_cache"), ("models/eegdm.md", "DiffusionTask("),
    ("guide/protocols.md", "GroupKFold"),
    ("guide/protocols.md", "EuclideanAlignment")])
def test_a_docs_code_block_runs_as_copied(page, which, tmp_path):
    """These Python blocks (a page's first, or the one using a given name) stand alone: copied
    into a fresh interpreter in an empty folder they run (some used names such as ``x``,
    ``meta`` or ``ssmdp`` they never defined)."""
    import re

    text = (REPO / "docs" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    block = blocks[which] if isinstance(which, int) else next(b for b in blocks if which in b)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "BIOSIG_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_ecgnet_page_turns_ones_own_lead_into_12_leads_as_copied(tmp_path):
    """The block using the weights recipes/ptbxl/ecgnet.py saves runs as copied beside the two
    files it names: the weights folder (here an untrained generator at 100 Hz) and a one-lead
    WFDB record (a simulated lead II at 500 Hz, so the block's resampling is exercised)."""
    import re

    import numpy as np

    from biosig.datasets.synthetic import simulate_ecg_record
    from biosig.io import read_recording, read_wfdb, write_wfdb
    from biosig.models.ecgnet import ECGNet
    from biosig.signal.ecg_leads import LEADS
    from biosig.signal.preprocessing import Bandpass, Resample, apply_steps

    text = (REPO / "docs" / "models" / "ecgnet.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S)
                 if "generate_recording" in b)
    ECGNet(sfreq=100.0, hidden_size=4).save_pretrained(
        tmp_path / "biosig_out" / "ptbxl_ecgnet_eval" / "weights")
    write_wfdb(tmp_path, "my_ecg", simulate_ecg_record(sfreq=500.0).pick(["II"]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "BIOSIG_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = read_wfdb(tmp_path / "generated" / "my_ecg_12lead")
    assert out.ch_names == list(LEADS) and out.sfreq == 100.0 and out.data.shape == (12, 1000)
    lead = apply_steps(read_recording(tmp_path / "my_ecg.hea"), [Resample(100.0),
                                                                  Bandpass(low=0.5)])
    np.testing.assert_allclose(out.data[1], lead.data[0], atol=1e-3)  # the input, passed through


def test_ecgnet_page_scores_ones_own_ecg_with_the_cvd_cnn_as_copied(tmp_path):
    """The block using the weights recipes/ptbxl/cvd_cnn.py saves runs as copied beside the
    two files it names: the weights folder (an untrained CVD CNN whose card is the recipe's:
    PTB-XL's classes and leads at 100 Hz) and a 12-lead WFDB record at 500 Hz, 25 s (its leads
    reversed: found by name; resampled; two windows and an unscored tail)."""
    import re

    import pandas as pd

    from biosig.datasets.synthetic import simulate_ecg_record
    from biosig.io import write_wfdb
    from biosig.models.cvd_cnn import CVDCNN
    from biosig.signal import Resample, steps_params
    from biosig.signal.ecg_leads import LEADS

    text = (REPO / "docs" / "models" / "ecgnet.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S)
                 if "cvd_probabilities" in b)
    classes = ["NORM", "MI", "STTC", "CD", "HYP"]
    CVDCNN(sfreq=100.0, n_times=1000, channels=(4,)).save_pretrained(
        tmp_path / "biosig_out" / "ptbxl_cvd_cnn_eval" / "weights",
        data={"ch_names": list(LEADS), "classes": classes, "preprocessing": {
            "steps": steps_params([Resample(100.0)]), "alignment": None}})
    rec = simulate_ecg_record(duration=25.0, sfreq=500.0)
    write_wfdb(tmp_path, "my_ecg", rec.pick(list(reversed(LEADS))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    probs = pd.read_csv(tmp_path / "my_ecg_cvd.csv", index_col=0)
    assert list(probs.columns) == ["start_s", "stop_s", *classes]
    assert list(probs.index) == ["0", "1", "record"] and probs.loc["record", "stop_s"] == 20.0
