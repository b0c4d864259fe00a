"""The CHB-MIT EEGDM recipe runs end to end on fixtures in CHB-MIT's real layout, with a tiny
SSMDP "pretrained" on the 22-channel TUEV montage: the 16 bipolar channels take their rows of
the embedding table (channel_ids), the seizure class is weighted, the LFT sees 10 pools."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from _dataset_fixtures import write_chbmit
from biosig.cli import lightning_cli
from biosig.datasets.chbmit import CHBMIT_SSMDP_IDS
from biosig.models import SSMDP

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def test_chbmit_eegdm_recipe_tiny(tmp_path):
    data = write_chbmit(tmp_path / "chbmit", {
        "chb01_03": [(20.0, 35.0)], "chb21_01": [(10.0, 22.0)], "chb23_06": [(5.0, 12.0)],
    })
    backbone = SSMDP(n_chans=22, n_times=1000, sfreq=200.0, n_layers=2, d_model=8, d_state=4,
                     d_embed=4, d_cond=8)
    weights = backbone.save_pretrained(tmp_path / "ssmdp_tuev",
                                       data={"sfreq": 200.0, "n_chans": 22})
    kwargs = (f"{{backbone_weights: {weights}, channel_ids: {CHBMIT_SSMDP_IDS}, segment: 1000, "
              "lft: {n_heads: 2, n_fusion_tokens: 2, n_classifier_blocks: 1, token_norm: batch}}")
    cli = lightning_cli(["fit", "--config", str(REPO / "recipes/chbmit/eegdm_finetune.yaml"),
                         "--config", str(REPO / "recipes/configs/trainer/cpu.yaml"),
                         "--data.source.init_args.path", str(data),
                         "--data.cache_dir", str(tmp_path / "cache"), "--data.batch_size", "4",
                         "--model.init_args.model_kwargs", kwargs,
                         "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                         "--trainer.limit_val_batches", "1", "--trainer.logger", "false",
                         "--trainer.enable_progress_bar", "false",
                         "--trainer.default_root_dir", str(tmp_path / "run")])
    model = cli.model.net
    assert (cli.datamodule.n_chans, cli.datamodule.n_times, cli.datamodule.classes) == (
        16, 2000, ["background", "seizure"])
    assert model.backbone.channel_ids == CHBMIT_SSMDP_IDS and model.lft.n_pools == 10
    assert cli.model.class_weights.tolist() == pytest.approx([1.0, 150.51])
    assert torch.isfinite(cli.trainer.callback_metrics["val_loss"])
    for key, value in backbone.state_dict().items():  # frozen, as pretrained
        torch.testing.assert_close(model.backbone.state_dict()[key], value)


def test_the_recipe_header_states_the_trainable_parameters_of_its_network():
    """The header's count is that of the recipe's network (2-class head), not EEGDM's 1 logit."""
    import re

    import yaml

    from biosig.models import EEGDM

    path = REPO / "recipes/chbmit/eegdm_finetune.yaml"
    text = path.read_text()
    stated = int(re.search(r"LFT ([\d,]+) trainable parameters with this 2-class", text)
                 .group(1).replace(",", ""))
    kwargs = dict(yaml.safe_load(text)["model"]["init_args"]["model_kwargs"])
    kwargs.pop("backbone_weights")  # the default SSMDP has the TUEV backbone's architecture
    net = EEGDM(n_chans=16, n_outputs=2, n_times=2000, sfreq=200.0, **kwargs)
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == stated
