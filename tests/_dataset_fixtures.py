"""Writers of small dataset-layout fixtures for the dataset tests and benchmarks.

They write the real file layouts (CSV metadata, WFDB headers, BNCI .mat structs, TUEV EDF +
.rec) from synthetic numbers, so the loaders run exactly as on the real data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SHARED = Path(
    os.environ.get("BIOSIG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

# A representative slice of PTB-XL's scp_statements.csv (codes, flags and classes as published).
# columns: code, description, diagnostic, form, rhythm, diagnostic_class, diagnostic_subclass
PTBXL_STATEMENTS = [
    ("NDT", "non-diagnostic T abnormalities", 1, 1, None, "STTC", "STTC"),
    ("NST_", "non-specific ST changes", 1, 1, None, "STTC", "NST_"),
    ("DIG", "digitalis-effect", 1, 1, None, "STTC", "STTC"),
    ("LNGQT", "long QT-interval", 1, 1, None, "STTC", "STTC"),
    ("NORM", "normal ECG", 1, None, None, "NORM", "NORM"),
    ("IMI", "inferior myocardial infarction", 1, None, None, "MI", "IMI"),
    ("ASMI", "anteroseptal myocardial infarction", 1, None, None, "MI", "AMI"),
    ("LVH", "left ventricular hypertrophy", 1, None, None, "HYP", "LVH"),
    ("LAFB", "left anterior fascicular block", 1, None, None, "CD", "LAFB/LPFB"),
    ("ISC_", "non-specific ischemic", 1, None, None, "STTC", "ISC_"),
    ("IRBBB", "incomplete right bundle branch block", 1, None, None, "CD", "IRBBB"),
    ("1AVB", "first degree AV block", 1, None, None, "CD", "_AVB"),
    ("CLBBB", "complete left bundle branch block", 1, None, None, "CD", "CLBBB"),
    ("RVH", "right ventricular hypertrophy", 1, None, None, "HYP", "RVH"),
    ("ABQRS", "abnormal QRS", None, 1, None, None, None),
    ("LVOLT", "low QRS voltages in the frontal and horizontal leads", None, 1, None, None, None),
    ("SR", "sinus rhythm", None, None, 1, None, None),
    ("AFIB", "atrial fibrillation", None, None, 1, None, None),
    ("STACH", "sinus tachycardia", None, None, 1, None, None),
]


def write_ptbxl_tree(
    root: Path,
    n_records: int,
    *,
    records_per_dir: int = 1000,
    headers: bool = True,
    seed: int = 0,
    real_record: Path | None = None,
) -> list[dict]:
    """A PTB-XL-shaped folder: the two CSVs and (optionally) a tiny header per record.

    Returns the rows written (ecg_id, patient_id, scp_codes dict, fold). If ``real_record``
    (a WFDB record path without extension) is given, its .hea/.dat are copied as ecg_id 1.
    """
    import csv
    import shutil

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "scp_statements.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "",
                "description",
                "diagnostic",
                "form",
                "rhythm",
                "diagnostic_class",
                "diagnostic_subclass",
            ]
        )
        for code, desc, d, fo, r, dc, ds in PTBXL_STATEMENTS:
            w.writerow(
                [
                    code,
                    desc,
                    "" if d is None else "1.0",
                    "" if fo is None else "1.0",
                    "" if r is None else "1.0",
                    dc or "",
                    ds or "",
                ]
            )
    rng = np.random.default_rng(seed)
    codes = [s[0] for s in PTBXL_STATEMENTS]
    rows = []
    with open(root / "ptbxl_database.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "ecg_id",
                "patient_id",
                "age",
                "sex",
                "height",
                "weight",
                "nurse",
                "site",
                "device",
                "recording_date",
                "report",
                "scp_codes",
                "heart_axis",
                "strat_fold",
                "filename_lr",
                "filename_hr",
            ]
        )
        for i in range(1, n_records + 1):
            k = int(rng.integers(1, 4))
            chosen = rng.choice(len(codes), size=k, replace=False)
            scp = {codes[j]: float(rng.choice([0.0, 50.0, 100.0])) for j in chosen}
            sub = f"{(i // records_per_dir) * records_per_dir:05d}"
            lr = f"records100/{sub}/{i:05d}_lr"
            hr = f"records500/{sub}/{i:05d}_hr"
            pid = 10000 + i // 2
            fold = i % 10 + 1
            w.writerow(
                [
                    i,
                    float(pid),
                    int(rng.integers(20, 90)),
                    int(rng.integers(0, 2)),
                    "",
                    "",
                    0,
                    0,
                    "CS-12   E",
                    "1995-01-01 00:00:00",
                    "text",
                    repr(scp),
                    "",
                    fold,
                    lr,
                    hr,
                ]
            )
            rows.append({"ecg_id": i, "patient_id": pid, "scp_codes": scp, "fold": fold, "lr": lr})
            if headers:
                d = root / "records100" / sub
                d.mkdir(parents=True, exist_ok=True)
                (d / f"{i:05d}_lr.hea").write_text(f"{i:05d}_lr 12 100 1000\n")
    if real_record is not None:
        d = root / "records100" / "00000"
        d.mkdir(parents=True, exist_ok=True)
        for ext in (".hea", ".dat"):
            shutil.copyfile(str(real_record) + ext, d / f"00001_lr{ext}")
    return rows


def docs_python_block(page: str, name: str) -> str:
    """The first Python block of ``docs/<page>`` that uses ``name``."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / page).read_text(encoding="utf-8")
    return next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if name in b)


