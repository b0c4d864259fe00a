"""DataModule: linking attributes, splits, batches, DDP-style sharding, preprocessing steps."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from biosig.data import (
    Bandpass,
    BipolarMontage,
    Notch,
    PickChannels,
    Predefined,
    RenameChannels,
    Rereference,
    Resample,
    Scale,
)
from biosig.data.datamodule import BiosigDataModule, _pass_batch
from biosig.datasets import SyntheticMI
from biosig.errors import BiosigError, ChannelError, ConfigError, SamplingRateError
from biosig.signal.recording import Recording


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    dm = BiosigDataModule(
        SyntheticMI(n_subjects=2, n_trials_per_class=4),
        preprocessing=[PickChannels(types=["eeg"]), Resample(125.0)],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}, val_fraction=0.25),
        batch_size=5,
        cache_dir=str(tmp_path_factory.mktemp("c")),
    )
    dm.setup("fit")
    return dm


def test_signal_attributes(dm):
    assert (dm.n_chans, dm.n_times, dm.sfreq, dm.n_outputs) == (22, 500, 125.0, 2)
    assert dm.classes == ["left_hand", "right_hand"] and dm.ch_names[7] == "C3"


def test_splits_follow_protocol(dm):
    meta = dm.meta
    assert set(meta.session[dm.splits["test"]]) == {"E"}
    assert set(meta.session[dm.splits["train"]]) == {"T"} and len(dm.splits["val"]) == 4
    assert len(set(dm.splits["train"]) & set(dm.splits["val"])) == 0


def test_batches(dm):
    seen = 0
    for x, y in dm.train_dataloader():
        assert x.dtype == torch.float32 and x.shape[1:] == (22, 500) and y.dtype == torch.int64
        seen += len(y)
    assert seen == len(dm.splits["train"])
    x, y = next(iter(dm.test_dataloader()))
    rows = dm.splits["test"][:5]
    np.testing.assert_array_equal(x.numpy(), dm.cache.X[rows])
    np.testing.assert_array_equal(y.numpy(), dm.cache.y[rows])


def test_the_data_card_records_the_window_stride(dm, tmp_path):
    """A weights card recorded the window length but not the stride the training windows were
    cut at (how the model scored a record); windows on events have none."""
    from biosig.datasets import SyntheticECG
    from biosig.signal.windows import FixedWindows

    assert dm.data_card()["window_stride_s"] is None  # SyntheticMI: windows on the cues
    for windows, stride in ((FixedWindows(length=1.0, stride=0.5), 0.5),
                            (FixedWindows(length=1.0), 1.0), (None, 2.0)):  # None: the source's
        ecg = BiosigDataModule(SyntheticECG(n_records=4, duration=2.0, sfreq=20.0),
                               windows=windows, cache_dir=str(tmp_path))
        assert ecg.data_card()["window_stride_s"] == stride


def test_a_single_training_window_is_a_config_error(tmp_path):
    """Its batch of one is dropped: the fit would train on nothing (recipes/bciiv2a/hveegnet.py
    --n-trials-per-class 1 then failed on Lightning's unrelated ckpt_path='best')."""
    dm = BiosigDataModule(SyntheticMI(n_subjects=1, n_trials_per_class=1),
                          protocol=Predefined(train={"session": "T"}, test={"session": "E"},
                                              val_fraction=0.5),
                          batch_size=4, cache_dir=str(tmp_path))
    dm.setup()
    assert len(dm.splits["train"]) == 1
    with pytest.raises(ConfigError, match="leaves one training window, too few to train on"):
        dm.train_dataloader()


def test_distributed_shards_cover_train_once(dm):
    ds = dm.dataset("train")
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        for x, _y in DataLoader(ds, batch_size=3, sampler=sampler, collate_fn=_pass_batch):
            seen += [tuple(v.tolist()[:3]) for v in x[:, 0, :3]]
    assert len(seen) == len(ds) + len(ds) % 2  # DistributedSampler pads to equal shards
    assert len(set(seen)) == len(ds)


def test_workers_reopen_the_memmap(dm):
    loader = torch.utils.data.DataLoader(
        dm.dataset("test"),
        batch_size=4,
        num_workers=1,
        collate_fn=_pass_batch,
        multiprocessing_context="spawn",
    )
    assert sum(len(y) for _, y in loader) == len(dm.splits["test"])


def test_subjects_filter_and_errors(tmp_path):
    src = SyntheticMI(n_subjects=2, n_trials_per_class=2)
    dm = BiosigDataModule(
        src,
        [PickChannels(types=["eeg"])],
        subjects=[2],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}),
        cache_dir=str(tmp_path),
    )
    dm.setup()
    assert set(dm.meta.subject[dm.splits["train"]]) == {2}
    with pytest.raises(ConfigError, match="select no windows"):
        BiosigDataModule(
            src, [PickChannels(types=["eeg"])], subjects=[7], cache_dir=str(tmp_path)
        ).setup()
    dm = BiosigDataModule(
        src, [PickChannels(types=["eeg"])], expect_sfreq=200.0, cache_dir=str(tmp_path)
    )
    with pytest.raises(SamplingRateError, match="Resample"):
        _ = dm.n_chans


