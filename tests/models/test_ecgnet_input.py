"""ECGNet's input contract for real leads: baseline/offset removal, rate check, lead names."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from _dataset_fixtures import SHARED
from biosig.datasets.synthetic import simulate_ecg12
from biosig.errors import ChannelError, ConfigError, ShapeError
from biosig.models.ecgnet import ECGNet, remove_baseline
from biosig.signal.ecg_leads import LEADS, einthoven_residual
from biosig.signal.recording import Recording

torch.set_num_threads(1)
V_AND_II = [1, 6, 7, 8, 9, 10, 11]  # generated leads when the input is lead I


def _model(**kw):
    torch.manual_seed(0)
    return ECGNet(sfreq=100.0, hidden_size=16, **kw)


def _lead_i(seconds=10.0) -> torch.Tensor:
    rec = simulate_ecg12(1, duration=seconds, sfreq=100.0, noise=False, seed=3)[0]
    return torch.as_tensor(rec.data[0:1], dtype=torch.float32)  # (1, T) lead I, mV


def test_remove_baseline_commutes_with_offset_and_tracks_wander():
    x = _lead_i()
    t = torch.arange(x.shape[-1]) / 100.0
    clean = remove_baseline(x, 100.0)
    assert torch.allclose(remove_baseline(x + 5.0, 100.0), clean, atol=1e-5)
    assert torch.allclose(remove_baseline(x - 3.0, None), remove_baseline(x, None), atol=1e-5)
    wander = 0.5 * torch.sin(2 * torch.pi * 0.2 * t)
    err = (remove_baseline(x + wander, 100.0) - clean).abs().mean()
    assert err < 0.2 * wander.abs().mean()  # most (about 88 %) of a 0.5 mV, 0.2 Hz drift is gone
    # the QRS complexes survive: the cleaned lead keeps its peak-to-peak amplitude
    assert (clean.max() - clean.min()) > 0.8 * (x.max() - x.min())


def test_offset_does_not_change_generated_leads():
    x = _lead_i()
    m = _model().eval()
    out, shifted = m.generate(x, lead="I"), m.generate(x + 5.0, lead="I")
    assert (shifted[:, V_AND_II] - out[:, V_AND_II]).abs().max() < 1e-4
    assert torch.equal(shifted[:, 0], x + 5.0)  # the input lead still passes through unchanged
    assert einthoven_residual(shifted[0].numpy()) < 1e-4  # derived leads follow the given lead I
    # without the input contract the same offset moves every generated lead
    raw = _model(remove_baseline=False).eval()
    assert (raw.generate(x + 5.0)[:, V_AND_II] - raw.generate(x)[:, V_AND_II]).abs().max() > 1e-2


def test_wander_is_mostly_ignored():
    x = _lead_i()
    t = torch.arange(x.shape[-1]) / 100.0
    drift = 1.0 * torch.sin(2 * torch.pi * 0.15 * t) + 0.3
    on, off = _model().eval(), _model(remove_baseline=False).eval()
    d_on = (on.generate(x + drift) - on.generate(x))[:, V_AND_II].abs().mean()
    d_off = (off.generate(x + drift) - off.generate(x))[:, V_AND_II].abs().mean()
    assert d_on < 0.25 * d_off


def test_rate_must_match_the_model():
    m = _model()
    x = _lead_i()
    with pytest.raises(ConfigError, match=r"250 Hz .* 100 Hz.*Resample\(100\)"):
        m.generate(x, sfreq=250.0)
    assert m.generate(x, sfreq=100.0).shape == (1, 12, 1000)
    rec = Recording(data=np.zeros((1, 2500), np.float32), sfreq=250.0, ch_names=["II"],
                    ch_types=["ecg"], units=["mV"])
    with pytest.raises(ConfigError, match="250 Hz"):
        m.generate_recording(rec)
    with pytest.raises(ConfigError, match="without sfreq"):
        ECGNet(hidden_size=8).generate_recording(rec)


def _rec(name, data, unit="mV"):
    return Recording(data=data[None].astype(np.float32), sfreq=100.0, ch_names=[name],
                     ch_types=["ecg"], units=[unit])


def test_lead_names_and_units():
    m = _model().eval()
    x = _lead_i()[0].numpy()
    ref = m.generate(torch.as_tensor(x)[None], lead="II")[0].numpy()
    for name in ("II", "MLII", "ECG II", "ii"):
        out = m.generate_recording(_rec(name, x))
        assert out.ch_names == list(LEADS) and out.meta["input_lead"] == "II"
        np.testing.assert_allclose(out.data, ref, atol=1e-6)
    for generic in ("ECG", "ECG 1", "ECG1", "EKG"):
        with pytest.raises(ChannelError, match="pass lead="):
            m.generate_recording(_rec(generic, x))
        out = m.generate_recording(_rec(generic, x), lead="II")
        np.testing.assert_allclose(out.data, ref, atol=1e-6)
    in_uv = m.generate_recording(_rec("II", x * 1000, "uV"))
    np.testing.assert_allclose(in_uv.data, ref, atol=1e-4)
    two = Recording(data=np.stack([x, x]).astype(np.float32), sfreq=100.0, ch_names=["I", "V2"],
                    ch_types=["ecg"] * 2, units=["mV"] * 2)
    with pytest.raises(ChannelError, match="channel="):
        m.generate_recording(two)
    assert m.generate_recording(two, channel="V2").meta["input_lead"] == "V2"
    with pytest.raises(ChannelError, match="not in the recording"):
        m.generate_recording(two, channel="V7")


def test_microvolts_given_as_millivolts_are_refused():
    """PTB-XL's unit is mV; a lead in µV (1000 times larger) was accepted silently."""
    m = _model().eval()
    x = _lead_i()
    ref = m.generate(x)
    for given in (x * 1000, torch.cat([x, x * 1000])):  # one record in µV is enough
        with pytest.raises(ConfigError, match=r"looks like µV.*divide it by 1000"):
            m.generate(given)
    torch.testing.assert_close(m.generate(x * 1000, units="µV"), ref, atol=1e-4, rtol=1e-4)
    assert m.generate(x * 5 + 300.0).shape == (1, 12, 1000)  # a large ECG with an offset: mV
    with pytest.raises(ConfigError, match="looks like µV"):
        m.generate_recording(_rec("II", x[0].numpy() * 1000, "mV"))
    with pytest.raises(ConfigError, match=r"'mmHg'; ECGNet needs a voltage \(mV, µV or V\)$"):
        m.generate(x, units="mmHg")
    with pytest.raises(ConfigError, match="'mv'; .*did you mean 'mV'"):  # the case is the unit
        m.generate(x, units="mv")


