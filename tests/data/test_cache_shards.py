"""Sharded caches: deterministic by record identity, union read as one dataset, shards built by
several processes, killed shard rebuilt alone, finished shards reused."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from biosig.data import get_cache
from biosig.data.cache import WindowCache
from biosig.data.datamodule import WindowDataset
from biosig.data.shards import plan, shard_of, task_from_env
from biosig.errors import BiosigError, ConfigError, SamplingRateError
from test_cache import ToySource

HERE = os.path.dirname(__file__)


@pytest.fixture(autouse=True)
def _serial_builds(monkeypatch):
    monkeypatch.setenv("BIOSIG_BUILD_WORKERS", "0")  # records in-process: fast, countable


class Corpus(ToySource):
    """Records r0..r{n-1}; the identity leaves the record list out (as a folder corpus), so the
    shards key on their own records; ``loads`` counts records read in this process."""

    loads: list = []

    def identity(self):
        return {"name": self.name, "seed": self.seed}

    def load(self, ref):
        Corpus.loads.append(ref["record"])
        return super().load(ref)


def _windows_by_record(cache):
    order = np.lexsort((cache.meta["window"], cache.meta["record"]))
    return np.asarray(cache.X)[order], cache.y[order], list(cache.meta["record"][order])


def test_union_equals_the_unsharded_cache(tmp_path):
    src = Corpus(n=10)
    whole = get_cache(src, root=tmp_path)
    sharded = get_cache(src, root=tmp_path, shards=4)
    assert (sharded.path / "index.json").exists() and len(sharded.shards) > 1
    assert len(sharded) == len(whole) == 30
    for a, b in zip(_windows_by_record(sharded), _windows_by_record(whole)):
        np.testing.assert_array_equal(a, b)
    # each record sits in the shard its name hashes to
    for shard in sharded.shards:
        assert {shard_of(r, 4) for r in shard.meta["record"]} == {shard.params["shard"][0]}
    # the DataModule's dataset reads the union (rows across shard boundaries)
    ds = WindowDataset(sharded.path, np.arange(len(sharded)))
    x, y = ds.__getitems__([29, 0, 7, 15])
    np.testing.assert_array_equal(x.numpy(), np.asarray(sharded.X)[[0, 7, 15, 29]])
    assert y.tolist() == sharded.y[[0, 7, 15, 29]].tolist()
    # the training sampler's shard-local chunks: windows of a subset per shard, in order
    sizes = [len(sh) for sh in sharded.shards]
    assert ds.shard_sizes == sizes and WindowDataset(whole.path, np.arange(30)).shard_sizes is None
    subset = WindowDataset(sharded.path, np.arange(0, 30, 2))
    assert sum(subset.shard_sizes) == 15 and len(subset.shard_sizes) == len(sizes)
    assert WindowDataset(sharded.path, np.arange(30)[::-1]).shard_sizes is None
    index = (sharded.path / "index.json").read_text()
    assert str(tmp_path) not in index and json.loads(index)["shape"] == [30, 3, 100]


def test_adding_a_record_rebuilds_only_its_shard(tmp_path):
    old_top, old, _ = plan(Corpus(n=10), _opts(), 4)
    get_cache(Corpus(n=10), root=tmp_path, shards=4)
    new_top, new, _ = plan(Corpus(n=11), _opts(), 4)
    changed = {s["index"] for s in new} - {s["index"] for s in old if s in new}
    assert new_top != old_top and changed == {shard_of("r10", 4)}
    Corpus.loads.clear()
    cache = get_cache(Corpus(n=11), root=tmp_path, shards=4)
    assert len(cache) == 33
    assert sorted(Corpus.loads) == sorted(
        r for s in new if s["index"] in changed for r in (x["record"] for x in s["refs"])
    )


def test_a_damaged_shard_is_rebuilt_and_the_log_says_so(tmp_path, caplog):
    """The log of the rebuild says what is damaged and that it is rebuilt, not to delete it."""
    cache = get_cache(Corpus(n=12), root=tmp_path, shards=4)
    (cache.shards[1].path / "y.npy").unlink()
    caplog.set_level("WARNING", logger="biosig.cache")
    Corpus.loads.clear()
    assert len(get_cache(Corpus(n=12), root=tmp_path, shards=4)) == len(cache)
    assert sorted(Corpus.loads) == sorted(set(cache.shards[1].meta["record"]))
    assert f"({cache.shards[1].path / 'y.npy'}: missing" in caplog.text
    assert "rebuilding what is missing" in caplog.text and "delete" not in caplog.text


def _opts():
    from biosig.data.cache_build import BuildOptions

    return BuildOptions([], ToySource().default_windows())


def test_killed_shard_is_rebuilt_alone_and_finished_ones_reused(tmp_path):
    src = Corpus(n=12)
    top, shards, _ = plan(src, _opts(), 4)
    # task 0 of 2 builds its shards; then a build of task 1 is killed midway
    from biosig.data.shards import build_shards

    assert build_shards(src, _opts(), tmp_path, 4, task=0, n_tasks=2) is None
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {HERE!r})
        from test_cache_shards import Corpus, _opts
        from biosig.data.shards import build_shards
        class Slow(Corpus):
            def load(self, ref):
                print("midway", flush=True); time.sleep(60)
        build_shards(Slow(n=12), _opts(), __import__("pathlib").Path({str(tmp_path)!r}), 4,
                     task=1, n_tasks=2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "midway"
    proc.kill()
    proc.wait()
    folder = tmp_path / "toy" / "1" / "shards"
    done = {s["key"]: (folder / s["key"] / "params.json").stat().st_mtime_ns
            for s in shards if s["index"] % 2 == 0}  # fmt: skip
    assert list(folder.glob(".tmp-*"))  # the killed shard's temporary folder
    with pytest.raises(BiosigError, match="others are still missing"):
        get_cache(src, root=tmp_path, shards=4, task=0, n_tasks=2)
    Corpus.loads.clear()
    cache = get_cache(src, root=tmp_path, shards=4)
    rebuilt = {r for s in shards if s["index"] % 2 == 1 for r in (x["record"] for x in s["refs"])}
    assert set(Corpus.loads) == rebuilt and len(cache) == 36
    assert not list(folder.glob(".tmp-*"))
    for key, mtime in done.items():
        assert (folder / key / "params.json").stat().st_mtime_ns == mtime


def test_two_processes_building_disjoint_shards_equal_one_process(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, {here!r})
        from test_cache_shards import Corpus
        from biosig.data import get_cache
        from biosig.data.shards import build_shards, task_from_env
        from biosig.data.cache_build import BuildOptions
        opts = BuildOptions([], Corpus().default_windows())
        task, n = task_from_env()
        build_shards(Corpus(n=12), opts, __import__("pathlib").Path({root!r}), 6, task=task,
                     n_tasks=n)
    """)
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2"}
        root = str(tmp_path / "two")
        procs.append(subprocess.Popen([sys.executable, "-c", code.format(here=HERE, root=root)],
                                      env=env))  # fmt: skip
    assert [p.wait() for p in procs] == [0, 0]
    two = WindowCache(next((tmp_path / "two").rglob("index.json")).parent)
    one = get_cache(Corpus(n=12), root=tmp_path / "one", shards=6)
    for name in ("X.f32", "y.npy", "meta.csv"):
        assert [(s.path / name).read_bytes() for s in two.shards] == [
            (s.path / name).read_bytes() for s in one.shards
        ]
    assert two.path.name == one.path.name


