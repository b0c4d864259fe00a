"""The MNE-based steps (FIR band-pass/notch, FFT resampling), edge extension and the one bipolar
montage, on short synthetic recordings (the SciPy steps are covered in test_datamodule.py)."""

from __future__ import annotations

import numpy as np
import pytest

from biosig.errors import ChannelError, ConfigError, ShapeError
from biosig.signal.montages import apply_bipolar, bipolar_names
from biosig.signal.preprocessing import (
    Bandpass,
    BipolarMontage,
    ExtendEdges,
    FFTResample,
    FIRBandpass,
    FIRNotch,
    Notch,
    Resample,
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
    for names in (["c", "b"], ["a", "c"], ["d", "b"]):
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


def test_pick_refuses_a_name_given_twice():
    """``pick(["C3", "C3"])`` would make two channels of one name; it is refused, naming it."""
    from biosig.signal.preprocessing import PickChannels

    rec = _rec()
    for step in (lambda r: r.pick(["C3", "Cz", "C3"]), PickChannels(names=["C3", "C3"])):
        with pytest.raises(ChannelError, match=r"channels \['C3'\] requested more than once from "
                           r"recording toy\.edf"):  # fmt: skip
            step(rec)


def test_rename_refuses_duplicate_names():
    """The error names the clashing names and their sources only (it listed the whole mapping
    and every channel twice: hundreds of names on a 64-channel montage)."""
    from biosig.signal.preprocessing import RenameChannels

    rec = _rec(names=[f"EEG{i:02d}" for i in range(64)])
    mapping = {f"EEG{i:02d}": f"Ch{i}" for i in range(64) if i != 20}
    mapping |= {"EEG05": "Ch4", "EEG09": "EEG20"}  # EEG20 keeps its name
    with pytest.raises(ChannelError) as err:
        RenameChannels(mapping)(rec)
    assert str(err.value) == ("toy.edf: RenameChannels gives several channels one name: 'Ch4' "
                              "from 'EEG04', 'EEG05'; 'EEG20' from 'EEG09', 'EEG20' (not renamed)")
    rec = _rec()
    with pytest.raises(ChannelError, match=r"toy\.edf: .*'C3' from 'C3' \(not renamed\), 'C4'$"):
        RenameChannels({"C4": "C3"})(rec)
    assert RenameChannels({"C4": "C3", "C3": "C4"})(rec).ch_names == ["C4", "Cz", "C3"]


# -- bad parameters: a ConfigError naming the step, the field and the reason, when the step is
# built (before any cache is written), not a SciPy/MNE error when it runs ----------------------
BAD_STEPS = [
    ("Bandpass", dict(low=38.0, high=4.0),
     r"Bandpass\.low=38 Hz must be below Bandpass\.high=4 Hz"),
    ("Bandpass", dict(low=4.0, high=4.0), r"Bandpass\.low=4 Hz must be below Bandpass\.high"),
    ("Bandpass", dict(low=-1.0), r"Bandpass\.low must be a finite number > 0.*got -1"),
    ("Bandpass", dict(low=float("nan"), high=30.0), r"Bandpass\.low must .*got nan"),
    ("Bandpass", dict(high=float("inf")), r"Bandpass\.high must .*got inf"),
    ("Bandpass", dict(low=4.0, order=0), r"Bandpass\.order must be an integer >= 1, got 0"),
    ("Bandpass", dict(low=4.0, order=2.5), r"Bandpass\.order must be an integer"),
    ("Notch", dict(freq=0.0), r"Notch\.freq must be a finite number > 0, got 0"),
    ("Notch", dict(quality=-30.0), r"Notch\.quality must be a finite number > 0"),
    ("Resample", dict(sfreq=0.0), r"Resample\.sfreq must be a finite number > 0, got 0"),
    ("Resample", dict(sfreq=float("nan")), r"Resample\.sfreq must .*got nan"),
    ("Scale", dict(factor=0.0), r"Scale\.factor must not be 0"),
    ("Scale", dict(factor=float("inf")), r"Scale\.factor must be a finite number, got inf"),
    ("Clip", dict(limit=-1.0), r"Clip\.limit must be a finite number > 0"),
    ("Rereference", dict(ref=[]), r"Rereference\.ref must be a non-empty list"),
    ("BipolarMontage", dict(), r"BipolarMontage: give montage .* or pairs"),
    ("BipolarMontage", dict(pairs=[("C3",)]), r"BipolarMontage: .*pairs=\[\('C3',\)\]"),
    ("BipolarMontage", dict(montage="tcp99"), r"BipolarMontage\.montage: unknown montage"),
    ("BipolarMontage", dict(pairs=[("C3", "Cz")], names=["a", "b"]),
     r"BipolarMontage\.names must give one name per pair \(1\)"),
    ("PickChannels", dict(types="eeg"), r"PickChannels\.types must be a non-empty list"),
    ("PickChannels", dict(names=[]), r"PickChannels\.names must be a non-empty list"),
    ("DropChannels", dict(names="Cz"), r"DropChannels\.names must be a list"),
    ("RenameChannels", dict(mapping=["C3"]), r"RenameChannels\.mapping must be a dict"),
    ("FIRBandpass", dict(low=40.0, high=4.0),
     r"FIRBandpass\.low=40 Hz must be below FIRBandpass\.high"),
    ("FIRBandpass", dict(low=0.0), r"FIRBandpass\.low must be a finite number > 0"),
    ("FIRNotch", dict(freq=-50.0), r"FIRNotch\.freq must be a finite number > 0"),
    ("FFTResample", dict(sfreq=0.0), r"FFTResample\.sfreq must be a finite number > 0"),
    ("FFTResample", dict(npad=-1), r"FFTResample\.npad must be an integer >= 0"),
    ("ExtendEdges", dict(mode="pad", pad=-1.0), r"ExtendEdges\.pad must be a finite number >= 0"),
    ("ECGAnnotationChannels", dict(reference_lead="II2"),
     r"ECGAnnotationChannels\.reference_lead: unknown ECG lead"),
    ("ECGAnnotationChannels", dict(method="fast"), r"ECGAnnotationChannels\.method must be"),
    ("ECGAnnotationChannels", dict(r_half_width_s=0.0),
     r"ECGAnnotationChannels\.r_half_width_s must be a finite number > 0"),
    ("ECGAnnotationChannels", dict(pq_start_s=-0.05, pq_stop_s=-0.3),
     r"ECGAnnotationChannels: pq_start_s \(-0.05 s\) must be before pq_stop_s"),
]


@pytest.mark.parametrize("name, kwargs, message", BAD_STEPS,
                         ids=[f"{n}-{'-'.join(k) or 'none'}" for n, k, _ in BAD_STEPS])
def test_bad_step_parameters_are_refused_when_the_step_is_built(name, kwargs, message):
    import biosig.signal as signal

    with pytest.raises(ConfigError, match=message):
        getattr(signal, name)(**kwargs)


def test_only_bad_step_parameters_are_refused():
    """Good values (None for an open band edge, a negative scale, npad="auto", no dropped
    channel) still build; the same steps with a bad value do not."""
    import biosig.signal as signal

    for step in (signal.Bandpass(4, 38), signal.Bandpass(low=0.5), signal.Bandpass(high=40),
                 signal.Bandpass(), signal.Notch(50.0, harmonics=True), signal.Resample(128),
                 signal.Scale(-1e-2), signal.Clip(100), signal.Rereference("Cz"),
                 signal.Rereference(["A1", "A2"]), signal.BipolarMontage(montage="tcp22"),
                 signal.BipolarMontage(pairs=[["C3", "Cz"]], names=["C3-Cz"]),
                 signal.PickChannels(names=["C3"], types=["eeg"]), signal.DropChannels([]),
                 signal.FIRBandpass(0.1, 75.0), signal.FFTResample(200, npad="auto"),
                 signal.ExtendEdges("pad", pad=0.0), signal.ECGAnnotationChannels()):
        assert step.params()["step"] == type(step).__name__
    for bad in (dict(low=0.0), dict(high=-40.0)):
        with pytest.raises(ConfigError, match=r"Bandpass\.(low|high) must be"):
            signal.Bandpass(**bad)


@pytest.mark.parametrize("step, field", [
    (Bandpass(low=130.0), "Bandpass.low"),       # a high-pass above Nyquist (125 Hz)
    (Bandpass(4.0, 125.0), "Bandpass.high"),
    (Notch(125.0), "Notch.freq"),               # did nothing, silently
    (FIRBandpass(low=200.0), "FIRBandpass.low"),
])
def test_frequencies_at_or_above_nyquist_name_the_step_when_applied(step, field):
    with pytest.raises(ConfigError, match=rf"{field}=\S+ Hz is not below the Nyquist frequency "
                                          r"of toy\.edf \(125\.0 Hz\)"):
        step(_rec())


def test_a_resampling_rate_no_ratio_can_reach_names_the_step():
    with pytest.raises(ConfigError, match=r"Resample\.sfreq=0\.1 Hz is below 1/1000"):
        Resample(0.1)(_rec())


@pytest.mark.parametrize("step, shortest", [
    (Bandpass(low=0.5), 16), (Bandpass(4.0, 38.0), 28), (Bandpass(high=30.0), 16),
    (Notch(50.0), 10),
])
def test_a_recording_too_short_to_filter_names_the_file(step, shortest):
    # it was scipy's bare "input vector x must be greater than padlen" (a 20-sample ECG record)
    name = type(step).__name__
    with pytest.raises(ShapeError, match=rf"toy\.edf: {shortest - 1} samples \(.*\) are too "
                                         rf"short for {name}\(.*more than {shortest - 1} "):
        step(_rec(seconds=(shortest - 1) / SFREQ))
    assert step(_rec(seconds=shortest / SFREQ)).n_times == shortest


def test_steps_are_rebuilt_from_the_parameters_a_card_records():
    """A weights card records its preprocessing as steps_params; a file scored with the weights
    must go through the same steps, rebuilt from them."""
    from biosig.signal import ECGAnnotationChannels, steps_from_params, steps_params

    steps = [Resample(100.0), Bandpass(low=0.5), ECGAnnotationChannels(method="energy")]
    assert steps_from_params(steps_params(steps)) == steps
    with pytest.raises(ConfigError, match=r"step 'Wavelet' is not one of biosig's \(Bandpass, "):
        steps_from_params([{"step": "Wavelet", "level": 3}])
