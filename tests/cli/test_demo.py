"""The README's first command: `biosig demo` trains, evaluates, prints the table, writes plots."""

import json

from biosig.cli import main


def test_demo_tiny(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--subjects", "1", "--trials", "6", "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "kappa" in text and "subject 1" in text
    result = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= result["metrics"]["all"]["accuracy"] <= 1.0
    assert sum(map(sum, result["confusion_matrix"])) == 12  # 6 trials x 2 classes in session E
    for name in ("training_curves", "confusion_matrix", "example_windows"):
        assert (out / f"{name}.png").stat().st_size > 10_000