def test_a_flat_lead_or_millivolts_stored_as_microvolts_is_refused():
    """A file whose unit said µV for mV values read back 1000 times too small (a 0.001 mV ECG)
    and gave 12 leads from it silently; a flat (disconnected) lead likewise."""
    m = _model().eval()
    x = _lead_i()[0].numpy()
    for given, unit in ((x, "uV"), (np.zeros_like(x), "mV"), (x * 1e-3, "mV")):
        with pytest.raises(ConfigError, match=rf"channel 'II' has a peak-to-peak amplitude of "
                                              rf".* mV \(its unit: '{unit}'\).*flat or "
                                              rf"disconnected lead, or values in mV stored"):
            m.generate_recording(_rec("II", given, unit))
    assert m.generate_recording(_rec("II", x * 0.1)).data.shape == (12, 1000)  # a small lead


@pytest.mark.shared_data
def test_real_mitdb_lead_with_holter_offset():
    """MIT-BIH record 100 (MLII, 360 Hz): refused at 360 Hz by a 100 Hz model; resampled, a
    +5 mV offset leaves the generated leads unchanged."""
    path = SHARED / "ecg_wfdb" / "mitdb" / "100"
    if not path.with_suffix(".hea").is_file():
        pytest.skip(f"shared MIT-BIH record not found at {path}")
    from biosig.io import read_wfdb
    from biosig.signal.preprocessing import Resample

    rec = read_wfdb(path)
    rec = rec.pick(["MLII"]).copy(data=rec.pick(["MLII"]).data[:, : 360 * 20])
    m = _model().eval()
    with pytest.raises(ConfigError, match="360 Hz"):
        m.generate_recording(rec)
    rec100 = Resample(100.0)(rec)
    out = m.generate_recording(rec100)
    shifted = m.generate_recording(rec100.copy(data=rec100.data + 5.0))
    assert out.meta["input_lead"] == "II"
    generated = [0, 6, 7, 8, 9, 10, 11]  # input lead II: I and V1-V6 are generated
    assert np.abs(shifted.data[generated] - out.data[generated]).max() < 1e-4


