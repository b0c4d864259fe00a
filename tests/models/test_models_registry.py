"""Registry conventions (braindecode/timm style): every registered model has a case here,
builds from its signal kwargs, runs forward and backward on a small batch, documents its
parameter count and follows the naming conventions."""

import inspect
import re

import pytest
import torch

from biosig.errors import ConfigError
from biosig.models import create_model, list_models
from biosig.models._registry import _MODELS

# name -> (signal kwargs, input shape). Small shapes: the paper-size counts are asserted in
# each model's own test file (test_dbconformer.py, test_hveegnet.py, test_ecgnet.py, ...).
CASES = {
    "dbconformer": (dict(n_chans=4, n_outputs=2, n_times=250, sfreq=250.0), (2, 4, 250)),
    "dbconformer_loso": (dict(n_chans=4, n_outputs=2, n_times=250, sfreq=250.0), (2, 4, 250)),
    "hveegnet": (dict(n_chans=4, n_times=200, sfreq=250.0), (2, 4, 200)),
    "veegnet": (dict(n_chans=4, n_times=200, sfreq=250.0), (2, 4, 200)),
    "ecgnet": (dict(n_chans=12, n_outputs=12, n_times=100, sfreq=100.0, hidden_size=8),
               (2, 12, 100)),
    "ecgnet_critic": (dict(n_chans=12, n_times=100, sfreq=100.0, channels=(8,)), (2, 12, 100)),
    "cvd_cnn": (dict(n_chans=12, n_outputs=5, n_times=250, sfreq=100.0), (2, 12, 250)),
    **{name: (dict(n_chans=3, n_outputs=2, n_times=250, sfreq=250.0), (2, 3, 250))
       for name in ("eegformer", "eegformer_s", "eegformer_b", "eegformer_l")},
    "eegnet": (dict(n_chans=4, n_outputs=2, n_times=250), (2, 4, 250)),
    "eegconformer": (dict(n_chans=4, n_outputs=2, n_times=250), (2, 4, 250)),
    "shallowfbcspnet": (dict(n_chans=4, n_outputs=2, n_times=250), (2, 4, 250)),
    "ssmdp": (dict(n_chans=3, n_times=40, n_layers=2, d_model=8, d_state=4), (2, 3, 40)),
    "lft": (dict(n_chans=3, n_outputs=2, n_times=40, sfreq=10.0, n_layers=2, d_model=16,
                 n_classifier_blocks=1), (2, 2, 4, 3, 16)),  # input: SSMDP latent tokens
    "eegdm": (dict(n_chans=3, n_outputs=2, n_times=40, sfreq=10.0,
                   backbone=dict(n_layers=2, d_model=8, d_state=4), lft=dict(n_heads=2)),
              (2, 3, 40)),
}
# extra forward arguments (a denoiser also takes the diffusion step)
FORWARD_KWARGS = {"ssmdp": dict(t=1)}
OWN = ["dbconformer", "hveegnet", "veegnet", "ecgnet", "ecgnet_critic", "cvd_cnn", "ssmdp", "lft",
       "eegdm", "eegformer"]


def test_every_registered_model_has_a_case():
    assert sorted(CASES) == list_models()