def _rec():
    t = np.arange(1000) / 250
    data = (
        np.stack(
            [
                np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 50 * t),
                np.cos(2 * np.pi * 3 * t),
                np.ones_like(t),
            ]
        )
        * 10
    )
    return Recording(data, 250.0, ["C3", "C4", "Cz"], ["eeg"] * 3, ["uV"] * 3)


def test_preprocessing_steps():
    rec = _rec()
    f = np.fft.rfftfreq(1000, 1 / 250)
    spec = lambda x: np.abs(np.fft.rfft(x))  # noqa: E731
    bp = Bandpass(8, 12)(rec)
    assert spec(bp.data[0])[f == 50] < 0.01 * spec(rec.data[0])[f == 50]
    assert spec(bp.data[0])[f == 10] > 0.9 * spec(rec.data[0])[f == 10]
    notch = Notch(50.0)(rec)
    assert spec(notch.data[0])[f == 50] < 0.05 * spec(rec.data[0])[f == 50]
    rs = Resample(125.0)(rec)
    assert rs.sfreq == 125.0 and rs.n_times == 500
    car = Rereference("average")(rec)
    np.testing.assert_allclose(car.data.mean(0), 0, atol=1e-5)
    bip = BipolarMontage(pairs=[("C3", "Cz"), ("C4", "Cz")])(rec)
    assert bip.ch_names == ["C3-Cz", "C4-Cz"]
    np.testing.assert_allclose(bip.data[0], rec.data[0] - rec.data[2], atol=1e-5)
    assert RenameChannels({"C3": "EEG C3"})(rec).ch_names[0] == "EEG C3"
    np.testing.assert_allclose(Scale(0.01)(rec).data, rec.data * 0.01, rtol=1e-6)
    with pytest.raises(ChannelError, match="Pz"):
        BipolarMontage(pairs=[("Pz", "Cz")])(rec)
    with pytest.raises(ConfigError, match="Nyquist"):
        Bandpass(1, 200)(rec)


def test_aligned_shuffled_batches_keep_each_window_with_its_whitener(tmp_path):
    """A shuffled batch mixing subjects must apply each window's own alignment matrix."""
    from biosig.data import GroupKFold

    dm = BiosigDataModule(
        SyntheticMI(n_subjects=3, n_trials_per_class=3, include_eog=False),
        protocol=GroupKFold(n_splits=3, fold=0, group="subject"),
        alignment="ea",
        cache_dir=str(tmp_path),
    )
    ds = dm.dataset("train")
    items = np.random.default_rng(0).permutation(len(ds))[:8]
    x, y = ds.__getitems__(items)
    singles = {int(ds.indices[i]): ds.__getitems__([i]) for i in items}
    for row, xb, yb in zip(np.sort(ds.indices[items]), x, y):
        torch.testing.assert_close(xb, singles[int(row)][0][0])
        assert yb == singles[int(row)][1][0]
    assert len({s for s in dm.meta.subject[ds.indices[items]]}) > 1


