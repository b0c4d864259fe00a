"""PTB-XL (v1.0.3): 21,799 10-s 12-lead ECGs, 100 Hz and 500 Hz, WFDB, multi-label.

Wagner, P., Strodthoff, N., Bousseljot, R.-D., et al. "PTB-XL, a large publicly available
electrocardiography dataset", Scientific Data 7, 154 (2020); PhysioNet, DOI 10.13026/kfzx-aw45.
Labels and folds follow Strodthoff et al., "Deep learning for ECG analysis: benchmarks and
insights from PTB-XL", IEEE JBHI 25(5) 2021 (``helme/ecg_ptbxl_benchmarking``).
"""

from __future__ import annotations

import ast
import math
import os
from pathlib import PurePosixPath

import numpy as np

from biosig.datasets._common import (
    dataset_root,
    file_manifest,
    physionet_fetch,
    require_dir,
    sha256_bytes,
)
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.ecg_leads import LEADS, canonical_lead
from biosig.signal.recording import Recording

__all__ = ["PTBXL", "SUPERCLASSES", "PTBXL_FOLDS"]

#: Diagnostic superclasses, in the order biosig uses everywhere (as the built-in SyntheticECG).
SUPERCLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]
#: The recommended split of ``strat_fold``.
PTBXL_FOLDS = {"train": list(range(1, 9)), "val": [9], "test": [10]}

_TASKS = ("superdiagnostic", "subdiagnostic", "diagnostic", "form", "rhythm", "all")
_DB_COLUMNS = ("ecg_id", "patient_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr")
_HOW = (
    "Download PTB-XL 1.0.3 from https://physionet.org/content/ptb-xl/1.0.3/ and pass its folder "
    "as path=, or use PTBXL(download=True)."
)


def _number(value) -> float | None:
    """A cell as a finite float; None for an empty (NaN) or non-numeric cell."""
    try:
        out = float(value)
    except (ValueError, TypeError):
        return None
    return out if math.isfinite(out) else None


def _whole(value) -> int | None:
    """A cell as an int (``15709``, ``15709.0``, ``"15709.0"``); None otherwise."""
    out = _number(value)
    return int(out) if out is not None and out.is_integer() else None


def _record_path(cell) -> str | None:
    """A ``filename_lr``/``filename_hr`` cell as a record path below the PTB-XL folder; None
    for an empty cell, ``""`` for an absolute path or one that climbs out with ``..`` (it would
    read another folder's file, and reach the cache key as it stands)."""
    if not isinstance(cell, str) or not cell.strip():
        return None
    path = PurePosixPath(cell.strip().replace("\\", "/"))
    inside = not path.is_absolute() and ".." not in path.parts and ":" not in path.parts[0]
    return path.as_posix() if inside else ""


