"""DBConformer with the data pipeline: PaperProtocol, aligned DataModule, split whiteners, CLI."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from biosig.data.alignment import split_whiteners
from biosig.data.datamodule import BiosigDataModule
from biosig.data.alignment import trial_covariances
from biosig.data.paper_splits import PaperProtocol
from biosig.data.protocols import with_trial_index
from biosig.datasets.synthetic import SyntheticMI
from biosig.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _window_meta(n_subjects=3, per_session=10):
    rows = []
    for s in range(1, n_subjects + 1):
        for sess in ("T", "E"):
            for k in range(per_session):
                rows.append({"record": f"s{s}{sess}", "subject": s, "session": sess,
                             "window": k, "label": k % 2, "trial": k})  # per-session 'trial'
    return pd.DataFrame(rows)


def test_with_trial_index_is_chronological_within_subject():
    meta = with_trial_index(_window_meta())
    assert list(meta.loc[meta.subject == 2, "trial"]) == list(range(20))
    assert "trial_in_session" in meta.columns


@pytest.mark.parametrize("protocol,kw,n_train,n_test", [
    ("co", {}, 8, 2), ("cv", {"fold": 4}, 8, 2), ("loso", {}, 40, 20), ("competition", {}, 10, 10),
])
def test_paper_protocol_split(protocol, kw, n_train, n_test):
    meta = _window_meta()
    if protocol in ("co", "cv"):
        meta = meta[meta.session == "T"].reset_index(drop=True)
    parts = PaperProtocol(protocol=protocol, subject=2, **kw).split(with_trial_index(meta))
    assert len(parts["train"]) == n_train and len(parts["test"]) == n_test
    assert len(parts["val"]) == 0
    assert not set(parts["train"]) & set(parts["test"])
    assert set(meta.subject.iloc[parts["test"]]) == {2}
    if protocol == "competition":
        assert set(meta.session.iloc[parts["train"]]) == {"T"}


def test_paper_protocol_errors():
    with pytest.raises(ConfigError):
        PaperProtocol(protocol="random80")
    with pytest.raises(ConfigError, match="subject 9 not in the data"):
        PaperProtocol(protocol="co", subject=9).split(with_trial_index(_window_meta()))


def _xs(n, c=4, t=120, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c, t)).astype(np.float32)


def test_split_whiteners_no_leakage_and_online_order():
    subjects = np.repeat([1, 2, 3], 10)
    X = _xs(30) * np.repeat([1.0, 3.0, 9.0], 10)[:, None, None].astype(np.float32)
    splits = {"train": np.arange(20), "val": np.zeros(0, int), "test": np.arange(20, 30)}
    w = split_whiteners(X, subjects, splits, "online")
    for s in (1, 2):  # each training subject whitened by its own training trials
        rows = np.flatnonzero(subjects[:20] == s)
        aligned = np.einsum("ncd,ndt->nct", w["train"][rows], X[rows])
        np.testing.assert_allclose(trial_covariances(aligned).mean(0), np.eye(4), atol=1e-4)
    X2 = X.copy()
    X2[25:] *= 50.0  # change later test trials
    w2 = split_whiteners(X2, subjects, splits, "online")
    np.testing.assert_array_equal(w["train"], w2["train"])
    np.testing.assert_array_equal(w["test"][:5], w2["test"][:5])
    assert not np.allclose(w["test"][5:], w2["test"][5:])
    X3 = X.copy()
    X3[20:] += 1.0  # any change of the test subject leaves training untouched in every mode
    for mode in ("online", "offline", "official", "none"):
        np.testing.assert_array_equal(split_whiteners(X, subjects, splits, mode)["train"],
                                      split_whiteners(X3, subjects, splits, mode)["train"])
    with pytest.raises(ConfigError):
        split_whiteners(X, subjects, splits, "future")


def test_split_whiteners_val_subjects():
    subjects = np.repeat([1, 2, 3], 6)
    X = _xs(18)
    splits = {"train": np.arange(0, 12, 2), "val": np.array([1, 3, 13, 15]), "test": np.arange(16, 18)}
    w = split_whiteners(X, subjects, splits)
    np.testing.assert_array_equal(w["val"][0], w["train"][0])  # subject 1 seen in training
    assert not np.allclose(w["val"][2], w["train"][0])  # subject 3: online reference


@pytest.fixture(scope="module")
def tiny_dm(tmp_path_factory):
    src = SyntheticMI(n_subjects=2, n_trials_per_class=4, include_eog=False, seed=0)
    dm = BiosigDataModule(src, protocol=PaperProtocol("loso"), alignment="ea",
                           cache_dir=str(tmp_path_factory.mktemp("cache")), batch_size=4)
    dm.setup()
    return dm


def test_aligned_datamodule_batches(tiny_dm):
    dm = tiny_dm
    assert dm.n_chans == 22 and dm.n_outputs == 2
    ds = dm.dataset("train")
    x, y = ds.__getitems__(list(range(len(ds))))
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    mean_cov = trial_covariances(x.numpy()).mean(0)
    np.testing.assert_allclose(mean_cov, np.eye(22), atol=1e-3)
    xt, _ = next(iter(dm.test_dataloader()))
    raw = torch.from_numpy(np.asarray(dm.cache.X[dm.splits["test"][:4]]))
    assert not torch.allclose(xt, raw)
    dm_none = BiosigDataModule(dm.source, protocol=dm.protocol, cache_dir=dm.cache_dir,
                                alignment=None)
    xr, _ = next(iter(dm_none.test_dataloader()))
    torch.testing.assert_close(xr[:4], raw)
    with pytest.raises(ConfigError):
        BiosigDataModule(dm.source, alignment="riemann")


def test_datamodule_folds_and_online_order(tiny_dm):
    """The DataModule lists the protocol's folds; a fold's test windows are aligned online in
    chronological order (``trial_meta['trial']``), each with its own whitener."""
    dm = tiny_dm
    folds = dm.folds()
    assert [f.subject for f in folds] == ["1", "2"] and dm.fold.subject == "1"
    dm2 = dm.for_fold(folds[1], seed=3)
    assert dm2.seed == 3 and dm2.cache is dm.cache and dm.fold.subject == "1"
    test = dm2.splits["test"]
    assert set(dm.meta.subject[test]) == {2}
    trial = dm2.trial_meta["trial"].to_numpy()[test]
    assert list(trial) == sorted(trial)  # cache order is chronological within the subject
    x = np.asarray(dm.cache.X[test], dtype=np.float64)
    from biosig.data.alignment import online_whiteners

    np.testing.assert_allclose(dm2.whiteners["test"], online_whiteners(x), rtol=1e-5, atol=1e-6)


def _load_yaml(name):
    return yaml.safe_load((ROOT / "recipes" / "bciiv2a" / name).read_text())


def _import(path):
    mod, _, cls = path.rpartition(".")
    return getattr(importlib.import_module(mod), cls)


@pytest.mark.parametrize("name,protocol,lr,epochs", [
    ("dbconformer_co.yaml", "co", 1e-4, 200), ("dbconformer_cv.yaml", "cv", 1e-3, 100),
    ("dbconformer_loso.yaml", "loso", 1e-3, 100), ("dbconformer_competition.yaml", "competition", 1e-3, 100),
])
def test_bciiv2a_recipes_hold_paper_settings(name, protocol, lr, epochs):
    from biosig.models import count_parameters, create_model

    cfg = _load_yaml(name)
    m = cfg["model"]["init_args"]
    assert cfg["model"]["class_path"] == "biosig.tasks.ClassificationTask"
    assert m["model"] == "dbconformer" and m["optimizer"] == "adam" and m["lr"] == lr
    assert cfg["trainer"]["max_epochs"] == epochs and cfg["data"]["batch_size"] == 32
    assert cfg["data"]["alignment"] == "ea" and cfg["data"]["test_alignment"] == "online"
    src = cfg["data"]["source"]
    assert src["class_path"] == "biosig.datasets.bciiv2a.BCIIV2a" and _import(src["class_path"])
    assert src["init_args"]["include_end"] is True  # 1001 samples as the official epochs
    proto = cfg["data"]["protocol"]
    assert PaperProtocol(**proto["init_args"]).protocol == protocol
    assert proto["init_args"].get("subject") is None  # biosig run: the whole protocol
    exp = cfg["experiment"]
    assert exp["seeds"] == [1, 2, 3, 4, 5]
    assert [m["name"] for m in exp["models"]] == ["DBConformer", "EEGConformer", "EEGNet"]
    n_classes = len(src["init_args"]["classes"])
    net = create_model("dbconformer", n_chans=22, n_times=1001, sfreq=250.0, n_outputs=n_classes,
                       **m["model_kwargs"])
    if n_classes == 2:
        assert count_parameters(net) == 93_747


def test_cli_fit_on_builtin_data(tmp_path):
    """A tiny end-to-end ``fit`` through the Lightning CLI with the synthetic recipe."""
    from biosig.cli import lightning_cli

    cfg = yaml.safe_load((ROOT / "recipes" / "synthetic" / "dbconformer.yaml").read_text())
    cfg["data"]["source"]["init_args"]["n_trials_per_class"] = 4
    cfg["data"]["cache_dir"] = str(tmp_path / "cache")
    cfg["model"]["init_args"]["model_kwargs"] = {"depth": 1}
    cfg["trainer"].update(max_epochs=1, enable_checkpointing=False, enable_progress_bar=False,
                          default_root_dir=str(tmp_path / "out"))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cli = lightning_cli(["fit", "--config", str(path)])
    assert cli.model.net.__class__.__name__ == "DBConformer"
    assert cli.model.net.n_chans == 22 and cli.model.net.n_patches == 8
    assert "train_loss" in cli.trainer.callback_metrics and "val_acc" in cli.trainer.callback_metrics