def test_every_module_that_registers_a_model_is_imported_by_the_registry():
    """``biosig.models`` imports its model modules lazily, from ``MODEL_MODULES``: a model file
    missing from it would be absent from ``list_models`` (and from every test above)."""
    from pathlib import Path

    from biosig.models import MODEL_MODULES

    folder = Path(inspect.getfile(create_model)).parent
    registering = {p.stem for p in folder.glob("*.py")
                   if re.search(r"^@register_(model|variant)|^register_(model|variant)\(",
                                p.read_text(), re.M)}
    assert registering and registering == set(MODEL_MODULES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_builds_runs_and_backpropagates(name):
    torch.manual_seed(0)
    kwargs, shape = CASES[name]
    model = create_model(name, **kwargs)
    out = model(torch.randn(*shape), **FORWARD_KWARGS.get(name, {}))
    items = (out if isinstance(out, (tuple, list)) else
             getattr(out, "__dict__", {}).values() if not torch.is_tensor(out) else [out])
    tensors = [t for t in items if torch.is_tensor(t) and t.is_floating_point()]
    assert tensors and all(torch.isfinite(t).all() for t in tensors)
    sum(t.float().mean() for t in tensors).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", OWN)
def test_docstring_states_parameter_count_and_paper(name):
    doc = inspect.getdoc(_MODELS[name]) or ""
    has_count = re.search(r"param[^.]*?\d{1,3}(,\d{3})+", doc, re.I | re.S)
    assert has_count, f"{name}: no parameter count"
    assert re.search(r"arXiv|doi|\d{4}", doc), f"{name}: no reference"


@pytest.mark.parametrize("name", OWN)
def test_conventions(name):
    params = inspect.signature(_MODELS[name].__init__).parameters
    assert {"n_chans", "n_times"} <= set(params)
    assert "dropout" not in params and "in_chans" not in params
    for p in params.values():
        if p.name == "activation":
            assert inspect.isclass(p.default) and issubclass(p.default, torch.nn.Module)


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(ConfigError, match="dbconformer"):
        create_model("nope")


# -- summary table: paper settings, stated counts, README --------------------------------------
# Registered but not yet converted to the contract on this branch (ECGNet is split into a
# generator and a critic elsewhere); once one declares its paper settings, remove it here.
PENDING: set[str] = set()


@pytest.fixture(scope="module")
def summary():
    from biosig.models.summary import summary_rows

    torch.manual_seed(0)
    return {row["name"]: row for row in summary_rows()}


@pytest.mark.parametrize("name", list_models())
def test_paper_settings_give_the_stated_parameter_count(name, summary):
    row = summary[name]
    if name in PENDING:
        assert row["stated_n_params"] is None, f"{name} declares its count: drop it from PENDING"
        pytest.skip(f"{name} is not a BiosigModel on this branch yet")
    assert row["paper"] and row["task"], f"{name}: declare paper and task"
    assert row["settings"] is not None and row["stated_n_params"], f"{name}: declare paper_settings"
    assert row["n_params"] == row["stated_n_params"]


def test_variant_dbconformer_loso_is_depth_6():
    m = create_model("dbconformer_loso", n_chans=14, n_outputs=2, n_times=1251, sfreq=250.0)
    assert len(m.temporal.blocks) == len(m.spatial.blocks) == 6
    assert m.get_config()["name"] == "dbconformer_loso"
    assert len(create_model("dbconformer_loso", n_chans=3, n_outputs=2, n_times=250, sfreq=250.0,
                            depth=1).temporal.blocks) == 1  # arguments override the defaults


def test_readme_model_table_is_the_generated_one(summary):
    from pathlib import Path

    from biosig.models.summary import readme_table, summary_markdown

    readme = Path(__file__).resolve().parents[2] / "README.md"
    generated = summary_markdown(list(summary.values()))
    assert readme_table(readme.read_text(encoding="utf-8")) == generated, (
        "README model table is out of date: python -m biosig.models.summary --write README.md")


def test_building_a_baseline_prints_no_braindecode_montage_warning():
    """braindecode's EEGPT module warned twice (MNE's deprecated 'standard_1020' name) in every
    command that built a baseline; the filter is scoped to that import."""
    import subprocess
    import sys

    code = ("import warnings; warnings.simplefilter('always')\n"
            "from biosig.models import create_model\n"
            "create_model('eegnet', n_chans=4, n_outputs=2, n_times=256, sfreq=128.0)\n"
            "warnings.warn('still shown', FutureWarning)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "standard_1020" not in run.stderr and "still shown" in run.stderr
