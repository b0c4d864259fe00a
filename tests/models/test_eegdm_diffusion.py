"""EEGDM's diffusion pieces: cosine schedule vectors, staged mu-law, v-prediction, samplers, EMA."""

from __future__ import annotations

import math

import pytest
import torch

from biosig.diffusion import (
    GaussianDiffusion, cosine_alphas_cumprod, ddim_timesteps, inverse_staged_mu_law,
    linear_alphas_cumprod, staged_mu_law,
)
from biosig.errors import ConfigError
from biosig.callbacks import WarmupEMA, ema_warmup_decay


def test_cosine_schedule_matches_reference_vectors():
    abar = cosine_alphas_cumprod(50)
    # squaredcos_cap_v2 at T = 50 (reference sheet, section 5b.7; diffusers to 1e-7)
    for t, want in [(0, 0.998253), (1, 0.994570), (24, 0.493844), (49, 1e-6)]:
        assert abar[t].item() == pytest.approx(want, abs=1e-6)
    assert bool((abar[1:] < abar[:-1]).all())
    lin = linear_alphas_cumprod(50)
    assert lin[0].item() == pytest.approx(1 - 1e-4)
    want = math.prod(1 - (1e-4 + i * (0.05 - 1e-4) / 49) for i in range(50))
    assert lin[-1].item() == pytest.approx(want)  # ~0.28: the ablation never reaches pure noise
    with pytest.raises(ConfigError):
        GaussianDiffusion(50, schedule="sigmoid")


def test_staged_mu_law_is_identity_inside_and_invertible():
    x = torch.tensor([-300.0, -2.0, -1.0, -0.3, 0.0, 0.5, 1.0, 1.0001, 7.0, 1e3],
                     dtype=torch.float64)
    y = staged_mu_law(x)
    inside = x.abs() <= 1
    assert torch.equal(y[inside], x[inside])
    assert y[-1].item() == pytest.approx(math.log1p(255e3) / math.log1p(255))
    assert y[7].item() == pytest.approx(1.0, abs=1e-4)  # continuous at 1
    torch.testing.assert_close(inverse_staged_mu_law(y), x)
    assert bool((y[1:] > y[:-1]).all())


