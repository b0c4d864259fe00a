"""EEGFormer (Chen et al. 2024) and its vector quantiser: shapes, published sizes, VQ maths."""

import pytest
import torch
import torch.nn.functional as F

from biosig.errors import ConfigError, ShapeError
from biosig.models import EEGFormer, count_parameters, create_model
from biosig.models.base import BiosigModel
from biosig.models.blocks.quantizer import VectorQuantizer, codebook_perplexity

torch.set_num_threads(1)
TINY = dict(n_times=500, patch_len=20, patch_stride=10, emb_size=32, n_heads=4,
            encoder_depth=2, decoder_depth=1, n_codes=32)


def tiny(**kw) -> EEGFormer:
    torch.manual_seed(0)
    return EEGFormer(**{**TINY, **kw})


# ---------------------------------------------------------------------------- sizes and shapes
@pytest.mark.parametrize("name, exact, published", [
    ("eegformer_s", 1_878_846, 1.9e6), ("eegformer_b", 2_340_926, 2.3e6),
    ("eegformer_l", 3_265_086, 3.2e6),
])
def test_parameter_counts_match_the_published_sizes(name, exact, published):
    model = create_model(name, n_chans=19, n_outputs=2, n_times=3000, sfreq=250.0)
    n = count_parameters(model)
    assert n == exact
    assert abs(n - published) / published < 0.03
    assert model.n_patches == 49 and model.covered_len == model.seq_len == 1500


def test_shapes_and_any_channel_count():
    model = tiny(n_outputs=3).eval()
    n = (500 // 2 - 20) // 10 + 1  # 250 spectrum bins -> 24 patches
    assert model.n_patches == n == 24
    for c in (1, 5, 19):
        x = torch.randn(2, c, 500)
        assert model(x).shape == (2, 3)
        assert model.forward_features(x).shape == (2, c, n, 32)
        tokens, idx = model.encode(x)
        assert tokens.shape == (2, c, n, 32) and idx.shape == (2, c, n)
        assert idx.dtype == torch.long and int(idx.max()) < 32
        assert torch.allclose(tokens, model.quantizer.codebook[idx], atol=1e-6)
        assert model.reconstruct(x).shape == (2, c, model.covered_len)
        out = model.forward_pretrain(x)
        assert out.recon.shape == out.target.shape == (2, c, n, 20)


def test_input_options_time_domain_frames_and_log():
    x = torch.randn(2, 3, 500)
    time_model = tiny(input_domain="time")
    assert time_model.seq_len == 500 and torch.equal(time_model.input_sequence(x), x)
    framed = tiny(fft_frame=100)  # 5 frames of 50 bins
    seq = framed.input_sequence(x)
    assert seq.shape == (2, 3, 250)
    ref = torch.fft.rfft(x[..., 100:200], dim=-1).abs()[..., :50]
    assert torch.allclose(seq[..., 50:100], ref, atol=1e-4)
    logged = tiny(log_amplitude=True).input_sequence(x)
    assert torch.allclose(logged, torch.log(tiny().input_sequence(x) + 1e-8), atol=1e-5)
    model = tiny()
    seq = model.input_sequence(x)
    normed = (seq - seq.mean(-1, keepdim=True)) / (seq.std(-1, keepdim=True, unbiased=False) + 1e-5)
    patches = model.patches(x)  # instance normalised per channel, then patched
    assert torch.allclose(patches[..., 3, :], normed[..., 30:50], atol=1e-5)


def test_channel_pooling_head_and_reset_head():
    model = tiny(n_chans=4, n_outputs=2, head_pool="channel")
    assert model.final_layer.in_features == 4 * 32
    with pytest.raises(ShapeError, match="4, 500"):
        model(torch.randn(1, 5, 500))
    model.reset_head(6)
    assert model(torch.randn(2, 4, 500)).shape == (2, 6)
    assert model.get_config()["kwargs"]["n_outputs"] == 6
    headless = tiny()
    assert headless(torch.randn(2, 3, 500)).shape == (2, 32)  # pooled features
    headless.reset_head(2)
    assert headless(torch.randn(2, 3, 500)).shape == (2, 2)


def test_bad_configuration_and_input_are_named():
    with pytest.raises(ConfigError, match="n_times"):
        EEGFormer(n_chans=2)
    with pytest.raises(ConfigError, match="patch_stride"):
        tiny(patch_stride=30)
    with pytest.raises(ConfigError, match="patch_len"):
        tiny(n_times=30)
    with pytest.raises(ConfigError, match="input_domain"):
        tiny(input_domain="wavelet")
    with pytest.raises(ConfigError, match="'fft' only"):
        tiny(input_domain="time", log_amplitude=True)
    with pytest.raises(ConfigError, match="fft_frame"):
        tiny(fft_frame=1000)
    with pytest.raises(ConfigError, match="head_pool"):
        tiny(head_pool="channel")
    with pytest.raises(ShapeError, match="500"):
        tiny()(torch.randn(2, 3, 499))


def test_config_round_trip():
    model = create_model("eegformer_s", n_chans=3, n_outputs=2, n_times=600, sfreq=250.0,
                         ema=True, dead_after=10).eval()
    config = model.get_config()
    assert config["name"] == "eegformer_s" and config["kwargs"]["encoder_depth"] == 6
    assert config["kwargs"]["n_codes"] == 512 and config["kwargs"]["ema"] is True
    clone = BiosigModel.from_config(config).eval()
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 600)
    assert torch.equal(clone(x), model(x))


