"""WindowSampler: disjoint rank parts per epoch, shard-aware chunked shuffle, mid-epoch resume;
and a real 2-process DDP run (gloo, CPU) through the DataModule's training loader."""

import json

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from biosig.data import BiosigDataModule, PickChannels, Predefined
from biosig.data.sampler import ResumableLoader, WindowSampler
from biosig.datasets import SyntheticMI
from biosig.errors import ConfigError

torch.set_num_threads(1)


def _epoch(n, world, epoch, **kw):
    parts = []
    for rank in range(world):
        s = WindowSampler(n, num_replicas=world, rank=rank, **kw)
        s.set_epoch(epoch)
        parts.append(list(s))
        assert len(parts[-1]) == len(s)
    return parts


@pytest.mark.parametrize("n, world", [(12, 1), (12, 3), (13, 2), (7, 4)])
def test_ranks_read_disjoint_parts_that_cover_the_epoch(n, world):
    for epoch in (0, 1):
        parts = _epoch(n, world, epoch, seed=3)
        flat = [i for p in parts for i in p]
        assert sorted(set(flat)) == list(range(n))  # every window read
        assert len(flat) - n == (-n) % world  # only the padding repeats
        if n % world == 0:
            assert all(not set(a) & set(b) for a in parts for b in parts if a is not b)
    assert _epoch(n, world, 0, seed=3) != _epoch(n, world, 1, seed=3)  # reshuffled per epoch
    assert _epoch(n, world, 0, seed=3) == _epoch(n, world, 0, seed=3)  # fixed by seed, epoch


def test_drop_last_and_no_shuffle():
    parts = _epoch(7, 2, 0, drop_last=True)
    assert sum(map(len, parts)) == 6 and not set(parts[0]) & set(parts[1])
    assert _epoch(6, 2, 0, shuffle=False) == [[0, 2, 4], [1, 3, 5]]


def test_chunks_stay_inside_shards_and_mix_shards():
    sizes = [5, 7, 4]
    bounds = np.cumsum([0, *sizes])
    s = WindowSampler(16, shard_sizes=sizes, chunk=3, seed=1)
    perm = s.permutation(0)
    assert sorted(perm.tolist()) == list(range(16))
    shard = np.searchsorted(bounds, perm, side="right") - 1
    # runs of one chunk: consecutive positions of a chunk are in one shard, within 3 windows
    chunks = [np.arange(a, min(a + 3, b)) for a, b in zip(bounds[:-1], bounds[1:])
              for a in range(a, b, 3)]
    pos = 0
    for _ in chunks:
        first = perm[pos]
        chunk = next(c for c in chunks if first in c)
        assert sorted(perm[pos:pos + len(chunk)].tolist()) == chunk.tolist()
        pos += len(chunk)
    assert len(set(shard[:8].tolist())) > 1  # shards interleave across the epoch
    with pytest.raises(ConfigError, match="sum to n"):
        WindowSampler(16, shard_sizes=[5, 5])


@pytest.mark.parametrize("old, new", [(2, 2), (2, 3), (1, 2)])
def test_resume_reads_the_rest_of_the_epoch_once(old, new):
    n, seed, epoch, done = 24, 5, 1, 4  # 4 windows per rank consumed before the stop
    before = []
    for rank in range(old):
        s = WindowSampler(n, num_replicas=old, rank=rank, seed=seed)
        s.set_epoch(epoch)
        before += list(s)[:done]
        state = s.state_dict(done)
    after = []
    for rank in range(new):
        s = WindowSampler(n, num_replicas=new, rank=rank, seed=seed)
        s.load_state_dict(state)
        s.set_epoch(epoch)  # Lightning sets the same epoch again
        after += list(s)
        s.set_epoch(epoch + 1)
        assert len(list(s)) == len(s)  # the next epoch is whole again
    assert not set(before) & set(after)
    assert set(before) | set(after) == set(range(n))
    assert len(after) == n - len(before)  # nothing twice


def test_resume_refuses_other_data_or_seed():
    state = WindowSampler(10, seed=0).state_dict(2)
    with pytest.raises(ConfigError, match="seed"):
        WindowSampler(10, seed=1).load_state_dict(state)
    with pytest.raises(ConfigError, match="n="):
        WindowSampler(11, seed=0).load_state_dict(state)


def test_loader_state_counts_finished_batches_only():
    done = {"n": 0}
    loader = ResumableLoader(list(range(10)), sampler=WindowSampler(10), batch_size=3,
                             progress=lambda: done["n"])
    it = iter(loader)
    next(it), next(it)  # two batches fetched (one of them only prefetched)
    done["n"] = 1
    assert loader.state_dict()["sampler"]["consumed"] == 3


# ---------------------------------------------------------------------------- DDP, 2 processes
class _Recorder(pl.LightningModule):
    """Writes a fingerprint of every training window it sees, per rank and epoch."""

    def __init__(self, out: str):
        super().__init__()
        self.out, self.w, self.seen = out, torch.nn.Parameter(torch.zeros(1)), []

    def training_step(self, batch, batch_idx):
        x, _y = batch
        self.seen += [float(v) for v in x[:, :, :4].double().sum(dim=(1, 2))]
        return (self.w * x.mean()).sum()

    def on_train_epoch_end(self):
        path = f"{self.out}/rank{self.global_rank}_epoch{self.current_epoch}.json"
        with open(path, "w") as f:
            json.dump(self.seen, f)
        self.seen = []

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_ddp_two_processes_read_disjoint_parts_each_epoch(tmp_path):
    dm = BiosigDataModule(
        SyntheticMI(n_subjects=1, n_trials_per_class=6, include_eog=False),
        preprocessing=[PickChannels(types=["eeg"])],
        protocol=Predefined(train={"session": "T"}, test={"session": "E"}),
        batch_size=2, cache_dir=str(tmp_path / "cache"), seed=7)
    dm.setup("fit")
    rows = dm.splits["train"]
    expected = {round(float(v), 6) for v in dm.cache.X[rows][:, :, :4].astype(np.float64)
                .sum(axis=(1, 2))}
    assert len(expected) == len(rows) == 12
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=2,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0)
    trainer.fit(_Recorder(str(tmp_path)), datamodule=dm)
    orders = []
    for epoch in (0, 1):
        parts = [json.loads((tmp_path / f"rank{r}_epoch{epoch}.json").read_text())
                 for r in (0, 1)]
        sets = [{round(v, 6) for v in p} for p in parts]
        assert [len(p) for p in parts] == [6, 6]
        assert not sets[0] & sets[1]  # disjoint
        assert sets[0] | sets[1] == expected  # together: the whole training part
        orders.append(parts[0])
    assert orders[0] != orders[1]  # a new shuffle per epoch
