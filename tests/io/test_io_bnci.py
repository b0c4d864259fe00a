"""BNCI Horizon .mat runs and BCI Competition true-label files, read directly (biosig.io.bnci)."""

from __future__ import annotations

import numpy as np
import pytest
from _dataset_fixtures import write_bciiv2a_session, write_true_labels

from biosig.errors import InvalidFileError
from biosig.io import read_bnci, read_true_labels

LABELS = np.array([1, 2, 3, 4, 2, 1, 4, 3])
NAMES = [f"ch{i}" for i in range(25)]
TYPES = ["eeg"] * 22 + ["eog"] * 3


def test_runs_concatenated_with_trial_table(tmp_path):
    info = write_bciiv2a_session(
        tmp_path, "A01T", LABELS, rejected=(5,), trials_per_run=4, write_gdf_file=False
    )
    rec, trials = read_bnci(tmp_path / "A01T.mat", NAMES, TYPES, 250.0, n_classes=4)
    np.testing.assert_allclose(rec.data, info["data"], rtol=1e-6)
    assert rec.sfreq == 250.0 and rec.ch_names == NAMES and rec.units == ["uV"] * 25
    assert rec.meta == {"format": "BNCI mat", "source": "A01T.mat"}
    assert [t["label"] for t in trials] == (LABELS - 1).tolist()
    assert [t["run"] for t in trials] == [0] * 4 + [1] * 4  # the 3 EOG runs hold no trials
    assert [t["onset"] for t in trials] == pytest.approx((info["starts"] / 250.0).tolist())
    assert [t["trial"] for t in trials if t["rejected"]] == [5]


def test_errors_name_the_file_and_the_reason(tmp_path):
    write_bciiv2a_session(tmp_path, "A01T", LABELS, trials_per_run=4, write_gdf_file=False)
    with pytest.raises(
        InvalidFileError,
        match=r"A01T.mat: run 0: X has shape \(500, 25\), "
        r"expected \(n_samples, 22\)",
    ):
        read_bnci(tmp_path / "A01T.mat", NAMES[:22], TYPES[:22], 250.0, n_classes=4)
    with pytest.raises(InvalidFileError, match="fs = 250.0, expected 128"):
        read_bnci(tmp_path / "A01T.mat", NAMES, TYPES, 128.0, n_classes=4)
    with pytest.raises(InvalidFileError, match="labels y must be 1..3"):
        read_bnci(tmp_path / "A01T.mat", NAMES, TYPES, 250.0, n_classes=3)
    write_true_labels(tmp_path / "L.mat", LABELS)
    with pytest.raises(InvalidFileError, match="looks like a true-label file"):
        read_bnci(tmp_path / "L.mat", NAMES, TYPES, 250.0, n_classes=4)
    np.testing.assert_array_equal(read_true_labels(tmp_path / "L.mat"), LABELS)
    with pytest.raises(
        InvalidFileError, match=r"classlabel values must be 1..3, found \[1, 2, 3, 4\]"
    ):
        read_true_labels(tmp_path / "L.mat", n_classes=3)
    (tmp_path / "bad.mat").write_bytes(b"not matlab")
    with pytest.raises(InvalidFileError, match="not a readable MATLAB file"):
        read_bnci(tmp_path / "bad.mat", NAMES, TYPES, 250.0, n_classes=4)
    with pytest.raises(InvalidFileError, match="BNCI file missing"):
        read_bnci(tmp_path / "none.mat", NAMES, TYPES, 250.0, n_classes=4)


def _every_kind_of_variable() -> dict:
    from scipy import sparse

    return {
        "ints": {f"i{b}": np.arange(-3, 4, dtype=f"int{b}") for b in (8, 16, 32, 64)},
        "uints": np.arange(7, dtype=np.uint64).reshape(7, 1), "u8": np.uint8(200),
        "single": np.linspace(0, 1, 9, dtype=np.float32), "double": np.eye(3),
        "cplx": np.array([1 + 2j, -3j]), "flag": np.array([True, False, True]),
        "text": "classlabel", "unicode": "µV Ωhm", "empty": np.zeros((0, 3)),
        "cells": np.array([np.arange(3), "a", np.zeros((2, 2))], dtype=object),
        "runs": np.array([{"X": np.ones((4, 2)), "fs": 250}, {"X": np.zeros((1, 2)), "fs": 250}],
                         dtype=object),  # fmt: skip
        "sparse": sparse.csc_matrix(np.array([[0, 1.5], [2.0, 0]])),
    }


