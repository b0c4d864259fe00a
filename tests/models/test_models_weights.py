"""Weights folders (safetensors + card.json): round trip, data-contract checks, adaptation,
bad files, and the optional Hub path (offline, with a stand-in for huggingface_hub)."""

from __future__ import annotations

import json
import shutil
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn as nn

from biosig.errors import ConfigError, InvalidFileError, ShapeError
from biosig.models import CVDCNN, DBConformer, HVEEGNet
from biosig.models._registry import _MODELS
from biosig.models.base import BiosigModel
from biosig.models.weights import load_card, load_pretrained, push_to_hub, save_pretrained

NAMES = ["C3", "Cz", "C4"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors


def _dbc(**kw):
    torch.manual_seed(0)
    args = dict(chs_info=[{"ch_name": c} for c in NAMES], n_outputs=2, n_times=250, sfreq=250.0,
                depth=1)
    return DBConformer(**{**args, **kw}).eval()


@pytest.fixture
def saved(tmp_path):
    model = _dbc()
    out = save_pretrained(model, tmp_path / "w", data={"montage": "standard_1020",
                                                       "preprocessing": ["bandpass 8-30 Hz", "EA"]},
                          recipe={"protocol": "CO", "epochs": 200}, metrics={"accuracy": 0.81},
                          licence="CC-BY-4.0")
    return model, out


def test_round_trip_gives_identical_outputs_and_a_full_card(saved):
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "model.safetensors"]
    card = json.loads((folder / "card.json").read_text())
    assert card["format_version"] == 1 and card["name"] == "dbconformer"
    assert card["kwargs"]["depth"] == 1 and card["kwargs"]["activation"].endswith("ELU")
    assert card["n_params"] == sum(p.numel() for p in model.parameters())
    assert card["data"] == {"sfreq": 250.0, "n_times": 250, "window_stride_s": None,
                            "n_chans": 3, "ch_names": NAMES, "montage": "standard_1020",
                            "units": "µV", "preprocessing": ["bandpass 8-30 Hz", "EA"],
                            "classes": None, "multilabel": None}
    assert card["recipe"]["protocol"] == "CO" and card["metrics"] == {"accuracy": 0.81}
    assert card["licence"] == "CC-BY-4.0" and len(card["weights"]["sha256"]) == 64
    # the tensors are plain safetensors (no pickle)
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert set(f.keys()) == set(model.state_dict())
    loaded = DBConformer.from_pretrained(folder, data={"sfreq": 250, "ch_names": NAMES})
    assert not loaded.training and loaded.get_config() == model.get_config()
    x = torch.randn(2, 3, 250)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize("adapt", [False, True])
def test_a_different_sampling_rate_is_refused_even_with_adapt(saved, adapt):
    _, folder = saved
    with pytest.raises(ConfigError, match=r"sfreq=250\.0, given sfreq=200.*resample"):
        load_pretrained(folder, data={"sfreq": 200.0}, adapt=adapt)


@pytest.mark.parametrize("adapt", [False, True])
@pytest.mark.parametrize("names", [["C4", "Cz", "C3"], ["C3", "Cz"], ["C3", "Cz", "Pz"]],
                         ids=["reorder", "subset", "other"])
def test_channels_of_a_channel_dependent_model_are_refused(saved, adapt, names):
    _, folder = saved
    with pytest.raises(ConfigError, match=r"ch_names=\['C3', 'Cz', 'C4'\], given ch_names="):
        load_pretrained(folder, data={"ch_names": names}, adapt=adapt)


def test_other_fields_are_checked(saved):
    _, folder = saved
    with pytest.raises(ConfigError, match="n_times=250, given n_times=500"):
        load_pretrained(folder, data={"n_times": 500}, adapt=True)  # DBConformer: fixed length
    with pytest.raises(ConfigError, match="n_chans=3, given n_chans=4"):
        load_pretrained(folder, data={"n_chans": 4})
    with pytest.raises(ConfigError, match="units"):
        load_pretrained(folder, data={"units": "V"}, adapt=True)
    with pytest.raises(ConfigError, match="montage"):
        load_pretrained(folder, data={"montage": "biosemi64"})
    with pytest.raises(ConfigError, match="unknown data key"):
        load_pretrained(folder, data={"rate": 250})
    with pytest.raises(ConfigError, match=r"\['sfrq'\] \(did you mean sfreq\?\); allowed"):
        load_pretrained(folder, data={"sfrq": 250})
    ok = load_pretrained(folder, data={"sfreq": 250.0, "n_times": 250, "n_chans": 3,
                                       "units": "µV", "montage": "standard_1020"})
    assert isinstance(ok, DBConformer)


