"""Windowers after edge extension: rows and onsets as on the unextended recording."""

from __future__ import annotations

import numpy as np
import pytest

from biosig.errors import ConfigError
from biosig.signal.preprocessing import ExtendEdges, Resample
from biosig.signal.recording import Annotations, Recording
from biosig.signal.windows import EventWindows, FixedWindows

SFREQ = 100.0


def _rec(seconds=4.0):
    data = np.random.default_rng(0).standard_normal((2, int(seconds * SFREQ))).astype(np.float32)
    ann = Annotations.from_lists([0.5, 2.0], [1.0, 1.0], ["a", "b"])
    return Recording(data, SFREQ, ["C3", "C4"], ["eeg"] * 2, ["uV"] * 2, annotations=ann)


@pytest.mark.parametrize("edge", [ExtendEdges("tile"), ExtendEdges("pad", pad=0.7)])
def test_fixed_windows_cover_only_the_original_span(edge):
    rec = _rec()
    win = FixedWindows(length=1.0, stride=0.75, offset=0.25)
    base, skipped = win(rec, {"label": 1})
    ext = edge(rec)
    rows, ext_skipped = win(ext, {"label": 1})
    assert [r["onset"] for r in rows] == [r["onset"] for r in base] == [0.25, 1.0, 1.75, 2.5]
    assert ext_skipped == skipped == 0 and all(r["label"] == 1 for r in rows)
    n = win.n_times(SFREQ)
    for r, b in zip(rows, base):
        np.testing.assert_array_equal(
            ext.data[:, r["start"] : r["start"] + n], rec.data[:, b["start"] : b["start"] + n]
        )
    # twice extended: the shifts add up, the rows stay the same
    again, _ = win(edge(ext), {"label": 1})
    assert [r["onset"] for r in again] == [r["onset"] for r in base]


def test_fixed_and_event_windows_agree_on_the_time_axis():
    """Both windowers report onsets on the axis before ExtendEdges, also after resampling."""
    rec = Resample(200.0)(ExtendEdges("pad", pad=1.0)(_rec()))
    fixed, _ = FixedWindows(length=1.0, stride=0.5, offset=0.5)(rec, {})
    events, _ = EventWindows(0.0, 1.0, {"a": 0, "b": 1})(rec, {})
    by_onset = {round(r["onset"], 9): r["start"] for r in fixed}
    assert [by_onset[round(e["onset"], 9)] for e in events] == [e["start"] for e in events]
    assert fixed[-1]["onset"] == pytest.approx(3.0)  # the last whole window of the 4 s span


def test_fixed_windows_reject_an_offset_without_span():
    rec = _rec()
    rec.meta["edge_offset_s"] = 2.0  # as much as half the recording: nothing original is left
    with pytest.raises(ConfigError, match="edge_offset_s"):
        FixedWindows(length=1.0)(rec, {})


@pytest.mark.parametrize("kwargs, message", [
    (dict(length=-2.0), r"FixedWindows\.length must be a finite number > 0, got -2\.0"),
    (dict(length=0.0), r"FixedWindows\.length must be"),
    (dict(length=float("nan")), r"FixedWindows\.length must .*got nan"),
    (dict(stride=0.0), r"FixedWindows\.stride must be a finite number > 0 or None, got 0\.0"),
    (dict(stride=-1.0), r"FixedWindows\.stride must be"),
    (dict(offset=-0.5), r"FixedWindows\.offset must be a finite number >= 0"),
    (dict(offset=float("inf")), r"FixedWindows\.offset must"),
])
def test_fixed_windows_refuse_bad_arguments_naming_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FixedWindows(**kwargs)


def test_fixed_windows_only_stride_none_means_the_length():
    rows, _ = FixedWindows(length=1.0)(_rec(), {})
    assert [r["onset"] for r in rows] == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(ConfigError, match=r"FixedWindows\.stride"):  # was silently the length
        FixedWindows(length=1.0, stride=0.0)


@pytest.mark.parametrize("kwargs, field", [(dict(length=0.004), "length"),
                                           (dict(length=1.0, stride=0.004), "stride")])
def test_fixed_windows_shorter_than_a_sample_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=rf"FixedWindows\.{field}=0\.004 s is shorter than one "
                                          r"sample at 100 Hz"):
        FixedWindows(**kwargs)(_rec(), {})


@pytest.mark.parametrize("kwargs, message", [
    (dict(tmin=float("nan"), tmax=1.0), r"EventWindows\.tmin must be a finite number, got nan"),
    (dict(tmin=0.0, tmax=float("inf")), r"EventWindows\.tmax must be a finite number, got inf"),
    (dict(mapping={"a": "left"}), r"EventWindows\.mapping\['a'\] must be an integer >= 0"),
    (dict(mapping={"a": -1}), r"EventWindows\.mapping\['a'\] must be an integer >= 0, got -1"),
])
def test_event_windows_refuse_bad_arguments_naming_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EventWindows(**{"tmin": 0.0, "tmax": 1.0, "mapping": {"a": 0}, **kwargs})


def test_windower_subclasses_name_themselves():
    from biosig.datasets.bciiv2a import TrialWindows
    from biosig.datasets.chbmit import SeizureWindows

    with pytest.raises(ConfigError, match=r"TrialWindows\.tmax must"):
        TrialWindows(tmin=0.0, tmax=float("nan"), mapping={"a": 0})
    with pytest.raises(ConfigError, match=r"SeizureWindows\.length must"):
        SeizureWindows(length=-1.0)
    with pytest.raises(ConfigError, match=r"SeizureWindows\.seizure_stride must be a finite "
                                          r"number > 0 or None, got 0"):
        SeizureWindows(seizure_stride=0)
