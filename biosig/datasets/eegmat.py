"""PhysioNet "EEG During Mental Arithmetic Tasks" (EEGMAT 1.0.0): 36 subjects, 19 EEG channels
(10-20, linked-ear reference), 500 Hz, EDF+; a resting recording (``_1``, about 3 min) and a
serial-subtraction recording (``_2``, about 1 min) per subject. Licence ODC-By 1.0.

Zyma, I., Tukaev, S., Seleznov, I., Kiyono, K., Popov, A., Chernykh, M., Shpenkov, O.
"Electroencephalograms during Mental Arithmetic Task Performance", Data 4(1):14 (2019);
PhysioNet, DOI 10.13026/C2JQ1P. Goldberger et al., PhysioNet, Circulation 101(23) (2000).

The files were cleaned upstream (ICA against eye, muscle and cardiac artefacts; 50 Hz notch;
their spectrum ends near 45 Hz). Many windows are one rank short: of the 959 4-s windows of the
16 shared subjects, 362 have a covariance whose smallest eigenvalue is below 1e-9 of its largest
(every window of some recordings), so the online Euclidean-alignment reference, which starts
from a subject's first held-out window, needs ``shrinkage > 0`` (the error names the subject).
``subject-info.csv`` gives age, gender, the number of subtractions done and the count quality
(1 good, 0 bad).
"""

from __future__ import annotations

import os
import re
import warnings

from biosig.datasets._common import (
    dataset_root,
    file_manifest,
    physionet_fetch,
    require_dir,
    sha256_bytes,
)
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.io._util import shown_units
from biosig.signal.recording import Annotations, Recording

__all__ = ["EEGMAT", "EEGMAT_CHANNELS", "eegmat_channel_name"]

N_SUBJECTS = 36
SFREQ = 500.0
#: The 19 EEG channels in file order, as 10-20 names (the files use T3/T4/T5/T6).
EEGMAT_CHANNELS = [
    "Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4",
    "T5", "T6", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz",
]  # fmt: skip
#: Old 10-20 temporal names -> the 10-10 names of the same positions (``modern_names=True``).
MODERN = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
VIEWS = ("task", "rest")
DEFAULT_BAND = (0.5, 45.0)
_RUN_CLASS = {1: "rest", 2: "arithmetic"}
_FILE = re.compile(r"Subject(\d{2})_([12])\.edf")
_INFO = "subject-info.csv"
_INFO_COLUMNS = ("Subject", "Age", "Gender", "Number of subtractions", "Count quality")
_HOW = (
    "Download it from https://physionet.org/content/eegmat/1.0.0/ and pass its folder as path=, "
    "or use EEGMAT(download=True)."
)


def constant_tail(data) -> int:
    """Samples at the end of ``data`` (channels x time) where no channel changes: padding.

    Every EEGMAT file ends so (454 samples in a resting file, 485 in a task file, about 1 s at
    500 Hz, every channel at once): written to fill the last data record, not EEG.
    """
    import numpy as np

    changed = np.flatnonzero((data[:, 1:] != data[:, :-1]).any(axis=0))
    return data.shape[1] - 1 - (int(changed[-1]) + 1) if len(changed) else data.shape[1]


def eegmat_channel_name(label: str, modern: bool = False) -> str:
    """``"EEG Fp1"`` -> ``"Fp1"``; ``"EEG T3"`` -> ``"T3"`` (``"T7"`` with ``modern=True``)."""
    name = label.strip()
    if name.upper().startswith("EEG "):
        name = name[4:].strip()
    return MODERN.get(name, name) if modern else name


