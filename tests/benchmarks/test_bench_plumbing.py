"""Benchmark plumbing (not timings): the ``python -m benchmarks`` runner and bench workers."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

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


def test_optimizer_bench_times_the_implementation_it_asks_for(tmp_path, capsys):
    bench = _load("bench_optimizer")
    bench.optimizer_steps(["cvd_cnn"], iters=1, repeats=1)
    assert re.search(r"cvd_cnn\s+14\s+191,045 .* \d+\.\d\dx", capsys.readouterr().out)
    for fused in (False, True):  # it checks the fitted task's optimiser and raises otherwise
        assert len(bench.training_step("cvd_cnn", fused, 2, 4, tmp_path)) == 2


def _gpu_check_report(tmp_path, *extra):
    gc = _load("gpu_check")
    rc = gc.main(["--device", "cpu", "--tiny", "--out", str(tmp_path), *extra])
    (js,) = tmp_path.glob("gpu_check_*.json")
    return rc, json.loads(js.read_text()), gc


def test_gpu_check_cpu_plumbing(tmp_path):
    setting = ["--set", "trainer.enable_model_summary", "false"]
    rc, rep, gc = _gpu_check_report(tmp_path, "--only", "dbconformer", *setting)
    assert rc == 0 and rep["ok"], rep
    r = rep["recipes"]["dbconformer"]
    assert r["loss_key"] == "loss"  # a --set does not change which loss is checked
    assert r["precision"] == "bf16-mixed" and r["steps_run"] == 2 and r["finite"]
    assert r["samples_per_s"] > 0 and r["gpu_util_pct"] is None
    assert r["host_syncs_per_step"] is None and r["host_sync_sites"] is None  # CUDA only
    assert set(rep["soft_dtw"]) == {"cpu_kernel/float32", "cpu_kernel/float64"}
    speed = rep["soft_dtw_speed"]["cpu_kernel/cpu"]
    assert speed["ok"] and speed["cells_per_s"] > 0 and speed["vs_cpu_kernel"] == 1.0
    assert rep["ddp"]["world_size"] == 2 and rep["ddp"]["grads_agree"]
    assert "hveegnet" not in rep["uncovered_models"] and "dbconformer" not in rep[
        "uncovered_models"]
    args = ["--device", "cpu", "--tiny", "--out", str(tmp_path), "--only", "dbconformer", *setting]
    assert rep["command"] == args  # which run a report is: a load sweep or the full check
    md = next(tmp_path.glob("gpu_check_*.md")).read_text()
    assert "# GPU check: none (CPU plumbing run)" in md and "| dbconformer |" in md
    assert "| GPU util % | host syncs/step | ok |" in md and "| None | None | yes |" in md
    assert f"Command: `python benchmarks/gpu_check.py {' '.join(args)}`" in md
    assert "| cpu_kernel/cpu |" in md
    assert gc._decreasing([3.0, 2.0, 1.0]) is True and gc._decreasing([1.0, 2.0, 3.0]) is False


def test_gpu_check_compiled_runs_against_the_eager_one(tmp_path, monkeypatch):
    """``--compile MODE``: each recipe again with its networks compiled, set against its eager
    run of the same report (Dynamo's eager backend here: Inductor compiles for a minute on CPU)."""
    import biosig.callbacks

    made = []

    class EagerCompile(biosig.callbacks.CompileNetworks):
        def __init__(self, mode):
            super().__init__(mode, backend="eager")
            made.append(self)

    monkeypatch.setattr(biosig.callbacks, "CompileNetworks", EagerCompile)
    rc, rep, _ = _gpu_check_report(tmp_path, "--only", "dbconformer", "--skip-ddp",
                                   "--compile", "reduce-overhead")
    assert rc == 0 and rep["ok"], rep
    (c,) = rep["compiled"].values()
    assert c["compile_mode"] == "reduce-overhead" and c["steps_run"] == 2 and c["finite"]
    assert c["warmup_steps"] == 1  # of 2 steps: the first (compilation) left out
    assert c["eager_step_s"] == rep["recipes"]["dbconformer"]["step_s"]
    # sync-free (the default): a step time holds the wait between steps
    assert c["wait_s"] is None and c["host_wait_s"] >= 0
    assert c["speedup"] == pytest.approx(c["eager_step_s"] / c["step_s"], abs=0.01)
    assert [m.compiled for m in made] == [["net"]]  # only the compiled run, its one network
    md = next(tmp_path.glob("gpu_check_*.md")).read_text()
    assert "## torch.compile" in md and "| dbconformer | reduce-overhead |" in md


#: tensor methods that copy a value to the host: on a GPU each waits for the device's queue
HOST_READS = {"item", "__float__", "__int__", "__bool__", "tolist", "cpu", "numpy"}


class _CountHostReads(torch.overrides.TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.reads = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", None) in HOST_READS:
            self.reads.append(func.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("sync_steps", [False, True])
def test_gpu_check_meter_waits_for_the_device_only_at_the_windows_ends(monkeypatch, sync_steps):
    """The step meter on a (fake) CUDA module: by default two synchronisations (the first timed
    step's start, the last step's end) and no tensor read during the steps, the losses and
    logged values read at the fit's end, as they were when logged; ``--sync-steps``: two a step."""
    gc = _load("gpu_check")
    meter = gc._step_meter(steps=4, warmup=1, sync_steps=sync_steps)
    syncs = []
    monkeypatch.setattr(torch.cuda, "synchronize",
                        lambda device=None: syncs.append((len(meter.starts), len(meter.ends))))
    module = SimpleNamespace(device=torch.device("cuda"), log=lambda *a, **kw: None)
    meter.on_fit_start(None, module)
    with _CountHostReads() as counted:
        for i in range(4):
            running = torch.tensor(float(10 * i))
            meter.on_train_batch_start(None, module, torch.zeros(3, 2), i)
            module.log("train_l1", running)
            module.log("val_loss", torch.tensor(1.0))
            running.add_(1.0)  # a value changed in place after it was logged
            out = {"loss": torch.tensor(i / 2, dtype=torch.bfloat16)}
            meter.on_train_batch_end(None, module, out, torch.zeros(3, 2), i)
    meter.on_train_end(None, module)
    meter.on_fit_end(None, module)
    assert counted.reads == []
    assert syncs == ([(i + s, i) for i in range(4) for s in (0, 1)] if sync_steps
                     else [(1, 1), (4, 3)])
    assert meter.losses == [0.0, 0.5, 1.0, 1.5] and meter.samples == [3] * 4
    assert meter.logged == [{"train_l1": 10.0 * i} for i in range(4)]
    assert meter.window_start == meter.starts[1] and meter.window_end == meter.ends[-1]


class _FakeSyncDebugMode:
    """torch.cuda's sync debug mode where there is no CUDA: every mode set, and a synchronising
    call that warns as PyTorch's does in "warn" mode (the meter's own synchronize one too)."""

    def __init__(self, monkeypatch, gc):
        self.mode, self.set, self.message = 0, [], gc.SYNC_WARNING
        monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: self.mode)
        monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", self._set)
        monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: self.read(3))

    def _set(self, mode):
        self.set.append(mode)
        self.mode = {"default": 0, "warn": 1, "error": 2}.get(mode, mode)

    def read(self, stacklevel=2):
        """A synchronising call: the warning names the caller's line, as PyTorch's does."""
        if self.mode == 1:
            warnings.warn(f"{self.message} (Triggered internally at CUDAFunctions.cpp:1.)",
                          UserWarning, stacklevel=stacklevel)


def test_gpu_check_counts_the_host_syncs_of_the_timed_window_by_line(monkeypatch):
    """Synchronisations in the timed window are counted by source line; the warm-up step's,
    the meter's own and those after the window are not; other warnings pass on; the debug mode,
    the warning filters and ``warnings.showwarning`` are as before."""
    gc = _load("gpu_check")
    cuda = _FakeSyncDebugMode(monkeypatch, gc)
    syncs = gc._HostSyncCounter()
    meter = gc._step_meter(steps=4, warmup=1, syncs=syncs)
    module = SimpleNamespace(device=torch.device("cuda"), log=lambda *a, **kw: None)
    here = "tests/benchmarks/test_bench_plumbing.py"
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")  # once per source line: each sync counted all the same
        filters, show = warnings.filters[:], warnings.showwarning
        meter.on_fit_start(None, module)
        for i in range(4):
            meter.on_train_batch_start(None, module, torch.zeros(3, 2), i)
            cuda.read()
            every_step = f"{here}:{sys._getframe().f_lineno - 1}"
            for _ in range(2 * (i == 2)):
                cuda.read()
            twice = f"{here}:{sys._getframe().f_lineno - 1}"
            if i == 2:
                warnings.warn("not a synchronisation", UserWarning, stacklevel=1)
            meter.on_train_batch_end(None, module, {"loss": torch.tensor(1.0)}, None, i)
        warnings.warn(gc.SYNC_WARNING, UserWarning, stacklevel=1)  # after the window
        meter.on_train_end(None, module)
        meter.on_fit_end(None, module)
        assert warnings.filters == filters and warnings.showwarning is show
    assert cuda.set == ["warn", 0] and cuda.mode == 0
    assert [str(w.message) for w in shown] == ["not a synchronisation", gc.SYNC_WARNING]
    assert syncs.figures(3) == {"host_syncs_per_step": 1.67,
                                "host_sync_sites": [[every_step, 3], [twice, 2]]}


def test_gpu_check_names_the_caller_of_a_sync_inside_torch(monkeypatch):
    """A synchronisation in torch's own Python code is named with its first caller outside it."""
    gc = _load("gpu_check")
    _FakeSyncDebugMode(monkeypatch, gc)
    torch_file = Path(torch.__file__).parent / "nn" / "functional.py"
    code = compile(f"import warnings\n\nwarnings.warn({gc.SYNC_WARNING!r})", torch_file, "exec")
    syncs = gc._HostSyncCounter()
    syncs.start()
    try:
        exec(code, {})
        line = sys._getframe().f_lineno - 1
    finally:
        syncs.stop()
    here = "tests/benchmarks/test_bench_plumbing.py"
    assert list(syncs.sites) == [f"torch/nn/functional.py:3 <- {here}:{line}"]


def test_gpu_check_restores_the_warnings_when_the_fit_raises(monkeypatch):
    """A fit that raises inside the timed window leaves no sync debug mode or warning filter."""
    gc = _load("gpu_check")
    cuda = _FakeSyncDebugMode(monkeypatch, gc)
    syncs = gc._HostSyncCounter()
    meter = gc._step_meter(steps=4, warmup=0, syncs=syncs)
    module = SimpleNamespace(device=torch.device("cuda"), log=lambda *a, **kw: None)

    def fit(model, datamodule):
        meter.on_fit_start(None, module)
        meter.on_train_batch_start(None, module, torch.zeros(3, 2), 0)
        assert cuda.mode == 1
        raise RuntimeError("diverged")

    cli = SimpleNamespace(trainer=SimpleNamespace(fit=fit), model=None, datamodule=None)
    filters, show = warnings.filters[:], warnings.showwarning
    with pytest.raises(RuntimeError, match="diverged"):
        gc._fit(cli, "cpu", syncs)
    assert cuda.mode == 0 and warnings.filters == filters and warnings.showwarning is show
    syncs.stop()  # a second stop does nothing
    assert cuda.set == ["warn", 0]


def test_gpu_check_both_timings_report_the_same_losses(tmp_path):
    """Sync-free and ``--sync-steps`` runs of one recipe: the same losses, each mode's figures."""
    gc = _load("gpu_check")
    runs = {sync: gc.run_recipe("dbconformer", "cpu", 4, "bf16-mixed", True, tmp_path / str(sync),
                                sync_steps=sync) for sync in (False, True)}  # fmt: skip
    free, synced = runs[False], runs[True]
    assert free["ok"] and synced["ok"], runs
    assert free["losses"] == pytest.approx(synced["losses"], abs=1e-5)
    for r in runs.values():
        assert r["steps_run"] == 4 and r["warmup_steps"] == 1 and r["first_steps_s"] > 0
        assert r["step_s"] > 0 and r["samples_per_s"] > 0 and 0 <= r["loader_share"]
    assert free["wait_s"] is None and free["host_step_s"] > 0 and free["host_wait_s"] >= 0
    assert free["samples_per_s"] == pytest.approx(4 / free["step_s"], rel=0.01)
    assert synced["wait_s"] >= 0 and "host_wait_s" not in synced
    assert synced["samples_per_s"] == pytest.approx(
        4 / (synced["step_s"] + synced["wait_s"]), rel=0.01)


#: packages of biosig's stack that the lent GPU machines' image lacks and that do not travel as
#: wheels (benchmarks/gpu_wheels.txt): the GPU check must run without them
NOT_ON_THE_GPU_MACHINE = ("edfio", "braindecode")

_WITHOUT = """
import importlib.abc, runpy, sys
class Without(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {without!r}:
            raise ModuleNotFoundError(f"{{name}} is not on the GPU machine", name=name)
sys.meta_path.insert(0, Without())
sys.argv = ["gpu_check.py", *{args!r}]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.slow  # every recipe builds its synthetic data set: minutes on 2 cores
def test_gpu_check_cpu_plumbing_every_recipe(tmp_path):
    """Every recipe's steps, in a process where the packages the GPU machine lacks cannot be
    imported (as benchmarks/gpu_session.sh runs it there)."""
    import subprocess

    args = ["--device", "cpu", "--tiny", "--skip-ddp", "--out", str(tmp_path)]
    code = _WITHOUT.format(without=NOT_ON_THE_GPU_MACHINE, args=args,
                           script=str(BENCH / "gpu_check.py"))  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=BENCH.parent, timeout=1200)  # fmt: skip
    (js,) = tmp_path.glob("gpu_check_*.json")
    rep = json.loads(js.read_text())
    bad = {k: v.get("error", v) for k, v in rep["recipes"].items() if not v["ok"]}
    assert run.returncode == 0 and not bad, (bad, run.stdout[-2000:], run.stderr[-2000:])
    assert {r["precision"] for r in rep["recipes"].values()} == {"bf16-mixed"}  # as on the GPU


def _pins(text: str) -> dict[str, str]:
    """``name==version`` pins of a requirements file or pyproject.toml (comments skipped),
    names normalised as pip does."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    pins = re.findall(r"([A-Za-z0-9][A-Za-z0-9_.-]*)(?:\[[^]]*\])?==([A-Za-z0-9.+!]+)", text)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def test_gpu_wheels_keep_pyprojects_pins():
    """The wheels that travel to the GPU machine are the versions pyproject.toml pins, and
    none of them is a package the GPU check must run without."""
    wheels = _pins((BENCH / "gpu_wheels.txt").read_text())
    pinned = _pins((BENCH.parent / "pyproject.toml").read_text())
    assert {"jsonargparse", "mne"} <= set(wheels)
    assert {n: v for n, v in wheels.items() if pinned.get(n, v) != v} == {}
    assert not set(wheels) & set(NOT_ON_THE_GPU_MACHINE)


