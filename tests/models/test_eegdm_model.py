"""EEGDM composite: frozen SSMDP + LFT on raw windows (trainable/total counts, frozen backbone)."""

from __future__ import annotations

import pytest
import torch

from biosig.errors import ConfigError, ShapeError
from biosig.models import EEGDM, count_parameters, create_model

SMALL = dict(backbone=dict(n_layers=2, d_model=16, d_state=4, d_embed=8, d_cond=8),
             lft=dict(n_heads=2, n_fusion_tokens=4, n_classifier_blocks=1))


def test_parameter_counts_of_the_paper():
    m = EEGDM(n_chans=22, n_outputs=6, n_times=1000, sfreq=200)
    assert count_parameters(m) == 6_898_950
    assert count_parameters(m, trainable_only=False) == 12_830_599


def test_raw_windows_train_only_the_lft():
    torch.manual_seed(0)
    m = create_model("eegdm", n_chans=3, n_outputs=2, n_times=40, sfreq=10, **SMALL)
    m.train()
    assert not m.backbone.training and m.lft.training
    before = {k: v.clone() for k, v in m.backbone.state_dict().items()}
    x = 80 * torch.randn(4, 3, 40)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    torch.nn.functional.cross_entropy(m(x), torch.tensor([0, 1, 0, 1])).backward()
    opt.step()
    assert all(torch.equal(before[k], v) for k, v in m.backbone.state_dict().items())
    assert m.lft.final_layer.weight.grad is not None
    torch.testing.assert_close(m.forward_features(x),
                               m.lft.forward_features(m.backbone.latents(x)))
    m.reset_head(5)
    assert m(x).shape == (4, 5) and m.get_config()["kwargs"]["n_outputs"] == 5
    again = EEGDM.from_config(m.get_config())
    assert count_parameters(again) == count_parameters(m)


def test_folded_segments_and_errors():
    m = EEGDM(n_chans=2, n_outputs=1, n_times=40, sfreq=10, segment=20, **SMALL)
    assert m(50 * torch.randn(1, 2, 40)).shape == (1, 1) and m.lft.n_pools == 4
    with pytest.raises(ShapeError):
        m(torch.randn(1, 2, 30))
    with pytest.raises(ConfigError, match="lft.d_model"):
        EEGDM(n_chans=2, n_outputs=1, n_times=40, sfreq=10,
              backbone=SMALL["backbone"], lft=dict(d_model=32))
    with pytest.raises(ConfigError, match="sfreq"):
        EEGDM(n_chans=2, n_outputs=1, n_times=40)


def test_an_argument_its_parts_do_not_take_names_the_part():
    """lft={"n_fusion_blocks": 2} (a plausible name: LFT's is n_fusion_tokens) was a TypeError
    traceback from LFT.__init__; now a ConfigError naming the part and its arguments."""
    signal = dict(n_chans=2, n_outputs=2, n_times=40, sfreq=10)
    with pytest.raises(ConfigError, match=r"EEGDM lft: model 'lft' has no argument "
                                          r"'n_fusion_blocks'; its arguments: .*n_fusion_tokens"):
        EEGDM(**signal, backbone=SMALL["backbone"], lft={**SMALL["lft"], "n_fusion_blocks": 2})
    with pytest.raises(ConfigError, match=r"EEGDM backbone: model 'ssmdp' has no argument "
                                          r"'depth'; its arguments: .*n_layers"):
        EEGDM(**signal, backbone={**SMALL["backbone"], "depth": 2}, lft=SMALL["lft"])
    with pytest.raises(ConfigError, match=r"EEGDM: lft must not set n_outputs"):
        EEGDM(**signal, backbone=SMALL["backbone"], lft={**SMALL["lft"], "n_outputs": 3})
