"""EEGDM pretrain -> weights folder -> fine-tune through the synthetic recipes (a few steps)."""

from __future__ import annotations

from pathlib import Path

import torch

from biosig.cli import lightning_cli
from biosig.tasks import DiffusionTask

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TINY_SSMDP = "{n_layers: 2, d_model: 8, d_state: 4, d_embed: 4, d_cond: 8}"
TINY_LFT = "{n_heads: 2, n_fusion_tokens: 2, n_classifier_blocks: 1}"


def _common(tmp_path, name):
    return ["--data.source.init_args.n_subjects", "3", "--data.source.init_args.n_per_class", "1",
            "--data.source.init_args.n_eval_subjects", "1", "--data.batch_size", "3",
            "--data.cache_dir", str(tmp_path / "cache"), "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.max_epochs", "2", "--trainer.min_epochs", "1",
            "--trainer.default_root_dir", str(tmp_path / name)]


def test_synthetic_pretrain_then_finetune_from_the_saved_weights_folder(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    pre = lightning_cli(["fit", "--config", str(RECIPES / "synthetic/eegdm_pretrain.yaml"),
                         *_common(tmp_path, "pre"),
                         "--model.init_args.model_kwargs", TINY_SSMDP])
    # 3 subjects: 1 eval, 1 validation, 1 train (6 windows, one per class) -> 2 steps per epoch
    assert pre.trainer.global_step == 4
    ckpt = next((tmp_path / "pre").rglob("last.ckpt"))
    folder = DiffusionTask.load_from_checkpoint(ckpt).save_pretrained(tmp_path / "ssmdp")
    saved = DiffusionTask.load_from_checkpoint(ckpt).net.state_dict()

    fine = lightning_cli(["fit", "--config", str(RECIPES / "synthetic/eegdm_finetune.yaml"),
                          *_common(tmp_path, "fine"),
                          "--model.init_args.model_kwargs.backbone_weights", str(folder),
                          "--model.init_args.model_kwargs.lft", TINY_LFT])
    task = fine.model
    net = task.net
    assert type(net).__name__ == "EEGDM" and net.n_outputs == 6
    for key, value in saved.items():  # the pretrained backbone, loaded and left frozen
        torch.testing.assert_close(net.backbone.state_dict()[key], value)
    assert not any(p.requires_grad for p in net.backbone.parameters())
    opt = fine.trainer.optimizers[0]
    decayed, exempt = opt.param_groups
    assert decayed["weight_decay"] == 0.05 and exempt["weight_decay"] == 0.0
    assert any(p is net.lft.fusion_tokens for p in exempt["params"])
    assert any(p is net.lft.pos_embedding for p in decayed["params"])
    assert fine.trainer.global_step == 4 and "val_kappa" in fine.trainer.callback_metrics
    # the card of the fine-tuned model does not need the backbone folder any more
    config = net.get_config()["kwargs"]
    assert config["backbone_weights"] is None and config["backbone"]["d_model"] == 8
