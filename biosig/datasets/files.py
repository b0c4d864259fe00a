"""Any readable signal files (EDF/BDF/GDF/WFDB) as a dataset: one record per file."""

from __future__ import annotations

import glob
import os
import re
import warnings
from pathlib import Path

import numpy as np

from biosig.datasets._common import file_manifest, stem_files
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError
from biosig.signal.recording import Recording
from biosig.signal.windows import EventWindows

_WFDB_SUFFIXES = (".hea", ".dat", ".mat", ".xyz", ".atr")


class RecordingFiles(DatasetSource):
    """Files matched by ``paths`` (globs allowed), read with :func:`biosig.io.read_recording`.

    Parameters
    ----------
    paths : file paths or glob patterns (``"~/data/*.edf"``).
    classes : event descriptions that become windows, in label order.
    tmin, tmax : default event window in s relative to each event.
    subject_pattern : regular expression whose first group in the file name is the subject
        (default ``S(\\d+)``; files that do not match get subject 0, with a warning when
        there are several files: ``Subject01_1.edf`` needs ``r"Subject(\\d+)"``).
    session_pattern : likewise for the session, as text (``R03`` with ``R(\\d+)``: ``"3"``;
        default: none, session ``"1"``).
    event_names : renames event descriptions before windowing, e.g. GDF codes
        ``{"769": "left_hand", "770": "right_hand"}``.
    name, version : cache namespace for these files.

    Records are named by their path relative to the files' common folder; the cache identity
    holds those names, sizes, modification times and content fingerprints (no absolute path), so
    editing a file builds a new cache. A WFDB record's identity holds every file of its name
    (``.hea``, ``.dat``, ``.atr``...), whichever of them ``paths`` matched.
    """

    multilabel = False

    def __init__(
        self,
        paths: list[str] | str,
        classes: list[str] | None = None,
        tmin: float = 0.0,
        tmax: float = 4.0,
        subject_pattern: str = r"S(\d+)",
        session_pattern: str | None = None,
        event_names: dict[str, str] | None = None,
        name: str = "files",
        version: str = "1",
    ):
        patterns = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        files = sorted({Path(f) for p in patterns for f in glob.glob(os.path.expanduser(str(p)))})
        if not files:
            raise ConfigError(f"RecordingFiles: no file matches {patterns}")
        for key, pattern in (
            ("subject_pattern", subject_pattern),
            ("session_pattern", session_pattern),
        ):
            if pattern is not None and re.compile(pattern).groups < 1:
                raise ConfigError(
                    f"RecordingFiles.{key} {pattern!r} needs a capture group, e.g. r'S(\\d+)'"
                )
        self.files = files
        # records are named relative to the files' common folder: no local path reaches a cache
        self._root = Path(os.path.commonpath([str(f.parent) for f in files]))
        self.classes = list(classes or [])
        self.tmin, self.tmax = tmin, tmax
        self.subject_pattern, self.session_pattern = subject_pattern, session_pattern
        self.event_names = dict(event_names or {})
        self.name, self.version = name, version

    def identity(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "classes": self.classes,
            "event_names": self.event_names,
            "subject_pattern": self.subject_pattern,
            "session_pattern": self.session_pattern,
            "files": file_manifest(
                self._root, [x for f in self.files for x in self._inputs(self._relative(f))]
            ),
        }

    def record_files(self, ref: dict) -> list[Path]:
        return [self._root / f for f in self._inputs(ref["record"])]

    def _relative(self, f: Path) -> str:
        return f.relative_to(self._root).as_posix()

    def _inputs(self, record: str) -> list[str]:
        """The files (relative) record ``record`` is read from: the file, or for a WFDB record
        (a ``.hea``, or a ``.dat``/``.mat``/... beside one) every file of its name: header,
        signal and annotation files."""
        path = Path(record)
        if path.suffix.lower() in _WFDB_SUFFIXES and (self._root / path).with_suffix(
            ".hea"
        ).is_file():
            return stem_files(self._root, path.with_suffix("").as_posix())
        return [record]

    def _group(self, pattern: str | None, stem: str, default):
        m = re.search(pattern, stem) if pattern else None
        if m is None or m.group(1) is None:
            return default
        return int(m.group(1)) if m.group(1).isdigit() else m.group(1)

    def records(self) -> list[dict]:
        if len(self.files) > 1:
            for key, pattern, default in (("subject_pattern", self.subject_pattern, 0),
                                          ("session_pattern", self.session_pattern, "1")):
                self._warn_unmatched(key, pattern, default)
        return [
            {
                "record": self._relative(f),
                "subject": self._group(self.subject_pattern, f.stem, 0),
                # a session is a name, as every dataset's ("T", "E", "1"): 1 and "1" mixed in
                # one column would be two sessions to a protocol
                "session": str(self._group(self.session_pattern, f.stem, "1")),
            }
            for f in self.files
        ]

    def _warn_unmatched(self, key: str, pattern: str | None, default) -> None:
        """Warn when ``pattern`` finds no group in some file names: those files share the
        default (subject 0), which subject-wise splits and alignment would treat as one person
        (``Subject01_1.edf`` has no ``S`` followed by digits)."""
        if pattern is None:
            return
        unmatched = [f.name for f in self.files if self._group(pattern, f.stem, None) is None]
        if unmatched:
            shown = ", ".join(unmatched[:3]) + (", ..." if len(unmatched) > 3 else "")
            warnings.warn(
                f"RecordingFiles.{key} '{pattern}' finds nothing in {len(unmatched)} of "
                f"{len(self.files)} file names ({shown}): they all get {key[:-8]} {default!r}; "
                f"pass a {key} with a capture group that matches them (e.g. r'Subject(\\d+)')",
                stacklevel=3)

    def load(self, ref: dict) -> Recording:
        from biosig.io import read_recording

        rec = read_recording(self._root / ref["record"])
        if self.event_names:
            ann = rec.annotations
            ann.description = np.asarray(
                [self.event_names.get(d, d) for d in ann.description], dtype=object
            )
        return rec

    def default_windows(self):
        return EventWindows(self.tmin, self.tmax, {c: i for i, c in enumerate(self.classes)})
