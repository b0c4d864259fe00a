"""Figures a clinician-researcher can read: rates in the confusion matrix, several windows per
class with an amplitude scale bar, generated trials without a reconstruction legend."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from biosig.viz import training
from biosig.viz.reconstruction import plot_generated, plot_reconstructions


@pytest.fixture
def kept(monkeypatch):
    """The figures the plot functions close, kept for inspection."""
    figs, close = [], plt.close
    monkeypatch.setattr(training.plt, "close", figs.append)
    yield figs
    for fig in figs:
        close(fig)


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_confusion_matrix_shows_counts_and_row_rates(tmp_path, kept):
    cm = np.array([[4, 2], [3, 3]])
    out = training.plot_confusion_matrix(cm, ["left", "right"], tmp_path / "cm.png")
    assert out.stat().st_size > 5_000
    (fig,) = kept
    assert set(_texts(fig)) == {"4\n67 %", "2\n33 %", "3\n50 %"}
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["left (n=6)", "right (n=6)"]
    assert "accuracy 58.3 % (7/12)" in ax.get_title()


def test_training_curves_count_epochs_from_one_as_the_progress_lines(tmp_path, kept):
    csv = tmp_path / "metrics.csv"  # Lightning's CSVLogger: epochs from 0, val and train rows
    csv.write_text("epoch,step,train_loss,val_loss\n0,9,0.7,\n0,9,,0.6\n1,19,0.5,\n1,19,,0.4\n")
    training.plot_training_curves(csv, tmp_path / "curves.png", metrics=("loss",))
    (fig,) = kept
    lines = fig.axes[0].get_lines()
    assert [list(line.get_xdata()) for line in lines] == [[1, 2], [1, 2]]
    assert [list(line.get_ydata()) for line in lines] == [[0.7, 0.5], [0.6, 0.4]]


def test_example_windows_several_per_class_with_a_scale_bar(tmp_path, kept):
    rng = np.random.default_rng(0)
    X = rng.normal(0, 10, (12, 4, 250)).astype(np.float32)  # µV
    y = np.repeat([0, 1], 6)
    training.plot_example_windows(X, y, ["C3", "Cz", "C4", "Pz"], ["left", "right"], 125.0,
                                  tmp_path / "w.png", n_per_class=3)
    (fig,) = kept
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == ["left: window 0", "left: window 1", "left: window 2",
                          "left: mean of 6 windows"]
    assert titles[4:7] == ["right: window 6", "right: window 7", "right: window 8"]
    bars = [t for t in _texts(fig) if t.strip().endswith("µV")]
    assert len(bars) == 6 and len(set(bars)) == 1  # one bar per window, one scale for all
    value = float(bars[0].split()[0])
    assert value in (10.0, 20.0, 50.0)  # a round length near half the trace spacing
    assert "bar = " in fig._suptitle.get_text()


def test_generated_trials_have_no_reconstruction_legend():
    g = np.random.default_rng(0).normal(size=(2, 3, 100))
    fig = plot_generated(g, sfreq=50.0, ch_names=["C3", "Cz", "C4"])
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["generated 1", "generated 2"]
    rec = plot_reconstructions(g[:1], g[:1] * 0.9, sfreq=50.0)
    labels = [t.get_text() for t in rec.axes[0].get_legend().get_texts()]
    assert labels == ["original", "reconstruction"]