def test_v_prediction_identities():
    d = GaussianDiffusion(50)
    torch.manual_seed(0)
    x0, noise = torch.randn(6, 1, 20), torch.randn(6, 1, 20)
    t = torch.tensor([0, 1, 10, 24, 40, 49])
    xt = d.q_sample(x0, t, noise)
    v = d.velocity(x0, t, noise)
    x0_hat, eps_hat = d.predict_x0_eps(xt, t, v)
    torch.testing.assert_close(x0_hat, x0, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(eps_hat, noise, atol=1e-5, rtol=1e-5)
    # the loss of the exact velocity is zero, of a zero model it is E[v^2] ~ 1
    oracle = GaussianDiffusion(50)
    assert oracle.loss(lambda x, tt: torch.zeros_like(x), torch.randn(64, 1, 50)) > 0.5


def test_ddim_timesteps_trailing():
    assert ddim_timesteps(50, 10) == [49, 44, 39, 34, 29, 24, 19, 14, 9, 4]
    assert ddim_timesteps(50, 50) == list(range(49, -1, -1))
    assert ddim_timesteps(50, 1) == [49]
    with pytest.raises(ConfigError):
        ddim_timesteps(50, 51)


def _gaussian_oracle(d: GaussianDiffusion, sigma: float):
    """Exact velocity for data ~ N(0, sigma^2): E[x0 | x_t] = sqrt(a) s^2 / (a s^2 + 1 - a) x_t."""
    def model(x, t):
        a = d.alphas_cumprod[t].reshape(-1, 1, 1)
        x0 = a.sqrt() * sigma ** 2 / (a * sigma ** 2 + 1 - a) * x
        return (a.sqrt() * x - x0) / (1 - a).sqrt()
    return model


def _closed_form_std(d: GaussianDiffusion, sigma: float, method: str, steps) -> float:
    """Std of a sampler's output for N(0, sigma^2) data: every step is linear in x_t."""
    abar, one = d.alphas_cumprod.double(), torch.tensor(1.0, dtype=torch.float64)
    ts = list(range(d.n_steps - 1, -1, -1)) if method == "ddpm" else ddim_timesteps(50, steps)
    var = 1.0
    for i, t in enumerate(ts):
        a, a_prev = abar[t], (abar[ts[i + 1]] if i + 1 < len(ts) else one)
        k = a.sqrt() * sigma ** 2 / (a * sigma ** 2 + 1 - a)  # E[x0 | x_t] = k x_t
        if method == "ddim":
            gain = a_prev.sqrt() * k + (1 - a_prev).sqrt() * (1 - a.sqrt() * k) / (1 - a).sqrt()
            noise = 0.0
        else:
            beta = 1 - a / a_prev
            gain = (a_prev.sqrt() * beta * k + (1 - beta).sqrt() * (1 - a_prev)) / (1 - a)
            noise = (1 - a_prev) / (1 - a) * beta if t else 0.0
        var = gain ** 2 * var + noise
    return float(var) ** 0.5


@pytest.mark.parametrize("method,steps,approx_std", [
    ("ddpm", None, 0.468), ("ddim", 50, 0.484), ("ddim", 10, 0.427)])
def test_samplers_on_gaussian_data_with_the_exact_denoiser(method, steps, approx_std):
    d = GaussianDiffusion(50, clip_sample=None)
    g = torch.Generator().manual_seed(0)
    x = d.sample(_gaussian_oracle(d, 0.5), (4000, 1, 4), steps=steps, method=method, generator=g)
    # with the exact E[x0 | x_t], data std 0.5 comes back shrunk by the discretisation
    want = _closed_form_std(d, 0.5, method, steps)
    assert want == pytest.approx(approx_std, abs=1e-3)
    assert x.std().item() == pytest.approx(want, rel=0.03)
    assert abs(x.mean().item()) < 0.02


def test_samplers_return_a_point_mass_exactly():
    d = GaussianDiffusion(50)  # clipping at 1 keeps the 0.7 target intact
    target = 0.7

    def model(x, t):
        a = d.alphas_cumprod[t].reshape(-1, 1, 1)
        eps = (x - a.sqrt() * target) / (1 - a).sqrt()
        return a.sqrt() * eps - (1 - a).sqrt() * target

    for method, steps in [("ddpm", None), ("ddim", 5)]:
        x = d.sample(model, (3, 1, 8), steps=steps, method=method)
        torch.testing.assert_close(x, torch.full_like(x, target), atol=1e-4, rtol=0)
    with pytest.raises(ConfigError, match="ddim"):
        d.sample(model, (1, 1, 8), steps=10, method="ddpm")


def test_ema_warmup_decay_schedule():
    assert ema_warmup_decay(0) == 0.0 and ema_warmup_decay(100) == 0.0
    assert ema_warmup_decay(110) == pytest.approx(1 - 11 ** (-2 / 3))
    assert ema_warmup_decay(1000) == pytest.approx(1 - 901 ** (-2 / 3))
    assert ema_warmup_decay(13_000) == pytest.approx(0.998, abs=2e-4)
    assert ema_warmup_decay(31_000) < 0.999 and ema_warmup_decay(31_800) == 0.999


def test_warmup_ema_callback_follows_ema_pytorch():
    import lightning.pytorch as pl

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3))

    module = Tiny()
    cb = WarmupEMA()
    cb.setup(None, module, "fit")
    expected = None
    for step in range(250):
        with torch.no_grad():
            module.w.fill_(float(step))
        if cb.should_update(step_idx=step):
            cb._average_model.update_parameters(module)
            # reference: ema-pytorch's update() at its step-th call (copy until 100, then lerp)
            d = 0.0 if step <= 100 else 1 - (1 + step - 100) ** (-2 / 3)
            expected = float(step) if expected is None else d * expected + (1 - d) * step
    assert cb._average_model.module.w[0].item() == pytest.approx(expected, rel=1e-6)
    assert expected < 240  # the average lags the weights after the warm-up
    with pytest.raises(ConfigError):
        WarmupEMA(max_decay=1.0)
