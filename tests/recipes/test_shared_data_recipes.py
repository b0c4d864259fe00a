"""The shared-data recipes (PTB-XL, CinC 2021) find the data through ``$BIOSIG_SHARED_DATA`` (else
``../shared/data`` beside the project), from any working directory and any clone; dataset paths
expand environment variables; recipes name no internal (non-public) paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from biosig.datasets._common import dataset_root, expand_path
from biosig.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHARED_RECIPES = {
    "recipes/ptbxl/ecgnet.yaml": "ecg_wfdb/ptbxl",
    "recipes/ptbxl/cvd_cnn.yaml": "ecg_wfdb/ptbxl",
    "recipes/cinc2021/ecgnet.yaml": "ecg_wfdb/cinc2021",
}


def _recipe_path(rel: str) -> str:
    return yaml.safe_load((REPO / rel).read_text())["data"]["source"]["init_args"]["path"]


@pytest.mark.parametrize("rel", sorted(SHARED_RECIPES))
def test_recipe_data_path_follows_biosig_shared_data(rel, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the project root: a relative ../shared/data would miss
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(tmp_path / "elsewhere"))
    assert dataset_root(_recipe_path(rel)) == tmp_path / "elsewhere" / SHARED_RECIPES[rel]


@pytest.mark.parametrize("rel", sorted(SHARED_RECIPES))
def test_recipe_data_path_defaults_to_shared_data_beside_the_project(rel, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BIOSIG_SHARED_DATA", raising=False)
    expected = REPO.parent / "shared" / "data" / SHARED_RECIPES[rel]
    assert dataset_root(_recipe_path(rel)) == expected


def test_expand_path(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(tmp_path))
    monkeypatch.setenv("SOME_ROOT", str(tmp_path / "x"))
    assert expand_path("$BIOSIG_SHARED_DATA/a") == tmp_path / "a"
    assert expand_path("${SOME_ROOT}/b") == tmp_path / "x" / "b"
    assert expand_path("~/c") == Path.home() / "c"
    monkeypatch.delenv("BIOSIG_SHARED_DATA")
    default = REPO.parent / "shared" / "data"
    assert expand_path("${BIOSIG_SHARED_DATA}/d") == default / "d"
    assert expand_path("$BIOSIG_SHARED_DATA") == default
    monkeypatch.delenv("SOME_ROOT")
    with pytest.raises(ConfigError, match=r"\$\{SOME_ROOT\} is not set"):
        expand_path("${SOME_ROOT}/b")
    with pytest.raises(ConfigError, match=r"\$BIOSIG_SHARED_DATA_X is not set"):
        expand_path("$BIOSIG_SHARED_DATA_X/e")  # another variable, not the shared-data default
    (tmp_path / "$weird").mkdir()  # an existing folder whose name holds a dollar is kept as is
    assert expand_path(tmp_path / "$weird") == tmp_path / "$weird"


@pytest.mark.parametrize("env", [None, "elsewhere"])
def test_a_missing_shared_data_folder_names_the_variable(env, tmp_path, monkeypatch):
    """A recipe's ``${BIOSIG_SHARED_DATA}/...`` path that does not exist: the error said only
    where it looked, not that the folder came from the (unset or other) variable."""
    from biosig.datasets import PTBXL
    from biosig.errors import InvalidFileError

    if env is None:
        monkeypatch.delenv("BIOSIG_SHARED_DATA", raising=False)
        monkeypatch.setattr("biosig.datasets._common._default_shared_data_dir",
                            lambda: tmp_path / "none")
        said = "with BIOSIG_SHARED_DATA unset: ../shared/data beside the project"
    else:
        monkeypatch.setenv("BIOSIG_SHARED_DATA", str(tmp_path / env))
        said = f"with BIOSIG_SHARED_DATA='{tmp_path / env}'"
    with pytest.raises(InvalidFileError, match="PTB-XL not found here") as err:
        PTBXL(path="${BIOSIG_SHARED_DATA}/ecg_wfdb/ptbxl")
    assert said in str(err.value) and "set BIOSIG_SHARED_DATA to the folder" in str(err.value)
    with pytest.raises(InvalidFileError) as err:  # a path given directly: no word on it
        PTBXL(path=tmp_path / "mine")
    assert "BIOSIG_SHARED_DATA" not in str(err.value)


@pytest.mark.shared_data
def test_ptbxl_recipe_reads_the_data_named_by_the_env_var(shared_data, tmp_path, monkeypatch):
    """Through the CLI's own parsing (jsonargparse keeps ``${...}`` as text), from another
    directory, with the shared data reached only through ``BIOSIG_SHARED_DATA``."""
    from biosig.cli import lightning_cli

    if not (shared_data / "ecg_wfdb" / "ptbxl" / "ptbxl_database.csv").is_file():
        pytest.skip("no PTB-XL records in the shared data")
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "ecg_wfdb").symlink_to(shared_data / "ecg_wfdb")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("BIOSIG_SHARED_DATA", str(tmp_path / "mirror"))
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cli = lightning_cli(
            [
                "--config",
                str(REPO / "recipes/ptbxl/ecgnet.yaml"),
                "--data.cache_dir",
                str(tmp_path / "cache"),
                "--trainer.logger",
                "false",
            ],
            run=False,
        )
    finally:
        torch.set_num_threads(torch_threads)
    source = cli.datamodule.source
    assert source.root == tmp_path / "mirror" / "ecg_wfdb" / "ptbxl"
    assert len(source.records()) == 508  # the 510 shared records less 2 with no superclass


def test_recipes_name_no_internal_paths():
    """Recipes are read by users: no path of the developers' machines or private notes."""
    bad = []
    for path in sorted((REPO / "recipes").rglob("*")):
        if path.suffix not in (".yaml", ".py", ".sh"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "/work/" in line or "_notes/" in line or "shared/reference" in line:
                bad.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not bad, "\n".join(bad)
