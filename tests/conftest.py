"""Shared fixtures: an isolated cache/data folder per test session, the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("BIOSIG_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_biosig_dirs(tmp_path_factory):
    """Never touch the user's ~/biosig_data from tests."""
    root = tmp_path_factory.mktemp("biosig_home")
    old = {k: os.environ.get(k) for k in ("BIOSIG_DATA", "BIOSIG_CACHE")}
    os.environ["BIOSIG_DATA"] = str(root / "data")
    os.environ["BIOSIG_CACHE"] = str(root / "cache")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real recordings not found at {path} (set BIOSIG_SHARED_DATA)")
    return path


@pytest.fixture(autouse=True)
def _lightning_logs_to_the_current_stderr():
    """Lightning gives its loggers a stream handler on the stderr of the moment it is imported;
    under pytest's capture that stream is closed once the importing test ends, and a later
    test's stderr got "--- Logging error ---" with a traceback. Each test re-points them."""
    import logging
    import sys

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        for handler in logging.getLogger(name).handlers:
            if type(handler) is logging.StreamHandler:
                handler.stream = sys.stderr  # (setStream would flush the closed one first)
    yield


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test (small tensors; 2 threads on a loaded 2-core machine
    run many times slower), restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
