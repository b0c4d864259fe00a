"""Synthetic EEG from a pretrained diffusion denoiser (EEGDM's SSMDP), written as EDF.

The SSMDP is single-channel and channel-conditioned: every channel of the card's montage is
generated independently with its own channel id (no spatial coherence between channels). The
windows are concatenated in time into one recording, one annotation per window
(``"synthetic"``), in µV with the card's channel names.

References: Puah et al., "EEGDM", arXiv:2508.14086 (2025).
"""

from __future__ import annotations

from pathlib import Path

from biosig.errors import ConfigError

__all__ = ["generate", "generate_main"]

#: The sampler's settings a card's recipe must record (``DiffusionTask.save_pretrained`` does).
SAMPLER_KEYS = ("n_diffusion_steps", "schedule", "clip_sample")


def generate(weights, n_windows: int = 1, *, method: str = "ddim", steps: int | None = 10,
             n_times: int | None = None, seed: int = 0, out=None, device: str = "cpu"):
    """Generate ``n_windows`` windows of EEG from an SSMDP weights folder.

    Parameters
    ----------
    weights : a weights folder of the denoiser (``DiffusionTask.save_pretrained``); its card
        gives the channel names, sampling rate, window length and (``recipe``) the schedule.
    method, steps : ``"ddim"`` with ``steps`` steps (default 10) or ``"ddpm"`` (ancestral,
        all ``T`` steps; ``steps`` ignored).
    n_times : samples per window (default: the card's).
    seed : seed of the noise.
    out : an ``.edf`` path to write (returned), or ``None`` to return the Recording.
    """
    import numpy as np
    import torch

    from biosig.diffusion import GaussianDiffusion
    from biosig.models.weights import load_card, load_pretrained
    from biosig.signal.recording import Annotations, Recording

    if out is not None and Path(out).suffix.lower() != ".edf":  # before the sampling
        raise ConfigError(f"generate: out={str(out)!r} must be an .edf file (the windows are "
                          "written as EDF)")
    if n_windows < 1:
        raise ConfigError(f"generate: n_windows (-n) must be >= 1, got {n_windows}")
    if n_times is not None and n_times < 1:  # 0 was read as "the card's", < 0 a traceback
        raise ConfigError(f"generate: n_times (--n-times) must be >= 1 or None (the card's "
                          f"window length), got {n_times}")
    card = load_card(weights)
    net = load_pretrained(weights).to(device).eval()
    for attr in ("encode_signal", "decode_signal", "channel_ids"):
        if not hasattr(net, attr):
            raise ConfigError(f"generate: {weights} holds a {type(net).__name__}, not a "
                              "diffusion denoiser (SSMDP)")
    data, recipe = card.get("data") or {}, card.get("recipe")
    recipe = recipe if isinstance(recipe, dict) else {}
    n_times = data.get("n_times") if n_times is None else n_times
    if not n_times:
        raise ConfigError(f"generate: the card of {weights} records no window length "
                          "(data.n_times): give it (--n-times N, in samples)")
    ids = net.channel_ids
    if ids is None:
        raise ConfigError(f"generate: the SSMDP of {weights} has no channel ids (n_chans)")
    names = data.get("ch_names") or [f"ch{i}" for i in ids]  # the ids the SSMDP learned
    if len(names) != len(ids):
        raise ConfigError(f"generate: the card of {weights} names {len(names)} channels "
                          f"(data.ch_names) but its SSMDP has {len(ids)}")
    missing = [k for k in SAMPLER_KEYS if k not in recipe]
    if missing:
        raise ConfigError(f"generate: the card of {weights} does not record the diffusion "
                          f"schedule (recipe lacks {missing}); save the weights with "
                          "DiffusionTask.save_pretrained, which records it, or add the values "
                          "the SSMDP was trained with (EEGDM: 50, 'cosine', 1.0) to card.json's "
                          "recipe")
    settings = {k: recipe[k] for k in SAMPLER_KEYS}
    diffusion = GaussianDiffusion(int(settings["n_diffusion_steps"]), settings["schedule"],
                                  settings["clip_sample"])
    c = len(ids)
    flat = torch.tensor(ids, device=device).repeat(n_windows)[:, None]
    gen = torch.Generator(device=device).manual_seed(seed)
    y = diffusion.sample(lambda xt, t: net(xt, t, flat), (n_windows * c, 1, int(n_times)),
                         steps=None if method == "ddpm" else steps, method=method,
                         device=device, generator=gen)
    x = net.decode_signal(y).reshape(n_windows, c, int(n_times)).cpu().numpy()
    sfreq = float(data["sfreq"])
    win_s = int(n_times) / sfreq
    rec = Recording(
        data=np.concatenate(list(x), axis=1).astype(np.float32), sfreq=sfreq,
        ch_names=[str(n) for n in names], ch_types=["eeg"] * c, units=["uV"] * c,
        annotations=Annotations.from_lists(np.arange(n_windows) * win_s,
                                           np.full(n_windows, win_s),
                                           np.asarray(["synthetic"] * n_windows, dtype=object)),
        meta={"format": "synthetic", "source": f"generated by {Path(str(weights)).name}",
              "method": method, "steps": steps if method == "ddim" else settings[
                  "n_diffusion_steps"], "seed": seed})
    if out is None:
        return rec
    from biosig.io.write import write_edf

    return write_edf(out, rec)


def generate_main(argv: list[str]) -> int:
    """``biosig generate WEIGHTS OUT.edf [-n N] [--method ddim|ddpm] [--steps S] [--seed K]``
    (``--help`` imports no torch: the sampling's imports are in :func:`generate`)."""
    from biosig._argparse import ArgumentParser, HelpFormatter

    p = ArgumentParser(prog="biosig generate", formatter_class=HelpFormatter,
                       description="Synthetic EEG from an SSMDP weights folder -> EDF")
    p.add_argument("weights", help="weights folder of a pretrained SSMDP")
    p.add_argument("out", help="EDF file to write")
    p.add_argument("-n", "--n-windows", type=int, default=1, help="windows to generate")
    p.add_argument("--method", choices=["ddim", "ddpm"], default="ddim",
                   help="sampler: ddim (few steps) or ddpm (ancestral, all the schedule's steps)")
    p.add_argument("--steps", type=int, default=None,
                   help="DDIM steps (default: 10; ddpm runs all T steps and takes none)")
    p.add_argument("--n-times", type=int, default=None,
                   help="samples per window (default: the weights' model card's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    a = p.parse_args(argv)
    if a.method == "ddpm" and a.steps is not None:
        raise ConfigError(f"--steps {a.steps}: ancestral sampling (--method ddpm) runs all the "
                          "schedule's steps; use --method ddim for fewer")
    steps = 10 if a.steps is None else a.steps
    path = generate(a.weights, a.n_windows, method=a.method, steps=steps, n_times=a.n_times,
                    seed=a.seed, out=a.out)
    print(path)
    return 0
