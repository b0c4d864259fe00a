"""Format readers and writers. Every signal reader returns a :class:`Recording`.

Signal files: EDF/EDF+/BDF (:mod:`~biosig.io.edf`), GDF (:mod:`~biosig.io.gdf`; both decode
their records with ``_records``), MNE's FIF (:mod:`~biosig.io.fif`), WFDB
(:mod:`~biosig.io.wfdb`), BNCI Horizon ``.mat`` (:mod:`~biosig.io.bnci`). Annotation and
label files: TUEV ``.rec`` (:mod:`~biosig.io.rec`), BCI Competition true labels
(:func:`read_true_labels`), WFDB header labels.

Signals inside a :class:`Recording` are float32 ``(n_chans, n_times)`` in physical units
(EEG/EOG/EMG in µV, ECG in mV); ``meta`` holds only non-identifying fields (``format``,
``source`` = file name, counts of NaN/inf samples...). Every reader raises
:class:`biosig.errors.InvalidFileError` (naming the file and the reason) for a missing,
empty, truncated or malformed file.
"""

from __future__ import annotations

import os

from biosig.errors import InvalidFileError
from biosig.io._util import as_path
from biosig.io.bnci import read_bnci as read_bnci
from biosig.io.bnci import read_true_labels as read_true_labels
from biosig.io.edf import read_bdf as read_bdf
from biosig.io.edf import read_edf as read_edf
from biosig.io.fif import read_fif as read_fif
from biosig.io.gdf import read_gdf as read_gdf
from biosig.io.rec import read_rec as read_rec
from biosig.io.wfdb import read_wfdb as read_wfdb
from biosig.io.wfdb import read_wfdb_header_labels as read_wfdb_header_labels
from biosig.io.wfdb import scan_wfdb_header as scan_wfdb_header
from biosig.io.write import write_edf as write_edf
from biosig.io.write import write_gdf as write_gdf
from biosig.io.write import write_wfdb as write_wfdb
from biosig.signal.recording import Annotations as Annotations
from biosig.signal.recording import Recording as Recording

__all__ = [
    "Annotations",
    "Recording",
    "read_recording",
    "read_edf",
    "read_fif",
    "read_bdf",
    "read_bnci",
    "read_gdf",
    "read_rec",
    "read_true_labels",
    "read_wfdb",
    "read_wfdb_header_labels",
    "scan_wfdb_header",
    "write_edf",
    "write_gdf",
    "write_wfdb",
]


SUPPORTED = (
    "EDF/EDF+/BDF (.edf, .bdf), GDF (.gdf), MNE FIF (.fif, .fif.gz), WFDB (.hea, a record "
    "name, or its .dat/.mat/.atr with the .hea beside it)"
)


def read_recording(path: str | os.PathLike, **kwargs) -> Recording:
    """Read any supported signal file, dispatching on its suffix.

    ``.edf``/``.bdf`` -> :func:`read_edf`; ``.gdf`` -> :func:`read_gdf`; ``.fif``/``.fif.gz``
    -> :func:`read_fif`; ``.hea`` or a WFDB record path without suffix (``.../100``), or a
    ``.dat``/``.mat``/``.atr`` with a ``.hea`` beside it -> :func:`read_wfdb`. Keyword
    arguments go to that reader.

    Raises
    ------
    InvalidFileError
        Unknown or non-signal suffix (e.g. a TUEV ``.rec`` annotation file; the message lists
        what is supported), missing file, or any reader error.
    """
    p = as_path(path)
    suffix = p.suffix.lower()
    if suffix in (".edf", ".bdf"):
        return read_edf(p, **kwargs)
    if suffix == ".gdf":
        return read_gdf(p, **kwargs)
    if p.name.lower().endswith((".fif", ".fif.gz")):
        return read_fif(p, **kwargs)
    if suffix == ".hea":
        return read_wfdb(p, **kwargs)
    if suffix in (".dat", ".mat", ".xyz", ".atr") and p.with_suffix(".hea").exists():
        return read_wfdb(p, **kwargs)
    if suffix == ".rec":
        raise InvalidFileError(
            p,
            "'.rec' files are event annotations (TUEV), not signals; read the .edf with the "
            "same name, and the .rec with biosig.io.read_rec",
        )
    if p.with_name(p.name + ".hea").exists():
        return read_wfdb(p, **kwargs)
    if not p.exists():
        raise InvalidFileError(
            p, f"file does not exist (and no WFDB header beside it); supported: {SUPPORTED}"
        )
    if suffix == ".mat":
        raise InvalidFileError(
            p,
            "a .mat file is read as a WFDB signal file only with its .hea header beside it "
            f"({p.with_suffix('.hea').name} is missing); BNCI Horizon .mat files are read by "
            f"biosig.io.read_bnci / the BCIIV2a dataset. Supported signal files: {SUPPORTED}",
        )
    raise InvalidFileError(
        p, f"unknown signal file type {suffix or '(no suffix)'!r}; supported: {SUPPORTED}"
    )
