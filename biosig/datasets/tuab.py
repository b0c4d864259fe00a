"""TUH Abnormal EEG Corpus (TUAB v3.0.x): abnormal vs normal clinical EEG, one label per file.

Lopez, S. "Automated Identification of Abnormal EEGs", MS thesis, Temple University (2017);
Obeid, I., Picone, J. "The Temple University Hospital EEG Data Corpus", Front. Neurosci. 10:196
(2016). **Licensed**: the TUH corpora need a signed data-use agreement
(https://isip.piconepress.com/projects/nedc/html/tuh_eeg/); biosig never downloads or bundles
them. Point ``path`` at your own copy.

Layout (v3.0.x): ``edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<subject>_<session>_<token>.edf``
(e.g. ``aaaaamye_s001_t000.edf``: subject ``aaaaamye``, session ``s001``, token ``t000``). The
v2.0.0 tree (``.../01_tcp_ar/<group>/<subject>/<session>_<date>/<file>.edf``) is read too: files
are found recursively below each ``<split>/<class>`` folder. The label is the folder.

Preprocessing (the BIOT/PyHealth TUAB recipe: 16 bipolar channels, 10-s windows at 200 Hz),
listed by :meth:`TUAB.default_preprocessing` and run by the window cache: band-pass 0.1-75 Hz
and notch (MNE FIR), resample (MNE FFT, ``npad=100``, as :class:`~biosig.datasets.TUEV`),
bipolar TCP montage; then non-overlapping windows of ``window`` s over each file, each with its
file's label. EEGFormer's recipes set 250 Hz and 12-s windows (the paper's input).
"""

from __future__ import annotations

import os
import re

from biosig._checks import names
from biosig.datasets._common import dataset_root, file_manifest, require_dir, split_subjects
from biosig.datasets._tuh import pick_tuh_electrodes, tuh_steps
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.montages import MONTAGES
from biosig.signal.recording import Annotations, Recording
from biosig.signal.windows import FixedWindows

__all__ = ["TUAB", "TUAB_CLASSES"]

#: Class names in label order (the folder names).
TUAB_CLASSES = ["normal", "abnormal"]
_SPLITS = ("train", "eval")
_NAME = re.compile(r"(?P<subject>[a-z]+)_(?P<session>s\d+)_(?P<token>t\d+)", re.IGNORECASE)
_HOW = ("TUAB is licensed (TUH data-use agreement): request it at "
        "https://isip.piconepress.com/projects/nedc/html/tuh_eeg/ and pass its folder "
        "(holding edf/train and edf/eval) as path=.")