def test_task_from_env(monkeypatch):
    for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "RANK", "WORLD_SIZE",
              "SLURM_PROCID", "SLURM_NTASKS", "SLURM_ARRAY_TASK_MIN"):  # fmt: skip
        monkeypatch.delenv(k, raising=False)
    assert task_from_env() == (0, 1)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "2")
    assert task_from_env() == (3, 4)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5x")  # was a bare ValueError traceback
    with pytest.raises(ConfigError, match=r"\$SLURM_ARRAY_TASK_ID='5x' is not a whole number"):
        task_from_env()


@pytest.mark.parametrize("kw, match", [
    ({"n_tasks": 2}, "needs this process's task"),  # was ignored: every shard built here
    ({"task": "env", "n_tasks": 3}, "would be ignored"),  # was replaced by the environment's
    ({"task": "1", "n_tasks": 2}, "must be a whole number"),  # was a TypeError
])  # fmt: skip
def test_task_options_that_would_be_ignored_are_refused(tmp_path, kw, match):
    with pytest.raises(ConfigError, match=match):
        get_cache(Corpus(n=4), root=tmp_path, shards=2, **kw)
    assert not any(tmp_path.rglob("params.json"))


def test_sharded_float16_and_verify(tmp_path):
    from biosig.data.cache import verify_cache

    cache = get_cache(Corpus(n=6), root=tmp_path, shards=3, dtype="float16")
    assert cache.dtype == "float16" and np.asarray(cache.X).dtype == np.float32
    assert len(verify_cache(cache.path)) == len(cache.shards)


