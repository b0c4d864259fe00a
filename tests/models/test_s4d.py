"""S4D layer: equals a direct recurrence, parameter count of EEGDM's layers, length independence."""

from __future__ import annotations

import math

import pytest
import torch

from biosig.errors import ConfigError, ShapeError
from biosig.models.blocks.s4d import S4D


def _recurrence(layer: S4D, u: torch.Tensor) -> torch.Tensor:
    """x_k = dA x_{k-1} + dB u_k, y_k = 2 Re(C x_k) + D u_k, step by step (complex128)."""
    a = torch.complex(-torch.exp(layer.A_log_real), layer.A_imag).detach().to(torch.complex128)
    dt = torch.exp(layer.log_dt).detach().to(torch.float64)[:, None]
    da = torch.exp(dt * a)
    db = (da - 1) / a * torch.view_as_complex(layer.B.detach().double())
    c = torch.view_as_complex(layer.C.detach().double())
    batch, length, h = u.shape
    u = u.double()
    y = torch.zeros(batch, length, h, dtype=torch.float64)
    state = torch.zeros(batch, h, a.shape[1], dtype=torch.complex128)
    for k in range(length):  # causal direction, lags 0..k
        state = da * state + db * u[:, k, :, None]
        y[:, k] += 2 * (c[0] * state).sum(-1).real
    if layer.bidirectional:  # anti-causal: s_t = dA s_{t+1} + dB u_{t+1}
        state = torch.zeros_like(state)
        for k in range(length - 2, -1, -1):
            state = da * state + db * u[:, k + 1, :, None]
            y[:, k] += 2 * (c[1] * state).sum(-1).real
    return y + u * layer.D.detach().double()


@pytest.mark.parametrize("bidirectional", [True, False])
def test_fft_convolution_equals_recurrence(bidirectional):
    torch.manual_seed(0)
    layer = S4D(d_model=3, d_state=8, bidirectional=bidirectional, dt_min=0.05, dt_max=0.3)
    with torch.no_grad():  # move A off its init so modes differ per feature
        layer.A_log_real.add_(0.3 * torch.randn_like(layer.A_log_real))
        layer.B.add_(0.2 * torch.randn_like(layer.B))
    u = torch.randn(2, 17, 3)
    y = layer(u)
    assert y.shape == u.shape
    torch.testing.assert_close(y.double(), _recurrence(layer, u), rtol=1e-4, atol=1e-4)


def test_float64_precision_and_transposed_layout():
    torch.manual_seed(1)
    layer = S4D(d_model=2, d_state=4, dt_min=0.1, dt_max=0.2).double()
    u = torch.randn(1, 9, 2, dtype=torch.float64)
    torch.testing.assert_close(layer(u), _recurrence(layer, u), rtol=1e-10, atol=1e-10)
    layer.transposed = True
    torch.testing.assert_close(layer(u.transpose(1, 2)).transpose(1, 2), _recurrence(layer, u),
                               rtol=1e-10, atol=1e-10)


def test_parameter_count_of_eegdm_layer():
    layer = S4D(d_model=256, d_state=128, bidirectional=True)
    assert sum(p.numel() for p in layer.parameters()) == 131_584
    one_way = S4D(256, 128, bidirectional=False)
    assert sum(p.numel() for p in one_way.parameters()) == 131_584 - 32_768


def test_parameters_do_not_depend_on_length_and_init_is_diag_lin():
    torch.manual_seed(0)
    layer = S4D(d_model=4, d_state=16)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    for length in (5, 64, 301):
        assert layer(torch.randn(1, length, 4)).shape == (1, length, 4)
        assert layer.kernel(length).shape == (2, 4, length)
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())
    a = torch.complex(-torch.exp(layer.A_log_real), layer.A_imag)
    torch.testing.assert_close(a[0], torch.complex(torch.full((8,), -0.5),
                                                   math.pi * torch.arange(8.0)))
    dt = torch.exp(layer.log_dt)
    assert bool(((dt >= 1e-3) & (dt <= 1e-1)).all())
    assert {id(p) for p in layer.ssm_parameters()} == {
        id(layer.log_dt), id(layer.A_log_real), id(layer.A_imag), id(layer.B)}


def test_gradients_reach_every_parameter():
    layer = S4D(d_model=2, d_state=4)
    layer(torch.randn(2, 11, 2)).square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


def test_bad_arguments_and_shapes():
    with pytest.raises(ConfigError, match="d_state"):
        S4D(8, d_state=7)
    with pytest.raises(ConfigError, match="dt_min"):
        S4D(8, dt_min=0.2, dt_max=0.1)
    with pytest.raises(ShapeError, match="d_model=8"):
        S4D(8, 4)(torch.randn(1, 10, 3))
