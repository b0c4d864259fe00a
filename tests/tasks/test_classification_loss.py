"""ClassificationTask's loss options: class weights (EEGDM's CHB-MIT positive weighting); a
multilabel setting the data contradict."""

import pytest
import torch
import torch.nn.functional as F

from biosig.errors import ConfigError
from biosig.tasks import ClassificationTask

KW = dict(n_chans=2, n_times=64, sfreq=64.0)


def test_class_weights_weight_the_cross_entropy():
    task = ClassificationTask("eegnet", n_outputs=2, class_weights=[1.0, 150.51], **KW)
    logits, y = torch.randn(6, 2), torch.tensor([0, 0, 0, 0, 1, 1])
    expected = F.cross_entropy(logits, y, weight=torch.tensor([1.0, 150.51]))
    assert torch.allclose(task.loss(logits, y), expected)
    assert not torch.allclose(expected, F.cross_entropy(logits, y))
    assert "class_weights" not in task.state_dict()  # a setting, not a weight


def test_class_weights_are_pos_weight_for_multilabel():
    task = ClassificationTask("eegnet", n_outputs=3, multilabel=True, class_weights=[1, 2, 3],
                              **KW)
    logits, y = torch.randn(4, 3), torch.randint(0, 2, (4, 3))
    expected = F.binary_cross_entropy_with_logits(logits, y.float(),
                                                  pos_weight=torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(task.loss(logits, y), expected)


@pytest.mark.parametrize("weights", [[1.0], [1.0, 0.0], [1.0, 2.0, 3.0]])
def test_bad_class_weights_are_refused(weights):
    with pytest.raises(ConfigError, match="class_weights"):
        ClassificationTask("eegnet", n_outputs=2, class_weights=weights, **KW)


@pytest.mark.parametrize("multilabel_data", [True, False], ids=["multi-data", "single-data"])
def test_fit_refuses_a_multilabel_setting_the_data_source_contradicts(tmp_path, multilabel_data):
    """The Python API: a task whose ``multilabel`` is not its DataModule source's failed at the
    first step on the labels' shape (torchmetrics, or BCE's size check)."""
    from biosig.data.datamodule import BiosigDataModule
    from biosig.data.protocols import RandomSplit
    from biosig.datasets.synthetic import SyntheticECG, SyntheticMI
    from tests._task_fixtures import quiet_trainer

    source = (SyntheticECG(n_records=4, duration=2.0, sfreq=100.0) if multilabel_data else
              SyntheticMI(n_subjects=1, n_trials_per_class=2))
    dm = BiosigDataModule(source, protocol=RandomSplit(0.25, 0.25, by=None), batch_size=2,
                          cache_dir=tmp_path)
    task = ClassificationTask("eegnet", n_chans=dm.n_chans, n_times=dm.n_times, sfreq=dm.sfreq,
                              n_outputs=dm.n_outputs, multilabel=not multilabel_data)
    name = type(source).__name__
    with pytest.raises(ConfigError, match=rf"multilabel={not multilabel_data} "
                                          rf"\(model.init_args.multilabel\) but the data source "
                                          rf"{name} is"):
        quiet_trainer(tmp_path, max_epochs=1).fit(task, dm)
    assert quiet_trainer(tmp_path).predict(task, dm)  # reads no labels: not refused
