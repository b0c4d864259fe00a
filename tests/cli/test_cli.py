"""The ``biosig`` command: fast help, LightningCLI fit/test, print_config, composition, linking."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from biosig.cli import lightning_cli, main

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--data.source.init_args.n_subjects",
    "1",
    "--data.source.init_args.n_trials_per_class",
    "4",
    "--data.batch_size",
    "4",
]


def test_help_is_lazy():
    """``biosig --help`` imports none of the heavy stack (its speed follows from that)."""
    code = (
        "import sys; from biosig.cli import main; main(['--help']); "
        "print(any(m in sys.modules for m in ('torch', 'lightning', 'mne', 'braindecode')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "usage: biosig" in out and out.strip().splitlines()[-1] == "False"
    too_long = [line for line in out.splitlines() if len(line) > 100]
    assert not too_long, too_long  # e.g. a shell continuation that Python joined into one line


@pytest.mark.parametrize("command", [["demo"], ["generate"], ["cvd"], ["cache"],
                                     ["cache", "verify"], ["cache", "build"], ["models"], ["run"]],
                         ids=" ".join)
def test_subcommand_help_answers_and_is_lazy(command):
    """``biosig <command> --help`` prints its usage and exits 0 without importing the heavy
    stack (``biosig cache verify --help`` read ``--help`` as a folder: NOT A CACHE); each
    option's default is shown once (:class:`biosig._argparse.HelpFormatter`)."""
    code = (
        "import sys; from biosig.cli import main\n"
        "try:\n    status = main(sys.argv[1:])\n"
        "except SystemExit as e:\n    status = e.code\n"
        "print('STATUS', status or 0, sorted(m for m in ('torch', 'lightning', 'mne', "
        "'braindecode') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *command, "--help"], capture_output=True, text=True,
        check=True,
    ).stdout
    assert "usage: biosig" in out and out.strip().splitlines()[-1] == "STATUS 0 []", out
    assert "%(default)" not in out and "(default: %" not in out
    for line in out.splitlines():
        assert line.count("(default:") <= 1, line
    # a description taken from a docstring is plain text (biosig._argparse.plain_text): `biosig
    # demo --help` showed ``biosig demo`` and (:func:`biosig.experiments.run_experiment`)
    assert "``" not in out and not re.search(r":[a-z:]+:`", out), out


