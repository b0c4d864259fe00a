"""The one experiment engine: protocols' folds x seeds x models -> one results table.

:func:`run_experiment` (:mod:`biosig.experiments.runner`) is used by ``biosig run``
(:mod:`biosig.experiments.config`), ``biosig demo`` and every recipe script.
"""

from biosig.experiments.runner import (
    PERCENT_METRICS, ExperimentResult, ModelSpec, Run, format_table, quiet_lightning_notices,
    run_experiment, summarize,
)

__all__ = ["PERCENT_METRICS", "ExperimentResult", "ModelSpec", "Run", "format_table",
           "quiet_lightning_notices", "run_experiment", "summarize"]
