"""The model contract, for every registered model: built through the registry at small sizes,
forward, config round trip, weights saved and reloaded with the card (identical outputs in eval
mode), a mismatched sampling rate or channel set refused, reset_head, shape errors."""

from __future__ import annotations

import pytest
import torch

from biosig.signal.ecg_leads import LEADS
from biosig.errors import ConfigError, ShapeError
from biosig.models import create_model, list_models, load_pretrained
from biosig.models._registry import model_class
from biosig.models.base import BiosigModel

# name -> (extra kwargs, n_chans); channels are named so the card holds a channel list.
CASES = {
    "dbconformer": (dict(n_outputs=2, n_times=250, sfreq=250.0, depth=1), 3),
    "dbconformer_loso": (dict(n_outputs=2, n_times=250, sfreq=250.0), 3),
    "hveegnet": (dict(n_times=100, sfreq=100.0), 3),
    "veegnet": (dict(n_times=100, sfreq=100.0), 3),
    "cvd_cnn": (dict(n_outputs=5, n_times=200, sfreq=100.0, channels=(8, 8)), 12),
    "eegnet": (dict(n_outputs=2, n_times=128, sfreq=128.0), 3),
    "eegconformer": (dict(n_outputs=2, n_times=250, sfreq=250.0), 3),
    "shallowfbcspnet": (dict(n_outputs=2, n_times=250, sfreq=250.0), 3),
    "ecgnet": (dict(n_times=50, sfreq=100.0, hidden_size=4), 12),
    "ecgnet_critic": (dict(n_times=50, sfreq=100.0, channels=(4,)), 12),
    "eegdm": (dict(n_outputs=2, n_times=40, sfreq=10.0, lft=dict(n_heads=2),
                   backbone=dict(n_layers=2, d_model=8, d_state=4)), 3),
    **{name: (dict(n_outputs=2, n_times=250, sfreq=250.0, emb_size=16, n_heads=2,
                   encoder_depth=1, decoder_depth=1, n_codes=8, patch_len=20, patch_stride=10), 3)
       for name in ("eegformer", "eegformer_s", "eegformer_b", "eegformer_l")},
}
# BiosigModels whose forward is not windows -> outputs; their own tests check the same points
# (tests/test_eegdm_ssmdp.py, tests/test_eegdm_lft.py).
NOT_WINDOWS = {"ssmdp": "denoiser: forward(x, t)", "lft": "input: SSMDP latent tokens"}
# Registered here but not converted to the contract yet; once one is a BiosigModel it needs a
# case above.
PENDING: set[str] = set()
# Models that name their channels themselves (ECGNet: the 12 leads in the standard order).
OWN_NAMES = {"ecgnet": LEADS, "ecgnet_critic": LEADS}
# Heads whose size the model fixes (ECGNet always outputs the 12 leads).
FIXED_HEAD = {"ecgnet"}
# Kernels or patches follow the sampling rate: no rate may be assumed.
NEEDS_SFREQ = ["dbconformer", "dbconformer_loso", "hveegnet", "veegnet"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def test_every_registered_model_has_a_case():
    registered = set(list_models())
    pending = registered & PENDING
    for name in pending:
        assert not issubclass(model_class(name), BiosigModel), (
            f"{name} follows the contract now: give it a case in CASES")
    assert registered - pending - set(NOT_WINDOWS) == set(CASES)


def _names(name):
    return list(OWN_NAMES.get(name, [f"E{i}" for i in range(CASES[name][1])]))


def _build(name, **override):
    kwargs, _ = CASES[name]
    torch.manual_seed(0)
    chs = [{"ch_name": c} for c in _names(name)]
    return create_model(name, **{"chs_info": chs, **kwargs, **override})


def _input(model, extra_chans=0):
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, model.n_chans + extra_chans, model.n_times or 200, generator=g)


def _outputs(model, x):
    """Every floating tensor of the forward pass (VAEs sample: same seed each call)."""
    torch.manual_seed(123)
    with torch.no_grad():
        out = model(x)
    if torch.is_tensor(out):
        return [out]
    items = out if isinstance(out, (tuple, list)) else vars(out).values()
    flat = []
    for item in items:
        flat += [t for t in (item if isinstance(item, list) else [item]) if torch.is_tensor(t)]
    return flat


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract_forward_features_head_and_config(name):
    model = _build(name).eval()
    assert isinstance(model, BiosigModel)
    assert model.ch_names == _names(name)
    x = _input(model)
    outs = _outputs(model, x)
    assert outs and all(torch.isfinite(t).all() for t in outs)
    with torch.no_grad():
        feats = model.forward_features(x)
        if torch.is_tensor(model(x)):  # classifiers: forward = head(features)
            torch.testing.assert_close(model.forward_head(feats), model(x))
    config = model.get_config()
    assert config["name"] == name
    rebuilt = BiosigModel.from_config(config)
    assert type(rebuilt) is type(model) and rebuilt.get_config() == config
    rebuilt.load_state_dict(model.state_dict())
    for a, b in zip(_outputs(model, x), _outputs(rebuilt.eval(), x)):
        assert torch.equal(a, b)
    if model.channel_independent:  # any channel count by design (EEGFormer)
        assert _outputs(model, _input(model, extra_chans=1))[0].shape[0] == x.shape[0]
    else:
        with pytest.raises(ShapeError):
            model(_input(model, extra_chans=1))
    if not model.channel_independent:  # EEGFormer converts its input to float32 itself
        with pytest.raises(ShapeError, match=r"expects torch.float32 input.*got torch.float64"):
            model(x.double())  # torch.from_numpy's default: one clear line, not torch's error


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_round_trip_and_refusals(name, tmp_path):
    model = _build(name).eval()
    folder = model.save_pretrained(tmp_path / name, metrics={"note": "untrained"})
    loaded = type(model).from_pretrained(folder, data={"sfreq": model.sfreq,
                                                       "ch_names": model.ch_names})
    assert loaded.get_config() == model.get_config()
    x = _input(model)
    for a, b in zip(_outputs(model, x), _outputs(loaded, x), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="sfreq"):
        load_pretrained(folder, data={"sfreq": 2 * model.sfreq})
    other = model.ch_names[:-1] + ["Pz"]
    if type(model).adapts_channels(model.get_config()["kwargs"]):  # shared over channels
        with pytest.raises(ConfigError, match="ch_names"):
            load_pretrained(folder, data={"ch_names": other})
        assert load_pretrained(folder, data={"ch_names": other}, adapt=True).ch_names == other
    else:
        with pytest.raises(ConfigError, match="ch_names"):
            load_pretrained(folder, data={"ch_names": other}, adapt=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reset_head_changes_n_outputs(name):
    model = _build(name).eval()
    if name in FIXED_HEAD:
        with pytest.raises(ConfigError):
            model.reset_head(3)
        return
    model.reset_head(3)
    assert model.n_outputs == 3 and model.get_config()["kwargs"]["n_outputs"] == 3
    with torch.no_grad():
        assert model.forward_head(model.forward_features(_input(model))).shape == (2, 3)
    rebuilt = BiosigModel.from_config(model.get_config())
    rebuilt.load_state_dict(model.state_dict())  # the config describes the new head


@pytest.mark.parametrize("name", NEEDS_SFREQ)
def test_no_sampling_rate_is_assumed(name):
    with pytest.raises(ConfigError, match="sfreq"):
        _build(name, sfreq=None)