def test_new_n_outputs_replaces_only_the_head(saved):
    model, folder = saved
    loaded = load_pretrained(folder, n_outputs=4)
    assert loaded.n_outputs == 4 and loaded.final_layer.out_features == 4
    assert loaded.get_config()["kwargs"]["n_outputs"] == 4
    own = model.state_dict()
    for key, value in loaded.state_dict().items():
        if not key.startswith("final_layer."):
            assert torch.equal(value, own[key]), key


def test_a_length_agnostic_model_adapts_n_times_only_when_asked(tmp_path):
    torch.manual_seed(0)
    model = HVEEGNet(n_chans=3, n_times=100, sfreq=100.0).eval()
    folder = model.save_pretrained(tmp_path / "hv")
    with pytest.raises(ConfigError, match="n_times=100, given n_times=200.*adapt=True"):
        load_pretrained(folder, data={"n_times": 200})
    longer = load_pretrained(folder, data={"n_times": 200}, adapt=True)
    assert longer.n_times == 200
    for key, value in model.state_dict().items():
        assert torch.equal(longer.state_dict()[key], value), key
    assert longer.reconstruct(torch.randn(1, 3, 200)).shape == (1, 3, 200)
    # the model built for 100 samples says how to get one for 200 (it said only "not the
    # expected input shape", though the docs call hvEEGNet's input "any n_times")
    with pytest.raises(ShapeError, match=r"got \(1, 3, 200\), not the expected input shape; "
                                         r"HVEEGNet's weights can serve other lengths: .*"
                                         r"data=\{'n_times': 200\}, adapt=True\)"):
        model.reconstruct(torch.randn(1, 3, 200))
    with pytest.raises(ShapeError, match=r"expected input shape$"):  # channels: no such hint
        model.reconstruct(torch.randn(1, 4, 200))
    # the classifier's input size follows n_times: that cannot be adapted
    torch.manual_seed(0)
    clf = HVEEGNet(n_chans=3, n_times=100, sfreq=100.0, use_classifier=True, n_outputs=2)
    folder = clf.save_pretrained(tmp_path / "clf")
    with pytest.raises(ConfigError, match="adapt=True cannot rebuild hveegnet with n_times"
                                          ".*classifier.0.weight"):
        load_pretrained(folder, data={"n_times": 200}, adapt=True)


class _PerChannel(BiosigModel):
    """Test model with weights shared over channels (a shared filter, mean over channels)."""

    requires = ("n_outputs",)
    channel_independent = True

    def __init__(self, n_chans=None, n_outputs=None, n_times=None, sfreq=None, chs_info=None):
        super().__init__()
        self._init_signal(n_chans, n_outputs, n_times, sfreq, chs_info)
        self.conv = nn.Conv1d(1, 4, 5)
        self.final_layer = nn.Linear(4, self.n_outputs)

    def forward_features(self, x):
        b, c, t = self.check_input(x).shape
        return self.conv(x.reshape(b * c, 1, t)).mean(-1).reshape(b, c, 4).mean(1)


@pytest.fixture
def per_channel(monkeypatch, tmp_path):
    monkeypatch.setitem(_MODELS, "test_per_channel", _PerChannel)
    monkeypatch.setattr(_PerChannel, "registry_name", "test_per_channel")
    torch.manual_seed(0)
    names = ["Fz", "C3", "Cz", "C4"]
    model = _PerChannel(chs_info=[{"ch_name": c} for c in names], n_outputs=2, n_times=50,
                        sfreq=100.0).eval()
    return model, model.save_pretrained(tmp_path / "pc"), names


