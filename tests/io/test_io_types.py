"""Channel-type inference from labels (EDF+ prefixes, TUH's generic 'EEG' prefix, keywords)."""

import pytest

from biosig.io._util import infer_ch_type


@pytest.mark.parametrize(
    "label,expected",
    [
        ("EEG FP1-REF", "eeg"),
        ("EEG EKG1-REF", "ecg"),
        ("ECG ECG1", "ecg"),
        ("EOG LOC", "eog"),
        ("C3", "eeg"),
    ],
)
def test_infer_ch_type(label, expected):
    assert infer_ch_type(label, "uV", default_voltage="eeg", ecg_leads=False) == expected
