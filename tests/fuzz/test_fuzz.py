"""The reader fuzzer, small and seeded (400 cases, a few seconds): no foreign exception, no
silent garbage after an invalid header field, unused fields read back equal. The full run
(>= 1,500 cases) is ``tests/fuzz/run_fuzz.py``."""

from __future__ import annotations

import collections

from fuzzer import KINDS, run, sources, tally
from io_fixtures import SHARED


def test_fuzz_readers(tmp_path):
    srcs = sources(SHARED, tmp_path)
    results = run(srcs, 400, seed=0, workdir=tmp_path)
    report = tally(results)
    assert not [r for r in results if r.failed], report
    seen = collections.Counter((r.fmt, r.kind) for r in results)
    fmts = {s.fmt for s in srcs}
    assert {"EDF", "BDF", "GDF", "TUEV rec"} <= fmts  # written ones, always present
    assert all(seen[(f, k)] > 0 for f in fmts for k in KINDS), report
    # the fuzzer can fail: a header field mutated to garbage is refused, not read
    assert all(r.outcome == "error" for r in results if r.kind == "field"), report


def test_fuzzer_detects_silent_garbage(tmp_path, monkeypatch):
    """A reader that ignores the record-duration field would read garbage silently: the fuzzer
    reports it (guards against a fuzzer that cannot fail)."""
    import biosig.io.edf as edf

    srcs = [s for s in sources(SHARED, tmp_path) if s.name == "written EDF+"]
    srcs[0].fields = [f for f in srcs[0].fields if f[0].startswith("record_duration='1e9'")]
    monkeypatch.setattr(edf, "check_timing", lambda *a, **k: None)
    results = run(srcs, 8, seed=0, workdir=tmp_path)
    assert any(r.failed and r.kind == "field" and r.outcome == "changed" for r in results)
