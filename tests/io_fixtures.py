"""Shared helpers for the ``tests/test_io_*.py`` files: real-data location, small synthetic
recordings, a minimal EDF+D fixture writer and file mutators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from biosig.signal.recording import Annotations, Recording

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BIOSIG_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(rel: str) -> Path:
    """Path of a real recording under the shared data folder; skips the test when absent."""
    p = SHARED / rel
    probe = p if p.suffix else p.with_name(p.name + ".hea")
    if not probe.exists():
        pytest.skip(f"real recording {rel} not found under {SHARED} (set BIOSIG_SHARED_DATA)")
    return p


def synthetic(
    n_chans: int = 4,
    n_times: int = 1000,
    sfreq: float = 250.0,
    *,
    seed: int = 0,
    with_ecg: bool = True,
    annotations: Annotations | None = None,
) -> Recording:
    """A small recording: EEG channels in µV (~20 µV rms) and optionally one ECG in mV."""
    rng = np.random.default_rng(seed)
    n_eeg = n_chans - 1 if with_ecg else n_chans
    names = ["C3", "C4", "Cz", "Fz", "Pz", "O1", "O2", "F3"][:n_eeg]
    data = [rng.normal(0, 20, (n_eeg, n_times))]
    types, units = ["eeg"] * n_eeg, ["uV"] * n_eeg
    if with_ecg:
        t = np.arange(n_times) / sfreq
        data.append((np.sin(2 * np.pi * 1.2 * t) ** 31 + 0.02 * rng.normal(size=n_times))[None])
        names, types, units = names + ["ECG"], types + ["ecg"], units + ["mV"]
    if annotations is None:  # those that start in the recording (writers refuse the others)
        events = [e for e in [(0.5, 0.0, "769"), (1.0, 1.0, "770"), (2.5, 0.5, "771")]
                  if e[0] <= n_times / sfreq]
        annotations = Annotations.from_lists(*(list(col) for col in zip(*events))) if events \
            else Annotations.empty()
    return Recording(
        np.concatenate(data).astype(np.float32),
        sfreq,
        names,
        types,
        units,
        annotations,
        {"format": "synthetic", "source": "memory"},
    )


def _field(text, width: int) -> bytes:
    return str(text).encode("ascii").ljust(width)[:width]


def edf_header(labels, units, pmin, pmax, dmin, dmax, n_samples, n_rec, variant="") -> bytes:
    """An EDF header (anonymous identification, 1-s data records), one entry per signal."""
    ns = len(labels)
    head = (
        _field("0", 8) + _field("X X X X", 80) + _field("Startdate X X X X", 80)
        + _field("01.01.85", 8) + _field("00.00.00", 8) + _field(256 * (ns + 1), 8)
        + _field(variant, 44) + _field(n_rec, 8) + _field(1, 8) + _field(ns, 4)
    )
    for values, width in ((labels, 16), ([""] * ns, 80), (units, 8), (pmin, 8), (pmax, 8),
                          (dmin, 8), (dmax, 8), ([""] * ns, 80), (n_samples, 8),
                          ([""] * ns, 32)):
        head += b"".join(_field(v, width) for v in values)
    assert len(head) == 256 * (ns + 1)
    return head


def write_plain_edf(path: Path, digital: np.ndarray, sfreq: int, pmin, pmax, dmin, dmax) -> Path:
    """An EDF file (not EDF+) of int16 ``digital`` samples ``(C, T)`` in 1-s records, EEG
    channels ``EEG C1``... in µV with each channel's physical and digital range as given."""
    n_ch, n_times = digital.shape
    n_rec = n_times // sfreq
    assert n_times == n_rec * sfreq
    labels = [f"EEG C{i + 1}" for i in range(n_ch)]
    head = edf_header(labels, ["uV"] * n_ch, pmin, pmax, dmin, dmax, [sfreq] * n_ch, n_rec)
    body = digital.astype("<i2").reshape(n_ch, n_rec, sfreq).transpose(1, 0, 2).tobytes()
    path.write_bytes(head + body)
    return path


