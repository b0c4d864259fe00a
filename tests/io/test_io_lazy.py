"""EDF recordings keep the file's 16-bit samples and decode them on first use of ``data``
(``Recording.digital``): the same float32 values as the EDF definition, channel picks, renames
and copies that keep the samples undecoded, and everything that decodes (or drops them)."""

import pickle

import numpy as np
from io_fixtures import bdf_bytes, write_edf_plus_d, write_plain_edf

from biosig.io import read_edf
from biosig.signal.preprocessing import Bandpass, PickChannels, RenameChannels, apply_steps

# channel 1: negative gain (physical range reversed); channel 2: negative gain and offset 0
# (digital 0 decodes to -0.0)
RANGES = dict(pmin=[-3276.8, 500.0, 100.0, -1.0], pmax=[3276.7, -500.0, -100.0, 1.0],
              dmin=[-32768, -32768, -32767, -32768], dmax=[32767, 32767, 32767, 32767])  # fmt: skip


def edf_file(tmp_path, seed=0):
    digital = np.random.default_rng(seed).integers(-32768, 32768, (4, 300)).astype(np.int16)
    digital[2, digital[2] == -32768] = -32767  # inside channel 2's digital range
    digital[2, :10] = 0
    return write_plain_edf(tmp_path / f"s{seed}.edf", digital, 100, **RANGES), digital


def by_the_definition(digital: np.ndarray) -> np.ndarray:
    """physical = digital * gain + offset per channel in float32 (gain and offset from the
    header in float64, rounded to float32 once; an offset of 0 is not added)."""
    out = np.empty(digital.shape, np.float32)
    for c, (lo, hi, dlo, dhi) in enumerate(zip(*RANGES.values())):
        gain = (hi - lo) / (dhi - dlo)
        offset = lo - dlo * gain
        out[c] = digital[c].astype(np.float32) * np.float32(gain)
        if offset:
            out[c] += np.float32(offset)
    return out


def test_edf_samples_decode_on_first_use_bit_for_bit(tmp_path):
    path, digital = edf_file(tmp_path)
    rec = read_edf(path)
    assert rec.digital is not None and "data" not in vars(rec)
    assert rec.shape == (4, 300) and rec.n_chans == 4 and rec.n_times == 300
    np.testing.assert_array_equal(rec.digital.samples(), digital)
    want = by_the_definition(digital)
    assert rec.data.dtype == np.float32
    assert np.array_equal(rec.data.view(np.uint32), want.view(np.uint32))
    assert np.signbit(want[2, :10]).all()  # -0.0 kept
    assert rec.digital is None  # decoded: may be changed in place, no longer the file's samples
    assert rec.meta["n_nan"] == 0 and rec.meta["n_inf"] == 0


def test_picks_renames_and_copies_keep_the_samples_undecoded(tmp_path):
    path, digital = edf_file(tmp_path)
    full = read_edf(path).data
    rec = read_edf(path)
    picked = apply_steps(rec, [PickChannels(names=["EEG C3", "EEG C1"]),
                               RenameChannels({"EEG C3": "C3"})])  # fmt: skip
    assert picked.ch_names == ["C3", "EEG C1"] and picked.digital is not None
    np.testing.assert_array_equal(picked.digital.samples(), digital[[2, 0]])
    np.testing.assert_array_equal(picked.digital.gain(), [np.float32(-200 / 65534),
                                                          np.float32(6553.5 / 65535)])  # fmt: skip
    assert np.signbit(picked.digital.offset()[0])  # offset 0, not added: stored as -0.0
    copied = picked.copy(meta={"x": 1})
    assert copied.digital is not None and copied.meta == {"x": 1}
    np.testing.assert_array_equal(copied.data, full[[2, 0]])
    assert rec.digital is not None  # decoding a pick leaves the original undecoded
    run = rec.pick(["EEG C2", "EEG C3"])
    np.testing.assert_array_equal(run.data, full[1:3])
    # gathered from the records in runs of adjacent channels: [C2, C3], [C1], [C4]
    mixed = read_edf(path).pick(["EEG C2", "EEG C3", "EEG C1", "EEG C4"])
    np.testing.assert_array_equal(mixed.digital.samples(), digital[[1, 2, 0, 3]])


def test_value_changes_drop_the_samples(tmp_path):
    path, _ = edf_file(tmp_path)
    rec = read_edf(path)
    assert rec.copy(data=np.zeros((4, 300), np.float32)).digital is None
    assert apply_steps(rec, [Bandpass(1.0, 20.0)]).digital is None
    changed = read_edf(path)
    changed.data *= 2  # in place, after the decode
    assert changed.digital is None
    replaced = read_edf(path)
    replaced.data = np.zeros((4, 300), np.float32)
    assert replaced.digital is None


def test_undecoded_recording_pickles(tmp_path):
    path, _ = edf_file(tmp_path)
    rec = read_edf(path)
    back = pickle.loads(pickle.dumps(rec))
    assert back.digital is not None
    np.testing.assert_array_equal(back.data, read_edf(path).data)


def test_files_without_plain_16_bit_samples_decode_at_once(tmp_path):
    data = np.random.default_rng(1).normal(0, 20, (2, 300))
    plus_d = read_edf(write_edf_plus_d(tmp_path / "d.edf", data, 100, [0, 1, 2]))
    path = tmp_path / "b.bdf"
    path.write_bytes(bdf_bytes(np.random.default_rng(2).integers(-1000, 1000, (2, 300)), 100))
    for rec in (plus_d, read_edf(path)):
        assert rec.digital is None and "data" in vars(rec)
