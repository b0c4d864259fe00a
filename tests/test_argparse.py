"""biosig._argparse.ArgumentParser: an unknown option's error names the closest one."""

from __future__ import annotations

import pytest

from biosig._argparse import ArgumentParser
from biosig.cli import main


def test_an_unknown_option_names_the_closest(capsys):
    """Python 3.11's argparse said only "unrecognized arguments: --step 3"."""
    p = ArgumentParser(prog="x")
    p.add_argument("--steps", type=int, help="steps")
    p.add_argument("--seed", type=int, help="seed")
    with pytest.raises(SystemExit) as exit_:
        p.parse_args(["--step", "3", "--sed=1", "--zzz"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == ("x: error: unrecognized arguments: --step 3 --sed=1 --zzz (--step: did you "
                   "mean --steps?; --sed: did you mean --seed?)")
    with pytest.raises(SystemExit):
        p.parse_args(["--ste", "3"])  # abbreviations are refused, not taken for --steps
    assert "unrecognized arguments: --ste 3" in capsys.readouterr().err


@pytest.mark.parametrize("argv, hint", [(["generate", "w", "o.edf", "--step", "3"], "--steps"),
                                        (["demo", "--epoch", "3"], "--epochs")])
def test_biosig_commands_suggest_the_option(argv, hint, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert f"did you mean {hint}?" in capsys.readouterr().err