def write_edf_plus_d(path: Path, data_uv: np.ndarray, sfreq: int, record_onsets, texts=()) -> Path:
    """Write a minimal EDF+D file: one-second records at ``record_onsets`` (s), int16 data
    in µV (physical range ±3276.7 µV, 0.1 µV steps), plus free-text annotations
    ``texts = [(onset, text), ...]`` placed in the first record."""
    n_ch, n_times = data_uv.shape
    n_rec = len(record_onsets)
    assert n_times == n_rec * sfreq
    ann_bytes = 120
    labels = [f"EEG C{i + 1}" for i in range(n_ch)] + ["EDF Annotations"]
    head = edf_header(
        labels, ["uV"] * n_ch + [""], ["-3276.8"] * n_ch + ["-1"], ["3276.7"] * n_ch + ["1"],
        ["-32768"] * len(labels), ["32767"] * len(labels), [sfreq] * n_ch + [ann_bytes // 2],
        n_rec, "EDF+D",
    )
    digital = np.clip(np.rint(data_uv * 10), -32768, 32767).astype("<i2")
    body = b""
    for k, onset in enumerate(record_onsets):
        for c in range(n_ch):
            body += digital[c, k * sfreq : (k + 1) * sfreq].tobytes()
        tal = f"+{onset:g}\x14\x14\x00".encode()
        if k == 0:
            for o, text in texts:
                tal += f"+{o:g}\x14{text}\x14\x00".encode()
        body += tal.ljust(ann_bytes, b"\x00")
    path.write_bytes(head + body)
    return path


def truncate(src: Path, dst: Path, n_bytes: int) -> Path:
    dst.write_bytes(src.read_bytes()[:n_bytes])
    return dst


def flip_bytes(src: Path, dst: Path, positions, values) -> Path:
    b = bytearray(src.read_bytes())
    for p, v in zip(positions, values):
        b[p % len(b)] = v
    dst.write_bytes(bytes(b))
    return dst


def bdf_bytes(digital: np.ndarray, sfreq: int, pmin=-8000.0, pmax=8000.0) -> bytes:
    """A minimal BDF (24-bit) file, 1-s records, written field by field."""
    ns, n = digital.shape
    n_rec = n // sfreq
    fixed = b"\xffBIOSEMI" + b" " * 176 + f"{256 * (ns + 1):<8d}".encode() + b"24BIT".ljust(44)
    fixed += f"{n_rec:<8d}{1:<8d}{ns:<4d}".encode()

    def col(values, width):
        return b"".join(str(v).ljust(width).encode() for v in values)

    heads = col([f"EEG{i}" for i in range(ns)], 16) + col([""] * ns, 80) + col(["uV"] * ns, 8)
    heads += col([pmin] * ns, 8) + col([pmax] * ns, 8)
    heads += col([-(2**23)] * ns, 8) + col([2**23 - 1] * ns, 8) + col([""] * ns, 80)
    heads += col([sfreq] * ns, 8) + col([""] * ns, 32)
    x = digital[:, : n_rec * sfreq].reshape(ns, n_rec, sfreq).transpose(1, 0, 2).astype("<i4")
    raw = x.view(np.uint8).reshape(n_rec, ns, sfreq, 4)[..., :3]
    return fixed + heads + raw.tobytes()


def fif_tags(raw: bytes) -> list[tuple[int, int, int, int]]:
    """``(position, kind, type, size)`` of every tag of a FIF file written by MNE (sequential
    tags), in file order."""
    import struct

    tags, pos = [], 0
    while pos + 16 <= len(raw):
        kind, dtype, size, _ = struct.unpack(">iIii", raw[pos : pos + 16])
        tags.append((pos, kind, dtype, size))
        pos += 16 + max(size, 0)
    return tags
