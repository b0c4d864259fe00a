"""RecordingFiles: subjects and sessions from file names."""

from __future__ import annotations

import warnings

import pytest

from biosig.datasets import RecordingFiles


def _touch(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return str(folder / "*.edf")


def test_file_names_the_subject_pattern_misses_are_warned_about(tmp_path):
    # EEGMAT's names: the default S(\d+) finds no subject, so every file was subject 0 silently
    files = RecordingFiles(_touch(tmp_path, ["Subject00_1.edf", "Subject01_1.edf"]))
    with pytest.warns(UserWarning, match=r"subject_pattern 'S\(\\d\+\)' finds nothing in 2 of 2 "
                                         r"file names \(Subject00_1.edf, Subject01_1.edf\): they "
                                         r"all get subject 0"):
        assert [r["subject"] for r in files.records()] == [0, 0]
    named = RecordingFiles(str(tmp_path / "*.edf"), subject_pattern=r"Subject(\d+)",
                           session_pattern=r"_(\d)$")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [(r["subject"], r["session"]) for r in named.records()] == [(0, "1"), (1, "1")]


def test_one_file_or_names_that_all_match_give_no_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = RecordingFiles(_touch(tmp_path / "a", ["chtypes_edf.edf"]))
        assert one.records()[0]["subject"] == 0
        both = RecordingFiles(_touch(tmp_path / "b", ["S001R03.edf", "S002R03.edf"]))
        assert [r["subject"] for r in both.records()] == [1, 2]
    partly = RecordingFiles(_touch(tmp_path / "c", ["S001R03.edf", "rec.edf"]),
                            session_pattern=r"R(\d+)")
    with pytest.warns(UserWarning) as got:
        partly.records()
    assert [str(w.message).split(" '")[0] for w in got] == [
        "RecordingFiles.subject_pattern", "RecordingFiles.session_pattern"]
    # a session is text whether the pattern found it or not: 3 and "1" were two kinds in a column
    assert [r["session"] for r in partly.records()] == ["3", "1"]
