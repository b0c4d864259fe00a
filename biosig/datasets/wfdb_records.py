"""Any WFDB record or database folder (PhysioNet format), with its annotations.

Goldberger, A. L., et al. "PhysioBank, PhysioToolkit, and PhysioNet", Circulation 101(23)
e215-e220 (2000); WFDB format: https://physionet.org/physiotools/wag/ . Beat classes optionally
grouped as in ANSI/AAMI EC57 (N, S, V, F, Q).
"""

from __future__ import annotations

import os
from pathlib import Path

from biosig.datasets._common import file_manifest, stem_files
from biosig.datasets.base import DatasetSource
from biosig.errors import ConfigError, InvalidFileError
from biosig.signal.ecg_leads import canonical_lead
from biosig.signal.recording import Annotations, Recording

__all__ = ["WFDBRecords", "AAMI_CLASSES"]

#: ANSI/AAMI EC57 beat classes from MIT-BIH annotation symbols.
AAMI_CLASSES: dict[str, str] = {
    **{s: "N" for s in ("N", "L", "R", "e", "j")},
    **{s: "S" for s in ("A", "a", "J", "S")},
    **{s: "V" for s in ("V", "E")},
    "F": "F",
    **{s: "Q" for s in ("/", "f", "Q")},
}


class WFDBRecords(DatasetSource):
    """WFDB records from one record path or a database folder (signals in their physical
    units: ECG in mV).

    Parameters
    ----------
    path : a record (``.../100`` or ``.../100.hea``) or a folder: its ``RECORDS`` file lists the
        records when present, otherwise every ``*.hea`` below it is one.
    channels : signal names to keep (after lead-name normalisation: ``avr`` -> ``aVR``); default
        all. Records without them raise :class:`~biosig.errors.ChannelError` when loaded.
    annotator : annotation file extension (``"atr"``); ``None`` reads none.
    beat_classes : ``None`` (no labels: fixed windows, label -1), ``"aami"`` (N/S/V/F/Q from
        :data:`AAMI_CLASSES`) or a ``{symbol: class}`` mapping; annotations become the class
        names and windows are cut around each beat.
    beat_window : ``(tmin, tmax)`` s around each beat annotation for beat windows.
    window : length (s) of the non-overlapping fixed windows when ``beat_classes`` is None.
    name : dataset name used in the cache key (default ``"wfdb"``).
    """

    version = "1"
    multilabel = False

    def __init__(
        self,
        path: str,
        channels: list[str] | None = None,
        annotator: str | None = "atr",
        beat_classes: str | dict[str, str] | None = None,
        beat_window: tuple[float, float] = (-0.25, 0.45),
        window: float = 10.0,
        name: str = "wfdb",
    ):
        p = Path(path).expanduser()
        if p.suffix == ".hea":
            p = p.with_suffix("")
        if p.is_dir():
            self.root, self._single = p, None
        elif p.with_name(p.name + ".hea").is_file():
            self.root, self._single = p.parent, p.name
        else:
            raise InvalidFileError(p, "neither a folder nor a WFDB record (no .hea found)")
        self.name = name
        self.channels = None if channels is None else [canonical_lead(c) for c in channels]
        self.annotator = annotator
        if beat_classes == "aami":
            beat_classes = dict(AAMI_CLASSES)
        elif isinstance(beat_classes, str):
            raise ConfigError(
                f"beat_classes must be None, 'aami' or a mapping, got {beat_classes!r}"
            )
        self.beat_classes = None if beat_classes is None else dict(beat_classes)
        if self.beat_classes is not None and annotator is None:
            raise ConfigError("beat_classes needs an annotator (e.g. 'atr')")
        self.classes = (
            [] if self.beat_classes is None else list(dict.fromkeys(self.beat_classes.values()))
        )
        self.beat_window = (float(beat_window[0]), float(beat_window[1]))
        self.window = float(window)
        self._records: list[dict] | None = None

    def _names(self) -> list[str]:
        if self._single is not None:
            return [self._single]
        listing = self.root / "RECORDS"
        if listing.is_file():
            names = [
                ln.strip().rstrip("/") for ln in listing.read_text().splitlines() if ln.strip()
            ]
            missing = [n for n in names if not (self.root / f"{n}.hea").is_file()]
            if missing:
                raise InvalidFileError(listing, f"lists records without a header: {missing[:5]}")
            return names
        names = [
            h.relative_to(self.root).with_suffix("").as_posix()
            for h in sorted(self.root.rglob("*.hea"))
        ]
        if not names:
            raise InvalidFileError(self.root, "no WFDB headers (*.hea) found")
        return names

    def records(self) -> list[dict]:
        if self._records is None:
            out = []
            for n in self._names():
                parts = n.split("/")
                out.append(
                    {"record": n, "subject": parts[0] if len(parts) > 1 else n, "session": "1"}
                )
            self._records = out
        return self._records

    def identity(self) -> dict:
        names = [r["record"] for r in self.records()]
        files = [f for n in names for f in stem_files(self.root, n)]  # .hea, .dat, annotations
        return {
            "name": self.name,
            "version": self.version,
            "channels": self.channels,
            "annotator": self.annotator,
            "beat_classes": self.beat_classes,
            "files": file_manifest(self.root, files),
        }

    def load(self, ref: dict) -> Recording:
        from biosig.io import read_wfdb

        path = self.root / ref["record"]
        if self.beat_classes is not None:  # the labels are the annotations: they must be there
            base = path.with_suffix("") if path.suffix == ".hea" else path
            ann = base.with_name(f"{base.name}.{self.annotator}")
            if not ann.is_file():
                raise InvalidFileError(ann, f"missing: beat_classes labels the beats from the "
                                            f"record's {self.annotator!r} annotations")
        rec = read_wfdb(path, annotation_ext=self.annotator)
        rec = rec.renamed([canonical_lead(n) for n in rec.ch_names])
        if self.channels is not None:
            rec = rec.pick(self.channels)
        if self.beat_classes is not None:
            ann = rec.annotations
            keep = [i for i, d in enumerate(ann.description) if str(d) in self.beat_classes]
            rec.annotations = Annotations.from_lists(
                ann.onset[keep],
                ann.duration[keep],
                [self.beat_classes[str(ann.description[i])] for i in keep],
            )
        rec.meta.update({"dataset": self.name, "record": ref["record"]})
        return rec

    def default_windows(self):
        from biosig.signal.windows import EventWindows, FixedWindows

        if self.beat_classes is None:
            return FixedWindows(length=self.window, stride=self.window)
        return EventWindows(
            tmin=self.beat_window[0],
            tmax=self.beat_window[1],
            mapping={c: i for i, c in enumerate(self.classes)},
        )

    def __repr__(self) -> str:
        return f"WFDBRecords(path={os.fspath(self.root)!r}, records={len(self.records())})"