class PTBXL(DatasetSource):
    """PTB-XL 12-lead ECG records with SCP-ECG statement labels (multi-label, mV).

    Parameters
    ----------
    path : folder holding ``ptbxl_database.csv``, ``scp_statements.csv`` and ``records100/`` /
        ``records500/``; default ``BIOSIG_DATA/ptb-xl/1.0.3``.
    sampling_rate : 100 (``records100``, 1,000 samples) or 500 (``records500``, 5,000 samples).
    task : label level: ``"superdiagnostic"`` (NORM, MI, STTC, CD, HYP), ``"subdiagnostic"``
        (23 subclasses), ``"diagnostic"`` (44 statements), ``"form"``, ``"rhythm"`` or ``"all"``
        (71 statements).
    min_likelihood : keep a statement only if its likelihood (``scp_codes`` value, %) is at least
        this; 0 keeps every listed statement (the benchmark's choice, also counting statements
        listed with likelihood 0).
    drop_unlabelled : leave out records with no label at this level (as the benchmark does).
    download : fetch the metadata and the chosen ``records<fs>`` files from PhysioNet (each
        verified against the project's ``SHA256SUMS.txt``) when absent.
    mirror : base URL of a PhysioNet mirror (default ``https://physionet.org/files``); the
        project lives under ``<mirror>/ptb-xl/1.0.3/``.

    Notes
    -----
    Opening is index-only: the two CSV files are parsed (``scp_codes`` with
    :func:`ast.literal_eval`) and no signal file is touched until :meth:`load`. Classes are
    ordered as :data:`SUPERCLASSES` for the superclass task and alphabetically otherwise, and
    derived from ``scp_statements.csv`` (not from which records are present), so a subset of
    the records has the same label columns; a code in ``scp_codes`` that
    ``scp_statements.csv`` does not define raises InvalidFileError (its labels would otherwise
    be lost at every level). Records carry ``fold`` (``strat_fold``) and
    ``split``: folds 1-8 train, 9 val, 10 test. ``patient_id`` is the dataset's pseudonym and is
    used as ``subject``; age and sex come from the CSV (age 300 = over 89 in the source).
    """

    name = "ptbxl"
    version = "1.0.3"
    multilabel = True

    def __init__(
        self,
        path: str | None = None,
        sampling_rate: int = 100,
        task: str = "superdiagnostic",
        min_likelihood: float = 0.0,
        drop_unlabelled: bool = True,
        download: bool = False,
        mirror: str | None = None,
    ):
        if sampling_rate not in (100, 500):
            raise ConfigError(f"sampling_rate must be 100 or 500, got {sampling_rate}")
        if task not in _TASKS:
            raise ConfigError(f"task must be one of {_TASKS}, got {task!r}")
        self.root = dataset_root(path, "ptb-xl", self.version)
        self.sampling_rate = int(sampling_rate)
        self.task = task
        self.min_likelihood = float(min_likelihood)
        self.drop_unlabelled = drop_unlabelled
        self.mirror = mirror
        if download:  # fetches only what is missing or unverified (e.g. records500 later)
            self.download(mirror)
        require_dir(self.root, "PTB-XL", _HOW)
        self._statements = self._read_statements()
        self.classes = self._class_list()
        self._records: list[dict] | None = None

    # ------------------------------------------------------------------ index
    def _read_statements(self):
        import pandas as pd

        path = self.root / "scp_statements.csv"
        if not path.is_file():
            raise InvalidFileError(path, f"missing. {_HOW}")
        df = pd.read_csv(path, index_col=0)
        need = {"diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"}
        missing = need - set(df.columns)
        if missing:
            raise InvalidFileError(path, f"missing columns {sorted(missing)}")
        return df

    def _code_map(self) -> dict[str, list[str]]:
        """scp code -> labels it contributes at this task level."""
        df = self._statements
        out: dict[str, list[str]] = {}
        for code, row in df.iterrows():
            if self.task == "all":
                out[code] = [code]
            elif self.task in ("diagnostic", "form", "rhythm"):
                if row[self.task] == 1:
                    out[code] = [code]
            elif row["diagnostic"] == 1:
                col = (
                    "diagnostic_class" if self.task == "superdiagnostic" else "diagnostic_subclass"
                )
                val = row[col]
                if isinstance(val, str) and val:
                    out[code] = [val]
        return out

    def _class_list(self) -> list[str]:
        labels = sorted({lab for labs in self._code_map().values() for lab in labs})
        if self.task == "superdiagnostic":
            unknown = set(labels) - set(SUPERCLASSES)
            if unknown:
                raise InvalidFileError(
                    self.root / "scp_statements.csv",
                    f"unknown diagnostic classes {sorted(unknown)}",
                )
            return list(SUPERCLASSES)
        return labels

    def identity(self) -> dict:
        csvs = ["ptbxl_database.csv", "scp_statements.csv"]
        return {
            "name": self.name,
            "version": self.version,
            "sampling_rate": self.sampling_rate,
            "task": self.task,
            "min_likelihood": self.min_likelihood,
            "drop_unlabelled": self.drop_unlabelled,
            "classes": self.classes,
            "files": file_manifest(self.root, csvs),
            "signal_files": file_manifest(
                self.root, [f"{r['path']}.{e}" for r in self.records() for e in ("hea", "dat")]
            ),
            "sha256": {c: sha256_bytes(self.root / c) for c in csvs},
            "n_records": len(self.records()),
        }

    def records(self) -> list[dict]:
        if self._records is None:
            self._records = self._index()
        return self._records

    def _index(self) -> list[dict]:
        import pandas as pd

        path = self.root / "ptbxl_database.csv"
        if not path.is_file():
            raise InvalidFileError(path, f"missing. {_HOW}")
        df = pd.read_csv(path, usecols=lambda c: c in _DB_COLUMNS + ("age", "sex"))
        missing = set(_DB_COLUMNS) - set(df.columns)
        if missing:
            raise InvalidFileError(path, f"missing columns {sorted(missing)}")
        code_map = self._code_map()
        cls_index = {c: i for i, c in enumerate(self.classes)}
        file_col = "filename_lr" if self.sampling_rate == 100 else "filename_hr"
        ages = df["age"].to_numpy() if "age" in df else np.full(len(df), np.nan)
        sexes = df["sex"].to_numpy() if "sex" in df else np.full(len(df), np.nan)
        out = []
        row_of: dict[int, int] = {}  # ecg_id -> the CSV row that holds it
        parsed_cache: dict[str, dict] = {}
        known = set(self._statements.index)

        def bad(what: str, at: str = "") -> InvalidFileError:
            """A bad cell named by row and column, never quoted: a row whose free-text report
            lacks its quotes shifts that text into the columns read here."""
            return InvalidFileError(path, f"row {i + 2}{at}: {what}")

        for i, (ecg_id, pid, codes, fold, fname) in enumerate(
            zip(
                df["ecg_id"].to_numpy(),
                df["patient_id"].to_numpy(),
                df["scp_codes"].to_numpy(),
                df["strat_fold"].to_numpy(),
                df[file_col].to_numpy(),
            )
        ):
            ecg_id = _whole(ecg_id)
            if ecg_id is None:
                raise bad("ecg_id is not a whole number")
            at = f" (ecg_id {ecg_id})"
            first = row_of.setdefault(ecg_id, i + 2)
            if first != i + 2:  # two records of one name in a cache
                raise bad(f"ecg_id repeats row {first} (each record has its own ecg_id)", at)
            parsed = parsed_cache.get(codes)
            if parsed is None:  # many records share one scp_codes string: parse each once
                try:
                    parsed = ast.literal_eval(codes)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    parsed = None
                if not isinstance(parsed, dict):
                    raise bad("scp_codes is not a dict literal ({'CODE': likelihood, ...})", at)
                if not known.issuperset(parsed):  # its labels would be dropped without a word
                    raise bad(
                        f"scp_codes lists {len(set(parsed) - known)} statement code(s) that "
                        "scp_statements.csv does not define (the two CSVs of different "
                        "PTB-XL versions?)",
                        at,
                    )
                parsed_cache[codes] = parsed
            try:
                labels = sorted(
                    {
                        cls_index[lab]
                        for code, lik in parsed.items()
                        if float(lik) >= self.min_likelihood
                        for lab in code_map.get(code, ())
                    }
                )
            except (ValueError, TypeError):
                raise bad("a likelihood in scp_codes is not a number", at) from None
            fold, pid = _whole(fold), _whole(pid)  # "15709.0": one text cell makes a text column
            if fold is None:
                raise bad("strat_fold is not a whole number", at)
            if pid is None:
                raise bad("patient_id is not a whole number", at)
            if self.drop_unlabelled and not labels:
                continue
            if not 1 <= fold <= 10:
                raise InvalidFileError(
                    path, f"row {i + 2} (ecg_id {ecg_id}): strat_fold {fold} not in 1..10"
                )
            fname = _record_path(fname)
            if not fname:
                what = "empty" if fname is None else "not a relative path inside the PTB-XL folder"
                raise bad(f"{file_col} is {what}", at)
            split = "train" if fold <= 8 else ("val" if fold == 9 else "test")
            age, sex = _number(ages[i]), _whole(sexes[i])
            if (age is None and ages[i] == ages[i]) or (sex is None and sexes[i] == sexes[i]):
                raise bad("age or sex is not a number", at)
            out.append(
                {
                    "record": f"{ecg_id:05d}",
                    "subject": pid,
                    "session": "1",
                    "labels": labels,
                    "fold": fold,
                    "split": split,
                    "path": fname,
                    # PTB-XL codes ages over 89 as 300 (anonymisation): keep 90 and a flag
                    "age": None if age is None else min(age, 90.0),
                    "age_over_89": age is not None and age >= 300,
                    "sex": None if sex is None else ("male" if sex == 0 else "female"),
                }
            )
        return out

    # ------------------------------------------------------------------ signals
    def load(self, ref: dict) -> Recording:
        """Read one record (12 leads in mV, leads named I, II, III, aVR, aVL, aVF, V1..V6)."""
        from biosig.io import read_wfdb

        try:
            rec = read_wfdb(self.root / ref["path"])
        except InvalidFileError:
            folder = self.root / f"records{self.sampling_rate}"
            if folder.is_dir():
                raise
            # the index lists every record; this copy lacks the rate's files
            raise InvalidFileError(
                folder, f"missing: this copy of PTB-XL has no {self.sampling_rate} Hz records; "
                f"choose the sampling_rate of the records folder it has, or fetch them ({_HOW})"
            ) from None
        names = [canonical_lead(n) for n in rec.ch_names]
        rec = rec.copy(ch_names=names).pick(list(LEADS))
        if int(round(rec.sfreq)) != self.sampling_rate:
            raise InvalidFileError(
                self.root / ref["path"],
                f"sampling rate {rec.sfreq} Hz, expected {self.sampling_rate}",
            )
        rec.meta.update(
            {"dataset": self.name, "record": ref["record"], "labels": list(ref["labels"])}
        )
        return rec

    def default_windows(self):
        from biosig.signal.windows import FixedWindows

        return FixedWindows(length=10.0, stride=10.0)

    # ------------------------------------------------------------------ download
    def download(self, base_url: str | None = None, progress: bool = True) -> None:
        """Fetch the CSVs and the ``records<fs>`` WFDB files (verified against SHA256SUMS.txt)."""
        from biosig.datasets._common import physionet_checksums

        self.root.mkdir(parents=True, exist_ok=True)
        sums = physionet_checksums("ptb-xl", self.version, self.root, base_url)
        prefix = f"records{self.sampling_rate}/"
        files = ["ptbxl_database.csv", "scp_statements.csv"] + sorted(
            f for f in sums if f.startswith(prefix)
        )
        physionet_fetch("ptb-xl", self.version, self.root, files, base_url, progress)

    def __repr__(self) -> str:
        return (
            f"PTBXL(path={os.fspath(self.root)!r}, sampling_rate={self.sampling_rate}, "
            f"task={self.task!r})"
        )
