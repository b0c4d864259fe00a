"""The ``--help`` layout of the recipe scripts (``recipes/**/*.py``).

``ArgumentParser(..., formatter_class=HelpFormatter)``: the description keeps its own
line breaks (:class:`argparse.RawDescriptionHelpFormatter`) and every option's help ends with
its default (:class:`argparse.ArgumentDefaultsHelpFormatter`), written as on the command line
(``(default: 1 2 3)``, not ``[1, 2, 3]``). Nothing is appended where there is nothing to show:
a default of ``None`` or ``""`` (the help text then says in words what happens, e.g.
``(default: the preset's)``) or a flag's ``False``. Options without a help text get no default
either, so every recipe option has one (checked by ``tests/test_lint.py``). Imports only the
standard library: a recipe's ``--help`` stays instant.

:func:`add_ecg_data_arguments`: the data options of the ECG recipes (``recipes/ptbxl/*.py``),
read by :func:`biosig.data.presets.ecg_datamodule`. :func:`add_threads_argument`: the EEG
recipe scripts' ``--threads``, applied with :func:`biosig._threads.set_threads`.
:func:`plain_text`: a docstring's reST inline markup as plain text, for a description shown by
``--help``.
"""

from __future__ import annotations

import argparse
import re
import shlex

__all__ = ["ArgumentParser", "HelpFormatter", "add_ecg_data_arguments", "add_threads_argument",
           "plain_text"]


def plain_text(text: str) -> str:
    """``text`` without reST inline markup: double-backtick literals and references such as
    :func:`biosig.demo.main` become plain text (a reference's leading ``~`` is dropped); a
    ``--help`` text is read in a terminal, not rendered by Sphinx."""
    return re.sub(r":[\w:]+:`~?([^`]+)`", r"\1", text).replace("``", "")


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose "unrecognized arguments" error names the closest
    option of each unknown one (``--step 3``: "did you mean --steps?"); Python 3.11's names
    none. Abbreviations are refused by default (``allow_abbrev=False``)."""

    def __init__(self, *args, allow_abbrev: bool = False, **kwargs):
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message: str):
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            import difflib

            options = [o for o in self._option_string_actions if o.startswith("--")]
            hints = []
            for arg in message[len(prefix):].split():
                close = difflib.get_close_matches(arg.split("=")[0], options, n=1, cutoff=0.6)
                if arg.startswith("--") and close:
                    hints.append(f"{arg.split('=')[0]}: did you mean {close[0]}?")
            if hints:
                message += f" ({'; '.join(hints)})"
        super().error(message)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Raw description + ``(default: ...)`` after each option's help (see the module)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default == "" or not action.help:
            return action.help
        if isinstance(default, (list, tuple)) and "%(default)" not in action.help:
            shown = shlex.join(str(v) for v in default).replace("%", "%%")
            return f"{action.help} (default: {shown})"
        return super()._get_help_string(action)


def add_ecg_data_arguments(parser: argparse.ArgumentParser, n_records: int = 200) -> None:
    """``--data``, ``--path`` and the simulator's ``--n-records``, ``--duration``, ``--sfreq``."""
    parser.add_argument("--data", choices=["synthetic", "ptbxl", "cinc"], default="synthetic",
                        help="the built-in 12-lead simulator, PTB-XL (strat folds 1-8 / 9 / 10) "
                             "or CinC 2021 (random 70/10/20 split by subject)")
    parser.add_argument("--path", default=None,
                        help="PTB-XL or CinC folder (default: under BIOSIG_DATA)")
    parser.add_argument("--n-records", type=int, default=n_records, help="simulator records")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="simulator record length (s)")
    parser.add_argument("--sfreq", type=float, default=100.0,
                        help="sampling rate (Hz; resampled if needed)")


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads``: torch's CPU threads, for :func:`biosig._threads.set_threads`."""
    parser.add_argument("--threads", default=None,
                        help="torch threads: integer or 'auto' (default: BIOSIG_THREADS, else the "
                             "cores not already busy)")
