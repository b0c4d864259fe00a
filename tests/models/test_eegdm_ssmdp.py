"""SSMDP: parameter count of the paper, conditioning, latent tokens, errors, config round trip."""

from __future__ import annotations

import pytest
import torch

from biosig.errors import ConfigError, ShapeError
from biosig.models import SSMDP, count_parameters, create_model
from biosig.models.ssmdp import std_pool

TINY = dict(n_layers=3, d_model=8, d_state=4, d_embed=8, d_cond=16)


def _perturbed(model: SSMDP) -> SSMDP:
    """Give the zero-initialised output and condition projections some weight."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "cond_proj" in name or "final_layer.2" in name:
                p.normal_(0, 0.3)
    return model


def test_parameter_count_of_the_paper():
    torch.manual_seed(0)
    m = SSMDP(n_chans=22, sfreq=200)
    assert count_parameters(m) == 5_931_649
    n = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    assert [n(b) for b in m.blocks[-2:]] == [263_552, 247_040]
    assert n(m.blocks[0].ssm) == 131_584
    assert n(m.step_mlp) == 328_704 and n(m.channel_mlp) + n(m.channel_embedding) == 331_520


def test_output_starts_at_zero_and_depends_on_step_and_channel():
    torch.manual_seed(0)
    m = SSMDP(n_chans=3, **TINY)
    x = torch.randn(2, 3, 30)
    assert torch.equal(m(x, 5), torch.zeros_like(x))  # zero-initialised last layer
    _perturbed(m)
    v = m(x, torch.tensor([5, 5]))
    assert v.shape == x.shape
    torch.testing.assert_close(m(x, 5), v)
    assert not torch.allclose(m(x, 6), v)
    same = x[:, :1].expand(2, 3, 30).contiguous()  # one signal under three channel ids
    out = m(same, 5)
    assert not torch.allclose(out[:, 0], out[:, 1])
    # a (B, C) id tensor (single-channel samples carrying their own ids) gives the same values
    ids = torch.tensor([[0], [2]])
    per = m(same[:, :1], 5, channel_ids=ids)
    torch.testing.assert_close(per[0, 0], out[0, 0])
    torch.testing.assert_close(per[1, 0], out[1, 2])
    m(x, torch.tensor([[1, 2, 3], [4, 5, 6]])).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_latents_are_std_pooled_gates_of_every_layer():
    torch.manual_seed(0)
    m = _perturbed(SSMDP(n_chans=2, sfreq=10, channel_ids=[3, 1], **TINY))
    x_uv = 150 * torch.randn(2, 2, 40)
    tokens = m.latents(x_uv)
    assert tokens.shape == (2, 3, 4, 2, 8)  # (B, n_layers, pools of 1 s, C, d_model)
    # by hand: step 1, clean encoded input, gates of each block, unbiased std per 10 samples
    y = m.encode_signal(x_uv).reshape(4, 1, 40)
    ids = torch.tensor([3, 1, 3, 1])
    from biosig.models.ssmdp import sinusoidal_embedding
    cond = (m.step_mlp(sinusoidal_embedding(torch.ones(4), 8))
            + m.channel_mlp(m.channel_embedding(ids)))[:, None]
    h = m.in_layer(y.reshape(4, 40, 1))
    for layer, block in enumerate(m.blocks):
        g = torch.sigmoid(block.ssm(block.pre(block.norm(h) + block.cond_proj(cond)))[..., :8])
        want = g.reshape(4, 4, 10, 8).std(2).reshape(2, 2, 4, 8).transpose(1, 2)
        torch.testing.assert_close(tokens[:, layer], want)
        h = block(h, cond)[0]
    assert m.forward_features(x_uv).shape == tokens.shape


def test_latents_fold_long_windows_into_segments():
    torch.manual_seed(0)
    m = _perturbed(SSMDP(n_chans=2, sfreq=10, **TINY))
    x = 100 * torch.randn(1, 2, 40)
    folded = m.latents(x, segment=20)
    halves = torch.cat([m.latents(x[..., :20]), m.latents(x[..., 20:])], dim=2)
    torch.testing.assert_close(folded, halves)
    assert not torch.allclose(folded, m.latents(x))


def test_signal_transform_round_trip():
    m = SSMDP(n_chans=1, **TINY)
    x = torch.tensor([-5000.0, -100.0, 0.0, 37.0, 100.0, 800.0])
    y = m.encode_signal(x)
    assert y[3].item() == pytest.approx(0.37) and y[-1] < 8.0 and y[0] > -2.2
    torch.testing.assert_close(m.decode_signal(y), x)
    plain = SSMDP(n_chans=1, mu=None, **TINY)
    torch.testing.assert_close(plain.encode_signal(x), x / 100)


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="channel_ids"):
        SSMDP(n_chans=30)
    with pytest.raises(ConfigError, match=r"\[0, 22\)"):
        SSMDP(n_chans=2, channel_ids=[0, 22])
    with pytest.raises(ConfigError, match="2 entries"):
        SSMDP(n_chans=3, channel_ids=[0, 1])
    m = SSMDP(n_chans=2, **TINY)
    with pytest.raises(ShapeError):
        m(torch.randn(1, 3, 10), 1)
    with pytest.raises(ConfigError, match="pool_size"):
        m.latents(torch.randn(1, 2, 10))
    with pytest.raises(ShapeError, match="multiple"):
        m.latents(torch.randn(1, 2, 25), pool_size=10)
    with pytest.raises(ShapeError, match=r"must be \(B, C, T\) windows in µV$"):
        m.latents(torch.randn(2, 40), pool_size=10)  # one window without its batch axis
    with pytest.raises(ConfigError, match="LFT"):
        m.reset_head(3)
    with pytest.raises(ShapeError):
        std_pool(torch.randn(1, 11, 2), 5)


def test_config_round_trip_and_registry():
    m = create_model("ssmdp", n_chans=2, sfreq=10, channel_ids=[5, 7], **TINY)
    again = SSMDP.from_config(m.get_config())
    assert again.get_config() == m.get_config()
    assert again.channel_ids == [5, 7] and count_parameters(again) == count_parameters(m)


def test_weights_round_trip_with_the_card(tmp_path):
    m = _perturbed(SSMDP(n_chans=2, sfreq=10, channel_ids=[3, 1], **TINY)).eval()
    folder = m.save_pretrained(tmp_path / "ssmdp")
    loaded = SSMDP.from_pretrained(folder, data={"sfreq": 10})
    x = 100 * torch.randn(1, 2, 20)
    assert torch.equal(loaded(m.encode_signal(x), 3), m(m.encode_signal(x), 3))
    assert torch.equal(loaded.latents(x), m.latents(x)) and loaded.channel_ids == [3, 1]
    with pytest.raises(ConfigError, match="sfreq"):
        SSMDP.from_pretrained(folder, data={"sfreq": 20})
