"""The MNE-based steps (FIR band-pass/notch, FFT resampling), edge extension and the one bipolar
montage, on short synthetic recordings (the SciPy steps are covered in test_datamodule.py)."""

from __future__ import annotations

import numpy as np
import pytest

from biosig.errors import ChannelError, ConfigError
from biosig.signal.montages import apply_bipolar, bipolar_names
from biosig.signal.preprocessing import (
    BipolarMontage,
    ExtendEdges,
    FFTResample,
    FIRBandpass,
    FIRNotch,
    interpolate_gaps,
)
from biosig.signal.recording import Annotations, Recording

SFREQ = 250.0


def _rec(names=("C3", "Cz", "C4"), seconds=10.0):
    t = np.arange(int(seconds * SFREQ)) / SFREQ
    data = np.stack(
        [
            (10 + i) * np.sin(2 * np.pi * 10 * t)
            + 5 * np.sin(2 * np.pi * 50 * t)
            + 3 * np.sin(2 * np.pi * 90 * t + i)
            for i in range(len(names))
        ]
    )
    ann = Annotations.from_lists([1.0, 8.0], [1.0, 1.0], ["a", "b"])
    return Recording(
        data,
        SFREQ,
        list(names),
        ["eeg"] * len(names),
        ["uV"] * len(names),
        ann,
        {"source": "toy.edf"},
    )


def _power(x, f):
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / SFREQ)
    return np.abs(np.fft.rfft(x))[np.argmin(np.abs(freqs - f))]


def test_fir_steps_match_mne_and_filter():
    import mne

    rec = _rec()
    bp = FIRBandpass(1.0, 40.0)(rec)
    direct = mne.filter.filter_data(rec.data.astype(np.float64), SFREQ, 1.0, 40.0, verbose="error")
    np.testing.assert_allclose(bp.data, direct, rtol=1e-5, atol=1e-4)
    mid = slice(500, 2000)
    assert _power(bp.data[0, mid], 90) < 0.01 * _power(rec.data[0, mid], 90)
    assert _power(bp.data[0, mid], 10) > 0.95 * _power(rec.data[0, mid], 10)
    notch = FIRNotch(50.0)(rec)
    assert _power(notch.data[0, mid], 50) < 0.02 * _power(rec.data[0, mid], 50)
    assert _power(notch.data[0, mid], 10) > 0.95 * _power(rec.data[0, mid], 10)
    with pytest.raises(ConfigError, match=r"toy.edf \(125.0 Hz\)"):
        FIRBandpass(1.0, 130.0)(rec)
    with pytest.raises(ConfigError, match="Nyquist"):
        FIRNotch(150.0)(rec)


def test_fir_keeps_gaps_local():
    rec = _rec()
    rec.data[1, 1000:1010] = np.nan
    out = FIRBandpass(1.0, 40.0)(rec)
    bad = np.isnan(out.data)
    assert not bad[0].any() and not bad[2].any()  # other channels untouched
    assert bad[1, 1000:1010].all() and 0 < bad[1].sum() < out.n_times  # widened, not spread