def test_nan_or_infinite_input_is_refused():
    """A lead with a few NaN samples (a WFDB invalid-sample gap) gave 12 leads of NaN from the
    gap on, silently."""
    m = _model().eval()
    x = _lead_i()
    for bad in (float("nan"), float("inf")):
        y = x.clone()
        y[0, 10:20] = bad
        with pytest.raises(ConfigError, match=r"the input holds 10 NaN or infinite samples "
                                              r"\(the first at index \(0, 10\)\)"):
            m.generate(y)
        with pytest.raises(ConfigError, match=r"channel 'II' holds 10 NaN"):
            m.generate_recording(_rec("II", y[0].numpy(), "mV"))


def test_unbatched_12_lead_record_is_refused_not_read_as_12_records():
    """One (12, T) record would otherwise silently become 12 records of the input lead."""
    from biosig.errors import ShapeError

    m = _model().eval()
    rec = torch.as_tensor(simulate_ecg12(1, duration=4.0, sfreq=100.0, seed=3)[0].data)
    with pytest.raises(ShapeError, match=r"ambiguous.*\(1, 12, T\).*\(12, 1, T\)"):
        m.generate(rec, lead="II")
    assert m.generate(rec[None], lead="II").shape == (1, 12, 400)
    assert m.generate(rec[:, None], lead="II").shape == (12, 12, 400)
    assert m.generate(rec[:5], lead="II").shape == (5, 12, 400)  # other 2-D batches: as before


def test_generate_takes_numpy_and_float64_like_the_rest_of_the_library():
    """A numpy array gave AttributeError: 'numpy.ndarray' object has no attribute 'detach';
    float64 was refused as a ShapeError, though numpy's default and the metrics' dtype."""
    m = _model().eval()
    x = _lead_i()
    ref = m.generate(x)
    for given in (x.numpy(), x.numpy().astype(np.float64), x.double()):
        out = m.generate(given)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        torch.testing.assert_close(out, ref)
    with pytest.raises(ShapeError, match="got integers"):
        m.generate(torch.zeros(1, 100, dtype=torch.int16))  # ADC counts are not mV: not cast
    with pytest.raises(ShapeError, match="dtype|torch.float32 input"):
        m(x.double())  # forward keeps the strict check (training batches)


@pytest.mark.parametrize("shape", [(1, 0), (0, 1000), (0, 12, 1000), (2, 1, 0)])
def test_empty_input_is_refused_clearly(shape):
    """Was RuntimeError: quantile() input tensor must be non-empty."""
    from biosig.errors import ShapeError

    with pytest.raises(ShapeError, match=r"^ECGNet.generate: the input is empty \(shape "
                                         + re.escape(str(shape))):
        _model().generate(torch.zeros(shape))


def test_a_rate_the_model_cannot_check_is_refused():
    """ECGNet().generate(x, sfreq=500) was accepted silently: the model has no rate to check
    it against (the paper does not state its rate)."""
    x = _lead_i()
    m = ECGNet(hidden_size=8)
    with pytest.raises(ConfigError, match=r"sfreq=500 .* built without sfreq.*ECGNet\(sfreq="):
        m.generate(x, sfreq=500)
    assert m.generate(x).shape == (1, 12, 1000)  # without sfreq nothing is claimed: as before