def test_a_singular_alignment_reference_says_where_the_shrinkage_is_set(tmp_path):
    """EEGMAT's windows are one rank short: the aligner said "use shrinkage > 0" without saying
    that it is a DataModule argument (the guide's table did not list it either)."""
    kwargs = dict(source=SyntheticMI(n_subjects=2, n_trials_per_class=2, include_eog=False),
                  preprocessing=[Rereference()], protocol=Predefined(train={"subject": 1},
                                                                     test={"subject": 2}),
                  alignment="ea", cache_dir=str(tmp_path))
    with pytest.raises(BiosigError, match=r"singular.*use shrinkage > 0 .*: BiosigDataModule\("
                                          r"shrinkage=\.\.\.\), data\.shrinkage in a config "
                                          r"\(now 0; e\.g\. 0\.01\)$"):
        BiosigDataModule(**kwargs).setup()
    BiosigDataModule(**kwargs, shrinkage=0.01).setup()


@pytest.mark.parametrize("step", [Bandpass(4, 38), Notch(50.0), Resample(125.0)])
def test_filters_keep_nan_gaps_local(step):
    """One bad sample must not turn a whole channel into NaN (the window's NaN policy decides)."""
    rec = _rec()
    data = rec.data.copy()
    data[0, 500] = np.nan
    out = step(rec.copy(data=data)).data
    n_bad = (~np.isfinite(out[0])).sum()
    assert 0 < n_bad < 0.5 * out.shape[1]
    assert np.isfinite(out[1:]).all()


