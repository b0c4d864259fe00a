"""PhysioNet EEG Motor Movement/Imagery Dataset (eegmmidb 1.0.0): 109 subjects, 64 channels,
160 Hz, EDF+ with T0/T1/T2 annotations whose meaning depends on the run.

Schalk, G., McFarland, D. J., Hinterberger, T., Birbaumer, N., Wolpaw, J. R. "BCI2000: A
General-Purpose Brain-Computer Interface (BCI) System", IEEE TBME 51(6):1034-1043 (2004);
Goldberger, A. L., et al. PhysioBank, PhysioToolkit, and PhysioNet, Circulation 101(23) (2000).

Runs (14 per subject): 1 baseline eyes open, 2 baseline eyes closed; then three times
3/7/11 executed left/right fist, 4/8/12 imagined left/right fist, 5/9/13 executed both
fists/both feet, 6/10/14 imagined both fists/both feet. T0 is rest in every run; T1 is the left
fist (runs 3, 4, 7, 8, 11, 12) or both fists (5, 6, 9, 10, 13, 14); T2 is the right fist or
both feet.
"""

from __future__ import annotations

import os
from pathlib import Path

from biosig.datasets._common import dataset_root, file_manifest, require_dir
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.recording import Annotations, Recording

__all__ = ["EEGMMIDB", "RUN_EVENTS", "eegmmidb_channel_name"]

_LR = {"T0": "rest", "T1": "left_fist", "T2": "right_fist"}
_FF = {"T0": "rest", "T1": "both_fists", "T2": "both_feet"}
#: Run number -> (executed/imagined, {annotation: class name}).
RUN_EVENTS: dict[int, tuple[str, dict[str, str]]] = {
    **{r: ("executed", _LR) for r in (3, 7, 11)},
    **{r: ("imagined", _LR) for r in (4, 8, 12)},
    **{r: ("executed", _FF) for r in (5, 9, 13)},
    **{r: ("imagined", _FF) for r in (6, 10, 14)},
}
_CLASS_ORDER = ["left_fist", "right_fist", "both_fists", "both_feet", "rest"]
SFREQ = 160.0


def eegmmidb_channel_name(name: str) -> str:
    """BCI2000 labels to 10-05 names: ``"Fc5."`` -> ``"FC5"``, ``"Fpz."`` -> ``"Fpz"``,
    ``"Iz.."`` -> ``"Iz"``."""
    n = name.strip().strip(".").upper()
    if n.startswith("FP"):
        n = "Fp" + n[2:]
    if n.endswith("Z"):
        n = n[:-1] + "z"
    return n


def _mne_eegbci_copy() -> Path:
    """Where ``mne.datasets.eegbci.load_data`` keeps eegmmidb (MNE's own folder layout)."""
    root = os.environ.get("MNE_DATASETS_EEGBCI_PATH") or os.environ.get("MNE_DATA")
    root = Path(root or "~/mne_data").expanduser()
    return root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"


