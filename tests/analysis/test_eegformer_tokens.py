"""EEGFormer token analyses: scores, AUROC, n-grams, naive Bayes, occurrence maps, plots."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from biosig.analysis import tokens as tk
from biosig.errors import ConfigError, ShapeError
from biosig.models import EEGFormer
from biosig.viz.tokens import plot_codebook_usage, plot_score_distributions, plot_token_occurrence


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def test_auroc_and_balanced_accuracy_values():
    assert tk.auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert tk.auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert tk.auroc([1, 2, 1, 3], [0, 0, 1, 1]) == pytest.approx(0.625)  # one tie: 2.5 / 4
    with pytest.raises(ConfigError, match="both classes"):
        tk.auroc([1, 2], [1, 1])
    assert tk.balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0]) == 0.5
    assert tk.balanced_accuracy([0, 1, 1, 2], [0, 1, 0, 2]) == pytest.approx(2.5 / 3)


def test_code_frequencies_and_rarity():
    ref = np.zeros((4, 2, 3), dtype=np.int64)  # background uses code 0 only
    p = tk.code_frequencies(ref, 4, alpha=1.0)
    assert np.allclose(p, np.array([25, 1, 1, 1]) / 28)
    pp = tk.code_frequencies(ref, 4, per_position=True)
    assert pp.shape == (3, 4) and np.allclose(pp.sum(1), 1)
    test = np.zeros((2, 2, 3), dtype=np.int64)
    test[1, 0, 1] = 3  # one rare token
    s = tk.token_rarity_scores(test, p)
    assert s[1] > s[0] == pytest.approx(-np.log(25 / 28))
    assert tk.token_rarity_scores(test, p, reduce="max")[1] == pytest.approx(-np.log(1 / 28))
    assert np.allclose(pp[:, 0], 9 / 12)  # 8 tokens per position + 1, over 8 + 4
    assert tk.token_rarity_scores(test, pp)[0] == pytest.approx(-np.log(0.75))
    with pytest.raises(ConfigError, match="outside"):
        tk.token_rarity_scores(test + 4, p)
    with pytest.raises(ShapeError, match="n_patches=3"):
        tk.token_rarity_scores(test, np.ones((5, 4)) / 4)


def test_ngrams_count_along_channels_only():
    idx = np.array([[[1, 2, 1], [2, 1, 0]]])  # one window, 2 channels, 3 patches
    vocab = tk.NgramVocabulary(n_codes=3, n=2).fit(idx)
    names = vocab.feature_names()
    counts = dict(zip(names, vocab.transform(idx)[0]))
    assert counts == {"0": 1, "1": 3, "2": 2, "1-0": 1, "1-2": 1, "2-1": 2}
    # "0-1" (across the channel boundary) is not an n-gram; unseen n-grams are dropped
    other = vocab.transform(np.array([[[0, 0, 0], [0, 1, 2]]]))[0]
    assert dict(zip(names, other)) == {"0": 4, "1": 1, "2": 1, "1-0": 0, "1-2": 1, "2-1": 0}
    with pytest.raises(ConfigError, match="before fit"):
        tk.NgramVocabulary(3).transform(idx)
    with pytest.raises(ConfigError, match=r"n=4: n-grams of 4 tokens need >= 4 patches .* have 3"):
        tk.NgramVocabulary(3, n=4).fit(idx)
    with pytest.raises(ConfigError, match="50-grams of 64 codes overflow"):  # at construction
        tk.NgramVocabulary(64, n=50)


def test_multinomial_naive_bayes_matches_hand_computation():
    x = np.array([[3, 0, 1], [2, 1, 0], [0, 2, 3], [1, 0, 4]], float)
    y = np.array(["a", "a", "b", "b"])
    nb = tk.MultinomialNB(alpha=1.0).fit(x, y)
    theta_a = np.array([6, 2, 2]) / 10  # counts 5,1,1 + 1
    assert np.allclose(np.exp(nb.feature_log_prob_[0]), theta_a)
    q = np.array([[1.0, 1.0, 0.0]])
    theta_b = np.array([2, 3, 8]) / 13
    ja, jb = q @ np.log(theta_a) + np.log(0.5), q @ np.log(theta_b) + np.log(0.5)
    expect = np.exp(ja) / (np.exp(ja) + np.exp(jb))
    assert np.exp(nb.predict_log_proba(q))[0, 0] == pytest.approx(expect[0])
    assert list(nb.predict(x)) == list(y)
    table = tk.informative_ngrams(nb, ["u", "v", "w"], top=1)
    assert list(table["ngram"]) == ["u", "w"]
    with pytest.raises(ShapeError, match=r"expected counts \(n, 3\)"):  # was numpy's matmul
        nb.predict(x[:, :2])
    with pytest.raises(ConfigError, match="call fit"):
        tk.MultinomialNB().predict(x)


def test_token_occurrence_and_usage():
    idx = np.array([[[5, 1]], [[5, 5]], [[1, 1]]])
    labels = np.array([0, 0, 1])
    occ = tk.token_occurrence(idx, 5, labels, 0)
    assert occ.shape == (1, 2) and np.allclose(occ, [[1.0, 0.5]])
    usage = tk.codebook_usage(idx, labels, n_codes=6, classes=["x", "y"])
    assert usage.loc["x", 5] == 0.75 and usage.loc["y", 1] == 1.0
    assert np.allclose(usage.sum(axis=1), 1)
    with pytest.raises(ConfigError, match="no window"):
        tk.token_occurrence(idx, 5, labels, 7)
    with pytest.raises(ConfigError, match="labels and label together"):  # was: all windows
        tk.token_occurrence(idx, 5, label=0)


def test_window_tokens_on_a_tiny_eegformer_and_plots():
    torch.manual_seed(0)
    net = EEGFormer(n_times=200, fft_frame=50, patch_len=25, patch_stride=25, emb_size=16,
                    n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=8).train()
    x = torch.randn(5, 3, 200)
    idx, err = tk.window_tokens(net, x, batch_size=2)
    assert net.training  # mode restored
    assert idx.shape == err.shape == (5, 3, 4) and idx.dtype == np.int64
    with torch.no_grad():
        ref = net.eval().forward_pretrain(x)
    assert np.array_equal(idx, ref.vq.indices.numpy())
    assert np.allclose(err.mean(), float(ref.recon_loss), rtol=1e-4)
    assert tk.reconstruction_scores(err).shape == (5,)
    with pytest.raises(ShapeError):
        tk.window_tokens(net, x[0])
    bad = x.clone()
    bad[3, 2, 7] = float("nan")  # was code 0 and a NaN error for that channel, silently
    with pytest.raises(ConfigError, match=r"window 3 holds NaN.*channel 2"):
        tk.window_tokens(net, bad, batch_size=2)
    read_only = x.numpy().copy()
    read_only.flags.writeable = False  # as a cache's X: no "not writable" warning, same codes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(tk.window_tokens(net, read_only, batch_size=2)[0], idx)
    labels = np.array([0, 1, 0, 1, 1])
    fig = plot_codebook_usage(tk.codebook_usage(idx, labels, 8))
    assert len(fig.axes) == 2
    maps = {c: tk.token_occurrence(idx, [0, 1], labels, c) for c in (0, 1)}
    fig = plot_token_occurrence(maps, ch_names=["a", "b", "c"], patch_labels=list("wxyz"))
    assert len(fig.axes) == 3
    with pytest.raises(ShapeError, match="channel names"):
        plot_token_occurrence(maps, ch_names=["a"])
    fig = plot_score_distributions({"rec": err.mean((1, 2))}, labels, classes=["bg", "ev"])
    assert len(fig.axes) == 1


def test_pretrained_on_background_detects_artifact_windows():
    """Tiny pipeline: VQ pretraining on one simulated subject's background windows, then the
    reconstruction score separates another subject's eye-movement and artifact windows."""
    from biosig.datasets.synthetic import TUEV_LIKE_CLASSES, simulate_tuev_subject

    def windows(subject):
        rec = simulate_tuev_subject(subject, n_per_class=6)
        x = rec.data.reshape(len(rec.ch_names), -1, 1000).transpose(1, 0, 2)
        y = np.array([TUEV_LIKE_CLASSES.index(d) for d in rec.annotations.description])
        return torch.from_numpy(np.ascontiguousarray(x)), y

    bckg, eyem, artf = (TUEV_LIKE_CLASSES.index(c) for c in ("bckg", "eyem", "artf"))
    x_train, y_train = windows(1)
    x_test, y_test = windows(2)
    torch.manual_seed(0)
    net = EEGFormer(n_times=1000, fft_frame=100, patch_len=50, patch_stride=50, emb_size=16,
                    n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=16, ema=True,
                    data_init=True, dead_after=5, drop_prob=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x_bg = x_train[torch.from_numpy(y_train == bckg)]
    for _ in range(40):
        loss = net.forward_pretrain(x_bg).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    keep = np.isin(y_test, [bckg, eyem, artf])
    idx, err = tk.window_tokens(net, x_test[torch.from_numpy(keep)])
    score = tk.reconstruction_scores(err, reduce="max")
    assert tk.auroc(score, y_test[keep] != bckg) > 0.8
    assert len(np.unique(idx)) > 4  # the codebook did not collapse
