"""Datasets: each module knows its files, labels and splits, and yields raw Recordings.

File formats are read by :mod:`biosig.io`; a dataset does not filter or resample: it lists its
standard steps (``default_preprocessing()``) and the window cache runs them.

Open data (PhysioNet, BCI IV 2a) can be downloaded into ``BIOSIG_DATA`` with SHA-256
verification; TUEV and TUAB need the user's own licensed copy (``path=``).
"""

from biosig.datasets.base import DatasetSource
from biosig.datasets.bciiv2a import BCIIV2a
from biosig.datasets.chbmit import CHBMIT
from biosig.datasets.cinc import CinC
from biosig.datasets.download import RemoteFile, download_file, extract_archive
from biosig.datasets.edf_corpus import EDFCorpus
from biosig.datasets.eegmat import EEGMAT
from biosig.datasets.eegmmidb import EEGMMIDB
from biosig.datasets.files import RecordingFiles
from biosig.datasets.ptbxl import PTBXL
from biosig.datasets.synthetic import (
    SyntheticECG,
    SyntheticMI,
    SyntheticTUEV,
    simulate_ecg12,
    simulate_mi_eeg,
    write_recordings,
)
from biosig.datasets.tuab import TUAB
from biosig.datasets.tuev import TUEV
from biosig.datasets.wfdb_records import WFDBRecords

__all__ = [
    "BCIIV2a",
    "CHBMIT",
    "CinC",
    "DatasetSource",
    "EDFCorpus",
    "EEGMAT",
    "EEGMMIDB",
    "PTBXL",
    "RecordingFiles",
    "RemoteFile",
    "SyntheticECG",
    "SyntheticMI",
    "SyntheticTUEV",
    "TUAB",
    "TUEV",
    "WFDBRecords",
    "download_file",
    "extract_archive",
    "simulate_ecg12",
    "simulate_mi_eeg",
    "write_recordings",
]
