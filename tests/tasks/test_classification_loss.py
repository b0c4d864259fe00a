"""ClassificationTask's loss options: class weights (EEGDM's CHB-MIT positive weighting)."""

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
