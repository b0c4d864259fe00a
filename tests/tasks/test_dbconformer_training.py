"""DBConformer learns the built-in MI data and attends to sensorimotor channels; topomaps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from biosig.data.datamodule import BiosigDataModule  # noqa: E402
from biosig.data.paper_splits import SessionTransfer  # noqa: E402
from biosig.signal.preprocessing import Bandpass  # noqa: E402
from biosig.signal.windows import EventWindows  # noqa: E402
from biosig.datasets.synthetic import MI_CHANNELS, SyntheticMI  # noqa: E402
from biosig.errors import ChannelError, ConfigError  # noqa: E402
from biosig.experiments import ModelSpec, run_experiment  # noqa: E402
from biosig.viz.topomap import (  # noqa: E402
    class_mean_attention,
    plot_channel_attention,
    plot_topomaps,
    top_channels,
)

CLASSES = ("left_hand", "right_hand")
#: Central row and the adjacent C3/C4 neighbours: where the simulator's hand-area ERD lies.
C3_C4_NEIGHBOURHOOD = {"C5", "C3", "C1", "Cz", "C2", "C4", "C6", "FC3", "FC4", "CP3", "CP4"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Paper architecture (depth 2), EA (train offline, test online), Adam 1e-3, 25 epochs, seed 1;
    subject 1, 2 classes, 8-32 Hz, 2-s windows from 0.5 s after the cue (µV), session T -> E,
    through the experiment runner."""
    dm = BiosigDataModule(
        SyntheticMI(n_subjects=1, n_trials_per_class=30, classes=CLASSES, include_eog=False, seed=0),
        [Bandpass(8.0, 32.0)], EventWindows(0.5, 2.5, {c: i for i, c in enumerate(CLASSES)}),
        protocol=SessionTransfer(), alignment="ea", batch_size=32,
        cache_dir=str(tmp_path_factory.mktemp("cache")))
    kept = {}

    def keep(run):
        ds = run.datamodule.dataset("train")
        x, y = ds.__getitems__(list(range(len(ds))))  # EA-aligned training windows
        kept.update(task=run.task, x_tr=x.numpy(), y_tr=y.numpy())

    spec = ModelSpec("DBConformer", init_args={"model": "dbconformer", "lr": 1e-3,
                                               "optimizer": "adam"}, trainer={"max_epochs": 25})
    res = run_experiment(dm, spec, seeds=[1], trainer={"accelerator": "cpu"}, on_run=keep,
                         verbose=False)
    out = {**res.runs.iloc[0].to_dict(), "task": kept["task"]}
    return out, kept["x_tr"], kept["y_tr"]


def test_dbconformer_beats_80_percent_on_builtin_mi(trained):
    out, _, _ = trained
    assert out["acc"] > 0.80, out
    assert out["kappa"] > 0.6


def test_channel_attention_contrast_is_over_c3_c4(trained):
    out, x_tr, y_tr = trained
    w = class_mean_attention(out["task"].net, x_tr, y_tr)
    assert w.shape == (2, 22)
    np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-5)
    contrast = np.abs(w[0] - w[1])
    top2 = top_channels(contrast, MI_CHANNELS, k=2)
    assert set(top2) <= C3_C4_NEIGHBOURHOOD, top2
    assert {"C3", "C4"} & set(top2), top2
    # per-class view: each class's most over-weighted channel (vs the class mean) is sensorimotor
    rel = w / w.mean(0, keepdims=True)
    for k in range(2):
        assert top_channels(rel[k], MI_CHANNELS, k=1)[0] in C3_C4_NEIGHBOURHOOD


def test_topomap_figures(trained):
    out, x_tr, y_tr = trained
    w = class_mean_attention(out["task"].net, x_tr, y_tr)
    for normalize in ("uniform", "classes"):
        fig = plot_channel_attention(w, MI_CHANNELS, classes=CLASSES, normalize=normalize)
        titles = [ax.get_title() for ax in fig.axes]
        assert "left_hand" in titles and "right_hand" in titles
        assert len(fig.axes) == 3  # two maps + colour bar
        matplotlib.pyplot.close(fig)


def test_topomap_errors():
    with pytest.raises(ChannelError, match="no position"):
        plot_topomaps(np.ones(3), ["C3", "C4", "Fc5."])
    with pytest.raises(ChannelError):
        plot_topomaps(np.ones(2), ["C3", "C4", "Cz"])
    with pytest.raises(ConfigError):
        plot_channel_attention(np.ones((2, 3)) / 3, ["C3", "C4", "Cz"], normalize="zscore")
    with pytest.raises(ChannelError):
        top_channels(np.ones(3), ["C3"])