# ---------------------------------------------------------------------------- gradients
def test_straight_through_gradient_reaches_the_encoder():
    model = tiny()
    out = model.forward_pretrain(torch.randn(2, 3, 500))
    assert torch.allclose(out.vq.quantized, model.quantizer.codebook[out.vq.indices], atol=1e-6)
    out.recon_loss.backward()  # reconstruction only: its path to the encoder is straight-through
    assert model.patch_embed.weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.encoder.parameters())
    assert model.quantizer.codebook.grad is None  # codes get no reconstruction gradient


def _fixed_quantizer(**kw) -> VectorQuantizer:
    vq = VectorQuantizer(3, 2, beta=0.25, **kw)
    vq.set_codebook(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, 1.0]]))
    return vq


def test_commitment_and_codebook_terms_values_and_gradients():
    vq = _fixed_quantizer()
    z = torch.tensor([[0.2, -0.1], [0.9, 1.3], [-1.5, 0.5], [0.1, 0.2]], requires_grad=True)
    out = vq(z)
    assert out.indices.tolist() == [0, 1, 2, 0]
    q = vq.codebook.detach()[out.indices]
    sq = ((z.detach() - q) ** 2).mean()
    assert torch.allclose(out.commitment_loss, sq) and torch.allclose(out.codebook_loss, sq)
    assert torch.allclose(out.loss, sq * 1.25)
    assert torch.equal(out.counts, torch.tensor([2, 1, 1]))
    # commitment: gradient 2 * beta * (z - q) / numel on z only (the code is stop-gradient)
    (vq.beta * out.commitment_loss).backward(retain_graph=True)
    assert torch.allclose(z.grad, 2 * 0.25 * (z.detach() - q) / z.numel())
    assert vq.codebook.grad is None or vq.codebook.grad.abs().sum() == 0
    # codebook term: gradient 2 (e - z) / numel summed over the vectors assigned to each code
    z.grad = None
    out.codebook_loss.backward()
    assert z.grad is None or z.grad.abs().sum() == 0
    want = torch.zeros(3, 2).index_add_(0, out.indices, 2 * (q - z.detach()) / z.numel())
    assert torch.allclose(vq.codebook.grad, want)


