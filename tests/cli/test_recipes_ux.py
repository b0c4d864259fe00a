"""Recipe scripts for a newcomer: ``--download`` where the dataset allows it (and only there), and
no empty output folder left behind by a failed run."""

import importlib.util
import inspect
import re
from pathlib import Path

import pytest
import yaml

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


@pytest.mark.parametrize("rel", ["recipes/ptbxl/ecgnet.py", "recipes/ptbxl/cvd_cnn.py"])
def test_failed_recipe_leaves_no_output_folder(rel, tmp_path):
    out = tmp_path / "results" / "ecg"
    with pytest.raises(BiosigError):  # no PTB-XL there: the dataset refuses
        _load(rel).main(["--data", "ptbxl", "--path", str(tmp_path / "no"), "--out", str(out)])
    assert not (tmp_path / "results").exists()


def _refused(rel, argv, message):
    return pytest.param(rel, argv, message, id=f"{Path(rel).stem} {' '.join(argv)}")


@pytest.mark.parametrize("rel, argv, message", [
    _refused("recipes/ptbxl/cvd_cnn.py", ["--n-boot", "-1"], r"^--n-boot -1: give 0 \(no "),
    _refused("recipes/ptbxl/cvd_cnn.py", ["--parity", "--input-lead", "V7"],
             r"^--input-lead: unknown ECG lead 'V7'; expected one of I, II, "),
    _refused("recipes/ptbxl/cvd_cnn.py", ["--epochs", "0"], r"^--epochs 0: train at least 1 "),
    _refused("recipes/ptbxl/cvd_cnn.py", ["--parity", "--gan-epochs", "0"], r"^--gan-epochs 0: "),
    _refused("recipes/ptbxl/ecgnet.py", ["--epochs", "0"], r"^--epochs 0: train at least 1 "),
    _refused("recipes/ptbxl/ecgnet.py", ["--input-leads", "I,V7"],
             r"^--input-leads: unknown ECG lead 'V7'"),
    _refused("recipes/ptbxl/ecgnet.py", ["--train-leads", ","],
             r"^--train-leads ',': name at least one lead"),
])
def test_ecg_recipe_settings_that_fail_after_training_are_refused_first(rel, argv, message,
                                                                        tmp_path, monkeypatch):
    """cvd_cnn.py trained for minutes, then crashed: --n-boot 0 (IndexError in the bootstrap),
    --input-lead V7 (after ECGNet's 72 s), --epochs 0 (Lightning's ModelCheckpoint message,
    ecgnet.py too); each left an empty --out folder. Now refused before any data are read."""
    from biosig.errors import ConfigError

    mod = _load(rel)

    def no_data(*args, **kwargs):
        raise AssertionError("data read before the settings were checked")

    for name in ("datamodule", "build_datamodule"):
        if hasattr(mod, name):
            monkeypatch.setattr(mod, name, no_data)
    with pytest.raises(ConfigError, match=message):
        mod.main([*argv, "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


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


def _help_texts(parser) -> dict:
    return {a.dest: " ".join(a.help.split()) for a in parser._actions if a.help}


def _numbers(text: str) -> list:
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def test_eegformer_pipeline_help_states_the_recipes_numbers():
    """``recipes/eegformer/pipeline.py --help`` quotes the YAML recipes' epochs and seeds and the
    --tiny ones: they are the values of recipes/<recipe>/eegformer_{pretrain,downstream}.yaml
    and of the script's TINY_* constants (a YAML edit that the help text does not follow
    fails here)."""
    mod = _load("recipes/eegformer/pipeline.py")
    helps = _help_texts(mod.build_parser())

    def yaml_of(recipe, stage):
        return yaml.safe_load((ROOT / "recipes" / recipe / f"eegformer_{stage}.yaml").read_text())

    pre = {r: yaml_of(r, "pretrain")["trainer"]["max_epochs"] for r in mod.RECIPES}
    down = {r: yaml_of(r, "downstream")["trainer"]["max_epochs"] for r in mod.RECIPES}
    seeds = {r: yaml_of(r, "downstream")["experiment"]["seeds"] for r in mod.RECIPES}
    # one number for each pair
    assert pre["tuab"] == pre["tuev"] and seeds["tuab"] == seeds["tuev"]
    assert pre["synthetic"] == pre["eegmat"] and seeds["synthetic"] == seeds["eegmat"]
    m = re.search(r"the recipe's: (\d+) synthetic and EEGMAT, (\d+) TUAB/TUEV; --tiny (\d+)\)",
                  helps["pretrain_epochs"])
    assert m, helps["pretrain_epochs"]
    assert [int(g) for g in m.groups()] == [pre["synthetic"], pre["tuab"],
                                            mod.TINY_PRETRAIN_EPOCHS]
    m = re.search(r"the recipe's, (\d+); --tiny (\d+)\)", helps["epochs"])
    assert m, helps["epochs"]
    assert set(down.values()) == {int(m.group(1))} and int(m.group(2)) == mod.TINY_EPOCHS
    m = re.search(r"the recipe's: ([\d ]+) synthetic and EEGMAT, ([\d ]+) TUAB/TUEV; "
                  r"--tiny ([\d ]+)\)",
                  helps["seeds"])
    assert m, helps["seeds"]
    assert [[int(n) for n in g.split()] for g in m.groups()] == [
        seeds["synthetic"], seeds["tuab"], list(mod.TINY_SEEDS)]


def test_eegdm_recipe_help_states_its_settings():
    """``recipes/tuev/eegdm.py --help``: each "(default: X; --tiny Y)" is what ``settings``
    uses without the option, full size and --tiny."""
    mod = _load("recipes/tuev/eegdm.py")
    parser = mod.build_parser()
    full, tiny = mod.settings(parser.parse_args([])), mod.settings(parser.parse_args(["--tiny"]))
    checked = []
    for dest, text in _help_texts(parser).items():
        m = re.search(r"\(default: ([\d.e-]+)(?:; --tiny ([\d.e-]+))?\)", text)
        if not m or dest not in full:
            continue
        assert float(m.group(1)) == full[dest], (dest, text)
        assert float(m.group(2) or m.group(1)) == tiny[dest], (dest, text)
        checked.append(dest)
    assert {"pretrain_epochs", "epochs", "min_epochs", "batch_size", "lr"} <= set(checked)


def test_paper_recipes_help_states_the_presets():
    """The protocol recipes' --help (:func:`biosig.experiments.paper.add_protocol_arguments`)
    quotes the presets' seeds, epochs and learning rates: they are ``resolve_settings``'s."""
    import argparse

    from biosig.experiments.paper import add_protocol_arguments, resolve_settings

    parser = argparse.ArgumentParser(allow_abbrev=False)
    add_protocol_arguments(parser)
    helps = _help_texts(parser)
    args = parser.parse_args([])

    def preset(name, protocol):
        args.preset = name
        return resolve_settings(args, protocol, synthetic=False)

    others = ["cv", "loso", "competition", "holdout"]
    assert "(default: the preset's: paper " in helps["seeds"]
    paper_seeds, quick_seeds = helps["seeds"].split("paper ")[1].split(", quick ")
    assert _numbers(paper_seeds) == preset("paper", "co")["seeds"]
    assert _numbers(quick_seeds) == preset("quick", "co")["seeds"]
    for key in ("epochs", "lr"):
        co, rest, quick = _numbers(helps[key])
        assert co == preset("paper", "co")[key], helps[key]
        assert {preset("paper", p)[key] for p in others} == {rest}, helps[key]
        assert {preset("quick", p)[key] for p in ["co", *others]} == {quick}, helps[key]


def test_bciiv2a_hveegnet_help_states_its_defaults():
    """``recipes/bciiv2a/hveegnet.py --help`` quotes per-data defaults of --subjects, --epochs
    and --resample: they are what ``settings`` fills in."""
    mod = _load("recipes/bciiv2a/hveegnet.py")
    parser = mod.build_parser()
    helps = _help_texts(parser)
    for data in ("bciiv2a", "synthetic"):
        args = parser.parse_args(["--data", data])
        subjects = mod.settings(args)
        stated = {dest: re.search(rf"(?:default: |, )([\w .-]+?) for {data}", helps[dest]).group(1)
                  for dest in ("subjects", "epochs", "resample")}
        first, _, last = stated["subjects"].partition("-")
        expected = list(range(int(first), int(last) + 1)) if last else _numbers(first)
        assert subjects == expected, (data, stated["subjects"])
        assert _numbers(stated["epochs"]) == [args.epochs], (data, helps["epochs"])
        assert _numbers(stated["resample"]) == ([args.resample] if args.resample else []), data


@pytest.mark.parametrize("rel", ["recipes/ptbxl/cvd_cnn.py", "recipes/ptbxl/ecgnet.py"])
def test_ecg_recipes_take_the_shared_data_options(rel):
    """Both PTB-XL recipes defined --data, --path and the simulator's options themselves (the
    same lines twice); now :func:`biosig._argparse.add_ecg_data_arguments` does, and each keeps
    its own number of simulator records."""
    import argparse

    from biosig._argparse import add_ecg_data_arguments

    parser = _load(rel).build_parser()
    shared = argparse.ArgumentParser(allow_abbrev=False)
    add_ecg_data_arguments(shared, n_records=parser.get_default("n_records"))

    def options(p, dests):
        return {a.dest: (a.option_strings, a.choices, a.type, a.default, a.help)
                for a in p._actions if a.dest in dests}

    dests = {"data", "path", "n_records", "duration", "sfreq"}
    assert options(parser, dests) == options(shared, dests) and len(options(shared, dests)) == 5


@pytest.mark.parametrize("rel", sorted(str(p.relative_to(ROOT)) for p in
                                       ROOT.glob("recipes/*/*.yaml")), ids=lambda r: r[8:])
def test_a_recipe_that_stops_early_keeps_the_best_checkpoint_of_that_value(rel):
    """recipes/ptbxl/ecgnet.yaml stopped early on val_mse without a ModelCheckpoint: ``biosig
    test --ckpt_path best`` took the newest checkpoint, up to ``patience`` epochs past the best."""
    config = yaml.safe_load((ROOT / rel).read_text(encoding="utf-8")) or {}
    callbacks = (config.get("trainer") or {}).get("callbacks") or []

    def watched(kind):
        return [((c.get("init_args") or {}).get("monitor"), (c.get("init_args") or {}).get(
            "mode", "min")) for c in callbacks if c.get("class_path", "").endswith("." + kind)]

    for stop in watched("EarlyStopping"):
        assert stop in watched("ModelCheckpoint"), (rel, stop)


def test_every_recipe_writes_its_runs_to_a_folder_of_its_own():
    """The EEGFormer downstream recipes set no trainer.default_root_dir: `biosig fit` wrote to
    ./lightning_logs and `biosig test --ckpt_path last` took the newest last.ckpt anywhere under
    the current folder (another recipe's run, the pretraining's)."""
    roots = {}
    for path in sorted(ROOT.glob("recipes/*/*.yaml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if "model" in config:  # a recipe, not an overlay (a trainer preset, a data source)
            rel = str(path.relative_to(ROOT))
            roots.setdefault((config.get("trainer") or {}).get("default_root_dir"), []).append(rel)
    assert None not in roots, roots.get(None)
    assert all(len(rels) == 1 for rels in roots.values()), roots
