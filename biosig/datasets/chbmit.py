"""CHB-MIT Scalp EEG Database (PhysioNet ``chbmit`` 1.0.0): long-term scalp EEG of 22 paediatric
patients with intractable seizures (24 cases ``chb01``..``chb24``; ``chb21`` is ``chb01`` 1.5 years
later), 256 Hz, bipolar 10-20 "double banana" channels, EDF; seizure onsets and ends in
``chbNN/chbNN-summary.txt``. Open data (ODC-By 1.0).

Shoeb, A. "Application of Machine Learning to Epileptic Seizure Onset Detection and Treatment",
PhD thesis, MIT (2009); Goldberger et al., PhysioNet, Circulation 101(23) (2000);
DOI 10.13026/C2K01R.

The binary seizure-detection task of the EEG-foundation-model literature (BIOT, CBraMod, EEGDM
Table VII): 16 bipolar channels (the temporal and parasagittal chains), 10-s windows, label 1 for
a window that overlaps a seizure; cases 1-20 less 12, 13 and 17 (irregular montages) for
training, 21-22 for validation, 23-24 for test (CBraMod's split, which EEGDM follows); seizure
periods sampled every 5 s in the training part (the oversampling of those recipes).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biosig.datasets._common import dataset_root, file_manifest, physionet_fetch, require_dir
from biosig.datasets.base import DatasetSource
from biosig._checks import number
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.montages import bipolar_pairs
from biosig.signal.recording import Annotations, Recording
from biosig.signal.windows import FixedWindows

__all__ = ["CHBMIT", "CHBMIT_CHANNELS", "CHBMIT_SSMDP_IDS", "SeizureWindows", "read_summary"]

SFREQ = 256.0
N_CASES = 24
_MODERN = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
#: ``(anode, cathode)`` of the 16 channels: TUH's "tcp16" chains in 10-10 names.
CHBMIT_PAIRS = [(_MODERN.get(a, a), _MODERN.get(b, b)) for a, b in bipolar_pairs("tcp16")]
#: The 16 bipolar channels in the order EEGDM uses (``FP1-F7`` ... ``P4-O2``).
CHBMIT_CHANNELS = [f"{a}-{b}" for a, b in CHBMIT_PAIRS]
#: Rows of EEGDM's 22-channel (TUEV TCP) embedding table these channels take (eegdm.md §3).
CHBMIT_SSMDP_IDS = list(range(8)) + list(range(14, 22))
#: CBraMod's case split (EEGDM Table VII follows it).
SPLITS = {
    "train": [c for c in range(1, 21) if c not in (12, 13, 17)],
    "val": [21, 22],
    "test": [23, 24],
}
_FILE = re.compile(r"^File Name:\s*(\S+\.edf)\s*$", re.IGNORECASE)
_SEIZURE = re.compile(
    r"^Seizure(?:\s+\d+)?\s+(Start|End)\s+Time\s*:\s*(\d+(?:\.\d+)?)\s*seconds?\s*$", re.IGNORECASE
)
_CHANNELS = re.compile(r"^Channels (?:in EDF Files|changed)\s*:", re.IGNORECASE)
_CHANNEL = re.compile(r"^Channel\s+\d+\s*:\s*(.+)$", re.IGNORECASE)
_COUNT = re.compile(r"^Number of Seizures in File:\s*(\d+)\s*$", re.IGNORECASE)
_HOW = (
    "Download it from https://physionet.org/content/chbmit/1.0.0/ and pass its folder (with "
    "chb01/, chb02/ ...) as path=, or use CHBMIT(download=True, cases=[...])."
)


@dataclass
class SummaryEntry:
    """One EDF of a summary file: its seizures ``[(start s, end s)]`` and the channel labels
    the summary lists for it (the latest ``Channels ...:`` block before it; ``None`` if none)."""

    seizures: list[tuple[float, float]]
    channels: list[str] | None


def read_summary(path: str | os.PathLike) -> dict[str, SummaryEntry]:
    """``{edf file name: SummaryEntry}`` from a ``chbNN-summary.txt``.

    Both styles of the database are read (``Seizure Start Time:`` and ``Seizure 1 Start Time:``);
    the stated number of seizures per file is checked against the intervals found; a
    ``Channels changed:`` block applies to the files listed after it.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as err:
        raise InvalidFileError(path, f"cannot read ({err.strerror or err})") from None
    out: dict[str, SummaryEntry] = {}
    counts: dict[str, int] = {}
    current, start, channels, block = None, None, None, None
    for i, line in enumerate(lines, start=1):
        line = line.strip()
        if _CHANNELS.match(line):
            block = []
        elif (m := _CHANNEL.match(line)) and block is not None:
            block.append(m.group(1).strip())
            channels = block
        elif m := _FILE.match(line):
            current, start, block = m.group(1), None, None
            if current in out:
                raise InvalidFileError(path, f"line {i}: {current} listed twice")
            out[current] = SummaryEntry([], None if channels is None else list(channels))
        elif m := _COUNT.match(line):
            if current is None:
                raise InvalidFileError(path, f"line {i}: seizure count before any 'File Name:'")
            counts[current] = int(m.group(1))
        elif m := _SEIZURE.match(line):
            if current is None:
                raise InvalidFileError(path, f"line {i}: seizure time before any 'File Name:'")
            t = float(m.group(2))
            if m.group(1).lower() == "start":
                if start is not None:
                    raise InvalidFileError(path, f"line {i}: seizure start without an end")
                start = t
            else:
                if start is None or t <= start:
                    raise InvalidFileError(path, f"line {i}: seizure end {t:g} s without an "
                                                 "earlier start")
                out[current].seizures.append((start, t))
                start = None
    if start is not None:
        raise InvalidFileError(path, "file ends inside a seizure (start without end)")
    if not out:
        raise InvalidFileError(path, "no 'File Name:' entries (not a CHB-MIT summary file?)")
    for name, n in counts.items():
        if len(out[name].seizures) != n:
            raise InvalidFileError(path, f"{name}: states {n} seizures, lists "
                                         f"{len(out[name].seizures)}")
    return out


