"""PhysioNet/Computing in Cardiology Challenge 2020 and 2021 12-lead ECG records.

Perez Alday, E. A., Gu, A., Shah, A. J., et al. "Classification of 12-lead ECGs: the
PhysioNet/Computing in Cardiology Challenge 2020", Physiol. Meas. 41 (2020) 124003;
Reyna, M. A., Sadr, N., Perez Alday, E. A., et al. "Will Two Do? Varying Dimensions in
Electrocardiography: The PhysioNet/Computing in Cardiology Challenge 2021", CinC 2021.
PhysioNet: ``challenge-2020/1.0.2`` (DOI 10.13026/dvyd-kd57), ``challenge-2021/1.0.3``
(DOI 10.13026/34va-7q14).

Records are WFDB headers (``.hea``) with MATLAB v4 signal files (``.mat``, variable ``val``);
labels are SNOMED-CT codes in the ``# Dx:`` header comment, with ``# Age:`` and ``# Sex:``.
Only the challenge's *scored* diagnoses become classes (the tables below are the official
``weights.csv`` / ``dx_mapping_scored.csv`` class lists); the challenge scores four pairs
of codes as one class, and so does this loader by default.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from biosig.datasets._common import dataset_root, file_manifest, require_dir
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.io.wfdb import scan_wfdb_header
from biosig.signal.ecg_leads import LEADS, canonical_lead
from biosig.signal.recording import Recording

_ECG12 = list(LEADS)

__all__ = ["CinC", "SCORED_CODES", "EQUIVALENT_CODES", "LEAD_SETS", "scored_classes"]

#: Every diagnosis scored in 2020 or 2021: SNOMED-CT code -> (abbreviation, description).
SCORED_CODES: dict[str, tuple[str, str]] = {
    "164889003": ("AF", "atrial fibrillation"),
    "164890007": ("AFL", "atrial flutter"),
    "6374002": ("BBB", "bundle branch block"),
    "426627000": ("Brady", "bradycardia"),
    "733534002": ("CLBBB", "complete left bundle branch block"),
    "164909002": ("LBBB", "left bundle branch block"),
    "713427006": ("CRBBB", "complete right bundle branch block"),
    "59118001": ("RBBB", "right bundle branch block"),
    "270492004": ("IAVB", "1st degree av block"),
    "713426002": ("IRBBB", "incomplete right bundle branch block"),
    "39732003": ("LAD", "left axis deviation"),
    "445118002": ("LAnFB", "left anterior fascicular block"),
    "164947007": ("LPR", "prolonged pr interval"),
    "251146004": ("LQRSV", "low qrs voltages"),
    "111975006": ("LQT", "prolonged qt interval"),
    "698252002": ("NSIVCB", "nonspecific intraventricular conduction disorder"),
    "426783006": ("NSR", "sinus rhythm"),
    "284470004": ("PAC", "premature atrial contraction"),
    "63593006": ("SVPB", "supraventricular premature beats"),
    "10370003": ("PR", "pacing rhythm"),
    "365413008": ("PRWP", "poor R wave progression"),
    "427172004": ("PVC", "premature ventricular contractions"),
    "17338001": ("VPB", "ventricular premature beats"),
    "164917005": ("QAb", "qwave abnormal"),
    "47665007": ("RAD", "right axis deviation"),
    "427393009": ("SA", "sinus arrhythmia"),
    "426177001": ("SB", "sinus bradycardia"),
    "427084000": ("STach", "sinus tachycardia"),
    "164934002": ("TAb", "t wave abnormal"),
    "59931005": ("TInv", "t wave inversion"),
}

# Class (column) order of the official weights.csv; "a|b" = an equivalent pair.
_WEIGHTS_ORDER = {
    2020: [
        "270492004",
        "164889003",
        "164890007",
        "426627000",
        "713427006|59118001",
        "713426002",
        "445118002",
        "39732003",
        "164909002",
        "251146004",
        "698252002",
        "10370003",
        "284470004|63593006",
        "427172004|17338001",
        "164947007",
        "111975006",
        "164917005",
        "47665007",
        "427393009",
        "426177001",
        "426783006",
        "427084000",
        "164934002",
        "59931005",
    ],
    2021: [
        "164889003",
        "164890007",
        "6374002",
        "426627000",
        "733534002|164909002",
        "713427006|59118001",
        "270492004",
        "713426002",
        "39732003",
        "445118002",
        "164947007",
        "251146004",
        "111975006",
        "698252002",
        "426783006",
        "284470004|63593006",
        "10370003",
        "365413008",
        "427172004|17338001",
        "164917005",
        "47665007",
        "427393009",
        "426177001",
        "427084000",
        "164934002",
        "59931005",
    ],
}

#: Pairs the evaluation code scores as one class (2020: three; 2021: four), from the order above.
EQUIVALENT_CODES = {
    year: [tuple(c.split("|")) for c in order if "|" in c] for year, order in _WEIGHTS_ORDER.items()
}

#: Lead subsets scored in 2021.
LEAD_SETS = {
    12: _ECG12,
    6: ["I", "II", "III", "aVR", "aVL", "aVF"],
    4: ["I", "II", "III", "V2"],
    3: ["I", "II", "V2"],
    2: ["I", "II"],
}


def scored_classes(year: int = 2021, merge_equivalent: bool = True) -> list[tuple[str, list[str]]]:
    """``[(class name, [SNOMED codes]), ...]`` in the official weights.csv order.

    With ``merge_equivalent`` an equivalent pair is one class named ``"CRBBB|RBBB"``; without,
    each code is its own class (2020: 27, 2021: 30 classes; merged: 24 / 26).
    """
    if year not in _WEIGHTS_ORDER:
        raise ConfigError(f"year must be 2020 or 2021, got {year}")
    out = []
    for col in _WEIGHTS_ORDER[year]:
        codes = col.split("|")
        if merge_equivalent:
            out.append(("|".join(SCORED_CODES[c][0] for c in codes), codes))
        else:
            out.extend((SCORED_CODES[c][0], [c]) for c in codes)
    return out


def _check_dx(hea: Path, codes: list[str]) -> None:
    """A CinC header's ``# Dx:`` codes: at least one, each a SNOMED-CT number. A damaged code
    would match no scored class and a missing line would leave the record unlabelled, both
    silently. The codes are counted, not quoted."""
    if not codes:
        raise InvalidFileError(
            hea, "no diagnosis: CinC headers list the record's SNOMED-CT codes in a '# Dx:' "
            "comment line, and this one has none (a header cut short, or not a CinC record?)")
    bad = next((k for k, code in enumerate(codes, 1) if not _SNOMED.fullmatch(code)), None)
    if bad is not None:
        raise InvalidFileError(
            hea, f"'# Dx:' code {bad} is not a SNOMED-CT number (digits only)")


_SNOMED = re.compile(r"[0-9]+")


class CinC(DatasetSource):
    """PhysioNet/CinC Challenge 2020/2021 12-lead ECG records (multi-label, mV).

    Parameters
    ----------
    path : a challenge folder (e.g. ``challenge-2021/1.0.3/training``) or any folder below it;
        every ``*.hea`` under it is a record. Default ``BIOSIG_DATA/challenge-2021/1.0.3/training``.
    year : 2020 or 2021: which scored-class table.
    merge_equivalent : score the challenge's equivalent pairs as one class (default, as the
        official evaluation does).
    sources : keep only records with one of these folder names in their path (e.g.
        ``["georgia"]``, ``["cpsc_2018", "ptb-xl"]``).
    leads : 12, 6, 4, 3 or 2 (the 2021 lead sets), or a list of lead names.
    drop_unlabelled : leave out records without any scored diagnosis.
    check_duplicates : hash every signal file and give byte-identical records one ``subject``
        (and ``group``), so subject-wise splits keep duplicates together (e.g. Georgia
        E07509/E07510). Hashes are memoised by path, size and mtime in ``hash_cache``.
    hash_cache : folder for that memo (default ``BIOSIG_CACHE/hashes``).
    window : window length in s for :meth:`default_windows` (non-overlapping).

    Notes
    -----
    Records carry ``record`` (path below ``path``, no suffix), ``subject`` (= duplicate group),
    ``session``, ``labels``, ``sfreq``, ``n_times``, ``age``, ``sex``, ``source`` (first folder)
    and ``group``. The challenge publishes no patient ids, so a subject-wise split can only
    group exact duplicates. Sampling rates differ between sources (257 Hz INCART, 1 kHz PTB,
    500 Hz elsewhere): add a ``Resample`` step.
    """

    name = "cinc"
    multilabel = True

    def __init__(
        self,
        path: str | None = None,
        year: int = 2021,
        merge_equivalent: bool = True,
        sources: list[str] | None = None,
        leads: int | list[str] = 12,
        drop_unlabelled: bool = False,
        check_duplicates: bool = True,
        hash_cache: str | None = None,
        window: float = 10.0,
    ):
        if year not in (2020, 2021):
            raise ConfigError(f"year must be 2020 or 2021, got {year}")
        self.year = year
        self.version = "1.0.3" if year == 2021 else "1.0.2"
        self.name = f"cinc{year}"
        default = (
            ("challenge-2021", "1.0.3", "training")
            if year == 2021
            else ("challenge-2020", "1.0.2", "training")
        )
        self.root = require_dir(
            dataset_root(path, *default),
            f"CinC {year} challenge data",
            f"Download it from https://physionet.org/content/challenge-{year}/ and pass path=.",
        )
        if (self.root / "ptbxl_database.csv").is_file():  # CinC's subjects are its records: a
            raise ConfigError(  # PTB-XL patient's records could land on both sides of a split
                f"{self.root}: this is PTB-XL's own release (ptbxl_database.csv), not the CinC "
                f"{year} challenge data; read it with biosig.datasets.PTBXL (--data ptbxl), whose "
                "patient ids keep each patient's records on one side of the split")
        self.merge_equivalent = merge_equivalent
        table = scored_classes(year, merge_equivalent)
        self.classes = [n for n, _ in table]
        self.class_codes = [c for _, c in table]
        self._code_to_class = {code: i for i, (_, codes) in enumerate(table) for code in codes}
        self.sources = None if sources is None else [str(s) for s in sources]
        if isinstance(leads, int):
            if leads not in LEAD_SETS:
                raise ConfigError(
                    f"leads must be one of {sorted(LEAD_SETS)} or a list of names, got {leads}"
                )
            self.leads = list(LEAD_SETS[leads])
        else:
            self.leads = [canonical_lead(x) for x in leads]
            bad = [x for x in self.leads if x not in _ECG12]
            if bad:
                raise ConfigError(f"unknown leads {bad}; choose from {_ECG12}")
        self.drop_unlabelled = drop_unlabelled
        self.check_duplicates = check_duplicates
        self.hash_cache = Path(hash_cache) if hash_cache else None
        self.window = float(window)
        self._records: list[dict] | None = None

    # ------------------------------------------------------------------ index
    def _headers(self) -> list[Path]:
        heas = sorted(self.root.rglob("*.hea"))
        if self.sources is not None:
            want = set(self.sources)
            heas = [h for h in heas if want.intersection(h.relative_to(self.root).parts[:-1])]
        if not heas:
            raise InvalidFileError(
                self.root,
                "no WFDB headers (*.hea) found"
                + (f" in sources {self.sources}" if self.sources else ""),
            )
        return heas

    def records(self) -> list[dict]:
        if self._records is not None:
            return self._records
        out = []
        for hea in self._headers():
            h = scan_wfdb_header(hea)
            _check_dx(hea, h["dx"])
            labels = sorted({self._code_to_class[c] for c in h["dx"] if c in self._code_to_class})
            if self.drop_unlabelled and not labels:
                continue
            rel = hea.relative_to(self.root).with_suffix("")
            parts = rel.parts
            out.append(
                {
                    "record": rel.as_posix(),
                    "subject": rel.as_posix(),
                    "session": "1",
                    "labels": labels,
                    "sfreq": h["fs"],
                    "n_times": h["n_samples"],
                    "age": h["age"],
                    "sex": h["sex"],
                    "source": parts[0] if len(parts) > 1 else "",
                    "group": rel.as_posix(),
                    "signal_file": (rel.parent / h["files"][0]).as_posix(),
                }
            )
        if self.check_duplicates:
            self._group_duplicates(out)
        self._records = out
        return out

    def _group_duplicates(self, recs: list[dict]) -> None:
        from biosig.paths import cache_dir

        memo_dir = self.hash_cache or (cache_dir() / "hashes")
        memo_dir.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:16]
        memo_path = memo_dir / f"cinc-{key}.json"
        memo = {}
        if memo_path.is_file():  # a memo only: one that does not parse is hashed anew
            try:
                memo = json.loads(memo_path.read_text())
            except json.JSONDecodeError:
                memo = {}
            if not isinstance(memo, dict):
                memo = {}
        changed = False
        first_of: dict[str, str] = {}
        for r in recs:
            f = self.root / r["signal_file"]
            if not f.is_file():
                raise InvalidFileError(f, f"signal file of record {r['record']} missing")
            st = f.stat()
            tag = f"{st.st_size}:{st.st_mtime_ns}"
            entry = memo.get(r["signal_file"])
            if not (isinstance(entry, list) and len(entry) == 2 and entry[0] == tag):
                h = hashlib.sha256()
                with open(f, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                entry = [tag, h.hexdigest()]
                memo[r["signal_file"]] = entry
                changed = True
            group = first_of.setdefault(entry[1], r["record"])
            r["group"] = r["subject"] = group
        if changed:
            tmp = memo_path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(memo))
            os.replace(tmp, memo_path)

    def identity(self) -> dict:
        recs = self.records()
        return {
            "name": self.name,
            "version": self.version,
            "year": self.year,
            "merge_equivalent": self.merge_equivalent,
            "sources": self.sources,
            "leads": self.leads,
            "drop_unlabelled": self.drop_unlabelled,
            "check_duplicates": self.check_duplicates,
            "classes": self.classes,
            "n_records": len(recs),
            # record list with lengths and label sets, and the content fingerprint of every
            # .hea and .mat (file_manifest), hashed (88k entries would bloat params.json)
            "files_sha1": hashlib.sha1(
                json.dumps(
                    [[r["record"], r["n_times"], r["sfreq"], r["labels"]] for r in recs]
                    + file_manifest(self.root, [r["record"] + ext for r in recs
                                                for ext in (".hea", ".mat")])
                ).encode()
            ).hexdigest(),
        }

    # ------------------------------------------------------------------ signals
    def load(self, ref: dict) -> Recording:
        """One record: the chosen leads in mV (names I, II, III, aVR, aVL, aVF, V1..V6)."""
        from biosig.io import read_wfdb

        rec = read_wfdb(self.root / ref["record"], annotation_ext=None)
        rec = rec.renamed([canonical_lead(n) for n in rec.ch_names]).pick(self.leads)
        rec.meta.update(
            {"dataset": self.name, "record": ref["record"], "labels": list(ref["labels"])}
        )
        return rec

    def default_windows(self):
        from biosig.signal.windows import FixedWindows

        return FixedWindows(length=self.window, stride=self.window)

    def __repr__(self) -> str:
        return f"CinC(path={os.fspath(self.root)!r}, year={self.year}, leads={len(self.leads)})"
