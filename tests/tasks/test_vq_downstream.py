"""VQClassificationTask: EEGFormer's linear probe, fine-tune and from-scratch settings, and the
one-command pipeline (pretrain -> three settings -> AUROC / AUPRC / BAcc table) on built-in data."""

import importlib.util
from pathlib import Path

import pytest
import torch

from biosig.errors import ConfigError
from biosig.models import create_model
from biosig.tasks import VQClassificationTask

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
KW = dict(emb_size=32, n_heads=4, encoder_depth=1, decoder_depth=1, n_codes=16, patch_len=20,
          patch_stride=10)
SIGNAL = dict(n_chans=3, n_times=200, sfreq=100.0, n_outputs=2)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    net = create_model("eegformer", n_times=200, sfreq=100.0, **KW)
    return net.save_pretrained(tmp_path_factory.mktemp("w") / "weights",
                               data={"sfreq": 100.0, "n_times": 200})


def _task(setting, weights=None, **kw):
    torch.manual_seed(0)
    if setting == "scratch":
        return VQClassificationTask(model="eegformer", model_kwargs=KW, setting=setting,
                                    **SIGNAL, **kw)
    return VQClassificationTask(pretrained=str(weights), setting=setting, **SIGNAL, **kw)


def _train_step(task):
    x, y = torch.randn(4, 3, 200), torch.tensor([0, 1, 0, 1])
    task.train()
    opt = task.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    before = {k: v.detach().clone() for k, v in task.net.state_dict().items()}
    _logits, loss = task._forward_loss(x, y, "train")
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = task.net.state_dict()
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_settings_are_checked(weights):
    with pytest.raises(ConfigError, match="needs model.pretrained"):
        VQClassificationTask(model="eegformer", model_kwargs=KW, setting="probe", **SIGNAL)
    with pytest.raises(ConfigError, match="needs no model.pretrained"):
        _task("scratch", pretrained=str(weights))
    with pytest.raises(ConfigError, match="freeze is set by model.setting"):
        _task("finetune", weights, freeze="backbone")
    with pytest.raises(ConfigError, match="freeze is set by model.setting"):
        _task("probe", weights, freeze="none")
    assert _task("probe", weights, freeze="backbone").freeze_mode == "backbone"  # as implied
    with pytest.raises(ConfigError, match="setting must be one of"):
        _task("frozen", weights)
    with pytest.raises(ConfigError, match="VQ model"):
        VQClassificationTask(model="eegnet", setting="scratch", **SIGNAL)


def test_probe_trains_the_head_only(weights):
    task = _task("probe", weights)
    assert task.net.feature_source == "quantized" and task.aux_weight == 0
    changed = _train_step(task)
    assert changed and all(k.startswith("final_layer.") for k in changed)


def test_finetune_trains_encoder_decoder_and_codebook(weights):
    task = _task("finetune", weights)
    assert task.net.feature_source == "decoder"
    assert task.net.get_config()["kwargs"]["feature_source"] == "decoder"
    changed = _train_step(task)
    for part in ("patch_embed.weight", "encoder.0.", "quantizer.", "decoder.0.", "final_layer."):
        assert any(k.startswith(part) for k in changed), part
    # without the pretraining loss the codebook gets no gradient (straight-through)
    plain = _train_step(_task("finetune", weights, aux_weight=0.0))
    assert not any(k.startswith("quantizer.") for k in plain)


def test_scratch_is_the_same_network_randomly_initialised(weights):
    scratch, fine = _task("scratch"), _task("finetune", weights)
    a, b = scratch.net.get_config()["kwargs"], fine.net.get_config()["kwargs"]
    assert {**a, "n_chans": None} == {**b, "n_chans": None}  # weights saved without n_chans
    assert sum(p.numel() for p in scratch.parameters()) == sum(p.numel()
                                                               for p in fine.parameters())
    assert not torch.equal(scratch.net.patch_embed.weight, fine.net.patch_embed.weight)


