"""hvEEGNet on the built-in MI simulator: beats a trivial baseline, ranks corrupted trials first.

One small model (4 channels x 1 s at 125 Hz, 8 epochs of the paper's loss and optimiser through
:class:`VAETask` and a Lightning ``Trainer``) is trained once for the module.
"""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from biosig.analysis.anomaly import extract_trials, score_trials, trial_errors
from biosig.viz.reconstruction import plot_worst_trials
from biosig.datasets.synthetic import simulate_mi_session
from biosig.metrics.reconstruction import channel_correlation
from biosig.tasks.vae import VAETask

PICKS = ["C3", "Cz", "C4", "Pz"]
SFREQ = 125.0


@pytest.fixture(scope="module")
def trained():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    kw = dict(classes=("left_hand", "right_hand"), include_eog=False, sfreq=SFREQ)
    rec_t = simulate_mi_session(1, "T", n_trials_per_class=16, **kw)
    rec_e = simulate_mi_session(1, "E", n_trials_per_class=12, **kw)
    # cue onset to +1 s (the paper uses 2-6 s after trial start at 250 Hz)
    train = extract_trials(rec_t, tmin=2.0, tmax=3.0, picks=PICKS)
    test = extract_trials(rec_e, tmin=2.0, tmax=3.0, picks=PICKS)
    torch.manual_seed(0)
    task = VAETask(model="hveegnet", n_chans=4, n_times=train.shape[-1], sfreq=SFREQ)
    labels = torch.zeros(len(train), dtype=torch.long)
    dl = DataLoader(TensorDataset(torch.from_numpy(train), labels), batch_size=8, shuffle=True)
    trainer = pl.Trainer(max_epochs=8, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, dl)
    yield task.net.eval(), train, test
    torch.set_num_threads(prev)


def test_reconstruction_beats_mean_signal_baseline(trained):
    model, train, test = trained
    x_hat = model.reconstruct(torch.from_numpy(test)).numpy()
    # trivial baselines: the per-channel mean training trial, and the per-channel mean value
    mean_trial = np.broadcast_to(train.mean(0, keepdims=True), test.shape).copy()
    mean_value = np.broadcast_to(train.mean((0, 2), keepdims=True), test.shape).copy()
    for name, metric in (("mse", "mse"), ("dtw", "dtw")):
        ours = trial_errors(test, x_hat, metric).mean()
        for base in (mean_trial, mean_value):
            ref = trial_errors(test, base, metric).mean()
            assert ours < 0.6 * ref, (name, ours, ref)
    assert np.nanmean(channel_correlation(test, x_hat)) > 0.5


def test_corrupted_trials_rank_first(trained):
    model, _, test = trained
    rng = np.random.default_rng(0)
    x = test.copy()
    n_t = x.shape[-1]
    kinds = {}
    for i in (0, 1):  # dead channel
        x[i, i % 4] = 0.0
        kinds[i] = "flat"
    for i in (2, 3):  # electrode pops
        x[i, i % 4, rng.choice(n_t, 3, replace=False)] += 80.0
        kinds[i] = "spikes"
    for i in (4, 5):  # large slow excursion clipped at an amplifier rail of +-60 µV
        t = np.arange(n_t) / SFREQ
        x[i, i % 4] = np.clip(x[i, i % 4] + 200.0 * np.sin(np.pi * t), -60.0, 60.0)
        kinds[i] = "clipping"
    table, x_hat, errors = score_trials(model, x, ch_names=PICKS)
    assert set(errors) == {"dtw", "corr"}
    top = list(table.index[:len(kinds)])
    assert sorted(top) == sorted(kinds), table.head(8)
    assert table.loc[list(kinds), "flagged"].all()
    clean = [i for i in range(len(x)) if i not in kinds]
    assert table.loc[clean, "flagged"].mean() <= 0.1
    # the flagged channel is the corrupted one
    for i in kinds:
        assert table.loc[i, "worst_channel"] == PICKS[i % 4]
    assert table.loc[[0, 1], "worst_metric"].eq("corr").all()
    fig = plot_worst_trials(x, x_hat, table, n=3, sfreq=SFREQ, ch_names=PICKS, max_channels=2)
    assert len(fig.axes) == 2 * 3