def _usable(labels: list[str]) -> bool:
    """Whether a channel list gives the 16 bipolar channels (directly or from electrodes)."""
    upper = [n.upper() for n in labels]
    if all(_find_channel(upper, c) is not None for c in CHBMIT_CHANNELS):
        return True
    return {e for p in CHBMIT_PAIRS for e in p} <= set(upper)


def _find_channel(names_upper: list[str], target: str) -> int | None:
    """Index of ``target`` among EDF labels; MNE names repeated labels ``T8-P8-0``, ``T8-P8-1``."""
    t = target.upper()
    for i, n in enumerate(names_upper):
        if n == t or re.fullmatch(re.escape(t) + r"-\d+", n):
            return i
    return None


class CHBMIT(DatasetSource):
    """CHB-MIT seizure detection: 16 bipolar channels (µV), 10-s windows, label 1 = seizure.

    Parameters
    ----------
    path : folder with ``chb01/`` ... (each with its EDFs and ``chbNN-summary.txt``); default
        ``BIOSIG_DATA/chbmit/1.0.0``.
    cases : case numbers (1..24) to index; default every case found on disk (all 24 with
        ``download=True``).
    window : window length in s (10 as EEGDM/CBraMod).
    seizure_stride : step in s of the extra windows inside seizures of the *training* cases
        (5 as the BIOT/CBraMod recipe; ``None``: no oversampling). Validation and test keep the
        plain non-overlapping grid so that their metrics are not biased.
    sfreq : rate the standard preprocessing resamples to (200 Hz: 2000 samples per window, as
        EEGDM); ``None`` keeps 256 Hz.
    band, notch : zero-phase band-pass ``(low, high)`` Hz and the notch frequency of the
        standard preprocessing (EEGDM: 0.5-75 Hz, 60 Hz mains); ``None`` skips either.
    incomplete : what to do with a recording that lacks some of the 16 channels (a few files
        of cases 12-19 were recorded with other montages): ``"skip"`` (indexed out, listed in
        :attr:`skipped` and warned about) or ``"error"``.
    download : fetch the chosen cases' summary and EDF files from PhysioNet, each verified
        against the project's ``SHA256SUMS.txt`` (about 42 GB for all 24 cases).
    mirror : base URL of a PhysioNet mirror.

    Notes
    -----
    Records carry ``split`` (``"train"``, ``"val"``, ``"test"`` by CBraMod's case split, ``"none"``
    for cases 12, 13 and 17) and ``n_seizures``; windows carry ``label`` (0/1) and the onset.
    Referential channel sets (``FP1``, ``F7`` ...) are turned into the same bipolar channels.
    """

    name = "chbmit"
    version = "1.0.0"
    multilabel = False
    classes = ["background", "seizure"]

    def __init__(
        self,
        path: str | None = None,
        cases: list[int] | None = None,
        window: float = 10.0,
        seizure_stride: float | None = 5.0,
        sfreq: float | None = 200.0,
        band: tuple[float, float] | None = (0.5, 75.0),
        notch: float | None = 60.0,
        incomplete: str = "skip",
        download: bool = False,
        mirror: str | None = None,
    ):
        if window <= 0 or (seizure_stride is not None and seizure_stride <= 0):
            raise ConfigError(f"CHBMIT window ({window}) and seizure_stride ({seizure_stride}) "
                              "must be positive")
        if incomplete not in ("skip", "error"):
            raise ConfigError(f"CHBMIT incomplete must be 'skip' or 'error', got {incomplete!r}")
        top = (sfreq or SFREQ) / 2
        if band is not None:
            band = (float(band[0]), float(band[1]))
            if not 0 <= band[0] < band[1] < top:
                raise ConfigError(f"CHBMIT band must be (low, high) with 0 <= low < high < {top:g}"
                                  f" Hz (Nyquist after resampling), got {band}")
        if notch is not None and not 0 < notch < top:
            raise ConfigError(f"CHBMIT notch must lie in (0, {top:g}) Hz, got {notch}")
        self.root = dataset_root(path, "chbmit", self.version)
        self.window = float(window)
        self.seizure_stride = None if seizure_stride is None else float(seizure_stride)
        self.sfreq = None if sfreq is None else float(sfreq)
        self.band, self.notch = band, None if notch is None else float(notch)
        self.incomplete = incomplete
        if cases is not None:
            self.cases = sorted({int(c) for c in cases})
            if not self.cases or any(not 1 <= c <= N_CASES for c in self.cases):
                raise ConfigError(f"CHBMIT cases must be in 1..{N_CASES}, got {cases}")
        elif download:
            self.cases = list(range(1, N_CASES + 1))
        if download:
            self.download(mirror)
        require_dir(self.root, "CHB-MIT", _HOW)
        if cases is None and not download:
            self.cases = self._cases_on_disk()
        self.channels = list(CHBMIT_CHANNELS)
        self.skipped: list[str] = []
        self._records: list[dict] | None = None

    # ------------------------------------------------------------------ index
    def _cases_on_disk(self) -> list[int]:
        found = sorted(
            int(p.name[3:]) for p in self.root.glob("chb[0-9][0-9]")
            if p.is_dir() and (p / f"{p.name}-summary.txt").is_file()
        )
        if not found:
            raise InvalidFileError(self.root, f"no CHB-MIT case folders (chbNN/ with "
                                              f"chbNN-summary.txt). {_HOW}")
        return found

    @staticmethod
    def split_of(case: int) -> str:
        return next((s for s, cs in SPLITS.items() if case in cs), "none")

    def records(self) -> list[dict]:
        if self._records is not None:
            return self._records
        out, self.skipped = [], []
        for case in self.cases:
            folder = self.root / f"chb{case:02d}"
            summary = folder / f"chb{case:02d}-summary.txt"
            if not summary.is_file():
                raise InvalidFileError(summary, f"summary file missing. {_HOW}")
            seizures = read_summary(summary)
            edfs = sorted(p.name for p in folder.glob("*.edf"))
            if not edfs:
                raise InvalidFileError(folder, f"no .edf files. {_HOW}")
            unlisted = [e for e in edfs if e not in seizures]
            if unlisted:
                raise InvalidFileError(summary, f"does not list {unlisted}: their seizure "
                                                "status is unknown")
            for edf in edfs:
                entry = seizures[edf]
                if entry.channels is not None and not _usable(entry.channels):
                    if self.incomplete == "error":
                        raise InvalidFileError(folder / edf, "its channels (per the summary: "
                                               f"{entry.channels}) lack the 16 bipolar channels")
                    self.skipped.append(f"chb{case:02d}/{edf}")
                    continue
                intervals = entry.seizures
                out.append({
                    "record": f"chb{case:02d}/{edf[:-4]}",
                    "subject": case,
                    "session": "1",
                    "split": self.split_of(case),
                    "n_seizures": len(intervals),
                    "seizures": [list(iv) for iv in intervals],
                    "path": f"chb{case:02d}/{edf}",
                })
        if self.skipped:
            warnings.warn(f"CHBMIT: {len(self.skipped)} recordings without the 16 bipolar "
                          f"channels left out: {self.skipped}", stacklevel=2)
        if not out:
            raise InvalidFileError(self.root, "no CHB-MIT recording with the 16 bipolar channels")
        self._records = out
        return out

    def identity(self) -> dict:
        recs = self.records()
        summaries = [f"chb{c:02d}/chb{c:02d}-summary.txt" for c in self.cases]
        return {
            "name": self.name, "version": self.version, "cases": self.cases,
            "window": self.window, "seizure_stride": self.seizure_stride,
            "incomplete": self.incomplete,
            "files": file_manifest(self.root, [r["path"] for r in recs] + summaries),
        }

    # ------------------------------------------------------------------ signals
    def load(self, ref: dict) -> Recording:
        """One EDF: the 16 bipolar channels in µV (derived from referential channels where a file
        has those), raw 256 Hz, one ``"seizure"`` annotation per seizure of the summary file."""
        from biosig.io import read_edf

        path = self.root / ref["path"]
        rec = read_edf(path)
        if abs(rec.sfreq - SFREQ) > 1e-6:
            raise InvalidFileError(path, f"sampling rate {rec.sfreq:g} Hz, expected {SFREQ:g}")
        upper = [n.upper() for n in rec.ch_names]
        idx = [_find_channel(upper, c) for c in self.channels]
        if None not in idx:
            data = rec.data[idx]
        else:
            data = self._from_referential(rec, upper, path)
        duration = rec.n_times / rec.sfreq
        seizures = [tuple(s) for s in ref.get("seizures", [])]
        for start, end in seizures:
            if end > duration + 1.0:
                raise InvalidFileError(path, f"seizure {start:g}-{end:g} s ends after the "
                                             f"recording ({duration:g} s)")
        out = rec.copy(data=np.asarray(data, dtype=np.float32), ch_names=list(self.channels),
                       ch_types=["eeg"] * len(self.channels), units=["uV"] * len(self.channels))
        out.annotations = Annotations.from_lists(
            [s for s, _ in seizures], [e - s for s, e in seizures], ["seizure"] * len(seizures)
        )
        out.meta.update({"dataset": self.name, "subject": int(ref["subject"])})
        return out

    def _from_referential(self, rec: Recording, upper: list[str], path: Path) -> np.ndarray:
        pairs = CHBMIT_PAIRS
        where = {n: i for i, n in reversed(list(enumerate(upper)))}
        missing = sorted({e for p in pairs for e in p if e not in where})
        if missing:
            have = [c for c in self.channels if _find_channel(upper, c) is not None]
            raise InvalidFileError(
                path, f"lacks bipolar channels {[c for c in self.channels if c not in have]} "
                      f"and the electrodes {missing} to derive them (has {rec.ch_names})"
            )
        return np.stack([rec.data[where[a]] - rec.data[where[b]] for a, b in pairs])

    def default_preprocessing(self) -> list:
        """Zero-phase band-pass and notch at 256 Hz, then resampling to ``sfreq``."""
        from biosig.signal.preprocessing import Bandpass, Notch, Resample

        steps = []
        if self.band is not None:
            steps.append(Bandpass(low=self.band[0], high=self.band[1]))
        if self.notch is not None:
            steps.append(Notch(self.notch))
        if self.sfreq is not None and self.sfreq != SFREQ:
            steps.append(Resample(self.sfreq))
        return steps

    def default_windows(self):
        return SeizureWindows(length=self.window, seizure_stride=self.seizure_stride)

    # ------------------------------------------------------------------ download
    def download(self, base_url: str | None = None, progress: bool = True) -> None:
        """Fetch the chosen cases' summary files, then the EDFs they list (SHA-256 verified)."""
        self.root.mkdir(parents=True, exist_ok=True)
        summaries = [f"chb{c:02d}/chb{c:02d}-summary.txt" for c in self.cases]
        physionet_fetch("chbmit", self.version, self.root, summaries, base_url, progress)
        edfs = [f"chb{c:02d}/{name}" for c in self.cases
                for name in read_summary(self.root / f"chb{c:02d}/chb{c:02d}-summary.txt")]
        physionet_fetch("chbmit", self.version, self.root, edfs, base_url, progress)

    def __repr__(self) -> str:
        return f"CHBMIT(path={os.fspath(self.root)!r}, cases={self.cases}, window={self.window:g})"


