"""``dtype="int16"`` window caches: the EDF files' own samples with a gain and offset per window
and channel, read back bit for bit as the float32 cache's windows; the cases it refuses, damaged
files, parallel and sharded builds."""

import warnings

import numpy as np
import pytest
from io_fixtures import shared, write_edf_plus_d, write_plain_edf

from biosig.data import FixedWindows, PickChannels, get_cache
from biosig.data.cache import WindowCache, cache_key, verify_cache
from biosig.datasets import RecordingFiles
from biosig.errors import ChannelError, ConfigError, InvalidFileError
from biosig.io import read_edf
from biosig.signal.preprocessing import Bandpass, RenameChannels
from test_cache import ToySource

RANGES = dict(pmin=[-3276.8, 500.0, 100.0, -1.0], pmax=[3276.7, -500.0, -100.0, 1.0],
              dmin=[-32768, -32768, -32767, -32768], dmax=[32767, 32767, 32767, 32767])  # fmt: skip
KEEP = [PickChannels(names=["EEG C3", "EEG C2", "EEG C1"]), RenameChannels({"EEG C3": "C3"})]


def edf_files(folder, n=3, flat=None):
    """``n`` EDF files of 4 channels, 3-5 s at 100 Hz, different ranges per channel (a
    negative gain, a zero offset); channel ``flat`` constant in the first file."""
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        x = rng.integers(-32767, 32768, (4, 100 * (3 + i % 3))).astype(np.int16)
        x[2, :7] = 0  # channel 2: negative gain, offset 0: -0.0, kept bit for bit
        if flat is not None and i == 0:
            x[flat] = 5
        paths.append(write_plain_edf(folder / f"S{i + 1:02d}.edf", x, 100, **RANGES))
    return RecordingFiles([str(p) for p in paths], name="int16_test")


def build(src, root, dtype, steps=KEEP, **kw):
    return get_cache(src, steps, FixedWindows(1.0, stride=0.7), root=root, progress=False,
                     num_workers=0, dtype=dtype, **kw)  # fmt: skip


def test_int16_cache_reads_as_the_float32_cache_bit_for_bit(tmp_path):
    src = edf_files(tmp_path / "edf")
    f32, i16 = build(src, tmp_path / "c", "float32"), build(src, tmp_path / "c", "int16")
    assert i16.path != f32.path and i16.dtype == "int16"
    assert cache_key(src, KEEP, FixedWindows(1.0, stride=0.7), dtype="int16") != cache_key(
        src, KEEP, FixedWindows(1.0, stride=0.7))
    want = np.asarray(f32.X[:])
    got = np.asarray(i16.X)
    assert got.dtype == np.float32 and got.shape == want.shape == (len(i16), 3, 100)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    rows = np.array([7, 0, 3, 3])
    for idx in (5, -1, slice(2, 9, 3), rows, np.arange(len(i16)) % 2 == 0):
        np.testing.assert_array_equal(i16.X[idx], want[idx])
    assert i16.ch_names == ["C3", "EEG C2", "EEG C1"]
    # both are the reader's float32 values: cut the same windows from read_edf's data
    decoded = {}
    for k, (record, onset) in enumerate(zip(f32.meta["record"], f32.meta["onset"])):
        if record not in decoded:
            rec = read_edf(tmp_path / "edf" / record)
            decoded[record] = rec.pick(["EEG C3", "EEG C2", "EEG C1"]).data
        start = int(round(onset * 100))
        cut = decoded[record][:, start : start + 100]
        assert np.array_equal(want[k].view(np.uint32), cut.view(np.uint32)), (record, onset)
    assert i16.stats == f32.stats and (i16.y == f32.y).all()
    assert (i16.meta == f32.meta).all().all()
    files = {p.name for p in i16.path.iterdir()}
    assert {"X.i16", "scales.f32"} <= files and "X.f32" not in files
    assert (i16.path / "X.i16").stat().st_size * 2 == (f32.path / "X.f32").stat().st_size
    assert verify_cache(i16.path) == {str(i16.path): "ok"}


@pytest.mark.parametrize("backend", ["kernel", "torch"])
@pytest.mark.parametrize("case", ["per channel", "per window", "rows", "gain 1", "offset -0",
                                  "offset +0", "read-only"])  # fmt: skip
