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
  generate   synthetic EEG from an SSMDP weights folder as EDF (biosig generate --help)

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
    if command == "generate":
        return _generate(argv[1:])
    if command in LIGHTNING_COMMANDS:
        lightning_cli(None if from_shell else argv)
        return 0
    print(f"biosig: unknown command {command!r}\n\n{HELP}", file=sys.stderr)
    return 2


def _generate(argv: list[str]) -> int:
    from biosig.analysis.generate import generate_main

    return generate_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