def test_ema_update_moves_codes_towards_their_vectors():
    vq = _fixed_quantizer(ema=True, decay=0.5).train()
    assert not vq.codebook.requires_grad
    z = torch.tensor([[0.3, 0.2], [0.1, 0.4], [1.2, 1.6]])  # two vectors -> code 0, one -> 1
    before = vq.codebook.detach().clone()
    out = vq(z)
    assert out.indices.tolist() == [0, 0, 1] and out.codebook_loss == 0
    mean0, mean1 = z[:2].mean(0), z[2]
    after = vq.codebook.detach()
    assert (after[0] - mean0).norm() < (before[0] - mean0).norm()
    assert (after[1] - mean1).norm() < (before[1] - mean1).norm()
    assert torch.allclose(after[2], before[2], atol=1e-4)  # unused code: unchanged
    # exact step: count 0.5 + 0.5 * 2, sum 0.5 * e + 0.5 * (z0 + z1), Laplace smoothing ~ 1
    n = 0.5 * 3 + 0.5 * 3
    smooth = (1.5 + 1e-5) / (n + 3e-5) * n
    assert torch.allclose(after[0], (0.5 * before[0] + 0.5 * z[:2].sum(0)) / smooth, atol=1e-5)
    for _ in range(30):
        vq(z)
    assert torch.allclose(vq.codebook[0], mean0, atol=1e-2)


def test_dead_codes_are_restarted_on_batch_vectors():
    vq = _fixed_quantizer(dead_after=2).train()
    z = torch.tensor([[0.1, 0.0], [0.9, 1.1], [1.1, 0.9], [-0.1, 0.1]])  # code 2 never chosen
    vq(z)
    assert torch.equal(vq.codebook[2].detach(), torch.tensor([-2.0, 1.0]))
    assert vq.unused_calls.tolist() == [0, 0, 1]
    vq(z)
    new = vq.codebook[2].detach()
    assert any(torch.equal(new, row) for row in z) and vq.unused_calls[2] == 0
    vq.eval()(torch.full((2, 2), 9.0))  # no restarts or updates outside training
    assert vq.unused_calls[2] == 0


def test_data_init_and_perplexity():
    vq = VectorQuantizer(4, 3, data_init=True).train()
    z = torch.randn(50, 3)
    vq(z)
    assert bool(vq.initialized)
    assert all(any(torch.equal(code, row) for row in z) for code in vq.codebook.detach())
    assert codebook_perplexity(torch.tensor([5, 5, 5, 5])) == pytest.approx(4.0)
    assert codebook_perplexity(torch.tensor([7, 0, 0, 0])) == pytest.approx(1.0)
    with pytest.raises(ShapeError, match="3"):
        vq(torch.randn(2, 4))


# ---------------------------------------------------------------------------- codebook use
def test_codebook_is_used_after_short_pretraining_on_builtin_data():
    """No collapse to a few codes: tiny EEGFormer, 60 steps on simulated EEG (EMA codebook,
    data initialisation, dead-code restarts), measured on held-out windows."""
    from biosig.datasets.synthetic import simulate_mi_session

    rec = simulate_mi_session(1, "T", n_trials_per_class=3, include_eog=False)
    x = torch.from_numpy(rec.data[:8])
    n = x.shape[1] // 500
    windows = x[:, : n * 500].reshape(8, n, 500).permute(1, 0, 2).contiguous()
    train, test = windows[: int(0.8 * n)], windows[int(0.8 * n):]
    model = tiny(ema=True, data_init=True, dead_after=5)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    first = None
    for _ in range(60):
        out = model.forward_pretrain(train[torch.randint(0, len(train), (8,), generator=gen)])
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        first = float(out.recon_loss.detach()) if first is None else first
    model.eval()
    with torch.no_grad():
        out = model.forward_pretrain(test)
    used = int((out.vq.counts > 0).sum())
    assert float(out.recon_loss) < 0.8 * first
    assert used >= 24 and float(out.vq.perplexity) > 8, (used, float(out.vq.perplexity))
