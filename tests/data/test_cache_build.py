"""Cache builds at scale: parallel == serial bytes, float16 storage, CRC verify, rebuild of a
damaged cache, signal-quality stats, the dead-channel policy, a script without a main guard."""

import json
import os
import sys
import zlib

import numpy as np
import pytest

from biosig.data import PickChannels, get_cache, quality
from biosig.data.cache import NotACacheError, WindowCache, cache_command, cache_key, verify_cache
from biosig.data.cache_build import to_float16
from biosig.errors import ChannelError, ConfigError, InvalidFileError, SamplingRateError
from biosig.signal.recording import Recording
from test_cache import ToySource
from test_cache_int16 import edf_files

FILES = ("X.f32", "y.npy", "meta.csv")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_parallel_build_gives_the_serial_bytes(tmp_path, dtype):
    src = ToySource(n=8, extra={"site": "a"})
    serial = get_cache(src, root=tmp_path / "s", num_workers=0, dtype=dtype)
    parallel = get_cache(src, root=tmp_path / "p", num_workers=2, dtype=dtype)
    assert serial.params["build_workers"] == 1 and parallel.params["build_workers"] == 2
    x_file = "X.f32" if dtype == "float32" else "X.f16"
    for name in (x_file, *FILES[1:]):
        assert (serial.path / name).read_bytes() == (parallel.path / name).read_bytes(), name
    assert serial.params["checksum"] == parallel.params["checksum"]
    assert serial.stats == parallel.stats and len(serial) == 24


def test_float16_storage_round_trip(tmp_path):
    src = ToySource()
    f32 = get_cache(src, root=tmp_path)
    f16 = get_cache(src, root=tmp_path, dtype="float16")
    assert f16.path != f32.path and (f16.path / "X.f16").stat().st_size * 2 == f32.X.nbytes
    assert cache_key(src, [], src.default_windows(), dtype="float16") != cache_key(
        src, [], src.default_windows()
    )
    x16, x32 = np.asarray(f16.X), np.asarray(f32.X)
    assert x16.dtype == np.float32 and f16.X[3].dtype == np.float32
    # float16 keeps 11 significant bits: relative rounding error <= 2**-11 (normal range)
    big = np.abs(x32) > 2.0**-14
    assert np.max(np.abs(x16 - x32)[big] / np.abs(x32[big])) <= 2.0**-11
    np.testing.assert_array_equal(f16.X[[0, 4, 2]], x16[[0, 4, 2]])
    # rounded to nearest even, exactly as numpy's astype rounds
    np.testing.assert_array_equal(x16, x32.astype(np.float16).astype(np.float32))
    with pytest.raises(ConfigError, match="dtype"):
        get_cache(src, root=tmp_path, dtype="int8")


def test_to_float16_is_numpys_rounding_bit_for_bit():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(5000) * s for s in (1e-7, 1e-3, 1, 1e3, 6e4)])
    edges = [65504, 65519.99, 65520, -65520, 6e-8, 5.96e-8, 2.98e-8, 0.0, -0.0,
             np.inf, -np.inf, np.nan]  # fmt: skip
    x = np.concatenate([x, edges]).astype(np.float32).reshape(2, -1)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    got = to_float16(x)
    assert got.dtype == np.float16 and got.shape == x.shape
    np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


def test_float16_overflow_is_refused(tmp_path):
    class Loud(ToySource):
        def load(self, ref):
            rec = super().load(ref)
            return rec.copy(data=rec.data * 1e5)

    with pytest.raises(ConfigError, match="overflows float16"):
        get_cache(Loud(), root=tmp_path, dtype="float16")


def test_verify_detects_a_flipped_byte(tmp_path):
    cache = get_cache(ToySource(), root=tmp_path)
    assert verify_cache(cache.path) == {str(cache.path): "ok"}
    x = cache.path / "X.f32"
    raw = bytearray(x.read_bytes())
    raw[1234] ^= 0x01
    x.write_bytes(bytes(raw))
    with pytest.raises(InvalidFileError, match=f"delete the folder {cache.path}"):
        verify_cache(cache.path)


