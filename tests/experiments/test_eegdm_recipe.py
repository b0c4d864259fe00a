"""recipes/tuev/eegdm.py --tiny: pretrain -> latent cache -> LFT fine-tune beats chance; probe."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("tuev_eegdm", ROOT / "recipes/tuev/eegdm.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_split_is_subject_wise_with_the_papers_fraction_and_seed():
    mod = _script()
    meta = pd.DataFrame({"subject": np.repeat(np.arange(1, 8), 3),
                         "split": ["train"] * 15 + ["test"] * 6})
    idx = mod.split(meta)
    subjects = {k: set(meta["subject"].to_numpy()[v]) for k, v in idx.items()}
    assert len(subjects["val"]) == 1 and subjects["test"] == {6, 7}  # int(5 * 0.2) = 1
    assert not subjects["val"] & subjects["train"] and len(subjects["train"]) == 4
    assert sum(len(v) for v in idx.values()) == len(meta)
    np.testing.assert_array_equal(mod.split(meta)["val"], idx["val"])  # seeded (4523)
    # one training subject validates: no training windows is one line, not torch's traceback
    from biosig.errors import ConfigError

    one = pd.DataFrame({"subject": [1, 1, 2, 3], "split": ["train", "train", "test", "test"]})
    with pytest.raises(ConfigError, match=r"no train windows \(1 training subjects.*at least 4"):
        mod.split(one)


@pytest.mark.slow  # ~1-2 min on an idle 2-core machine (7 min measured under heavy load)
def test_tiny_pipeline_lft_beats_chance_and_reports_the_probe(tmp_path):
    torch.manual_seed(0)
    mod = _script()
    out = tmp_path / "out"
    args = (f"--tiny --n-subjects 5 --n-per-class 10 --seeds 0 --no-dbconformer "
            f"--pretrain-epochs 1 --epochs 30 --min-epochs 20 --batch-size 16 --lr 1e-3 "
            f"--threads 1 "
            f"--cache-dir {tmp_path / 'cache'} --out {out}").split()
    results = mod.main(args)
    lft = results["EEGDM (LFT)"][0]
    probe = results["linear probe (same latents)"][0]
    chance = 100 / 6
    assert lft["bal_acc"] > chance + 13 and lft["kappa"] > 15, lft  # 120 test windows
    assert set(probe) == {"bal_acc", "kappa", "f1_weighted"}
    assert all(np.isfinite(v) for v in probe.values())
    assert json.loads((out / "results.json").read_text()) == results
    assert (out / "ssmdp" / "card.json").exists()
    cached = list((tmp_path / "cache" / "latents").rglob("params.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["dtype"] == "float16"


def test_backbone_must_be_an_ssmdp_of_the_windows_rate_and_channels(tmp_path):
    """--backbone FOLDER: another model's folder, or an SSMDP of another sampling rate, is one
    ConfigError before any latent is extracted (was an AttributeError traceback, or latents
    pooled over the wrong second)."""
    from biosig.errors import ConfigError
    from biosig.models import SSMDP, EEGFormer

    mod = _script()
    args = (f"--tiny --n-subjects 4 --n-per-class 1 --seeds 0 --no-dbconformer --threads 1 "
            f"--cache-dir {tmp_path / 'cache'} --out {tmp_path / 'out'} --backbone").split()
    other = EEGFormer(n_chans=2, n_times=120, sfreq=200.0, patch_len=20, patch_stride=20,
                      emb_size=8, n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=4)
    folder = other.save_pretrained(tmp_path / "eegformer", data={"sfreq": 200.0})
    with pytest.raises(ConfigError, match="'eegformer', not SSMDP"):
        mod.main([*args, str(folder)])
    ssmdp = SSMDP(n_chans=22, n_times=1000, sfreq=250.0, n_layers=1, d_model=4, d_state=2,
                  d_embed=4, d_cond=4)
    folder = ssmdp.save_pretrained(tmp_path / "ssmdp", data={"sfreq": 250.0})
    with pytest.raises(ConfigError, match="sfreq"):
        mod.main([*args, str(folder)])
    assert not (tmp_path / "cache" / "latents").exists()
