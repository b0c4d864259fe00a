"""ECGNet generator / critic: shapes, pass-through, Einthoven by construction, sizes, contract."""

import numpy as np
import pytest
import torch

from biosig.signal.ecg_leads import LEADS, einthoven_residual, limb_leads_from
from biosig.errors import ChannelError, ConfigError, ShapeError
from biosig.models import count_parameters, create_model
from biosig.models.ecgnet import ECGNet, ECGNetCritic, assemble_12_leads


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def _small(**kw):
    kw.setdefault("hidden_size", 8)
    return ECGNet(**kw)


def test_parameter_counts_at_defaults():
    m = ECGNet()
    assert count_parameters(m) == 543_760
    assert count_parameters(m.lstm) == 541_696
    assert count_parameters(ECGNetCritic()) == 967_681
    assert count_parameters(ECGNet(einthoven=False)) == 544_792


def test_registry_and_signal_kwargs():
    m = create_model("ecgnet", n_chans=12, n_outputs=12, n_times=250, sfreq=100.0, hidden_size=4)
    critic = create_model("ecgnet_critic", n_chans=12, n_times=250, sfreq=100.0, channels=(4,))
    assert isinstance(m, ECGNet) and isinstance(critic, ECGNetCritic)
    assert m.ch_names == critic.ch_names == list(LEADS)  # the models name their leads
    assert (m.n_outputs, critic.n_outputs, m.sfreq) == (12, 1, 100.0)
    for cls in (ECGNet, ECGNetCritic):
        with pytest.raises(ChannelError):
            cls(n_chans=3)
        with pytest.raises(ChannelError, match="order"):
            cls(chs_info=[{"ch_name": n} for n in reversed(LEADS)])
    with pytest.raises(ConfigError):
        ECGNet(n_outputs=5)
    # lead names spelt differently are accepted in the standard order
    ECGNet(chs_info=[{"ch_name": n.upper()} for n in LEADS], hidden_size=4)


def test_config_round_trip_and_heads():
    torch.manual_seed(0)
    g, c = _small(noise_dim=0, sfreq=100.0), ECGNetCritic(channels=(4, 4), spectral_norm=True)
    x = torch.randn(3, 12, 20)
    g2, c2 = ECGNet.from_config(g.get_config()), ECGNetCritic.from_config(c.get_config())
    g2.load_state_dict(g.state_dict())
    c2.load_state_dict(c.state_dict())
    c.eval(), c2.eval()
    assert torch.equal(g(x), g2(x)) and torch.equal(c(x), c2(x))
    feats = g.forward_features(x, lead="II")
    assert feats.hidden.shape == (3, 20, 2 * 8 + 1) and torch.equal(feats.lead, x[:, 1])
    assert torch.equal(g.forward_head(feats), g(x, lead="II"))
    assert c.forward_features(x).shape == (3, 4) and c(x).shape == (3,)
    with pytest.raises(ConfigError):
        g.reset_head(3)  # the head's size follows the leads
    c.reset_head(2)
    assert c(x).shape == (3, 2) and c.get_config()["kwargs"]["n_outputs"] == 2
    assert hasattr(c.final_layer, "parametrizations")  # spectral norm kept on the new head
    with pytest.raises(ShapeError):
        c(torch.randn(3, 5, 20))


def test_moved_names_warn():
    import biosig.models.ecgnet as mod

    with pytest.warns(FutureWarning, match="ECGNetCritic"):
        assert mod.ECGNetDiscriminator is ECGNetCritic


@pytest.mark.parametrize("einthoven", [True, False])
def test_every_input_lead_passes_through(einthoven):
    torch.manual_seed(0)
    m = _small(einthoven=einthoven, noise_dim=2)
    x = torch.randn(12, 12, 37)
    ids = torch.arange(12)
    out = m(x, lead=ids)
    assert out.shape == (12, 12, 37)
    assert torch.equal(out[ids, ids], x[ids, ids])  # bit-exact pass-through
    # (B, 1, T) input and a name for the whole batch
    out2 = m(x[:, 4:5], lead="aVL")
    assert torch.equal(out2[:, 4], x[:, 4])


def test_einthoven_on_every_output_float_precision():
    torch.manual_seed(1)
    m = _small(noise_dim=3)
    for T in (1, 16, 101):
        x = torch.randn(24, 12, T) * 2
        ids = torch.arange(24) % 12
        out = m(x, lead=ids).detach().double().numpy()
        for b in range(24):
            assert einthoven_residual(out[b]) < 1e-5, (T, LEADS[ids[b]])
    # float64 model: identities to double precision
    m64 = _small().double()
    out = m64(torch.randn(12, 12, 50, dtype=torch.float64), lead=torch.arange(12)).detach().numpy()
    assert einthoven_residual(out) < 1e-12


def test_plain_head_does_not_obey_einthoven():
    torch.manual_seed(2)
    m = _small(einthoven=False)
    out = m(torch.randn(4, 12, 30), lead="V3").detach().numpy()
    assert einthoven_residual(out) > 1e-3


def test_assemble_derived_input_solves_lead_ii():
    B, T = 4, 20
    gen = torch.randn(B, 8, T, dtype=torch.float64)
    true_i, true_ii = torch.randn(B, T, dtype=torch.float64), torch.randn(B, T, dtype=torch.float64)
    for name, idx in (("III", 2), ("aVR", 3), ("aVL", 4), ("aVF", 5)):
        a, b = {"III": (-1, 1), "aVR": (-0.5, -0.5), "aVL": (1, -0.5), "aVF": (-0.5, 1)}[name]
        x = a * true_i + b * true_ii
        g = gen.clone()
        g[:, 0] = true_i  # if lead I is generated right, lead II must come out right too
        out = assemble_12_leads(x, torch.full((B,), idx), g)
        assert torch.allclose(out[:, 1], true_ii, atol=1e-12)
        assert torch.equal(out[:, idx], x)
        li, lii = limb_leads_from(name, x.numpy(), "I", true_i.numpy())
        np.testing.assert_allclose(lii, true_ii.numpy(), atol=1e-12)


def test_gradients_and_critic():
    torch.manual_seed(3)
    m = _small(noise_dim=1)
    critic = ECGNetCritic(channels=(8, 8))
    x = torch.randn(3, 12, 40)
    cond, ids = m.select_input(x, [0, 7, 11])
    fake = m(cond[:, None], ids)
    logits = critic(fake, cond[:, None], ids)
    assert logits.shape == (3,)
    logits.sum().backward()
    for name, p in [*m.named_parameters(), *critic.named_parameters()]:
        assert p.grad is not None, name


def test_bad_inputs():
    m = _small()
    with pytest.raises(ShapeError):
        m(torch.randn(2, 5, 10))
    with pytest.raises(ChannelError):
        m(torch.randn(2, 12, 10), lead="V7")
    with pytest.raises(ChannelError):
        m(torch.randn(2, 12, 10), lead=torch.tensor([0, 12]))
    with pytest.raises(ConfigError):
        _small(noise_dim=2)(torch.randn(2, 10), lead=0, noise=torch.randn(2, 3, 10))


def test_generate_is_deterministic_without_noise():
    m = _small()
    x = torch.randn(2, 12, 25)
    assert torch.equal(m.generate(x, lead="II"), m.generate(x, lead="II"))
    assert m.training