def test_verify_command_tells_a_missing_or_non_cache_path_from_a_damaged_cache(tmp_path, capsys):
    cache = get_cache(ToySource(), root=tmp_path / "c")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    for name, reason in [("nope", "no such folder"), ("empty", "not a window cache folder"),
                         ("file", "not a folder")]:  # fmt: skip
        with pytest.raises(NotACacheError, match=reason):
            verify_cache(tmp_path / name)
        assert cache_command(["verify", str(cache.path), str(tmp_path / name)]) == 2
        out, err = capsys.readouterr()
        assert f"ok: {cache.path}" in out
        assert err.startswith(f"NOT A CACHE: {tmp_path / name}: {reason}")
        assert "DAMAGED" not in err and "delete" not in err
    # the cache root (its dataset/version/key folders below) names the caches it holds
    with pytest.raises(NotACacheError, match=rf"the caches below it: {cache.path}$"):
        verify_cache(tmp_path / "c")
    (cache.path / "y.npy").unlink()  # a damaged cache is still reported as such
    assert cache_command(["verify", str(cache.path)]) == 1
    assert capsys.readouterr().err.startswith("DAMAGED: ")


@pytest.mark.parametrize("damage", ["flip_x", "truncate_x", "no_params", "flip_y", "longer_meta"])
def test_verify_command_names_each_damage_once(tmp_path, capsys, damage):
    """One line per damaged cache saying what to do once (a flipped byte in y.npy said
    "the cache is damaged: delete the folder ..." twice, one inside the other)."""
    path = get_cache(ToySource(), root=tmp_path).path
    name = {"flip_x": "X.f32", "truncate_x": "X.f32", "no_params": "params.json",
            "flip_y": "y.npy", "longer_meta": "meta.csv"}[damage]
    raw = bytearray((path / name).read_bytes())
    if damage.startswith("flip"):
        raw[-1] ^= 0x01
    (path / name).write_bytes(bytes(raw[:-8] if damage == "truncate_x" else
                                    raw + b"x" if damage == "longer_meta" else raw))
    if damage == "no_params":
        (path / name).unlink()
    assert cache_command(["verify", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"DAMAGED: {path}")
    assert name in err and err.count(f"delete the folder {path} (it is rebuilt") == 1


def test_verify_command_skips_the_lock_files_a_glob_over_the_cache_root_names(tmp_path, capsys):
    """biosig cache verify <cache>/<dataset>/<version>/*: each <key>.lock beside its folder."""
    cache = get_cache(ToySource(), root=tmp_path)
    lock = cache.path.parent / f"{cache.path.name}.lock"
    assert lock.is_file()  # the build's flock file stays
    assert cache_command(["verify", *map(str, sorted(cache.path.parent.iterdir()))]) == 0
    out, err = capsys.readouterr()
    assert f"ok: {cache.path}" in out and f"skipped: {lock} (a cache build's lock file" in out
    assert err == ""

@pytest.mark.parametrize("damage", ["truncate", "no_y", "bad_meta"])
def test_damaged_finished_cache_is_rebuilt(tmp_path, damage, caplog):
    """Opened directly, the error says to delete the folder; rebuilt by get_cache, the log says
    why and that it is rebuilt (it said both "delete this folder" and "rebuilding it")."""
    src = ToySource()
    path = get_cache(src, root=tmp_path).path
    good = (path / "X.f32").read_bytes()
    if damage == "truncate":
        with open(path / "X.f32", "r+b") as fh:
            fh.truncate(100)
    elif damage == "no_y":
        (path / "y.npy").unlink()
    else:
        (path / "meta.csv").write_text("record\nr0\n")
    with pytest.raises(InvalidFileError, match=f"delete the folder {path}"):
        WindowCache(path)
    caplog.set_level("WARNING", logger="biosig.cache")
    again = get_cache(src, root=tmp_path)
    assert again.path == path and (path / "X.f32").read_bytes() == good
    said = [r.getMessage() for r in caplog.records if "fails its checks" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"cache {path} fails its checks ({path}")
    assert said[0].endswith("): rebuilding it") and "delete" not in caplog.text


class DeadSource(ToySource):
    """r1's Cz is all NaN (or flat); C4 is clipped in every record."""

    def __init__(self, how="nan", **kw):
        super().__init__(**kw)
        self.how = how

    def identity(self):
        return {**super().identity(), "how": self.how}

    def load(self, ref):
        rec = super().load(ref)
        data = rec.data.copy()
        data[2, 100:110] = data[2].max()  # a clipped run of 10 samples
        if ref["record"] == "r1":
            data[1] = np.nan if self.how == "nan" else 0.0
        return rec.copy(data=data)


@pytest.mark.parametrize("how", ["nan", "flat"])
def test_dead_channel_fails_naming_channel_and_remedy(tmp_path, how):
    with pytest.raises(ChannelError, match=r"r1: channel\(s\) \['Cz'\] are dead.*dead_channels"):
        get_cache(DeadSource(how), root=tmp_path)


def test_dead_channel_drop_and_stats(tmp_path):
    cache = get_cache(DeadSource(), root=tmp_path, dead_channels="drop")
    assert sorted(set(cache.meta["record"])) == ["r0", "r2"] and len(cache) == 6
    st = cache.stats
    assert st["dead_channel_drop"] == 1 and st["dead_channel_events"] == [["r1", ["Cz"], "drop"]]
    assert st["channels"]["Cz"] == {
        "records": 3, "nan_samples": 1000, "clipped_samples": 0, "flat_records": 0,
        "dead_records": 1,
    }  # fmt: skip
    assert st["channels"]["C4"]["clipped_samples"] == 30  # 10 per record
    assert st["channels"]["C3"]["clipped_samples"] == 0


def test_dead_channel_interpolated_from_neighbours(tmp_path):
    cache = get_cache(DeadSource(), root=tmp_path, dead_channels="interpolate")
    assert len(cache) == 9 and np.isfinite(np.asarray(cache.X)).all()
    raw = ToySource().load({"record": "r1"}).data
    x = cache.X[3]  # r1's first window, 100..200
    # Cz from C3 and C4, weighted by inverse distance on the standard head
    pos = quality._positions()
    w = [1 / np.linalg.norm(pos[c] - pos["CZ"]) for c in ("C3", "C4")]
    c4 = raw[2].copy()
    c4[100:110] = raw[2].max()
    want = (w[0] * raw[0, 100:200] + w[1] * c4[100:200]) / sum(w)
    np.testing.assert_allclose(x[1], want, rtol=1e-4, atol=1e-5)
    assert cache.stats["dead_channel_interpolate"] == 1


def test_dead_channel_that_preprocessing_removes_is_ignored(tmp_path):
    cache = get_cache(DeadSource(), [PickChannels(names=["C3", "C4"])], root=tmp_path)
    assert len(cache) == 9 and cache.stats["channels"]["Cz"]["dead_records"] == 1


def test_interpolation_needs_known_positions(tmp_path):
    class Odd(DeadSource):
        def load(self, ref):
            rec = super().load(ref)
            return rec.copy(ch_names=["C3", "X1", "C4"])

    with pytest.raises(ChannelError, match="'X1' cannot be interpolated"):
        get_cache(Odd(), root=tmp_path, dead_channels="interpolate")


def test_params_hold_no_absolute_path(tmp_path):
    cache = get_cache(ToySource(), root=tmp_path)
    assert str(tmp_path) not in json.dumps(json.loads((cache.path / "params.json").read_text()))


def test_recording_fixture_is_valid():
    rec = DeadSource().load({"record": "r1"})
    assert isinstance(rec, Recording) and np.isnan(rec.data[1]).all()


def test_workers_need_an_importable_source(tmp_path, monkeypatch):
    from biosig.data.cache_build import resolve_workers

    class Local(ToySource):  # defined in a function: cannot be pickled for worker processes
        pass

    monkeypatch.delenv("BIOSIG_BUILD_WORKERS", raising=False)
    assert resolve_workers(None, 3) == 1  # few records: no workers
    assert resolve_workers(None, 10_000) == min(os.cpu_count(), 10_000 // 16)
    assert resolve_workers(None, 10_000, Local(), None) == 1  # default: built here (logged)
    with pytest.raises(ConfigError, match="cannot be pickled.*num_workers=0"):
        get_cache(Local(n=4), root=tmp_path, num_workers=2)
    monkeypatch.setenv("BIOSIG_BUILD_WORKERS", "x")
    with pytest.raises(ConfigError, match="BIOSIG_BUILD_WORKERS"):
        resolve_workers(None, 10)


class TruncatedRecord(ToySource):
    """Record r2's file is damaged: the reader's error must reach the parent from a worker."""

    def load(self, ref):
        if ref["record"] == "r2":
            raise InvalidFileError("/data/r2.edf", "header claims 62 data records, file holds 30")
        return super().load(ref)


def test_a_bad_file_in_a_parallel_build_is_named(tmp_path):
    """InvalidFileError could not be unpickled (its __init__ takes path and reason): a worker's
    error broke the pool and the parent said only "a worker process died", naming no file."""
    import pickle

    from biosig.errors import ChannelError as CE, DownloadError, SamplingRateError, ShapeError

    for err in (InvalidFileError("/a.edf", "truncated"), NotACacheError("/c", "no cache"),
                CE("x"), ConfigError("y"), SamplingRateError("z"), DownloadError("d"),
                ShapeError("s")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
    with pytest.raises(InvalidFileError, match=r"/data/r2.edf: header claims 62"):
        get_cache(TruncatedRecord(n=6), root=tmp_path, num_workers=2)


def test_a_record_with_other_channels_names_the_difference(tmp_path):
    class Missing(ToySource):
        def load(self, ref):
            rec = super().load(ref)
            return rec.pick(rec.ch_names[1:]) if ref["record"] == "r2" else rec

    names = ToySource().load({"record": "r0", "subject": 1, "session": "1"}).ch_names
    with pytest.raises(ChannelError, match=rf"r2.*missing \['{names[0]}'\].*PickChannels"):
        get_cache(Missing(), root=tmp_path, num_workers=0)


def test_a_record_at_another_rate_is_a_sampling_rate_error(tmp_path):
    # was a ChannelError: code catching SamplingRateError (the rate's own type) missed it
    class Slower(ToySource):
        def load(self, ref):
            rec = super().load(ref)
            return rec.copy(sfreq=50.0) if ref["record"] == "r1" else rec

    with pytest.raises(SamplingRateError, match=r"r1.*50 Hz differs.*100 Hz.*Resample\(100\)"):
        get_cache(Slower(), root=tmp_path, num_workers=0)


def _quality_by_hand(row: np.ndarray) -> tuple[int, int, bool, bool]:
    """One channel's (nan, clipped, flat, dead), sample by sample."""
    good = [v for v in row.tolist() if np.isfinite(v)]
    nan = len(row) - len(good)
    flat = bool(good) and max(good) == min(good)
    dead = flat or not good
    clipped, run = 0, 0
    for v in row.tolist() + [np.nan]:  # a sentinel ends the last run
        if good and not dead and v in (max(good), min(good)):
            run += 1
        else:
            clipped += run if run >= quality.CLIP_RUN else 0
            run = 0
    return nan, clipped, flat, dead


def test_channel_quality_matches_a_sample_by_sample_count():
    rng = np.random.default_rng(0)
    for _ in range(300):
        x = rng.integers(-2, 3, (int(rng.integers(1, 5)), int(rng.integers(0, 12))))
        x = x.astype(np.float32)
        if rng.random() < 0.5:  # some records with NaN / inf samples
            bad = rng.random(x.shape) < 0.3
            x[bad] = rng.choice([np.nan, np.inf, -np.inf], int(bad.sum()))
        q = quality.channel_quality(x)
        got = list(zip(q["nan"].tolist(), q["clipped"].tolist(), q["flat"].tolist(),
                       q["dead"].tolist()))
        assert got == [_quality_by_hand(row) for row in x], x


def test_channel_counts_add_up_by_name():
    """Per-channel quality counts summed by name: records with the same channels, a new
    channel, a name given twice, a shard's ``{name: {field: n}}`` and another total."""
    from biosig.data.cache_build import finished_stats, merge_stats

    one = np.arange(10).reshape(2, 5)
    total = quality.ChannelCounts()
    total.add(["A", "B"], one)
    total.add(("A", "B"), one)
    total.add(["B", "C"], one)
    total.add(["C", "C"], one)
    total.merge({"A": dict.fromkeys(quality.CHANNEL_FIELDS, 1)})
    want = {"A": 2 * one[0] + 1, "B": 2 * one[1] + one[0], "C": 2 * one[1] + one[0]}
    got = total.as_dict()
    assert list(got) == ["A", "B", "C"]
    assert got == {k: dict(zip(quality.CHANNEL_FIELDS, v.tolist())) for k, v in want.items()}
    stats = {"records": 1}
    merge_stats(stats, {"records": 2, "channels": total})
    merge_stats(stats, {"records": 3, "channels": got})
    assert finished_stats(stats) == {
        "records": 6, "channels": {k: {f: 2 * n for f, n in row.items()} for k, row in got.items()}
    }


def test_labels_file_is_a_plain_npy(tmp_path):
    """``y.npy`` is written as the labels come and its header last: numpy reads it, and no
    intermediate file is left in the cache."""
    cache = get_cache(ToySource(n=5), root=tmp_path)
    y = np.load(cache.path / "y.npy", mmap_mode="r")
    assert y.dtype == np.int64 and y.shape == (len(cache),) and (y == cache.y).all()
    names = {p.name for p in cache.path.iterdir()} - {"synced"}  # (the background sync's)
    assert names == {"X.f32", "y.npy", "meta.csv", "params.json"}


def test_window_block_equals_window_by_window_slices():
    from biosig.data.cache_build import window_block

    data = np.arange(3 * 50, dtype=np.float64).reshape(3, 50)  # float64 in, float32 out
    for starts in ([0, 10, 20, 30, 40], [5, 12, 19], [3], [0, 7, 9, 30], []):
        block = window_block(data, starts, 10)
        assert block.dtype == np.float32 and block.flags.c_contiguous
        want = [data[:, s : s + 10] for s in starts]
        np.testing.assert_array_equal(block, np.reshape(want, (len(starts), 3, 10)))
    with pytest.raises(ValueError, match="outside"):
        window_block(data, [0, 45], 10)  # would read past the record


def test_a_failing_disk_write_fails_the_build_and_leaves_nothing(tmp_path, monkeypatch):
    from biosig.data import cache_build

    def full(self, block):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_build._XWriter, "_write", full)
    with pytest.raises(OSError, match="No space left"):
        get_cache(ToySource(), root=tmp_path, num_workers=0)
    assert not [p for p in tmp_path.rglob("*") if p.is_dir() and p.name.startswith(".tmp")]
    assert not list(tmp_path.rglob("params.json"))


def test_windows_are_written_in_pieces_with_the_same_bytes(tmp_path, monkeypatch):
    """The windows go to X in writes of at most WRITE_PIECE bytes (the last one shorter): the
    same file and CRC-32 as with one write per block."""
    from biosig.data import cache_build

    class Sink:
        parts: list = []

        def write(self, data):
            self.parts.append(bytes(data))

    data = bytes(range(256)) * 20
    monkeypatch.setattr(cache_build, "WRITE_PIECE", 1000)
    cache_build.write_pieces(Sink(), memoryview(data))
    assert [len(p) for p in Sink.parts] == [1000] * 5 + [120] and b"".join(Sink.parts) == data
    pieces = get_cache(ToySource(n=4), root=tmp_path / "a", progress=False, num_workers=0)
    monkeypatch.setattr(cache_build, "WRITE_PIECE", 1 << 30)
    whole = get_cache(ToySource(n=4), root=tmp_path / "b", progress=False, num_workers=0)
    assert (pieces.path / "X.f32").stat().st_size > 2000  # several pieces per block
    assert (pieces.path / "X.f32").read_bytes() == (whole.path / "X.f32").read_bytes()
    assert pieces.params["checksum"] == whole.params["checksum"]
    verify_cache(pieces.path)


def test_a_block_of_windows_is_freed_once_written(tmp_path, monkeypatch):
    """The writer thread drops each block as soon as it is written, and the building thread
    keeps none once handed over (add): the next record's windows can reuse that memory."""
    import time
    import weakref

    from biosig.data import cache_build

    writer = cache_build._XWriter(tmp_path / "X")
    block = np.arange(1000, dtype=np.int16)
    gone = weakref.ref(block)
    writer.put(block)
    del block
    deadline = time.monotonic() + 30
    while gone() is not None and time.monotonic() < deadline:  # written, not waiting for more
        time.sleep(0.001)
    assert gone() is None
    assert writer.close() == zlib.crc32(np.arange(1000, dtype=np.int16).tobytes())
    assert (tmp_path / "X").read_bytes() == np.arange(1000, dtype=np.int16).tobytes()

    results = []
    process_record = cache_build.process_record
    monkeypatch.setattr(cache_build, "process_record",
                        lambda *a: results.append(process_record(*a)) or results[-1])
    get_cache(ToySource(n=3), root=tmp_path / "c", progress=False, num_workers=0)
    assert len(results) == 3 and all(r.block is None for r in results)


def test_windows_with_different_fields_give_the_union_of_columns(tmp_path):
    """Window rows may carry extra fields; a record without one leaves its column empty."""
    from biosig.signal.windows import FixedWindows

    class Tagged(FixedWindows):
        def __call__(self, rec, ref):
            rows, skipped = super().__call__(rec, ref)
            if ref["record"] == "r1":
                for k, row in enumerate(rows):
                    row["stage"] = f"s{k}" if k % 2 == 0 else row.get("stage", "")
                    if k == 1:
                        row["arousal"] = 1
            return rows, skipped

    src = ToySource()
    cache = get_cache(src, windows=Tagged(1.0), root=tmp_path, num_workers=0)
    meta = cache.meta
    assert list(meta.columns[-2:]) == ["stage", "arousal"]  # new columns come last
    r1 = meta[meta.record == "r1"]
    assert r1.stage.tolist()[:2] == ["s0", ""] and r1.arousal.tolist()[:2] == ["", "1"]
    assert set(meta[meta.record != "r1"].stage) == {""}
    assert meta.groupby("record").window.apply(list).map(lambda w: w == list(range(len(w)))).all()


@pytest.mark.parametrize("limit", [0, 300])  # every line on disk; the first ones in memory
def test_metadata_spilled_to_disk_give_the_same_meta_csv(tmp_path, monkeypatch, limit):
    """Past ``_META_MEMORY`` bytes the metadata lines go to ``meta.jsonl`` (removed at the end);
    ``meta.csv`` comes out byte for byte as when they all stay in memory."""
    from biosig.data import cache_build

    def build(root, limit):
        monkeypatch.setattr(cache_build, "_META_MEMORY", limit)
        spilled = []
        monkeypatch.setattr(cache_build.CacheWriter, "_write_meta_csv", lambda self: (
            spilled.append(self.fm is not None), write_csv(self)))  # fmt: skip
        cache = get_cache(ToySource(), root=root, num_workers=0)
        assert not list(cache.path.glob("*.jsonl"))
        return (cache.path / "meta.csv").read_bytes(), spilled

    write_csv = cache_build.CacheWriter._write_meta_csv
    kept, spilled = build(tmp_path / "memory", 1 << 24)
    assert spilled == [False] and kept.count(b"\n") > 3
    assert build(tmp_path / "disk", limit) == (kept, [True])


def test_script_without_main_guard_gets_an_error_not_a_hang(tmp_path):
    """Build workers re-import the main script; one that opens a cache at import time used to
    wait forever for the lock its parent holds."""
    import subprocess
    import sys
    import textwrap

    edf_files(tmp_path / "edf", n=2)
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        from biosig.data import FixedWindows, get_cache
        from biosig.datasets import RecordingFiles
        src = RecordingFiles(sorted({str(tmp_path / "edf")!r} + "/" + n for n in
                                    ["S01.edf", "S02.edf"]), name="guard")
        get_cache(src, windows=FixedWindows(1.0), root={str(tmp_path / "c")!r}, num_workers=2,
                  progress=False)
        print("built")
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)  # fmt: skip
    assert run.returncode != 0 and "built" not in run.stdout
    assert 'if __name__ == "__main__":' in run.stderr, run.stderr[-2000:]
    assert "worker process" in run.stderr


def test_records_without_a_window_on_the_decoded_path_give_the_no_window_error(tmp_path):
    """Decoded samples (a filter, WFDB, GDF) go through the NaN policy: a record shorter than
    the window gave numpy's reshape error instead of being counted."""
    from biosig.data import FixedWindows
    from biosig.errors import BiosigError

    with pytest.raises(BiosigError, match=r"no window in 3 records") as err:
        get_cache(ToySource(), windows=FixedWindows(length=20.0), root=tmp_path, progress=False,
                  num_workers=0)
    # short: the counts without the per-channel ones, and what the first record is annotated with
    message = str(err.value)
    assert "'channels'" not in message and "first record has 2 distinct annotation" in message

    class Noted(ToySource):  # a free-text note, as clinical EDF+ files carry, is not quoted,
        # nor is a short one (a note of a few letters may be a name)
        def load(self, ref):
            rec = super().load(ref)
            ann = rec.annotations
            rec.annotations = type(ann).from_lists(
                [*ann.onset, 0.5, 0.7], [*ann.duration, 0.0, 0.0],
                [*ann.description, "Patient ZZPATIENT_SMITH_1234 awake, left", "ZZJD"])
            return rec

    with pytest.raises(BiosigError, match=r"first record has 4 distinct annotation descriptions; "
                                          r"see them with Noted\.load\(record\)") as err:
        get_cache(Noted(), windows=FixedWindows(length=20.0), root=tmp_path / "n",
                  progress=False, num_workers=0)
    assert "ZZ" not in str(err.value)


def test_a_task_without_shards_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"task=0, n_tasks=2 .* give shards=N"):
        get_cache(ToySource(), root=tmp_path, progress=False, task=0, n_tasks=2)