def test_fft_resample_matches_mne_and_keeps_event_times():
    import mne

    rec = _rec()
    out = FFTResample(200.0)(rec)
    assert out.sfreq == 200.0 and out.n_times == 2000
    direct = mne.filter.resample(
        rec.data.astype(np.float64), up=200.0, down=SFREQ, npad=100, verbose="error"
    )
    np.testing.assert_allclose(out.data, direct, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(out.annotations.onset, rec.annotations.onset)
    assert FFTResample(SFREQ)(rec) is rec


def test_extend_edges_tile_and_pad():
    rec = _rec(seconds=4.0)
    n = rec.n_times
    tiled = ExtendEdges("tile")(rec)
    assert tiled.n_times == 3 * n and tiled.meta["n_times_original"] == n
    np.testing.assert_array_equal(tiled.data[:, :n], tiled.data[:, n : 2 * n])
    assert tiled.meta["edge_offset_s"] == pytest.approx(4.0)
    np.testing.assert_allclose(tiled.annotations.onset, rec.annotations.onset + 4.0)
    padded = ExtendEdges("pad", pad=1.0)(rec)
    k = int(np.ceil(1.0 * SFREQ)) + 1
    assert padded.n_times == n + 2 * k and np.all(padded.data[:, :k] == 0)
    np.testing.assert_array_equal(padded.data[:, k : k + n], rec.data)
    assert padded.meta["edge_offset_s"] == pytest.approx(k / SFREQ)
    assert np.array_equal(rec.annotations.onset, [1.0, 8.0])  # the input is not changed
    with pytest.raises(ConfigError, match="mode"):
        ExtendEdges("mirror")


def test_one_bipolar_implementation():
    names = [
        "FP1",
        "F7",
        "T3",
        "T5",
        "O1",
        "FP2",
        "F8",
        "T4",
        "T6",
        "O2",
        "F3",
        "C3",
        "P3",
        "F4",
        "C4",
        "P4",
    ]
    rec = _rec(names, seconds=1.0)
    step = BipolarMontage(montage="tcp16")(rec)
    assert step.ch_names == bipolar_names("tcp16") and step.units == ["uV"] * 16
    np.testing.assert_array_equal(step.data, apply_bipolar(rec.data, names, "tcp16"))
    lower = rec.copy(ch_names=[n.capitalize() for n in names])  # "Fp1": matched case-insensitively
    np.testing.assert_array_equal(BipolarMontage(montage="tcp16")(lower).data, step.data)
    pairs = BipolarMontage(pairs=[("FP1", "F7"), ("C3", "P3")])(rec)
    np.testing.assert_allclose(pairs.data[1], rec.data[11] - rec.data[12], atol=1e-5)
    with pytest.raises(ChannelError, match=r"toy.edf: montage 'tcp22' needs channels \['A1', 'A2'"):
        BipolarMontage(montage="tcp22")(rec)
    with pytest.raises(ConfigError, match="either"):
        BipolarMontage(pairs=[("FP1", "F7")], montage="tcp16")


def test_interpolate_gaps():
    x = np.array([[0.0, np.nan, 2.0, np.inf, 4.0], [np.nan] * 5])
    np.testing.assert_array_equal(interpolate_gaps(x), [[0, 1, 2, 3, 4], [0, 0, 0, 0, 0]])
    assert interpolate_gaps(x, empty=None) is None
    assert np.isnan(x[0, 1])  # a copy


def test_pick_of_a_run_of_channels_is_a_view_and_others_copy():
    rec = Recording(np.arange(20, dtype=np.float32).reshape(4, 5), 10.0, ["a", "b", "c", "d"])
    run = rec.pick(["b", "c"])
    assert np.shares_memory(run.data, rec.data) and run.ch_names == ["b", "c"]
    np.testing.assert_array_equal(run.data, rec.data[1:3])
    for names in (["c", "b"], ["a", "c"], ["d"] * 2):
        other = rec.pick(names)
        assert not np.shares_memory(other.data, rec.data)
        np.testing.assert_array_equal(other.data, rec.data[[rec.ch_names.index(n) for n in names]])


def test_pick_refuses_a_name_several_channels_share():
    from biosig.signal.preprocessing import PickChannels

    rec = _rec(names=("C3", "Cz", "C3"))
    for step in (lambda r: r.pick(["C3"]), PickChannels(names=["Cz", "C3"])):
        with pytest.raises(ChannelError, match=r"\['C3'\] are ambiguous in recording toy\.edf"):
            step(rec)
    np.testing.assert_array_equal(PickChannels(names=["Cz"])(rec).data[0], rec.data[1])


def test_rename_refuses_duplicate_names():
    from biosig.signal.preprocessing import RenameChannels

    rec = _rec()
    with pytest.raises(ChannelError, match=r"toy\.edf: .*names \['C3'\].*\['C3', 'Cz', 'C3'\]"):
        RenameChannels({"C4": "C3"})(rec)
    assert RenameChannels({"C4": "C3", "C3": "C4"})(rec).ch_names == ["C4", "Cz", "C3"]