@dataclass
class SeizureWindows(FixedWindows):
    """Non-overlapping ``length``-s windows labelled 1 where they overlap a ``"seizure"``
    annotation (0 otherwise), plus, for training records (``ref["split"] == "train"``), extra
    windows every ``seizure_stride`` s that overlap a seizure (the BIOT/CBraMod oversampling)."""

    seizure_stride: float | None = 5.0

    def __post_init__(self):
        super().__post_init__()
        number("SeizureWindows.seizure_stride", self.seizure_stride, gt=0, optional=True)

    def params(self) -> dict:
        return {**super().params(), "windower": "SeizureWindows"}

    def __call__(self, rec: Recording, ref: dict) -> tuple[list[dict], int]:
        rows, skipped = super().__call__(rec, ref)
        shift = float(rec.meta.get("edge_offset_s", 0.0))
        ann = rec.annotations
        spans = [(o, o + d) for o, d, desc in zip(ann.onset, ann.duration, ann.description)
                 if desc == "seizure"]

        def overlaps(onset: float) -> bool:
            return any(onset < e and onset + self.length > s for s, e in spans)

        for r in rows:
            r["label"] = int(overlaps(r["onset"]))
        if self.seizure_stride and spans and ref.get("split") == "train":
            n = self.n_times(rec.sfreq)
            taken = {r["start"] for r in rows}
            first = int(round(shift * rec.sfreq))
            step = int(round(self.seizure_stride * rec.sfreq))
            end = rec.n_times - first
            for s in range(first, end - n + 1, step):
                onset = (s - first) / rec.sfreq
                if s not in taken and overlaps(onset):
                    rows.append({"start": s, "label": 1, "onset": onset})
            rows.sort(key=lambda r: r["start"])
        return rows, skipped