def test_a_pretraining_checkpoint_is_pretrained_weights_with_a_fresh_head(tmp_path):
    """A VQTask checkpoint (network built without a head) as ``pretrained``: every weight but
    the new head loads (was a ConfigError: missing final_layer.weight, final_layer.bias)."""
    from biosig.tasks import VQTask

    torch.manual_seed(0)
    pre = VQTask(model="eegformer", model_kwargs=KW, n_times=200, sfreq=100.0)
    path = tmp_path / "pretrain.ckpt"
    torch.save({"state_dict": pre.state_dict()}, path)
    task = VQClassificationTask(model="eegformer", model_kwargs=KW, pretrained=str(path),
                                setting="probe", **SIGNAL)
    loaded = task.net.state_dict()
    for key, value in pre.net.state_dict().items():
        torch.testing.assert_close(loaded[key], value)
    assert task.net.final_layer.weight.shape == (2, 32)
    with pytest.raises(ConfigError, match="missing: patch_embed.weight"):  # only the head
        torch.save({k: v for k, v in pre.net.state_dict().items() if "patch_embed.w" not in k},
                   path)
        VQClassificationTask(model="eegformer", model_kwargs=KW, pretrained=str(path),
                             setting="probe", **SIGNAL)


def test_pipeline_tiny_runs_pretrain_probe_finetune_scratch(tmp_path, monkeypatch, recwarn):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["pipeline.py", "--recipe", "synthetic", "--tiny"])
    spec = importlib.util.spec_from_file_location("eegformer_pipeline",
                                                  REPO / "recipes/eegformer/pipeline.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    result = pipeline.main(["--recipe", "synthetic", "--tiny", "--out", str(tmp_path / "o")])
    runs = result.runs
    assert list(runs.model) == ["probe", "finetune", "scratch"]
    for metric in ("auroc", "auprc", "bal_acc"):
        assert runs[metric].between(0, 1).all()
    assert (tmp_path / "o" / "weights" / "card.json").is_file()
    assert (tmp_path / "o" / "results" / "results.csv").is_file()
    with pytest.raises(ConfigError, match="--tiny"):
        pipeline.main(["--recipe", "tuab", "--tiny"])
    # no notice about the script's own options (Lightning's "args parameter ... both args and
    # command line arguments" with both lists) and none about the probe's frozen modules
    notices = [str(w.message) for w in recwarn
               if "both args and command line" in str(w.message) or "in eval mode" in
               str(w.message)]
    assert not notices, notices[:2]


def test_the_cli_runs_the_probe_setting(tmp_path):
    """`biosig fit --config eegformer_downstream.yaml --model.init_args.setting probe` was
    refused ("model.freeze is set by model.setting ... remove it") though no freeze was given:
    the CLI filled in the base class's default freeze="none"."""
    from biosig.cli import lightning_cli

    torch.manual_seed(0)
    net = create_model("eegformer", n_times=1000, sfreq=250.0, **KW)
    folder = net.save_pretrained(tmp_path / "weights")
    cli = lightning_cli([
        "--config", str(REPO / "recipes/synthetic/eegformer_downstream.yaml"),
        "--model.init_args.pretrained", str(folder), "--model.init_args.setting", "probe",
        "--data.source.init_args.n_subjects", "1", "--data.source.init_args.n_trials_per_class",
        "4", "--data.cache_dir", str(tmp_path / "cache"),
        "--trainer.default_root_dir", str(tmp_path / "run")], run=False)
    assert cli.model.setting == "probe" and cli.model.freeze_mode == "backbone"


def test_given_weights_make_the_scratch_baseline_their_own_architecture(tmp_path, monkeypatch):
    """With --pretrained DIR the scratch run was the recipe's eegformer_s (7.9 s a fit) against
    a 31k-parameter pretrained network (0.5 s): not the same architecture untrained."""
    from biosig.experiments import runner
    from biosig.models.weights import card_architecture

    spec = importlib.util.spec_from_file_location("eegformer_pipeline",
                                                  REPO / "recipes/eegformer/pipeline.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    torch.manual_seed(0)
    folder = create_model("eegformer", n_times=1000, sfreq=250.0, **KW).save_pretrained(
        tmp_path / "w")
    name, kwargs = card_architecture(folder)
    assert name == "eegformer" and kwargs["encoder_depth"] == 1 and "n_times" not in kwargs
    seen = {}

    def capture(dm, models, **kw):
        seen.update({m.name: m for m in models})
        raise SystemExit(0)

    monkeypatch.setattr(runner, "run_experiment", capture)
    with pytest.raises(SystemExit):
        pipeline.main(["--recipe", "synthetic", "--pretrained", str(folder), "--out",
                       str(tmp_path / "o"), "--threads", "1"])
    scratch = next(m for m in seen.values() if m.init_args.get("setting") == "scratch")
    assert scratch.init_args["model"] == "eegformer"
    assert scratch.init_args["model_kwargs"]["encoder_depth"] == 1
    assert scratch.init_args["model_kwargs"]["n_codes"] == KW["n_codes"]