def test_a_channel_independent_model_loads_on_other_channels_by_name(per_channel):
    model, folder, names = per_channel
    with pytest.raises(ConfigError, match="ch_names.*adapt=True"):
        load_pretrained(folder, data={"ch_names": ["C4", "C3"]})
    sub = load_pretrained(folder, data={"ch_names": ["C4", "C3"]}, adapt=True)
    assert sub.n_chans == 2 and sub.ch_names == ["C4", "C3"]
    x = torch.randn(2, 2, 50)  # C4, C3
    with torch.no_grad():
        ref = model.final_layer(model.conv(x.reshape(4, 1, 50)).mean(-1).reshape(2, 2, 4).mean(1))
        torch.testing.assert_close(sub(x), ref)
    # a new montage: channels the card lacks load the shared weights too (adapt=True only)
    with pytest.raises(ConfigError, match="adapt=True loads them on these channels"):
        load_pretrained(folder, data={"ch_names": ["C3", "Pz", "O1"]})
    new = load_pretrained(folder, data={"ch_names": ["C3", "Pz", "O1"]}, adapt=True)
    assert new.ch_names == ["C3", "Pz", "O1"]
    x = torch.randn(2, 3, 50)
    with torch.no_grad():
        ref = model.final_layer(model.conv(x.reshape(6, 1, 50)).mean(-1).reshape(2, 3, 4).mean(1))
        torch.testing.assert_close(new(x), ref)


def test_save_needs_a_sampling_rate_and_consistent_data(tmp_path):
    torch.manual_seed(0)
    m = CVDCNN(channels=(4,))  # length-agnostic, built without sfreq
    with pytest.raises(ConfigError, match="sampling rate"):
        m.save_pretrained(tmp_path / "a")
    folder = m.save_pretrained(tmp_path / "a", data={"sfreq": 500.0})
    assert load_card(folder)["data"]["units"] == "mV"
    with pytest.raises(ConfigError, match="contradicts"):
        _dbc().save_pretrained(tmp_path / "b", data={"sfreq": 500.0})
    with pytest.raises(ConfigError, match="unknown data key"):
        _dbc().save_pretrained(tmp_path / "b", data={"fs": 250.0})
    with pytest.raises(ConfigError, match=r"^save_pretrained: .*\(did you mean ch_names\?\)"):
        _dbc().save_pretrained(tmp_path / "b", data={"chnames": NAMES})
    with pytest.raises(ConfigError, match="metrics.auc"):
        _dbc().save_pretrained(tmp_path / "b", metrics={"auc": object()})
    # MNE-style channel info with NumPy values is written as plain JSON
    chs = [{"ch_name": c, "loc": np.zeros(12)} for c in NAMES]
    folder = _dbc(chs_info=chs).save_pretrained(tmp_path / "c")
    assert load_card(folder)["kwargs"]["chs_info"][0]["loc"] == [0.0] * 12
    assert load_pretrained(folder).ch_names == NAMES
    # braindecode style: chs_info=raw.info["chs"]; MNE leaves unknown locations NaN
    import mne

    chs = mne.create_info(NAMES, 250.0, "eeg")["chs"]
    folder = _dbc(chs_info=chs).save_pretrained(tmp_path / "d")
    card_chs = load_card(folder)["kwargs"]["chs_info"]
    assert card_chs[0]["loc"] == [None] * 12 and card_chs[0]["kind"] == 2
    assert load_pretrained(folder).ch_names == NAMES