# --------------------------------------------------------------------------- BCI IV 2a

BCI_GDF_LABELS = [
    "EEG-Fz",
    "EEG-0",
    "EEG-1",
    "EEG-2",
    "EEG-3",
    "EEG-4",
    "EEG-5",
    "EEG-C3",
    "EEG-6",
    "EEG-Cz",
    "EEG-7",
    "EEG-C4",
    "EEG-8",
    "EEG-9",
    "EEG-10",
    "EEG-11",
    "EEG-12",
    "EEG-13",
    "EEG-14",
    "EEG-Pz",
    "EEG-15",
    "EEG-16",
    "EOG-left",
    "EOG-central",
    "EOG-right",
]


def write_bciiv2a_session(
    folder: Path,
    name: str,
    labels,
    *,
    session: str = "T",
    rejected=(),
    trials_per_run: int = 48,
    eog_runs: bool = True,
    seed: int = 0,
    trial_len: float = 6.5,
    write_gdf_file: bool = True,
    write_bnci: bool = True,
    bnci_folder: Path | None = None,
) -> dict:
    """One BCI IV 2a session in both published forms, from the same samples.

    GDF (``<folder>/<name>.gdf``, real channel labels and event table: 32766 per run, 276/277
    and 1072 in the EOG runs, 768 at each trial start, the cue (769-772, or 783 in E sessions)
    2 s later, 1023 with the trial start of rejected trials) and BNCI ``.mat``
    (``<bnci_folder>/<name>.mat``: ``data`` cell of run structs X/trial/y/fs/classes/artifacts).
    ``labels`` are 1..4. Returns the trial starts (0-based samples) and per-run layout.
    """
    from scipy.io import savemat

    from biosig.signal.recording import Recording
    from biosig.io.write import write_gdf

    fs = 250
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    runs, events, starts = [], [], []
    offset = 0
    n_trial_runs = int(np.ceil(len(labels) / trials_per_run))
    if eog_runs:  # eyes open, eyes closed, eye movements (short here)
        for code in (276, 277, 1072):
            n = 2 * fs
            x = rng.normal(0, 10, size=(n, 25))
            events += [(offset, 0, 32766), (offset, n, code)]
            runs.append(
                {
                    "X": x,
                    "trial": np.zeros((0, 1)),
                    "y": np.zeros((0, 1)),
                    "artifacts": np.zeros((0, 1)),
                }
            )
            offset += n
    k = 0
    tl = int(trial_len * fs)
    for _ in range(n_trial_runs):
        lab = labels[k : k + trials_per_run]
        n = len(lab) * tl + fs
        x = rng.normal(0, 10, size=(n, 25))
        tr = np.arange(len(lab)) * tl + fs // 2  # 0-based within the run
        art = np.array([1 if (k + i) in set(rejected) else 0 for i in range(len(lab))])
        events.append((offset, 0, 32766))
        for i, (t, y) in enumerate(zip(tr, lab)):
            g = offset + t
            starts.append(g)
            events.append((g, 6 * fs, 768))
            if art[i]:
                events.append((g, 6 * fs, 1023))
            cue = 768 + int(y) if session == "T" else 783
            events.append((g + 2 * fs, int(1.25 * fs), cue))
        runs.append(
            {
                "X": x,
                "trial": (tr + 1).reshape(-1, 1),
                "y": lab.reshape(-1, 1),
                "artifacts": art.reshape(-1, 1),
            }
        )
        offset += n
        k += len(lab)
    data = np.concatenate([r["X"] for r in runs], axis=0).T
    out = {"starts": np.array(starts), "data": data}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if write_gdf_file:
        rec = Recording(
            data=data,
            sfreq=fs,
            ch_names=BCI_GDF_LABELS,
            ch_types=["eeg"] * 22 + ["eog"] * 3,
            units=["uV"] * 25,
        )
        ev = np.array(sorted(events, key=lambda e: (e[0], e[2] != 32766)), dtype=np.int64)
        write_gdf(folder / f"{name}.gdf", rec, ev, dtype="float32")
    if write_bnci:
        bf = Path(bnci_folder or folder)
        bf.mkdir(parents=True, exist_ok=True)
        cell = np.empty((1, len(runs)), dtype=object)
        for i, r in enumerate(runs):
            cell[0, i] = {
                "X": r["X"],
                "trial": r["trial"].astype(np.float64),
                "y": r["y"].astype(np.float64),
                "fs": float(fs),
                "artifacts": r["artifacts"].astype(np.float64),
                "classes": np.array(["left hand", "right hand", "feet", "tongue"], dtype=object),
                "gender": "f",
                "age": 22.0,
            }
        savemat(bf / f"{name}.mat", {"data": cell})
    return out