#: what a wheel requires that neither the image nor the wheels hold, and why that is fine
NOT_NEEDED_ON_THE_GPU_MACHINE = {"requests": "pooch imports it only to download",
                                 "soundfile": "wfdb imports it only for FLAC-compressed records"}


def test_gpu_wheels_bring_what_they_require():
    """Every wheel's requirements are in the image (the packages gpu_wheels.txt says it has,
    and what they require) or among the wheels: mne requires lazy_loader, which none of the
    image's packages brings, so `import mne` would fail there."""
    from importlib import metadata

    def name(requirement: str) -> str:
        return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement)[0]).lower()

    def requires(package: str, here: bool = True) -> set[str]:
        try:
            found = metadata.requires(package) or []
        except metadata.PackageNotFoundError:  # an image package this stack lacks (nvidia-ml-py)
            if here:
                raise
            found = []
        return {name(r) for r in found if "extra ==" not in r}

    text = (BENCH / "gpu_wheels.txt").read_text()
    wheels = set(_pins(text))
    listed = re.search(r"has (.*?);", text, re.S)[1].replace("#", " ")
    image = {name(p.strip()) for p in re.split(r",|\band\b", listed) if p.strip()}
    assert {"torch", "lightning", "numpy"} <= image
    have = image | wheels | set(NOT_NEEDED_ON_THE_GPU_MACHINE)
    for package in sorted(image):
        have |= requires(package, here=False)
    missing = {w: sorted(requires(w) - have) for w in sorted(wheels) if requires(w) - have}
    assert missing == {}


