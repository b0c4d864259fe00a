"""Window cache: key covers every parameter, builds are atomic, NaN policy, no identifiers."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from biosig.data import (
    Bandpass,
    EventWindows,
    FixedWindows,
    PickChannels,
    Resample,
    cache_key,
    get_cache,
)
from biosig.data.cache import WindowCache
from biosig.errors import BiosigError, ChannelError, ConfigError, InvalidFileError
from biosig.signal.recording import Annotations, Recording


class ToySource:
    """Three short records with events; optional NaNs and identifying index fields."""

    name, version, classes, multilabel = "toy", "1", ["a", "b"], False

    def __init__(self, nan_record=None, extra=None, n=3, seed=0, sfreq=100.0):
        self.nan_record, self.extra, self.n, self.seed, self.sfreq = (
            nan_record,
            extra or {},
            n,
            seed,
            sfreq,
        )

    def identity(self):
        return {
            "name": self.name,
            "n": self.n,
            "seed": self.seed,
            "nan": self.nan_record,
            "sfreq": self.sfreq,
        }

    def records(self):
        return [
            {"record": f"r{i}", "subject": i // 2 + 1, "session": "1", **self.extra}
            for i in range(self.n)
        ]

    def load(self, ref):
        i = int(ref["record"][1:])
        rng = np.random.default_rng([self.seed, i])
        data = rng.standard_normal((3, int(10 * self.sfreq))).astype(np.float32)
        if ref["record"] == self.nan_record:
            data[1, 150:160] = np.nan
        ann = Annotations.from_lists([1.0, 3.0, 5.0, 9.5], [1, 1, 1, 1], ["a", "b", "a", "b"])
        return Recording(
            data,
            self.sfreq,
            ["C3", "Cz", "C4"],
            ["eeg"] * 3,
            ["uV"] * 3,
            ann,
            {"source": ref["record"]},
        )

    def default_windows(self):
        return EventWindows(0.0, 1.0, {"a": 0, "b": 1})


def test_build_and_reopen(tmp_path):
    src = ToySource()
    cache = get_cache(src, [Bandpass(1, 30)], root=tmp_path)
    # 4 events per record, the one at 9.5 s runs past the end -> skipped and counted
    assert cache.X.shape == (9, 3, 100) and cache.X.dtype == np.float32
    assert isinstance(cache.X, np.memmap)
    assert cache.stats["skipped_out_of_bounds"] == 3
    assert cache.y.tolist() == [0, 1, 0] * 3
    assert list(cache.meta["record"]) == ["r0"] * 3 + ["r1"] * 3 + ["r2"] * 3
    np.testing.assert_allclose(
        cache.X[1], Bandpass(1, 30)(src.load({"record": "r0"})).data[:, 300:400], rtol=1e-6
    )
    again = get_cache(src, [Bandpass(1, 30)], root=tmp_path)
    assert again.path == cache.path
    params = json.loads((cache.path / "params.json").read_text())
    assert params["ch_names"] == ["C3", "Cz", "C4"] and params["shape"] == [9, 3, 100]


@pytest.mark.parametrize(
    "change",
    [
        lambda: (ToySource(seed=1), [Bandpass(1, 30)], EventWindows(0, 1, {"a": 0, "b": 1})),
        lambda: (ToySource(), [Bandpass(1, 31)], EventWindows(0, 1, {"a": 0, "b": 1})),
        lambda: (ToySource(), [Bandpass(1, 30, order=2)], EventWindows(0, 1, {"a": 0, "b": 1})),
        lambda: (
            ToySource(),
            [Bandpass(1, 30), Resample(50)],
            EventWindows(0, 1, {"a": 0, "b": 1}),
        ),
        lambda: (ToySource(), [Bandpass(1, 30)], EventWindows(0, 1.5, {"a": 0, "b": 1})),
        lambda: (ToySource(), [Bandpass(1, 30)], EventWindows(0, 1, {"a": 1, "b": 0})),
        lambda: (
            ToySource(),
            [Bandpass(1, 30)],
            EventWindows(0, 1, {"a": 0, "b": 1}, include_end=True),
        ),
    ],
)
def test_any_changed_parameter_changes_the_key(change):
    base = cache_key(ToySource(), [Bandpass(1, 30)], EventWindows(0, 1, {"a": 0, "b": 1}))
    assert cache_key(*change()) != base


def test_nan_policy(tmp_path, caplog):
    src = ToySource(nan_record="r1")
    with caplog.at_level("INFO", logger="biosig.cache"):
        rejected = get_cache(src, root=tmp_path / "a", nan_policy="reject")
    assert rejected.stats["nan_rejected"] == 1 and len(rejected) == 8
    # the record is named (before, only params.json counted the window)
    warned = [r.getMessage() for r in caplog.records
              if r.levelname == "WARNING" and "NaN" in r.getMessage()]
    assert len(warned) == 1 and re.search(r": 1 windows with NaN or infinite samples left out "
                                          r"\(nan_policy 'reject'\), from 1 records: .*r1",
                                          warned[0]), warned
    caplog.clear()
    with caplog.at_level("INFO", logger="biosig.cache"):
        interp = get_cache(src, root=tmp_path / "b", nan_policy="interpolate")
    assert any("1 windows with NaN or infinite samples interpolated" in r.getMessage()
               for r in caplog.records if r.levelname == "INFO")
    assert interp.stats["nan_interpolated"] == 1 and len(interp) == 9
    assert np.isfinite(interp.X).all()
    with pytest.raises(InvalidFileError, match="r1: non-finite"):
        get_cache(src, root=tmp_path / "c", nan_policy="raise")
    assert not any((tmp_path / "c").rglob("params.json"))  # nothing half-written left


def test_identifying_fields_never_reach_the_cache(tmp_path):
    with pytest.raises(BiosigError, match="identifying"):
        get_cache(ToySource(extra={"patient_id": "123"}), root=tmp_path)
    assert not any(tmp_path.rglob("meta.csv"))


def test_inconsistent_channels_name_the_record(tmp_path):
    class Mixed(ToySource):
        def load(self, ref):
            rec = super().load(ref)
            return rec.pick(["C3", "Cz"]) if ref["record"] == "r2" else rec

    with pytest.raises(ChannelError, match="r2"):
        get_cache(Mixed(), root=tmp_path)
    with pytest.raises(ChannelError, match="Pz"):
        get_cache(ToySource(), [PickChannels(names=["Pz"])], root=tmp_path)


def test_half_written_cache_is_never_reused(tmp_path):
    src = ToySource()
    cache = get_cache(src, root=tmp_path)
    path = cache.path
    # a folder without params.json (e.g. copied by hand, interrupted) is rebuilt, not trusted
    (path / "params.json").unlink()
    rebuilt = get_cache(src, root=tmp_path)
    assert rebuilt.path == path and len(rebuilt) == 9
    # a truncated X file is detected on open
    with open(path / "X.f32", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(InvalidFileError, match="does not match shape"):
        WindowCache(path)


def test_killed_build_leaves_nothing_reused(tmp_path):
    """SIGKILL a build midway: no cache appears, and the next build cleans up and succeeds."""
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_cache import ToySource
        from biosig.data import get_cache
        class Slow(ToySource):
            def load(self, ref):
                if ref["record"] == "r1":
                    print("midway", flush=True); time.sleep(60)
                return super().load(ref)
        get_cache(Slow(), root={str(tmp_path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "midway"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list(tmp_path.rglob("params.json"))
    assert list(tmp_path.rglob(".tmp-*"))  # the killed build's temp folder is left behind...
    cache = get_cache(ToySource(), root=tmp_path)  # ...and cleaned up by the next build
    assert len(cache) == 9 and not list(tmp_path.rglob(".tmp-*"))


def test_fixed_windows_multilabel(tmp_path):
    class Multi(ToySource):
        multilabel, classes = True, ["x", "y", "z"]

        def records(self):
            return [
                {"record": "r0", "subject": 1, "labels": [0, 2]},
                {"record": "r1", "subject": 2, "labels": [1]},
            ]

    cache = get_cache(Multi(), windows=FixedWindows(length=2.5, stride=2.5), root=tmp_path)
    assert cache.X.shape == (8, 3, 250)
    assert (
        cache.y.dtype == np.float32
        and cache.y[0].tolist() == [1, 0, 1]
        and cache.y[-1].tolist() == [0, 1, 0]
    )


def test_a_loader_cut_keeps_window_onsets_on_its_file_time_axis(tmp_path):
    """A loader that keeps part of a file (EEGMAT's rest_seconds) gave onsets from the cut."""

    class Cut(ToySource):
        def load(self, ref):
            rec = super().load(ref)
            rec = rec.copy(data=rec.data[:, 300:])
            rec.meta["start_in_file_s"] = 3.0
            return rec

    cache = get_cache(Cut(n=1), windows=FixedWindows(length=2.5, stride=2.5), root=tmp_path)
    assert cache.meta["onset"].tolist() == [3.0, 5.5]  # not [0.0, 2.5]


def test_dataset_steps_run_first_and_are_recorded(tmp_path):
    """A dataset lists its own steps (default_preprocessing); the cache runs them before the
    caller's, keys on both and writes both into params.json."""

    class Filtered(ToySource):
        def default_preprocessing(self):
            return [Bandpass(1, 30)]

    src = Filtered()
    cache = get_cache(src, [Resample(50.0)], root=tmp_path)
    raw = src.load({"record": "r0"})
    expected = Resample(50.0)(Bandpass(1, 30)(raw)).data[:, 50:100]
    np.testing.assert_allclose(cache.X[0], expected, rtol=1e-5, atol=1e-6)
    steps = [s["step"] for s in cache.params["preprocessing"]]
    assert steps == ["Bandpass", "Resample"]
    plain = get_cache(ToySource(), [Resample(50.0)], root=tmp_path)
    assert plain.path != cache.path
    assert [s["step"] for s in plain.params["preprocessing"]] == ["Resample"]


def test_an_ecg_in_microvolts_labelled_millivolts_is_refused_naming_the_record(tmp_path):
    """A PTB-XL header whose gain was 1000 times too small (µV-sized values labelled mV: 2034
    "mV") was cached and trained on without a word; the real records span up to 9.6 mV."""
    from biosig.data import FixedWindows
    from biosig.datasets.synthetic import simulate_ecg_record
    from biosig.datasets.wfdb_records import WFDBRecords
    from biosig.io.write import write_wfdb

    rec = simulate_ecg_record(sfreq=100.0, duration=10.0)
    write_wfdb(tmp_path / "ok", "r1", rec)
    get_cache(WFDBRecords(tmp_path / "ok"), windows=FixedWindows(5.0), root=tmp_path / "c1",
              progress=False)  # a few mV: cached
    write_wfdb(tmp_path / "bad", "r2", rec)
    header = tmp_path / "bad" / "r2.hea"
    lines = header.read_text().splitlines()
    gains = [re.search(r" (\d+(?:\.\d+)?)(\(-?\d+\))?/mV", line) for line in lines[1:]]
    assert all(gains), lines
    header.write_text("\n".join([lines[0], *[
        line.replace(f" {g[1]}", f" {float(g[1]) / 1000:g}", 1) for line, g in zip(lines[1:],
                                                                                  gains)]]) + "\n")
    with pytest.raises(InvalidFileError, match=r"r2\.hea: ECG channel '\w+' spans \d+(\.\d+)? "
                                               r"mV peak to peak \(robust\), but an ECG spans a "
                                               r"few mV: the header's gain or unit is likely "
                                               r"wrong"):
        get_cache(WFDBRecords(tmp_path / "bad"), windows=FixedWindows(5.0),
                  root=tmp_path / "c2", progress=False)
    assert not any((tmp_path / "c2").rglob("params.json"))  # nothing half-written left


def test_a_record_listed_twice_is_refused(tmp_path):
    class Twice(ToySource):
        def records(self):
            refs = super().records()
            return [*refs, refs[1]]

    with pytest.raises(ConfigError, match=r"lists record\(s\) \['r1'\] more than once"):
        get_cache(Twice(), root=tmp_path, num_workers=0)


def test_windows_past_the_recording_are_named_in_a_warning(tmp_path, caplog):
    """ToySource's event at 9.5 s of 10 s has no room for a 1-s window: 3 windows went missing
    with only params.json's count to say so (EEGMMIDB with tmax=5: 4 of 60 trials)."""
    with caplog.at_level("INFO", logger="biosig.cache"):
        cache = get_cache(ToySource(), root=tmp_path)
    assert cache.stats["skipped_out_of_bounds"] == 3 and len(cache) == 9
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and re.search(r": 3 windows left out: they run past the start or end "
                                          r"of the recording \(skipped_out_of_bounds\), from 3 "
                                          r"records: r0, r1, r2$", warned[0]), warned
    caplog.clear()
    with caplog.at_level("INFO", logger="biosig.cache"):
        get_cache(ToySource(), [], EventWindows(0, 0.5, {"a": 0, "b": 1}), root=tmp_path)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # all in bounds