@pytest.mark.parametrize("args", [["--help"], ["--write", "a", "--check", "b"]], ids=str)
def test_model_summary_help_and_usage_errors_are_lazy(args):
    """``python -m biosig.models.summary --help`` imported torch and every model (~2 s: the
    package ``biosig.models`` registered them on import) before printing its usage."""
    code = ("import runpy, sys\n"
            "try:\n    runpy.run_module('biosig.models.summary', run_name='__main__')\n"
            "except SystemExit as e:\n    status = e.code\n"
            "print('STATUS', status, sorted(m for m in ('torch', 'lightning', 'mne', "
            "'braindecode') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert "usage: python -m biosig.models.summary" in run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == f"STATUS {0 if args == ['--help'] else 2} []"
    assert "``" not in run.stdout  # its description as plain text (showed ``summary.csv``)


def test_unknown_command(capsys):
    """A misspelt command printed the whole help after a line without a suggestion."""
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("biosig: error: unknown command 'frobnicate';")
    assert "the commands: demo, run, fit, validate, test, predict, models, cache, generate" in err
    assert main(["modls"]) == 2
    assert "unknown command 'modls' (did you mean models?)" in capsys.readouterr().err
    assert main(["gen", "w", "x.edf"]) == 2
    assert "(did you mean generate?)" in capsys.readouterr().err


def test_print_config_dumps_full_config(capsys):
    with pytest.raises(SystemExit) as exc:
        lightning_cli(
            ["fit", "--config", str(REPO / "recipes/synthetic/eegnet.yaml"), "--print_config"]
        )
    assert exc.value.code in (0, None)
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["class_path"] == "biosig.tasks.ClassificationTask"
    assert cfg["data"]["source"]["class_path"] == "biosig.datasets.SyntheticMI"
    assert "max_epochs" in cfg["trainer"] and "lr" in cfg["model"]["init_args"]


def test_configs_compose_and_shape_is_linked(tmp_path):
    extra = tmp_path / "more.yaml"
    extra.write_text("trainer:\n  max_epochs: 3\n  accelerator: cpu\ndata:\n  batch_size: 8\n")
    cli = lightning_cli(
        [
            "--config",
            str(REPO / "recipes/synthetic/eegnet.yaml"),
            "--config",
            str(REPO / "recipes/configs/trainer/cpu.yaml"),
            "--config",
            str(extra),
            *TINY,
            "--data.batch_size",
            "8",
            "--trainer.logger",
            "false",
        ],
        run=False,
    )
    assert cli.trainer.max_epochs == 3 and cli.datamodule.batch_size == 8
    hp = cli.model.hparams
    assert (hp.n_chans, hp.n_times, hp.sfreq, hp.n_outputs) == (22, 1000, 250.0, 2)
    assert cli.model.net(__import__("torch").zeros(2, 22, 1000)).shape == (2, 2)


def test_bad_config_key_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        lightning_cli(
            [
                "fit",
                "--config",
                str(REPO / "recipes/synthetic/eegnet.yaml"),
                "--model.init_args.lerning_rate",
                "0.1",
            ]
        )
    assert "lerning_rate" in capsys.readouterr().err


def test_fit_then_test_one_tiny_epoch(tmp_path, capsys):
    root = tmp_path / "run"
    lightning_cli(
        [
            "fit",
            "--config",
            str(REPO / "recipes/synthetic/eegnet.yaml"),
            *TINY,
            "--trainer.max_epochs",
            "1",
            "--trainer.default_root_dir",
            str(root),
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    ckpts = [p for p in root.rglob("*.ckpt") if p.name != "last.ckpt"]
    configs = list(root.rglob("config.yaml"))
    assert len(ckpts) == 1 and len(configs) == 1 and configs[0].parent == ckpts[0].parent.parent
    assert (ckpts[0].parent / "last.ckpt").is_file()  # biosig fit saves a last checkpoint
    saved = yaml.safe_load(configs[0].read_text())
    assert saved["data"]["source"]["init_args"]["n_subjects"] == 1
    lightning_cli(
        [
            "test",
            "--config",
            str(configs[0]),
            "--ckpt_path",
            str(ckpts[0]),
            "--trainer.logger",
            "false",
        ]
    )
    # a new CLI (as a new process): `best` and `last` are found in the run folder
    for name, expected in (("best", ckpts[0]), ("last", ckpts[0].parent / "last.ckpt")):
        cli = lightning_cli(["test", "--config", str(configs[0]), "--ckpt_path", name,
                             "--trainer.logger", "false"])
        assert cli.config_init.test.ckpt_path == str(expected)
    capsys.readouterr()
    lightning_cli(["predict", "--config", str(configs[0]), "--ckpt_path", "best"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    written = re.fullmatch(r"biosig predict: predictions \(\(8, 2\) tensor\) written to (\S+); "
                           r"each row's window and the class columns \(left_hand, right_hand\) "
                           r"in predictions\.csv", line)
    assert written, line
    path = Path(written.group(1))
    assert path.is_absolute() and path.parent.parent == root.resolve() / "lightning_logs"
    probs = torch.load(path, weights_only=True)
    assert probs.shape == (8, 2) and torch.allclose(probs.sum(1), torch.ones(8))
    # the tensor names neither its rows nor its columns: the CSV beside it does
    import pandas as pd

    table = pd.read_csv(path.with_suffix(".csv"))
    assert list(table.columns) == ["record", "subject", "session", "window", "onset",
                                   "left_hand", "right_hand"]
    np.testing.assert_allclose(table[["left_hand", "right_hand"]].to_numpy(), probs.numpy(),
                               rtol=1e-6)
    assert set(table["session"]) == {"E"} and table["window"].is_unique
