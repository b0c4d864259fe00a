"""LFT: parameter counts of the paper (5 and 10 pools), pools from the window, fusion, errors."""

from __future__ import annotations

import pytest
import torch

from biosig.errors import ConfigError, ShapeError
from biosig.models import LFT, SSMDP, count_parameters, create_model
from biosig.models.blocks.transformer import MultiHeadAttention

TINY = dict(n_layers=2, d_model=16, n_heads=2, n_fusion_tokens=4, n_classifier_blocks=1)


@pytest.mark.parametrize("n_chans,n_outputs,n_times,pools,expected", [
    (22, 6, 1000, 5, 6_898_950),   # TUEV: 5-s windows, 6 classes
    (16, 1, 2000, 10, 6_918_785),  # CHB-MIT: 10-s windows, one logit
])
def test_parameter_counts_of_the_paper(n_chans, n_outputs, n_times, pools, expected):
    m = LFT(n_chans=n_chans, n_outputs=n_outputs, n_times=n_times, sfreq=200)
    assert m.n_pools == pools and count_parameters(m) == expected
    n = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    assert n(m.fusion) + m.fusion_tokens.numel() == 5_291_520 + pools * 2_048
    assert n(m.blocks) == 1_586_176


def test_forward_and_fusion_reads_each_layer_and_pool():
    torch.manual_seed(0)
    m = LFT(n_chans=3, n_outputs=2, n_times=40, sfreq=10, **TINY)
    tokens = torch.randn(2, 2, 4, 3, 16)
    out = m(tokens)
    assert out.shape == (2, 2) and torch.isfinite(out).all()
    for layer, pool in [(0, 0), (1, 3)]:
        changed = tokens.clone()
        changed[:, layer, pool] += 1.0
        assert not torch.allclose(m(changed), out)
    # channel order does not matter to cross-attention without channel positions
    torch.testing.assert_close(m(tokens.flip(3)), out, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert "fusion_tokens" in m.no_weight_decay() and "pos_embedding" not in m.no_weight_decay()


def test_cross_attention_is_self_attention_on_its_own_input():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, 0.0, "head")
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(mha(x, x), mha(x))
    assert mha(x, torch.randn(2, 3, 8)).shape == (2, 5, 8)


def test_works_on_ssmdp_latents_and_round_trips():
    torch.manual_seed(0)
    ssmdp = SSMDP(n_chans=3, sfreq=10, n_layers=2, d_model=16, d_state=4, d_embed=8, d_cond=8)
    lft = create_model("lft", n_chans=3, n_outputs=4, n_times=40, sfreq=10, **TINY)
    assert lft(ssmdp.latents(50 * torch.randn(2, 3, 40))).shape == (2, 4)
    again = LFT.from_config(lft.get_config())
    assert again.get_config() == lft.get_config() and again.n_pools == 4
    lft.reset_head(3)
    assert lft(torch.randn(1, 2, 4, 3, 16)).shape == (1, 3)


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="n_pools"):
        LFT(n_chans=3, n_outputs=2)
    with pytest.raises(ConfigError, match="whole"):
        LFT(n_chans=3, n_outputs=2, n_times=45, sfreq=10)
    with pytest.raises(ConfigError, match="n_outputs"):
        LFT(n_chans=3, n_pools=2)
    m = LFT(n_chans=3, n_outputs=2, n_pools=2, **TINY)
    with pytest.raises(ShapeError, match="SSMDP.latents"):
        m(torch.randn(1, 2, 3, 3, 16))


def test_weights_round_trip_with_the_card(tmp_path):
    m = LFT(n_chans=3, n_outputs=2, n_times=40, sfreq=10, **TINY).eval()
    loaded = LFT.from_pretrained(m.save_pretrained(tmp_path / "lft"))
    tokens = torch.randn(2, 2, 4, 3, 16)
    assert torch.equal(loaded(tokens), m(tokens)) and loaded.n_pools == 4


def test_token_norm_options_keep_or_add_the_documented_parameters():
    base = count_parameters(LFT(n_chans=3, n_outputs=2, n_pools=2, **TINY))
    batch = LFT(n_chans=3, n_outputs=2, n_pools=2, token_norm="batch", **TINY)
    assert count_parameters(batch) == base  # a standardisation without affine parameters
    layer = LFT(n_chans=3, n_outputs=2, n_pools=2, token_norm="layer", **TINY)
    assert count_parameters(layer) == base + TINY["n_layers"] * 2 * TINY["d_model"]
    with pytest.raises(ConfigError, match="token_norm"):
        LFT(n_chans=3, n_outputs=2, n_pools=2, token_norm="instance", **TINY)
    # "batch" standardises every (layer, feature) over the batch's pools and channels
    torch.manual_seed(0)
    tokens = 0.04 + 0.01 * torch.rand(8, 2, 2, 3, 16)
    seen = {}

    def keep(module, args):
        seen.setdefault("context", args[1])

    batch.fusion[0].cross_attn.register_forward_pre_hook(keep)
    batch.train()(tokens)
    ctx = seen["context"].reshape(8, 2, 3, 16)  # layer 0: (batch * pools, chans, d)
    torch.testing.assert_close(ctx.mean((0, 1, 2)), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(ctx.std((0, 1, 2), unbiased=False), torch.ones(16), atol=1e-3,
                               rtol=0)
    assert batch.get_config()["kwargs"]["token_norm"] == "batch"
    # "logbatch": the same on log(tokens), still without trainable parameters
    logb = LFT(n_chans=3, n_outputs=2, n_pools=2, token_norm="logbatch", **TINY)
    assert count_parameters(logb) == base
    seen.clear()
    logb.fusion[0].cross_attn.register_forward_pre_hook(keep)
    logb.train()(tokens)
    lt = tokens[:, 0].log()
    want = (lt - lt.mean((0, 1, 2))) / lt.std((0, 1, 2), unbiased=False)
    torch.testing.assert_close(seen["context"].reshape(8, 2, 3, 16), want, atol=1e-3, rtol=0)


def test_lft_learns_small_offset_tokens_with_the_batch_token_norm():
    """Gate deviations of a small SSMDP: ~0.04 with class differences of ~0.005 (measured)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    y = torch.arange(48) % 3
    tokens = 0.04 + 0.01 * torch.rand(48, 2, 2, 3, 16)
    tokens[:, :, :, :, :4] += 0.005 * torch.nn.functional.one_hot(y, 4)[:, None, None, None]
    m = LFT(n_chans=3, n_outputs=3, n_pools=2, token_norm="batch", **TINY)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    for _ in range(60):
        for b in torch.arange(48).split(16):
            loss = torch.nn.functional.cross_entropy(m(tokens[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    acc = (m.eval()(tokens).argmax(1) == y).float().mean()
    assert acc > 0.9, float(acc)
