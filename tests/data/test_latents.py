"""Latent-token cache: exact float32 / close float16 tokens, keyed reuse, atomic builds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biosig.data import latents as lat
from biosig.data.cache import get_cache
from biosig.datasets.synthetic import SyntheticTUEV
from biosig.errors import ConfigError, InvalidFileError
from biosig.models import SSMDP

TINY = dict(n_layers=2, d_model=8, d_state=4, d_embed=4, d_cond=8)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cache")
    windows = get_cache(SyntheticTUEV(n_subjects=2, n_per_class=1, n_eval_subjects=1), root=root)
    net = SSMDP(n_chans=22, n_times=1000, sfreq=200.0, **TINY).eval()
    with torch.no_grad():
        expected = net.latents(torch.from_numpy(np.array(windows.X)))
    return root, windows, net, expected


def test_float32_is_exact_float16_is_close_at_half_the_bytes(setup):
    root, windows, net, expected = setup
    c32 = lat.latent_cache(windows, net, dtype="float32", root=root, batch_size=5)
    c16 = lat.latent_cache(windows, net, dtype="float16", root=root, batch_size=5)
    assert len(c32) == len(windows.y) == 12 and c32.token_shape == (2, 5, 22, 8)
    torch.testing.assert_close(torch.from_numpy(np.array(c32.X)), expected)
    torch.testing.assert_close(torch.from_numpy(np.array(c16.X, np.float32)), expected,
                               rtol=1e-3, atol=1e-4)
    assert c16.bytes_per_window * 2 == c32.bytes_per_window == 2 * 5 * 22 * 8 * 4
    tokens, label = c16[3]
    assert tokens.dtype == torch.float32 and label == windows.y[3]
    part = c16.subset([3, 5])
    assert len(part) == 2 and part[0][1] == windows.y[3]
    fly = lat.OnTheFlyLatents(windows, net).subset([3, 5])
    torch.testing.assert_close(fly[1][0], expected[5])


def test_reused_when_the_keys_match_rebuilt_when_the_weights_change(setup, monkeypatch):
    root, windows, net, _ = setup
    first = lat.latent_cache(windows, net, root=root)

    def boom(*args):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(lat, "_extract", boom)
    assert lat.latent_cache(windows, net, root=root).path == first.path
    other = SSMDP(n_chans=22, n_times=1000, sfreq=200.0, **TINY)
    assert lat.extractor_key(other) != lat.extractor_key(net)
    assert lat.extractor_key(net, step=2) != lat.extractor_key(net, step=1)
    with pytest.raises(AssertionError, match="rebuilt"):
        lat.latent_cache(windows, other, root=root)


def test_a_failed_build_leaves_nothing_and_bad_input_is_named(setup, tmp_path, monkeypatch):
    _, windows, net, _ = setup
    calls = []

    def fail_second(extractor, x, kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return np.zeros((len(x), 2, 5, 22, 8), np.float32)

    monkeypatch.setattr(lat, "_extract", fail_second)
    with pytest.raises(RuntimeError, match="killed"):
        lat.latent_cache(windows, net, root=tmp_path, batch_size=4)
    left = [p for p in (tmp_path / "latents").rglob("*") if p.is_file()]
    assert [p.suffix for p in left] == [".lock"]  # the build's lock file, as a window cache's
    with pytest.raises(ConfigError, match="dtype"):
        lat.latent_cache(windows, net, root=tmp_path, dtype="bfloat16")
    monkeypatch.undo()
    built = lat.latent_cache(windows, net, root=tmp_path, dtype="float32")
    with open(built.path / "X.bin", "r+b") as f:
        f.truncate(100)
    with pytest.raises(InvalidFileError, match="X.bin"):
        lat.LatentCache(built.path)


@pytest.mark.parametrize("damage", ["truncated_x", "truncated_y", "other_labels"])
def test_a_damaged_latent_cache_is_rebuilt_not_reused(setup, tmp_path, caplog, damage):
    """A truncated X.bin was refused with 'rebuilt by the next run', which never rebuilt it; a
    truncated y.npy raised numpy's EOF error; labels of other windows were used as read."""
    _, windows, net, _ = setup
    built = lat.latent_cache(windows, net, root=tmp_path, dtype="float32")
    tokens = np.array(built.X)
    if damage == "truncated_x":
        with open(built.path / "X.bin", "r+b") as f:
            f.truncate(100)
    elif damage == "truncated_y":
        with open(built.path / "y.npy", "r+b") as f:
            f.truncate(20)
    else:
        np.save(built.path / "y.npy", np.roll(windows.y, 1))
    with pytest.raises(InvalidFileError, match=f"delete the folder {built.path}"):
        lat.LatentCache(built.path, labels=windows.y)
    caplog.set_level("WARNING", logger="biosig.cache")
    again = lat.latent_cache(windows, net, root=tmp_path, dtype="float32")
    assert again.path == built.path and f"cache {built.path} fails its checks" in caplog.text
    np.testing.assert_array_equal(np.array(again.X), tokens)
    np.testing.assert_array_equal(again.y, windows.y)
