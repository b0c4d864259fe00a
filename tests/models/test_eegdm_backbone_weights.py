"""EEGDM built on a pretrained SSMDP weights folder (backbone_weights)."""

from __future__ import annotations

import shutil

import pytest
import torch

from biosig.errors import ConfigError
from biosig.models import EEGDM, SSMDP, EEGFormer, load_pretrained

ARCH = dict(n_layers=2, d_model=8, d_state=4, d_embed=4, d_cond=8)
LFT = dict(n_heads=2, n_fusion_tokens=2, n_classifier_blocks=1)


def test_backbone_from_a_folder_and_a_config_without_it(tmp_path):
    torch.manual_seed(0)
    ssmdp = SSMDP(n_chans=2, n_times=80, sfreq=10.0, **ARCH)  # pretrained on longer windows
    folder = ssmdp.save_pretrained(tmp_path / "ssmdp", data={"sfreq": 10.0, "n_chans": 2})
    m = EEGDM(n_chans=2, n_outputs=3, n_times=40, sfreq=10.0, lft=LFT, backbone_weights=folder)
    for key, value in ssmdp.state_dict().items():
        torch.testing.assert_close(m.backbone.state_dict()[key], value)
    assert not any(p.requires_grad for p in m.backbone.parameters())
    kwargs = m.get_config()["kwargs"]
    assert kwargs["backbone_weights"] is None and kwargs["backbone"]["d_model"] == 8
    saved = m.save_pretrained(tmp_path / "eegdm")
    shutil.rmtree(folder)  # the EEGDM folder does not need the backbone's
    again = load_pretrained(saved)
    x = 50 * torch.randn(2, 2, 40)
    torch.testing.assert_close(again.eval()(x), m.eval()(x))


def test_backbone_weights_errors(tmp_path):
    folder = SSMDP(n_chans=2, n_times=40, sfreq=10.0, **ARCH).save_pretrained(
        tmp_path / "ssmdp", data={"sfreq": 10.0, "n_chans": 2})
    with pytest.raises(ConfigError, match="card fixes the backbone"):
        EEGDM(n_chans=2, n_outputs=3, n_times=40, sfreq=10.0, backbone=ARCH,
              backbone_weights=folder)
    with pytest.raises(ConfigError, match="sfreq"):
        EEGDM(n_chans=2, n_outputs=3, n_times=80, sfreq=20.0, lft=LFT, backbone_weights=folder)
    lft_folder = EEGDM(n_chans=2, n_outputs=3, n_times=40, sfreq=10.0, backbone=ARCH,
                       lft=LFT).save_pretrained(tmp_path / "eegdm")
    with pytest.raises(ConfigError, match="not an SSMDP"):
        EEGDM(n_chans=2, n_outputs=3, n_times=40, sfreq=10.0, backbone_weights=lft_folder)
    # another model's folder is named as such, even when its data differ from these windows
    other = EEGFormer(n_chans=3, n_times=120, sfreq=20.0, patch_len=20, patch_stride=20,
                      emb_size=8, n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=4)
    other_folder = other.save_pretrained(tmp_path / "eegformer", data={"sfreq": 20.0})
    with pytest.raises(ConfigError, match="'eegformer', not an SSMDP"):
        EEGDM(n_chans=2, n_outputs=3, n_times=40, sfreq=10.0, backbone_weights=other_folder)


def test_channel_ids_map_another_montage_onto_the_pretrained_table(tmp_path):
    """CHB-MIT on a TUEV backbone: fewer channels, each given its embedding row."""
    torch.manual_seed(0)
    ssmdp = SSMDP(n_chans=4, n_times=40, sfreq=10.0, n_channel_ids=4, **ARCH)
    folder = ssmdp.save_pretrained(tmp_path / "ssmdp", data={"sfreq": 10.0, "n_chans": 4})
    # without ids the montage must match; the error says how to map another one
    with pytest.raises(ConfigError, match=r"pretrained on 4 channels.* these windows have 2 .*"
                                          r"or channel_ids: for each of these channels its row "):
        EEGDM(n_chans=2, n_outputs=2, n_times=40, sfreq=10.0, lft=LFT, backbone_weights=folder)
    m = EEGDM(n_chans=2, n_outputs=2, n_times=40, sfreq=10.0, lft=LFT, backbone_weights=folder,
              channel_ids=[0, 3])
    assert m.backbone.channel_ids == [0, 3]
    x = 50 * torch.randn(3, 2, 40)
    tokens = m.backbone.latents(x, step=1)
    picked = ssmdp.latents(torch.cat([x[:, :1], torch.zeros(3, 2, 40), x[:, 1:]], 1), step=1)
    torch.testing.assert_close(tokens[..., 0, :], picked[..., 0, :])  # channel 0 -> row 0
    torch.testing.assert_close(tokens[..., 1, :], picked[..., 3, :])  # channel 1 -> row 3
    again = load_pretrained(m.save_pretrained(tmp_path / "eegdm"))
    torch.testing.assert_close(again.eval()(x), m.eval()(x))
    with pytest.raises(ConfigError, match="sfreq"):
        EEGDM(n_chans=2, n_outputs=2, n_times=80, sfreq=20.0, lft=LFT, backbone_weights=folder,
              channel_ids=[0, 3])
