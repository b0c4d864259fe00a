"""biosig generate: synthetic EEG from an SSMDP weights folder, written as EDF and read back."""

from __future__ import annotations

import json
import numpy as np
import pytest
import torch

from biosig.analysis.generate import generate
from biosig.cli import main
from biosig.errors import ConfigError, InvalidFileError
from biosig.io import read_recording
from biosig.models import LFT, SSMDP

NAMES = ["FP1-F7", "F7-T3", "T3-T5"]


@pytest.fixture()
def folder(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = SSMDP(n_chans=3, n_times=40, sfreq=20.0, n_layers=2, d_model=8, d_state=4,
                d_embed=4, d_cond=8)
    torch.nn.init.normal_(net.final_layer[2].weight, std=0.5)  # not the zero-init output
    return net.save_pretrained(tmp_path / "ssmdp", data={"ch_names": NAMES},
                               recipe={"n_diffusion_steps": 10, "schedule": "cosine",
                                       "clip_sample": 1.0})


def test_generate_writes_edf_with_names_units_and_windows(folder, tmp_path):
    rec = generate(folder, 2, steps=3, seed=1)
    assert rec.data.shape == (3, 80) and rec.ch_names == NAMES and rec.units == ["uV"] * 3
    assert np.isfinite(rec.data).all() and rec.data.std() > 0
    np.testing.assert_array_equal(generate(folder, 2, steps=3, seed=1).data, rec.data)
    assert main(["generate", str(folder), str(tmp_path / "gen.edf"), "-n", "2", "--steps", "3",
                 "--seed", "1"]) == 0
    back = read_recording(tmp_path / "gen.edf")
    assert back.ch_names == NAMES and back.sfreq == 20.0 and back.data.shape == (3, 80)
    assert set(back.units) == {"uV"}
    np.testing.assert_allclose(back.data, rec.data, atol=1e-3 * np.abs(rec.data).max() + 1e-6)
    assert list(back.annotations.onset) == [0.0, 2.0]
    import mne  # what other tools read: the names, rate, length and values in volts

    raw = mne.io.read_raw_edf(tmp_path / "gen.edf", preload=True, verbose="error")
    assert raw.ch_names == NAMES and raw.info["sfreq"] == 20.0 and raw.n_times == 80
    np.testing.assert_allclose(raw.get_data() * 1e6, rec.data,
                               atol=1e-3 * np.abs(rec.data).max() + 1e-6)
    assert np.abs(rec.data).max() <= 100.0 + 1e-4  # clip_sample 1.0 x input_scale 0.01 (docs)
    assert generate(folder, 1, method="ddpm").data.shape == (3, 40)  # 10 ancestral steps


def test_generate_refuses_a_classifier_and_a_missing_length(folder, tmp_path):
    lft = LFT(n_chans=3, n_outputs=2, n_pools=2, n_layers=2, d_model=8, n_heads=2,
              n_fusion_tokens=2, n_classifier_blocks=1, sfreq=20.0)
    with pytest.raises(ConfigError, match="not a diffusion denoiser"):
        generate(lft.save_pretrained(tmp_path / "lft"), 1)
    with pytest.raises(ConfigError, match=r"n_windows \(-n\) must be >= 1, got 0"):
        generate(folder, 0)
    # --n-times 0 was the card's length, a negative one a RuntimeError from torch.randn
    for n_times in (0, -5):
        with pytest.raises(ConfigError, match=rf"n_times \(--n-times\) must be >= 1.*{n_times}"):
            generate(folder, 1, n_times=n_times)
    card = json.loads((folder / "card.json").read_text())
    del card["data"]["n_times"]
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match=r"no window length \(data\.n_times\): give it "
                                          r"\(--n-times N"):
        generate(folder, 1)
    assert generate(folder, 1, n_times=16, steps=2).data.shape == (3, 16)
    # an output that is not .edf (it was written as EDF under that name) and a checkpoint file
    # given as the weights folder ("weights folder not found", though the file exists)
    with pytest.raises(ConfigError, match=r"out=.*g\.txt' must be an \.edf file"):
        generate(folder, 1, out=tmp_path / "g.txt")
    assert not (tmp_path / "g.txt").exists()
    (tmp_path / "last.ckpt").write_bytes(b"x")
    with pytest.raises(InvalidFileError, match=r"last\.ckpt: a file, not a weights folder"):
        generate(tmp_path / "last.ckpt", 1)


def test_generate_refuses_zero_steps_and_steps_with_ddpm(folder, tmp_path, capsys):
    """0 DDIM steps was read as "the default" (all T); --steps with ddpm was ignored."""
    with pytest.raises(ConfigError, match="timesteps|steps"):
        generate(folder, 1, steps=0)
    out = str(tmp_path / "g.edf")
    assert main(["generate", str(folder), out, "--method", "ddpm", "--steps", "5"]) == 2
    assert "--method ddim for fewer" in capsys.readouterr().err
    assert main(["generate", str(folder), out, "--steps", "0"]) == 2


def test_the_schedule_travels_with_the_task_weights(tmp_path):
    """A DiffusionTask trained with another schedule writes it into the card and generate uses
    it (it sampled with the default 50-step cosine schedule); a card without it is refused."""
    from biosig.tasks import DiffusionTask

    torch.manual_seed(0)
    task = DiffusionTask("ssmdp", dict(n_layers=2, d_model=8, d_state=4, d_embed=4, d_cond=8),
                         n_chans=3, n_times=40, sfreq=20.0, n_diffusion_steps=20,
                         schedule="linear", clip_sample=None)
    torch.nn.init.normal_(task.net.final_layer[2].weight, std=0.5)
    folder = task.save_pretrained(tmp_path / "w", recipe={"data": "built-in"})
    from biosig.models.weights import load_card

    assert load_card(folder)["recipe"] == {"data": "built-in", "n_diffusion_steps": 20,
                                           "schedule": "linear", "clip_sample": None}
    rec = generate(folder, 1, steps=4, seed=3)
    ref = task.sample(1, method="ddim", steps=4, generator=torch.Generator().manual_seed(3))
    np.testing.assert_allclose(rec.data, ref[0].numpy(), rtol=1e-5, atol=1e-4)
    with pytest.raises(ConfigError, match="contradicts"):
        task.save_pretrained(tmp_path / "x", recipe={"schedule": "cosine"})
    bare = task.net.save_pretrained(tmp_path / "bare")
    with pytest.raises(ConfigError, match=r"does not record the diffusion schedule"):
        generate(bare, 1)



def test_generate_refuses_a_card_naming_another_channel_count(folder):
    """Two names on the card of a three-channel SSMDP failed after the sampling, in the
    Recording ("2 channel names for 3 channels"), with no word of the card; now loading the
    card refuses them (keep_ch_names), naming the card."""
    card = json.loads((folder / "card.json").read_text())
    card["data"]["ch_names"] = NAMES[:2]
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match=r"ssmdp/card\.json: SSMDP: 2 channel names .* for "
                                          r"n_chans=3 channels"):
        generate(folder, 1, steps=2)