def test_decode_windows_is_numpy_float32_arithmetic_bit_for_bit(case, backend, monkeypatch):
    from biosig import _native
    from biosig.data import _decode

    if backend == "torch":
        monkeypatch.setattr(_decode._LIB, "load", lambda: None)  # as without a compiler
    elif _native.compiler() is None:
        pytest.skip("no C++ compiler")
    rng = np.random.default_rng(1)
    x = rng.integers(-32768, 32768, (5, 3, 40)).astype(np.int16)
    x[:, :, :4] = 0  # 0 * a negative gain is -0.0: kept, unless +0.0 is added
    gain = np.float32([-0.3, 1.7e-3, 1.0])
    offset = np.float32([-0.0, 7.09, -1e-3])
    rows = None
    if case in ("per window", "rows"):  # as a cache's scales: (N, 2, C), gain and offset views
        scales = rng.normal(size=(5, 2, 3)).astype(np.float32)
        gain, offset = scales[:, 0], scales[:, 1]
        rows = np.array([4, 0, 4, 2]) if case == "rows" else None
    elif case == "gain 1":
        gain = np.ones(3, np.float32)
    elif case == "offset -0":
        offset = np.full(3, -0.0, np.float32)
    elif case == "offset +0":
        offset = np.float32([0.0, -0.0, 0.0])
    elif case == "read-only":
        x.flags.writeable = False
    take = slice(None) if rows is None else rows
    g = gain[..., None] if gain.ndim == 1 else gain[take, :, None]
    o = offset[..., None] if offset.ndim == 1 else offset[take, :, None]
    want = x[take].astype(np.float32) * g + o
    got = _decode.decode_windows(x, gain, offset, rows=rows)
    assert got.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))  # -0.0 vs +0.0 too
    out = np.full(want.shape, np.nan, np.float32)
    assert _decode.decode_windows(x, gain, offset, rows=rows, out=out) is out
    assert np.array_equal(out.view(np.uint32), want.view(np.uint32))
    with pytest.raises(IndexError, match="out of range"):
        _decode.decode_windows(x, gain, offset, rows=[0, 5])
    with pytest.raises(ValueError, match="out has shape"):  # never written past its end
        _decode.decode_windows(x, gain, offset, rows=rows, out=out[:-1])


def clipping_record(tmp_path):
    """An EDF file of 5 channels in 7 one-second records of 100 samples: runs at a channel's
    max or min across record boundaries, mixed max/min runs, a constant channel, the int16
    limits."""
    x = np.random.default_rng(3).integers(-50, 50, (5, 700)).astype(np.int16)
    x[0, 97:103] = 200  # a run of 6 across records 0 and 1
    x[0, 300:302] = 200  # 2 at the max: not a run
    x[0, 697], x[0, 698:] = 200, -300  # max, min, min: a run of 3 ending the record
    x[1] = 7  # constant: dead, never clipped
    x[2, :3], x[2, 550], x[2, 600] = -400, -400, 300  # a run of 3 starting the record; the
    # min once more and the max once, in later records (the counts add up across records)
    x[2, 397:400] = -400  # a run of 3 ending record 3, record 4 without an extreme
    x[3] = np.random.default_rng(4).integers(-2, 3, 700)  # many runs
    x[4, 10:14], x[4, 420], x[4, 50] = 32767, 32767, -32768  # the int16 limits
    ranges = dict(pmin=[-1.0] * 5, pmax=[1.0] * 5, dmin=[-32768] * 5, dmax=[32767] * 5)
    return write_plain_edf(tmp_path / "clip.edf", x, 100, **ranges), x


@pytest.mark.parametrize("backend", ["kernel", "numpy"])
def test_windows_and_quality_straight_from_the_records(tmp_path, backend, monkeypatch):
    """The compiled gather (biosig.io._gather) counts and cuts what numpy does on the gathered
    (C, T) samples, channel picks out of file order included."""
    from biosig import _native
    from biosig.data import quality
    from biosig.io import _gather
    from biosig.signal.windows import window_block

    if backend == "numpy":
        monkeypatch.setattr(_gather._LIB, "load", lambda: None)  # as without a compiler
    elif _native.compiler() is None:
        pytest.skip("no C++ compiler")
    path, x = clipping_record(tmp_path)
    for order in ([0, 1, 2, 3, 4], [3, 0, 4]):
        digital = read_edf(path).pick([f"EEG C{i + 1}" for i in order]).digital
        got, want = quality.channel_quality(digital), quality.channel_quality(x[order])
        for key in want:
            assert got[key].dtype == want[key].dtype, key
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        if order[0] == 0:
            assert want["clipped"].tolist()[:3] == [9, 0, 6] and want["dead"].tolist()[1]
        for starts, n in (([0, 70, 140, 210, 630], 70), ([650, 3, 99, 100, 450], 50), ([], 9)):
            block = digital.windows(starts, n)
            assert block.dtype == np.int16 and block.shape == (len(starts), len(order), n)
            np.testing.assert_array_equal(block, window_block(x[order], starts, n))
        with pytest.raises(ValueError, match="outside"):
            digital.windows([0, 651], 50)