def test_cold_build_bench_runs_every_pipeline_on_one_real_file(shared_data, monkeypatch, capsys):
    """One round on the first real EDF: every pipeline yields the same windows, and the summary
    has the min/median and best-vs-best lines (timings are not checked)."""
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(shared_data))
    mod = _load("bench_cold_build")
    monkeypatch.setattr(sys, "argv", ["bench_cold_build", "--files", "1", "--repeats", "1",
                                      "--jobs", "1"])  # fmt: skip
    mod.main()
    out = capsys.readouterr().out
    assert "WARNING" not in out, out  # different window counts between pipelines
    for label in ("biosig read_edf", "floor: read_edf + write", "biosig cold cache",
                  "biosig cold cache float16", "biosig cold cache int16"):  # fmt: skip
        assert f"ratio eegmat: {label} / braindecode: min" in out, out
        assert f"best rate eegmat: {label} / braindecode: " in out, out


def test_cold_build_bench_shuffles_the_pipelines_of_each_round(shared_data, monkeypatch, capsys):
    """``--shuffle SEED``: every pipeline still runs once a round (in a seeded random order),
    and the rates are printed and compared in the usual order."""
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(shared_data))
    mod = _load("bench_cold_build")
    ran = []

    def counted(name, fn):
        return lambda *a, **k: (ran.append(name), fn(*a, **k))[1]

    monkeypatch.setattr(mod, "biosig_reader", counted("reader", mod.biosig_reader))
    monkeypatch.setattr(mod, "braindecode_windows", counted("bd", mod.braindecode_windows))
    monkeypatch.setattr(sys, "argv", ["bench_cold_build", "--files", "1", "--repeats", "3",
                                      "--jobs", "1", "--no-cache", "--shuffle", "1"])  # fmt: skip
    mod.main()
    out = capsys.readouterr().out
    assert "pipelines shuffled (seed 1)" in out and "WARNING" not in out, out
    rounds = [ran[i : i + 2] for i in range(2, len(ran), 2)]  # after the warm-up's two
    assert len(rounds) == 3 and all(sorted(r) == ["bd", "reader"] for r in rounds), ran
    assert ["reader", "bd"] in rounds, ran  # seed 1: not always braindecode first
    assert out.count("round ") == 3 and "ratio eegmat: biosig read_edf / braindecode" in out


