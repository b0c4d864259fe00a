'''The README's first Python API example (proposed in /work/wt/_notes/ux.md) runs from a fresh
clone: it reads files it writes itself from the built-in simulator, never ../shared.'''

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

EXAMPLE = """\
from pathlib import Path

import lightning.pytorch as pl

from biosig.data import Bandpass, BiosigDataModule, PickChannels, RandomSplit
from biosig.datasets import RecordingFiles, SyntheticMI
from biosig.io import write_edf
from biosig.tasks import ClassificationTask

# Files to read: two subjects of the built-in motor-imagery simulator written as EDF+ (your own
# EDF/BDF/GDF/WFDB files work the same way; open data: biosig.datasets.EEGMMIDB(download=True)).
Path("mi_edf").mkdir(exist_ok=True)
sim = SyntheticMI(n_subjects=2, n_trials_per_class=20, sessions=["T"])
for ref in sim.records():
    write_edf(f"mi_edf/S{ref['subject']}.edf", sim.load(ref))

files = RecordingFiles("mi_edf/S*.edf", classes=["left_hand", "right_hand"], tmin=0.0, tmax=4.0)
dm = BiosigDataModule(files, preprocessing=[PickChannels(types=["eeg"]), Bandpass(4.0, 38.0)],
                      protocol=RandomSplit(val_fraction=0.2, test_fraction=0.2, by=None),
                      batch_size=16)
task = ClassificationTask("eegnet", n_chans=dm.n_chans, n_times=dm.n_times, sfreq=dm.sfreq,
                          n_outputs=dm.n_outputs, lr=3e-3)
trainer = pl.Trainer(max_epochs=5, accelerator="cpu")
trainer.fit(task, dm)
trainer.test(task, dm)      # accuracy, balanced accuracy, kappa, weighted F1, AUROC
"""


def test_api_example_runs_in_an_empty_folder_without_shared_data(tmp_path):
    assert "shared" not in EXAMPLE
    (tmp_path / "example.py").write_text(EXAMPLE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "BIOSIG_CACHE": str(tmp_path / "cache"), "BIOSIG_SHARED_DATA": str(tmp_path / "none")}
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "mi_edf").glob("S*.edf"))) == 2
    assert "test_acc" in proc.stdout and "test_kappa" in proc.stdout