@pytest.mark.parametrize("backend", ["kernel", "numpy"])
def test_windows_decoded_from_the_records_are_the_readers_values(tmp_path, backend, monkeypatch):
    """``windows(..., decode=True)`` (a float32 cache's build): the reader's float32 values bit
    for bit, negative gains and offsets of -0.0 included."""
    from biosig import _native
    from biosig.io import _gather
    from biosig.signal.windows import window_block

    if backend == "numpy":
        monkeypatch.setattr(_gather._LIB, "load", lambda: None)  # as without a compiler
    elif _native.compiler() is None:
        pytest.skip("no C++ compiler")
    edf_files(tmp_path / "edf", n=1)
    path, names = tmp_path / "edf" / "S01.edf", ["EEG C3", "EEG C2", "EEG C1", "EEG C4"]
    starts = [0, 37, 150, 200, 99]  # across the 1-s records of 100 samples
    got = read_edf(path).pick(names).digital.windows(starts, 100, decode=True)
    want = window_block(read_edf(path).pick(names).data, starts, 100)
    assert got.dtype == np.float32 and got.shape == (5, 4, 100)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert np.signbit(got[0, 0, :7]).all()  # channel C3: digital 0 decodes to -0.0


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", ["eeg_edf/eegmat/Subject01_2.edf", "eeg_edf/eegmmidb/S001R04.edf"])
def test_record_gather_on_real_files(rel):
    """Real EDF+ files (EEGMAT: 21 channels at 500 Hz; eegmmidb: 64 at 160 Hz with channels
    at their extremes 3 or more times): the compiled counts and windows are numpy's."""
    from biosig import _native
    from biosig.data import quality
    from biosig.signal.windows import window_block

    if _native.compiler() is None:
        pytest.skip("no C++ compiler")
    digital = read_edf(shared(rel)).digital
    x = digital.samples()
    got, want = quality.channel_quality(digital), quality.channel_quality(x)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    w = 2 * (x.shape[1] // 122)  # about 2 s
    starts = np.arange(0, x.shape[1] - w + 1, w)
    np.testing.assert_array_equal(digital.windows(starts, w), window_block(x, starts, w))


def test_record_gather_without_a_compiler_warns_once_and_counts_with_numpy(monkeypatch,
                                                                           tmp_path):  # fmt: skip
    from biosig.data import quality
    from biosig.io import _gather

    path, x = clipping_record(tmp_path)
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    _gather._LIB.reset()
    try:
        with pytest.warns(UserWarning, match="edf_gather kernel: no C\\+\\+ compiler.*numpy"):
            q = quality.channel_quality(read_edf(path).digital)
        assert q["clipped"].tolist()[:3] == [9, 0, 6]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per process
            np.testing.assert_array_equal(read_edf(path).digital.windows([5], 20), x[None, :, 5:25])
    finally:
        _gather._LIB.reset()


@pytest.mark.parametrize("missing", ["compiler", "build folder"])
def test_decode_without_a_compiler_warns_once(monkeypatch, tmp_path, missing):
    from biosig import _native
    from biosig.data import _decode

    if missing == "compiler":
        monkeypatch.setenv("CXX", "/nonexistent/g++")
        said = "no C\\+\\+ compiler.*decoded by torch"
    else:
        if _native.compiler() is None:
            pytest.skip("no C++ compiler")
        (tmp_path / "a_file").write_text("")
        monkeypatch.setenv("BIOSIG_BUILD_DIR", str(tmp_path / "a_file" / "build"))
        said = "cannot build it in .*a_file.*decoded by torch.*BIOSIG_BUILD_DIR"
    _decode._LIB.reset()
    try:
        x = np.arange(-6, 6, dtype=np.int16).reshape(2, 2, 3)
        with pytest.warns(UserWarning, match=said):
            a = _decode.decode_windows(x, np.float32([0.5, 2.0]), np.float32([1.0, -0.0]))
        np.testing.assert_array_equal(a, x * np.float32([0.5, 2.0])[:, None] + [[1.0], [0.0]])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per process
            _decode.decode_windows(x, np.float32([0.5, 2.0]), np.float32([1.0, -0.0]))
    finally:
        _decode._LIB.reset()


def test_int16_refuses_steps_and_records_that_change_the_samples(tmp_path):
    src = edf_files(tmp_path / "edf", n=1)
    with pytest.raises(ConfigError, match=r"int16.*\['Bandpass'\].*float32"):
        build(src, tmp_path / "c", "int16", [*KEEP, Bandpass(1.0, 20.0)])
    with pytest.raises(ConfigError, match="int16.*interpolate"):
        build(src, tmp_path / "c", "int16", dead_channels="interpolate")
    with pytest.raises(ConfigError, match="r0: cache dtype='int16'.*decoded"):
        get_cache(ToySource(), root=tmp_path / "t", dtype="int16", progress=False)
    data = np.random.default_rng(0).normal(0, 20, (2, 300))
    plus_d = write_edf_plus_d(tmp_path / "d.edf", data, 100, [0, 1, 2])
    with pytest.raises(ConfigError, match="d.edf: cache dtype='int16'"):
        build(RecordingFiles([str(plus_d)]), tmp_path / "c", "int16", [])


def test_int16_dead_channels_fail_or_drop_as_float32(tmp_path):
    src = edf_files(tmp_path / "edf", flat=1)
    with pytest.raises(ChannelError, match="EEG C2"):
        build(src, tmp_path / "c", "int16")
    i16 = build(src, tmp_path / "c", "int16", dead_channels="drop")
    f32 = build(src, tmp_path / "c", "float32", dead_channels="drop")
    assert i16.stats == f32.stats and i16.stats["channels"]["EEG C2"]["dead_records"] == 1
    np.testing.assert_array_equal(i16.X[:], f32.X[:])


def test_damaged_int16_scales_are_found_and_rebuilt(tmp_path):
    src = edf_files(tmp_path / "edf", n=2)
    cache = build(src, tmp_path / "c", "int16")
    want = np.asarray(cache.X[:])
    scales = cache.path / "scales.f32"
    raw = bytearray(scales.read_bytes())
    raw[5] ^= 0xFF
    scales.write_bytes(bytes(raw))
    with pytest.raises(InvalidFileError, match="scales.f32.*checksum"):
        verify_cache(cache.path)
    scales.write_bytes(bytes(raw[:-4]))  # truncated
    with pytest.raises(InvalidFileError, match="scales.f32"):
        WindowCache(cache.path)
    rebuilt = build(src, tmp_path / "c", "int16")  # the damaged folder is never reused
    np.testing.assert_array_equal(rebuilt.X[:], want)


def test_int16_parallel_and_sharded_builds(tmp_path):
    src = edf_files(tmp_path / "edf", n=4)
    serial = build(src, tmp_path / "s", "int16")
    parallel = get_cache(src, KEEP, FixedWindows(1.0, stride=0.7), root=tmp_path / "p",
                         progress=False, num_workers=2, dtype="int16")  # fmt: skip
    assert parallel.params["build_workers"] == 2
    for name in ("X.i16", "scales.f32", "y.npy", "meta.csv"):
        assert (serial.path / name).read_bytes() == (parallel.path / name).read_bytes(), name
    sharded = get_cache(src, KEEP, FixedWindows(1.0, stride=0.7), root=tmp_path / "h",
                        progress=False, num_workers=0, dtype="int16", shards=2)  # fmt: skip
    assert len(sharded.shards) == 2 and sharded.dtype == "int16"
    row = {(r, w): i for i, (r, w) in enumerate(zip(serial.meta["record"], serial.meta["window"]))}
    order = [row[r, w] for r, w in zip(sharded.meta["record"], sharded.meta["window"])]
    assert sorted(order) == list(range(len(serial)))
    np.testing.assert_array_equal(sharded.X[:], serial.X[order])


def test_edf_corpus_at_its_raw_rate_builds_int16(tmp_path):
    from biosig.datasets import EDFCorpus

    edf_files(tmp_path / "edf", n=2)
    corpus = EDFCorpus(tmp_path / "edf", channels=["C3", "C1"], sfreq=None, window=1.0)
    assert corpus.load(corpus.records()[0]).digital is not None  # picked, still undecoded
    i16 = get_cache(corpus, root=tmp_path / "c", dtype="int16", progress=False)
    f32 = get_cache(corpus, root=tmp_path / "c", progress=False)
    assert i16.ch_names == ["C3", "C1"] and len(i16) == 7
    assert np.array_equal(np.asarray(i16.X).view(np.uint32), np.asarray(f32.X).view(np.uint32))
    with pytest.raises(ConfigError, match=r"standard steps of EDFCorpus .*\['Resample'\].*"
                                          r"sfreq=None"):  # its default 200 Hz resampling
        get_cache(EDFCorpus(tmp_path / "edf", channels=["C3"]), root=tmp_path / "c", dtype="int16")