@pytest.mark.parametrize("damage", ["params_shape", "params_sfreq", "labels_same_size",
                                    "meta_same_size"])
def test_a_finished_cache_changed_after_the_build_is_not_used(tmp_path, damage):
    """params.json had no checksum and the labels' and metadata's CRC-32s were checked only by
    `biosig cache verify`: edits of the same size (a swapped shape, another sfreq, flipped
    labels, another subject id) were used as read. Each is now caught on open and rebuilt."""
    src = ToySource(n=4)
    cache = get_cache(src, root=tmp_path)
    path, y0, meta0 = cache.path, cache.y.copy(), cache.meta.copy()
    params = json.loads((path / "params.json").read_text())
    if damage == "params_shape":
        text = (path / "params.json").read_text()
        shape = json.dumps(params["shape"])
        swapped = json.dumps([params["shape"][0], params["shape"][2], params["shape"][1]])
        (path / "params.json").write_text(text.replace(shape, swapped))
    elif damage == "params_sfreq":
        text = (path / "params.json").read_text()
        (path / "params.json").write_text(text.replace(f'"sfreq": {params["sfreq"]}',
                                                       f'"sfreq": {2 * params["sfreq"]}'))
    elif damage == "labels_same_size":
        raw = bytearray((path / "y.npy").read_bytes())
        raw[-1] ^= 1
        (path / "y.npy").write_bytes(bytes(raw))
    else:
        text = (path / "meta.csv").read_text()
        (path / "meta.csv").write_text(text.replace("\nr1,1,", "\nr1,3,", 1))  # a subject
    with pytest.raises(InvalidFileError, match="damaged"):
        fresh = WindowCache(path)
        fresh.meta  # noqa: B018 (the metadata are read on first use)
    rebuilt = get_cache(src, root=tmp_path)
    np.testing.assert_array_equal(rebuilt.y, y0)
    assert rebuilt.meta.equals(meta0) and rebuilt.sfreq == params["sfreq"]


