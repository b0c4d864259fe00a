"""ECGNet: any single ECG lead -> all 12 leads, a conditional GAN (BiLSTM generator, CNN critic).

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

The two networks are registered separately, as the generator and discriminator of Lightning's GAN
example: ``"ecgnet"`` (:class:`ECGNet`, the generator) and ``"ecgnet_critic"``
(:class:`ECGNetCritic`); :class:`biosig.tasks.gan.GANTask` composes them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn

from biosig.signal.ecg_leads import (
    LEADS,
    LIMB_COEFFS,
    MAX_ECG_PTP_MV,
    MIN_ECG_PTP_MV,
    derive_limb_leads,
    lead_index,
    lead_of_channel,
    mv_per_unit,
    normalize_lead_name,
    robust_ptp,
)
from biosig.errors import ChannelError, ConfigError, ShapeError, channel_difference
from biosig.models._registry import register_model
from biosig.models.base import BiosigModel, integer_input_error

__all__ = ["ECGNet", "ECGNetCritic", "GeneratorFeatures", "assemble_12_leads", "remove_baseline"]

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
    # names and indices were checked by lead_index on the host; a tensor is read back (a device
    # sync), except under torch.compile, where a bad id fails in the lookup instead
    if isinstance(lead, torch.Tensor) and not torch.compiler.is_compiling() and bool(
            ((ids < 0) | (ids >= N_LEADS)).any()):  # one read
        raise ChannelError(f"lead ids must be in 0..11, got {ids.tolist()}")
    return ids


#: Medians of the two-stage baseline filter, in s (de Chazal et al. 2004: 200 ms removes QRS
#: and P waves, 600 ms the T wave; what is left is the baseline).
_BASELINE_WINDOWS = (0.2, 0.6)


def _median_filter(x: torch.Tensor, k: int) -> torch.Tensor:
    """Running median of odd length ``k`` over the last axis of ``(B, T)`` (edges replicated),
    evaluated every ``k // 8`` samples and linearly interpolated in between."""
    B, T = x.shape
    step = max(1, k // 8)
    padded = nn.functional.pad(x[:, None], (k // 2, k // 2), mode="replicate")[:, 0]
    med = padded.unfold(-1, k, step).median(dim=-1).values  # centres at 0, step, 2 step...
    pos = torch.arange(T, device=x.device, dtype=x.dtype) / step
    lo = pos.floor().long().clamp(max=med.shape[-1] - 1)
    hi = (lo + 1).clamp(max=med.shape[-1] - 1)
    w = (pos - lo.to(x.dtype)).clamp(0, 1)
    return med[:, lo] * (1 - w) + med[:, hi] * w


def remove_baseline(x: torch.Tensor, sfreq: float | None) -> torch.Tensor:
    """The input lead ``(B, T)`` without its DC offset and baseline wander.

    With ``sfreq``: minus the two-stage median baseline (200 ms then 600 ms medians; de Chazal,
    O'Dwyer & Reilly, IEEE TBME 51(7):1196-1206, 2004). Without it (a model built without
    ``sfreq``): minus the record's median, which removes the offset only. Both commute with a
    constant offset exactly: ``remove_baseline(x + c) == remove_baseline(x)``.
    """
    with torch.no_grad():
        if sfreq is None:
            base = x.median(dim=-1, keepdim=True).values
        else:
            base = x
            for seconds in _BASELINE_WINDOWS:
                base = _median_filter(base, int(round(seconds * sfreq)) // 2 * 2 + 1)
    return x - base


def _mv_per(units: str, what: str) -> float:
    """mV per unit of ``units``; ConfigError for anything but a voltage."""
    return mv_per_unit(units, what, needs="ECGNet needs a voltage")


def _robust_ptp(x: torch.Tensor):
    """Per record (first axis) of ``x``, :func:`~biosig.signal.ecg_leads.robust_ptp`."""
    return robust_ptp(x.detach().reshape(x.shape[0] if x.ndim > 1 else 1, -1).float().cpu()
                      .numpy())


def _refuse_flat_lead(x: torch.Tensor, what: str, unit: str) -> None:
    """ConfigError when the lead ``x`` (mV) is far smaller than any ECG lead: mV values in a
    file whose unit says µV (read as 1000 times too small), or a flat, disconnected lead."""
    ptp = float(_robust_ptp(x).min())
    if ptp < MIN_ECG_PTP_MV:
        raise ConfigError(
            f"{what} has a peak-to-peak amplitude of {ptp:.3g} mV (its unit: {unit!r}), but "
            f"an ECG lead's is at least about {MIN_ECG_PTP_MV:g} mV: a flat or disconnected "
            f"lead, or values in mV stored with the unit µV (then set the channel's unit to mV)"
        )


def _refuse_microvolts(x: torch.Tensor, what: str = "the input",
                      fix: str = "give its unit: generate(..., units='µV')") -> None:
    """ConfigError when ``x`` (mV) looks like µV: a robust peak-to-peak amplitude (0.5th to
    99.5th percentile of a record, on at most about 65,000 of its samples) over 50 mV."""
    ptp = float(_robust_ptp(x).max()) if x.numel() else 0.0
    if ptp > MAX_ECG_PTP_MV:
        raise ConfigError(
            f"{what} has a peak-to-peak amplitude of {ptp:.4g} mV, but an ECG's is a few mV: "
            f"it looks like µV; ECGNet takes mV (PTB-XL's physical unit): divide it by 1000, or "
            f"{fix}"
        )


def _refuse_non_finite(x: torch.Tensor, what: str) -> None:
    """ConfigError when ``x`` holds NaN or infinite samples: the LSTM carries one into every
    later sample of all 12 generated leads (it was accepted and gave NaN leads silently)."""
    bad = ~torch.isfinite(x.detach())
    if bad.any():
        first = bad.nonzero()[0].tolist()
        raise ConfigError(
            f"{what} holds {int(bad.sum())} NaN or infinite samples (the first at index "
            f"{tuple(first) if len(first) > 1 else first[0]}); ECGNet would carry them into "
            "every later sample of all 12 leads: interpolate or cut them out first"
        )


def _lead_of_channel(name: str) -> str:
    """Standard lead of a channel name (``"II"``, ``"MLII"``, ``"ECG V2"``); a generic name
    (``"ECG"``, ``"ECG 1"``) or any other raises ChannelError asking for ``lead=``."""
    lead = lead_of_channel(name)
    if lead is None:
        raise ChannelError(
            f"channel {name!r} does not say which ECG lead it is; pass lead= (e.g. "
            f"lead='II' for a Holter 'ECG' channel recorded as lead II; one of "
            f"{', '.join(LEADS)} or MLII)"
        )
    return lead


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
    coeffs = torch.tensor(
        [LIMB_COEFFS[n] for n in LEADS[:6]] + [(0.0, 0.0)] * 6, dtype=x.dtype, device=x.device
    )
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
    limb = torch.stack([lead_i, lead_ii, iii, avr, avl, avf], dim=1)
    out = torch.cat([limb, indep[:, 2:]], dim=1)
    return _pass_through(out, x, lead)


def _pass_through(out: torch.Tensor, x: torch.Tensor, lead: torch.Tensor) -> torch.Tensor:
    mask = torch.nn.functional.one_hot(lead, N_LEADS).to(torch.bool)[:, :, None]
    return torch.where(mask, x[:, None, :], out)


def _init_leads(
    model: BiosigModel, n_chans, n_outputs, n_times, sfreq, chs_info, input_lead: str
) -> None:
    """Signal arguments of both ECGNet networks: 12 leads in the standard order, named by the model.

    ``chs_info`` may be given (its names must be the 12 leads in order); when it is not, the model
    names its channels itself, so ``model.ch_names`` is always the lead order it expects.
    """
    name = type(model).__name__
    if n_chans is not None and n_chans != N_LEADS:
        raise ChannelError(f"{name} works on 12-lead ECGs (n_chans=12), got n_chans={n_chans}")
    if chs_info is not None:
        given = [str(ch.get("ch_name", ch.get("name"))) for ch in chs_info]
        try:
            canonical = [normalize_lead_name(n) for n in given]
        except ChannelError as err:
            raise ChannelError(f"{name}: chs_info: {err}") from None
        if canonical != list(LEADS):
            raise ChannelError(
                f"{name} expects the leads in the order {', '.join(LEADS)}; "
                f"chs_info names {', '.join(given)}"
            )
    model._init_signal(N_LEADS, n_outputs, n_times, sfreq, chs_info)
    if model.chs_info is None:
        model.chs_info = [{"ch_name": lead} for lead in LEADS]
    model.input_lead = LEADS[lead_index(input_lead)]


def _lead_difference(model: BiosigModel, names) -> str:
    """:meth:`BiosigModel.ch_names_difference` of both ECGNet networks: the data's channels are
    the leads of the 12-lead records the task trains on (the generator's input lead is picked
    from them by position), compared by the lead each name gives (:func:`lead_of_channel`:
    ``AVR``, ``ECG V2``, ``MLII`` as ``generate_recording`` reads them), so ``aVR`` and ``AVR``
    agree but another lead order does not."""
    leads = [lead_of_channel(str(n)) or str(n) for n in names]
    return channel_difference(leads, model.ch_names)


class GeneratorFeatures(NamedTuple):
    """What :meth:`ECGNet.forward_features` gives its head: the per-time-step BiLSTM state with
    the input lead appended ``(B, T, 2 * hidden_size + 1)``, the input lead ``(B, T)`` and its
    ids ``(B,)`` (the head assembles the 12 leads around the input lead)."""

    hidden: torch.Tensor
    lead: torch.Tensor
    ids: torch.Tensor


def _condition(x: torch.Tensor, lead) -> tuple[torch.Tensor, torch.Tensor]:
    """The input lead ``(B, T)`` and its ids ``(B,)`` from a ``(B, 12, T)``, ``(B, 1, T)`` or
    ``(B, T)`` tensor (for the last two, ``x`` is the input lead itself)."""
    if x.ndim == 3 and x.shape[1] == N_LEADS:
        return ECGNet.select_input(x, lead)
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 2:
        raise ShapeError(f"expected (B, 1, T), (B, T) or (B, 12, T) input, got {tuple(x.shape)}")
    return x, _lead_ids(lead, x.shape[0], x.device)


@register_model("ecgnet")
class ECGNet(BiosigModel):
    """ECGNet generator (Bagga et al. 2023): any single ECG lead -> 12-lead ECG (stacked BiLSTM).

    Per time step the input is ``[x_t, one_hot(lead) (12), z_t (noise_dim)]``; the BiLSTM state
    and ``x_t`` (a linear skip) go through a linear ``final_layer`` to the 8 independent leads
    (``einthoven=True``) or 12 leads, and the 12-lead ECG is assembled with the input lead
    passed through bit-exactly. The conditional critic is :class:`ECGNetCritic`
    (``"ecgnet_critic"``); :class:`biosig.tasks.gan.GANTask` trains the pair. Signals are ECG
    in **mV**, leads in the standard order I, II, III, aVR, aVL, aVF, V1..V6. Works at any
    ``sfreq``/``n_times`` (the LSTM runs over time).

    Contract: ``forward_features`` gives :class:`GeneratorFeatures` (the per-time-step BiLSTM
    state with the skip, and the input lead with its ids); ``forward_head`` applies
    ``final_layer`` per time step and assembles the 12 leads around the input lead, so
    ``forward = forward_head(forward_features(x))``. The head's size is fixed by the lead
    structure, so ``reset_head`` only re-initialises it (``n_outputs`` must stay 12).

    Parameters
    ----------
    n_chans, n_outputs : 12 (``None``: not given, means 12).
    n_times, sfreq : recorded for the model card; not needed by the layers. ``sfreq`` is the
        rate of the training data (the paper does not state one, so there is no default):
        ``generate(sfreq=)`` and :meth:`generate_recording` check inputs against it and the
        baseline filter uses it; a model built without it refuses ``generate(sfreq=...)`` and
        every recording instead of accepting any rate (``generate(x)`` works as before).
    chs_info : optional; its names must be the 12 leads in the standard order (the model names
        its channels itself when it is not given: ``model.ch_names``). The data's channels are
        the 12 leads of the records a task trains on, not the single input lead: a task refuses
        data whose channel names give another lead order (``AVR`` for ``aVR`` is the same lead).
    input_lead : default input lead when ``forward`` gets no ``lead`` (any of the 12).
    hidden_size, n_layers : BiLSTM size (*design choice*: 2 x 128 per direction, as Zhu et al.
        2019's two BiLSTM layers).
    noise_dim : per-time-step Gaussian noise channels (*design choice*: 0, pix2pix-style
        deterministic generator; > 0 adds z).
    drop_prob : dropout between LSTM layers.
    einthoven : True (default): generate the 8 independent leads and derive III, aVR, aVL, aVF
        exactly (see :func:`assemble_12_leads`); False: plain 12-lead head (11 generated + input).
    remove_baseline : the network sees the input lead without its DC offset and baseline wander
        (:func:`remove_baseline`; *design choice*), so a +5 mV electrode offset or a drifting
        Holter baseline does not change the generated leads. The input lead itself is still
        passed through unchanged, and the derived limb leads follow it (as they do on a real
        ECG, where an offset of lead I appears in III, aVR and aVL too).

    Input contract for real recordings: :meth:`generate_recording` takes a
    :class:`~biosig.signal.recording.Recording`, refuses a lead sampled at another rate than
    the model's ``sfreq``, converts µV/V to mV (``generate``: ``units=``; either refuses
    µV-sized values given as mV), and reads the lead from the channel name
    (``II``, ``MLII``, ``ECG V2``); a generic name (``ECG``, ``ECG 1``) needs ``lead=``.

    Notes
    -----
    Parameter count at the defaults (tested): **543,760** (BiLSTM 541,696 + head 2,064;
    544,792 with ``einthoven=False``). The paper does not report sizes.

    References
    ----------
    Bagga, M., Jeon, H., Issokson, A. (2023). ECGNet: A generative adversarial network (GAN)
    approach to the synthesis of 12-lead ECG signals from single lead inputs. arXiv:2310.03753.
    Zhu, F. et al. (2019). Electrocardiogram generation with a bidirectional LSTM-CNN generative
    adversarial network. Sci Rep 9:6734.
    """

    paper = "Bagga et al., arXiv 2310.03753 (sizes: design choice, after Zhu et al. 2019)"
    task = "GAN generator: any single ECG lead -> 12 leads"
    gan_role = "generator"
    paper_settings = dict(n_chans=12, n_outputs=12)
    paper_n_params = 543_760
    modality = "ECG"
    units = "mV"
    length_agnostic = True
    ch_names_difference = _lead_difference

    def __init__(
        self,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        chs_info: list | None = None,
        input_lead: str = "I",
        hidden_size: int = 128,
        n_layers: int = 2,
        noise_dim: int = 0,
        drop_prob: float = 0.0,
        einthoven: bool = True,
        remove_baseline: bool = True,
    ):
        super().__init__()
        _init_leads(self, n_chans, N_LEADS, n_times, sfreq, chs_info, input_lead)
        #: the input leads the weights were trained from (the card's ``recipe.train_leads``,
        #: set by ``from_pretrained``); None: unknown, any lead is taken
        self.train_leads: list[str] | None = None
        if n_outputs is not None and n_outputs != N_LEADS:
            raise ConfigError(f"ECGNet outputs 12 leads (n_outputs=12), got n_outputs={n_outputs}")
        if hidden_size < 1 or n_layers < 1 or noise_dim < 0:
            raise ConfigError("ECGNet: hidden_size and n_layers must be >= 1, noise_dim >= 0")
        self.noise_dim = noise_dim
        self.einthoven = einthoven
        self.remove_baseline = bool(remove_baseline)
        self.lstm = nn.LSTM(
            input_size=1 + N_LEADS + noise_dim,
            hidden_size=hidden_size,
            num_layers=n_layers,
            bidirectional=True,
            batch_first=True,
            dropout=drop_prob if n_layers > 1 else 0.0,
        )
        # the head also sees x_t itself (a linear skip): a per-lead linear map of the input lead
        # is then a special case, and the LSTM learns the morphology on top of it (design choice)
        self.final_layer = self._new_head()

    def _new_head(self) -> nn.Linear:
        return nn.Linear(2 * self.lstm.hidden_size + 1, len(_INDEP) if self.einthoven else N_LEADS)

    @staticmethod
    def select_input(x: torch.Tensor, lead) -> tuple[torch.Tensor, torch.Tensor]:
        """From a 12-lead batch ``(B, 12, T)`` take the input lead -> ``((B, T), ids (B,))``."""
        if x.ndim != 3 or x.shape[1] != N_LEADS:
            raise ShapeError(f"expected a (batch, 12, n_times) ECG, got {tuple(x.shape)}")
        ids = _lead_ids(lead, x.shape[0], x.device)
        return x[torch.arange(x.shape[0], device=x.device), ids], ids

    def _features(self, x: torch.Tensor, ids: torch.Tensor, noise: torch.Tensor | None):
        B, T = x.shape
        one_hot = nn.functional.one_hot(ids, N_LEADS).to(x.dtype)[:, None, :]
        feats = [x[:, :, None], one_hot.expand(B, T, N_LEADS)]
        if self.noise_dim:
            if noise is None:
                noise = torch.randn(B, self.noise_dim, T, dtype=x.dtype, device=x.device)
            if noise.shape != (B, self.noise_dim, T):
                raise ConfigError(
                    f"noise must be (B, {self.noise_dim}, T), got {tuple(noise.shape)}"
                )
            feats.append(noise.transpose(1, 2))
        h, _ = self.lstm(torch.cat(feats, dim=-1))
        return torch.cat([h, x[:, :, None]], dim=-1)

    def forward_features(
        self, x: torch.Tensor, lead=None, noise: torch.Tensor | None = None
    ) -> GeneratorFeatures:
        """BiLSTM state + input lead per time step, with the input lead and its ids.

        The network (BiLSTM and skip) sees the input lead without its baseline when
        ``remove_baseline``; ``GeneratorFeatures.lead`` is the lead as given (passed through).
        """
        x = self.check_dtype(x)
        if x.ndim == 2 and x.shape[0] == N_LEADS:
            # one unbatched 12-lead record would otherwise be 12 records of the input lead
            raise ShapeError(
                f"ECGNet: a (12, {x.shape[1]}) input is ambiguous (one 12-lead record, or 12 "
                "records of one lead?): pass one record as (1, 12, T), e.g. x[None], or 12 "
                "single-lead records as (12, 1, T), e.g. x[:, None]"
            )
        x, ids = _condition(x, self.input_lead if lead is None else lead)
        seen = remove_baseline(x, self.sfreq) if self.remove_baseline else x
        return GeneratorFeatures(self._features(seen, ids, noise), x, ids)

    def forward_head(self, features: GeneratorFeatures) -> torch.Tensor:
        """Per-time-step linear head, then the 12 leads assembled: ``(B, 12, T)``."""
        y = self.final_layer(features.hidden).transpose(1, 2)  # (B, 8 | 12, T)
        if self.einthoven:
            return assemble_12_leads(features.lead, features.ids, y)
        return _pass_through(y, features.lead, features.ids)

    def forward(self, x: torch.Tensor, lead=None, noise: torch.Tensor | None = None):
        """Generate 12 leads.

        Parameters
        ----------
        x : tensor (B, 1, T) or (B, T): the input lead in mV; or (B, 12, T): a 12-lead ECG from
            which the input lead is taken. A 2-D ``(12, T)`` tensor is refused as ambiguous (one
            unbatched 12-lead record would be read as 12 records of the input lead).
        lead : lead name/index for the whole batch, or a sequence/LongTensor (B,) per record
            (default: ``input_lead``).
        noise : optional (B, noise_dim, T).

        Returns
        -------
        tensor (B, 12, T) in mV; the input lead equals ``x`` exactly.
        """
        return self.forward_head(self.forward_features(x, lead, noise))

    @torch.no_grad()
    def generate(
        self,
        x,
        lead=None,
        noise: torch.Tensor | None = None,
        sfreq: float | None = None,
        units: str = "mV",
    ) -> torch.Tensor:
        """Inference helper: eval mode, no gradients; same arguments as ``forward``.

        ``x``: a tensor or a numpy array (moved to the weights' device); a floating ``x`` of
        another dtype (numpy's float64) is cast to the weights' dtype (``forward`` refuses it).
        Returns a tensor. An empty ``x`` raises ShapeError, and so does an integer one (a
        file's ADC counts have no unit: the message says how to convert them).
        ``sfreq``: the rate of ``x``; a rate other than the model's raises ConfigError, and so
        does any rate given to a model built without ``sfreq`` (it cannot check it).
        ``units``: those of ``x`` (``"mV"``, ``"µV"``/``"uV"`` or ``"V"``), converted to mV. An
        input far larger than an ECG in mV (robust peak-to-peak over 50 mV: µV read as mV)
        or with NaN or infinite samples raises ConfigError.
        """
        self._check_rate(sfreq, "the input lead")
        x = self._as_input(x, "ECGNet.generate: the input")
        _refuse_non_finite(x, "the input")
        scale = _mv_per(units, "the input")
        return self._generate(x * scale if scale != 1.0 else x, lead, noise, "the input")

    def _as_input(self, x, what: str) -> torch.Tensor:
        """``x`` as a tensor (an array on the weights' device), a floating one in the weights'
        dtype; ShapeError naming ``what`` when it is empty or holds integers."""
        p = next(self.parameters())
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x, device=p.device)
        if not x.is_floating_point():  # ADC counts? Cast, they would pass as mV (or µV)
            raise ShapeError(integer_input_error(
                what, x.dtype, p.dtype, "mV",
                cast="cast them (x.float(), numpy: x.astype('float32')); values in µV or V: "
                     "give their unit too, generate(x.float(), units='µV') (PTB-XL's WFDB "
                     "counts, gain 1000/mV and baseline 0, are µV)"))
        if x.dtype != p.dtype:
            x = x.to(p.dtype)
        if x.numel() == 0:
            raise ShapeError(f"{what} is empty (shape {tuple(x.shape)}); ECGNet needs at "
                             "least one record of at least one sample")
        return x

    @torch.no_grad()
    def _generate(self, x: torch.Tensor, lead, noise, what: str,
                  fix: str = "give its unit: generate(..., units='µV')") -> torch.Tensor:
        """``forward`` in eval mode on a finite mV input, after the µV check and that of the
        input lead against the leads the weights were trained from."""
        _refuse_microvolts(x, what, fix)
        self._refuse_untrained_lead(lead, x.shape[0], what)
        was = self.training
        self.eval()
        try:
            return self.forward(x, lead, noise)
        finally:
            self.train(was)

    def keep_card(self, card: dict) -> None:
        """As :meth:`BiosigModel.keep_card`, and the input leads the weights were trained from
        (the card's ``recipe.train_leads``, as ``recipes/ptbxl/ecgnet.py`` and
        :class:`~biosig.tasks.gan.GANTask` write it) as ``train_leads``."""
        super().keep_card(card)
        recipe = card.get("recipe")
        leads = recipe.get("train_leads") if isinstance(recipe, dict) else None
        if leads is None:
            return
        try:
            self.train_leads = [LEADS[lead_index(lead)] for lead in leads]
        except (ChannelError, TypeError) as err:
            raise ConfigError(f"the card's recipe.train_leads {leads!r} are not ECG leads: "
                              f"{err}") from None

    def _refuse_untrained_lead(self, lead, batch: int, what: str) -> None:
        """ConfigError when an input lead is not one the weights were trained from: the network
        never saw its one-hot code, and its 12 leads would be generated from an unlearnt input."""
        if self.train_leads is None:
            return
        ids = _lead_ids(self.input_lead if lead is None else lead, batch, "cpu")
        untrained = [LEADS[i] for i in sorted(set(ids.tolist()))
                     if LEADS[i] not in self.train_leads]
        if untrained:
            raise ConfigError(
                f"{what}: lead {', '.join(untrained)} is not one these weights were trained "
                f"from ({', '.join(self.train_leads)}: the card's recipe.train_leads), so the 12 "
                "leads generated from it would be meaningless: give one of those leads, or train "
                f"from {untrained[0]} too (recipes/ptbxl/ecgnet.py --train-leads all)")

    def _check_rate(self, sfreq: float | None, what: str) -> None:
        if sfreq is None:
            return
        if self.sfreq is None:
            raise ConfigError(
                f"sfreq={float(sfreq):g} Hz was given for {what}, but this ECGNet was built "
                "without sfreq, so it cannot check that rate against its training data's (the "
                "paper does not state one): build it as ECGNet(sfreq=...) at the rate it was "
                "trained at, or leave sfreq out"
            )
        if abs(float(sfreq) - float(self.sfreq)) > 1e-6 * float(self.sfreq):
            raise ConfigError(
                f"{what} is sampled at {float(sfreq):g} Hz but this ECGNet works at "
                f"{float(self.sfreq):g} Hz; resample it first (e.g. "
                f"biosig.signal.preprocessing.Resample({float(self.sfreq):g}))"
            )

    def generate_recording(
        self,
        rec,
        channel: str | None = None,
        lead: str | None = None,
        noise: torch.Tensor | None = None,
    ):
        """12 leads from one channel of a real recording -> a 12-lead ``Recording`` (mV).

        Parameters
        ----------
        rec : :class:`~biosig.signal.recording.Recording` holding the input lead.
        channel : which channel to use (default: the only one; required when there are several).
        lead : which standard lead that channel is (default: read from its name: ``II``,
            ``MLII``, ``ECG V2``...). Generic names (``ECG``, ``ECG 1``) need it.
        noise : optional ``(1, noise_dim, T)``.

        Raises
        ------
        ConfigError : the model has no ``sfreq``, the recording's rate differs from it, or its
            unit is not a voltage or says mV of µV-sized values, or the lead is flat (robust
            peak-to-peak under 0.02 mV: also mV values stored as µV), or the channel holds NaN
            or infinite samples.
        ChannelError : no/unknown ``channel``, or a channel name that does not name a lead.

        Errors about the recording start with its file (``rec.meta["source"]``) when it has one.
        """
        from biosig.signal.recording import Recording

        if self.sfreq is None:
            raise ConfigError(
                "this ECGNet was built without sfreq, so the rate of its training "
                "data is unknown; build it with sfreq= to use real recordings"
            )
        source = str((getattr(rec, "meta", None) or {}).get("source") or "")
        at = f"{source}: " if source else ""  # errors about the recording name its file
        names = list(rec.ch_names)
        if channel is None:
            if len(names) != 1:
                raise ChannelError(
                    f"{at}the recording has {len(names)} channels ({', '.join(names)});"
                    " pass channel= naming the input lead's channel"
                )
            channel = names[0]
        if channel not in names:
            raise ChannelError(f"{at}channel {channel!r} not in the recording "
                               f"({', '.join(names)})")
        what = f"{at}channel {channel!r}"
        self._check_rate(rec.sfreq, what)
        if lead is not None:
            name = LEADS[lead_index(lead)]
        else:
            try:
                name = _lead_of_channel(channel)
            except ChannelError as err:
                raise ChannelError(f"{at}{err}") from None
        i = names.index(channel)
        unit = (rec.units[i] if rec.units else "mV") or "mV"
        scale = _mv_per(unit, what)
        x = self._as_input(rec.data[i] * scale, what)[None]
        _refuse_non_finite(x[0], what)  # index = sample
        _refuse_flat_lead(x, what, unit)
        fix = f"set the channel's unit to µV (the recording says {unit!r})"
        out = self._generate(x, name, noise, what, fix)[0].cpu().numpy()
        return Recording(
            data=out,
            sfreq=rec.sfreq,
            ch_names=list(LEADS),
            ch_types=["ecg"] * N_LEADS,
            units=["mV"] * N_LEADS,
            meta={"generated_by": "ecgnet", "input_lead": name},
        )

    def reset_head(self, n_outputs: int) -> None:
        """Re-initialise ``final_layer``; its size follows the leads: ``n_outputs`` must be 12."""
        if n_outputs != N_LEADS:
            raise ConfigError(
                f"ECGNet always outputs the 12 leads; cannot reset its head to "
                f"n_outputs={n_outputs}"
            )
        w = self.final_layer.weight
        self.final_layer = self._new_head().to(w.device, w.dtype)


@register_model("ecgnet_critic")
class ECGNetCritic(BiosigModel):
    """ECGNet's conditional 1-D CNN critic on pix2pix pairs ``(input lead, candidate 12 leads)``.

    Bagga et al. (2023) state a CNN discriminator; its layout is a *design choice*. Input
    channels: the 12 candidate leads + the conditioning lead (13); the lead identity enters as a
    learned per-lead bias after the first convolution (equivalent to 12 constant one-hot
    channels). Strided conv + LeakyReLU(0.2) blocks (no batch norm, so WGAN-GP applies); the
    features are their global average, the head a linear layer giving one logit / critic score
    per record (``n_outputs = 1``, returned as ``(B,)``).

    Parameters
    ----------
    n_chans : 12 (``None``: not given, means 12). n_outputs : scores per record (default 1).
    n_times, sfreq, chs_info : as for :class:`ECGNet`.
    input_lead : conditioning lead when ``forward`` gets neither ``cond`` nor ``lead``.
    channels, kernel_size, stride : conv widths, kernel and stride (*design choice*).
    activation : activation class (LeakyReLU uses slope 0.2).
    spectral_norm : spectral normalisation of every conv and the head.

    Parameter count at the defaults (tested): **967,681**.
    """

    paper = "Bagga et al., arXiv 2310.03753 (layout: design choice, pix2pix critic)"
    task = "GAN critic of ECGNet: (input lead, 12 leads) -> score"
    gan_role = "critic"
    paper_settings = dict(n_chans=12)
    paper_n_params = 967_681
    modality = "ECG"
    units = "mV"
    length_agnostic = True
    ch_names_difference = _lead_difference

    def __init__(
        self,
        n_chans: int | None = None,
        n_outputs: int | None = None,
        n_times: int | None = None,
        sfreq: float | None = None,
        chs_info: list | None = None,
        input_lead: str = "I",
        channels: tuple[int, ...] = (64, 128, 256, 256),
        kernel_size: int = 9,
        stride: int = 2,
        activation: type[nn.Module] = nn.LeakyReLU,
        spectral_norm: bool = False,
    ):
        super().__init__()
        _init_leads(
            self,
            n_chans,
            1 if n_outputs is None else n_outputs,
            n_times,
            sfreq,
            chs_info,
            input_lead,
        )
        channels = tuple(int(c) for c in channels)
        if len(channels) < 1:
            raise ConfigError("ECGNetCritic needs at least one conv layer (channels)")
        self.spectral_norm = spectral_norm
        layers = []
        c_in = N_LEADS + 1
        for c in channels:
            conv = nn.Conv1d(c_in, c, kernel_size, stride=stride, padding=kernel_size // 2)
            layers.append(self._wrap(conv))
            c_in = c
        self.convs = nn.ModuleList(layers)
        self.acts = nn.ModuleList(
            [activation(0.2) if activation is nn.LeakyReLU else activation() for _ in channels]
        )
        self.lead_embedding = nn.Embedding(N_LEADS, channels[0])
        nn.init.zeros_(self.lead_embedding.weight)
        self.final_layer = self._wrap(nn.Linear(c_in, self.n_outputs))

    def _wrap(self, module: nn.Module) -> nn.Module:
        if self.spectral_norm:
            return nn.utils.parametrizations.spectral_norm(module)
        return module

    def forward_features(
        self, ecg: torch.Tensor, cond: torch.Tensor | None = None, lead=None
    ) -> torch.Tensor:
        """Pooled conv features ``(B, channels[-1])`` of the pair (``cond``, ``ecg``).

        ecg: (B, 12, T) candidate; cond: (B, T) or (B, 1, T) input lead (default: taken from
        ``ecg``); lead: name, index or ids (B,) of the input lead (default ``input_lead``).
        """
        self.check_input(ecg, n_times=False)
        lead = self.input_lead if lead is None else lead
        if cond is None:
            cond, ids = ECGNet.select_input(ecg, lead)
        else:
            cond, ids = _condition(cond, lead)
        h = torch.cat([ecg, cond[:, None, :]], dim=1)
        for i, (conv, act) in enumerate(zip(self.convs, self.acts)):
            h = conv(h)
            if i == 0:
                h = h + self.lead_embedding(ids)[:, :, None]
            h = act(h)
        return h.mean(dim=-1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        out = self.final_layer(features)
        return out.squeeze(-1) if self.n_outputs == 1 else out

    def forward(self, ecg: torch.Tensor, cond: torch.Tensor | None = None, lead=None):
        """Critic logits ``(B,)`` (``(B, n_outputs)`` when ``n_outputs > 1``)."""
        return self.forward_head(self.forward_features(ecg, cond, lead))

    def reset_head(self, n_outputs: int) -> None:
        super().reset_head(n_outputs)
        self.final_layer = self._wrap(self.final_layer)  # spectral norm again where asked


_MOVED = {"ECGNetGenerator": "ECGNet", "ECGNetDiscriminator": "ECGNetCritic"}


def __getattr__(name: str):
    if name in _MOVED:
        import warnings

        warnings.warn(
            f"biosig.models.ecgnet.{name} is now {_MOVED[name]} (a registered "
            "BiosigModel with the signal arguments first)",
            FutureWarning,
            stacklevel=2,
        )
        return globals()[_MOVED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
