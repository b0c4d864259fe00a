"""``biosig cache build`` (the same command in every task) and ``biosig cache verify``."""

import textwrap

import pytest

from biosig.cli import main
from biosig.data.cache import WindowCache

RECIPE = textwrap.dedent("""
    data:
      source:
        class_path: biosig.datasets.SyntheticMI
        init_args: {n_subjects: 2, n_trials_per_class: 3, include_eog: false}
      cache_options: {dtype: float16}
""")


@pytest.fixture
def recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOSIG_BUILD_WORKERS", "0")
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    return path


def test_tasks_build_their_shards_then_verify(recipe, tmp_path, capsys):
    base = ["cache", "build", "--config", str(recipe), "--cache-dir", str(tmp_path / "c")]
    assert main([*base, "--shards", "3", "--task", "0", "--tasks", "2"]) == 0
    assert "others still missing" in capsys.readouterr().out
    assert main([*base, "--shards", "3", "--task", "1", "--tasks", "2"]) == 0
    index = next((tmp_path / "c").rglob("index.json")).parent
    assert f"cache: {index}" in capsys.readouterr().out
    cache = WindowCache(index)
    assert cache.dtype == "float16" and len(cache.shards) == 3
    assert main(["cache", "verify", str(index)]) == 0
    assert capsys.readouterr().out.count("ok: ") == 3
    x = cache.shards[1].path / "X.f16"
    raw = bytearray(x.read_bytes())
    raw[7] ^= 0x10
    x.write_bytes(bytes(raw))
    assert main(["cache", "verify", str(index)]) == 1
    assert f"delete the folder {cache.shards[1].path}" in capsys.readouterr().err


def test_build_without_task_and_help(recipe, tmp_path, capsys):
    assert main(["cache", "build", "--config", str(recipe), "--cache-dir", str(tmp_path)]) == 0
    assert "windows)" in capsys.readouterr().out
    assert main(["cache", "--help"]) == 0 and "verify" in capsys.readouterr().out
    assert main(["cache", "frobnicate"]) == 2


