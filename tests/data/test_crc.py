"""The cache's CRC-32 (biosig.data._crc): zlib's value for every length, seed and alignment,
with the folding kernel and without it."""

import warnings
import zlib

import numpy as np
import pytest

from biosig import _native
from biosig.data import _crc


@pytest.mark.parametrize("backend", ["kernel", "zlib"])
def test_crc32_is_zlibs_for_every_length_seed_and_alignment(backend, monkeypatch):
    if backend == "zlib":
        monkeypatch.setattr(_crc._LIB, "load", lambda: None)  # as without a compiler
    elif _native.compiler() is None or _crc._kernel() is None:
        pytest.skip("no C++ compiler or no PCLMULQDQ")
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    lengths = [*range(0, 200), 255, 256, 257, 1023, 4096, 4097]
    for n in lengths:
        for seed in (0, 1, 0xFFFFFFFF, int(rng.integers(0, 2**32))):
            at = int(rng.integers(0, 8))  # unaligned starts too
            data = raw[at : at + n]
            assert _crc.crc32(data, seed) == zlib.crc32(data, seed), (n, seed, at)
    x = rng.normal(size=(7, 3, 250)).astype(np.float32)  # an array, in two pieces
    assert _crc.crc32(x[4:], _crc.crc32(x[:4])) == zlib.crc32(x.tobytes())
    assert _crc.crc32(b"\0" * 64) == zlib.crc32(b"\0" * 64)


def test_crc32_without_a_compiler_warns_once_and_uses_zlib(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    _crc._LIB.reset()
    try:
        data = bytes(range(256)) * 3
        with pytest.warns(UserWarning, match="crc32_fold kernel: no C\\+\\+ compiler.*zlib"):
            assert _crc.crc32(data, 7) == zlib.crc32(data, 7)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per process
            assert _crc.crc32(data) == zlib.crc32(data)
    finally:
        _crc._LIB.reset()