def test_cold_build_bench_copies_each_file_under_other_names(shared_data, monkeypatch, capsys):
    """``--copies 3``: each file read three times (symlinks), the same windows in every
    pipeline."""
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(shared_data))
    mod = _load("bench_cold_build")
    monkeypatch.setattr(sys, "argv", ["bench_cold_build", "--files", "1", "--repeats", "1",
                                      "--jobs", "1", "--copies", "3"])  # fmt: skip
    mod.main()
    out = capsys.readouterr().out
    assert "every file 3 times" in out and "eegmat (3 files" in out, out
    assert "WARNING" not in out and "best rate eegmat: biosig cold cache int16" in out, out


def test_cold_build_scaling_fits_fixed_and_per_file_costs(shared_data, monkeypatch, capsys):
    """``--scaling``: braindecode and the int16 cache on 1, 2, 4 and 8 copies of one real EDF;
    a fixed cost and a cost per file for each, and their ratios (timings are not checked)."""
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(shared_data))
    mod = _load("bench_cold_build")
    monkeypatch.setattr(sys, "argv", ["bench_cold_build", "--files", "1", "--scaling", "1"])
    mod.main()
    out = capsys.readouterr().out
    for label in ("braindecode", "biosig cold cache int16"):
        assert f"scaling eegmat: {label}: " in out and "at 1, 2, 4, 8 files" in out, out
    assert "per file, biosig cold cache int16 / braindecode" in out and "x at 8 files" in out, out


