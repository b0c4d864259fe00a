"""Bad input: every reader raises InvalidFileError naming the file, never a bare parser error."""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_fixtures import SHARED, flip_bytes, synthetic, truncate

from biosig.errors import InvalidFileError
from biosig.io import (
    Annotations,
    Recording,
    read_edf,
    read_gdf,
    read_recording,
    read_wfdb,
    write_edf,
    write_gdf,
    write_wfdb,
)

READERS = {".edf": read_edf, ".bdf": read_edf, ".gdf": read_gdf}


_WRITERS = {
    "edf": lambda tmp, rec: write_edf(tmp / "w.edf", rec),
    "gdf2": lambda tmp, rec: write_gdf(tmp / "w2.gdf", rec),
    "gdf1": lambda tmp, rec: write_gdf(tmp / "w1.gdf", rec, version="1.25"),
    "wfdb": lambda tmp, rec: write_wfdb(tmp, "w", rec),
}


def _written(tmp: Path, kinds=tuple(_WRITERS)) -> dict[str, Path]:
    """Small files written by biosig's writers (always available): EDF+, GDF 2.20 and 1.25
    with a mode-3 event table, WFDB with an annotation file."""
    ann = Annotations.from_lists([0.5, 1.5], [0.0, 1.0], ["769", "770"])
    rec = synthetic(n_chans=3, n_times=500, sfreq=250.0, annotations=ann)
    return {k: _WRITERS[k](tmp, rec) for k in kinds}


# --------------------------------------------------------------------------- empty / garbage