def test_recording_errors_name_the_file():
    """NaN or µV-sized samples of a read file were reported without its name."""
    m = _model().eval()
    x = _lead_i()[0].numpy()
    y = x.copy()
    y[10:20] = np.nan
    nan = _rec("II", y)
    nan.meta["source"] = "00001_hr.hea"
    with pytest.raises(ConfigError, match=r"^00001_hr.hea: channel 'II' holds 10 NaN"):
        m.generate_recording(nan)
    big = _rec("II", x * 1000)
    big.meta["source"] = "00001_hr.hea"
    with pytest.raises(ConfigError, match=r"^00001_hr.hea: channel 'II' has a peak-to-peak "
                                          r"amplitude of .* mV.*looks like µV"):
        m.generate_recording(big)
    fast = big.copy(sfreq=250.0)
    with pytest.raises(ConfigError, match=r"^00001_hr.hea: channel 'II' is sampled at 250 Hz"):
        m.generate_recording(fast)
    generic = _rec("ECG", x)
    generic.meta["source"] = "holter.edf"
    with pytest.raises(ChannelError, match=r"^holter.edf: channel 'ECG' does not say"):
        m.generate_recording(generic)
    with pytest.raises(ConfigError, match=r"^channel 'II' holds 10 NaN"):  # no source: as before
        m.generate_recording(_rec("II", y))
    from biosig.errors import ShapeError

    empty = _rec("II", x[:0])
    empty.meta["source"] = "00001_hr.hea"
    with pytest.raises(ShapeError, match=r"^00001_hr.hea: channel 'II' is empty"):
        m.generate_recording(empty)


def test_integer_samples_are_refused_saying_how_to_convert_them():
    """An int16 lead (ADC counts, wfdb's d_signal) was refused by generate as 'looks like µV'
    when large and by forward with 'x.to(torch.float32)', which would read counts as mV; both
    now say the integers have no unit and how to convert them (PTB-XL: counts are µV)."""
    net = _model()
    counts = (_lead_i(2.0).numpy() * 1000).astype(np.int16)  # PTB-XL: 1000 counts per mV
    for x in (counts, torch.from_numpy(counts)):
        with pytest.raises(ShapeError, match=r"^ECGNet.generate: the input expects torch.float32 "
                                             r"samples in mV; got integers \(torch.int16\).*ADC "
                                             r"counts.*units='µV'"):
            net.generate(x)
    with pytest.raises(ShapeError, match=r"^ECGNet expects .* got integers .*no unit"):
        net(torch.from_numpy(counts))
    torch.testing.assert_close(net.generate(counts.astype(np.float32), units="µV"),
                               net.generate(_lead_i(2.0)), atol=2e-3, rtol=0)


def test_a_lead_the_weights_were_not_trained_from_is_refused(tmp_path):
    """Weights trained from leads I and II (the card's recipe.train_leads): generate_recording
    and generate took lead V2 and returned 12 leads from an input the network never learnt."""
    ECGNet(sfreq=100.0, hidden_size=4, n_layers=1).save_pretrained(
        tmp_path, recipe={"train_leads": ["I", "ii"]})
    net = ECGNet.from_pretrained(tmp_path)
    assert net.train_leads == ["I", "II"]
    x = _lead_i(2.0)[0].numpy()
    v2 = _rec("ECG V2", x)
    v2.meta["source"] = "my_ecg.edf"
    with pytest.raises(ConfigError, match=r"^my_ecg.edf: channel 'ECG V2': lead V2 is not one "
                                          r"these weights were trained from \(I, II: the card"):
        net.generate_recording(v2)
    with pytest.raises(ConfigError, match=r"lead aVR, V2 is not one"):
        net.generate(torch.as_tensor(x).repeat(2, 1), lead=["V2", "aVR"])
    assert net.generate_recording(_rec("II", x)).data.shape == (12, len(x))
    assert net.generate(torch.as_tensor(x)[None], lead="I").shape == (1, 12, len(x))
    assert _model().train_leads is None  # no card: the leads it learnt are unknown, none refused
