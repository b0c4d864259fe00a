"""hvEEGNet / vEEGNet-ver3: parameter counts, latent shapes, API, KL terms."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from biosig.errors import ConfigError
from biosig.models import count_parameters
from biosig.models._registry import create_model
from biosig.models.blocks import eegnet_kernel_sizes, gaussian_kl, residual_gaussian_kl
from biosig.models.hveegnet import HVEEGNet
from biosig.models.veegnet import VEEGNet


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


@pytest.fixture(scope="module")
def paper_model():
    torch.manual_seed(0)
    return HVEEGNet(n_chans=22, n_times=1000, sfreq=250.0)


def test_parameter_count_matches_official_graph(paper_model):
    m = paper_model
    assert count_parameters(m) == 8224
    parts = {name: count_parameters(child) for name, child in m.named_children()}
    assert parts == {"encoder": 2224, "posterior_top": 544, "decoder": 2224, "mix_decoder": 1192,
                     "mix_posterior": 664, "prior": 688, "posterior": 688}


def test_veegnet_parameter_count():
    m = VEEGNet(n_chans=22, n_times=1000, sfreq=250.0)
    assert count_parameters(m) == 4992


def test_latent_shapes_and_forward(paper_model):
    m = paper_model.train()
    x = torch.randn(2, 22, 1000) * 10
    out = m(x)
    assert out.x_hat.shape == (2, 22, 1000)
    assert [tuple(z.shape[1:]) for z in out.z] == [(16, 1, 100), (16, 1, 1000), (8, 22, 1000)]
    assert m.latent_shapes == [(16, 1, 100), (16, 1, 1000), (8, 22, 1000)]
    assert len(out.kl) == 3 and all(k.shape == (2,) for k in out.kl)
    assert all((k >= -1e-3).all() for k in out.kl)
    assert len(out.delta_mu) == 2 and out.log_probs is None


def test_kernel_sizes_follow_sfreq():
    assert eegnet_kernel_sizes(250.0) == (128, 32)
    with pytest.raises(ConfigError, match="sfreq"):  # no rate is assumed
        eegnet_kernel_sizes(None)
    assert eegnet_kernel_sizes(None, 64, 16) == (64, 16)
    assert eegnet_kernel_sizes(500.0) == (256, 64)
    assert eegnet_kernel_sizes(128.0, temporal_kernel=64) == (64, 16)
    m = HVEEGNet(n_chans=4, n_times=500, sfreq=500.0)
    assert m.encoder.temporal[0].kernel_size == (1, 256)
    assert m.decoder.final_layer.kernel_size == (1, 256)


def _small(cls=HVEEGNet, **kw):
    torch.manual_seed(0)
    return cls(n_chans=4, n_times=120, sfreq=125.0, **kw)


def test_backward_reaches_every_parameter():
    m = _small().train()
    x = torch.randn(3, 4, 120)
    out = m(x)
    loss = ((out.x_hat - x) ** 2).mean() + out.kl_total().mean()
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert not missing, missing


def test_reconstruct_levels_and_determinism():
    m = _small().eval()
    x = torch.randn(2, 4, 120)
    r1 = m.reconstruct(x)
    r2 = m.reconstruct(x)
    torch.testing.assert_close(r1, r2)
    assert not r1.requires_grad
    only_top = m.reconstruct(x, levels=[1])
    assert only_top.shape == x.shape
    assert not torch.allclose(only_top, r1)
    none = m.reconstruct(x, levels=[])
    # with every level switched off the input is ignored: the output equals generation at z = 0
    torch.testing.assert_close(none[:1], m.generate(1, sample=False))
    with pytest.raises(ConfigError, match="latent levels"):
        m.reconstruct(x, levels=[4])


def test_generate_shapes():
    m = _small().eval()
    g = m.generate(5)
    assert g.shape == (5, 4, 120) and torch.isfinite(g).all()
    v = _small(VEEGNet).eval()
    assert v.generate(2).shape == (2, 4, 120)
    assert v.reconstruct(torch.randn(2, 4, 120)).shape == (2, 4, 120)
    with pytest.raises(ConfigError):
        m.generate(0)


def test_veegnet_forward():
    v = _small(VEEGNet).train()
    out = v(torch.randn(2, 4, 120))
    assert out.x_hat.shape == (2, 4, 120)
    assert len(out.kl) == 1 and tuple(out.z[0].shape[1:]) == (16, 1, 12)


def test_n_times_not_divisible_by_pool():
    m = HVEEGNet(n_chans=3, n_times=125, sfreq=125.0)
    out = m(torch.randn(2, 3, 125))
    assert out.x_hat.shape == (2, 3, 125)
    assert tuple(out.z[0].shape[1:]) == (16, 1, 12)


def test_classifier_head():
    m = _small(use_classifier=True, n_outputs=4)
    out = m(torch.randn(2, 4, 120))
    assert out.log_probs.shape == (2, 4)
    torch.testing.assert_close(out.log_probs.exp().sum(1), torch.ones(2))
    with pytest.raises(ConfigError, match="n_outputs"):
        _small(use_classifier=True)


def test_bad_inputs():
    m = _small()
    with pytest.raises(ValueError, match="expected input"):
        m(torch.randn(2, 5, 120))
    with pytest.raises(ValueError, match="expected input"):
        m(torch.randn(2, 1, 4, 120))
    with pytest.raises(ConfigError, match="n_chans"):
        HVEEGNet(n_chans=0, n_times=100, sfreq=250.0)
    with pytest.raises(ConfigError, match="pooling"):
        HVEEGNet(n_chans=4, n_times=5, sfreq=250.0)
    with pytest.raises(ConfigError, match="sfreq"):
        HVEEGNet(n_chans=4, n_times=100)


def test_kl_formulas_match_torch_distributions():
    from torch.distributions import Normal, kl_divergence

    g = torch.Generator().manual_seed(0)
    mu, lv = torch.randn(3, 2, 1, 5, generator=g), torch.randn(3, 2, 1, 5, generator=g)
    ref = kl_divergence(Normal(mu, (0.5 * lv).exp()), Normal(0.0, 1.0)).flatten(1).sum(1)
    torch.testing.assert_close(gaussian_kl(mu, lv), ref)
    mu_p, lv_p = torch.randn_like(mu), torch.randn_like(lv)
    ref2 = kl_divergence(Normal(mu_p + mu, (0.5 * (lv_p + lv)).exp()),
                         Normal(mu_p, (0.5 * lv_p).exp())).flatten(1).sum(1)
    torch.testing.assert_close(residual_gaussian_kl(mu, lv, lv_p), ref2)


def test_registry_and_chs_info():
    m = create_model("hveegnet", n_chans=4, n_times=120, sfreq=125.0)
    assert isinstance(m, HVEEGNet)
    assert isinstance(create_model("veegnet", n_chans=4, n_times=120, sfreq=125.0), VEEGNet)
    m2 = HVEEGNet(chs_info=[{"ch_name": f"C{i}"} for i in range(5)], n_times=100, sfreq=100.0)
    assert m2.n_chans == 5
    m3 = HVEEGNet(n_chans=4, n_times=120, sfreq=125.0, activation=nn.GELU)
    assert isinstance(m3.encoder.spatial[2], nn.GELU)