def test_bad_folders_fail_clearly(saved, tmp_path):
    _, folder = saved
    with pytest.raises(InvalidFileError, match="not found"):
        load_pretrained(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidFileError, match=r"no card.json.*\(save_pretrained writes one"):
        load_pretrained(empty)
    # the folder above the weights (biosig_out for biosig_out/ssmdp) names them
    with pytest.raises(InvalidFileError, match=rf"weights folders in it: {folder}$"):
        load_pretrained(tmp_path)
    (tmp_path / "last.ckpt").write_bytes(b"x")
    with pytest.raises(InvalidFileError, match=r"load_from_checkpoint\(ckpt\)\.save_pretrained"):
        load_pretrained(tmp_path / "last.ckpt")
    with pytest.raises(ConfigError, match="not HVEEGNet"):
        HVEEGNet.from_pretrained(folder)

    def edited(name, change):
        copy = tmp_path / name
        shutil.copytree(folder, copy)
        card = json.loads((copy / "card.json").read_text())
        change(card)
        (copy / "card.json").write_text(json.dumps(card))
        return copy

    with pytest.raises(InvalidFileError, match="format_version"):
        load_pretrained(edited("v", lambda c: c.update(format_version=99)))
    with pytest.raises(ConfigError, match="'nope' is not registered"):
        load_pretrained(edited("n", lambda c: c.update(name="nope")))
    deeper = edited("d", lambda c: c["kwargs"].update(depth=2))
    with pytest.raises(InvalidFileError, match="missing spatial.blocks.1.attn"):
        load_pretrained(deeper)
    corrupt = edited("c", lambda c: None)
    (corrupt / "model.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(InvalidFileError, match="SHA-256"):
        load_pretrained(corrupt)
    unchecked = edited("u", lambda c: c["weights"].pop("sha256"))
    (unchecked / "model.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(InvalidFileError, match="safetensors"):
        load_pretrained(unchecked)


@pytest.mark.parametrize("change, match", [
    (lambda c: c.pop("format_version"), r"key 'format_version' missing"),  # was "None is not
    (lambda c: c["data"].pop("sfreq"), r"data\.sfreq must be .*Hz.*got None"),  # supported"
    (lambda c: c["data"].update(sfreq="250 Hz"), r"data\.sfreq must be .*got '250 Hz'"),
    (lambda c: c["data"].update(n_times=250.5), r"data\.n_times must be an integer"),
    (lambda c: c["data"].update(ch_names="C3 Cz C4"), r"data\.ch_names must be a list"),
    (lambda c: c["data"].update(window_stride_s="2 s"), r"data\.window_stride_s must be .*> 0"),
])
def test_a_card_with_a_missing_or_malformed_field_names_it(saved, tmp_path, change, match):
    """A card without data.sfreq loaded and was never compared with the data's rate (biosig
    generate then failed with KeyError 'sfreq'); "250 Hz" was a ValueError from float()."""
    _, folder = saved
    card = json.loads((folder / "card.json").read_text())
    change(card)
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(InvalidFileError, match=rf"card\.json: {match}"):
        load_pretrained(folder, data={"sfreq": 250.0})


def test_the_window_stride_is_recorded_and_never_compared(saved, tmp_path):
    """A card did not say the stride of the training windows; it now does where known, and a
    card written before (without the key) or data at another stride still load."""
    model, folder = saved
    assert load_card(folder)["data"]["window_stride_s"] is None
    strided = save_pretrained(model, tmp_path / "s", data={"window_stride_s": 2})
    assert load_card(strided)["data"]["window_stride_s"] == 2.0
    loaded = load_pretrained(strided, data={"sfreq": 250.0, "window_stride_s": 0.5})
    assert load_card(loaded.save_pretrained(tmp_path / "again"))["data"]["window_stride_s"] == 2.0
    card = json.loads((strided / "card.json").read_text())
    del card["data"]["window_stride_s"]  # a card written before the key existed
    (strided / "card.json").write_text(json.dumps(card))
    old = load_pretrained(strided, data={"window_stride_s": 4.0})
    assert load_card(old.save_pretrained(tmp_path / "old"))["data"]["window_stride_s"] is None


def test_a_card_argument_the_model_does_not_take_names_the_card(saved):
    _, folder = saved
    card = json.loads((folder / "card.json").read_text())
    card["kwargs"]["dept"] = 1
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match=r"w/card\.json: kwargs: model 'dbconformer' has no "
                                          r"argument 'dept'"):
        load_pretrained(folder)


def test_an_unusable_folder_is_refused_before_the_data_are_compared(saved, tmp_path):
    """A folder without its weights file (or with a truncated one) said first that the data's
    sampling rate did not match the card: the user resampled, then learnt it was unusable."""
    _, folder = saved
    missing, truncated, unchecked = (tmp_path / n for n in ("m", "t", "u"))
    for copy in (missing, truncated, unchecked):
        shutil.copytree(folder, copy)
    (missing / "model.safetensors").unlink()
    card = json.loads((unchecked / "card.json").read_text())
    card["weights"].pop("sha256")
    (unchecked / "card.json").write_text(json.dumps(card))
    for copy in (truncated, unchecked):
        data = (copy / "model.safetensors").read_bytes()
        (copy / "model.safetensors").write_bytes(data[:-4])
    cases = ((missing, "weights file missing"), (truncated, "SHA-256"),
             (unchecked, "not a readable safetensors file.*not fully covered"))
    for copy, match in cases:
        with pytest.raises(InvalidFileError, match=match):
            load_pretrained(copy, data={"sfreq": 128.0})  # the card says 250 Hz
    from biosig.models.weights import check_folder  # the same check alone, nothing built

    for copy, match in cases:
        with pytest.raises(InvalidFileError, match=match):
            check_folder(copy)
    assert check_folder(folder)["name"] == "dbconformer"


# -- Hub (offline) ---------------------------------------------------------------------------
@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """A stand-in huggingface_hub: uploads copy into a local 'remote', downloads return it."""
    remote = tmp_path / "remote"
    calls = []

    class HfApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls.append(("create_repo", repo_id, private, exist_ok))

        def upload_folder(self, repo_id, folder_path, commit_message=""):
            shutil.copytree(folder_path, remote / repo_id, dirs_exist_ok=True)
            calls.append(("upload_folder", repo_id, commit_message))
            return "commit-info"

    def snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append(("snapshot_download", repo_id, revision, tuple(allow_patterns)))
        return str(remote / repo_id)

    module = types.SimpleNamespace(HfApi=HfApi, snapshot_download=snapshot_download)
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)
    return calls


