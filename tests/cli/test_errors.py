"""CLI errors: a project or Lightning configuration error is one line, exit code 2, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from biosig.cli import _error_line, main
from biosig.errors import ConfigError, InvalidFileError

REPO = Path(__file__).resolve().parents[2]
TINY = ["--data.source.init_args.n_subjects", "1", "--data.source.init_args.n_trials_per_class",
        "4", "--data.batch_size", "4", "--trainer.logger", "false"]
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
