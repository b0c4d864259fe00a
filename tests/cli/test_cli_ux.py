"""The first hour with the CLI: explicit values never lose silently to linked ones, ``fit`` says
where its logs went and shows every epoch, ``--help`` is short and complete, recipe scripts
answer ``--help`` without importing torch."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from biosig.cli import LINKED, lightning_cli, main, short_help, with_env_options
from biosig.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EEGNET = ["--config", str(REPO / "recipes/synthetic/eegnet.yaml"),
          "--data.source.init_args.n_subjects", "1",
          "--data.source.init_args.n_trials_per_class", "4", "--data.batch_size", "4"]
RECIPES = sorted(REPO.glob("recipes/*/*.py"))


def test_explicit_n_chans_that_contradicts_the_data_is_refused():
    with pytest.raises(ConfigError, match=r"model.init_args.n_chans=64 but the data give 22.*"
                                          r"PickChannels"):
        lightning_cli([*EEGNET, "--model.init_args.n_chans", "64"], run=False)
    with pytest.raises(ConfigError, match=r"sfreq=100.0 but the data give 250.0"):
        lightning_cli([*EEGNET, "--model.init_args.sfreq", "100"], run=False)


def test_explicit_linked_values_that_agree_are_accepted():
    cli = lightning_cli([*EEGNET, "--model.init_args.n_chans", "22",
                         "--model.init_args.sfreq", "250"], run=False)
    assert cli.model.hparams.n_chans == 22 and cli.model.hparams.sfreq == 250.0


@pytest.mark.parametrize("outcome, status", [("error", 2), ("int", 3), ("dict", 0)])
def test_a_recipe_script_reports_a_project_error_in_one_line(outcome, status, capsys,
                                                             monkeypatch):
    """biosig.cli.run_script, each recipe's ``__main__``: a ConfigError is one line, exit 2; an
    int from main is the exit status; a results dict exits 0."""
    from biosig.cli import run_script

    def main(argv=None):
        if outcome == "error":
            raise ConfigError("the val split has only one kind for CD")
        return 3 if outcome == "int" else {"acc": 0.9}

    monkeypatch.setattr(sys, "argv", ["recipe.py"])
    with pytest.raises(SystemExit) as exit_:
        run_script(main)
    assert exit_.value.code == status
    err = capsys.readouterr().err
    assert err == ("biosig: error: the val split has only one kind for CD\n"
                   if outcome == "error" else "")


def test_every_recipe_script_runs_its_main_through_run_script():
    for path in RECIPES:
        assert path.read_text().rstrip().endswith("run_script(main)"), path


def test_a_typed_1_limits_to_one_batch_and_1_0_is_the_whole_epoch(tmp_path):
    """Lightning declares limit_*_batches Union[float, int]: parsed in that order, a typed 1 was
    1.0 (every batch). Integers stay batch counts, floats fractions."""
    root = ["--trainer.default_root_dir", str(tmp_path)]
    cli = lightning_cli([*EEGNET, *root, "--trainer.limit_train_batches", "1",
                         "--trainer.limit_val_batches", "1.0",
                         "--trainer.limit_test_batches", "0.5"], run=False)
    limits = cli.trainer.limit_train_batches, cli.trainer.limit_val_batches
    assert limits == (1, 1.0) and [type(v) for v in limits] == [int, float]
    assert cli.trainer.limit_test_batches == 0.5
    cli = lightning_cli([*EEGNET, *root, "--trainer.val_check_interval", "1"], run=False)
    assert type(cli.trainer.val_check_interval) is int


def test_fit_prints_its_folders_at_start_and_end_and_one_line_per_epoch(tmp_path, capsys,
                                                                        monkeypatch):
    """stdout is not a terminal here: no progress bar (no carriage returns), clean epoch lines;
    every printed path is absolute, also under a relative root folder."""
    monkeypatch.chdir(tmp_path)
    lightning_cli(["fit", *EEGNET, "--trainer.max_epochs", "2", "--trainer.default_root_dir",
                   "run"])
    out = capsys.readouterr().out
    logs = tmp_path.resolve() / "run" / "lightning_logs" / "version_0"
    start, end = [line for line in out.splitlines() if line.startswith("biosig fit:")]
    assert start == f"biosig fit: logs in {logs}; checkpoints in {logs / 'checkpoints'}"
    assert end.startswith(f"biosig fit: done; logs in {logs}; checkpoints in ")
    # the recipe keeps Lightning's default ModelCheckpoint: no monitored value, so no "best"
    assert re.search(rf"; checkpoint \(no monitored value: the newest\) "
                     rf"{re.escape(str(logs))}/checkpoints/epoch=1\S+\.ckpt$", end), end
    assert "\r" not in out and "\x1b" not in out, out  # no progress bar redraws
    assert re.findall(r"^epoch (\d)/2: train_loss", out, flags=re.M) == ["1", "2"]



def test_fit_names_the_last_checkpoint_when_it_keeps_no_other(tmp_path, capsys, monkeypatch):
    """save_top_k: 0 with save_last (recipes/*/eegdm_pretrain.yaml): the done line names last.ckpt,
    the file the recipe's next step reads."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "last_only.yaml").write_text(
        "trainer:\n  callbacks:\n    - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n"
        "      init_args: {save_last: true, save_top_k: 0}\n")
    lightning_cli(["fit", *EEGNET, "--config", "last_only.yaml", "--trainer.max_epochs", "1",
                   "--trainer.default_root_dir", "run"])
    end = [line for line in capsys.readouterr().out.splitlines()
           if line.startswith("biosig fit: done")][0]
    logs = tmp_path.resolve() / "run" / "lightning_logs" / "version_0"
    assert end.endswith(f"; last checkpoint {logs / 'checkpoints' / 'last.ckpt'}"), end


def test_fit_without_a_logger_says_so(tmp_path, capsys, monkeypatch):
    """It printed "logs in none (no logger)"."""
    monkeypatch.chdir(tmp_path)
    lightning_cli(["fit", *EEGNET, "--trainer.max_epochs", "1", "--trainer.logger", "false",
                   "--trainer.default_root_dir", "run"])
    start = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("biosig fit: ")][0]
    assert start == (f"biosig fit: no logger (trainer.logger false); checkpoints in "
                     f"{tmp_path.resolve() / 'run' / 'checkpoints'}")


def test_fit_prints_no_lightning_advertisement_or_tensorboard_notice(tmp_path):
    """Every `biosig fit` printed Lightning 2.6's "💡 Tip: ... install litlogger" and, with the
    default logger, a 4-line notice that tensorboardX is not installed; Lightning's other lines
    stay."""
    run = subprocess.run(
        [sys.executable, "-m", "biosig", "fit", *EEGNET, "--trainer.max_epochs", "1",
         "--trainer.default_root_dir", "run", "--trainer.enable_model_summary", "false"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-2000:]
    assert "GPU available:" in out and "biosig fit: done" in out
    assert "Tip:" not in out and "litlogger" not in out and "tensorboardX" not in out, out
    assert "LeafSpec" not in out, out


def test_the_progress_bar_stays_on_a_terminal(monkeypatch):
    import lightning.pytorch as pl

    from biosig.callbacks import EpochProgress
    from biosig.cli import _no_bar_without_tty

    trainer = pl.Trainer(logger=False, enable_checkpointing=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _no_bar_without_tty(trainer, epoch_lines=True)
    assert trainer.progress_bar_callback is not None
    assert not any(isinstance(c, EpochProgress) for c in trainer.callbacks)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    _no_bar_without_tty(trainer, epoch_lines=True)
    assert trainer.progress_bar_callback is None
    assert any(isinstance(c, EpochProgress) for c in trainer.callbacks)


def test_environment_variables_override_configs_but_not_typed_options(monkeypatch, capsys):
    monkeypatch.setenv("PL_FIT__TRAINER__MAX_EPOCHS", "3")
    monkeypatch.setenv("PL_FIT__DATA__BATCH_SIZE", "2")
    monkeypatch.setenv("PL_TEST__TRAINER__MAX_EPOCHS", "7")  # another command's
    assert with_env_options(["fit", "--config", "a.yaml", "--data.batch_size", "8"]) == [
        "fit", "--config", "a.yaml", "--data.batch_size", "2", "--trainer.max_epochs", "3",
        "--data.batch_size", "8"]
    with pytest.raises(SystemExit):  # the recipe says max_epochs: 10; EEGNET types batch_size 4
        lightning_cli(["fit", *EEGNET, "--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["trainer"]["max_epochs"] == 3 and config["data"]["batch_size"] == 4


def test_each_optimiser_argument_has_its_own_help_text():
    from biosig.cli import _subclasses, option_lines
    from biosig.tasks.base import BiosigTask

    for task in _subclasses(BiosigTask):
        lines = {ln.split()[0].rsplit(".", 1)[1]: ln.split("  ", 2)[2]
                 for ln in option_lines(task, "model.init_args.")}
        texts = [lines[k] for k in ("lr", "lr_g", "lr_d", "weight_decay", "optimizer", "betas")
                 if k in lines]
        assert len(set(texts)) == len(texts), (task.__name__, texts)
        assert not any("sgd" in lines.get(k, "") for k in ("lr", "weight_decay")), lines


def test_short_help_lists_every_data_and_task_option_in_one_complete_line(capsys):
    with pytest.raises(SystemExit) as exc:
        lightning_cli(["fit", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.strip() == short_help("fit").strip()
    lines = text.splitlines()
    assert len(lines) < 160  # Lightning's own help: ~700 lines
    from biosig.data.datamodule import BiosigDataModule
    from biosig.tasks import ClassificationTask, VAETask

    options = {ln.split()[0]: ln for ln in lines if ln.startswith("  --")}
    for name in list(inspect.signature(BiosigDataModule).parameters):
        assert f"--data.{name}" in options
    for task in (ClassificationTask, VAETask):
        assert f"--model.class_path biosig.tasks.{task.__name__}" in text
    for line in options.values():
        desc = re.sub(r" \[.*\]$", "", line.split("  ", 2)[2])
        assert "undocumented" not in desc, line
        # a whole sentence, a pointer to the entry that describes it, or the linked note
        assert desc.endswith((".", ")")) or desc.startswith("see "), line
    linked = [ln for ln in options.values() if any(f"init_args.{k} " in ln for k in LINKED)]
    assert linked and all("from the data" in ln for ln in linked)


def test_help_all_is_lightnings_full_help(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help-all"])
    assert "--trainer.max_epochs" in capsys.readouterr().out


@pytest.mark.parametrize("recipe", RECIPES, ids=[f"{p.parent.name}/{p.stem}" for p in RECIPES])
def test_recipe_help_imports_no_torch(recipe):
    code = ("import runpy, sys; sys.argv = [sys.argv[1], '--help']\n"
            "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "print('HEAVY', sorted(m for m in ('torch', 'lightning', 'mne', 'braindecode') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(recipe)], capture_output=True,
                         text=True, check=True, cwd=REPO).stdout
    assert "usage:" in out and out.strip().splitlines()[-1] == "HEAVY []"


def test_recipe_help_formatter_shows_defaults_once_and_as_typed():
    """The recipes' ``--help``: each option's default after its text, as typed on the command
    line; none where there is nothing to show (None, "", a flag) or already written."""
    import argparse

    from biosig._argparse import HelpFormatter

    p = argparse.ArgumentParser(description="line one\n  kept indented", allow_abbrev=False,
                                formatter_class=HelpFormatter)
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="training seeds")
    p.add_argument("--artifacts", nargs="+", default=["dead channel", "pop"], help="kinds")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the preset's)")
    p.add_argument("--norm", default="", help="token norm (default: the paper's)")
    p.add_argument("--tiny", action="store_true", help="small")
    p.add_argument("--k", type=float, default=3.0, help="multiplier (default: %(default)s)")
    text = " ".join(p.format_help().split())
    assert "line one\n  kept indented" in p.format_help()  # the raw description
    assert "training seeds (default: 1 2 3)" in text
    assert "kinds (default: 'dead channel' pop)" in text
    assert "learning rate (default: 0.001)" in text
    assert "(default: None)" not in text and "(default: )" not in text
    assert "small (default" not in text and text.count("(default: 3.0)") == 1

def test_biosig_models_refuses_arguments_it_would_ignore(capsys):
    """`biosig models summary eegdm` printed the whole list, as if understood; now one error
    line pointing to the summary table (and --help says what the command does)."""
    assert main(["models"]) == 0 and "eegformer_s" in capsys.readouterr().out.split()
    assert main(["models", "summary", "eegdm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'summary eegdm'" in err
    assert "python -m biosig.models.summary" in err
    assert main(["models", "--help"]) == 0
    assert "python -m biosig.models.summary" in capsys.readouterr().out


def test_fit_prints_its_folders_on_rank_zero_only(tmp_path, capsys, monkeypatch):
    """Under DDP every process runs the CLI (strategy=ddp, srun, torchrun): each printed
    "biosig fit: logs in ..." and "... done" (twice with 2 CPU processes)."""
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)  # as in the second process
    lightning_cli(["fit", *EEGNET, "--trainer.max_epochs", "1", "--trainer.limit_train_batches",
                   "1", "--trainer.limit_val_batches", "1", "--trainer.default_root_dir",
                   str(tmp_path)])
    assert "biosig fit:" not in capsys.readouterr().out


def test_fit_trainer_pickles_for_ddp_spawn(tmp_path):
    """strategy=ddp_spawn pickles the Trainer, whose config-saving callback holds the CLI's
    parser: biosig's parser and CLI classes were local to a function ("Can't pickle local
    object"), so `biosig fit --trainer.strategy ddp_spawn` failed with every model. A fresh
    process (as a spawned rank) unpickles them from biosig.cli."""
    import pickle

    cli = lightning_cli(["--config", str(REPO / "recipes/synthetic/dbconformer.yaml"),
                         "--data.source.init_args.n_subjects", "1",
                         "--data.cache_dir", str(tmp_path / "cache"),
                         "--trainer.default_root_dir", str(tmp_path)], run=False)
    blob = pickle.dumps([cli.trainer, cli.model, cli.parser])
    code = ("import pickle, sys; trainer, model, parser = pickle.loads(sys.stdin.buffer.read()); "
            "print(type(parser).__name__)")
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True,
                         cwd=REPO, check=True)
    assert out.stdout.decode().strip() == "ShortUsageParser"


def test_ddp_spawn_with_a_parametrized_model_is_one_line(tmp_path):
    """braindecode's EEGNet holds parametrized modules (max-norm), which torch cannot pickle for
    spawned processes: refused naming the option and `ddp` instead of a multiprocessing
    traceback."""
    with pytest.raises(ConfigError, match=r"^trainer.strategy: .*parametrized.*strategy ddp"):
        lightning_cli(["fit", *EEGNET, "--trainer.strategy", "ddp_spawn", "--trainer.devices",
                       "2", "--trainer.accelerator", "cpu", "--trainer.default_root_dir",
                       str(tmp_path)])


def test_class_help_shows_each_parameters_whole_text(capsys):
    """``--data.source.help CLASS`` dropped the first line of every parameter's text (read as
    its type from biosig's ``name : text`` docstrings) and showed nothing for one-liners."""
    with pytest.raises(SystemExit) as code:
        lightning_cli(["fit", "--data.source.help", "biosig.datasets.EEGMAT"])
    out = " ".join(capsys.readouterr().out.split())
    assert code.value.code == 0
    assert "--data.source.path PATH folder with ``Subject00_1.edf`` ... and ``subject- info.csv``" \
        in out
    assert "--data.source.view VIEW ``\"task\"``: rest" in out


def test_multilabel_that_contradicts_the_data_source_is_refused_before_training():
    """``multilabel`` is not linked (only a classifier takes it): a config that forgot it on a
    multi-label source (or set it on a single-label one) failed at the first step, in
    torchmetrics' or BCE's shape check; now a ConfigError names the option and the source."""
    ptbxl = ["--config", str(REPO / "recipes/ptbxl/cvd_cnn.yaml"),
             "--config", str(REPO / "recipes/ptbxl/simulator.yaml"),
             "--data.source.init_args.n_records", "20", "--data.preprocessing", "[]"]
    with pytest.raises(ConfigError, match=r"multilabel=False \(model.init_args.multilabel\) but "
                                          r"the data source SyntheticECG is multi-label"):
        lightning_cli([*ptbxl, "--model.init_args.multilabel", "false"], run=False)
    with pytest.raises(ConfigError, match=r"multilabel=True .* SyntheticMI is single-label"):
        lightning_cli([*EEGNET, "--model.init_args.multilabel", "true"], run=False)
