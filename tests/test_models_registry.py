"""Registry conventions (braindecode/timm style): every registered model has a case here,
builds from its signal kwargs, runs forward and backward on a small batch, documents its
parameter count and follows the naming conventions."""

import inspect
import re

import pytest
import torch

from biosig.models import create_model, list_models
from biosig.models._registry import _MODELS

# name -> (signal kwargs, input shape). Small shapes: the paper-size counts are asserted in
# each model's own test file (test_dbconformer.py, test_hveegnet.py, test_ecgnet.py, ...).
CASES = {
    "dbconformer": (dict(n_chans=4, n_outputs=2, n_times=250, sfreq=250.0), (2, 4, 250)),
    "hveegnet": (dict(n_chans=4, n_times=200, sfreq=250.0), (2, 4, 200)),
    "veegnet": (dict(n_chans=4, n_times=200, sfreq=250.0), (2, 4, 200)),
    "ecgnet": (dict(n_chans=12, n_outputs=12, n_times=100, sfreq=100.0, hidden_size=8), (2, 12, 100)),
    "cvd_cnn": (dict(n_chans=12, n_outputs=5, n_times=250, sfreq=100.0), (2, 12, 250)),
    **{name: (dict(n_chans=3, n_outputs=2, n_times=250, sfreq=250.0), (2, 3, 250))
       for name in ("eegformer", "eegformer_s", "eegformer_b", "eegformer_l")},
    "eegnet": (dict(n_chans=4, n_outputs=2, n_times=250), (2, 4, 250)),
    "eegconformer": (dict(n_chans=4, n_outputs=2, n_times=250), (2, 4, 250)),
    "shallowfbcspnet": (dict(n_chans=4, n_outputs=2, n_times=250), (2, 4, 250)),
}
OWN = ["dbconformer", "hveegnet", "veegnet", "ecgnet", "cvd_cnn", "eegformer"]


def test_every_registered_model_has_a_case():
    assert sorted(CASES) == list_models()


@pytest.mark.parametrize("name", sorted(CASES))
def test_builds_runs_and_backpropagates(name):
    torch.manual_seed(0)
    kwargs, shape = CASES[name]
    model = create_model(name, **kwargs)
    out = model(torch.randn(*shape))
    tensors = [t for t in (out if isinstance(out, (tuple, list)) else
                           getattr(out, "__dict__", {}).values() if not torch.is_tensor(out) else [out])
               if torch.is_tensor(t) and t.is_floating_point()]
    assert tensors and all(torch.isfinite(t).all() for t in tensors)
    sum(t.float().mean() for t in tensors).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", OWN)
def test_docstring_states_parameter_count_and_paper(name):
    doc = inspect.getdoc(_MODELS[name]) or ""
    assert re.search(r"param[^.]*?\d{1,3}(,\d{3})+", doc, re.I | re.S), f"{name}: no parameter count"
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
    with pytest.raises(KeyError, match="dbconformer"):
        create_model("nope")