def test_cold_build_gather_compares_kernel_and_numpy(shared_data, monkeypatch, capsys):
    """``--gather``: the record gather kernel against its numpy path on one real EDF, the same
    values checked (timings are not)."""
    from biosig import _native

    if _native.compiler() is None:
        pytest.skip("no C++ compiler")
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(shared_data))
    mod = _load("bench_cold_build")
    monkeypatch.setattr(sys, "argv", ["bench_cold_build", "--files", "1", "--gather", "2"])
    mod.main()
    assert "record gather of 1 files" in capsys.readouterr().out


def test_cold_build_where_time_names_both_threads(shared_data, monkeypatch, capsys):
    """``--where-time``: builds of one real EDF timed per thread; the cache's own functions are
    restored afterwards (timings are not checked)."""
    import biosig.data.cache_build as cb

    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(shared_data))
    mod = _load("bench_cold_build")
    saved = cb._XWriter._write, cb._XWriter.put, cb.process_record
    monkeypatch.setattr(sys, "argv", ["bench_cold_build", "--files", "1", "--where-time", "2"])
    mod.main()
    out = capsys.readouterr().out
    for line in ("int16 cold build of 1 files, 2 builds", "build wall time",
                 "building thread: records", "building thread: waiting for the writer's queue",
                 "writer: write into the page cache", "writer: CRC-32"):  # fmt: skip
        assert line in out, out
    assert (cb._XWriter._write, cb._XWriter.put, cb.process_record) == saved
