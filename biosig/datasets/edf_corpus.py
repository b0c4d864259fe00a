"""A folder tree of EDF files as an unlabelled pretraining corpus (e.g. the TUH EEG corpus).

Every ``.edf`` under ``root`` (recursively) is one record, named by its path relative to
``root``. TUH EEG v2.0's layout ``edf/<nnn>/<subject>/<sNNN_YYYY>/<NN_tcp_ar>/
<subject>_sNNN_tNNN.edf`` (Obeid & Picone 2016, doi:10.3389/fnins.2016.00196) gives subject,
session, token and reference folder; other trees give the file's parent folder as subject unless
``subject_pattern`` says otherwise.

Each file yields the ``channels`` it is asked for (10-20 electrodes by default), recognised under
TUH's ``EEG FP1-REF`` / ``EEG FP1-LE``, ``EEG Fp1``, ``Fp1.`` or plain ``Fp1`` labels and, for
T3/T4/T5/T6, their modern names T7/T8/P7/P8 (and back), in µV. The standard steps
(``default_preprocessing``) are an optional band-pass and notch, resampling to ``sfreq`` and an
optional bipolar ``montage`` (``"tcp22"``, ``"tcp16"``...: :data:`biosig.signal.montages.MONTAGES`);
windows are fixed ``window`` s every ``stride`` s with label -1. The dataset card is
``datasets/edf_corpus.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

from biosig.datasets._common import file_manifest, require_dir
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.io._util import shown_units
from biosig.signal.recording import Recording

__all__ = ["EDFCorpus", "TEN_TWENTY", "corpus_electrode"]

#: The 19 electrodes of the 10-20 system (TUH's old temporal names).
TEN_TWENTY = [
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T3", "C3", "CZ",
    "C4", "T4", "T5", "P3", "PZ", "P4", "T6", "O1", "O2",
]  # fmt: skip
_ALIASES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
_ALIASES.update({v: k for k, v in list(_ALIASES.items())})
_LABEL = re.compile(r"^(?:EEG\s+)?([A-Za-z0-9]+?)\.*(?:-(?:REF|LE|AR|AVG))?\.*$", re.IGNORECASE)
_TUH_TOKEN = re.compile(r"^(?P<subject>[a-z0-9]+)_(?P<session>s\d{3})_(?P<token>t\d{3})$")
_HOW = "point root= at the folder that holds the EDF tree (e.g. .../tuh_eeg/v2.0.1/edf)"


def corpus_electrode(label: str) -> str | None:
    """``"EEG FP1-REF"``, ``"EEG Fp1"``, ``"Fp1."``, ``"Fp1"`` -> ``"FP1"``; None otherwise."""
    m = _LABEL.match(label.strip())
    return m.group(1).upper() if m else None


class EDFCorpus(DatasetSource):
    """Unlabelled fixed windows from every EDF under ``root``.

    Parameters
    ----------
    root : the top folder of the tree (file names in caches are relative to it).
    channels : electrodes to keep, in this order (default :data:`TEN_TWENTY`, or the electrodes
        of ``montage`` when one is set); a file that lacks
        one raises :class:`~biosig.errors.InvalidFileError` naming it (``skip_incomplete=True``
        leaves such files out of the index instead, counted in ``skipped_files``).
    sfreq : sampling rate after resampling (Hz); None keeps the files' rate (all must agree).
    montage : a bipolar montage name (``"tcp22"``...) applied after resampling, or None.
    bandpass : ``(low, high)`` Hz before resampling, or None; ``notch`` Hz or None.
    window, stride : fixed window length and hop in s (stride None: no overlap).
    pattern : glob of the files below ``root`` (default ``"**/*.edf"``).
    subject_pattern : regular expression whose first group in the relative path is the subject
        (default: TUH token names ``<subject>_sNNN_tNNN``, else the parent folder; a file
        directly under ``root``: its name without suffix).
    name, version : cache namespace.
    """

    multilabel = False
    classes: list[str] = []

    def __init__(
        self,
        root: str | Path,
        channels: list[str] | None = None,
        sfreq: float | None = 200.0,
        montage: str | None = None,
        bandpass: tuple[float, float] | None = None,
        notch: float | None = None,
        window: float = 10.0,
        stride: float | None = None,
        pattern: str = "**/*.edf",
        subject_pattern: str | None = None,
        skip_incomplete: bool = False,
        name: str = "edf_corpus",
        version: str = "1",
    ):
        self.root = require_dir(Path(root).expanduser(), "EDF corpus folder", _HOW)
        default = TEN_TWENTY
        if montage is not None:
            from biosig.signal.montages import bipolar_pairs

            pairs = bipolar_pairs(montage)  # unknown names raise here
            default = list(dict.fromkeys(e for pair in pairs for e in pair))
        self.channels = [c.upper() for c in (channels or default)]
        twice = sorted({c for i, c in enumerate(self.channels)
                        if c in self.channels[:i] or _ALIASES.get(c) in self.channels[:i]})
        if twice:
            raise ConfigError(
                f"EDFCorpus.channels names electrode(s) {twice} twice (T3/T7, T4/T8, T5/P7 and "
                "T6/P8 are one electrode's old and new names): list each electrode once"
            )
        if window <= 0 or (stride is not None and stride <= 0):
            raise ConfigError(f"EDFCorpus: window {window} and stride {stride} must be > 0")
        if subject_pattern is not None and re.compile(subject_pattern).groups < 1:
            raise ConfigError(f"EDFCorpus.subject_pattern {subject_pattern!r} needs a group")
        self.sfreq, self.montage, self.bandpass, self.notch = sfreq, montage, bandpass, notch
        self.window, self.stride, self.pattern = window, stride, pattern
        self.subject_pattern, self.skip_incomplete = subject_pattern, skip_incomplete
        self.name, self.version = name, version
        self._records: list[dict] | None = None
        self.skipped_files: list[str] = []

    # ------------------------------------------------------------------ index
    def _describe(self, rel: Path) -> dict:
        # a file directly under root is its own subject (subject_pattern groups such files)
        subject = rel.stem if rel.parent == Path(".") else rel.parent.as_posix()
        out = {"record": rel.as_posix(), "subject": subject, "session": "1"}
        m = _TUH_TOKEN.match(rel.stem)
        if m:
            out.update(subject=m["subject"], session=m["session"], token=m["token"])
            ref = next((p for p in rel.parts[:-1] if re.fullmatch(r"\d\d_tcp_\w+", p)), None)
            if ref is not None:
                out["reference"] = ref
        if self.subject_pattern is not None:
            sm = re.search(self.subject_pattern, rel.as_posix())
            if sm is None:
                raise ConfigError(
                    f"EDFCorpus.subject_pattern {self.subject_pattern!r} does not match "
                    f"{rel.as_posix()}"
                )
            out["subject"] = sm.group(1)
        out["label"] = -1
        return out

    def records(self) -> list[dict]:
        if self._records is None:
            files = sorted(
                p.relative_to(self.root) for p in self.root.glob(self.pattern) if p.is_file()
            )
            if not files:
                raise InvalidFileError(self.root, f"no file matches {self.pattern!r}. {_HOW}")
            out = []
            for rel in files:
                if self.skip_incomplete and self._missing(rel):
                    self.skipped_files.append(rel.as_posix())
                    continue
                out.append(self._describe(rel))
            self._records = out
        return self._records

    def _missing(self, rel: Path) -> list[str]:
        """The wanted channels a file's EDF header does not list (reads the header only)."""
        path = self.root / rel
        try:
            with open(path, "rb") as fh:
                head = fh.read(256)
                ns = int(head[252:256].decode("ascii").strip())
                labels = fh.read(16 * ns).decode("latin-1")
        except (OSError, ValueError) as err:
            raise InvalidFileError(  # the field is not quoted: a misaligned header puts text there
                path, f"unreadable EDF header ({type(err).__name__}: number of signals or labels)"
            ) from None
        if len(labels) != 16 * ns:
            raise InvalidFileError(path, "EDF header cut short")
        return self._pick([labels[16 * i : 16 * i + 16] for i in range(ns)], path)[1]

    def record_files(self, ref: dict) -> list[Path]:
        return [self.root / ref["record"]]

    def identity(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "channels": self.channels,
            "sfreq": self.sfreq,
            "montage": self.montage,
            "bandpass": list(self.bandpass) if self.bandpass else None,
            "notch": self.notch,
            "window": self.window,
            "stride": self.stride,
            "pattern": self.pattern,
            "subject_pattern": self.subject_pattern,
            "skip_incomplete": self.skip_incomplete,
            "files": file_manifest(self.root, [r["record"] for r in self.records()]),
        }

    # ------------------------------------------------------------------ signals
    def _pick(self, labels: list[str], path: Path) -> tuple[list[int], list[str]]:
        """Positions of the wanted electrodes among ``labels`` and the wanted ones missing; a
        wanted electrode under two labels (``EEG FP1-REF`` and ``EEG FP1-LE``) is refused."""
        wanted = {*self.channels, *(_ALIASES[c] for c in self.channels if c in _ALIASES)}
        found: dict[str, int] = {}
        for i, lab in enumerate(labels):
            e = corpus_electrode(lab)
            if e is None:
                continue
            if e in found and e in wanted:
                raise InvalidFileError(path, f"electrode {e} is in signals {found[e] + 1} and "
                                             f"{i + 1}: which one to keep is ambiguous")
            found.setdefault(e, i)
        idx, missing = [], []
        for c in self.channels:
            i = found.get(c, found.get(_ALIASES.get(c, ""), None))
            (missing.append(c) if i is None else idx.append(i))
        return idx, missing

    def load(self, ref: dict) -> Recording:
        """One file: the ``channels`` in µV under their upper-case 10-20 names, raw rate."""
        from biosig.io import read_edf

        path = self.root / ref["record"]
        rec = read_edf(path)
        idx, missing = self._pick(rec.ch_names, path)
        if missing:
            raise InvalidFileError(
                path, f"channels {missing} not found (has {rec.ch_names}); choose channels= or "
                "skip_incomplete=True"
            )
        units = {rec.units[i] for i in idx}
        if units != {"uV"}:
            raise InvalidFileError(path, f"EEG channels not in µV: units {shown_units(units)}")
        return rec.pick([rec.ch_names[i] for i in idx]).copy(  # still undecoded (EDF)
            ch_names=list(self.channels),
            ch_types=["eeg"] * len(idx),
            units=["uV"] * len(idx),
            meta={"source": ref["record"]},
        )

    def default_preprocessing(self) -> list:
        from biosig.signal.preprocessing import Bandpass, BipolarMontage, Notch, Resample

        steps = []
        if self.bandpass is not None:
            steps.append(Bandpass(*self.bandpass))
        if self.notch is not None:
            steps.append(Notch(self.notch))
        if self.sfreq is not None:
            steps.append(Resample(self.sfreq))
        if self.montage is not None:
            steps.append(BipolarMontage(montage=self.montage))
        return steps

    def default_windows(self):
        from biosig.signal.windows import FixedWindows

        return FixedWindows(length=self.window, stride=self.stride)
