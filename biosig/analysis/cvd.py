"""A trained CVD CNN on one 12-lead ECG file: per-class probabilities, per window and for the
record.

The weights folder (``recipes/ptbxl/cvd_cnn.py`` writes one; so does
``ClassificationTask.load_from_checkpoint(ckpt).save_pretrained(folder)`` after
``biosig fit --config recipes/ptbxl/cvd_cnn.yaml``) says what the network expects: its card's
class names, channel names (the 12 leads, in their order, and any mask channels its
preprocessing adds), sampling rate, window length and preprocessing steps. The file is read,
its leads found by name and brought to that contract, cut into back-to-back windows of the
card's length and scored; the record's probability of a class is its mean over the windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biosig.errors import ConfigError, InvalidFileError

__all__ = ["cvd_main", "cvd_probabilities"]


def cvd_probabilities(weights, recording, *, device: str = "cpu"):
    """Per-class probabilities of a CVD CNN weights folder on one ECG recording.

    Parameters
    ----------
    weights : weights folder of a trained :class:`~biosig.models.cvd_cnn.CVDCNN` whose card
        records its class names (``data.classes``) and preprocessing steps, and whether it was
        trained multi-label (``data.multilabel``).
    recording : a file biosig reads (WFDB ``.hea``, EDF...) or a
        :class:`~biosig.signal.recording.Recording`; its leads are found by name (``II``,
        ``MLII``, ``ECG V2``), in mV, µV or V; another rate is resampled to the card's.

    Returns a DataFrame indexed by ``window`` (0, 1, ... and a last row ``"record"``, their
    mean) with the window's ``start_s`` and ``stop_s`` and one probability column per class:
    a sigmoid per class for weights trained multi-label (each class on its own, e.g. PTB-XL's
    superclasses), a softmax over the classes (a window's sum to 1) for weights trained
    single-label. A card without ``data.multilabel`` (written before biosig recorded it) is read
    as multi-label: that is what both PTB-XL recipes (``recipes/ptbxl/cvd_cnn.py`` and
    ``cvd_cnn.yaml``) trained. A tail shorter than a window is not scored (the record row's
    ``stop_s`` says where scoring stopped).

    Raises ChannelError (a lead missing, or given by two channels), ConfigError (a unit that is
    not a voltage, weights that are not a CVD CNN or whose card lacks what is needed, a rate
    that cannot be resampled) and InvalidFileError (NaN samples, a flat lead or µV values
    labelled mV, a record shorter than one window); errors about the recording name its file.
    """
    import pandas as pd
    import torch

    from biosig.io import read_recording
    from biosig.models.cvd_cnn import CVDCNN
    from biosig.signal.recording import Recording

    net = CVDCNN.from_pretrained(weights).to(device).eval()
    contract = _contract(net.loaded_card["data"], weights)
    if isinstance(recording, Recording):
        rec, where = recording, str(recording.meta.get("source") or "the recording")
    else:
        rec, where = read_recording(recording), str(recording)
    rec = _as_trained(rec, contract, where)
    sfreq, n = contract["sfreq"], contract["n_times"] or rec.n_times
    k = rec.n_times // n
    if k == 0:
        raise InvalidFileError(where, f"{rec.n_times / sfreq:g} s long, shorter than the "
                                      f"{n / sfreq:g}-s window the CVD CNN was trained on")
    x = rec.data[:, : k * n].reshape(rec.n_chans, k, n).transpose(1, 0, 2)
    with torch.no_grad():
        logits = net(torch.from_numpy(np.ascontiguousarray(x)).to(device))
        probs = torch.sigmoid(logits) if contract["multilabel"] else logits.softmax(-1)
    probs = probs.cpu().numpy().astype(np.float64)
    rows = np.vstack([probs, probs.mean(0)])
    start = np.append(np.arange(k) * n, 0) / sfreq
    stop = np.append((np.arange(k) + 1) * n, k * n) / sfreq
    index = pd.Index([*range(k), "record"], name="window", dtype=object)
    return pd.DataFrame({"start_s": start, "stop_s": stop,
                         **dict(zip(contract["classes"], rows.T))}, index=index)


def _contract(data: dict, weights) -> dict:
    """What the card's ``data`` of the CVD CNN weights folder ``weights`` (as the loaded model
    keeps it) says the data must be; ConfigError naming the card and the missing field."""
    from biosig.models.weights import CARD_FILE
    from biosig.signal.ecg_leads import LEADS
    from biosig.signal.preprocessing import steps_from_params

    where = Path(str(weights)) / CARD_FILE
    if not data.get("classes"):
        raise ConfigError(f"{where}: data.classes missing, so the outputs have no names; save "
                          "the weights with the training DataModule's card (task."
                          "save_pretrained, or save_pretrained(..., data=dm.data_card())) or "
                          "add the class names in output order to card.json")
    names = data.get("ch_names")
    leads = [c for c in names or () if c in LEADS]
    if not leads:
        raise ConfigError(f"{where}: data.ch_names {names!r} names no ECG lead "
                          f"({', '.join(LEADS)}): which channel of a file is which input "
                          "is unknown")
    prep = data.get("preprocessing")
    if not (isinstance(prep, dict) and isinstance(prep.get("steps"), list)) or prep.get(
            "alignment"):
        raise ConfigError(f"{where}: data.preprocessing {prep!r} is not a list of biosig "
                          "steps without alignment (as a DataModule's data_card records it), "
                          "so the file cannot be prepared as the training data were")
    try:
        steps = steps_from_params(prep["steps"])
    except (ConfigError, TypeError) as err:
        raise ConfigError(f"{where}: data.preprocessing: {err}") from None
    # a card older than data.multilabel: both PTB-XL recipes, which wrote those, trained
    # multi-label (a sigmoid per class)
    multilabel = data.get("multilabel")
    return {"classes": data["classes"], "ch_names": names, "leads": leads, "steps": steps,
            "sfreq": float(data["sfreq"]), "n_times": data.get("n_times"),
            "multilabel": True if multilabel is None else multilabel}


def _as_trained(rec, contract: dict, where: str):
    """The card's leads of ``rec`` in mV at the card's rate, after the card's steps."""
    from biosig.errors import BiosigError
    from biosig.signal.ecg_leads import MAX_ECG_PTP_MV, MIN_ECG_PTP_MV, pick_leads, robust_ptp
    from biosig.signal.preprocessing import Resample, apply_steps

    rec = pick_leads(rec.copy(meta={**rec.meta, "source": where}), contract["leads"])
    bad = (~np.isfinite(rec.data)).sum(1)
    if bad.any():
        lists = ", ".join(f"{n} ({b})" for n, b in zip(rec.ch_names, bad) if b)
        raise InvalidFileError(where, f"NaN or infinite samples in lead(s) {lists}: fill the "
                                      "gaps first (biosig.signal.preprocessing.interpolate_gaps) "
                                      "or cut them out")
    ptp = robust_ptp(rec.data)
    for i in (int(np.argmax(ptp)), int(np.argmin(ptp))):
        if not MIN_ECG_PTP_MV <= ptp[i] <= MAX_ECG_PTP_MV:
            why = ("µV values labelled mV? (then set the channel's unit to µV)"
                   if ptp[i] > MAX_ECG_PTP_MV else "a flat or disconnected lead, or mV values "
                   "stored with the unit µV (then set the channel's unit to mV)")
            raise InvalidFileError(where, f"lead {rec.ch_names[i]} spans {ptp[i]:.4g} mV peak "
                                          f"to peak (robust), but an ECG lead spans "
                                          f"{MIN_ECG_PTP_MV:g}-{MAX_ECG_PTP_MV:g} mV: {why}")
    try:
        rec = apply_steps(rec, [Resample(contract["sfreq"]), *contract["steps"]])
    except BiosigError as err:
        raise ConfigError(f"{where}: cannot prepare it as the CVD CNN's training data "
                          f"({err})") from None
    if rec.ch_names != list(contract["ch_names"]) or abs(rec.sfreq - contract["sfreq"]) > 1e-6:
        raise ConfigError(f"{where}: after the card's preprocessing it has channels "
                          f"{rec.ch_names} at {rec.sfreq:g} Hz, but the weights take "
                          f"{contract['ch_names']} at {contract['sfreq']:g} Hz")
    return rec


def cvd_main(argv: list[str]) -> int:
    """``biosig cvd WEIGHTS FILE [--csv OUT]``: print (or write) the probabilities."""
    from biosig._argparse import ArgumentParser, HelpFormatter

    p = ArgumentParser(prog="biosig cvd", formatter_class=HelpFormatter,
                       description="Per-class probabilities of a CVD CNN weights folder on one "
                                   "12-lead ECG file (per window and for the record)")
    p.add_argument("weights", help="weights folder of a trained CVD CNN "
                                   "(recipes/ptbxl/cvd_cnn.py writes <out>/weights)")
    p.add_argument("file", help="ECG file: WFDB (.hea), EDF, ...")
    p.add_argument("--csv", default=None, help="write the table to this CSV file")
    a = p.parse_args(argv)
    table = cvd_probabilities(a.weights, a.file)
    if a.csv is not None:
        table.to_csv(a.csv)
        print(a.csv)
    else:
        print(table.round(4).to_string())
    return 0
