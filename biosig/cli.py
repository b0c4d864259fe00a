"""The ``biosig`` command: LightningCLI subcommands plus ``run``, ``demo`` and ``models``.

``biosig --help`` answers without importing torch or Lightning; the heavy stack loads only for
the subcommand that needs it.
"""

from __future__ import annotations

import sys

HELP = """usage: biosig <command> [options]

commands:
  demo       train and evaluate a small EEG classifier on the built-in motor-imagery data,
             print a metrics table and write plots (biosig demo --help)
  run        run a whole protocol (every fold x seed x model) and write one results table:
             biosig run --config recipes/bciiv2a/dbconformer_co.yaml  (biosig run --help)
  fit        train a model on one fold (LightningCLI: biosig fit --config recipes/...yaml)
  validate   run the validation loop of a model
  test       evaluate a model on the test split
  predict    predict with a model
  models     list the registered models

Errors print one line (biosig: error: ...); --debug or BIOSIG_DEBUG=1 shows the traceback.

Configs compose: biosig fit --config recipes/bciiv2a/dbconformer_co.yaml \
                   --config recipes/configs/trainer/gpu.yaml
Overrides: --trainer.max_epochs 5, --model.init_args.lr 1e-3; --print_config dumps the full config.
"""

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")


def _make_cli_class():
    from typing import Optional

    from lightning.pytorch.cli import LightningCLI

    class BiosigCLI(LightningCLI):
        """LightningCLI whose DataModule's signal shape is linked into the model's arguments."""

        def add_arguments_to_parser(self, parser):
            for key in ("n_chans", "n_times", "sfreq", "n_outputs", "ch_names"):
                parser.link_arguments(
                    f"data.{key}", f"model.init_args.{key}", apply_on="instantiate"
                )
            # A config's `experiment:` section is read by `biosig run` (whole protocol); `fit`
            # and the other subcommands use the protocol's first fold and ignore it.
            parser.add_argument(
                "--experiment",
                type=Optional[dict],
                default=None,
                help="biosig run only: seeds, models, subjects, metrics, reference",
            )

    return BiosigCLI


def lightning_cli(args: list[str] | None, run: bool = True):
    """Run (or with ``run=False`` only build) the LightningCLI on ``args`` (None: ``sys.argv``)."""
    from biosig.data.datamodule import BiosigDataModule
    from biosig.tasks.base import BiosigTask

    cli_class = _make_cli_class()
    return cli_class(
        BiosigTask,
        BiosigDataModule,
        subclass_mode_model=True,
        args=args,
        run=run,
        parser_kwargs={"default_env": True},
        save_config_kwargs={"overwrite": True},
    )


CPU_PRESET = "recipes/configs/trainer/cpu.yaml"


def _error_line(exc: BaseException) -> str | None:
    """``biosig: error: ...`` (plus a hint line) for a project or Lightning configuration error.

    None for anything else: an unexpected exception is a bug and keeps its traceback.
    """
    from biosig.errors import BiosigError

    hint = ""
    if not isinstance(exc, BiosigError):
        # Lightning is imported only by the commands that train; look it up, never import it here.
        exceptions = sys.modules.get("lightning.fabric.utilities.exceptions")
        misconfig = getattr(exceptions, "MisconfigurationException", None)
        if misconfig is None or not isinstance(exc, misconfig):
            return None
        text = str(exc).lower()
        if "gpu" in text or "cuda" in text or "mps" in text:
            hint = (f"\nhint: this machine has no usable GPU: use the CPU preset --config "
                    f"{CPU_PRESET} (or --trainer.accelerator cpu) instead of the GPU one")
    message = " ".join(str(exc).split()) or type(exc).__name__
    return f"biosig: error: {message}{hint}"


def _one_line_errors(func):
    """Run the command; a project or Lightning configuration error prints one line, exit code 2.

    ``--debug`` anywhere in the arguments (removed before parsing) or ``BIOSIG_DEBUG=1`` lets the
    exception through with its traceback.
    """
    import functools
    import os

    @functools.wraps(func)
    def wrapper(argv: list[str] | None = None) -> int:
        if argv is None:  # from the shell: LightningCLI reads sys.argv itself
            debug = "--debug" in sys.argv[1:]
            sys.argv[1:] = [a for a in sys.argv[1:] if a != "--debug"]
        else:
            debug = "--debug" in argv
            argv = [a for a in argv if a != "--debug"]
        debug = debug or os.environ.get("BIOSIG_DEBUG", "").strip() not in ("", "0")
        if debug:
            return func(argv)
        try:
            return func(argv)
        except Exception as exc:  # filtered by _error_line; anything else is re-raised
            line = _error_line(exc)
            if line is None:
                raise
            print(line, file=sys.stderr)
            return 2

    return wrapper


@_one_line_errors
def main(argv: list[str] | None = None) -> int:
    from_shell = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(HELP)
        return 0
    command = argv[0]
    if command == "--version":
        from biosig import __version__

        print(__version__)
        return 0
    if command == "demo":
        from biosig.demo import main as demo_main

        return demo_main(argv[1:])
    if command == "run":
        from biosig.experiments.config import main as run_main

        return run_main(argv[1:])
    if command == "models":
        from biosig.models import list_models

        print("\n".join(list_models()))
        return 0
    if command in LIGHTNING_COMMANDS:
        lightning_cli(None if from_shell else argv)
        return 0
    print(f"biosig: unknown command {command!r}\n\n{HELP}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
