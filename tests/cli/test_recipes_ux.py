"""Recipe scripts for a newcomer: ``--download`` where the dataset allows it (and only there), and
no empty output folder left behind by a failed run."""

import importlib.util
import inspect
from pathlib import Path

import pytest

from biosig.errors import BiosigError
from biosig.experiments.runner import output_folder

ROOT = Path(__file__).resolve().parents[2]
#: recipe -> (the dataset class it builds for real data, its --data value or None)
DOWNLOADS = {
    "recipes/bciiv2a/dbconformer.py": ("biosig.datasets.bciiv2a.BCIIV2a", "bciiv2a"),
    "recipes/bciiv2a/hveegnet.py": ("biosig.datasets.bciiv2a.BCIIV2a", "bciiv2a"),
    "recipes/eegmat/rest_vs_task.py": ("biosig.datasets.eegmat.EEGMAT", None),
    "recipes/eegmmidb/dbconformer.py": ("biosig.datasets.eegmmidb.EEGMMIDB", "eegmmidb"),
    "recipes/eegmmidb/runwise.py": ("biosig.datasets.eegmmidb.EEGMMIDB", None),
    "recipes/ptbxl/ecgnet.py": ("biosig.datasets.ptbxl.PTBXL", "ptbxl"),
}


def _load(rel: str):
    spec = importlib.util.spec_from_file_location("recipe_" + rel.replace("/", "_")[:-3],
                                                  ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Reached(Exception):
    pass


@pytest.mark.parametrize("rel", sorted(DOWNLOADS), ids=lambda r: r.split("/", 1)[1])
def test_download_flag_reaches_the_dataset(rel, monkeypatch, tmp_path):
    mod = _load(rel)
    path, data = DOWNLOADS[rel]
    module, _, name = path.rpartition(".")
    seen = {}
    real_cls = getattr(importlib.import_module(module), name)

    def init(self, *args, **kwargs):
        seen.update(kwargs)
        raise _Reached

    init.__signature__ = inspect.signature(real_cls.__init__)  # presets read the signature
    fake = type(name, (real_cls,), {"__init__": init})
    monkeypatch.setattr(importlib.import_module(module), name, fake)
    import biosig.data.presets as presets  # the presets table holds the classes: patch it too

    real = presets._presets
    monkeypatch.setattr(presets, "_presets", lambda: {
        k: ((fake, *v[1:]) if v[0] is real_cls else v) for k, v in real().items()})
    argv = ["--download", "--path", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "c")]
    with pytest.raises(_Reached):
        mod.main(argv + (["--data", data] if data else []))
    assert seen.get("download") is True


@pytest.mark.parametrize("rel", ["recipes/bciiv2a/dbconformer.py", "recipes/ptbxl/ecgnet.py",
                                 "recipes/eegmmidb/dbconformer.py", "recipes/bciiv2a/hveegnet.py"])
def test_download_with_the_simulator_is_refused(rel, tmp_path):
    with pytest.raises(SystemExit, match="--download fetches"):
        _load(rel).main(["--download", "--cache-dir", str(tmp_path / "c")])


def test_failed_recipe_leaves_no_output_folder(tmp_path):
    out = tmp_path / "results" / "ecgnet"
    with pytest.raises(BiosigError):  # no PTB-XL there: the dataset refuses
        _load("recipes/ptbxl/ecgnet.py").main(["--data", "ptbxl", "--path", str(tmp_path / "no"),
                                               "--out", str(out)])
    assert not (tmp_path / "results").exists()


def test_output_folder_removes_only_what_it_made_and_is_still_empty(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError):
        with output_folder(tmp_path / "kept" / "a" / "b") as out:
            assert out.is_dir()
            raise RuntimeError
    assert (tmp_path / "kept").is_dir() and not (tmp_path / "kept" / "a").exists()
    with pytest.raises(RuntimeError):
        with output_folder(tmp_path / "x" / "y") as out:
            (out / "partial.csv").write_text("1")
            raise RuntimeError
    assert (tmp_path / "x" / "y" / "partial.csv").exists()
    with output_folder(tmp_path / "ok") as out:
        pass
    assert out.is_dir()


@pytest.mark.parametrize("rel", sorted(str(p.relative_to(ROOT)) for p in
                                       ROOT.glob("recipes/*/*.py")), ids=lambda r: r[8:])
def test_recipe_help_starts_with_what_the_script_does(rel):
    """Nine recipes gave argparse ``__doc__.split("\\n")[1]``, the blank line after the summary:
    ``--help`` never said what the script does."""
    mod = _load(rel)
    assert mod.build_parser().description == mod.__doc__.split("\n")[0].strip()


@pytest.mark.parametrize("rel", sorted(str(p.relative_to(ROOT)) for p in
                                       ROOT.glob("recipes/*/*.py")), ids=lambda r: r[8:])
def test_recipe_options_are_not_abbreviated(rel, capsys):
    """argparse took a shortened option for the one it starts (`--n-subj` for `--n-subjects`),
    so a typo passed silently."""
    with pytest.raises(SystemExit) as exit_:
        _load(rel).build_parser().parse_args(["--hel"])  # abbreviated: --help, exit 0
    assert exit_.value.code == 2 and "unrecognized arguments: --hel" in capsys.readouterr().err
