"""CLI errors: a project or Lightning configuration error is one line, exit code 2, no traceback."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from biosig.cli import _error_line, main
from biosig.errors import ConfigError, InvalidFileError

REPO = Path(__file__).resolve().parents[2]
TINY = ["--data.source.init_args.n_subjects", "1", "--data.source.init_args.n_trials_per_class",
        "4", "--data.batch_size", "4", "--trainer.logger", "false"]
EEGNET = ["--config", str(REPO / "recipes/synthetic/eegnet.yaml"), *TINY[:6]]  # with a logger
COLON = ("(YAML reads {!r}, without a space after the colon, as one word, not as an entry: "
         "write {})")  # the hint for name:value
GPU_RECIPE = ["fit", "--config", str(REPO / "recipes/synthetic/eegnet.yaml"),
              "--config", str(REPO / "recipes/configs/trainer/gpu.yaml"), *TINY]


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("biosig: error:")]


def test_missing_data_path_is_one_line_from_the_shell(tmp_path):
    """The real command line (sys.argv, as a user types it): one error line, exit code 2."""
    absent = tmp_path / "no_such_folder"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("BIOSIG_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "biosig", "fit", "--config",
         str(REPO / "recipes/bciiv2a/dbconformer_co.yaml"),
         "--data.source.init_args.path", str(absent)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr[-2000:]
    assert str(absent) in lines[0] and "A01T" in lines[0]


@pytest.mark.parametrize("args", [["fit", "--help"], ["models"], ["cache", "build", "--help"],
                                  ["--debug", "models"]],
                         ids=["fit-help", "models", "cache-build-help", "debug"])
@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["unbuffered", "buffered"])
def test_output_into_a_closed_pipe_is_quiet(args, unbuffered, tmp_path):
    """`biosig fit --help | head -5`: the reader goes away; no BrokenPipeError traceback, also
    where buffered output meets the closed pipe only at exit (a short output: models, argparse's
    help)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": unbuffered}
    env.pop("BIOSIG_DEBUG", None)
    read, write = os.pipe()
    os.close(read)  # closed before biosig writes anything: its first write meets a broken pipe
    try:
        proc = subprocess.run([sys.executable, "-m", "biosig", *args], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                              timeout=600)
    finally:
        os.close(write)
    # 1; 0 where argparse's help met the pipe unbuffered (argparse drops it quietly)
    assert proc.returncode in (0, 1) and proc.stderr == "", proc.stderr[-2000:]


@pytest.fixture
def cpu_only(monkeypatch):
    """Make Lightning see no GPU backend, also on a machine that has one."""
    from lightning.pytorch.accelerators import CUDAAccelerator, MPSAccelerator

    monkeypatch.setattr(CUDAAccelerator, "is_available", staticmethod(lambda: False))
    monkeypatch.setattr(MPSAccelerator, "is_available", staticmethod(lambda: False))
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)