def test_a_last_training_batch_of_one_is_dropped(dm):
    """BatchNorm cannot train on one window (the DBConformer scripts skip such a batch)."""
    n = len(dm.splits["train"])
    for batch_size, expected in ((n - 1, n - 1), (n, n), (n // 2, n)):
        dm.batch_size = batch_size
        assert sum(len(y) for _, y in dm.train_dataloader()) == expected
        assert sum(len(y) for _, y in dm.test_dataloader()) == len(dm.splits["test"])
    dm.batch_size = 5


def test_a_single_class_evaluation_part_is_warned_about(dm):
    """EEGMAT holds one class per record: the default split by record gave val and test parts
    of one class each, whose scores say nothing. The DataModule says so."""
    import dataclasses
    import warnings

    y = dm.cache.y
    test = dm.splits["test"][y[dm.splits["test"]] == 0]
    with pytest.warns(UserWarning, match=r"the test part \(\d+ windows\) holds only class "
                                         r"'left_hand' of \['left_hand', 'right_hand'\]"):
        dm.for_fold(dataclasses.replace(dm.fold, test=test))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dm.for_fold(dm.fold)  # both classes in every part: no warning


def test_the_single_class_remedy_fits_the_records(dm, tmp_path):
    """The advice to split by subject "where each record holds one class" was given on
    eegmmidb runs too, whose records hold both classes (there the part was just small)."""
    import dataclasses

    from test_cache import ToySource
    from biosig.signal.recording import Annotations

    y = dm.cache.y
    test = dm.splits["test"][y[dm.splits["test"]] == 0]
    with pytest.warns(UserWarning, match=r"its records hold several classes: give that part more"):
        dm.for_fold(dataclasses.replace(dm.fold, test=test))

    class OneClassEach(ToySource):  # EEGMAT-like: the record decides the class
        def load(self, ref):
            rec = super().load(ref)
            cls = "ab"[int(ref["record"][1:]) % 2]
            rec.annotations = Annotations.from_lists([1.0, 3.0], [1, 1], [cls, cls])
            return rec

    with pytest.warns(UserWarning, match=r"each record holds one class: split by subject"):
        BiosigDataModule(OneClassEach(n=4), protocol=Predefined(train={"record": ["r0", "r1"]},
                                                                test={"record": "r2"}),
                         cache_dir=str(tmp_path)).setup()


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), r"data\.batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=-4), r"data\.batch_size must be an integer >= 1, got -4"),
    (dict(batch_size=2.5), r"data\.batch_size must be an integer"),
    (dict(num_workers=-1), r"data\.num_workers must be an integer >= 0, got -1"),
    (dict(pin_memory="yes"), r"data\.pin_memory must be true or false"),
    (dict(seed=-1), r"data\.seed must be an integer >= 0, got -1"),
    (dict(nan_policy="drop"), r"data\.nan_policy must be one of \('reject'.*got 'drop'"),
    (dict(expect_sfreq=0.0), r"data\.expect_sfreq must be a finite number > 0 or None"),
    (dict(estimator="lw"), r"data\.estimator must be one of \('cov', 'scm'\), got 'lw'"),
    (dict(shrinkage=1.0), r"data\.shrinkage must be a finite number in \[0, 1\), got 1\.0"),
    (dict(shuffle_chunk=0), r"data\.shuffle_chunk must be an integer >= 1 or None, got 0"),
    (dict(subjects="A01"), r"data\.subjects must be a non-empty list"),
    (dict(cache_options={"dtype": "float64"}), r"data\.cache_options\.dtype must be one of"),
    (dict(cache_options={"shards": 0}), r"data\.cache_options\.shards must be an integer >= 1"),
    (dict(cache_options={"num_workers": -2}), r"data\.cache_options\.num_workers must be"),
    (dict(cache_options={"workers": 2}), r"data\.cache_options: unknown option\(s\) \['workers'\]"),
])
def test_bad_loader_and_cache_settings_are_refused_before_any_cache(kwargs, message, tmp_path):
    """Checked in ``__init__``: no cache folder (nor lock file) is written, and the error names
    the key instead of torch's DataLoader error after the cache was built."""
    with pytest.raises(ConfigError, match=message):
        BiosigDataModule(SyntheticMI(n_subjects=1, n_trials_per_class=2),
                         cache_dir=str(tmp_path / "cache"), **kwargs)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("callback", ["EarlyStopping", "ModelCheckpoint"])
def test_selecting_an_epoch_on_the_test_part_is_refused(callback, tmp_path):
    """Without a validation part the val_* values are test scores: a fit that monitors one to
    stop early or keep a best checkpoint is refused; validating on the test part alone runs."""
    import lightning.pytorch as pl
    from lightning.pytorch import callbacks

    from biosig.tasks import ClassificationTask

    torch.set_num_threads(1)
    dm = BiosigDataModule(SyntheticMI(n_subjects=1, n_trials_per_class=4, include_eog=False),
                          protocol=Predefined(train={"session": "T"}, test={"session": "E"}),
                          batch_size=4, cache_dir=str(tmp_path / "c"))
    dm.setup()
    task = ClassificationTask("eegnet", n_chans=dm.n_chans, n_times=dm.n_times,
                              sfreq=dm.sfreq, n_outputs=dm.n_outputs)
    kw = dict(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
              enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
              default_root_dir=str(tmp_path))
    cb = getattr(callbacks, callback)(monitor="val_loss")
    with pytest.raises(ConfigError, match=rf"{callback}\(monitor='val_loss'\).* no validation "
                                          "part"):
        pl.Trainer(callbacks=[cb], enable_checkpointing=callback == "ModelCheckpoint",
                   **kw).fit(task, datamodule=dm)
    with pytest.warns(UserWarning, match="validating on the test part"):
        pl.Trainer(enable_checkpointing=False, **kw).fit(task, datamodule=dm)