def test_a_damaged_finished_shard_is_rebuilt(tmp_path):
    """A finished shard whose labels were cut counted as finished (params.json exists): every
    later build failed on opening the index, with the same error, and rebuilt nothing."""
    src = Corpus(n=8)
    cache = get_cache(src, root=tmp_path, shards=4)
    y_before = cache.y.copy()
    victim = cache.shards[1].path
    with open(victim / "y.npy", "r+b") as fh:
        fh.truncate((victim / "y.npy").stat().st_size - 8)
    Corpus.loads.clear()
    again = get_cache(src, root=tmp_path, shards=4)
    assert sorted(set(Corpus.loads)) == sorted({r for r in again.meta["record"]
                                                if r in set(WindowCache(victim).meta["record"])})
    np.testing.assert_array_equal(again.y, y_before)


def test_a_task_that_cannot_write_the_index_names_what_is_missing(tmp_path, caplog):
    """A damaged shard of task 0 found by task 1 (the last to run) left no index, and the log
    said only "3/4 shards finished": which job-array task to resubmit was not said."""
    from biosig.data.shards import build_shards

    src = Corpus(n=8)
    _, shards, _ = plan(src, _opts(), 4)
    assert build_shards(src, _opts(), tmp_path, 4, task=0, n_tasks=2) is None
    victim = next(s for s in shards if s["index"] % 2 == 0)
    (next(tmp_path.rglob(victim["key"])) / "y.npy").unlink()
    caplog.set_level("INFO", logger="biosig.cache")
    assert build_shards(src, _opts(), tmp_path, 4, task=1, n_tasks=2) is None
    assert f"missing or damaged: shard {victim['index'] + 1} (task 0)" in caplog.text


def test_shards_at_different_sampling_rates_are_a_sampling_rate_error(tmp_path):
    """Each shard at one rate, two rates in all: a SamplingRateError naming both rates (it was a
    ChannelError saying 'channels/sampling rate differ')."""
    first = shard_of("r0", 4)

    class TwoRates(Corpus):
        def load(self, ref):
            rec = super().load(ref)
            if shard_of(ref["record"], 4) == first:
                return rec
            return rec.copy(data=rec.data[:, ::2].copy(), sfreq=rec.sfreq / 2)

    with pytest.raises(SamplingRateError, match=r"shard .*: sampling rate (50|100) Hz differs "
                                                r"from shard .*'s (100|50) Hz; add a Resample"):
        get_cache(TwoRates(n=10), root=tmp_path, shards=4)