def test_gpu_preset_on_cpu_only_names_the_cpu_preset(cpu_only, capsys):
    assert main(list(GPU_RECIPE)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1 and "gpu" in lines[0].lower()
    hint = err.splitlines()[err.splitlines().index(lines[0]) + 1]
    assert hint.startswith("hint:") and "recipes/configs/trainer/cpu.yaml" in hint


def test_debug_flag_and_variable_let_the_traceback_through(cpu_only, monkeypatch):
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    with pytest.raises(MisconfigurationException, match="gpu"):
        main([*GPU_RECIPE, "--debug"])
    monkeypatch.setenv("BIOSIG_DEBUG", "1")
    with pytest.raises(MisconfigurationException, match="gpu"):
        main(list(GPU_RECIPE))


def test_only_project_and_configuration_errors_become_one_line():
    line = _error_line(InvalidFileError("/data/x.edf", "truncated\n  header"))
    assert line == "biosig: error: /data/x.edf: truncated header"
    assert _error_line(ConfigError("data.batch_size: must be > 0")).endswith("must be > 0")
    assert _error_line(RuntimeError("a bug")) is None  # keeps its traceback
    assert _error_line(KeyError("x")) is None


def test_a_ddp_process_other_than_rank_zero_names_its_rank(monkeypatch):
    """Every DDP process prints its error; the copies of rank 1.. say whose they are."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert _error_line(ConfigError("bad")) == "biosig: error (rank 1): bad"
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    assert _error_line(ConfigError("bad")) == "biosig: error: bad"
    # before Lightning is imported: the launcher's environment (torchrun, SLURM)
    monkeypatch.delitem(sys.modules, "lightning.fabric.utilities.rank_zero")
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert _error_line(ConfigError("bad")) == "biosig: error (rank 2): bad"


@pytest.mark.parametrize("override, expected", [
    (["--model.init_args.model", "eegnett"], r"unknown model 'eegnett'; available: .*eegnet"),
    (["--model.init_args.model_kwargs", "{foo: 1}"],
     r"model 'eegnet' has no argument 'foo'; its arguments: .*F1"),
    (["--model.init_args.model_kwargs", "{D: 2, F1:4}"],  # YAML: {'D': 2, 'F1:4': None}
     r"model 'eegnet' has no argument 'F1:4' \(YAML reads 'F1:4', without a space after the "
     r"colon, as one word, not as an entry: write \{F1: 4\}\); its arguments: .*F1"),
    (["--model.init_args.model_kwargs", "{n_chans: 3}"],
     r"model.model_kwargs must not set \['n_chans'\]: the task passes"),
    (["--model.init_args.model", "hveegnet"],
     r"'hveegnet' is not a classifier.*; classifiers: .*eegnet"),
    (["--model.init_args.optimizer", "adamx"], r"optimizer must be one of .*got 'adamx'"),
], ids=["model-name", "model-kwarg", "colon-without-space", "signal-kwarg", "not-a-classifier",
        "optimizer"])
@pytest.mark.parametrize("command", ["fit", "run"])
def test_bad_model_values_are_one_line_before_anything_is_written(command, override, expected,
                                                                 tmp_path, capsys, monkeypatch):
    """Before the run folder and before the window cache (built to link the data's shape)."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root, cache = tmp_path / "run", tmp_path / "cache"
    assert main([command, *EEGNET, "--trainer.default_root_dir", str(root), "--data.cache_dir",
                 str(cache), *override]) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1 and re.search(expected, lines[0]), err[-3000:]
    assert not root.exists() and not cache.exists()



@pytest.fixture
def vae_weights(tmp_path):
    """A tiny hvEEGNet weights folder, and a copy without its weights file."""
    from biosig.models import create_model

    folder = create_model("hveegnet", n_chans=3, n_times=100, sfreq=100.0).save_pretrained(
        tmp_path / "hveegnet")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "card.json").write_text((folder / "card.json").read_text())
    return folder, broken


@pytest.mark.parametrize("recipe, override, expected", [
    ("eegnet", ["--model.init_args.model", "null", "--model.init_args.pretrained", "{vae}"],
     r"model\.pretrained=.*hveegnet holds a 'hveegnet' \(its card\.json\), not a classifier"),
    ("eegformer_downstream", ["--model.init_args.pretrained", "{vae}"],
     r"holds a 'hveegnet' .*, not a VQ model \(forward_pretrain\) that classifies, so "
     r"VQClassificationTask cannot train it"),
    ("eegformer_downstream", ["--model.init_args.pretrained", "{broken}"],
     r"broken/model\.safetensors: weights file missing"),
    ("hveegnet", ["--model.init_args.model", "eegformer_s"],
     r"model\.model='eegformer_s' is not a VAE .*; VAEs: hveegnet, veegnet"),
], ids=["classifier-from-vae-folder", "vq-from-vae-folder", "folder-without-weights",
        "vae-from-eegformer"])
def test_a_network_the_task_cannot_train_is_one_line_before_the_data(
        recipe, override, expected, vae_weights, tmp_path, capsys, monkeypatch):
    """The task built after the window cache and failed at its first step (``'Tensor' object
    has no attribute 'x_hat'``), or named the data's sampling rate first for an unusable
    weights folder."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    vae, broken = vae_weights
    override = [a.format(vae=vae, broken=broken) for a in override]
    root, cache = tmp_path / "run", tmp_path / "cache"
    assert main(["fit", "--config", str(REPO / f"recipes/synthetic/{recipe}.yaml"),
                 "--trainer.default_root_dir", str(root), "--data.cache_dir", str(cache),
                 *override]) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1 and re.search(expected, lines[0]), err[-3000:]
    assert not root.exists() and not cache.exists()

BAD_VALUES = [
    (["--data.preprocessing",
      "[{class_path: biosig.data.Bandpass, init_args: {low: 38.0, high: 4.0}}]"],
     r"Bandpass\.low=38 Hz must be below Bandpass\.high=4 Hz"),
    (["--data.windows", "{class_path: biosig.data.EventWindows, init_args: {tmin: 0.0, tmax: 4.0, "
      "mapping: {left_hand: 0, right_hand: -1}}}"],
     r"EventWindows\.mapping\['right_hand'\] must be an integer >= 0, got -1"),
    (["--data.batch_size", "0"], r"data\.batch_size must be an integer >= 1, got 0"),
    (["--data.num_workers", "-1"], r"data\.num_workers must be an integer >= 0, got -1"),
    (["--data.source.init_args.n_trials_per_class", "-5"],
     r"SyntheticMI\.n_trials_per_class must be an integer >= 1, got -5"),
    (["--model.init_args.lr", "-0.003"], r"model\.lr must be a finite number > 0, got -0\.003"),
    (["--model.init_args.weight_decay", "-0.1"], r"model\.weight_decay must be a finite number"),
    (["--model.init_args.label_smoothing", "1.5"], r"model\.label_smoothing must be a finite"),
]


@pytest.mark.parametrize("override, expected", BAD_VALUES,
                         ids=[o[0].rsplit(".", 1)[-1] for o, _ in BAD_VALUES])
def test_bad_values_are_one_line_before_any_cache_or_run_folder(override, expected, tmp_path,
                                                                 capsys, monkeypatch):
    """A bad value in the data, its steps, windows or source, or in the task's optimiser or loss
    settings: exit code 2, one line naming the key and the reason, and neither the window cache
    (built to link the data's shape into the model) nor the run folder is written."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root, cache = tmp_path / "run", tmp_path / "cache"
    assert main(["fit", *EEGNET, "--trainer.default_root_dir", str(root), "--data.cache_dir",
                 str(cache), *override]) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1 and re.search(expected, lines[0]), err[-3000:]
    assert "Traceback" not in err
    assert not root.exists() and not cache.exists()


def test_an_abbreviated_key_is_refused(tmp_path, capsys, monkeypatch):
    """argparse took `--trainer.max_epoch` for `--trainer.max_epochs`: a typo passed silently."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        main(["fit", *EEGNET, "--trainer.default_root_dir", str(root), "--trainer.max_epoch", "1"])
    assert exit_.value.code == 2 and not root.exists()
    assert "unrecognized arguments: --trainer.max_epoch" in capsys.readouterr().err


def test_gan_networks_are_checked_with_the_config():
    """The GAN task's generator and critic names and arguments, checked before the data."""
    from biosig.cli import _check_task_args

    gan = {"class_path": "biosig.tasks.GANTask"}
    with pytest.raises(ConfigError, match=r"model 'ecgnet_critic' has no argument 'depthh'"):
        _check_task_args({**gan, "init_args": {"critic_kwargs": {"depthh": 2}}})
    with pytest.raises(ConfigError, match=r"unknown model 'ecgnett'"):
        _check_task_args({**gan, "init_args": {"generator": "ecgnett"}})
    with pytest.raises(ConfigError, match=r"model.generator_kwargs must not set \['sfreq'\]"):
        _check_task_args({**gan, "init_args": {"generator_kwargs": {"sfreq": 250}}})
    _check_task_args({**gan, "init_args": {"generator_kwargs": {}}})


@pytest.mark.parametrize("command", ["fit", "test"])
def test_a_protocol_the_data_cannot_follow_is_refused_before_the_run_folder(
        command, tmp_path, capsys, monkeypatch):
    """A protocol grouping by a column the metadata lack is found when the data are split;
    that split now happens before the logger makes its run folder (it came after version_0)."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = tmp_path / "run"
    protocol = "{class_path: biosig.data.GroupKFold, init_args: {group: patient}}"
    ckpt = ["--ckpt_path", "last"] if command == "test" else []  # resolved after the split
    assert main([command, *EEGNET, "--trainer.default_root_dir", str(root), "--data.protocol",
                 protocol, *ckpt]) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "group='patient': the metadata have no such column" in lines[0]
    assert not root.exists()


def test_ddp_preset_on_cpu_with_sync_batchnorm_is_one_line(tmp_path, capsys, monkeypatch):
    """The DDP preset asks for SyncBatchNorm; on CPU processes torch refused it inside every
    started rank, each with a traceback. Now one line before any rank starts."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = tmp_path / "run"
    assert main(["fit", *EEGNET, "--config", str(REPO / "recipes/configs/trainer/ddp.yaml"),
                 "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.precision",
                 "32", "--data.num_workers", "0", "--trainer.default_root_dir", str(root)]) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1 and "set trainer.sync_batchnorm false" in lines[0], err[-2000:]
    assert not root.exists()


@pytest.mark.parametrize("command", ["validate", "test", "predict"])
def test_evaluating_without_a_checkpoint_is_refused_before_anything_is_written(
        command, tmp_path, capsys, monkeypatch):
    """`biosig test` without --ckpt_path scored the random initialisation and printed a normal
    metrics table; now one line suggesting --ckpt_path, before the cache and the run folder."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root, cache = tmp_path / "run", tmp_path / "cache"
    assert main([command, *EEGNET, "--trainer.default_root_dir", str(root), "--data.cache_dir",
                 str(cache)]) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    assert re.match(rf"biosig: error: biosig {command} without --ckpt_path would use the model's "
                    r"random initialisation .*--ckpt_path FILE\|last\|best$", lines[0]), lines
    assert not root.exists() and not cache.exists()


def test_evaluating_pretrained_weights_needs_no_checkpoint(tmp_path, capsys, monkeypatch):
    """A model built from pretrained weights (model.init_args.pretrained) is not random: test
    runs without --ckpt_path."""
    import torch

    from biosig.cli import lightning_cli

    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    args = [*EEGNET, "--data.cache_dir", str(tmp_path / "cache"), "--trainer.logger", "false",
            "--trainer.default_root_dir", str(tmp_path / "run")]
    weights = tmp_path / "eegnet.pt"
    torch.save(lightning_cli(args, run=False).model.net.state_dict(), weights)
    assert main(["test", *args, "--model.init_args.pretrained", str(weights)]) == 0
    assert "test_acc" in capsys.readouterr().out


def test_evaluating_pretrained_weights_with_a_new_head_is_refused(tmp_path, capsys,
                                                                  monkeypatch):
    """Weights saved by a pretraining have no head (and weights of other classes another one):
    the task gives them a new head, and `biosig test` without --ckpt_path scored that random
    head as a trained probe. Now one line asking for the probe or fine-tuning checkpoint."""
    import torch

    from biosig.cli import lightning_cli
    from biosig.models import create_model

    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    args = [*EEGNET, "--data.cache_dir", str(tmp_path / "cache"), "--trainer.logger", "false",
            "--trainer.default_root_dir", str(tmp_path / "run")]
    task = lightning_cli(args, run=False).model
    headless = tmp_path / "backbone.pt"
    torch.save({k: v for k, v in task.net.state_dict().items()
                if not k.startswith("final_layer.")}, headless)
    three_classes = create_model("eegnet", n_chans=task.n_chans, n_times=task.n_times,
                                 sfreq=task.sfreq, n_outputs=3)
    folder = three_classes.save_pretrained(tmp_path / "three", data={
        "sfreq": task.sfreq, "n_times": task.n_times, "ch_names": task.ch_names})
    for weights, had in ((headless, "no head"), (folder, "a head of 3 outputs")):
        for command in ("test", "predict"):
            assert main([command, *args, "--model.init_args.pretrained", str(weights)]) == 2
            lines = _error_lines(capsys.readouterr().err)
            assert len(lines) == 1 and re.search(
                rf"biosig {command} without --ckpt_path would score a random head: the weights "
                rf"in {weights} have {had}.* 2 classes .*--ckpt_path FILE\|last\|best$",
                lines[0]), lines


def test_selecting_an_epoch_on_the_test_part_is_refused_before_the_run_folder(
        tmp_path, capsys, monkeypatch):
    """EEGDM's fine-tuning recipe (early stopping on val_kappa) with the EEGMAT preset (no
    validation part) was refused only when validation began: a run folder with its config.yaml
    was left behind. Now nothing is written."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = tmp_path / "run"
    stop = ("[{class_path: lightning.pytorch.callbacks.EarlyStopping, "
            "init_args: {monitor: val_loss}}]")
    assert main(["fit", *EEGNET, "--data.protocol.init_args.val_fraction", "0",
                 "--trainer.callbacks", stop, "--trainer.default_root_dir", str(root),
                 "--data.cache_dir", str(tmp_path / "cache")]) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "EarlyStopping(monitor='val_loss')" in lines[0], lines
    assert "no validation part" in lines[0] and not root.exists()


def test_a_checkpoint_lightning_cannot_use_is_one_line(tmp_path, capsys, monkeypatch):
    """``--ckpt_path best`` without a fitted ModelCheckpoint, a missing file, ``best``/``last``
    where no run saved a last checkpoint."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = ["--trainer.default_root_dir", str(tmp_path)]
    cases = [(["fit", "--ckpt_path", "best"], r'ckpt_path="best"\)` is set but'),
             (["test", "--ckpt_path", str(tmp_path / "no.ckpt")], r"Checkpoint file not found"),
             (["test", "--ckpt_path", "best"], r"ckpt_path=best .*no last\*\.ckpt under"),
             (["validate", "--ckpt_path", "last"], r"ckpt_path=last: no last\*\.ckpt under")]
    for (command, *ckpt), expected in cases:
        assert main([command, *EEGNET, *root, *ckpt]) == 2, command
        lines = _error_lines(capsys.readouterr().err)
        assert len(lines) == 1 and re.search(expected, lines[0]), lines


def test_a_cut_foreign_or_mismatched_checkpoint_is_one_line_before_any_run_folder(
        tmp_path, capsys, monkeypatch):
    """A checkpoint cut short, not a checkpoint, or trained on other windows gave a 30-60-line
    traceback (OSError, KeyError, a state_dict size mismatch) after a new run folder with its
    config.yaml was written. Now: one line naming the file, exit 2, no new folder, and before
    the Trainer is built (its start-up lines, GPU available: ..., came first). A checkpoint of
    another task (a pretraining's, given to a downstream config) was run as that task, silently
    (fit resumed the pretraining); a weights folder was 'Checkpoint file not found'."""
    import torch
    from lightning.pytorch.trainer import setup

    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = tmp_path / "run"
    fit = ["fit", *EEGNET, "--trainer.default_root_dir", str(root), "--trainer.max_epochs", "1",
           "--trainer.enable_progress_bar", "false"]
    assert main(fit) == 0
    last = next(root.rglob("last.ckpt"))
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(last.read_bytes()[:5000])
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    bare = tmp_path / "bare.ckpt"  # no hyperparameters: the model is built from the options
    torch.save({k: v for k, v in torch.load(last, weights_only=True).items()
                if k != "hyper_parameters"}, bare)
    saved = torch.load(last, weights_only=True)
    pretraining = tmp_path / "pretraining.ckpt"  # another task's: Lightning would run that one
    torch.save({**saved, "hyper_parameters": {**saved["hyper_parameters"],
                                              "_class_path": "biosig.tasks.VQTask"}}, pretraining)
    weights = tmp_path / "weights"  # a save_pretrained folder where a checkpoint is expected
    weights.mkdir()
    (weights / "card.json").write_text("{}")
    versions = sorted(p.name for p in root.rglob("version_*"))
    other_windows = ["--data.windows", "{class_path: biosig.data.EventWindows, init_args: "
                     "{tmin: 0.5, tmax: 2.5, mapping: {left_hand: 0, right_hand: 1}}}"]
    cases = [(["test", "--ckpt_path", str(cut)], rf"{cut}: not a readable checkpoint"),
             (["test", "--ckpt_path", str(junk)], rf"{junk}: not a readable checkpoint"),
             (["fit", "--ckpt_path", str(cut)], rf"{cut}: not a readable checkpoint"),
             (["test", "--ckpt_path", str(last), *other_windows],
              r"n_times=1000 but the data give 500.*come from the checkpoint \S+last\.ckpt"),
             (["fit", "--ckpt_path", str(bare), "--model.init_args.model_kwargs", "{F1: 4}"],
              rf"{bare}: the checkpoint's weights do not fit this model"),
             (["fit", "--ckpt_path", str(pretraining)],
              r"checkpoint of biosig\.tasks\.VQTask, but the config's model is biosig\.tasks\."
              r"ClassificationTask: Lightning would fit the checkpoint's task in its place.*"
              r"--model\.init_args\.pretrained"),
             (["test", "--ckpt_path", str(pretraining)], r"would test the checkpoint's task"),
             (["test", "--ckpt_path", str(weights)],
              rf"{weights}: a weights folder \(save_pretrained\): give it as "
              r"--model\.init_args\.pretrained")]
    startups = []  # the Trainer's start-up lines (GPU available: ...)
    monkeypatch.setattr(setup, "_log_device_info", startups.append)
    for (command, *rest), expected in cases:
        assert main([command, *EEGNET, "--trainer.default_root_dir", str(root), *rest]) == 2
        lines = _error_lines(capsys.readouterr().err)
        assert len(lines) == 1 and re.search(expected, lines[0]), lines
    assert not startups  # every case refused before the Trainer is built
    assert sorted(p.name for p in root.rglob("version_*")) == versions  # nothing new written
    # the weights themselves are compared too (a checkpoint whose arguments Lightning does not
    # apply, e.g. resumed into a task built by hand)
    from biosig.cli import check_checkpoint
    from biosig.tasks import ClassificationTask

    other = ClassificationTask("eegnet", n_chans=22, n_times=500, sfreq=250.0, n_outputs=2)
    with pytest.raises(ConfigError, match=r"weights do not fit this model \(n_times=1000 in the "
                                          r"file, 500 here\)"):
        check_checkpoint(last, other)


def test_a_parser_error_is_short(capsys, monkeypatch):
    """A mistyped option printed Lightning's whole usage (about 70 lines) before the error,
    and under ``python -m biosig`` named the program ``__main__.py``."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", [str(REPO / "biosig/__main__.py")])  # as python -m sets it
    with pytest.raises(SystemExit) as code:
        main(["fit", *EEGNET, "--trainer.maxepochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code.value.code == 2 and len(err) <= 3, err
    assert err[0] == "usage: biosig fit [options]", err
    assert "__main__" not in "\n".join(err)
    assert "unrecognized arguments: --trainer.maxepochs" in err[-1]


@pytest.mark.parametrize("args, line", [
    (["--model.init_args.lr", "fast"], "model.lr: expected float, got 'fast'"),
    (["--trainer.max_epochs", "ten"], "trainer.max_epochs: expected int, got 'ten'"),
    (["--data.preprocessing.init_args.low", "four"],
     "data.preprocessing.low: expected float, got 'four'"),
    (["--model.init_args.lrr", "0.1"],
     "model: ClassificationTask takes no argument 'lrr' (did you mean lr?)"),
    (["--trainer.max_epoch", "1"], "unrecognized arguments: --trainer.max_epoch 1 (did you mean "
                                   "--trainer.max_epochs or --trainer.min_epochs?)"),
    (["--model.init_args.model_kwargs", "{F1:4}"],  # YAML: the string '{F1:4}'
     "model.model_kwargs: expected dict, got '{F1:4}' " + COLON.format("F1:4", "{F1: 4}")),
], ids=["type", "type-union", "type-in-list", "unknown-class-argument", "unknown-option",
        "colon-without-space"])
def test_a_wrong_value_or_name_is_one_error_line(args, line, capsys, monkeypatch):
    """jsonargparse reported a wrong type as a tree of union subtypes (9-18 lines ending in
    ``Given value: NestedArg(...)``) and a misspelt option without the close names."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    with pytest.raises(SystemExit) as code:
        main(["fit", *EEGNET, *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code.value.code == 2 and len(err) == 3, err
    assert err[-1] == f"error: {line}"


@pytest.mark.parametrize("setting, line", [
    ("model:\n  init_args:\n    lr: fast\n", "model.lr: expected float, got 'fast'"),
    ("model:\n  init_args:\n    lrr: 0.1\n",
     "model: ClassificationTask takes no argument 'lrr' (did you mean lr?)"),
    ("data:\n  preprocessing:\n    - class_path: biosig.data.Bandpass\n"
     "      init_args: {low: four, high: 30.0}\n",
     "data.preprocessing.low: expected float, got 'four'"),
    ("data:\n  preprocessing:\n    - class_path: biosig.data.Bandpass\n"
     "      init_args: {low:4.0, high: 30.0}\n",
     "data.preprocessing: Bandpass takes no argument 'low:4.0' "
     + COLON.format("low:4.0", "{low: 4.0}")),
    ("trainer:\n  max_epoch: 1\n",
     "unknown setting 'trainer.max_epoch' (did you mean trainer.max_epochs or "
     "trainer.min_epochs?)"),
], ids=["type", "unknown-argument", "type-in-list", "colon-without-space", "unknown-key"])
def test_a_wrong_value_from_a_config_file_names_the_file(setting, line, tmp_path, capsys,
                                                         monkeypatch):
    """The one-line error said which key and value were wrong but not which of the --config
    files set it; an option on the command line is named by itself (no file). A misspelt key
    in a file ("Subcommand 'fit' does not accept option ...") had neither file nor the close
    names."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    bad = tmp_path / "mine.yaml"
    bad.write_text(setting)
    for config in (["--config", str(bad)], [f"--config={bad}"]):
        with pytest.raises(SystemExit):
            main(["fit", *EEGNET, *config])
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {line} (in {bad})"
    # the same value given as an option after the file: the file is not blamed
    good = tmp_path / "good.yaml"
    good.write_text("model:\n  init_args:\n    lr: 0.01\n")
    with pytest.raises(SystemExit):
        main(["fit", *EEGNET, "--config", str(good), "--model.init_args.lr", "fast"])
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: model.lr: expected float, got 'fast'")


def test_biosig_run_names_the_last_config_file_that_set_a_wrong_value(tmp_path, capsys,
                                                                      monkeypatch):
    """``biosig run`` merges its configs (the last one to set a key wins): that file is named."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    first, last = tmp_path / "first.yaml", tmp_path / "last.yaml"
    first.write_text("model:\n  init_args:\n    lr: slow\n")
    last.write_text("model:\n  init_args:\n    lr: fast\n")
    recipe = str(REPO / "recipes/synthetic/dbconformer.yaml")
    assert main(["run", "--config", recipe, "--config", str(first), "--config", str(last)]) == 2
    assert _error_lines(capsys.readouterr().err) == [
        f"biosig: error: model.lr must be a finite number > 0, got 'fast' (in {last})"]


@pytest.mark.parametrize("command, joined", [("fit", False), ("fit", True), ("run", False)],
                         ids=["fit", "fit-config=", "run"])
def test_a_yaml_syntax_error_names_the_config_file_and_place(command, joined, tmp_path, capsys,
                                                            monkeypatch):
    """jsonargparse (fit) printed yaml's message about "<unicode string>" under the usage lines,
    and ``biosig run`` a yaml traceback; neither named the file."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    bad = tmp_path / "recipe.yaml"
    bad.write_text("trainer:\n  max_epochs: [1, 2\n  logger: false\n")
    config = [f"--config={bad}"] if joined else ["--config", str(bad)]
    assert main([command, "--config", str(REPO / "recipes/synthetic/eegnet.yaml"), *config]) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1 and err.strip() == lines[0], err[-2000:]
    assert re.match(rf"biosig: error: {re.escape(str(bad))}: not valid YAML at line 3, column 9: ",
                    lines[0]), lines


def test_test_last_refuses_the_newest_run_when_it_had_other_data(tmp_path, capsys, monkeypatch):
    """A run with a data preset writes to its recipe's folder, so `biosig test --config recipe
    --ckpt_path last` picked that run's checkpoint: weights that fit but were trained on other
    windows (or failed on their shape). The newest run's data are now compared first."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = ["--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1",
            "--data.cache_dir", str(tmp_path / "cache")]
    assert main(["fit", *EEGNET, *root]) == 0
    assert main(["test", *EEGNET, *root, "--ckpt_path", "last"]) == 0  # the same data: fine
    # (its logs: version_1; the next fit: version_2)
    other = [*EEGNET[:2], "--data.source.init_args.n_subjects", "2",
             "--data.source.init_args.n_trials_per_class", "4"]
    assert main(["fit", *other, *root]) == 0
    capsys.readouterr()
    for which in ("last", "best"):
        assert main(["test", *EEGNET, *root, "--ckpt_path", which]) == 2
        lines = _error_lines(capsys.readouterr().err)
        assert len(lines) == 1 and re.match(
            rf"biosig: error: --ckpt_path {which}: .*version_2.*'s run had data split .* but "
            rf"this run has .*; it is the newest run under {re.escape(str(tmp_path))}, trained "
            r"with other data settings; give the checkpoint file of the run you mean", lines[0])
    first = next(tmp_path.glob("lightning_logs/version_0/checkpoints/last*.ckpt"))
    assert main(["test", *EEGNET, *root, "--ckpt_path", str(first)]) == 0


def test_gan_under_plain_ddp_is_one_line_before_the_run_folder(tmp_path, capsys, monkeypatch):
    """GANTask refused plain DDP in its setup, inside every started rank: the line came twice
    (once per process) and after the run folder and its config.yaml were written."""
    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    root = tmp_path / "run"
    assert main(["fit", "--config", str(REPO / "recipes/ptbxl/ecgnet.yaml"),
                 "--config", str(REPO / "recipes/ptbxl/simulator.yaml"),
                 "--data.source.init_args.n_records", "20", "--data.source.init_args.duration",
                 "2.0", "--data.cache_dir", str(tmp_path / "cache"), "--trainer.accelerator",
                 "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
                 "--trainer.default_root_dir", str(root)]) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1 and "ddp_find_unused_parameters_true" in lines[0], err[-2000:]
    assert not root.exists()
