"""DBConformer model: parameter counts of the official code, shapes, switches, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from biosig.errors import ConfigError
from biosig.models._registry import count_parameters, create_model
from biosig.models.dbconformer import DBConformer, default_patch_size

# (n_chans, n_times, sfreq, depth, params of the official code with a 2-class head)
OFFICIAL_ROWS = [
    pytest.param(22, 1001, 250, 2, 93_747, id="BNCI2014001"),
    pytest.param(3, 1126, 250, 2, 92_267, id="BNCI2014004"),
    pytest.param(14, 1251, 250, 2, 93_187, id="Zhou2016-CO"),
    pytest.param(15, 2561, 512, 4, 172_547, id="BNCI2014002-CO"),
    pytest.param(14, 1251, 250, 6, 250_947, id="Zhou2016-LOSO"),
    pytest.param(59, 750, 250, 6, 254_387, id="Blankertz2007-LOSO"),
]


@pytest.mark.parametrize("n_chans,n_times,sfreq,depth,expected", OFFICIAL_ROWS)
def test_parameter_count_matches_official(n_chans, n_times, sfreq, depth, expected):
    model = DBConformer(n_chans=n_chans, n_outputs=2, n_times=n_times, sfreq=sfreq, depth=depth)
    assert count_parameters(model) == expected


def test_parameter_breakdown_bciiv2a():
    m = DBConformer(n_chans=22, n_outputs=2, n_times=1001, sfreq=250)
    n = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    t = m.temporal
    stem = n(t.spatial_conv) + n(t.spatial_bn) + n(t.temporal_conv) + n(t.temporal_bn)
    assert stem == 3_560
    assert n(m.spatial.embed) == 1_096
    assert n(t.blocks[0]) == 19_720
    assert n(m.head) + n(m.final_layer) == 7_330
    assert n(m.spatial.attn_pool) == 1_681
    assert t.pos_emb.shape == (1, 8, 40) and m.spatial.pos_emb.shape == (1, 22, 40)


def test_patch_size_from_sfreq():
    assert default_patch_size(250) == 125
    assert default_patch_size(512) == 128
    assert default_patch_size(200) == 100
    assert default_patch_size(160) == 80
    with pytest.raises(ConfigError):
        default_patch_size(0)


@pytest.mark.parametrize(
    "n_chans,n_times,sfreq,n_outputs,n_patches",
    [(22, 1001, 250, 4, 8), (22, 1000, 200, 6, 10), (64, 656, 160, 2, 8), (3, 300, 250, 2, 2)],
    ids=["bciiv2a", "tuev", "eegmmidb", "tiny"],
)
def test_forward_shapes(n_chans, n_times, sfreq, n_outputs, n_patches):
    torch.manual_seed(0)
    m = DBConformer(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, sfreq=sfreq).eval()
    assert m.n_patches == n_patches
    x = torch.randn(2, n_chans, n_times)
    with torch.no_grad():
        y = m(x)
        y4 = m(x[:, None])
    assert y.shape == (2, n_outputs) and torch.isfinite(y).all()
    torch.testing.assert_close(y, y4)
    assert m.channel_attention_weights.shape == (2, n_chans)


def test_backward_every_parameter_gets_grad():
    torch.manual_seed(0)
    m = DBConformer(n_chans=4, n_outputs=3, n_times=250, sfreq=250, depth=1)
    m(torch.randn(3, 4, 250)).sum().backward()
    missing = [k for k, p in m.named_parameters()
               if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_features_and_attention_outputs():
    torch.manual_seed(0)
    m = DBConformer(n_chans=5, n_outputs=2, n_times=250, sfreq=250, depth=1).eval()
    x = torch.randn(3, 5, 250)
    logits, feats, attn = m(x, return_features=True, return_attention=True)
    assert feats.shape == (3, 80) and attn.shape == (3, 5)
    torch.testing.assert_close(attn.sum(1), torch.ones(3))
    torch.testing.assert_close(m.forward_head(feats), logits)
    torch.testing.assert_close(m.channel_attention_weights, attn.detach())
    m2 = DBConformer(n_chans=5, n_outputs=2, n_times=250, sfreq=250, depth=1, return_features=True)
    out = m2.eval()(x)
    assert isinstance(out, tuple) and out[1].shape == (3, 80)


def test_crop_matches_official_rule():
    # 1001 samples: floor crop drops the last sample (official for every dataset but MI1-7).
    m = DBConformer(n_chans=2, n_outputs=2, n_times=1001, sfreq=250)
    assert m.n_patches == 8
    # 750 samples (MI1-7): nothing to drop, 6 patches as the official exception.
    assert DBConformer(n_chans=2, n_outputs=2, n_times=750, sfreq=250).n_patches == 6
    # "drop_last": the official non-MI1-7 rule applied everywhere loses one token on 750.
    last = DBConformer(n_chans=2, n_outputs=2, n_times=750, sfreq=250, crop="drop_last")
    assert last.n_patches == 5
    # The pooling layer sees exactly n_patches * patch_size samples.
    seen = []
    mt = DBConformer(n_chans=2, n_outputs=2, n_times=1001, sfreq=250, branch="temporal").eval()
    mt.temporal.pool.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[-1]))
    with torch.no_grad():
        mt(torch.randn(1, 2, 1001))
    assert seen == [1000]


def test_attention_scale_switch():
    torch.manual_seed(0)
    a = DBConformer(n_chans=3, n_outputs=2, n_times=250, sfreq=250, depth=1, attn_scale="emb")
    b = DBConformer(n_chans=3, n_outputs=2, n_times=250, sfreq=250, depth=1, attn_scale="head")
    assert math.isclose(a.temporal.blocks[0].attn.scale, 1 / math.sqrt(40))
    assert math.isclose(b.temporal.blocks[0].attn.scale, 1 / math.sqrt(4))
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randn(2, 3, 250)
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))


def test_switches():
    kw = dict(n_chans=6, n_outputs=2, n_times=250, sfreq=250, depth=1)
    x = torch.randn(2, 6, 250)
    full = count_parameters(DBConformer(**kw))
    t = DBConformer(branch="temporal", **kw).eval()
    s = DBConformer(branch="spatial", **kw).eval()
    assert t.spatial is None and s.temporal is None
    assert t.head[0].in_features == 40 and s.head[0].in_features == 40
    assert t(x).shape == (2, 2) and s(x).shape == (2, 2)
    assert t.channel_attention_weights is None
    nopos = DBConformer(use_pos_emb=False, **kw)
    assert full - count_parameters(nopos) == (2 + 6) * 40
    mean_pool = DBConformer(channel_attention=False, **kw).eval()
    assert full - count_parameters(mean_pool) == 1_681
    mean_pool(x)
    assert mean_pool.channel_attention_weights is None
    gated = DBConformer(gated_fusion=True, **kw).eval()
    assert count_parameters(gated) - full == 80 * 80 + 80
    assert gated(x).shape == (2, 2)


def test_init_as_official():
    torch.manual_seed(0)
    m = DBConformer(n_chans=22, n_outputs=2, n_times=1001, sfreq=250)
    w = m.temporal.temporal_conv.weight
    assert 0.005 < w.std().item() < 0.015
    assert m.temporal.spatial_bn.weight.eq(1).all() and m.temporal.spatial_bn.bias.eq(0).all()
    assert 0.8 < m.spatial.pos_emb.std().item() < 1.2  # N(0, 1)


def test_registry_and_kwargs():
    m = create_model("dbconformer", n_chans=8, n_times=500, n_outputs=3, sfreq=250.0)
    assert isinstance(m, DBConformer) and m.final_layer.out_features == 3
    chs = [{"ch_name": f"E{i}"} for i in range(4)]
    m = DBConformer(chs_info=chs, n_outputs=2, n_times=250, sfreq=250)
    assert m.n_chans == 4 and m.ch_names == ["E0", "E1", "E2", "E3"]
    m.reset_head(5)
    assert m.eval()(torch.randn(1, 4, 250)).shape == (1, 5)
    m = DBConformer(n_chans=4, n_outputs=2, n_times=250, sfreq=250, activation=nn.GELU)
    assert isinstance(m.head[1], nn.GELU)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_chans=0, n_outputs=2, n_times=250),
        dict(n_chans=4, n_outputs=None, n_times=250),
        dict(n_chans=4, n_outputs=2, n_times=100),  # shorter than one 125-sample patch
        dict(n_chans=4, n_outputs=2, n_times=250, branch="both"),
        dict(n_chans=4, n_outputs=2, n_times=250, attn_scale="x"),
        dict(n_chans=4, n_outputs=2, n_times=250, crop="ceil"),
        dict(n_chans=4, n_outputs=2, n_times=250, n_heads=7),
        dict(n_chans=3, n_outputs=2, n_times=250, chs_info=[{"ch_name": "C3"}]),
    ],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ConfigError):
        DBConformer(sfreq=250, **kwargs)


def test_bad_input_shape_raises():
    m = DBConformer(n_chans=4, n_outputs=2, n_times=250, sfreq=250).eval()
    with pytest.raises(ValueError, match="expects"):
        m(torch.randn(2, 5, 250))
    with pytest.raises(ValueError, match="n_times=250"):
        m(torch.randn(2, 4, 300))


def test_fft_temporal_conv_equals_direct():
    torch.manual_seed(0)
    kw = dict(n_chans=5, n_outputs=3, n_times=1001, sfreq=250, depth=1)
    a = DBConformer(temporal_conv_impl="direct", **kw).eval()
    b = DBConformer(temporal_conv_impl="fft", **kw).eval()
    b.load_state_dict(a.state_dict())  # same parameters, same state-dict keys
    x = torch.randn(4, 5, 1001) * 20
    torch.testing.assert_close(a(x), b(x), rtol=1e-4, atol=1e-5)
    a(x).sum().backward()
    b(x).sum().backward()
    ga, gb = a.temporal.temporal_conv.weight.grad, b.temporal.temporal_conv.weight.grad
    torch.testing.assert_close(ga, gb, rtol=1e-3, atol=1e-4)
    assert count_parameters(DBConformer(temporal_conv_impl="fft", n_chans=22, n_outputs=2,
                                        n_times=1001, sfreq=250)) == 93_747
    with pytest.raises(ConfigError):
        DBConformer(temporal_conv_impl="winograd", **kw)
    with pytest.raises(ConfigError):
        DBConformer(temporal_kernel=64, **kw)


def test_auto_temporal_conv_is_default_and_times_once(monkeypatch):
    from biosig.models import dbconformer as mod

    monkeypatch.setattr(mod, "_AUTO_FFT", {})
    kw = dict(n_chans=3, n_outputs=2, n_times=200, sfreq=100.0, depth=1)
    torch.manual_seed(0)
    a = DBConformer(**kw)
    assert a.temporal.temporal_conv.impl == "auto"
    b = DBConformer(temporal_conv_impl="direct", **kw)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 3, 200)
    a.eval(), b.eval()  # no dropout: outputs comparable
    torch.testing.assert_close(a(x), b(x), rtol=1e-4, atol=1e-5)
    assert len(mod._AUTO_FFT) == 1  # one timing for this shape / grad mode / thread count
    choice = next(iter(mod._AUTO_FFT.values()))
    monkeypatch.setitem(mod._AUTO_FFT, next(iter(mod._AUTO_FFT)), not choice)
    a(x)  # the cached choice is reused, not re-timed
    assert len(mod._AUTO_FFT) == 1


def test_auto_temporal_conv_under_torch_compile_is_the_direct_one(monkeypatch):
    """Timing the two paths inside a compiled forward is a graph break, and Inductor has no
    complex kernels (a compiled FFT path falls back to slow ones): compiled,
    "auto" takes the direct convolution untimed, and the outputs equal the eager ones."""
    from biosig.models import dbconformer as mod

    monkeypatch.setattr(mod, "_AUTO_FFT", {})
    torch.manual_seed(0)
    net = DBConformer(n_chans=3, n_outputs=2, n_times=200, sfreq=100.0, depth=1).eval()
    x = torch.randn(2, 3, 200)
    compiled = torch.compile(net, backend="eager", fullgraph=True)  # fails on a graph break
    out = compiled(x)
    assert mod._AUTO_FFT == {}  # nothing timed while compiled
    torch.testing.assert_close(out, net(x), rtol=1e-4, atol=1e-5)