@pytest.mark.parametrize("compressed", [True, False])
def test_mat5_check_accepts_what_scipy_writes(tmp_path, compressed):
    """The tag walk takes every kind of variable scipy writes (structs, cells, strings, sparse,
    complex, empty), compressed or not."""
    from scipy.io import loadmat, savemat

    from biosig.io.bnci import _check_mat5

    f = tmp_path / "all.mat"
    savemat(f, _every_kind_of_variable(), do_compression=compressed)
    _check_mat5(f, f.read_bytes())
    assert {"ints", "runs", "sparse", "cells"} <= set(loadmat(f))


def _inflated_true_labels(tmp_path) -> tuple[bytes, bytes]:
    """A compressed true-label file: its 128-byte header and its one inflated variable."""
    import zlib
    from scipy.io import savemat

    f = tmp_path / "L.mat"
    savemat(f, {"classlabel": LABELS.astype(np.uint8).reshape(-1, 1)}, do_compression=True)
    raw = f.read_bytes()
    assert int.from_bytes(raw[128:132], "little") == 15  # miCOMPRESSED
    return raw[:128], zlib.decompress(raw[136:])


def _compressed(header: bytes, inner: bytes) -> bytes:
    import zlib

    packed = zlib.compress(inner)
    return header + (15).to_bytes(4, "little") + len(packed).to_bytes(4, "little") + packed


def test_damaged_mat_tags_are_refused_before_scipy_reads_them(tmp_path):
    """Found by the reader fuzzer: a flipped bit in A01T.mat's compressed stream made scipy's
    reader crash the process (SIGSEGV/SIGBUS). A bad data type, a cut stream and a size past
    its container are refused by name instead."""
    header, inner = _inflated_true_labels(tmp_path)
    f = tmp_path / "bad.mat"
    f.write_bytes(_compressed(header, inner))
    np.testing.assert_array_equal(read_true_labels(f), LABELS)  # re-packed intact: read
    # the classlabel values' data element (the last in the matrix) gets type 517
    at = inner.rindex((2).to_bytes(4, "little") + len(LABELS).to_bytes(4, "little"))
    f.write_bytes(_compressed(header, inner[:at] + (517).to_bytes(4, "little") + inner[at + 4:]))
    with pytest.raises(InvalidFileError, match="bad.mat.*type 517"):
        read_true_labels(f)
    packed = _compressed(header, inner)
    f.write_bytes(packed[:-6])  # the zlib stream cut short (its size field says more)
    with pytest.raises(InvalidFileError, match="past the end"):
        read_true_labels(f)
    f.write_bytes(packed[:136] + packed[136:-6] + b"\0" * 6)  # cut short inside, same size
    with pytest.raises(InvalidFileError, match="does not inflate"):
        read_true_labels(f)
    big = inner[:4] + (len(inner) + 64).to_bytes(4, "little") + inner[8:]  # matrix past the end
    f.write_bytes(header + big)
    with pytest.raises(InvalidFileError, match="past the end"):
        read_true_labels(f)
    nested = b""
    for _ in range(200):  # matrices in matrices: refused before Python's recursion limit
        nested = (14).to_bytes(4, "little") + len(nested).to_bytes(4, "little") + nested
    f.write_bytes(header + nested)
    with pytest.raises(InvalidFileError, match="nested more than 64 deep"):
        read_true_labels(f)


def test_a_nan_rate_and_artifact_flags_other_than_0_1_are_refused(tmp_path):
    """fs = NaN passed the rate check (NaN compares false) and artifacts = 7 read as "not
    rejected": both accepted silently."""
    from scipy.io import savemat

    def run(fs=250.0, artifacts=(0, 0)):
        return {"X": np.zeros((600, 25)), "trial": np.array([1, 300]), "y": np.array([1, 2]),
                "fs": fs, "artifacts": np.array(artifacts)}  # fmt: skip

    for name, bad, match in (("nan.mat", run(fs=np.nan), r"run 0: fs = nan, expected 250"),
                             ("art.mat", run(artifacts=(0, 7)),
                              r"run 0: artifacts must be 0 or 1, found \[7\]")):  # fmt: skip
        savemat(tmp_path / name, {"data": np.array([bad], dtype=object)})
        with pytest.raises(InvalidFileError, match=match):
            read_bnci(tmp_path / name, NAMES, TYPES, 250.0, n_classes=4)
    savemat(tmp_path / "ok.mat", {"data": np.array([run(artifacts=(0, 1))], dtype=object)})
    _, trials = read_bnci(tmp_path / "ok.mat", NAMES, TYPES, 250.0, n_classes=4)
    assert [t["rejected"] for t in trials] == [False, True]
