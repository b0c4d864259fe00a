"""The README's first command: `biosig demo` trains, evaluates, prints the table, writes plots,
and shows its progress (one line per epoch) even when stdout is a pipe or a log file."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_demo_tiny_reports_every_epoch_under_a_pipe(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "BIOSIG_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(  # stdout is a pipe: Lightning's progress bar would draw nothing
        [sys.executable, "-m", "biosig", "demo", "--out", str(out), "--subjects", "1",
         "--trials", "6", "--epochs", "3"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    epochs = re.findall(r"^epoch (\d+)/3: .*train_loss [\d.]+.*val_loss [\d.]+.*left\)$", text,
                        flags=re.M)
    assert epochs == ["1", "2", "3"], text
    assert f"logs in {(out / 'logs').resolve()}" in text
    assert "accuracy" in text and "kappa" in text and "subject 1" in text
    result = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= result["metrics"]["all"]["accuracy"] <= 1.0
    assert sum(map(sum, result["confusion_matrix"])) == 12  # 6 trials x 2 classes in session E
    for name in ("training_curves", "confusion_matrix", "example_windows"):
        assert (out / f"{name}.png").stat().st_size > 10_000
    saved = (out / "results.json").read_text()
    assert " object at 0x" not in saved  # no object reprs
    trainer = json.loads(saved)["settings"]["models"]["eegnet"]["trainer"]
    assert trainer["logger"] == f"CSVLogger({(out / 'logs').resolve()})"
    assert trainer["callbacks"] == ["EpochProgress"]


def test_failed_demo_leaves_no_empty_output_folder(tmp_path):
    from biosig.demo import main
    from biosig.errors import ConfigError

    out = tmp_path / "results" / "demo"
    with pytest.raises(ConfigError, match="--model 'frobnet': not a registered model"):
        main(["--out", str(out), "--model", "frobnet"])
    with pytest.raises(ValueError, match="juggling"):  # fails after the folder was made
        main(["--out", str(out), "--classes", "left_hand", "juggling", "--subjects", "1",
              "--trials", "2", "--epochs", "1"])
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("args, match", [
    (["--model", "hveegnet"], r"--model 'hveegnet': not a classifier .*; choose one of .*eegnet"),
    (["--model", "ssmdp"], r"--model 'ssmdp': not a classifier"),
    (["--model", "lft"], r"--model 'lft': not a classifier of EEG windows"),  # of latents
    (["--model", "cvd_cnn"], r"--model 'cvd_cnn': not a classifier of EEG windows"),  # ECG
    (["--epochs", "0"], r"--epochs must be >= 1, got 0"),
    (["--subjects", "0"], r"--subjects must be >= 1, got 0"),
    (["--classes", "feet"], r"--classes needs at least two different classes .*\['feet'\]"),
], ids=["hveegnet", "ssmdp", "lft", "cvd_cnn", "epochs", "subjects", "one-class"])
def test_demo_refuses_bad_options_before_it_starts(tmp_path, capsys, args, match):
    from biosig.demo import main
    from biosig.errors import ConfigError

    out = tmp_path / "demo"
    with pytest.raises(ConfigError, match=match):
        main(["--out", str(out), *args])
    assert capsys.readouterr().out == "" and not out.exists()


def test_demo_refuses_eegdm_naming_the_models_it_takes():
    """`biosig demo --model eegdm --epochs 1 --subjects 1 --trials 10` ran 452 s (one CPU step of
    the frozen 20-layer SSMDP on 18 windows: 159 s). Checked on the parsed options only, so a
    regression fails here instead of training EEGDM."""
    from biosig.demo import NOT_IN_THE_DEMO, build_parser, check_args
    from biosig.errors import ConfigError

    args = build_parser().parse_args(["--model", "eegdm"])
    with pytest.raises(ConfigError, match=r"^--model 'eegdm': not in the demo \(CPU-sized .*"
                                          r"needs pretraining.*eegdm_pretrain.yaml.*; choose one "
                                          r"of (?!.*eegdm).*eegnet") as err:
        check_args(args)
    assert "\n" not in str(err.value) and "eegdm" in NOT_IN_THE_DEMO
    # EEGFormer's variants: 7-18 min from scratch at the demo's defaults, and meant to be
    # pretrained (its pipeline recipe)
    for name in ("eegformer", "eegformer_s", "eegformer_b", "eegformer_l"):
        with pytest.raises(ConfigError, match=rf"^--model '{name}': not in the demo .*"
                                              r"recipes/eegformer/pipeline.py.*; choose one of "
                                              r"(?!.*eegformer).*eegnet"):
            check_args(build_parser().parse_args(["--model", name]))


def test_demo_help_shows_every_default(capsys):
    from biosig.demo import build_parser

    build_parser().print_help()
    text = capsys.readouterr().out
    for default in ("default: 30)", "default: 4)", "default: 40)", "default: left_hand right_hand)",
                    "default: 0.003)", "default: 32)", "default: 0)"):
        assert default in text, default
    # the module docstring as plain text, not reST
    assert "biosig demo: train and evaluate" in text and "``" not in text
    assert "(biosig.experiments.run_experiment)" in text and ":func:" not in text
    assert "except eegdm, eegformer, eegformer_s, eegformer_b, eegformer_l (not CPU-sized)" in (
        " ".join(text.split()))