def write_true_labels(path: Path, labels) -> None:
    from scipy.io import savemat

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"classlabel": np.asarray(labels, dtype=np.uint8).reshape(-1, 1)})


# --------------------------------------------------------------------------- TUEV
#: .rec labels 1..6 in order, as TUEV's eval file names begin (bckg_032_a_.edf)
TUEV_REC_CLASSES = ["spsw", "gped", "pled", "eyem", "artf", "bckg"]

TUH_ELECTRODES = [
    "FP1",
    "FP2",
    "F3",
    "F4",
    "C3",
    "C4",
    "P3",
    "P4",
    "O1",
    "O2",
    "F7",
    "F8",
    "T3",
    "T4",
    "T5",
    "T6",
    "A1",
    "A2",
    "FZ",
    "CZ",
    "PZ",
    "T1",
    "T2",
]


def tuh_signal(electrode: str, t: np.ndarray) -> np.ndarray:
    """A distinct sum of two sinusoids per electrode (µV), all inside 2-30 Hz."""
    k = TUH_ELECTRODES.index(electrode)
    return (20 + 2 * k) * np.sin(2 * np.pi * (2 + k) * t + k) + 5 * np.sin(2 * np.pi * (30 - k) * t)


def write_tuev_file(
    edf_path: Path, events, *, sfreq: float = 250.0, duration: float = 60.0
) -> None:
    """One TUEV-style EDF (``EEG XX-REF`` channels + EKG + PHOTIC) and its ``.rec``.

    ``events``: rows (channel, start, stop, label)."""
    from biosig.signal.recording import Recording
    from biosig.io.write import write_edf

    t = np.arange(int(duration * sfreq)) / sfreq
    names = [f"EEG {e}-REF" for e in TUH_ELECTRODES] + ["EEG EKG1-REF", "PHOTIC-REF"]
    data = np.stack(
        [tuh_signal(e, t) for e in TUH_ELECTRODES]
        + [100 * np.sin(2 * np.pi * 1.2 * t), np.zeros_like(t)]
    )
    rec = Recording(
        data=data,
        sfreq=sfreq,
        ch_names=names,
        units=["uV"] * len(names),
        ch_types=["eeg"] * 24 + ["misc"],
    )
    edf_path = Path(edf_path)
    edf_path.parent.mkdir(parents=True, exist_ok=True)
    write_edf(edf_path, rec)
    lines = [f"{int(c)},{s:.4f},{e:.4f},{int(lab)}" for c, s, e, lab in events]
    edf_path.with_suffix(".rec").write_text("\n".join(lines) + "\n")