def test_push_to_hub_and_load_from_hf_address(fake_hub):
    model = _dbc()
    assert model.push_to_hub("lab/dbc-test", metrics={"accuracy": 0.8}, private=True) \
        == "commit-info"
    assert ("create_repo", "lab/dbc-test", True, True) in fake_hub
    loaded = DBConformer.from_pretrained("hf://lab/dbc-test@v1", data={"sfreq": 250.0})
    assert ("snapshot_download", "lab/dbc-test", "v1",
            ("card.json", "model.safetensors", "README.md")) in fake_hub
    x = torch.randn(1, 3, 250)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    with pytest.raises(ConfigError, match="hf://owner/name"):
        load_pretrained("hf://just-a-name")


def test_hub_without_huggingface_hub_names_the_extra(monkeypatch, tmp_path, capsys):
    """Still an ImportError, now a biosig error too: `biosig generate hf://...` printed a
    traceback."""
    from biosig.cli import main
    from biosig.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'biosig\[hub\]'"):
        load_pretrained("hf://lab/model")
    with pytest.raises(MissingDependencyError, match=r"pip install 'biosig\[hub\]'"):
        push_to_hub(_dbc(), "lab/model")
    assert main(["generate", "hf://lab/model", str(tmp_path / "g.edf")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("biosig: error: Hugging Face Hub support")


def test_hub_offline_is_one_line_saying_what_to_do(fake_hub, monkeypatch, tmp_path, capsys):
    """No network: huggingface_hub's LocalEntryNotFoundError (an OSError) came through as is,
    with a traceback from the CLI."""
    from biosig.cli import main
    from biosig.errors import DownloadError

    class LocalEntryNotFoundError(FileNotFoundError, ValueError):  # as huggingface_hub's
        pass

    def offline(repo_id, revision=None, allow_patterns=None):
        raise LocalEntryNotFoundError("An error happened while trying to locate the files on "
                                      "the Hub and we cannot find the appropriate snapshot\n"
                                      "folder. Please check your internet connection.")

    monkeypatch.setattr(sys.modules["huggingface_hub"], "snapshot_download", offline)
    with pytest.raises(DownloadError, match=r"^hf://lab/model@v2: cannot get the weights from "
                                            r"the Hugging Face Hub \(LocalEntryNotFoundError: "
                                            r"An error .* snapshot folder.*HF_HUB_OFFLINE=1"):
        load_pretrained("hf://lab/model@v2")
    assert main(["generate", "hf://lab/model", str(tmp_path / "g.edf")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give the path of a weights folder downloaded" in err


def test_eegformer_per_channel_head_refuses_another_channel_order(tmp_path):
    """head_pool="channel" gives each channel its own head weights: a reorder (same count)
    would pass the shape check, so adapt=True refuses it; the montage-free head adapts."""
    from biosig.models import create_model, load_pretrained

    small = dict(n_outputs=2, n_times=250, sfreq=250.0, emb_size=16, n_heads=2, encoder_depth=1,
                 decoder_depth=1, n_codes=8, patch_len=20, patch_stride=10)
    chs = [{"ch_name": c} for c in ("Fz", "Cz", "Pz")]
    for pool, ok in (("channel", False), ("mean", True)):
        folder = create_model("eegformer_s", chs_info=chs, head_pool=pool, **small
                              ).save_pretrained(tmp_path / pool)
        data = {"ch_names": ["Pz", "Cz", "Fz"], "sfreq": 250.0}
        if ok:
            assert load_pretrained(folder, data=data, adapt=True).ch_names == data["ch_names"]
        else:
            with pytest.raises(ConfigError, match="ch_names"):
                load_pretrained(folder, data=data, adapt=True)


def test_a_classifier_card_keeps_its_class_names_and_a_generator_card_none(tmp_path):
    """A weights folder of a classifier did not say what its outputs were (PTB-XL's NORM, MI...):
    scoring a file with it needed the class order from elsewhere."""
    from biosig.models.ecgnet import ECGNet

    cnn = CVDCNN(n_outputs=2, sfreq=100.0, channels=(4,))
    card = load_card(save_pretrained(cnn, tmp_path / "c", data={"classes": ["NORM", "MI"]}))
    assert card["data"]["classes"] == ["NORM", "MI"]
    with pytest.raises(ConfigError, match=r"data classes has 3 names \(A, B, C\) but the model "
                                          r"has n_outputs=2"):
        save_pretrained(cnn, tmp_path / "x", data={"classes": ["A", "B", "C"]})
    gen = ECGNet(sfreq=100.0, hidden_size=4)  # 12 leads out: not the data's classes
    assert load_card(save_pretrained(gen, tmp_path / "g", data={"classes": ["NORM", "MI"]}))[
        "data"]["classes"] is None
    card_file = tmp_path / "c" / "card.json"
    card = json.loads(card_file.read_text())
    card["data"]["classes"] = "NORM"
    card_file.write_text(json.dumps(card))
    with pytest.raises(InvalidFileError, match=r"data\.classes must be a list of class names"):
        load_card(tmp_path / "c")
    card["data"]["classes"], card["data"]["multilabel"] = ["NORM", "MI"], "yes"
    card_file.write_text(json.dumps(card))
    with pytest.raises(InvalidFileError, match=r"data\.multilabel must be true \(a sigmoid"):
        load_card(tmp_path / "c")


def test_a_classifier_card_says_whether_it_was_trained_multi_label(tmp_path):
    """Whether the outputs are a sigmoid each or one softmax was not recorded: the probabilities
    of a single-label classifier were computed as if multi-label."""
    from biosig.models.ecgnet import ECGNet

    cnn = CVDCNN(n_outputs=2, sfreq=100.0, channels=(4,))
    for multilabel in (True, False):
        card = load_card(save_pretrained(cnn, tmp_path / str(multilabel),
                                         data={"multilabel": multilabel}))
        assert card["data"]["multilabel"] is multilabel
    assert load_card(save_pretrained(cnn, tmp_path / "n"))["data"]["multilabel"] is None
    with pytest.raises(ConfigError, match=r"data multilabel must be True .* got 'no'"):
        save_pretrained(cnn, tmp_path / "x", data={"multilabel": "no"})
    gen = ECGNet(sfreq=100.0, hidden_size=4)
    assert load_card(save_pretrained(gen, tmp_path / "g", data={"multilabel": False}))[
        "data"]["multilabel"] is None


def test_eegformer_adapt_refuses_duplicate_channel_names(tmp_path):
    """adapt=True loaded EEGFormer on ['C', 'B', 'C', 'D'] without a word: a name given twice
    (a labelling slip, or one channel fed twice) went unnoticed."""
    from biosig.models.eegformer import EEGFormer

    folder = EEGFormer(n_times=80, sfreq=40.0, chs_info=[{"ch_name": c} for c in "ABC"],
                       emb_size=16, n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=8,
                       patch_len=20, patch_stride=20).save_pretrained(tmp_path / "w")
    with pytest.raises(ConfigError, match=r"ch_names has duplicate names \['C'\] \(\['C', 'B', "
                                          r"'C', 'D'\]\): name each channel once"):
        EEGFormer.from_pretrained(folder, data={"ch_names": ["C", "B", "C", "D"]}, adapt=True)
    assert EEGFormer.from_pretrained(folder, data={"ch_names": ["C", "B"]}, adapt=True).n_chans == 2


def test_a_loaded_model_saved_again_keeps_its_card_but_not_its_metrics(tmp_path):
    """A model loaded from a folder and saved again kept only its channel names: the class
    names, multilabel, preprocessing, montage, recipe and licence were dropped."""
    cnn = CVDCNN(n_outputs=2, n_chans=3, sfreq=100.0, channels=(4,))
    data = {"ch_names": ["I", "II", "V1"], "classes": ["NORM", "MI"], "multilabel": True,
            "preprocessing": {"steps": ["bandpass"], "alignment": None}, "montage": "ecg"}
    first = load_card(cnn.save_pretrained(tmp_path / "a", data=data, recipe={"epochs": 3},
                                          metrics={"auc": 0.9}, licence="CC-BY-4.0"))
    loaded = CVDCNN.from_pretrained(tmp_path / "a")
    again = load_card(loaded.save_pretrained(tmp_path / "b"))
    assert again["data"] == first["data"] and again["recipe"] == {"epochs": 3}
    assert again["licence"] == "CC-BY-4.0" and again["metrics"] is None
    # what is given still wins, key by key; a contradiction of the model is still refused
    mine = load_card(loaded.save_pretrained(tmp_path / "c", data={"classes": ["A", "B"]},
                                            recipe={"epochs": 1}, metrics={"auc": 0.5}))
    assert mine["data"] == {**first["data"], "classes": ["A", "B"]}
    assert mine["recipe"] == {"epochs": 1} and mine["metrics"] == {"auc": 0.5}
    with pytest.raises(ConfigError, match="contradicts the model's ch_names"):
        loaded.save_pretrained(tmp_path / "x", data={"ch_names": ["V1", "II", "I"]})
    # a new head: the class names (and multilabel) described the old one
    no_classes = {**first["data"], "classes": None, "multilabel": None}
    for model in (load_pretrained(tmp_path / "a", n_outputs=3),
                  load_pretrained(tmp_path / "a")):
        model.reset_head(model.n_outputs)
        assert load_card(model.save_pretrained(tmp_path / "d"))["data"] == no_classes
    # ECGNet's train_leads live in the recipe: kept through a second save
    from biosig.models.ecgnet import ECGNet

    gen = ECGNet(sfreq=100.0, hidden_size=4)
    gen.save_pretrained(tmp_path / "g", recipe={"train_leads": ["II"]})
    ECGNet.from_pretrained(tmp_path / "g").save_pretrained(tmp_path / "g2")
    assert ECGNet.from_pretrained(tmp_path / "g2").train_leads == ["II"]


def test_weights_changed_since_loading_keep_the_card_s_recipe_as_pretraining(tmp_path):
    """A loaded model trained further (or given a new head) and saved again claimed its card's
    recipe as how its weights were made: that recipe now goes under recipe["pretraining"]."""
    CVDCNN(n_outputs=2, n_chans=3, sfreq=100.0, channels=(4,)).save_pretrained(
        tmp_path / "a", recipe={"epochs": 3})
    tuned = CVDCNN.from_pretrained(tmp_path / "a")
    assert load_card(tuned.save_pretrained(tmp_path / "same"))["recipe"] == {"epochs": 3}
    with torch.no_grad():
        next(tuned.parameters()).add_(0.1)  # a fine-tuning step
    pretraining = {"pretraining": {"epochs": 3}}
    assert load_card(tuned.save_pretrained(tmp_path / "b"))["recipe"] == pretraining
    mine = load_card(tuned.save_pretrained(tmp_path / "c", recipe={"lr": 0.001}))
    assert mine["recipe"] == {"lr": 0.001, **pretraining}
    with pytest.raises(ConfigError, match="recipe must be a dict: the weights changed"):
        tuned.save_pretrained(tmp_path / "x", recipe="fine-tuned on my data")
    with pytest.raises(ConfigError, match=r"recipe\['pretraining'\]=\{'epochs': 4\} "
                                          "contradicts the recipe of the card"):
        tuned.save_pretrained(tmp_path / "x", recipe={"pretraining": {"epochs": 4}})
    head = load_pretrained(tmp_path / "a", n_outputs=3)
    assert load_card(head.save_pretrained(tmp_path / "h"))["recipe"] == pretraining


def test_an_adapted_model_saved_again_records_its_new_data(tmp_path):
    """adapt=True loads onto another window length or other channels: a re-save writes those,
    not the card's, and drops the montage of the card's channels."""
    from biosig.models.eegformer import EEGFormer

    prep = ["bandpass 1-40 Hz"]
    torch.manual_seed(0)
    EEGFormer(n_times=80, sfreq=40.0, chs_info=[{"ch_name": c} for c in ("Fz", "Cz", "Pz")],
              n_outputs=2, emb_size=16, n_heads=2, encoder_depth=1, decoder_depth=1, n_codes=8,
              patch_len=20, patch_stride=20).save_pretrained(
        tmp_path / "w", data={"montage": "standard_1020", "preprocessing": prep,
                              "classes": ["L", "R"]})
    sub = EEGFormer.from_pretrained(tmp_path / "w", data={"ch_names": ["Pz", "Fz"]}, adapt=True)
    card = load_card(sub.save_pretrained(tmp_path / "sub"))["data"]
    assert card["ch_names"] == ["Pz", "Fz"] and card["n_chans"] == 2
    assert card["montage"] is None and card["preprocessing"] == prep
    assert card["classes"] == ["L", "R"]  # same head
    torch.manual_seed(0)
    HVEEGNet(n_chans=3, n_times=100, sfreq=100.0).save_pretrained(
        tmp_path / "hv", data={"preprocessing": prep, "montage": "standard_1020"})
    longer = load_pretrained(tmp_path / "hv", data={"n_times": 200}, adapt=True)
    card = load_card(longer.save_pretrained(tmp_path / "hv2"))["data"]
    assert card["n_times"] == 200 and card["preprocessing"] == prep
    assert card["montage"] == "standard_1020"  # the channels are the card's


def test_channel_names_not_one_per_channel_are_refused(tmp_path):
    """keep_ch_names left a model unnamed without a word when the names were not n_chans (a
    card's, or the data's a task gave): its channel order was then never checked."""
    model = _dbc(chs_info=None, n_chans=3)
    with pytest.raises(ConfigError, match=r"DBConformer: 4 channel names \['C3', 'Cz', 'C4', "
                                          r"'Pz'\] for n_chans=3 channels"):
        model.keep_ch_names([*NAMES, "Pz"])
    assert model.ch_names is None
    model.keep_ch_names(NAMES)
    assert model.ch_names == NAMES and model.ch_names_difference(NAMES) == ""
    folder = save_pretrained(_dbc(chs_info=None, n_chans=3), tmp_path / "w",
                             data={"ch_names": NAMES})
    card = json.loads((folder / "card.json").read_text())
    card["data"]["ch_names"] = ["C3", "Cz"]  # a hand-edited card
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError, match=r"w/card\.json: DBConformer: 2 channel names"):
        load_pretrained(folder)
