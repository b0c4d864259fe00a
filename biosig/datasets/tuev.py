"""TUH EEG Events corpus (TUEV v2.0.x): 6-class event classification from clinical EEG.

Harati, A., Golmohammadi, M., Lopez, S., Obeid, I., Picone, J. "Improved EEG event
classification using differential energy", IEEE SPMB 2015; Obeid, I., Picone, J. "The Temple
University Hospital EEG Data Corpus", Front. Neurosci. 10:196 (2016). **Licensed**: the TUH
corpora need a signed data-use agreement (https://isip.piconepress.com/projects/nedc/html/tuh_eeg/);
biosig never downloads or bundles them. Point ``path`` at your own copy.

Layout: ``edf/train/<subject>/<subject>_<n>.edf`` and ``edf/eval/<NNN>/<class>_<NNN>_a_.edf``
(eval names begin with the class of their events; the subject is ``NNN``); beside each EDF a
``.rec`` file with one ``channel,start,stop,label`` row per event (channel = index in the TCP
montage, times in s, label 1..6 = SPSW, GPED, PLED, EYEM, ARTF, BCKG).

Preprocessing (the EEG-foundation-model literature's TUEV recipe: BIOT, LaBraM, EEGDM), listed
by :meth:`TUEV.default_preprocessing` as steps of :mod:`biosig.signal.preprocessing` and run by
the window cache: band-pass 0.1-75 Hz and notch (MNE FIR filters, as ``raw.filter`` /
``raw.notch_filter``), resample to 200 Hz (MNE FFT resampling with ``npad=100``:
``raw.resample``'s default ``npad="auto"`` shifts a 250 -> 200 Hz signal by about half a sample
in MNE 1.13 (a 12 Hz sine comes back 20 % off), so it is not used), TCP bipolar montage, edge
tiling; then one 5-s window per ``.rec`` row from 2 s before the event start to 2 s after its
end (1000 samples at 200 Hz). :meth:`TUEV.load` yields the raw referential recording (the
``EEG XX-REF`` channels named by electrode) with one annotation per ``.rec`` row.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biosig._checks import names
from biosig.datasets._common import dataset_root, file_manifest, require_dir, split_subjects
from biosig.datasets._tuh import pick_tuh_electrodes, tuh_steps
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.montages import MONTAGES
from biosig.signal.preprocessing import ExtendEdges
from biosig.signal.recording import Annotations, Recording
from biosig.signal.windows import EventWindows

__all__ = ["TUEV", "TUEV_CLASSES", "TUEVWindows"]

#: Class names in label order (.rec label 1..6 -> 0..5).
TUEV_CLASSES = ["spsw", "gped", "pled", "eyem", "artf", "bckg"]
#: an eval-part file: <class>_<subject index>_<segment>.edf (bckg_032_a_.edf, spsw_032_a_1.edf)
_EVAL_NAME = re.compile(rf"^(?:{'|'.join(TUEV_CLASSES)})_(\d+)_", re.IGNORECASE)
_EDGES = ("tile", "pad", "drop")


def __getattr__(name):  # deprecated alias: the .rec parser moved to biosig.io.rec
    import biosig.io.rec as rec
    from biosig._deprecation import moved

    return moved(__name__, name, rec, ("read_rec",))


class TUEV(DatasetSource):
    """TUEV event windows: TCP bipolar EEG (µV) at 200 Hz, 6 classes, one window per event.

    :meth:`load` gives the raw referential EEG; :meth:`default_preprocessing` lists the steps
    (filters, resampling, montage, edges) that the window cache applies.

    Parameters
    ----------
    path : the corpus folder holding ``edf/train`` and ``edf/eval`` (or a folder with
        ``train``/``eval`` directly); default ``BIOSIG_DATA/tuev/v2.0.1``.
    splits : official parts to index: ``"train"`` and/or ``"eval"``.
    montage : ``"tcp22"`` (EEGDM/LaBraM order and polarity), ``"tcp22_tuh"`` (TUH's
        ``01_tcp_ar`` polarity) or ``"tcp16"`` (BIOT/PyHealth double banana).
    bandpass : ``(low, high)`` Hz, MNE FIR; ``None`` to skip. Default 0.1-75.
    notch : notch frequency in Hz (MNE FIR) or ``None``. Default 50 Hz as in the BIOT/LaBraM/EEGDM
        code, although TUH was recorded on 60 Hz mains; pass 60.0 for a physically matched notch.
    sfreq : target sampling rate (Hz). Default 200.
    edge : how windows that run past the recording are handled: ``"tile"`` (default, as
        BIOT/LaBraM/EEGDM: the signal is repeated three times end to end, so a window 2 s
        before the start wraps around to the end of the recording), ``"pad"`` (zeros), or
        ``"drop"`` (the window is skipped and counted).
    val_fraction, seed : the validation split of the official train part, by subject
        (subject = file-name prefix before ``_``; in eval, the ``NNN`` of
        ``bckg_NNN_a_.edf``): ``int(n_subjects * 0.2)`` subjects drawn
        with ``numpy.random.RandomState(4523)`` from the sorted subject list (EEGDM's fraction
        and seed; its draw from an unordered set is not reproducible, so the exact subjects
        differ).

    Notes
    -----
    Records carry ``split`` (``"train"``, ``"val"`` or ``"test"`` = official eval) and
    ``official_split``. Windows carry the ``.rec`` ``channel`` of their event. Events are
    1 s long; for another length the 5-s window is centred on the event.
    """

    name = "tuev"
    version = "2.0.1"
    multilabel = False
    classes = list(TUEV_CLASSES)

    def __init__(
        self,
        path: str | None = None,
        splits: list[str] = ("train", "eval"),
        montage: str = "tcp22",
        bandpass: tuple[float, float] | None = (0.1, 75.0),
        notch: float | None = 50.0,
        sfreq: float = 200.0,
        edge: str = "tile",
        val_fraction: float = 0.2,
        seed: int = 4523,
    ):
        root = dataset_root(path, "tuev", "v2.0.1")
        how = (
            "TUEV is licensed (TUH data-use agreement): request it at "
            "https://isip.piconepress.com/projects/nedc/html/tuh_eeg/ and pass its folder as path=."
        )
        require_dir(root, "TUEV", how)
        self.root = root / "edf" if (root / "edf").is_dir() else root
        self.splits = names(splits)
        if not self.splits or set(self.splits) - {"train", "eval"}:
            raise ConfigError(f"splits must be 'train' and/or 'eval', got {list(splits)}")
        for s in self.splits:
            if not (self.root / s).is_dir():
                raise InvalidFileError(self.root / s, _layout_hint(root, s))
        if montage not in MONTAGES:
            raise ConfigError(f"montage must be one of {sorted(MONTAGES)}, got {montage!r}")
        if edge not in _EDGES:
            raise ConfigError(f"edge must be one of {_EDGES}, got {edge!r}")
        self.montage = montage
        self.bandpass = None if bandpass is None else (float(bandpass[0]), float(bandpass[1]))
        self.notch = None if notch is None else float(notch)
        self.sfreq = float(sfreq)
        self.edge = edge
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self._records: list[dict] | None = None

    # ------------------------------------------------------------------ index
    @staticmethod
    def _subject(edf: Path) -> str:
        """``00002275`` of train's ``00002275_00000001.edf``; ``032`` of eval's
        ``bckg_032_a_.edf`` (whose prefix is the file's event class, not a subject)."""
        eval_name = _EVAL_NAME.match(edf.stem)
        if eval_name:
            return eval_name.group(1)
        return edf.stem.split("_")[0] if "_" in edf.stem else edf.parent.name

    def records(self) -> list[dict]:
        if self._records is not None:
            return self._records
        out = []
        for part in self.splits:
            edfs = sorted((self.root / part).rglob("*.edf"))
            if not edfs:
                raise InvalidFileError(self.root / part, "no .edf files found")
            for edf in edfs:
                rec_file = edf.with_suffix(".rec")
                if not rec_file.is_file():
                    raise InvalidFileError(rec_file, f"annotation file for {edf.name} missing")
                rel = edf.relative_to(self.root).with_suffix("")
                out.append(
                    {
                        "record": rel.as_posix(),
                        "subject": self._subject(edf),
                        "session": "1",
                        "official_split": part,
                        "split": "test" if part == "eval" else "train",
                        "path": rel.as_posix() + ".edf",
                    }
                )
        train_subjects = [r["subject"] for r in out if r["official_split"] == "train"]
        val = split_subjects(train_subjects, self.val_fraction, self.seed)
        for r in out:
            if r["official_split"] == "train" and r["subject"] in val:
                r["split"] = "val"
        self._records = out
        return out

    def identity(self) -> dict:
        recs = self.records()
        files = [r["path"] for r in recs] + [r["path"][:-4] + ".rec" for r in recs]
        return {
            "name": self.name,
            "version": self.version,
            "splits": self.splits,
            "montage": self.montage,
            "bandpass": self.bandpass,
            "notch": self.notch,
            "sfreq": self.sfreq,
            "edge": self.edge,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "eval_subject": "index",  # bckg_032_a_.edf -> 032 (caches before: "bckg")
            "files": file_manifest(self.root, files),
        }

    # ------------------------------------------------------------------ signals
    def load(self, ref: dict) -> Recording:
        """One EDF, unfiltered: the referential electrodes the montage needs (µV, named ``FP1``...
        after their ``EEG FP1-REF`` labels) with one annotation per ``.rec`` row (onset = window
        anchor = event centre - 0.5 s, description = class name; ``meta["event_channels"]``)."""
        from biosig.io import read_edf, read_rec
        from biosig.io.rec import rec_line

        edf = self.root / ref["path"]
        rows = read_rec(edf.with_suffix(".rec"), n_channels=22)
        raw = read_edf(edf)
        duration = raw.n_times / raw.sfreq
        late = np.flatnonzero(rows[:, 2] > duration + 1e-6)
        if len(late):
            i, path = int(late[0]), edf.with_suffix(".rec")
            line = rec_line(path.read_bytes().decode("utf-8", "replace"), i)  # as read_rec counts
            raise InvalidFileError(
                path,
                f"row {line}: event {rows[i, 1]:g}-{rows[i, 2]:g} s ends after the recording "
                f"({duration:g} s of {edf.name})",
            )
        rec = pick_tuh_electrodes(raw, self.montage, edf)
        # window [start - 2, stop + 2] for 1-s events; centred on the event otherwise
        rec.annotations = Annotations.from_lists(
            (rows[:, 1] + rows[:, 2]) / 2 - 0.5,
            rows[:, 2] - rows[:, 1],
            [TUEV_CLASSES[int(lab) - 1] for lab in rows[:, 3]],
        )
        rec.meta.update({"dataset": self.name, "event_channels": rows[:, 0].astype(int).tolist()})
        return rec

    def default_preprocessing(self) -> list:
        """The configured filters (MNE FIR band-pass, notch), FFT resampling to ``sfreq``, the
        bipolar ``montage`` and the ``edge`` handling, in that order."""
        steps = tuh_steps(self.bandpass, self.notch, self.sfreq, self.montage)
        if self.edge != "drop":
            steps.append(ExtendEdges(self.edge, pad=2.5))
        return steps

    def default_windows(self):
        return TUEVWindows(tmin=-2.0, tmax=3.0, mapping={c: i for i, c in enumerate(self.classes)})

    def __repr__(self) -> str:
        return f"TUEV(path={os.fspath(self.root)!r}, montage={self.montage!r}, edge={self.edge!r})"


def _layout_hint(root: Path, split: str) -> str:
    """Why ``root`` (an existing folder) is not the TUEV corpus folder, and which one is."""
    msg = (f"TUEV {split!r} folder not found: path must be the corpus folder holding "
           f"edf/train and edf/eval (or train and eval), e.g. .../tuh_eeg_events/v2.0.1")
    nested = sorted(p.parent.parent for p in root.glob(f"*/edf/{split}"))
    if nested:
        return f"{msg}; {nested[0]} holds edf/{split}: pass that folder"
    if root.name in ("train", "eval"):
        corpus = root.parent.parent if root.parent.name == "edf" else root.parent
        return f"{msg}; {root} looks like a split folder itself: pass {corpus}"
    return msg


@dataclass
class TUEVWindows(EventWindows):
    """One window per ``.rec`` row (``[onset - 2, onset + 3)`` s = 5 s); rows carry the event's
    montage ``channel``. Several rows can share a window (same event on several channels)."""

    def params(self) -> dict:
        return {**super().params(), "windower": "TUEVWindows"}

    def event_fields(self, rec: Recording, k: int) -> dict:
        chans = rec.meta.get("event_channels")
        return {"channel": int(chans[k]) if chans else -1}