def test_a_script_without_a_main_guard_builds_in_this_process_by_default(tmp_path, monkeypatch):
    """The README's example, pointed at 32+ recordings, started workers that re-ran the script
    and failed; by default such a script now builds in its own process (an explicit
    num_workers >= 2 still gets the error above)."""
    import types

    from biosig.data import cache_build
    from biosig.data.cache_build import resolve_workers

    monkeypatch.delenv("BIOSIG_BUILD_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    script = tmp_path / "example.py"
    fake = types.ModuleType("__main__")
    fake.__file__, fake.__spec__ = str(script), None
    monkeypatch.setitem(sys.modules, "__main__", fake)
    script.write_text("from biosig.data import get_cache\nget_cache(...)\n")
    assert cache_build._unguarded_main_script() and resolve_workers(None, 10_000) == 1
    assert resolve_workers(2, 10_000) == 2  # asked for: the error explains the guard
    script.write_text("def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n")
    assert not cache_build._unguarded_main_script() and resolve_workers(None, 10_000) == 4
    fake.__spec__ = object()  # python -m: a module, imported by name
    script.write_text("get_cache(...)\n")
    assert not cache_build._unguarded_main_script()


def test_a_fresh_build_hands_back_the_params_a_later_open_reads(tmp_path):
    """The cache a build returns is opened from the params it has just written (params.json is
    not read back): they are the ones any later open reads, a tuple as a list."""
    src = ToySource(n=4)
    src.identity = lambda: {"name": src.name, "picked": ("C3", "C4")}  # a tuple among them
    cache = get_cache(src, root=tmp_path, progress=False, num_workers=0)
    again = WindowCache(cache.path)
    assert cache.params == again.params and cache.params["dataset"]["picked"] == ["C3", "C4"]
    np.testing.assert_array_equal(cache.y, again.y)
    np.testing.assert_array_equal(np.asarray(cache.X), np.asarray(again.X))


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("limit", [1 << 24, 0])  # labels kept in memory; outgrown: read back
def test_a_fresh_build_hands_back_the_labels_and_checksums_a_later_open_reads(
        tmp_path, monkeypatch, multilabel, limit):
    """The labels a build returns are the bytes it wrote to y.npy (not read back while they fit
    in memory), as np.load reads them: same dtype, shape and values, writable; the stored
    CRC-32s and sizes of y.npy and meta.csv are those of the files."""
    from biosig.data import FixedWindows, cache_build
    from biosig.data.cache import _check_checksums

    class Multi(ToySource):
        classes = ["x", "y", "z"]

        def records(self):
            return [{"record": "r0", "subject": 1, "labels": [0, 2]},
                    {"record": "r1", "subject": 2, "labels": [1]}]  # fmt: skip

    monkeypatch.setattr(cache_build, "_META_MEMORY", limit)
    src = Multi() if multilabel else ToySource(n=4)
    src.multilabel = multilabel
    windows = FixedWindows(length=2.5, stride=2.5) if multilabel else None
    cache = get_cache(src, windows=windows, root=tmp_path, progress=False, num_workers=0)
    y = np.load(cache.path / "y.npy")
    assert cache.y.dtype == y.dtype and cache.y.shape == y.shape and len(y) > 0
    np.testing.assert_array_equal(cache.y, y)
    assert cache.y.flags.writeable and cache.y.flags.c_contiguous
    _check_checksums(cache.path, cache.params)  # every stored CRC-32 matches its file
    for name, size in cache.params["sizes"].items():
        assert (cache.path / name).stat().st_size == size
