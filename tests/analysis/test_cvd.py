"""A CVD CNN weights folder scores one 12-lead ECG file: leads by name, units, rate, windows,
and a clear error naming the file for what cannot be scored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biosig.analysis.cvd import cvd_main, cvd_probabilities
from biosig.datasets.synthetic import simulate_ecg_record
from biosig.errors import ChannelError, ConfigError, InvalidFileError
from biosig.io import write_edf, write_wfdb
from biosig.models.cvd_cnn import CVDCNN
from biosig.signal import ECGAnnotationChannels, Resample, steps_params
from biosig.signal.ecg_leads import LEADS

CLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]


def _weights(folder, masks: bool = False, **data):
    torch.manual_seed(0)
    net = CVDCNN(n_chans=14 if masks else 12, sfreq=100.0, n_times=1000, channels=(4, 4))
    steps = [Resample(100.0), *([ECGAnnotationChannels()] if masks else [])]
    card = {"classes": CLASSES, "ch_names": list(LEADS) + (["R_mask", "PQ_mask"] if masks
                                                            else []),
            "preprocessing": {"steps": steps_params(steps), "alignment": None}, **data}
    net.save_pretrained(folder, data={k: v for k, v in card.items() if v is not None})
    return net.eval()


def _ecg(duration=25.0, sfreq=500.0):
    return simulate_ecg_record(duration=duration, sfreq=sfreq, seed=3)


def test_a_wfdb_file_is_scored_per_window_by_lead_name_and_for_the_record(tmp_path):
    net = _weights(tmp_path / "w")
    rec = _ecg()
    # another lead order, other spellings of the names (PTB-XL's AVR, MLII)
    order = list(reversed(range(12)))
    names = [{"aVR": "AVR", "II": "MLII", "V1": "v1"}.get(LEADS[i], LEADS[i]) for i in order]
    write_wfdb(tmp_path, "mine", rec.copy(data=rec.data[order], ch_names=names,
                                          ch_types=["ecg"] * 12, units=["mV"] * 12))
    probs = cvd_probabilities(tmp_path / "w", tmp_path / "mine.hea")
    assert list(probs.columns) == ["start_s", "stop_s", *CLASSES]
    assert list(probs.index) == [0, 1, "record"]  # 25 s: two 10-s windows, 5 s not scored
    assert probs.loc["record", "stop_s"] == 20.0 and probs.loc[1, "start_s"] == 10.0
    np.testing.assert_allclose(probs.loc["record", CLASSES].to_numpy(float),
                               probs.loc[[0, 1], CLASSES].to_numpy(float).mean(0))
    x = Resample(100.0)(rec).data[:, :2000].reshape(12, 2, 1000).transpose(1, 0, 2)
    with torch.no_grad():
        want = torch.sigmoid(net(torch.from_numpy(np.ascontiguousarray(x)))).numpy()
    np.testing.assert_allclose(probs.loc[[0, 1], CLASSES].to_numpy(float), want, atol=2e-3)
    assert cvd_main([str(tmp_path / "w"), str(tmp_path / "mine.hea"),
                     "--csv", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == (
        "window,start_s,stop_s," + ",".join(CLASSES))


def test_an_edf_in_microvolts_with_mask_channels_is_scored_as_in_millivolts(tmp_path):
    _weights(tmp_path / "w", masks=True)
    rec = _ecg(duration=10.0, sfreq=250.0)
    write_edf(tmp_path / "uv.edf", rec.copy(data=rec.data * 1000, ch_names=[
        f"ECG {n}" for n in LEADS], ch_types=["ecg"] * 12, units=["uV"] * 12))
    in_uv = cvd_probabilities(tmp_path / "w", tmp_path / "uv.edf")
    in_mv = cvd_probabilities(tmp_path / "w", rec)
    assert list(in_uv.index) == [0, "record"]
    np.testing.assert_allclose(in_uv[CLASSES].to_numpy(float), in_mv[CLASSES].to_numpy(float),
                               atol=2e-3)


@pytest.mark.parametrize("change, error, message", [
    (lambda r: r.pick([n for n in LEADS if n != "V4"]), ChannelError,
     r"mine\.hea: no channel for lead\(s\) V4 \(its channels: I, II"),
    (lambda r: r.copy(data=np.vstack([r.data, r.data[1:2]]), ch_names=[*LEADS, "MLII"],
                      ch_types=["ecg"] * 13, units=["mV"] * 13), ChannelError,
     r"mine\.hea: lead\(s\) given by several channels: II by 'II', 'MLII'"),
    (lambda r: r.copy(units=["mV"] * 11 + ["mmHg"]), ConfigError,
     r"mine\.hea: channel 'V6' is in 'mmHg'; an ECG lead must be in a voltage"),
    (lambda r: r.copy(units=["mV"] * 11 + ["mv"]), ConfigError, r"did you mean 'mV'\?"),
    (lambda r: r.copy(data=np.where((np.arange(12)[:, None] == 1) & (np.arange(r.n_times)
                                                                    % 5000 == 7), np.nan, r.data)),
     InvalidFileError, r"mine\.hea: NaN or infinite samples in lead\(s\) II \(3\): fill"),
    (lambda r: r.copy(data=r.data * 1000), InvalidFileError,
     r"mine\.hea: lead \w+ spans [\d.]+ mV .*µV values labelled mV"),
    (lambda r: r.copy(data=r.data / 1000), InvalidFileError,
     r"mine\.hea: lead \w+ spans [\d.]+ mV .*flat or disconnected"),
    (lambda r: r.copy(data=r.data[:, :4000]), InvalidFileError,
     r"mine\.hea: 8 s long, shorter than the 10-s window"),
], ids=["missing", "twice", "unit", "unit-case", "nan", "uV-as-mV", "mV-as-uV", "short"])
def test_what_cannot_be_scored_is_refused_naming_the_file(tmp_path, change, error, message):
    _weights(tmp_path / "w")
    rec = change(_ecg())
    rec.meta["source"] = "mine.hea"
    with pytest.raises(error, match=message):
        cvd_probabilities(tmp_path / "w", rec)


def test_weights_whose_card_cannot_say_what_the_outputs_are_are_refused(tmp_path):
    from biosig.models.ecgnet import ECGNet

    _weights(tmp_path / "w", classes=None)
    with pytest.raises(ConfigError, match=r"card\.json: data\.classes missing"):
        cvd_probabilities(tmp_path / "w", _ecg())
    ECGNet(sfreq=100.0, hidden_size=4).save_pretrained(tmp_path / "gan")
    with pytest.raises(ConfigError, match=r"the weights are for model 'ecgnet', not CVDCNN"):
        cvd_probabilities(tmp_path / "gan", _ecg())


def test_a_trained_checkpoint_saved_as_weights_scores_a_file(tmp_path):
    """The CLI route: ``biosig fit --config recipes/ptbxl/cvd_cnn.yaml`` leaves a checkpoint;
    ``load_from_checkpoint(ckpt).save_pretrained(folder)`` keeps the class names and the mask
    step for :func:`cvd_probabilities`."""
    import lightning.pytorch as pl

    from biosig.data.datamodule import BiosigDataModule
    from biosig.data.protocols import RandomSplit
    from biosig.datasets.synthetic import SyntheticECG
    from biosig.models.weights import load_card
    from biosig.tasks.classification import ClassificationTask

    dm = BiosigDataModule(SyntheticECG(n_records=8, duration=10.0, sfreq=100.0),
                          preprocessing=[ECGAnnotationChannels(method="energy")],
                          protocol=RandomSplit(0.25, 0.25, by=None), batch_size=4,
                          cache_dir=tmp_path / "cache")
    task = ClassificationTask("cvd_cnn", n_chans=dm.n_chans, n_times=dm.n_times, sfreq=dm.sfreq,
                              n_outputs=dm.n_outputs, ch_names=dm.ch_names, multilabel=True,
                              model_kwargs={"channels": (4, 4)})
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, dm)
    trainer.save_checkpoint(tmp_path / "t.ckpt")
    folder = ClassificationTask.load_from_checkpoint(tmp_path / "t.ckpt").save_pretrained(
        tmp_path / "w")
    assert load_card(folder)["data"]["classes"] == dm.classes
    assert load_card(folder)["data"]["multilabel"] is True and dm.data_card()["multilabel"] is True
    probs = cvd_probabilities(folder, _ecg(duration=10.0, sfreq=100.0))
    assert list(probs.columns[2:]) == dm.classes and probs[dm.classes].stack().between(0, 1).all()


def test_weights_fine_tuned_in_plain_pytorch_and_saved_again_score_a_file(tmp_path):
    """A CVD CNN folder loaded, trained a step in plain PyTorch and saved again lost its card's
    class names and preprocessing: cvd refused the folder (data.classes missing)."""
    _weights(tmp_path / "w")
    net = CVDCNN.from_pretrained(tmp_path / "w").train()
    loss = net(torch.randn(2, 12, 1000)).sum()
    loss.backward()
    torch.optim.SGD(net.parameters(), lr=0.1).step()
    folder = net.eval().save_pretrained(tmp_path / "tuned")
    rec = _ecg(duration=10.0, sfreq=100.0)
    probs = cvd_probabilities(folder, rec).loc[0, CLASSES].to_numpy(float)
    with torch.no_grad():
        want = torch.sigmoid(net(torch.from_numpy(rec.data[None].astype(np.float32))))[0]
    np.testing.assert_allclose(probs, want.numpy(), atol=2e-3)
    assert not np.allclose(probs, cvd_probabilities(tmp_path / "w", rec).loc[
        0, CLASSES].to_numpy(float), atol=1e-4)  # the tuned weights were scored


@pytest.mark.parametrize("multilabel", [True, False, None], ids=["multi", "single", "old-card"])
def test_probabilities_are_a_softmax_for_single_label_weights_and_sigmoids_otherwise(
        tmp_path, multilabel):
    """Every card was scored with a sigmoid per class: weights trained single-label (one softmax
    over the classes) got numbers that were not their probabilities. A card without
    data.multilabel (older than it) is read as the PTB-XL recipes trained: multi-label."""
    net = _weights(tmp_path / "w", multilabel=multilabel)
    rec = _ecg(duration=10.0, sfreq=100.0)
    probs = cvd_probabilities(tmp_path / "w", rec).loc[0, CLASSES].to_numpy(float)
    with torch.no_grad():
        logits = net(torch.from_numpy(rec.data[None].astype(np.float32)))[0]
    want = logits.softmax(-1) if multilabel is False else torch.sigmoid(logits)
    np.testing.assert_allclose(probs, want.numpy(), atol=2e-3)
    if multilabel is False:
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)
