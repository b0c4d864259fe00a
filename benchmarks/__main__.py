"""``python -m benchmarks``: regenerate every performance figure of the docs in one run.

Each benchmark script prints its figures as ratios against a baseline measured in the same run
(the same process or its subprocesses, so machine load hits both alike). This runner calls them
one after another, echoes their output, and with ``--out DIR`` writes ``benchmarks.md`` (the
outputs under headings, with the date, torch version, CPU count and load average) and
``benchmarks.json``.

    python -m benchmarks                 # full sizes (about an hour on 2 loaded cores)
    python -m benchmarks --quick         # small sizes (a few minutes)
    python -m benchmarks --only soft_dtw dbconformer --out /tmp/bench
    python -m benchmarks --list          # names and commands, nothing run

The accuracy experiments (``eegformer_eegmat.py``, ``eegdm_eegmat_probe.py``,
``eegformer_tuev_tokens.py``) are not performance figures and are not run here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name -> (script, arguments for the full run, arguments for --quick, what it measures)
BENCHES: dict[str, tuple[str, list[str], list[str], str]] = {
    "soft_dtw": ("bench_soft_dtw.py", [], ["--quick"],
                 "soft-DTW kernel vs PyTorch wavefront (with/without clamp) and tslearn"),
    "dbconformer": ("bench_dbconformer.py", [], ["--quick"],
                    "DBConformer default vs the official-code-equivalent, and EEGConformer"),
    "threads": ("bench_threads.py", [], ["--quick"],
                "1 vs 2 torch threads: DBConformer and the ECGNet LSTM"),
    "optimizer": ("bench_optimizer.py", [], ["--quick"],
                  "fused optimisers vs PyTorch's default: Adam step, training step"),
    "cache": ("bench_cache.py", [], ["--quick"],
              "window cache vs braindecode windowing; warm epoch vs memcpy"),
    "datasets": ("bench_datasets.py", [], ["--quick"],
                 "dataset indexes and cold cache builds"),
    "ecgnet": ("bench_ecgnet.py", [], ["--quick"],
               "discrete Fréchet distance vs a loop; generator records/s"),
    "eegdm": ("bench_eegdm.py", [], ["--small", "--iters", "1"],
              "S4D vs FFT convolution, SSMDP train step, samplers"),
    "cold_build": ("bench_cold_build.py", [], ["--repeats", "2", "--files", "8"],
                   "EDF read + windows and cold get_cache vs braindecode on the shared EDFs"),
    "cache_scale": ("bench_cache_scale.py", [], ["--quick"],
                    "parallel/sharded builds, warm epoch vs memcpy (float32/float16, shards), "
                    "peak memory"),
    "eegformer": ("eegformer_throughput.py", [], ["--steps", "2", "--epochs", "2"],
                  "EEGFormer pretraining windows/s: bare step vs biosig fit"),
}


def _machine() -> dict:
    import torch

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(), "torch": torch.__version__,
        "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
        "machine": platform.processor() or platform.machine(),
    }


def _command(name: str, quick: bool) -> list[str]:
    script, full, small, _ = BENCHES[name]
    return [sys.executable, str(HERE / script), *(small if quick else full)]


def run(names: list[str], quick: bool, timeout: int) -> list[dict]:
    """Run the named benchmarks; returns one record per benchmark (output, exit code, time)."""
    env = dict(os.environ)
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = []
    for name in names:
        cmd = _command(name, quick)
        print(f"\n=== {name}: {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))}",
              flush=True)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                               cwd=root)
            rc, text = p.returncode, p.stdout + (f"\n[stderr]\n{p.stderr[-3000:]}"
                                                 if p.returncode else "")
        except subprocess.TimeoutExpired as e:
            rc, text = 124, (e.stdout or b"").decode(errors="replace") + f"\n[timeout {timeout} s]"
        print(text, flush=True)
        out.append({"name": name, "command": cmd[1:], "returncode": rc,
                    "seconds": round(time.perf_counter() - t0, 1), "output": text})
    return out


def write_report(records: list[dict], machine: dict, quick: bool, out_dir: Path) -> Path:
    """``benchmarks.md`` and ``benchmarks.json`` under ``out_dir``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# biosig benchmarks ({'quick' if quick else 'full'} run)", "",
             ", ".join(f"{k}: {v}" for k, v in machine.items()), ""]
    for r in records:
        status = "ok" if r["returncode"] == 0 else f"FAILED (exit {r['returncode']})"
        cmd = " ".join(Path(c).name if c.endswith(".py") else c for c in r["command"])
        lines += [f"## {r['name']}: {BENCHES.get(r['name'], ('', [], [], ''))[3]}", "",
                  f"`python benchmarks/{cmd}` - {status}, {r['seconds']} s", "",
                  "```", r["output"].rstrip(), "```", ""]
    md = out_dir / "benchmarks.md"
    md.write_text("\n".join(lines))
    (out_dir / "benchmarks.json").write_text(json.dumps(
        {"machine": machine, "quick": quick, "benchmarks": records}, indent=1))
    return md


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m benchmarks",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHES), default=None)
    ap.add_argument("--out", default=None, help="write benchmarks.md / benchmarks.json here")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per benchmark")
    ap.add_argument("--list", action="store_true", help="print names and commands only")
    args = ap.parse_args(argv)
    names = args.only or list(BENCHES)
    if args.list:
        for n in names:
            print(f"{n:<12} {' '.join(_command(n, args.quick)[1:])}  # {BENCHES[n][3]}")
        return 0
    machine = _machine()
    print(", ".join(f"{k}: {v}" for k, v in machine.items()))
    records = run(names, args.quick, args.timeout)
    if args.out:
        print(f"report: {write_report(records, machine, args.quick, Path(args.out))}")
    failed = [r["name"] for r in records if r["returncode"] != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
