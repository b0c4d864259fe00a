"""Benchmark plumbing (not timings): the ``python -m benchmarks`` runner and bench workers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_runner_writes_report_and_flags_failures(tmp_path, monkeypatch, capsys):
    runner = _load("__main__")
    ok = tmp_path / "ok.py"
    ok.write_text("import sys\nprint('thing: x2.50 faster', sys.argv[1:])\n")
    bad = tmp_path / "bad.py"
    bad.write_text("raise SystemExit('broken bench')\n")
    monkeypatch.setattr(runner, "HERE", tmp_path)
    monkeypatch.setattr(runner, "BENCHES", {
        "ok": ("ok.py", ["--full"], ["--quick"], "a fake benchmark"),
        "bad": ("bad.py", [], [], "a failing one")})
    assert runner.main(["--only", "ok", "--quick", "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "benchmarks.md").read_text()
    assert "x2.50 faster" in md and "['--quick']" in md and "quick run" in md
    rec = json.loads((tmp_path / "r" / "benchmarks.json").read_text())
    assert rec["benchmarks"][0]["returncode"] == 0 and "torch" in rec["machine"]
    assert runner.main(["--out", str(tmp_path / "r2")]) == 1
    assert "FAILED" in (tmp_path / "r2" / "benchmarks.md").read_text()
    runner.main(["--list"])
    assert "bad.py" in capsys.readouterr().out


def test_real_benches_are_listed():
    runner = _load("__main__")
    for script, *_ in runner.BENCHES.values():
        assert (BENCH / script).exists(), script


def test_soft_dtw_worker_kernel_and_reference_agree():
    bench = _load("bench_soft_dtw")
    a = bench._worker("kernel", 2, 3, 20, "cpu", 1)
    b = bench._worker("torch", 2, 3, 20, "cpu", 1)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    assert a["ns_per_cell_cpu"] > 0 and a["cpu_s"] > 0


def test_threads_worker_runs_a_step():
    bench = _load("bench_threads")
    r = bench._worker("ecgnet", 1, 1, True)
    assert r["threads"] == 1 and r["wall_s"] > 0
