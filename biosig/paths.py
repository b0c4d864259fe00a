"""Data locations: ``BIOSIG_DATA`` (raw datasets) and ``BIOSIG_CACHE`` (window caches).

``BIOSIG_DATA`` falls back to ``MNE_DATA`` and then ``~/biosig_data``; ``BIOSIG_CACHE`` falls
back to ``<data dir>/cache``. Folders are created on first use.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(create: bool = True) -> Path:
    root = os.environ.get("BIOSIG_DATA") or os.environ.get("MNE_DATA") or "~/biosig_data"
    path = Path(root).expanduser()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(create: bool = True) -> Path:
    root = os.environ.get("BIOSIG_CACHE")
    path = Path(root).expanduser() if root else data_dir(create) / "cache"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
