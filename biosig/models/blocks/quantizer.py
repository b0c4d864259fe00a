"""Vector quantiser (VQ-VAE bottleneck), reusable by any tokenising model.

``VectorQuantizer`` maps each input vector to its nearest codebook entry (squared L2) and passes
gradients straight through (van den Oord et al. 2017, "Neural Discrete Representation
Learning", arXiv:1711.00937). Loss: ``||sg[z] - e||^2 + beta ||z - sg[e]||^2`` (codebook and
commitment terms, means over elements).

Options, both off by default:

- ``ema=True``: the codebook is not learnt by gradient but follows an exponential moving
  average of the vectors assigned to each code (Appendix A.1 of the same paper; Razavi et al.
  2019, arXiv:1906.00446), with Laplace smoothing of the counts; the codebook term is then
  absent from the loss and the codebook is not a trainable parameter.
- ``dead_after=n``: a code not chosen in ``n`` consecutive training calls is restarted on a
  randomly drawn input vector of the current batch (as in Dhariwal et al. 2020, Jukebox,
  arXiv:2005.00341).
- ``data_init=True``: the codebook is initialised once, on the first training batch, from
  randomly drawn input vectors (otherwise uniform in ``[-1/K, 1/K]`` as VQ-VAE).

Under ``torch.distributed`` the counts and EMA sums are summed over processes and restart /
initialisation vectors are broadcast from rank 0, so every replica keeps the same codebook.

A training call after the first never waits for the device (no host read of a device value),
so it compiles to one graph (``torch.compile(fullgraph=True)``) and a GPU's queue stays full:
counts are a scatter-add of fixed size, dead codes are replaced by ``torch.where`` from one
candidate per code (with ``dead_after``, ``n_codes`` vectors are drawn, and under
``torch.distributed`` broadcast, at every training call), and whether the codebook is
initialised is mirrored on the host (``initialized_on_host``, read back when a state dict is
loaded).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from biosig.errors import ConfigError, ShapeError

__all__ = ["VQOutput", "VectorQuantizer", "codebook_perplexity"]


@dataclass
class VQOutput:
    """What :class:`VectorQuantizer` returns (tensors keep the input's leading shape)."""

    quantized: torch.Tensor  #: straight-through codes, same shape as the input
    indices: torch.Tensor  #: code index per vector, input shape without the last axis
    loss: torch.Tensor  #: codebook + beta * commitment
    codebook_loss: torch.Tensor  #: ||sg[z] - e||^2 (zero with EMA updates)
    commitment_loss: torch.Tensor  #: ||z - sg[e]||^2 (not yet multiplied by beta)
    counts: torch.Tensor  #: (n_codes,) code choices of this call (training: summed over ranks)
    perplexity: torch.Tensor  #: exp(entropy) of the code frequencies of this call


def codebook_perplexity(counts: torch.Tensor) -> torch.Tensor:
    """``exp(-sum p log p)`` of code counts: 1 if one code is used, ``K`` if all equally."""
    p = counts.float() / counts.sum().clamp_min(1)
    return torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _sum_over_processes(t: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.all_reduce(t)
    return t


def _from_rank0(t: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.broadcast(t, src=0)
    return t


class VectorQuantizer(nn.Module):
    """Nearest-code vector quantiser with straight-through gradients (see the module doc).

    Parameters
    ----------
    n_codes : codebook size ``K``.
    dim : vector length ``D`` (the last axis of the input).
    beta : commitment weight (VQ-VAE: 0.25).
    ema : EMA codebook updates instead of the codebook loss.
    decay : EMA decay of the cluster sizes and sums.
    eps : Laplace smoothing of the EMA cluster sizes.
    dead_after : restart a code unused for this many training calls (0: never).
    data_init : initialise the codebook from the first training batch.
    """

    def __init__(self, n_codes: int, dim: int, beta: float = 0.25, ema: bool = False,
                 decay: float = 0.99, eps: float = 1e-5, dead_after: int = 0,
                 data_init: bool = False):
        super().__init__()
        if n_codes < 1 or dim < 1:
            raise ConfigError(f"VectorQuantizer: n_codes and dim must be >= 1, got {n_codes}, "
                              f"{dim}")
        if not beta >= 0:
            raise ConfigError(f"VectorQuantizer: beta must be >= 0, got {beta!r}")
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"VectorQuantizer: decay must be in (0, 1), got {decay!r}")
        if dead_after < 0:
            raise ConfigError(f"VectorQuantizer: dead_after must be >= 0, got {dead_after!r}")
        self.n_codes, self.dim, self.beta = int(n_codes), int(dim), float(beta)
        self.ema, self.decay, self.eps = bool(ema), float(decay), float(eps)
        self.dead_after, self.data_init = int(dead_after), bool(data_init)
        bound = 1.0 / self.n_codes
        weight = torch.empty(self.n_codes, self.dim).uniform_(-bound, bound)
        self.codebook = nn.Parameter(weight, requires_grad=not self.ema)
        if self.ema:
            self.register_buffer("ema_count", torch.ones(self.n_codes))
            self.register_buffer("ema_sum", weight.clone())
        self.register_buffer("unused_calls", torch.zeros(self.n_codes, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(not self.data_init))
        #: the host's copy of ``initialized`` (set with it, read from a loaded state), so that
        #: a training call need not read the device's flag
        self.initialized_on_host = not self.data_init

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.initialized_on_host = bool(self.initialized)

    def extra_repr(self) -> str:
        return (f"n_codes={self.n_codes}, dim={self.dim}, beta={self.beta}, ema={self.ema}, "
                f"dead_after={self.dead_after}, data_init={self.data_init}")

    # ------------------------------------------------------------------ lookup
    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code (squared L2) for each row of ``flat`` ``(M, D)``."""
        e = self.codebook
        d = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ e.t() + e.pow(2).sum(1)[None]
        return d.argmin(1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors for an index tensor of any shape (``(..., D)``)."""
        return F.embedding(indices, self.codebook)

    # ------------------------------------------------------------------ forward
    def forward(self, z: torch.Tensor) -> VQOutput:
        if z.shape[-1] != self.dim:
            raise ShapeError(f"VectorQuantizer expects (..., {self.dim}), got {tuple(z.shape)}")
        flat = z.reshape(-1, self.dim)
        if self.training and not self.initialized_on_host:
            self._init_from(flat.detach())
        idx = self.nearest(flat.detach().to(self.codebook.dtype))
        counts = idx.new_zeros(self.n_codes).scatter_add_(0, idx, torch.ones_like(idx))
        if self.training:
            counts_all = _sum_over_processes(counts.clone())
            if self.ema:
                self._ema_update(flat.detach(), idx, counts_all)
            if self.dead_after:
                self._restart_dead(flat.detach(), counts_all)
            counts = counts_all
        q = self.lookup(idx).view_as(z)
        commitment = F.mse_loss(z, q.detach())
        codebook = z.new_zeros(()) if self.ema else F.mse_loss(q, z.detach())
        quantized = z + (q - z).detach()
        return VQOutput(quantized=quantized, indices=idx.view(z.shape[:-1]),
                        loss=codebook + self.beta * commitment, codebook_loss=codebook,
                        commitment_loss=commitment, counts=counts,
                        perplexity=codebook_perplexity(counts))

    # ------------------------------------------------------------------ updates
    @torch.no_grad()
    def _draw(self, flat: torch.Tensor, n: int) -> torch.Tensor:
        """``n`` rows of ``flat`` drawn at random (with replacement), the same on all ranks."""
        pick = torch.randint(0, flat.shape[0], (n,), device=flat.device)
        return _from_rank0(flat[pick].to(self.codebook.dtype).contiguous())

    @torch.no_grad()
    def set_codebook(self, vectors: torch.Tensor) -> None:
        """Replace the codebook ``(n_codes, dim)`` and reset the EMA and usage state with it."""
        if tuple(vectors.shape) != (self.n_codes, self.dim):
            raise ShapeError(f"VectorQuantizer.set_codebook expects ({self.n_codes}, "
                             f"{self.dim}), got {tuple(vectors.shape)}")
        self.codebook.data.copy_(vectors)
        if self.ema:
            self.ema_count.fill_(1.0)
            self.ema_sum.copy_(self.codebook.data)
        self.unused_calls.zero_()
        self.initialized.fill_(True)
        self.initialized_on_host = True

    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        self.set_codebook(self._draw(flat, self.n_codes))

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, idx: torch.Tensor, counts: torch.Tensor) -> None:
        sums = torch.zeros_like(self.ema_sum).index_add_(0, idx, flat.to(self.ema_sum.dtype))
        sums = _sum_over_processes(sums)
        self.ema_count.mul_(self.decay).add_(counts.to(self.ema_count.dtype), alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (n + self.n_codes * self.eps) * n
        self.codebook.data.copy_(self.ema_sum / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead(self, flat: torch.Tensor, counts: torch.Tensor) -> None:
        """Codes unused for ``dead_after`` calls take a drawn input vector each; without a host
        sync: one candidate is drawn per code and only the dead codes take theirs."""
        self.unused_calls.add_(1).masked_fill_(counts > 0, 0)
        dead = self.unused_calls >= self.dead_after
        vectors = self._draw(flat, self.n_codes)
        self.codebook.data.copy_(torch.where(dead[:, None], vectors, self.codebook.data))
        if self.ema:
            self.ema_count.masked_fill_(dead, 1.0)
            self.ema_sum.copy_(torch.where(dead[:, None], vectors, self.ema_sum))
        self.unused_calls.masked_fill_(dead, 0)