def write_tuev_tree(
    root: Path,
    n_subjects: int = 5,
    files_per_subject: int = 1,
    events_per_file: int = 6,
    n_eval_subjects: int = 2,
    seed: int = 0,
    duration: float = 60.0,
) -> list[Path]:
    """TUEV's layout: ``<root>/edf/train/<subject>/<subject>_0000000k.edf`` and
    ``<root>/edf/eval/<NNN>/<class>_<NNN>_a_.edf`` (the k-th eval file of a subject: class
    ``spsw, gped, ...`` in turn, its events all of that class; ``a_1``, ``a_2``... after six),
    each with its ``.rec``."""
    rng = np.random.default_rng(seed)
    out = []
    for part, n in (("train", n_subjects), ("eval", n_eval_subjects)):
        for s in range(n):
            subj = f"tr{s:06d}" if part == "train" else f"{s:03d}"
            for k in range(files_per_subject):
                starts = np.sort(rng.uniform(0.0, duration - 1.0, size=events_per_file)).round(1)
                labels = rng.integers(1, 7, size=len(starts)) if part == "train" else (
                    np.full(len(starts), k % 6 + 1))
                ev = [(int(rng.integers(0, 22)), st, st + 1.0, int(lab))
                      for st, lab in zip(starts, labels)]
                name = (f"{subj}_{k + 1:08d}" if part == "train" else
                        f"{TUEV_REC_CLASSES[k % 6]}_{subj}_a_{k // 6 or ''}")
                path = Path(root) / "edf" / part / subj / f"{name}.edf"
                write_tuev_file(path, ev, duration=duration)
                out.append(path)
    return out


# ------------------------------------------------------------------------------------ CHB-MIT
#: The 23 channel labels of most CHB-MIT EDFs (T8-P8 appears twice, as in the real files).
CHBMIT_EDF_LABELS = [
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4",
    "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9",
    "FT9-FT10", "FT10-T8", "T8-P8",
]  # fmt: skip


def write_chbmit(root, files: dict, seconds: float = 60.0, sfreq: float = 256.0, seed: int = 0,
                 numbered: bool = False):
    """CHB-MIT layout: ``chbNN/chbNN_MM.edf`` + ``chbNN/chbNN-summary.txt``.

    ``files`` maps ``"chb01_01"`` to its seizures ``[(start, end), ...]`` in s, or to
    ``("referential", seizures)`` for a file with referential channels (written after a
    ``Channels changed:`` block, as in cases 12-19). ``numbered`` writes the
    ``Seizure 1 Start Time:`` style of the later cases. Seizures carry a 3 Hz rhythm.
    """
    from biosig.io import write_edf
    from biosig.signal.recording import Recording

    rng = np.random.default_rng(seed)
    root = Path(root)
    n = int(seconds * sfreq)
    t = np.arange(n) / sfreq
    by_case: dict[str, list] = {}
    for name, spec in files.items():
        by_case.setdefault(name.split("_")[0], []).append((name, spec))
    for case, entries in by_case.items():
        folder = root / case
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["Data Sampling Rate: 256 Hz", "*" * 25, "", "Channels in EDF Files:", "*" * 22]
        lines += [f"Channel {i}: {c}" for i, c in enumerate(CHBMIT_EDF_LABELS, 1)] + [""]
        listed = CHBMIT_EDF_LABELS
        for name, spec in entries:
            referential = isinstance(spec, tuple)
            seizures = spec[1] if referential else spec
            labels = (["FP1", "F7", "T7", "P7", "O1", "F3", "C3", "P3", "FP2", "F4", "C4", "P4",
                       "O2", "F8", "T8", "P8", "FZ", "CZ"] if referential else CHBMIT_EDF_LABELS)
            if labels != listed:
                lines += ["Channels changed:", "*" * 17]
                lines += [f"Channel {i}: {c}" for i, c in enumerate(labels, 1)] + [""]
                listed = labels
            data = rng.normal(0, 20, (len(labels), n))
            for s, e in seizures:
                span = (t >= s) & (t < e)
                data[:, span] += 150 * np.sin(2 * np.pi * 3 * t[span])
            rec = Recording(data, sfreq, list(labels), ["eeg"] * len(labels),
                            ["uV"] * len(labels))
            write_edf(folder / f"{name}.edf", rec)
            lines += [f"File Name: {name}.edf", "File Start Time: 10:00:00",
                      "File End Time: 10:01:00", f"Number of Seizures in File: {len(seizures)}"]
            for k, (s, e) in enumerate(seizures, 1):
                tag = f"Seizure {k}" if numbered else "Seizure"
                lines += [f"{tag} Start Time: {s:g} seconds", f"{tag} End Time: {e:g} seconds"]
            lines.append("")
        (folder / f"{case}-summary.txt").write_text("\n".join(lines) + "\n")
    return root
