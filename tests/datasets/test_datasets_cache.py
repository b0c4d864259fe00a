"""The dataset sources plug into the spine's window cache (get_cache) end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _dataset_fixtures import SHARED, write_bciiv2a_session, write_true_labels, write_tuev_tree
from biosig.data.cache import get_cache
from biosig.datasets.bciiv2a import BCIIV2a
from biosig.datasets.tuev import TUEV

LABELS = np.array([1, 2, 3, 4, 2, 1, 4, 3])


def test_bciiv2a_cache_both_forms(tmp_path):
    for sess in ("T", "E"):
        write_bciiv2a_session(tmp_path / "gdf", f"A01{sess}", LABELS, session=sess, trials_per_run=4,
                              bnci_folder=tmp_path / "bnci", rejected=(2,), seed=ord(sess))
        write_true_labels(tmp_path / "gdf" / "true_labels" / f"A01{sess}.mat", LABELS)
    caches = {}
    for form in ("gdf", "bnci"):
        ds = BCIIV2a(tmp_path / form, subjects=[1], include_end=True)
        caches[form] = get_cache(ds, [], root=tmp_path / f"cache-{form}", progress=False)
    g, b = caches["gdf"], caches["bnci"]
    assert g.X.shape == b.X.shape == (16, 22, 1001)
    np.testing.assert_array_equal(g.y, b.y)
    np.testing.assert_array_equal(g.y, np.concatenate([LABELS, LABELS]) - 1)
    np.testing.assert_allclose(np.asarray(g.X), np.asarray(b.X), atol=1e-3)
    assert list(g.meta["session"]) == ["T"] * 8 + ["E"] * 8
    params = json.loads((g.path / "params.json").read_text())
    assert params["dataset"]["form"] == "gdf" and str(tmp_path) not in json.dumps(params["dataset"])


def test_tuev_cache(tmp_path):
    write_tuev_tree(tmp_path / "tuev", n_subjects=3, n_eval_subjects=1, events_per_file=3, duration=30.0)
    ds = TUEV(tmp_path / "tuev", val_fraction=0.34)
    cache = get_cache(ds, [], root=tmp_path / "cache", progress=False)
    assert cache.X.shape == (12, 22, 1000) and cache.sfreq == 200
    assert set(cache.meta["split"]) == {"train", "val", "test"}
    assert cache.stats["skipped_out_of_bounds"] == 0


@pytest.mark.shared_data
def test_cinc_cache_multilabel(tmp_path):
    folder = SHARED / "ecg_wfdb" / "cinc2021"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    from biosig.signal.preprocessing import Resample
    from biosig.datasets.cinc import CinC

    ds = CinC(folder, hash_cache=tmp_path / "h", leads=2)
    cache = get_cache(ds, [Resample(100.0)], root=tmp_path / "cache", progress=False)
    assert cache.X.shape == (20, 2, 1000) and cache.y.shape == (20, 26) and cache.multilabel
    dup = cache.meta.set_index("record").loc[["E07509", "E07510"], "subject"]
    assert dup.nunique() == 1