@pytest.mark.parametrize("suffix", [".edf", ".bdf", ".gdf", ".hea"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(InvalidFileError, match="empty") as info:
        read_recording(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize("suffix", [".edf", ".bdf", ".gdf", ".hea"])
@pytest.mark.parametrize("seed", [0, 1])
def test_garbage_bytes(tmp_path, suffix, seed):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(np.random.default_rng(seed).bytes(3000))
    with pytest.raises(InvalidFileError) as info:
        read_recording(path)
    assert Path(info.value.path).name.startswith("garbage")


def test_garbage_wfdb_header(tmp_path):
    (tmp_path / "g.hea").write_text("g x 100 100\ng.dat 16 200 16 0 0 0 0 I\n")
    with pytest.raises(InvalidFileError, match="g.hea: record line .* no signal count"):
        read_wfdb(tmp_path / "g")
    # an unused field (the base time) that is garbage does not make the record unreadable
    (tmp_path / "g.hea").write_text("g 1 100 100 9x:99\ng.dat 16 200 16 0 0 0 0 I\n")
    (tmp_path / "g.dat").write_bytes(bytes(200))
    assert read_wfdb(tmp_path / "g").n_times == 100


def test_text_file_with_edf_suffix(tmp_path):
    path = tmp_path / "notes.edf"
    path.write_text("this is not an EDF file\n" * 20)
    with pytest.raises(InvalidFileError, match="not an EDF/BDF file"):
        read_edf(path)


# --------------------------------------------------------------------------- truncation


@pytest.mark.parametrize("kind", ["edf", "gdf2", "gdf1"])
def test_truncated_at_several_offsets(tmp_path, kind):
    src = _written(tmp_path)[kind]
    size = src.stat().st_size
    # 4 channels (3 EEG + ECG), EDF+ adds its annotation signal; 256 bytes each + fixed part
    header = 256 * (1 + 5) if kind == "edf" else 256 * (1 + 4)
    reader = READERS[src.suffix]
    for cut in sorted(
        {1, 8, 100, 255, 256, 300, header - 1, header, header + 1, size // 2, size - 40, size - 1}
    ):
        # cuts inside the GDF event table (the last 40 bytes) are errors too
        dst = truncate(src, tmp_path / f"cut{cut}{src.suffix}", cut)
        with pytest.raises(InvalidFileError) as info:
            reader(dst)
        assert info.value.path == str(dst), cut


@pytest.mark.parametrize("which", [".hea", ".dat", ".atr"])
def test_truncated_wfdb_files(tmp_path, which):
    _written(tmp_path)
    src = tmp_path / f"w{which}"
    size = src.stat().st_size
    for cut in sorted({1, size // 3, size // 2, size - 2}):
        d = tmp_path / f"cut{cut}"
        d.mkdir()
        for ext in (".hea", ".dat", ".atr"):
            shutil.copy(tmp_path / f"w{ext}", d / f"w{ext}")
        truncate(src, d / f"w{which}", cut)
        try:
            rec = read_wfdb(d / "w")
        except InvalidFileError as err:
            assert Path(err.path).parent == d
        else:  # a header cut inside a trailing line may still be a complete header
            assert which == ".hea" and isinstance(rec, Recording)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "rel", ["eeg_edf/mne-testing-data/subsecond_starttime.edf", "gdf/mne-testing-data/test_1ch.gdf"]
)
def test_truncated_real_files(tmp_path, rel):
    src = SHARED / rel
    if not src.exists():
        pytest.skip(f"{src} not found")
    size = src.stat().st_size
    for cut in (10, 256, 700, size // 2, size - 1):
        dst = truncate(src, tmp_path / f"t{cut}{src.suffix}", cut)
        with pytest.raises(InvalidFileError, match="truncated|records|empty") as info:
            read_recording(dst)
        assert info.value.path == str(dst)


# --------------------------------------------------------------------------- lying headers


def test_edf_header_claims_more_records(tmp_path):
    src = _written(tmp_path)["edf"]
    b = bytearray(src.read_bytes())
    n = int(b[236:244])
    b[236:244] = f"{n + 3:<8d}".encode()
    (tmp_path / "more.edf").write_bytes(b)
    with pytest.raises(InvalidFileError, match=f"claims {n + 3} data records"):
        read_edf(tmp_path / "more.edf")
    b[236:244] = b"-1      "
    (tmp_path / "minus.edf").write_bytes(b)
    with pytest.raises(InvalidFileError, match="-1"):
        read_edf(tmp_path / "minus.edf")


def test_edf_header_lies_about_its_length(tmp_path):
    src = _written(tmp_path)["edf"]
    b = bytearray(src.read_bytes())
    hb = int(b[184:192])
    b[184:192] = f"{hb + 256:<8d}".encode()
    (tmp_path / "len.edf").write_bytes(b)
    with pytest.raises(InvalidFileError, match="header length"):
        read_edf(tmp_path / "len.edf")
    b[184:192] = f"{hb:<8d}".encode()
    b[252:256] = b"99  "  # number of signals
    (tmp_path / "ns.edf").write_bytes(b)
    with pytest.raises(InvalidFileError, match="header length|signals"):
        read_edf(tmp_path / "ns.edf")
    b[252:256] = b"ab  "
    (tmp_path / "nan.edf").write_bytes(b)
    with pytest.raises(InvalidFileError, match="not a number"):
        read_edf(tmp_path / "nan.edf")


@pytest.mark.parametrize("kind", ["gdf1", "gdf2"])
def test_gdf_header_claims_more_records(tmp_path, kind):
    src = _written(tmp_path)[kind]
    b = bytearray(src.read_bytes())
    n = struct.unpack_from("<q", b, 236)[0]
    struct.pack_into("<q", b, 236, n * 4)
    (tmp_path / "more.gdf").write_bytes(b)
    with pytest.raises(InvalidFileError, match="truncated file"):
        read_gdf(tmp_path / "more.gdf")


def test_gdf_event_table_claims_more_events(tmp_path):
    src = _written(tmp_path)["gdf2"]
    b = bytearray(src.read_bytes())
    table = len(b) - (8 + 2 * 12)  # mode 3 table with two events
    assert b[table] == 3
    b[table + 1 : table + 4] = (50).to_bytes(3, "little")
    (tmp_path / "ev.gdf").write_bytes(b)
    with pytest.raises(InvalidFileError, match="claims 50 events"):
        read_gdf(tmp_path / "ev.gdf")
    b[table] = 7
    (tmp_path / "mode.gdf").write_bytes(b)
    with pytest.raises(InvalidFileError, match="mode 7"):
        read_gdf(tmp_path / "mode.gdf")


def test_wfdb_header_claims_more_samples(tmp_path):
    _written(tmp_path)
    hea = tmp_path / "w.hea"
    lines = hea.read_text().splitlines()
    first = lines[0].split()
    first[3] = str(int(first[3]) * 2)
    hea.write_text("\n".join([" ".join(first)] + lines[1:]) + "\n")
    with pytest.raises(InvalidFileError, match="truncated"):
        read_wfdb(tmp_path / "w")


def test_wfdb_header_missing_signal_lines(tmp_path):
    _written(tmp_path)
    hea = tmp_path / "w.hea"
    hea.write_text(hea.read_text().splitlines()[0] + "\n")
    with pytest.raises(InvalidFileError, match="signal lines"):
        read_wfdb(tmp_path / "w")


# --------------------------------------------------------------------------- wrong suffix


def test_wrong_suffix(tmp_path):
    files = _written(tmp_path)
    edf_as_gdf = shutil.copy(files["edf"], tmp_path / "edf_as.gdf")
    with pytest.raises(InvalidFileError, match="looks like an EDF"):
        read_recording(edf_as_gdf)
    gdf_as_edf = shutil.copy(files["gdf2"], tmp_path / "gdf_as.edf")
    with pytest.raises(InvalidFileError, match="looks like a GDF"):
        read_recording(gdf_as_edf)
    with pytest.raises(InvalidFileError, match="unknown signal file type"):
        read_recording(shutil.copy(files["edf"], tmp_path / "x.txt"))
    with pytest.raises(InvalidFileError, match="annotations"):
        read_recording(tmp_path / "events.rec")
    # an EDF saved as .bdf is still read (the header, not the suffix, decides)
    rec = read_recording(shutil.copy(files["edf"], tmp_path / "edf_as.bdf"))
    assert rec.meta["format"] == "EDF+C"
    rec = read_gdf(shutil.copy(files["gdf2"], tmp_path / "gdf_no_suffix"))
    assert rec.meta["format"] == "GDF 2.20"


# --------------------------------------------------------------------------- property test


def _check_outcome(read, target: Path, record_dir: Path) -> None:
    try:
        rec = read()
    except InvalidFileError as err:
        # names a file of the record (a damaged header may name another signal file)
        assert Path(err.path).parent == record_dir, err.path
        assert str(err).startswith(err.path) and err.reason
        return
    assert isinstance(rec, Recording)
    assert rec.data.dtype == np.float32 and rec.data.ndim == 2 and rec.n_times > 0
    assert rec.meta["n_nan"] == int(np.isnan(rec.data).sum())
    assert rec.meta["source"].split(".")[0] == target.name.split(".")[0]


_mutation = st.tuples(
    st.sampled_from(["truncate", "flip", "flip_header"]),
    st.floats(0.0, 1.0, exclude_max=True),
    st.lists(
        st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
)


def _mutate(src: Path, dst: Path, mutation) -> None:
    op, where, flips = mutation
    size = src.stat().st_size
    if op == "truncate":
        truncate(src, dst, int(where * size))
        return
    span = min(size, 4096) if op == "flip_header" else size
    flip_bytes(src, dst, [int(f * span) for f, _ in flips], [v for _, v in flips])


_REAL = [
    ("eeg_edf/mne-testing-data/subsecond_starttime.edf", ("",)),
    ("eeg_edf/mne-testing-data/chtypes_edf.edf", ("",)),
    ("eeg_edf/mne-testing-data/MB0400FU.EDF", ("",)),
    ("gdf/mne-testing-data/test_1ch.gdf", ("",)),
    ("ecg_wfdb/ptb-xl/00001_lr", (".hea", ".dat")),
    ("ecg_wfdb/cinc2021/E07500", (".hea", ".mat")),
    ("ecg_wfdb/mimicdb/03700181", (".hea", ".dat")),
    ("ecg_wfdb/mitdb/100", (".hea", ".atr", ".dat")),
]


@pytest.mark.shared_data
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(_REAL), which=st.integers(0, 2), mutation=_mutation)
def test_mutated_real_files_only_raise_invalid_file_error(case, which, mutation):
    """Truncating or flipping bytes of a real file either still gives a valid Recording or
    raises InvalidFileError naming a file of that record -- never another exception."""
    rel, exts = case
    src = SHARED / rel
    if not (src.with_name(src.name + exts[0]) if exts[0] else src).exists():
        pytest.skip(f"{rel} not found under {SHARED}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for ext in exts:
            shutil.copy(f"{src}{ext}", d / f"{src.name}{ext}")
        ext = exts[which % len(exts)]
        target = d / f"{src.name}{ext}"
        _mutate(Path(f"{src}{ext}"), target, mutation)
        record = d / src.name
        _check_outcome(lambda: read_recording(record), target, d)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["edf", "gdf1", "gdf2", "wfdb.hea", "wfdb.dat", "wfdb.atr"]),
    mutation=_mutation,
)
def test_mutated_written_files_only_raise_invalid_file_error(kind, mutation):
    """Same property on files written by biosig's own writers (runs without shared data)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = _written(d, [kind.split(".")[0]])
        if kind.startswith("wfdb"):
            target = d / f"w.{kind.split('.')[1]}"
            record = d / "w"
        else:
            target = record = files[kind]
        mutated = target.with_name("m_" + target.name)
        _mutate(target, mutated, mutation)
        mutated.replace(target)
        _check_outcome(lambda: read_recording(record), target, d)


def test_edf_with_an_empty_digital_range_is_refused(tmp_path):
    """A header whose digital max equals its digital min would scale samples to garbage."""
    import numpy as np

    from biosig.io import Recording, read_edf, write_edf

    rec = Recording(
        np.random.default_rng(0).standard_normal((2, 500)).astype("float32") * 10,
        250.0,
        ["C3", "C4"],
        ["eeg"] * 2,
        ["uV"] * 2,
    )
    path = write_edf(tmp_path / "x.edf", rec)
    raw = bytearray(path.read_bytes())
    ns = int(raw[252:256].decode())
    dmin = raw[256 + 120 * ns : 256 + 120 * ns + 8]
    raw[256 + 128 * ns : 256 + 128 * ns + 8] = dmin  # signal 0: digital max := digital min
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidFileError, match="digital range"):
        read_edf(path)