class EEGMMIDB(DatasetSource):
    """EEG Motor Movement/Imagery (EEG in µV, 160 Hz): one record per subject and run.

    Parameters
    ----------
    path : folder with ``S001/S001R04.edf`` ... (PhysioNet layout) or the EDF files directly;
        default ``BIOSIG_DATA/eegmmidb/1.0.0``, else (where that is absent) the copy
        ``mne.datasets.eegbci`` downloads, ``<MNE_DATASETS_EEGBCI_PATH, MNE_DATA or ~/mne_data>/
        MNE-eegbci-data/files/eegmmidb/1.0.0``.
    subjects : subject numbers (1..109); default all.
    runs : task runs (3..14); default the imagined left/right fist runs 4, 8, 12. Classes are
        those the chosen runs define (left_fist/right_fist for 3/4/7/8/11/12, both_fists/
        both_feet for 5/6/9/10/13/14; all four when both kinds are chosen).
    include_rest : also window T0 (rest) as class ``"rest"`` (last).
    tmin, tmax : window in s after each event onset (events last about 4.1 s).
    download : fetch missing files from PhysioNet, verified against the SHA-256 list that
        ships with MNE (``mne/data/eegbci_checksums.txt``).
    mirror : base URL of the project (PhysioNet by default).
    """

    name = "eegmmidb"
    version = "1.0.0"
    multilabel = False

    def __init__(
        self,
        path: str | None = None,
        subjects: list[int] | None = None,
        runs: list[int] = (4, 8, 12),
        include_rest: bool = False,
        tmin: float = 0.0,
        tmax: float = 4.0,
        download: bool = False,
        mirror: str = "https://physionet.org/files/eegmmidb/1.0.0/",
    ):
        self.root = dataset_root(path, "eegmmidb", self.version)
        if path is None and not self.root.is_dir() and _mne_eegbci_copy().is_dir():
            self.root = _mne_eegbci_copy()  # the files mne.datasets.eegbci fetched
        # sorted, each once: a subject given twice cached its windows twice
        self.subjects = (list(range(1, 110)) if subjects is None
                         else sorted({int(s) for s in subjects}))
        bad = [s for s in self.subjects if not 1 <= s <= 109]
        if bad or not self.subjects:
            raise ConfigError(f"subjects must be in 1..109, got {bad or list(subjects)}")
        self.runs = sorted({int(r) for r in runs})  # recording order: trials are chronological
        bad = [r for r in self.runs if r not in RUN_EVENTS]
        if bad or not self.runs:
            raise ConfigError(f"runs must be task runs 3..14, got {list(runs)}")
        names = {RUN_EVENTS[r][1][t] for r in self.runs for t in ("T1", "T2")}
        if include_rest:
            names.add("rest")
        self.classes = [c for c in _CLASS_ORDER if c in names]
        self.include_rest = include_rest
        if tmax <= tmin:
            raise ConfigError(f"tmax ({tmax}) must exceed tmin ({tmin})")
        self.tmin, self.tmax = float(tmin), float(tmax)
        if download:
            self.download(mirror)
        require_dir(
            self.root,
            "eegmmidb",
            "Download it from https://physionet.org/content/eegmmidb/1.0.0/ "
            "and pass path=, or use download=True.",
        )

    def _rel(self, subject: int, run: int) -> str | None:
        name = f"S{subject:03d}R{run:02d}.edf"
        for rel in (f"S{subject:03d}/{name}", name):
            if (self.root / rel).is_file():
                return rel
        return None

    def records(self) -> list[dict]:
        refs = [{"record": f"S{s:03d}R{r:02d}", "subject": s, "session": "1", "run": r,
                 "kind": RUN_EVENTS[r][0], "path": self._rel(s, r)}
                for s in self.subjects for r in self.runs]
        missing = [ref["record"] for ref in refs if ref["path"] is None]
        if missing:
            held = sorted({p.stem for p in (*self.root.glob("S[0-9][0-9][0-9]R[0-9][0-9].edf"),
                                           *self.root.glob("S*/S[0-9][0-9][0-9]R[0-9][0-9].edf"))})
            subjects = sorted({int(h[1:4]) for h in held})
            runs = sorted({int(h[5:7]) for h in held} & set(RUN_EVENTS))
            hint = (f"the folder holds subjects {subjects} and task runs {runs}: pass "
                    "subjects=[...] and runs=[...] to use only those" if held else
                    "the folder holds no S###R##.edf file")
            listed = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise InvalidFileError(
                self.root, f"{len(missing)} of {len(refs)} eegmmidb files missing (looked in "
                f"S###/ and flat in the folder): {listed}; {hint}")
        return refs

    def identity(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "subjects": self.subjects,
            "runs": self.runs,
            "include_rest": self.include_rest,
            "classes": self.classes,
            "files": file_manifest(self.root, [r["path"] for r in self.records()]),
        }

    def load(self, ref: dict) -> Recording:
        """One run: 64 EEG channels in µV with 10-05 names; T0/T1/T2 renamed to class names."""
        from biosig.io import read_edf

        path = self.root / ref["path"]
        rec = read_edf(path)
        if abs(rec.sfreq - SFREQ) > 1e-6:
            # a few subjects were recorded at another rate: keep, but say so in meta (add Resample)
            rec.meta["sfreq_note"] = f"recorded at {rec.sfreq:g} Hz, not {SFREQ:g} Hz"
        rec = rec.renamed([eegmmidb_channel_name(n) for n in rec.ch_names], ["eeg"] * rec.n_chans)
        mapping = RUN_EVENTS[int(ref["run"])][1]
        ann = rec.annotations
        unknown = sorted({str(d) for d in ann.description} - set(mapping))
        if unknown:
            raise InvalidFileError(  # not quoted: a free-text note may hold a name
                path, f"{len(unknown)} unexpected annotation descriptions (expected T0/T1/T2)")
        rec.annotations = Annotations.from_lists(
            ann.onset, ann.duration, [mapping[str(d)] for d in ann.description]
        )
        rec.meta.update(
            {"dataset": self.name, "subject": int(ref["subject"]), "run": int(ref["run"])}
        )
        return rec

    def default_windows(self):
        from biosig.signal.windows import EventWindows

        return EventWindows(
            tmin=self.tmin, tmax=self.tmax, mapping={c: i for i, c in enumerate(self.classes)}
        )

    def download(
        self, base_url: str = "https://physionet.org/files/eegmmidb/1.0.0/", progress: bool = True
    ) -> None:
        """Fetch the chosen subjects' runs, each verified against MNE's SHA-256 list."""
        from importlib.resources import files

        from biosig.datasets.download import RemoteFile, fetch_files

        sums = {}
        text = files("mne").joinpath("data", "eegbci_checksums.txt").read_text()
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2:
                sums[parts[0]] = parts[1]
        wanted = []
        for s in self.subjects:
            for r in self.runs:
                rel = f"S{s:03d}/S{s:03d}R{r:02d}.edf"
                if (self.root / rel).is_file() or (self.root / Path(rel).name).is_file():
                    continue
                if rel not in sums:
                    raise ConfigError(f"{rel} has no known SHA-256 in MNE's eegbci list")
                wanted.append(RemoteFile(base_url.rstrip("/") + "/" + rel, rel, sums[rel]))
        if wanted:
            fetch_files(wanted, self.root, progress=progress)

    def __repr__(self) -> str:
        return (
            f"EEGMMIDB(path={os.fspath(self.root)!r}, subjects={len(self.subjects)}, "
            f"runs={self.runs})"
        )
