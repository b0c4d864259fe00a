"""Dataset downloads offline: a loopback PhysioNet-like mirror (PTB-XL) and file:// (BNCI)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from _dataset_fixtures import SHARED, write_bciiv2a_session, write_ptbxl_tree
from biosig.datasets._common import physionet_fetch
from biosig.datasets.bciiv2a import BCIIV2a
from biosig.datasets.ptbxl import PTBXL
from biosig.errors import DownloadError


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture()
def mirror(tmp_path):
    """``<tmp>/mirror/ptb-xl/1.0.3/`` served on 127.0.0.1 with a SHA256SUMS.txt."""
    proj = tmp_path / "mirror" / "ptb-xl" / "1.0.3"
    real = SHARED / "ecg_wfdb" / "ptb-xl" / "00001_lr"
    write_ptbxl_tree(
        proj, 3, headers=False, real_record=real if real.with_suffix(".hea").exists() else None
    )
    if not (proj / "records100").exists():  # no shared data: a header-only record
        (proj / "records100" / "00000").mkdir(parents=True)
        (proj / "records100" / "00000" / "00001_lr.hea").write_text("00001_lr 12 100 1000\n")
    (proj / "records500" / "00000").mkdir(parents=True)
    (proj / "records500" / "00000" / "00001_hr.hea").write_text("00001_hr 12 500 5000\n")
    files = sorted(p for p in proj.rglob("*") if p.is_file())
    (proj / "SHA256SUMS.txt").write_text(
        "".join(f"{_sha(p)} {p.relative_to(proj).as_posix()}\n" for p in files)
    )
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "mirror")
    )
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", proj
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_ptbxl_download_verified(mirror, tmp_path):
    url, proj = mirror
    root = tmp_path / "data"
    ds = PTBXL(
        root, sampling_rate=100, task="all", drop_unlabelled=False, download=True, mirror=url
    )
    assert (root / "ptbxl_database.csv").read_bytes() == (proj / "ptbxl_database.csv").read_bytes()
    assert (root / "records100" / "00000" / "00001_lr.hea").is_file()
    assert not (root / "records500").exists()  # only the chosen rate
    assert len(ds.records()) == 3
    assert not list(root.rglob("*.part"))


def test_physionet_fetch_refuses_bad_or_unlisted(mirror, tmp_path):
    url, proj = mirror
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="not listed"):
        physionet_fetch(
            "ptb-xl", "1.0.3", root, ["records100/00000/99999_lr.hea"], base_url=url, progress=False
        )
    (proj / "scp_statements.csv").write_text("tampered\n")
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        physionet_fetch(
            "ptb-xl", "1.0.3", root, ["scp_statements.csv"], base_url=url, progress=False
        )
    assert not (root / "scp_statements.csv").exists()


def test_ptbxl_offline_error_names_url(tmp_path):
    with pytest.raises(DownloadError) as err:
        PTBXL(tmp_path / "data", download=True, mirror="http://127.0.0.1:9")
    assert "http://127.0.0.1:9/ptb-xl/1.0.3/SHA256SUMS.txt" in str(err.value)


def test_bnci_download_records_checksums(tmp_path):
    remote = tmp_path / "remote"
    write_bciiv2a_session(
        tmp_path / "unused",
        "A01T",
        np.array([1, 2, 3, 4]),
        trials_per_run=4,
        write_gdf_file=False,
        bnci_folder=remote,
    )
    url = remote.as_uri()
    root = tmp_path / "bci"
    with pytest.warns(UserWarning, match="unverified"):
        ds = BCIIV2a(root, subjects=[1], sessions=["T"], download=True, mirror=url)
    assert ds.form == "bnci"
    sums = (root / "SHA256SUMS").read_text().split()
    assert sums == [_sha(remote / "A01T.mat"), "A01T.mat"]
    _, table = ds.trials(ds.records()[0])
    assert [t["label"] for t in table] == [0, 1, 2, 3]
    # the remote file changes: a fresh download is checked against the recorded checksum
    (root / "A01T.mat").unlink()
    (remote / "A01T.mat").write_bytes(b"changed upstream")
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        BCIIV2a(root, subjects=[1], sessions=["T"], download=True, mirror=url)
    assert not (root / "A01T.mat").exists()


def test_bnci_checksum_file_in_binary_mode_form_is_read_and_a_bad_line_refused(tmp_path):
    """A SHA256SUMS line as `sha256sum -b` writes it ("<hash> *A01T.mat") was not understood:
    the recorded checksum was dropped, a damaged local file accepted and its hash recorded."""
    remote = tmp_path / "remote"
    write_bciiv2a_session(tmp_path / "unused", "A01T", np.array([1, 2, 3, 4]), trials_per_run=4,
                          write_gdf_file=False, bnci_folder=remote)  # fmt: skip
    root = tmp_path / "bci"
    root.mkdir()
    good = _sha(remote / "A01T.mat")
    (root / "SHA256SUMS").write_text(f"{good} *A01T.mat\n")
    (root / "A01T.mat").write_bytes(b"damaged local copy")
    BCIIV2a(root, subjects=[1], sessions=["T"], download=True, mirror=remote.as_uri())
    assert _sha(root / "A01T.mat") == good  # the damaged copy was fetched again
    assert (root / "SHA256SUMS").read_text() == f"{good}  A01T.mat\n"
    (root / "SHA256SUMS").write_text(f"{good[:-1]}  A01T.mat\n")
    with pytest.raises(DownloadError, match=r"SHA256SUMS, line 1: not '<sha256>  <file name>'"):
        BCIIV2a(root, subjects=[1], sessions=["T"], download=True, mirror=remote.as_uri())
