"""Errors that name the fix: channel-set differences by name, braindecode build failures as a
biosig ShapeError stating the input the model was asked to take."""

import pytest
import torch

from biosig.errors import ConfigError, ShapeError, channel_difference
from biosig.models import create_model, list_models

EEG64 = [f"E{i}" for i in range(64)]


def test_channel_difference_names_the_missing_and_extra_channels():
    assert channel_difference(EEG64, EEG64) == ""
    assert channel_difference(EEG64[:30] + EEG64[31:], EEG64) == "missing ['E30']"
    assert channel_difference(EEG64 + ["EOG"], EEG64) == "extra ['EOG']"
    assert channel_difference(["a", "c"], ["a", "b"]) == "missing ['b']; extra ['c']"
    assert channel_difference(["b", "a"], ["a", "b"]) == (
        "same channels in another order (first difference at position 0: 'b' instead of 'a')")
    assert channel_difference(["a", "a", "b"], ["a", "b", "b"]) == "duplicate names ['a', 'b']"
    many = channel_difference([], EEG64, limit=3)
    assert many == "missing ['E0', 'E1', 'E2'] ... and 61 more"


@pytest.mark.parametrize("name", ["eegnet", "shallowfbcspnet"])
def test_braindecode_build_failure_is_a_shape_error_naming_the_input(name):
    with pytest.raises(ShapeError, match=r"cannot be built for input \(batch, n_chans=22, "
                                         r"n_times=20\) at 250 Hz.*longer windows"):
        create_model(name, n_chans=22, n_outputs=2, n_times=20, sfreq=250.0)


def test_braindecode_forward_with_the_wrong_channels_is_a_shape_error():
    torch.manual_seed(0)
    model = create_model("eegconformer", n_chans=22, n_outputs=2, n_times=1000, sfreq=250.0)
    with pytest.raises(ShapeError, match=r"expects \(batch, n_chans=22, n_times=1000\).*got "
                                         r"\(2, 64, 1000\)"):
        model(torch.zeros(2, 64, 1000))


@pytest.mark.parametrize("name, accepted", [("dbconformer", "depth"), ("eegnet", "F1")])
def test_an_unknown_model_argument_names_the_accepted_ones(name, accepted):
    with pytest.raises(ConfigError, match=rf"model '{name}' has no argument 'foo'; its "
                                          rf"arguments: .*\b{accepted}\b"):
        create_model(name, n_chans=4, n_outputs=2, n_times=500, sfreq=250.0, foo=1)


def test_the_registry_tells_classifiers_from_other_models():
    classifiers = set(list_models(classifier=True))
    assert {"eegnet", "dbconformer", "dbconformer_loso", "eegdm", "cvd_cnn", "lft"} <= classifiers
    others = {"hveegnet", "veegnet", "ssmdp", "ecgnet", "ecgnet_critic"}
    assert set(list_models(classifier=False)) == others
    assert classifiers | others == set(list_models())
