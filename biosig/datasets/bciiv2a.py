"""BCI Competition IV dataset 2a: 9 subjects, 4-class motor imagery, 22 EEG + 3 EOG, 250 Hz.

Tangermann, M., Müller, K.-R., Aertsen, A., et al. "Review of the BCI Competition IV",
Frontiers in Neuroscience 6:55 (2012); data description: Brunner, C., Leeb, R., Müller-Putz,
G., Schlögl, A., Pfurtscheller, G. "BCI Competition 2008 - Graz data set A" (2008).

Both published forms are read, with the same windows and labels:

- the original GDF files ``A0xT.gdf`` / ``A0xE.gdf`` (event codes: 768 trial start, 769-772 cue
  left hand / right hand / feet / tongue, 783 cue unknown (evaluation sessions), 1023 rejected
  trial, 276/277 idling eyes open/closed, 1072 eye movements, 32766 new run) with the separate
  true-label files ``A0xT.mat`` / ``A0xE.mat`` (variable ``classlabel``, 1..4);
- the BNCI Horizon 2020 ``.mat`` files ``A0xT.mat`` / ``A0xE.mat`` (MOABB's ``BNCI2014_001``):
  a ``data`` cell array of runs, each a struct with ``X`` (samples x 25, µV), ``trial``
  (1-based trial-start samples), ``y`` (labels 1..4), ``fs``, ``classes``, ``artifacts``
  (1 = rejected trial).

Each trial becomes one annotation at its start (``768``) named after its class; the default
window is [2, 6] s after trial start (the cue comes at 2 s): 1000 samples, or 1001 with
``include_end=True`` (MOABB/DBConformer epochs).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biosig._checks import names
from biosig.datasets._common import dataset_root, expand_path, file_fingerprint, file_manifest
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, DownloadError, InvalidFileError
from biosig.signal.preprocessing import Bandpass
from biosig.signal.recording import Annotations, Recording
from biosig.signal.windows import EventWindows

__all__ = ["BCIIV2a", "TrialWindows", "BCIIV2A_EEG", "BCIIV2A_EOG", "BCIIV2A_CLASSES"]

#: The 22 EEG channels in the files' order (the GDF files label them EEG-Fz, EEG-0, ... EEG-16).
BCIIV2A_EEG = [
    "Fz", "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP3", "CP1", "CPz", "CP2", "CP4", "P1", "Pz", "P2", "POz",
]  # fmt: skip
#: The 3 EOG channels (GDF labels EOG-left, EOG-central, EOG-right).
BCIIV2A_EOG = ["EOG-left", "EOG-central", "EOG-right"]
#: Class names in label order (``classlabel`` 1..4, cue codes 769..772).
BCIIV2A_CLASSES = ["left_hand", "right_hand", "feet", "tongue"]

EV_TRIAL, EV_CUES, EV_UNKNOWN, EV_REJECT, EV_RUN = 768, (769, 770, 771, 772), 783, 1023, 32766
SFREQ = 250.0
#: Band-pass presets (Hz): none (hvEEGNet: unfiltered), MOABB's MI default 8-32, a broad 4-40.
BANDPASS_PRESETS = {"none": None, "moabb": (8.0, 32.0), "mi": (4.0, 40.0)}

_BNCI_URL = "http://bnci-horizon-2020.eu/database/data-sets/001-2014/{name}"


def __getattr__(name):  # deprecated alias: the true-label parser moved to biosig.io.bnci
    import biosig.io.bnci as bnci
    from biosig._deprecation import moved

    return moved(__name__, name, bnci, ("read_true_labels",))


class BCIIV2a(DatasetSource):
    """BCI Competition IV 2a motor imagery (EEG in µV, 250 Hz), from GDF or BNCI .mat files.

    Parameters
    ----------
    path : folder with ``A0xT.gdf``/``A0xE.gdf`` (GDF form) or the BNCI ``A0xT.mat``/``A0xE.mat``;
        default ``BIOSIG_DATA/bciiv2a``.
    subjects : subject numbers (1..9).
    sessions : ``"T"`` (training) and/or ``"E"`` (evaluation).
    form : ``"gdf"``, ``"bnci"`` or ``"auto"`` (GDF if ``A0xT.gdf`` exists, else BNCI).
    labels_path : folder of the official true-label files for the GDF form (default
        ``<path>/true_labels``). Needed for E sessions (cues are all 783); for T sessions they
        are checked against the cue events when present. Given, it must hold the file of every
        session asked for, and it is refused with the BNCI form (whose files hold the labels).
    classes : classes to keep, in label order (``("left_hand", "right_hand")`` for the 2-class
        variant); trials of other classes get no annotation.
    tmin, tmax : window in s after the trial start (default [2, 6] s = cue onset to cue + 4 s).
    include_end : one more sample (4 s -> 1001 samples, as MOABB/DBConformer epochs).
    include_eog : keep the 3 EOG channels (dropped by default).
    rejected : ``"keep"`` or ``"drop"`` the trials marked 1023 / ``artifacts == 1``.
    bandpass : ``None``, a preset name of :data:`BANDPASS_PRESETS` or ``(low, high)`` Hz;
        zero-phase Butterworth (order 4), listed by :meth:`default_preprocessing` (the window
        cache runs it; :meth:`load` returns the unfiltered recording).
    download : fetch the BNCI files into ``path`` when absent.
    mirror : base URL holding ``A01T.mat`` ... instead of BNCI Horizon's
        ``http://bnci-horizon-2020.eu/database/data-sets/001-2014/``.

    Notes
    -----
    Record = one session file; ``records()`` gives ``record`` (``"A01T"``), ``subject``,
    ``session``. Each window carries ``trial`` (0-based index in the session), ``run``
    (0-based among the runs holding trials) and ``rejected``. The competition protocol is
    session T -> train, session E -> test, per subject.
    """

    name = "bciiv2a"
    version = "1.0"
    multilabel = False

    def __init__(
        self,
        path: str | None = None,
        subjects: list[int] | None = None,
        sessions: list[str] = ("T", "E"),
        form: str = "auto",
        labels_path: str | None = None,
        classes: list[str] = tuple(BCIIV2A_CLASSES),
        tmin: float = 2.0,
        tmax: float = 6.0,
        include_end: bool = False,
        include_eog: bool = False,
        rejected: str = "keep",
        bandpass: str | tuple[float, float] | None = None,
        download: bool = False,
        mirror: str | None = None,
    ):
        self.root = dataset_root(path, "bciiv2a")
        self.subjects = list(range(1, 10)) if subjects is None else [int(s) for s in subjects]
        bad = [s for s in self.subjects if not 1 <= s <= 9]
        if bad:
            raise ConfigError(f"subjects must be in 1..9, got {bad}")
        given = [str(s).upper() for s in sessions]
        if not given or set(given) - {"T", "E"}:
            raise ConfigError(f"sessions must be 'T' and/or 'E', got {list(sessions)}")
        # recording order (T before E), whatever the order given: trial indices are chronological
        self.sessions = [s for s in ("T", "E") if s in given]
        self.classes = names(classes)
        unknown = [c for c in self.classes if c not in BCIIV2A_CLASSES]
        if unknown or len(set(self.classes)) != len(self.classes) or not self.classes:
            raise ConfigError(
                f"classes must be distinct names from {BCIIV2A_CLASSES}, got {self.classes}"
            )
        if rejected not in ("keep", "drop"):
            raise ConfigError(f"rejected must be 'keep' or 'drop', got {rejected!r}")
        if tmax <= tmin:
            raise ConfigError(f"tmax ({tmax}) must exceed tmin ({tmin})")
        if isinstance(bandpass, str):
            if bandpass not in BANDPASS_PRESETS:
                raise ConfigError(
                    f"bandpass preset must be one of {sorted(BANDPASS_PRESETS)}, got {bandpass!r}"
                )
            bandpass = BANDPASS_PRESETS[bandpass]
        is_pair = isinstance(bandpass, (list, tuple)) and len(bandpass) == 2
        if bandpass is not None and not is_pair:
            raise ConfigError(
                f"bandpass must be None, a preset name or (low, high) Hz, got {bandpass!r}"
            )
        self.bandpass = None if bandpass is None else (float(bandpass[0]), float(bandpass[1]))
        self.tmin, self.tmax, self.include_end = float(tmin), float(tmax), bool(include_end)
        self.include_eog = bool(include_eog)
        self.rejected = rejected
        self.labels_root = (
            expand_path(labels_path) if labels_path is not None else self.root / "true_labels"
        )
        if form not in ("auto", "gdf", "bnci"):
            raise ConfigError(f"form must be 'auto', 'gdf' or 'bnci', got {form!r}")
        if form == "bnci" or (download and form == "auto"):  # before downloading anything
            self._refuse_labels_path(labels_path, "form='bnci'" if form == "bnci" else
                                     "download=True (which fetches the BNCI .mat files)")
        if download:
            if form == "gdf":
                raise ConfigError(
                    "download=True fetches the BNCI .mat form; the GDF files come from "
                    "https://www.bbci.de/competition/iv/ (pass form='bnci' or 'auto')"
                )
            self.download(mirror)
            form = "bnci" if form == "auto" else form
        if form == "auto":
            first = f"A{self.subjects[0]:02d}{self.sessions[0]}"
            if (self.root / f"{first}.gdf").is_file():
                form = "gdf"
            elif (self.root / f"{first}.mat").is_file():
                form = "bnci"
                self._refuse_labels_path(labels_path, f"form='auto' here: there is no "
                                         f"{first}.gdf in {self.root}, so {first}.mat is read "
                                         "as a BNCI file")
            else:
                raise InvalidFileError(
                    self.root,
                    f"neither {first}.gdf nor {first}.mat found. Get the GDF files from "
                    "https://www.bbci.de/competition/iv/ (true labels from its results page) "
                    "or the "
                    "BNCI .mat files from http://bnci-horizon-2020.eu/database/data-sets "
                    "(001-2014), or pass download=True.",
                )
        self.form = form
        if labels_path is not None:
            self._check_label_files()

    def _refuse_labels_path(self, labels_path, why: str) -> None:
        """ConfigError for a ``labels_path`` given with the BNCI form, which never reads it."""
        if labels_path is not None:
            raise ConfigError(
                f"labels_path={labels_path} is not used with {why}: the BNCI .mat files hold "
                "their own labels (y). Leave labels_path out, or for the GDF files with their "
                "true-label files pass path= the folder of A0xT.gdf (form='gdf')"
            )

    def _check_label_files(self) -> None:
        """InvalidFileError unless the given ``labels_path`` holds every asked-for session's
        true-label file (a session T without one would take its labels from the cues unsaid)."""
        if not self.labels_root.is_dir():
            raise InvalidFileError(
                self.labels_root,
                "labels_path: no such folder. Pass the folder holding the true-label files "
                "A0xT.mat/A0xE.mat (true_labels.zip of https://www.bbci.de/competition/iv/results/)",
            )
        missing = [f.name for s in self.subjects for sess in self.sessions
                   if not (f := self._label_file(s, sess)).is_file()]
        if missing:
            raise InvalidFileError(
                self.labels_root,
                f"labels_path holds no {', '.join(missing[:6])}"
                + (f" (+{len(missing) - 6} more)" if len(missing) > 6 else "")
                + f" (subjects {self.subjects}, sessions {self.sessions} asked for): add them "
                "(true_labels.zip of https://www.bbci.de/competition/iv/results/), or leave "
                "labels_path out (session T's labels then come from its cue events)",
            )

    # ------------------------------------------------------------------ index
    def _file(self, subject: int, session: str) -> Path:
        return self.root / f"A{subject:02d}{session}.{'gdf' if self.form == 'gdf' else 'mat'}"

    def _label_file(self, subject: int, session: str) -> Path:
        return self.labels_root / f"A{subject:02d}{session}.mat"

    def records(self) -> list[dict]:
        out = []
        for s in self.subjects:
            for sess in self.sessions:
                f = self._file(s, sess)
                if not f.is_file():
                    present = self.root.glob(f"A0[1-9]{sess}{f.suffix}")
                    have = sorted(int(g.name[2]) for g in present)
                    raise InvalidFileError(
                        f,
                        f"BCI IV 2a {self.form.upper()} file missing (subjects {self.subjects}, "
                        f"sessions {self.sessions} asked for). Put it there, or pass subjects= "
                        f"the ones present (session {sess}: {have or 'none'})",
                    )
                out.append(
                    {"record": f"A{s:02d}{sess}", "subject": s, "session": sess, "path": f.name}
                )
        return out

    def identity(self) -> dict:
        files = [self._file(s, sess).name for s in self.subjects for sess in self.sessions]
        ident = {
            "name": self.name,
            "version": self.version,
            "form": self.form,
            "subjects": self.subjects,
            "sessions": self.sessions,
            "classes": self.classes,
            "include_eog": self.include_eog,
            "rejected": self.rejected,
            "bandpass": self.bandpass,
            "files": file_manifest(self.root, files),
        }
        if self.form == "gdf":
            labels = [self._label_file(s, sess) for s in self.subjects for sess in self.sessions]
            ident["label_files"] = [[p.name, *file_fingerprint(p)] for p in labels]
        return ident

    # ------------------------------------------------------------------ reading
    def trials(self, ref: dict) -> tuple[Recording, list[dict]]:
        """Read one session: the continuous recording (all 25 channels, µV) and its trial table
        (``trial``, ``run``, ``onset`` s of the trial start, ``label`` 0..3, ``rejected``)."""
        subject, session = int(ref["subject"]), str(ref["session"])
        if self.form == "gdf":
            return self._read_gdf(subject, session)
        return self._read_bnci(subject, session)

    def _read_gdf(self, subject: int, session: str):
        from biosig.io.bnci import read_true_labels
        from biosig.io.gdf import read_gdf

        path = self._file(subject, session)
        rec = read_gdf(path)
        if rec.n_chans != 25:
            raise InvalidFileError(
                path, f"expected 25 channels (22 EEG + 3 EOG), found {rec.n_chans}: {rec.ch_names}"
            )
        if abs(rec.sfreq - SFREQ) > 1e-6:
            raise InvalidFileError(path, f"expected {SFREQ:g} Hz, found {rec.sfreq:g} Hz")
        rec = rec.renamed(BCIIV2A_EEG + BCIIV2A_EOG, ["eeg"] * 22 + ["eog"] * 3)
        ann = rec.annotations
        codes = np.array([int(d) if str(d).lstrip("-").isdigit() else -1 for d in ann.description])
        onsets = np.asarray(ann.onset, float)
        starts = np.sort(onsets[codes == EV_TRIAL])
        run_starts = np.sort(onsets[codes == EV_RUN])
        bounds = np.append(starts[1:], np.inf)
        label_file = self._label_file(subject, session)
        if len(starts) == 0:
            raise InvalidFileError(
                path,
                "no trial-start events (768) in the GDF event table: no trials to load"
                + ("" if label_file.is_file() else f" (and no true-label file {label_file.name})"),
            )
        cue_mask = np.isin(codes, EV_CUES + (EV_UNKNOWN,))
        n_cue_events = int(cue_mask.sum())
        cues, rejected = [], []
        for t0, t1 in zip(starts, bounds):
            inside = (onsets >= t0 - 1e-9) & (onsets < t1 - 1e-9)
            c = codes[inside & cue_mask]
            if len(c) != 1:
                raise InvalidFileError(
                    path, f"trial starting at {t0:.3f} s has {len(c)} cue events (expected 1)"
                )
            cues.append(int(c[0]))
            rejected.append(bool(np.any(codes[inside] == EV_REJECT)))
        if n_cue_events != len(starts):
            raise InvalidFileError(
                path, f"{n_cue_events} cue events for {len(starts)} trial starts (768)"
            )
        cues = np.array(cues)
        if label_file.is_file():
            true = read_true_labels(label_file)
            if len(true) != len(cues):
                raise InvalidFileError(
                    label_file,
                    f"holds {len(true)} labels but {path} has {len(cues)} cue events; "
                    "the label file does not belong to this GDF file",
                )
            known = cues != EV_UNKNOWN
            from_cues = cues[known] - EV_CUES[0] + 1
            if np.any(from_cues != true[known]):
                first = int(np.flatnonzero(from_cues != true[known])[0])
                raise InvalidFileError(
                    label_file,
                    f"labels disagree with the cue events of {path} "
                    f"(first at trial {int(np.flatnonzero(known)[first])})",
                )
            labels = true - 1
        elif np.any(cues == EV_UNKNOWN):
            raise InvalidFileError(
                label_file,
                f"true-label file needed: {path} has unknown cues (783) only. Unzip "
                "true_labels.zip (A0xT.mat/A0xE.mat) of "
                f"https://www.bbci.de/competition/iv/results/ into {self.labels_root}, or pass "
                "labels_path= the folder holding them",
            )
        else:
            labels = cues - EV_CUES[0]
        runs = np.searchsorted(run_starts, starts + 1e-9, side="right")
        table = self._table(starts, labels, rejected, runs)
        rec.meta.update({"dataset": self.name, "subject": subject, "session": session})
        return rec, table

    def _read_bnci(self, subject: int, session: str):
        from biosig.io.bnci import read_bnci

        rec, table = read_bnci(
            self._file(subject, session),
            BCIIV2A_EEG + BCIIV2A_EOG,
            ["eeg"] * 22 + ["eog"] * 3,
            SFREQ,
            n_classes=len(BCIIV2A_CLASSES),
        )
        rec.meta.update({"dataset": self.name, "subject": subject, "session": session})
        return rec, table

    @staticmethod
    def _table(starts, labels, rejected, runs) -> list[dict]:
        runs = np.asarray(runs)
        if len(runs):  # 0-based among the runs holding trials
            _, runs = np.unique(runs, return_inverse=True)
        return [
            {"trial": i, "run": int(r), "onset": float(t), "label": int(lab), "rejected": bool(rej)}
            for i, (t, lab, rej, r) in enumerate(zip(starts, labels, rejected, runs))
        ]

    def load(self, ref: dict) -> Recording:
        """One session as an unfiltered Recording (EEG in µV; EOG kept only if ``include_eog``),
        with one annotation per kept trial at its start, named after its class."""
        rec, table = self.trials(ref)
        keep = [
            t
            for t in table
            if BCIIV2A_CLASSES[t["label"]] in self.classes
            and not (self.rejected == "drop" and t["rejected"])
        ]
        rec.annotations = Annotations.from_lists(
            [t["onset"] for t in keep],
            [4.0] * len(keep),
            [BCIIV2A_CLASSES[t["label"]] for t in keep],
        )
        rec.meta["trials"] = keep
        if not self.include_eog:
            rec = rec.pick(BCIIV2A_EEG)
        return rec

    def default_preprocessing(self) -> list:
        """The ``bandpass`` option as a step: zero-phase Butterworth of order 4 (none if unset)."""
        if self.bandpass is None:
            return []
        return [Bandpass(self.bandpass[0], self.bandpass[1], order=4)]

    def default_windows(self):
        return TrialWindows(
            tmin=self.tmin,
            tmax=self.tmax,
            mapping={c: i for i, c in enumerate(self.classes)},
            include_end=self.include_end,
        )

    # ------------------------------------------------------------------ download
    def download(self, base_url: str | None = None, progress: bool = True) -> None:
        """Fetch the BNCI .mat files of the chosen subjects/sessions into ``path``.

        BNCI Horizon publishes no checksums; the SHA-256 of each file is logged and checked on
        later runs against ``<path>/SHA256SUMS`` written at the first download.
        """
        from biosig.datasets.download import download_file, sha256_file

        self.root.mkdir(parents=True, exist_ok=True)
        sums_path = self.root / "SHA256SUMS"
        known = {}
        if sums_path.is_file():
            for n, line in enumerate(sums_path.read_text().splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                # "<sha256>  name", or "<sha256> *name" as `sha256sum -b` writes it
                if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
                    raise DownloadError(f"{sums_path}, line {n}: not '<sha256>  <file name>'; "
                                        "correct it, or delete the file to record new checksums")
                known[parts[1].lstrip("*")] = parts[0].lower()
        for s in self.subjects:
            for sess in self.sessions:
                name = f"A{s:02d}{sess}.mat"
                url = (
                    (base_url.rstrip("/") + "/" + name) if base_url else _BNCI_URL.format(name=name)
                )
                if name not in known:
                    from biosig.datasets._common import warn_unverified

                    warn_unverified(url)
                out = download_file(url, self.root / name, known.get(name), progress=progress)
                known[name] = sha256_file(out)
                logging.getLogger(__name__).info("%s: SHA-256 %s", out.name, known[name])
        sums_path.write_text("".join(f"{h}  {n}\n" for n, h in sorted(known.items())))

    def __repr__(self) -> str:
        return (
            f"BCIIV2a(path={os.fspath(self.root)!r}, form={self.form!r}, "
            f"subjects={self.subjects}, sessions={self.sessions})"
        )


@dataclass
class TrialWindows(EventWindows):
    """:class:`~biosig.signal.windows.EventWindows` over BCI IV 2a trials that also records each
    window's ``trial``, ``run`` and ``rejected`` from the recording's trial table
    (``meta["trials"]``: one entry per annotation, in the same order, as :meth:`BCIIV2a.load`
    writes it)."""

    def params(self) -> dict:
        return {**super().params(), "windower": "TrialWindows"}

    def event_fields(self, rec: Recording, k: int) -> dict:
        trials = rec.meta.get("trials")
        if trials is None or len(trials) != len(rec.annotations):
            have = "no trial table" if trials is None else f"{len(trials)} trials"
            raise ConfigError(
                f"TrialWindows: recording {rec.meta.get('subject')}/{rec.meta.get('session')} "
                f"has {have} for {len(rec.annotations)} annotations; meta['trials'] must hold "
                "one entry per annotation (as BCIIV2a.load writes it)"
            )
        t = trials[k]
        return {"trial": t["trial"], "run": t["run"], "rejected": t["rejected"]}