def test_slurm_array_script(recipe, tmp_path):
    """recipes/slurm/build_cache.sh run as array tasks 0 and 1 of 2 builds the whole cache."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "recipes" / "slurm" / "build_cache.sh"
    env = {**os.environ, "BIOSIG": f"{sys.executable} -m biosig.cli",
           "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "0",
           "SLURM_CPUS_PER_TASK": "1", "BIOSIG_CACHE": str(tmp_path / "c")}  # fmt: skip
    outs = []
    for task in ("1", "0"):
        run = subprocess.run(["bash", str(script), str(recipe), "4"], capture_output=True,
                             text=True, env={**env, "SLURM_ARRAY_TASK_ID": task})  # fmt: skip
        assert run.returncode == 0, run.stderr
        outs.append(run.stdout)
    assert "others still missing" in outs[0] and "cache: " in outs[1]
    index = next((tmp_path / "c").rglob("index.json")).parent
    cache = WindowCache(index)  # 4 records (2 subjects x 2 sessions), 6 windows each
    assert len(cache) == 24 and 1 < len(cache.shards) <= 4
    assert "shard" in run.stderr and "shards finished" in run.stderr  # progress in the logs


def test_build_takes_data_overrides_and_checks_its_options_first(recipe, tmp_path, capsys):
    """As fit and run: --data.* overrides apply to the recipe (here 3 subjects, not 2); a bad
    --dtype is refused before the data are looked at."""
    base = ["cache", "build", "--config", str(recipe), "--cache-dir", str(tmp_path)]
    assert main([*base, "--data.source.init_args.n_subjects", "3"]) == 0
    built = int(capsys.readouterr().out.split("(")[-1].split()[0])
    assert main(base) == 0
    assert built == 3 * int(capsys.readouterr().out.split("(")[-1].split()[0]) // 2
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--dtype", "int8", "--data.source.init_args.path", "/nowhere"])
    assert exit_.value.code == 2 and "invalid choice: 'int8'" in capsys.readouterr().err
    assert main(["cache", "build", "--cache-dir", str(tmp_path)]) == 2  # said "build : no data"
    assert "biosig cache build needs a recipe: --config RECIPE.yaml" in capsys.readouterr().err


def test_build_help_names_the_recipe_options_and_no_option_is_abbreviated(recipe, tmp_path,
                                                                           capsys):
    with pytest.raises(SystemExit):
        main(["cache", "build", "--help"])
    out = capsys.readouterr().out
    assert "--config RECIPE.yaml" in out and "--data.KEY VALUE" in out
    # `--shard 3` is not `--shards 3`: it reaches the recipe overrides, which refuse it
    assert main(["cache", "build", "--config", str(recipe), "--cache-dir", str(tmp_path / "c"),
                 "--shard", "3"]) == 2
    assert "--shard: unknown key 'shard'" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_task_options_are_checked_before_the_build(recipe, tmp_path, capsys):
    """`--task foo` was a ValueError traceback; `--tasks N` without --task (or with --task env)
    was ignored and the process built every shard."""
    base = ["cache", "build", "--config", str(recipe), "--cache-dir", str(tmp_path / "c"),
            "--shards", "3"]
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--task", "foo", "--tasks", "2"])
    assert exit_.value.code == 2
    assert "--task: 'foo' is neither a task number nor 'env'" in capsys.readouterr().err
    assert main([*base, "--tasks", "2"]) == 2
    assert "--tasks 2 needs --task I" in capsys.readouterr().err
    assert main([*base, "--task", "env", "--tasks", "2"]) == 2
    assert "would be ignored" in capsys.readouterr().err
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("params.json"))


def test_cache_help_lists_the_commands_and_usage_errors_go_to_stderr(capsys):
    """argparse's help and errors: an unknown command or a missing folder was the whole
    hand-written help on stdout (or stderr), with no word of what was wrong."""
    assert main(["cache", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: biosig cache [-h] COMMAND ...")
    assert "verify    check cache folders" in out and "build     build a recipe's" in out
    assert main(["cache", "frobnicate"]) == 2
    captured = capsys.readouterr()
    assert not captured.out and "invalid choice: 'frobnicate'" in captured.err
    with pytest.raises(SystemExit) as exit_:
        main(["cache", "verify"])
    assert exit_.value.code == 2 and "required: FOLDER" in capsys.readouterr().err


def test_a_misspelt_build_option_names_the_right_one(recipe, tmp_path, capsys):
    """``--shard 4`` (for ``--shards``) went to the recipe overrides and was refused with the
    list of config sections only."""
    from biosig.data.cache import BUILD_OPTIONS, cache_parser

    assert main(["cache", "build", "--config", str(recipe), "--cache-dir", str(tmp_path),
                 "--shard", "4"]) == 2
    assert "unknown key 'shard' (did you mean --shards?)" in capsys.readouterr().err
    build = cache_parser()._subparsers._group_actions[0].choices["build"]
    assert {o[2:] for o in build._option_string_actions if o.startswith("--")} == {
        *BUILD_OPTIONS, "help"}


def test_build_logs_its_progress_as_fit_does(recipe, tmp_path):
    """``biosig cache build`` logged with the date and milliseconds and no colon, unlike the
    cache lines of ``biosig fit`` ("06:20:24 biosig.cache: caching ...")."""
    import re
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "biosig", "cache", "build", "--config",
                          str(recipe), "--cache-dir", str(tmp_path / "c")],
                         capture_output=True, text=True, check=True)
    lines = [line for line in run.stderr.splitlines() if "biosig.cache" in line]
    assert lines and all(re.match(r"\d\d:\d\d:\d\d biosig\.cache: ", line) for line in lines)


def test_a_task_build_over_a_damaged_index_writes_it_again(recipe, tmp_path, capsys):
    """With --task, a truncated index.json was kept (the command printed the cache as built
    and only opening it failed); it is now checked as an open checks it, and written again."""
    base = ["cache", "build", "--config", str(recipe), "--cache-dir", str(tmp_path / "c"),
            "--shards", "2", "--task", "0", "--tasks", "1"]
    assert main(base) == 0
    index = next((tmp_path / "c").rglob("index.json"))
    whole = index.read_text()
    index.write_text(whole[:50])
    assert main(base) == 0
    assert index.read_text() == whole and len(WindowCache(index.parent)) == 24
