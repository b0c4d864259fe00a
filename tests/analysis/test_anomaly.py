"""Anomaly scoring: robust thresholds, flag tables, trial extraction, plots (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biosig.analysis.anomaly import (
    extract_trials,
    flag_trials,
    reconstruct_trials,
    robust_threshold,
    score_trials,
    trial_errors,
)
from biosig.errors import ChannelError, ConfigError
from biosig.signal.recording import Annotations, Recording
from biosig.viz.reconstruction import plot_reconstructions


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def test_robust_threshold_values():
    s = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    med, sigma, thr = robust_threshold(s, k=2.0)
    assert med == 3.0
    assert sigma == pytest.approx(1.4826 * 1.0)  # MAD of |s - 3| = [2, 1, 0, 1, 97] -> 1
    assert thr == pytest.approx(3.0 + 2.0 * 1.4826)
    # MAD = 0 (most scores equal): falls back to the scaled mean absolute deviation
    med, sigma, _ = robust_threshold([5.0, 5.0, 5.0, 5.0, 9.0])
    assert med == 5.0 and sigma == pytest.approx(1.2533 * 0.8)
    with pytest.raises(ConfigError):
        robust_threshold([np.nan])


def test_flag_trials_per_subject_and_columns():
    rng = np.random.default_rng(0)
    e = rng.normal(10, 1, size=(40, 3))
    e[20:] *= 5  # subject 2 has a larger error scale: its own threshold applies
    e[7, 1] = 40.0  # outlier of subject 1 (below subject 2's normal level)
    e[33, 2] = 200.0  # outlier of subject 2
    subj = np.repeat([1, 2], 20)
    tab = flag_trials(e, subjects=subj, k=3.0, score="mean", ch_names=["a", "b", "c"])
    assert set(tab.index[tab.flagged]) == {7, 33}
    assert list(tab.index[:2]) == [33, 7] or list(tab.index[:2]) == [7, 33]
    assert tab.loc[7, "worst_channel"] == "b" and tab.loc[33, "worst_channel"] == "c"
    assert tab.loc[7, "bad_channels"] == "b"
    # a trial that is not flagged lists no bad channel, even one with a channel z over k
    e[12, 0] += 6.5  # channel a 3.5 MADs up, the trial's mean 2.6
    tab = flag_trials(e, subjects=subj, k=3.0, score="mean", ch_names=["a", "b", "c"])
    assert not tab.loc[12, "flagged"] and tab.loc[12, "worst_channel_z"] > 3.0
    assert (tab.bad_channels[~tab.flagged] == "").all() and tab.loc[7, "bad_channels"] == "b"
    assert {"subject", "trial", "score", "median", "threshold", "robust_z", "flagged",
            "worst_channel_z", "worst_metric"} <= set(tab.columns)
    assert (tab.robust_z.diff().dropna() <= 0).all()  # sorted, worst first
    # per-trial scores only
    tab1 = flag_trials(e[:20].mean(1), k=3.0)
    assert list(tab1.index[tab1.flagged]) == [7]


def test_flag_trials_max_z_finds_a_small_scale_channel():
    rng = np.random.default_rng(1)
    e = np.column_stack([rng.normal(1000, 50, 30), rng.normal(1, 0.05, 30)])
    e[4, 1] = 2.0  # 20 sigma on a channel whose errors are 1000x smaller
    assert not flag_trials(e, score="mean").loc[4, "flagged"]
    tab = flag_trials(e, score="max_z")
    assert tab.index[0] == 4 and tab.loc[4, "flagged"]
    # several metrics are combined by the largest z
    other = rng.normal(0.1, 0.01, size=(30, 2))
    other[9, 0] = 1.0
    tab2 = flag_trials({"dtw": e, "corr": other}, score="max_z")
    assert set(tab2.index[:2]) == {4, 9}
    assert tab2.loc[9, "worst_metric"] == "corr" and tab2.loc[4, "worst_metric"] == "dtw"
    with pytest.raises(ConfigError, match="one metric"):
        flag_trials({"dtw": e, "corr": other}, score="mean")
    with pytest.raises(ConfigError, match="subject ids"):
        flag_trials(e, subjects=[1, 2])
    with pytest.raises(ConfigError, match="score"):
        flag_trials(e, score="median")


def test_trial_errors_metrics():
    g = np.random.default_rng(2)
    x = g.normal(size=(3, 2, 50))
    x_hat = x + 0.1 * g.normal(size=x.shape)
    np.testing.assert_allclose(trial_errors(x, x_hat, "mse"), ((x - x_hat) ** 2).mean(-1))
    d = trial_errors(x, x_hat, "dtw")
    assert d.shape == (3, 2) and (d <= ((x - x_hat) ** 2).sum(-1) + 1e-9).all()
    c = trial_errors(x, np.zeros_like(x), "corr")
    np.testing.assert_allclose(c, 1.0)  # constant reconstruction -> r undefined -> error 1
    with pytest.raises(ConfigError, match="metric"):
        trial_errors(x, x_hat, "l1")


def _recording():
    sfreq = 100.0
    data = np.vstack([np.arange(1000) * 1.0, -np.arange(1000) * 1.0, np.ones(1000)])
    ann = Annotations.from_lists([1.0, 4.0, 8.5], [0, 0, 0], ["trial_start"] * 3)
    return Recording(data, sfreq, ["C3", "C4", "EOG"], ["eeg", "eeg", "eog"],
                     ["uV"] * 3, ann)


def test_extract_trials():
    rec = _recording()
    x = extract_trials(rec, tmin=2.0, tmax=4.0)
    assert x.shape == (2, 2, 200)  # the third window runs past the end; EOG excluded
    np.testing.assert_array_equal(x[0, 0], np.arange(300, 500))
    x2 = extract_trials(rec, tmin=0.0, tmax=1.0, picks=["C4"])
    assert x2.shape == (3, 1, 100)
    with pytest.raises(ChannelError):
        extract_trials(rec, picks=["Cz"])
    with pytest.raises(ConfigError):
        extract_trials(rec, event="cue")


def test_reconstruct_trials_restores_mode_and_plots():
    from biosig.models.hveegnet import HVEEGNet

    torch.manual_seed(0)
    m = HVEEGNet(n_chans=2, n_times=60, sfreq=60.0).train()
    x = np.random.default_rng(0).normal(size=(5, 2, 60)).astype(np.float32)
    xh = reconstruct_trials(m, x, batch_size=2)
    assert xh.shape == x.shape and m.training
    np.testing.assert_allclose(reconstruct_trials(m, x, batch_size=5), xh, atol=1e-5)
    fig = plot_reconstructions(x[:2], xh[:2], sfreq=60.0, generated=xh[2:3], max_channels=2)
    assert len(fig.axes) == 2 * 3
    with pytest.raises(ConfigError):
        reconstruct_trials(m, x[0])


def test_non_finite_trials_are_refused_not_ranked_as_ordinary():
    """A trial with a NaN sample has a NaN error, whose robust z-score became 0: the corrupted
    trial sat among the ordinary ones, unflagged."""
    from biosig.models.hveegnet import HVEEGNet

    x = np.random.default_rng(0).normal(size=(6, 2, 60)).astype(np.float32)
    x[4, 1, 17] = np.nan
    x[5, 0, 3] = np.inf
    m = HVEEGNet(n_chans=2, n_times=60, sfreq=60.0)
    with pytest.raises(ConfigError, match=r"x: 2 trial\(s\) hold NaN or infinite values \(trials "
                                          r"4, 5; trial 4 first at channel 1, sample 17\)"):
        reconstruct_trials(m, x)
    errors = np.abs(np.random.default_rng(1).normal(size=(20, 3)))
    errors[7, 2] = np.nan
    with pytest.raises(ConfigError, match=r"errors\['error'\]: 1 trial\(s\) .*\(trials 7; "
                                          r"trial 7 first at channel 2\)"):
        flag_trials(errors)
    flag_trials(np.nan_to_num(errors))  # finite errors are scored


def test_reconstruct_trials_needs_no_grad_from_the_model():
    """Any module with ``reconstruct`` works: no autograd graph is built (a model whose
    ``reconstruct`` tracks gradients gave tensors numpy() refuses)."""

    class _Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(2.0))

        def reconstruct(self, x):
            return self.w * x

    x = np.ones((3, 2, 5), np.float32)
    np.testing.assert_array_equal(reconstruct_trials(_Scale(), x, batch_size=2), 2 * x)


def test_score_trials_names_the_flagged_windows_by_their_ids():
    """score_trials had no trial_ids (flag_trials has): its table named a flagged window only by
    its position in x; a list of ids of another length gave an IndexError (shorter) or silently
    the first ids (longer)."""
    from biosig.models.hveegnet import HVEEGNet

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(scale=10.0, size=(12, 3, 60)).astype(np.float32)
    x[7, 1, 30:] += 500.0  # a step on channel b of window 7
    ids = [f"rec{i // 6}:{i % 6}" for i in range(12)]
    m = HVEEGNet(n_chans=3, n_times=60, sfreq=60.0)
    table, _, _ = score_trials(m, x, subjects=[0] * 12, ch_names=["a", "b", "c"], trial_ids=ids)
    worst = table.iloc[0]
    assert (table.index[0], worst["trial"], worst["worst_channel"]) == (7, "rec1:1", "b")
    assert worst["flagged"]
    for wrong in (ids[:5], ids + ["rec2:0"]):
        with pytest.raises(ConfigError, match=rf"{len(wrong)} trial ids for 12 trials"):
            score_trials(m, x, trial_ids=wrong)


def test_score_trials_refuses_data_in_another_channel_order_than_the_weights(tmp_path):
    """Weights saved with channel names, loaded with from_pretrained: the loaded model named no
    channels, and score_trials scored windows of the same channels in another order silently
    wrong (ch_names were labels only)."""
    from biosig.models.hveegnet import HVEEGNet

    HVEEGNet(n_chans=3, n_times=60, sfreq=60.0).save_pretrained(
        tmp_path, data={"ch_names": ["Fz", "Cz", "Pz"]})
    net = HVEEGNet.from_pretrained(tmp_path)
    assert net.ch_names == ["Fz", "Cz", "Pz"]
    x = np.random.default_rng(0).normal(size=(4, 3, 60)).astype(np.float32)
    with pytest.raises(ConfigError, match=r"channels \['Pz', 'Cz', 'Fz'\] .* trained on, \['Fz', "
                                          r"'Cz', 'Pz'\] .*another order .* x\[:, \[2, 1, 0\]\]"):
        score_trials(net, x, ch_names=["Pz", "Cz", "Fz"])
    with pytest.raises(ConfigError, match=r"missing \['Pz'\]; extra \['Oz'\]; select the"):
        score_trials(net, x, ch_names=["Fz", "Cz", "Oz"])
    table, _, _ = score_trials(net, x, ch_names=["Fz", "Cz", "Pz"])
    assert set(table["worst_channel"]) <= {"Fz", "Cz", "Pz"}


def test_score_trials_refuses_another_channel_order_for_a_task_trained_model_too():
    """hvEEGNet built by a VAETask given the data's channels named none (only a model loaded
    from a card did): scoring the same channels in another order was silently wrong."""
    from biosig.models.hveegnet import HVEEGNet
    from biosig.tasks.vae import VAETask

    names = ["Fz", "Cz", "Pz"]
    net = VAETask("hveegnet", n_chans=3, n_times=60, sfreq=60.0, ch_names=names).net
    assert net.ch_names == names
    assert net.get_config()["kwargs"]["chs_info"] is None  # named, not configured
    x = np.random.default_rng(0).normal(size=(4, 3, 60)).astype(np.float32)
    with pytest.raises(ConfigError, match=r"another order .* x\[:, \[2, 1, 0\]\]"):
        score_trials(net, x, ch_names=names[::-1])
    score_trials(net, x, ch_names=names)
    # without channel names (task or model alike) the order stays unchecked, as before
    for unnamed in (VAETask("hveegnet", n_chans=3, n_times=60, sfreq=60.0).net,
                    HVEEGNet(n_chans=3, n_times=60, sfreq=60.0)):
        assert unnamed.ch_names is None
        score_trials(unnamed, x, ch_names=names[::-1])
