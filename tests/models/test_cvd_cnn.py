"""CVD CNN: sizes, multi-label training through the DataModule with annotation channels."""

import numpy as np
import pytest
import torch

from biosig.errors import ConfigError, ShapeError
from biosig.models import count_parameters
from biosig.models.cvd_cnn import CVDCNN


def test_parameter_counts_and_shapes():
    assert count_parameters(CVDCNN()) == 191_045
    assert count_parameters(CVDCNN(n_chans=14)) == 191_493
    m = CVDCNN(n_chans=14, n_outputs=5, channels=(8, 8))
    out = m(torch.randn(3, 14, 101))
    assert out.shape == (3, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    with pytest.raises(ShapeError):
        m(torch.randn(3, 12, 100))
    with pytest.raises(ConfigError):
        CVDCNN(kernel_size=4)


def test_annotation_step_adds_masks():
    from biosig.datasets.synthetic import simulate_ecg_record
    from biosig.signal.ecg_delineation import ECGAnnotationChannels

    rec = simulate_ecg_record(("NORM",), duration=4.0, sfreq=250.0, seed=1)
    out = ECGAnnotationChannels()(rec)
    assert out.data.shape == (14, rec.data.shape[1])
    assert out.ch_names[-2:] == ["R_mask", "PQ_mask"]
    np.testing.assert_array_equal(out.data[:12], rec.data)
    r = np.round(rec.annotations.onset * 250).astype(int)
    r = r[(r > 100) & (r < rec.data.shape[1] - 20)]
    assert out.data[12, r].min() == 1.0


def test_multilabel_training_with_annotation_channels(tmp_path):
    import lightning.pytorch as pl

    from biosig.data.datamodule import BiosigDataModule
    from biosig.data.protocols import Predefined
    from biosig.datasets.synthetic import SyntheticECG
    from biosig.signal.ecg_delineation import ECGAnnotationChannels
    from biosig.tasks.classification import ClassificationTask

    dm = BiosigDataModule(
        SyntheticECG(n_records=40, duration=4.0, sfreq=100.0),
        preprocessing=[ECGAnnotationChannels(method="energy")],
        protocol=Predefined(train={"fold": list(range(1, 9))}, val={"fold": [9]},
                            test={"fold": [10]}),
        cache_dir=str(tmp_path), batch_size=16)
    assert dm.n_chans == 14 and dm.n_outputs == 5
    task = ClassificationTask(model="cvd_cnn", model_kwargs={"channels": [8, 16]},
                              n_chans=dm.n_chans, n_times=dm.n_times, sfreq=dm.sfreq,
                              n_outputs=dm.n_outputs,
                              multilabel=True, lr=3e-3)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(task, dm)
    res = trainer.test(task, dm, verbose=False)[0]
    assert {"test_auroc", "test_f1_macro", "test_loss"} <= set(res)
    assert np.isfinite(res["test_loss"])
