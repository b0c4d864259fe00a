"""Latent tokens of a frozen feature extractor, cached on disk or computed on the fly.

EEGDM [Puah2025]_ trains its LFT on the std-pooled gate activations of a frozen SSMDP. They do
not depend on the training step (step 1, clean input), so they are computed once and cached:
:func:`latent_cache` streams the windows of a :class:`~biosig.data.cache.WindowCache` through
the extractor's ``latents(x)`` into a memory-mapped array (``float16`` by default, half the
bytes of ``float32``). The cache folder is keyed by the window cache, the extractor's
architecture and weights and the extraction settings, and is built in a temporary folder that
is renamed into place only when complete (a killed build leaves no half cache behind;
concurrent builds of one folder serialise on a lock file). A finished folder that fails its
checks on open (a file of the wrong size, unreadable labels or labels other than the windows')
is rebuilt, as a damaged window cache is (:func:`~biosig.data.cache.open_or_rebuild`).
:class:`OnTheFlyLatents` is the alternative when disk is short (TUEV: ~94 GB in float32): the
same tokens, recomputed on every read.

The extractor is duck-typed (this layer does not import the models): any ``torch.nn.Module``
with ``latents(x: (B, C, T)) -> (B, ...)`` and ``get_config()`` (:class:`biosig.models.SSMDP`).

References
----------
.. [Puah2025] J. H. Puah et al., "EEGDM: EEG Representation Learning via Generative Diffusion
   Model", arXiv:2508.14086, 2025.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import torch

from biosig.data.cache import DamagedCacheError, _open_checked, open_or_rebuild
from biosig.errors import ConfigError
from biosig.paths import cache_dir

__all__ = ["LatentCache", "OnTheFlyLatents", "extractor_key", "latent_cache", "DTYPES"]

DTYPES = {"float16": np.float16, "float32": np.float32}


def extractor_key(extractor: torch.nn.Module, **settings) -> str:
    """Hash of the extractor's architecture (``get_config``), its weights and ``settings``."""
    h = hashlib.sha256()
    config = extractor.get_config() if hasattr(extractor, "get_config") else type(extractor)
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for name, value in sorted(extractor.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _extract(extractor, x: np.ndarray, extract_kwargs: dict) -> np.ndarray:
    device = next(extractor.parameters()).device
    with torch.no_grad():
        tokens = extractor.latents(torch.as_tensor(np.array(x), device=device), **extract_kwargs)
    return tokens.float().cpu().numpy()


class LatentCache(torch.utils.data.Dataset):
    """A built latent cache, opened read-only: ``X`` (memmap), ``y``, and the windows' ``meta``.

    Items are ``(tokens float32 tensor, label)``; ``subset(idx)`` restricts to some windows.
    """

    def __init__(self, path: str | Path, meta=None, index=None, labels=None):
        """``labels``: the windows' labels, which the cached ones must equal (a cache of other
        windows, or a damaged ``y.npy``, is refused)."""
        self.path = Path(path)
        params_file = self.path / "params.json"
        try:
            self.params = json.loads(params_file.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise DamagedCacheError(params_file, f"not a complete latent cache ({err})",
                                    self.path) from err
        shape = tuple(self.params["shape"])
        self.X = _open_checked(self.path, "X.bin", DTYPES[self.params["dtype"]], shape)
        self.y = self._read_labels(shape[0], labels)
        self.meta = meta
        self.index = np.arange(shape[0]) if index is None else np.asarray(index)

    def _read_labels(self, n: int, expected) -> np.ndarray:
        """``y.npy``, checked readable, one label per window and equal to ``expected``."""
        y_file = self.path / "y.npy"
        try:
            y = np.load(y_file)
        except (OSError, ValueError, EOFError) as err:
            raise DamagedCacheError(y_file, f"labels unreadable ({err})", self.path) from err
        if len(y) != n:
            raise DamagedCacheError(y_file, f"{len(y)} labels for {n} windows", self.path)
        if expected is not None and not np.array_equal(y, np.asarray(expected)):
            raise DamagedCacheError(y_file, "labels differ from the windows' (y of the window "
                                    "cache)", self.path)
        return y

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        j = self.index[i]
        return torch.from_numpy(np.array(self.X[j], dtype=np.float32)), int(self.y[j])

    def subset(self, index) -> "LatentCache":
        return LatentCache(self.path, self.meta, self.index[np.asarray(index)], self.y)

    @property
    def bytes_per_window(self) -> int:
        return int(np.prod(self.X.shape[1:])) * self.X.dtype.itemsize

    @property
    def token_shape(self) -> tuple:
        return tuple(self.X.shape[1:])


class OnTheFlyLatents(torch.utils.data.Dataset):
    """The tokens of :func:`latent_cache` recomputed at every read (no disk; slower).

    ``windows``: an object with ``X`` ``(N, C, T)`` and ``y`` (a ``WindowCache``).
    """

    def __init__(self, windows, extractor: torch.nn.Module, index=None,
                 extract_kwargs: dict | None = None):
        self.windows, self.extractor = windows, extractor.eval()
        self.extract_kwargs = dict(extract_kwargs or {})
        self.index = np.arange(len(windows.y)) if index is None else np.asarray(index)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        j = self.index[i]
        tokens = _extract(self.extractor, self.windows.X[j : j + 1], self.extract_kwargs)[0]
        return torch.from_numpy(tokens), int(self.windows.y[j])

    def subset(self, index) -> "OnTheFlyLatents":
        return OnTheFlyLatents(self.windows, self.extractor, self.index[np.asarray(index)],
                               self.extract_kwargs)


def latent_cache(windows, extractor: torch.nn.Module, *, dtype: str = "float16",
                 root: str | Path | None = None, batch_size: int = 16,
                 extract_kwargs: dict | None = None, progress: bool = False) -> LatentCache:
    """Open the latent cache of ``windows`` under ``extractor``, building it first if needed.

    ``windows``: a :class:`~biosig.data.cache.WindowCache` (its folder name is its own
    parameter key). ``extract_kwargs`` go to ``extractor.latents`` (e.g. ``step``, ``segment``).
    The folder is ``<root or the biosig cache>/latents/<window key>/<extractor key>``.
    """
    if dtype not in DTYPES:
        raise ConfigError(f"latent_cache: dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if batch_size < 1:
        raise ConfigError(f"latent_cache: batch_size must be positive, got {batch_size}")
    extract_kwargs = dict(extract_kwargs or {})
    key = extractor_key(extractor, dtype=dtype, **extract_kwargs)
    folder = Path(root) if root is not None else cache_dir()
    path = folder / "latents" / Path(windows.path).name / key
    return open_or_rebuild(
        path,
        lambda p: _build(windows, extractor, p, dtype, batch_size, extract_kwargs, progress),
        lambda p: LatentCache(p, windows.meta, labels=windows.y),
    )


def _build(windows, extractor, path: Path, dtype: str, batch_size: int, extract_kwargs: dict,
           progress: bool) -> LatentCache:
    """Stream ``windows`` through ``extractor`` into a temporary folder renamed to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    was_training = extractor.training
    extractor.eval()
    try:
        n = len(windows.y)
        first = _extract(extractor, windows.X[: min(batch_size, n)], extract_kwargs)
        shape = (n, *first.shape[1:])
        out = np.memmap(tmp / "X.bin", dtype=DTYPES[dtype], mode="w+", shape=shape)
        out[: len(first)] = first
        starts = range(len(first), n, batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="latents", unit="batch")
        for s in starts:
            out[s : s + batch_size] = _extract(extractor, windows.X[s : s + batch_size],
                                               extract_kwargs)
        out.flush()
        del out
        np.save(tmp / "y.npy", np.asarray(windows.y))
        params = {"shape": list(shape), "dtype": dtype, "windows": str(windows.path),
                  "extractor": extractor.get_config() if hasattr(extractor, "get_config")
                  else type(extractor).__name__, "extract_kwargs": extract_kwargs}
        (tmp / "params.json").write_text(json.dumps(params, default=str, indent=1))
        os.replace(tmp, path)  # under open_or_rebuild's lock: no other build of this folder
    finally:
        extractor.train(was_training)
        shutil.rmtree(tmp, ignore_errors=True)
    return LatentCache(path, windows.meta, labels=windows.y)