class EEGMAT(DatasetSource):
    """EEG before and during mental arithmetic (EEG in µV): one record per subject and file.

    Parameters
    ----------
    path : folder with ``Subject00_1.edf`` ... and ``subject-info.csv``; default
        ``BIOSIG_DATA/eegmat/1.0.0``.
    subjects : subject numbers (0..35); default every subject whose files are in the folder
        (all 36 with ``download=True``).
    view : ``"task"``: rest (``_1``, class 0 ``"rest"``) against serial subtraction (``_2``,
        class 1 ``"arithmetic"``), every window labelled by its file; ``"rest"``: only the
        resting recordings, unlabelled (label -1, no classes): a pretraining corpus.
    window, stride : window length and step in s (stride defaults to the length).
    sfreq : rate the standard preprocessing resamples to (``None`` keeps 500 Hz).
    band : ``(low, high)`` Hz of the standard zero-phase band-pass (``None`` for none).
    modern_names : name T3/T4/T5/T6 by their 10-10 names T7/T8/P7/P8.
    rest_seconds : keep only the last ``rest_seconds`` s of each resting recording (``None``:
        all of it, about 3 min); 60 gives as many rest as task windows (the task files last
        60-62 s), a balanced and cheaper set. The kept part ends before the file's padding
        (:func:`constant_tail`); its windows' ``onset`` is still in s from the file's start
        (about 121 s for the first window of a 182-s file with 60).
    n_folds : subject-wise folds: each record gets ``fold = position % n_folds + 1``, its
        subject's position among the chosen subjects (sorted), so a subject's rest and task
        windows are always in the same fold and a subset such as ``[0, 4, 8, 12]`` fills every
        fold. For subjects 0..N-1 (all 36, or the 16 shared ones) that is ``subject % n_folds
        + 1``.
    download : fetch the chosen subjects' files and ``subject-info.csv`` from PhysioNet, each
        verified against the project's ``SHA256SUMS.txt``.
    mirror : base URL of a PhysioNet mirror (default ``https://physionet.org/files``).
    """

    name = "eegmat"
    version = "1.0.0"
    multilabel = False

    def __init__(
        self,
        path: str | None = None,
        subjects: list[int] | None = None,
        view: str = "task",
        window: float = 4.0,
        stride: float | None = None,
        sfreq: float | None = 128.0,
        band: tuple[float, float] | None = DEFAULT_BAND,
        modern_names: bool = False,
        rest_seconds: float | None = None,
        n_folds: int = 4,
        download: bool = False,
        mirror: str | None = None,
    ):
        if view not in VIEWS:
            raise ConfigError(f"EEGMAT view must be one of {VIEWS}, got {view!r}")
        if window <= 0 or (stride is not None and stride <= 0):
            raise ConfigError(f"EEGMAT window ({window}) and stride ({stride}) must be positive")
        if sfreq is not None and not 0 < sfreq <= SFREQ:
            raise ConfigError(f"EEGMAT sfreq must be in (0, {SFREQ:g}] Hz or None, got {sfreq}")
        if band is not None:
            band = tuple(float(b) for b in band)
            top = (sfreq or SFREQ) / 2
            if len(band) != 2 or not 0 <= band[0] < band[1]:
                raise ConfigError(f"EEGMAT band must be (low, high) with 0 <= low < high, got "
                                  f"{band}")
            if band[1] >= top:
                given = "the default band" if band == DEFAULT_BAND else "band"
                rate = f"sfreq={sfreq:g}" if sfreq is not None else f"the files' {SFREQ:g} Hz"
                raise ConfigError(
                    f"EEGMAT band must be (low, high) with 0 <= low < high < {top:g} Hz (the "
                    f"Nyquist frequency of {rate}), got {given} {band}; pass band=(low, high) "
                    f"below {top:g} Hz with {rate}, or band=None")
        if rest_seconds is not None and rest_seconds < window:
            raise ConfigError(f"EEGMAT rest_seconds ({rest_seconds}) must be at least one window "
                              f"({window} s)")
        if int(n_folds) < 1:
            raise ConfigError(f"EEGMAT n_folds must be at least 1, got {n_folds}")
        self.root = dataset_root(path, "eegmat", self.version)
        self.view = view
        self.window, self.stride = float(window), None if stride is None else float(stride)
        self.sfreq = None if sfreq is None else float(sfreq)
        self.band = band
        self.modern_names = bool(modern_names)
        self.rest_seconds = None if rest_seconds is None else float(rest_seconds)
        self.n_folds = int(n_folds)
        self.classes = ["rest", "arithmetic"] if view == "task" else []
        self.runs = (1, 2) if view == "task" else (1,)
        if subjects is not None:
            self.subjects = sorted({int(s) for s in subjects})
            bad = [s for s in self.subjects if not 0 <= s < N_SUBJECTS]
            if bad or not self.subjects:
                raise ConfigError(f"EEGMAT subjects must be in 0..{N_SUBJECTS - 1}, got {subjects}")
        elif download:
            self.subjects = list(range(N_SUBJECTS))
        if download:
            self.download(mirror)
        require_dir(self.root, "EEGMAT", _HOW)
        if subjects is None and not download:
            self.subjects = self._subjects_on_disk()
        self.channels = [MODERN.get(c, c) if modern_names else c for c in EEGMAT_CHANNELS]
        self._info = self._read_info()
        self._records: list[dict] | None = None

    # ------------------------------------------------------------------ index
    def _subjects_on_disk(self) -> list[int]:
        found: dict[int, set[int]] = {}
        for p in self.root.iterdir():
            m = _FILE.fullmatch(p.name)
            if m:
                found.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
        subs = sorted(s for s, runs in found.items() if set(self.runs) <= runs)
        if not subs:
            raise InvalidFileError(self.root, f"no EEGMAT recordings (SubjectNN_1.edf ...). {_HOW}")
        partial = sorted(set(found) - set(subs))
        if partial:  # a subject without every run is left out: say so (subjects= makes it an error)
            warnings.warn(f"{self.root}: subjects {partial} lack a recording of runs {self.runs} "
                          "and are left out", stacklevel=3)
        return subs

    def _read_info(self) -> dict[int, dict]:
        """Per-subject facts from ``subject-info.csv`` (its recording year is left out)."""
        import pandas as pd

        path = self.root / _INFO
        if not path.is_file():
            return {}
        try:
            df = pd.read_csv(path, skipinitialspace=True)
        except (ValueError, pd.errors.ParserError) as err:
            raise InvalidFileError(path, f"not a readable CSV ({type(err).__name__})") from None
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in _INFO_COLUMNS if c not in df.columns]
        if missing:
            raise InvalidFileError(path, f"missing columns {missing}")
        out = {}
        for i, row in df.iterrows():
            m = re.fullmatch(r"Subject(\d{2})", str(row["Subject"]).strip())
            gender = str(row["Gender"]).strip().upper()
            if m is None or gender not in ("F", "M"):
                raise InvalidFileError(  # the cells are not quoted: they may hold anything
                    path, f"row {i + 2}: Subject / Gender not of the form SubjectNN / F or M"
                )
            try:
                out[int(m.group(1))] = {
                    "age": float(row["Age"]),
                    "sex": "female" if gender == "F" else "male",
                    "n_subtractions": float(row["Number of subtractions"]),
                    "count_quality": int(row["Count quality"]),
                }
            except (TypeError, ValueError):
                raise InvalidFileError(path, f"row {i + 2}: Age, Number of subtractions or Count "
                                             "quality is not a number") from None
        return out

    def records(self) -> list[dict]:
        if self._records is None:
            self._check_files()
            out, folds = [], self._folds()
            for s in self.subjects:
                info = self._info.get(s, {})
                if self._info and not info:
                    raise InvalidFileError(self.root / _INFO, f"no row for Subject{s:02d}")
                for run in self.runs:
                    rel = f"Subject{s:02d}_{run}.edf"
                    out.append(
                        {
                            "record": f"Subject{s:02d}_{run}",
                            "subject": s,
                            "session": "1",
                            "run": run,
                            "condition": _RUN_CLASS[run],
                            "label": run - 1 if self.view == "task" else -1,
                            "fold": folds[s],
                            "path": rel,
                            **info,
                        }
                    )
            self._records = out
        return self._records

    def _folds(self) -> dict[int, int]:
        """Each chosen subject's fold: its position among them (sorted) % n_folds + 1."""
        return {s: i % self.n_folds + 1 for i, s in enumerate(sorted(self.subjects))}

    def column_origin(self, column: str) -> str:
        if column != "fold":
            return ""
        filled = sorted(set(self._folds().values()))
        return (f"EEGMAT puts the i-th of its chosen subjects (sorted, from 0) in fold "
                f"i % n_folds + 1, and n_folds={self.n_folds} (EEGMAT's n_folds: "
                f"data.source.init_args.n_folds, the recipes' --n-folds): its "
                f"{len(self.subjects)} subjects {self.subjects} fill folds {filled}")

    def _check_files(self) -> None:
        """Every chosen subject's files are in the folder, checked before the subject facts (a
        subject absent from the folder was blamed on ``subject-info.csv``)."""
        missing = [f"Subject{s:02d}_{run}.edf" for s in self.subjects for run in self.runs
                   if not (self.root / f"Subject{s:02d}_{run}.edf").is_file()]
        if missing:
            held = sorted({int(m.group(1)) for p in self.root.iterdir()
                           if (m := _FILE.fullmatch(p.name))})
            listed = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
            raise InvalidFileError(
                self.root / missing[0], f"EEGMAT file missing ({len(missing)} in all: {listed}); "
                f"the folder holds subjects {held}. {_HOW}")

    def identity(self) -> dict:
        info = self.root / _INFO
        return {
            "name": self.name,
            "version": self.version,
            "subjects": self.subjects,
            "view": self.view,
            "window": self.window,
            "stride": self.stride,
            "modern_names": self.modern_names,
            "rest_seconds": self.rest_seconds,
            # rest_seconds ends where the files' constant padding begins (not at the file's end)
            "rest_end": None if self.rest_seconds is None else "before_padding",
            # a cut rest window's onset: from the file's start (it was from the cut)
            "rest_onsets": None if self.rest_seconds is None else "from_file_start",
            "n_folds": self.n_folds,
            **self._fold_rule(),
            "classes": self.classes,
            "files": file_manifest(self.root, [r["path"] for r in self.records()]),
            "subject_info_sha256": sha256_bytes(info) if info.is_file() else None,
        }

    def _fold_rule(self) -> dict:
        """``{"fold_rule": "position"}`` where the folds by position differ from the former
        ``subject % n_folds + 1`` (a cache built with that rule is then not reused); nothing
        where they agree (subjects 0..N-1), so those caches keep their key."""
        former = {s: s % self.n_folds + 1 for s in self.subjects}
        return {} if former == self._folds() else {"fold_rule": "position"}

    # ------------------------------------------------------------------ signals
    def load(self, ref: dict) -> Recording:
        """One file: the 19 EEG channels in µV with 10-20 names (ear-reference difference
        ``EEG A2-A1`` and ``ECG ECG`` left out), raw 500 Hz, no annotations; a resting file
        cut to its last ``rest_seconds`` before the file's constant padding
        (:func:`constant_tail`) when that is set (``meta["start_in_file_s"]``: where the cut
        starts, so that its windows' onsets count from the file's start)."""
        from biosig.io import read_edf

        path = self.root / ref["path"]
        rec = read_edf(path)
        names = [eegmat_channel_name(n, self.modern_names) for n in rec.ch_names]
        missing = [c for c in self.channels if c not in names]
        if missing:
            raise InvalidFileError(path, f"EEG channels {missing} missing (has {rec.ch_names})")
        if abs(rec.sfreq - SFREQ) > 1e-6:
            raise InvalidFileError(path, f"sampling rate {rec.sfreq:g} Hz, expected {SFREQ:g}")
        bad_units = [u for n, u in zip(names, rec.units) if n in self.channels and u != "uV"]
        if bad_units:
            raise InvalidFileError(path, f"EEG channels not in µV: units {shown_units(bad_units)}")
        rec = rec.copy(ch_names=names, ch_types=["eeg"] * rec.n_chans).pick(self.channels)
        if self.rest_seconds is not None and int(ref["run"]) == 1:
            keep = int(round(self.rest_seconds * rec.sfreq))
            end = rec.n_times - constant_tail(rec.data)
            if keep > end:
                raise InvalidFileError(path, f"{end / rec.sfreq:g} s long before its padding, "
                                             f"shorter than rest_seconds={self.rest_seconds:g}")
            rec = rec.copy(data=rec.data[:, end - keep:end])
            rec.meta["start_in_file_s"] = (end - keep) / rec.sfreq  # onsets count from the file
        rec.annotations = Annotations.empty()  # only EDF+ "[Total time]" bookkeeping
        rec.meta.update(
            {"dataset": self.name, "subject": int(ref["subject"]), "run": int(ref["run"])}
        )
        return rec

    def default_windows(self):
        from biosig.signal.windows import FixedWindows

        return FixedWindows(length=self.window, stride=self.stride)

    def default_preprocessing(self) -> list:
        """Zero-phase band-pass ``band`` at 500 Hz, then resampling to ``sfreq``."""
        from biosig.signal.preprocessing import Bandpass, Resample

        steps = []
        if self.band is not None:
            steps.append(Bandpass(low=self.band[0], high=self.band[1]))
        if self.sfreq is not None and self.sfreq != SFREQ:
            steps.append(Resample(self.sfreq))
        return steps

    # ------------------------------------------------------------------ download
    def download(self, base_url: str | None = None, progress: bool = True) -> None:
        """Fetch ``subject-info.csv`` and the chosen subjects' EDF files (SHA-256 verified)."""
        self.root.mkdir(parents=True, exist_ok=True)
        files = [_INFO] + [
            f"Subject{s:02d}_{r}.edf" for s in self.subjects for r in self.runs
        ]
        physionet_fetch("eegmat", self.version, self.root, files, base_url, progress)

    def __repr__(self) -> str:
        return (
            f"EEGMAT(path={os.fspath(self.root)!r}, subjects={len(self.subjects)}, "
            f"view={self.view!r}, window={self.window:g})"
        )
