"""biosig._threads: --threads / BIOSIG_THREADS / free-core default, and the CLI option."""

from __future__ import annotations

import pytest
import torch

from biosig import _threads
from biosig.errors import ConfigError


@pytest.fixture(autouse=True)
def _keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_precedence(monkeypatch):
    monkeypatch.setattr(_threads, "auto_threads", lambda: 3)
    monkeypatch.delenv(_threads.ENV, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    assert _threads.resolve_threads() == 1  # OMP_NUM_THREADS set: torch's count is kept
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert _threads.resolve_threads() == 3
    monkeypatch.setenv(_threads.ENV, "2")
    assert _threads.resolve_threads() == 2
    assert _threads.resolve_threads(1) == 1
    assert _threads.resolve_threads("auto") == 2  # 'auto' on the command line defers to the env
    monkeypatch.setenv(_threads.ENV, "auto")
    assert _threads.resolve_threads() == 3


@pytest.fixture(autouse=True)
def _no_omp_env(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_auto_uses_free_cores(monkeypatch):
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(_threads.os, "getloadavg", lambda: (2.6, 0.0, 0.0))
    assert _threads.auto_threads() == 1
    monkeypatch.setattr(_threads.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert _threads.auto_threads() == 4
    monkeypatch.setattr(_threads.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert _threads.auto_threads() == 1


@pytest.mark.parametrize("bad", ["0", "two", "-1"])
def test_bad_values_name_their_source(monkeypatch, bad):
    monkeypatch.setenv(_threads.ENV, bad)
    with pytest.raises(ConfigError, match=_threads.ENV):
        _threads.resolve_threads()
    with pytest.raises(ConfigError, match="--threads"):
        _threads.resolve_threads(bad)


def test_pop_threads_option_applies_and_strips():
    # (OMP_NUM_THREADS removed by the fixture: explicit values are applied)
    assert _threads.pop_threads_option(["fit", "--threads", "1", "--x", "2"]) == ["fit", "--x", "2"]
    assert torch.get_num_threads() == 1
    assert _threads.pop_threads_option(["run", "--threads=2"]) == ["run"]
    assert torch.get_num_threads() == 2
    with pytest.raises(ConfigError, match="needs a value"):
        _threads.pop_threads_option(["fit", "--threads"])


@pytest.mark.parametrize("argv", [["--threads", "1", "models"], ["--threads=1", "models"],
                                  ["models", "--threads", "1"], ["--threads", "1", "models",
                                                                 "--debug"]])
def test_biosig_takes_threads_before_or_after_the_command(argv, capsys):
    """`biosig --threads N <command>` is the documented form (it was an 'unknown command')."""
    from biosig.cli import main

    assert main(argv) == 0
    assert "dbconformer" in capsys.readouterr().out.split()
    assert torch.get_num_threads() == 1


def test_biosig_threads_without_a_value_is_one_line(capsys, monkeypatch):
    """`biosig --threads` (no value, no command) was the help text with exit status 0."""
    from biosig.cli import main

    monkeypatch.delenv("BIOSIG_DEBUG", raising=False)
    assert main(["--threads"]) == 2
    assert capsys.readouterr().err.strip() == f"biosig: error: {_threads.NEEDS_VALUE}"