class TUAB(DatasetSource):
    """TUAB windows: bipolar TCP EEG (µV), abnormal (1) vs normal (0), label of the file.

    Parameters
    ----------
    path : the corpus folder holding ``edf/train`` and ``edf/eval`` (or a folder with
        ``train``/``eval`` directly); default ``BIOSIG_DATA/tuab/v3.0.1``.
    splits : official parts to index: ``"train"`` and/or ``"eval"``.
    montage : ``"tcp16"`` (BIOT/PyHealth double banana, default), ``"tcp22"`` or ``"tcp22_tuh"``.
    bandpass : ``(low, high)`` Hz (MNE FIR) or ``None``. Default 0.1-75.
    notch : notch frequency in Hz (MNE FIR) or ``None``. Default 60 Hz: TUH was recorded on
        60 Hz mains (the TUEV scripts of BIOT/LaBraM/EEGDM use 50 Hz; pass 50.0 to match
        that convention).
    sfreq : target sampling rate (Hz). Default 200.
    window, stride : window length and step in s (stride None: non-overlapping). Default 10 s.
    val_fraction, seed : validation subjects drawn from the official train part, as
        :class:`~biosig.datasets.TUEV` does (:func:`~biosig.datasets._common.split_subjects`).
    max_files : index only the first ``max_files`` files of each split x class (sorted): a quick
        look at a large copy; None for all.

    Notes
    -----
    Records carry ``split`` (``"train"``, ``"val"`` or ``"test"`` = official eval),
    ``official_split``, ``subject``, ``session`` and ``token``. A file in a class folder whose
    name does not follow ``<subject>_<session>_<token>.edf`` is refused with its path (it would
    otherwise land in a wrong subject and leak across the validation split).
    """

    name = "tuab"
    version = "3.0.1"
    multilabel = False
    classes = list(TUAB_CLASSES)

    def __init__(
        self,
        path: str | None = None,
        splits: list[str] = ("train", "eval"),
        montage: str = "tcp16",
        bandpass: tuple[float, float] | None = (0.1, 75.0),
        notch: float | None = 60.0,
        sfreq: float = 200.0,
        window: float = 10.0,
        stride: float | None = None,
        val_fraction: float = 0.2,
        seed: int = 4523,
        max_files: int | None = None,
    ):
        root = dataset_root(path, "tuab", "v3.0.1")
        require_dir(root, "TUAB", _HOW)
        self.root = root / "edf" if (root / "edf").is_dir() else root
        self.splits = names(splits)
        if not self.splits or set(self.splits) - set(_SPLITS):
            raise ConfigError(f"TUAB: splits must be 'train' and/or 'eval', got {list(splits)}")
        for s in self.splits:
            for c in TUAB_CLASSES:
                require_dir(self.root / s / c, f"TUAB {s}/{c} folder", _HOW)
        if montage not in MONTAGES:
            raise ConfigError(f"TUAB: montage must be one of {sorted(MONTAGES)}, got {montage!r}")
        if window <= 0 or (stride is not None and stride <= 0):
            raise ConfigError(f"TUAB: window and stride must be > 0 s, got {window}, {stride}")
        if max_files is not None and int(max_files) < 1:
            raise ConfigError(f"TUAB: max_files must be >= 1 or None, got {max_files!r}")
        self.montage = montage
        self.bandpass = None if bandpass is None else (float(bandpass[0]), float(bandpass[1]))
        self.notch = None if notch is None else float(notch)
        self.sfreq, self.window = float(sfreq), float(window)
        self.stride = None if stride is None else float(stride)
        self.val_fraction, self.seed = float(val_fraction), int(seed)
        self.max_files = None if max_files is None else int(max_files)
        self._records: list[dict] | None = None

    # ------------------------------------------------------------------ index
    def records(self) -> list[dict]:
        if self._records is not None:
            return self._records
        out = []
        for part in self.splits:
            for label, cls in enumerate(TUAB_CLASSES):
                folder = self.root / part / cls
                edfs = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".edf")
                if not edfs:
                    raise InvalidFileError(folder, f"no .edf files found. {_HOW}")
                for edf in edfs[: self.max_files]:
                    m = _NAME.fullmatch(edf.stem)
                    if m is None:
                        raise InvalidFileError(edf, "not a TUAB file name "
                                                    "<subject>_<session>_<token>.edf")
                    rel = edf.relative_to(self.root).as_posix()
                    out.append({"record": rel[: -len(edf.suffix)], "subject": m["subject"],
                                "session": m["session"], "token": m["token"], "label": label,
                                "official_split": part,
                                "split": "test" if part == "eval" else "train", "path": rel})
        train_subjects = [r["subject"] for r in out if r["official_split"] == "train"]
        val = split_subjects(train_subjects, self.val_fraction, self.seed)
        for r in out:
            if r["official_split"] == "train" and r["subject"] in val:
                r["split"] = "val"
        self._records = out
        return out

    def identity(self) -> dict:
        return {
            "name": self.name, "version": self.version, "splits": self.splits,
            "montage": self.montage, "bandpass": self.bandpass, "notch": self.notch,
            "sfreq": self.sfreq, "window": self.window, "stride": self.stride,
            "val_fraction": self.val_fraction, "seed": self.seed, "max_files": self.max_files,
            "files": file_manifest(self.root, [r["path"] for r in self.records()]),
        }

    # ------------------------------------------------------------------ signals
    def load(self, ref: dict) -> Recording:
        """One EDF, unfiltered: the referential electrodes the montage needs (µV, named ``FP1``
        ... after their ``EEG FP1-REF`` labels), no annotations."""
        from biosig.io import read_edf

        edf = self.root / ref["path"]
        raw = read_edf(edf)
        rec = pick_tuh_electrodes(raw, self.montage, edf)
        rec.annotations = Annotations.empty()
        rec.meta.update({"dataset": self.name, "subject": ref["subject"],
                         "label": TUAB_CLASSES[int(ref["label"])]})
        return rec

    def default_preprocessing(self) -> list:
        """MNE FIR band-pass and notch (as configured), FFT resampling to ``sfreq``, the bipolar
        ``montage``."""
        return tuh_steps(self.bandpass, self.notch, self.sfreq, self.montage)

    def default_windows(self):
        return FixedWindows(length=self.window, stride=self.stride)

    def __repr__(self) -> str:
        return (f"TUAB(path={os.fspath(self.root)!r}, montage={self.montage!r}, "
                f"window={self.window:g}, sfreq={self.sfreq:g})")

