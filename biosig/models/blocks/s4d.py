"""S4D: a diagonal state-space layer computed as an FFT convolution (Gu et al. 2022).

Written for biosig from the paper's equations (no external state-space package, no vendored
code). Each of the ``d_model`` features ``h`` has its own diagonal state space with
``d_state / 2`` complex modes (the conjugate halves are implicit, hence the factor 2 below)::

    A_hn = -exp(a_hn) + i * w_hn        (diag-lin init: a = log 1/2, w = pi * n)
    dt_h = exp(log_dt_h),  log_dt ~ U[log dt_min, log dt_max]
    ZOH:  dA = exp(dt A),  dB = (exp(dt A) - 1) / A * B           (B init: ones)
    K_c[h, l] = 2 * Re( sum_n C_chn * dB_hn * dA_hn ** l )         (C init: complex normal)

The layer output is ``y = K_0 * u (+ K_1 reversed) + D * u``. Bidirectional layers have two
``C`` channels sharing ``A``, ``B`` and ``dt``: channel 0 is a causal kernel over lags
``0 .. L-1``, channel 1 an anti-causal kernel over the future samples ``t+1 .. t+L-1``
(``K_1[m - 1]`` weights ``u[t + m]``; no second lag-0 term), both applied in one
FFT convolution of length ``2 L``. Parameters do not depend on the sequence length: the kernel
is generated for the length of each input.

Parameter count: ``H (log_dt) + 2 H N/2 (A) + 2 H N/2 (B) + 2 n_dir H N/2 (C) + H (D)``,
i.e. 131,584 at ``d_model = 256, d_state = 128`` bidirectional (as EEGDM's SSMDP layers).

References
----------
.. [Gu2022] A. Gu, A. Gupta, K. Goel, C. Ré, "On the Parameterization and Initialization of
   Diagonal State Space Models", NeurIPS 2022 (arXiv:2206.11893).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from biosig.errors import ConfigError, ShapeError

__all__ = ["S4D"]

_LOW = (torch.float16, torch.bfloat16)


class S4D(nn.Module):
    """Diagonal state-space layer (S4D, ZOH, diag-lin init), FFT convolution + D skip.

    Parameters
    ----------
    d_model : features ``H``; input ``(batch, length, H)`` (``transposed=False``) or
        ``(batch, H, length)`` (``transposed=True``).
    d_state : state size ``N`` (even); ``N / 2`` complex modes are stored.
    bidirectional : add the anti-causal kernel (second ``C`` channel, shared ``A, B, dt``).
    dt_min, dt_max : range of the log-uniform step-size initialisation.

    ``ssm_parameters()`` yields ``log_dt, A_log_real, A_imag, B`` (no weight decay in S4's
    recipes); ``C`` and ``D`` are ordinary weights.
    """

    def __init__(self, d_model: int, d_state: int = 128, bidirectional: bool = True,
                 dt_min: float = 1e-3, dt_max: float = 1e-1, transposed: bool = False):
        super().__init__()
        if d_model <= 0 or d_state <= 0 or d_state % 2:
            raise ConfigError(f"S4D: d_model must be positive and d_state positive and even, "
                              f"got d_model={d_model}, d_state={d_state}")
        if not 0 < dt_min <= dt_max:
            raise ConfigError(f"S4D: need 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        self.d_model, self.d_state = int(d_model), int(d_state)
        self.bidirectional, self.transposed = bool(bidirectional), bool(transposed)
        h, m = self.d_model, self.d_state // 2
        n_dir = 2 if bidirectional else 1
        log_dt = torch.rand(h) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.A_log_real = nn.Parameter(torch.full((h, m), math.log(0.5)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(m, dtype=torch.float32).repeat(h, 1))
        self.B = nn.Parameter(torch.view_as_real(torch.ones(h, m, dtype=torch.cfloat)).clone())
        self.C = nn.Parameter(torch.view_as_real(torch.randn(n_dir, h, m, dtype=torch.cfloat)))
        self.D = nn.Parameter(torch.randn(h))

    def ssm_parameters(self):
        return iter((self.log_dt, self.A_log_real, self.A_imag, self.B))

    def discretize(self) -> tuple[torch.Tensor, torch.Tensor]:
        """ZOH: ``(dt A, C * dB)`` as complex tensors ``(H, N/2)`` and ``(n_dir, H, N/2)``."""
        a = torch.complex(-torch.exp(self.A_log_real), self.A_imag)
        dta = torch.exp(self.log_dt)[:, None] * a
        db = (torch.exp(dta) - 1.0) / a * torch.view_as_complex(self.B)
        return dta, torch.view_as_complex(self.C) * db

    def kernel(self, length: int) -> torch.Tensor:
        """Real kernels ``(n_dir, H, length)``: ``K_c[h, l] = 2 Re sum_n (C dB) dA^l``."""
        dta, cdb = self.discretize()
        steps = torch.arange(length, device=dta.device, dtype=dta.real.dtype)
        vander = torch.exp(dta[..., None] * steps)  # (H, N/2, L)
        return 2.0 * torch.einsum("chn,hnl->chl", cdb, vander).real

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if u.ndim != 3 or u.shape[1 if self.transposed else 2] != self.d_model:
            want = "(batch, d_model, length)" if self.transposed else "(batch, length, d_model)"
            raise ShapeError(f"S4D expects {want} with d_model={self.d_model}, "
                             f"got {tuple(u.shape)}")
        x = u if self.transposed else u.transpose(1, 2)  # (B, H, L)
        length = x.shape[-1]
        with torch.autocast(device_type=x.device.type, enabled=False):  # FFTs in float32
            y = self._convolve(x.float() if x.dtype in _LOW else x, length)
        y = y.to(u.dtype)
        return y if self.transposed else y.transpose(1, 2)

    def _convolve(self, x: torch.Tensor, length: int) -> torch.Tensor:
        k = self.kernel(length).to(x.dtype)
        two_sided = nn.functional.pad(k[0], (0, length))
        if self.bidirectional:  # future lags 1..L-1 sit at the end of the circular kernel
            two_sided = two_sided + nn.functional.pad(k[1].flip(-1), (length, 0))
        n_fft = 2 * length
        y = torch.fft.irfft(torch.fft.rfft(x, n=n_fft) * torch.fft.rfft(two_sided, n=n_fft),
                            n=n_fft)[..., :length]
        return y + x * self.D[:, None].to(x.dtype)
