"""ECGNet: any single ECG lead -> all 12 leads with a conditional GAN (BiLSTM generator, CNN critic).

Bagga, Jeon & Issokson, "ECGNet: A generative adversarial network (GAN) approach to the synthesis
of 12-lead ECG signals from single lead inputs", arXiv 2310.03753 (2023).

Only the abstract is public (no paper body, no code). What it states: a GAN with a
**bidirectional LSTM generator** and a **CNN discriminator** that generates the remaining eleven
leads from **any single input lead**; evaluation by Fréchet distance per lead (V1-V6: 4.73, 4.89,
5.18, 4.77, 4.71, 5.55 on a private MyoVista dataset — reference values, not targets).
Everything else below is a **design choice** (label: *design choice*), taken from the closest public
lineage: Zhu et al. 2019 (*Sci Rep* 9:6734, two BiLSTM layers + CNN discriminator), pix2pix /
EKGAN (paired conditional discriminator, L1 + adversarial loss), DeepFake-ECG / Pulse2Pulse
(8 independent leads, 4 derived).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from biosig.signal.ecg_leads import LEADS, LIMB_COEFFS, derive_limb_leads, lead_index
from biosig.errors import ChannelError, ConfigError
from biosig.models._registry import register_model

__all__ = ["ECGNet", "ECGNetGenerator", "ECGNetDiscriminator", "assemble_12_leads"]

N_LEADS = 12
#: Independent leads predicted by the Einthoven head, in this order.
_INDEP = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


def _lead_ids(lead, batch: int, device) -> torch.Tensor:
    """Normalise ``lead`` (name, index, sequence or tensor) to a LongTensor ``(batch,)``."""
    if isinstance(lead, torch.Tensor):
        ids = lead.to(device=device, dtype=torch.long).reshape(-1)
        if ids.numel() == 1:
            ids = ids.expand(batch)
    elif isinstance(lead, (list, tuple)):
        ids = torch.tensor([lead_index(x) for x in lead], dtype=torch.long, device=device)
    else:
        ids = torch.full((batch,), lead_index(lead), dtype=torch.long, device=device)
    if ids.numel() != batch:
        raise ChannelError(f"{ids.numel()} lead ids for a batch of {batch}")
    if ids.min() < 0 or ids.max() >= N_LEADS:
        raise ChannelError(f"lead ids must be in 0..11, got {ids.tolist()}")
    return ids


def assemble_12_leads(x: torch.Tensor, lead: torch.Tensor, indep: torch.Tensor) -> torch.Tensor:
    """Build a 12-lead ECG that obeys Einthoven/Goldberger exactly and contains the input lead.

    Parameters
    ----------
    x : tensor (B, T), the input lead in mV.
    lead : LongTensor (B,), which lead ``x`` is (standard order, 0..11).
    indep : tensor (B, 8, T), generated I, II, V1..V6 in mV.

    Notes
    -----
    *Design choice* for each kind of input lead:

    - I or II: the other of the pair is generated; III, aVR, aVL, aVF are derived.
    - V1..V6: I, II and the other five chest leads are generated; limb leads derived.
    - III, aVR, aVL or aVF (derived leads): lead I is generated and **II is solved** from the
      given lead (``lead = a*I + b*II`` with ``b != 0`` for all four), so both the identities and
      the pass-through hold; generating I and II both would contradict the given lead.

    The input lead is finally written back unchanged, so it is bit-exact; the identities then hold
    to float rounding (for III/aVR/aVL/aVF inputs the solved II carries the rounding).
    """
    B, T = x.shape
    coeffs = torch.tensor([LIMB_COEFFS[n] for n in LEADS[:6]] + [(0.0, 0.0)] * 6,
                          dtype=x.dtype, device=x.device)
    a = coeffs[lead, 0][:, None]
    b = coeffs[lead, 1][:, None]
    g_i, g_ii = indep[:, 0], indep[:, 1]
    is_i = (lead == 0)[:, None]
    is_ii = (lead == 1)[:, None]
    is_derived = ((lead >= 2) & (lead <= 5))[:, None]
    b_safe = torch.where(b == 0, torch.ones_like(b), b)
    lead_i = torch.where(is_i, x, g_i)
    lead_ii = torch.where(is_ii, x, torch.where(is_derived, (x - a * g_i) / b_safe, g_ii))
    iii, avr, avl, avf = derive_limb_leads(lead_i, lead_ii)
    out = torch.cat([torch.stack([lead_i, lead_ii, iii, avr, avl, avf], dim=1), indep[:, 2:]], dim=1)
    return _pass_through(out, x, lead)


def _pass_through(out: torch.Tensor, x: torch.Tensor, lead: torch.Tensor) -> torch.Tensor:
    mask = torch.nn.functional.one_hot(lead, N_LEADS).to(torch.bool)[:, :, None]
    return torch.where(mask, x[:, None, :], out)


class ECGNetGenerator(nn.Module):
    """Stacked bidirectional LSTM over time: one lead + its identity (+ noise) -> 12 leads (mV).

    Per time step the input is ``[x_t, one_hot(lead) (12), z_t (noise_dim)]``; a linear
    ``final_layer`` maps the BiLSTM state and ``x_t`` (a linear skip) to 8 independent leads (``einthoven=True``) or 12 leads.
    """

    def __init__(
        self,
        hidden_size: int = 128,
        n_layers: int = 2,
        noise_dim: int = 0,
        drop_prob: float = 0.0,
        einthoven: bool = True,
    ):
        super().__init__()
        if hidden_size < 1 or n_layers < 1 or noise_dim < 0:
            raise ConfigError("hidden_size and n_layers must be >= 1, noise_dim >= 0")
        self.noise_dim = noise_dim
        self.einthoven = einthoven
        self.lstm = nn.LSTM(
            input_size=1 + N_LEADS + noise_dim,
            hidden_size=hidden_size,
            num_layers=n_layers,
            bidirectional=True,
            batch_first=True,
            dropout=drop_prob if n_layers > 1 else 0.0,
        )
        # the head also sees x_t itself (a linear skip): a per-lead linear map of the input lead is
        # then a special case, and the LSTM learns the morphology on top of it (design choice)
        self.final_layer = nn.Linear(2 * hidden_size + 1, len(_INDEP) if einthoven else N_LEADS)

    def forward(self, x: torch.Tensor, lead: torch.Tensor, noise: torch.Tensor | None = None):
        """x: (B, T) input lead in mV; lead: (B,) ids; noise: (B, noise_dim, T) or None (sampled)."""
        B, T = x.shape
        feats = [x[:, :, None], nn.functional.one_hot(lead, N_LEADS).to(x.dtype)[:, None, :].expand(B, T, N_LEADS)]
        if self.noise_dim:
            if noise is None:
                noise = torch.randn(B, self.noise_dim, T, dtype=x.dtype, device=x.device)
            if noise.shape != (B, self.noise_dim, T):
                raise ConfigError(f"noise must be (B, {self.noise_dim}, T), got {tuple(noise.shape)}")
            feats.append(noise.transpose(1, 2))
        h, _ = self.lstm(torch.cat(feats, dim=-1))
        y = self.final_layer(torch.cat([h, x[:, :, None]], dim=-1)).transpose(1, 2)  # (B, 8|12, T)
        if self.einthoven:
            return assemble_12_leads(x, lead, y)
        return _pass_through(y, x, lead)


class ECGNetDiscriminator(nn.Module):
    """Conditional 1-D CNN critic on pix2pix pairs ``(input lead, candidate 12-lead ECG)``.

    Input channels: the 12 candidate leads + the conditioning lead (13); the lead identity enters
    as a learned per-lead bias after the first convolution (equivalent to 12 constant one-hot
    channels). Strided conv + LeakyReLU(0.2) blocks (no batch norm, so WGAN-GP applies), global
    average pooling and a linear layer give one logit / critic score per record.
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (64, 128, 256, 256),
        kernel_size: int = 9,
        stride: int = 2,
        activation: type[nn.Module] = nn.LeakyReLU,
        spectral_norm: bool = False,
    ):
        super().__init__()
        if len(channels) < 1:
            raise ConfigError("the discriminator needs at least one conv layer")
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        layers = []
        c_in = N_LEADS + 1
        for i, c in enumerate(channels):
            layers.append(wrap(nn.Conv1d(c_in, c, kernel_size, stride=stride, padding=kernel_size // 2)))
            c_in = c
        self.convs = nn.ModuleList(layers)
        self.acts = nn.ModuleList([activation(0.2) if activation is nn.LeakyReLU else activation()
                                   for _ in channels])
        self.lead_embedding = nn.Embedding(N_LEADS, channels[0])
        nn.init.zeros_(self.lead_embedding.weight)
        self.final_layer = wrap(nn.Linear(c_in, 1))

    def forward(self, ecg: torch.Tensor, cond: torch.Tensor, lead: torch.Tensor) -> torch.Tensor:
        """ecg: (B, 12, T), cond: (B, T) input lead, lead: (B,) ids -> (B,) logits."""
        h = torch.cat([ecg, cond[:, None, :]], dim=1)
        for i, (conv, act) in enumerate(zip(self.convs, self.acts)):
            h = conv(h)
            if i == 0:
                h = h + self.lead_embedding(lead)[:, :, None]
            h = act(h)
        return self.final_layer(h.mean(dim=-1)).squeeze(-1)


@register_model("ecgnet")
class ECGNet(nn.Module):
    """ECGNet (Bagga et al. 2023): single ECG lead -> 12-lead ECG, BiLSTM generator + CNN critic.

    ``forward`` is the generator; ``discriminator`` is the conditional critic used in training
    (:class:`biosig.tasks.gan.GANTask`). Signals are ECG in **mV**, leads in the standard order
    I, II, III, aVR, aVL, aVF, V1..V6. Works at any ``sfreq``/``n_times`` (the LSTM runs over time).

    Parameters
    ----------
    n_chans : int
        Leads of the ECGs the model sees in training: 12 (0 = not given, means 12).
    n_outputs : int
        Output leads: 12 (0 = not given).
    n_times, sfreq : recorded for the model card; not needed by the layers.
    chs_info : unused (lead names are fixed).
    input_lead : str
        Default input lead when ``forward`` gets no ``lead`` (any of the 12).
    hidden_size, n_layers : BiLSTM size (*design choice*: 2 x 128 per direction, as Zhu et al.
        2019's two BiLSTM layers).
    noise_dim : per-time-step Gaussian noise channels (*design choice*: 0, pix2pix-style
        deterministic generator; > 0 adds z).
    drop_prob : dropout between LSTM layers.
    einthoven : True (default): generate the 8 independent leads and derive III, aVR, aVL, aVF
        exactly (see :func:`assemble_12_leads`); False: plain 12-lead head (11 generated + input).
    disc_channels, disc_kernel_size : critic conv widths and kernel (*design choice*).
    disc_spectral_norm : spectral normalisation in the critic.

    Notes
    -----
    Parameter counts at the defaults (tested): generator **543,760**
    (BiLSTM 541,696 + head 2,064; 544,792 with ``einthoven=False``), discriminator **967,681**.
    The paper does not report sizes.

    References
    ----------
    Bagga, M., Jeon, H., Issokson, A. (2023). ECGNet: A generative adversarial network (GAN)
    approach to the synthesis of 12-lead ECG signals from single lead inputs. arXiv:2310.03753.
    Zhu, F. et al. (2019). Electrocardiogram generation with a bidirectional LSTM-CNN generative
    adversarial network. Sci Rep 9:6734.
    """

    def __init__(
        self,
        n_chans: int = 12,
        n_outputs: int = 12,
        n_times: int = 0,
        sfreq: float = 0.0,
        chs_info: list | None = None,
        input_lead: str = "I",
        hidden_size: int = 128,
        n_layers: int = 2,
        noise_dim: int = 0,
        drop_prob: float = 0.0,
        einthoven: bool = True,
        disc_channels: tuple[int, ...] = (64, 128, 256, 256),
        disc_kernel_size: int = 9,
        disc_spectral_norm: bool = False,
    ):
        super().__init__()
        if n_chans not in (0, N_LEADS):
            raise ChannelError(f"ECGNet works on 12-lead ECGs (n_chans=12), got n_chans={n_chans}")
        if n_outputs not in (0, N_LEADS):
            raise ConfigError(f"ECGNet outputs 12 leads (n_outputs=12), got n_outputs={n_outputs}")
        self.n_chans = N_LEADS
        self.n_outputs = N_LEADS
        self.n_times = n_times
        self.sfreq = sfreq
        self.input_lead = LEADS[lead_index(input_lead)]
        self.einthoven = einthoven
        self.generator = ECGNetGenerator(hidden_size, n_layers, noise_dim, drop_prob, einthoven)
        self.discriminator = ECGNetDiscriminator(tuple(disc_channels), disc_kernel_size,
                                                 spectral_norm=disc_spectral_norm)

    @property
    def final_layer(self) -> nn.Linear:
        return self.generator.final_layer

    @staticmethod
    def select_input(x: torch.Tensor, lead) -> tuple[torch.Tensor, torch.Tensor]:
        """From a 12-lead batch ``(B, 12, T)`` take the input lead -> ``((B, T), lead ids (B,))``."""
        if x.ndim != 3 or x.shape[1] != N_LEADS:
            raise ChannelError(f"expected a (batch, 12, n_times) ECG, got {tuple(x.shape)}")
        ids = _lead_ids(lead, x.shape[0], x.device)
        return x[torch.arange(x.shape[0], device=x.device), ids], ids

    def forward(self, x: torch.Tensor, lead=None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Generate 12 leads.

        Parameters
        ----------
        x : tensor (B, 1, T) or (B, T): the input lead in mV; or (B, 12, T): a 12-lead ECG from
            which the input lead is taken.
        lead : lead name/index for the whole batch, or a sequence/LongTensor (B,) per record
            (default: ``input_lead``).
        noise : optional (B, noise_dim, T).

        Returns
        -------
        tensor (B, 12, T) in mV; the input lead equals ``x`` exactly.
        """
        lead = self.input_lead if lead is None else lead
        if x.ndim == 3 and x.shape[1] == N_LEADS:
            x, ids = self.select_input(x, lead)
        else:
            if x.ndim == 3 and x.shape[1] == 1:
                x = x[:, 0]
            if x.ndim != 2:
                raise ChannelError(
                    f"expected (B, 1, T), (B, T) or (B, 12, T) input, got {tuple(x.shape)}")
            ids = _lead_ids(lead, x.shape[0], x.device)
        return self.generator(x, ids, noise)

    @torch.no_grad()
    def generate(self, x: torch.Tensor, lead=None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Inference helper: eval mode, no gradients; same arguments as ``forward``."""
        was = self.training
        self.eval()
        try:
            return self.forward(x, lead, noise)
        finally:
            self.train(was)

    def discriminate(self, ecg: torch.Tensor, cond: torch.Tensor, lead: torch.Tensor) -> torch.Tensor:
        """Critic logits ``(B,)`` for pairs (input lead ``cond`` (B, T), 12-lead ``ecg``)."""
        return self.discriminator(ecg, cond, lead)
