"""Every task checks its optimiser and loss settings when built (one shared checker): a bad value
is a ConfigError naming ``model.<argument>``, not torch's error once fitting starts."""

from __future__ import annotations

import pytest

from biosig.errors import ConfigError
from biosig.tasks import ClassificationTask, DiffusionTask, GANTask, VAETask, VQTask
from biosig.tasks.base import OPTIMIZER_RULES, BiosigTask, make_optimizer
from biosig.tasks.vq import VQClassificationTask

SIGNAL = dict(n_chans=3, n_times=128, sfreq=128.0, n_outputs=2)
TASKS = {
    "classification": (ClassificationTask, dict(model="eegnet", **SIGNAL)),
    "vq_classification": (VQClassificationTask, dict(model="eegformer_s", setting="scratch",
                                                      **SIGNAL)),
    "vae": (VAETask, dict(model="hveegnet", **SIGNAL)),
    "vq": (VQTask, dict(model="eegformer_s", **SIGNAL)),
    "diffusion": (DiffusionTask, dict(model="ssmdp", **SIGNAL)),
    "gan": (GANTask, dict(**SIGNAL)),
}
NAN, INF = float("nan"), float("inf")

CASES = [
    # the optimiser settings, alike in every task
    *[(task, "lr", value, r"model\.lr must be a finite number > 0, got " + shown)
      for task in ("classification", "vq_classification", "vae", "vq", "diffusion")
      for value, shown in ((-0.003, r"-0\.003"), (0.0, "0"), (NAN, "nan"))],
    *[(task, "weight_decay", value, r"model\.weight_decay must be a finite number >= 0")
      for task in ("classification", "vae", "vq", "diffusion") for value in (-0.01, INF)],
    ("gan", "lr_g", -2e-4, r"model\.lr_g must be a finite number > 0, got -0\.0002"),
    ("gan", "lr_d", INF, r"model\.lr_d must be a finite number > 0, got inf"),
    ("gan", "betas", (0.5, 1.5), r"model\.betas\[1\] must be a finite number in \[0, 1\)"),
    ("diffusion", "betas", (0.9,), r"model\.betas must be two numbers in \[0, 1\)"),
    ("classification", "betas", (-0.1, 0.9), r"model\.betas\[0\] must be"),
    ("classification", "optimizer", "adamx", r"model\.optimizer must be one of"),
    ("vq", "optimizer", "rmsprop", r"model\.optimizer must be one of"),
    # each task's own settings
    ("classification", "label_smoothing", 1.5,
     r"model\.label_smoothing must be a finite number in \[0, 1\], got 1\.5"),
    ("classification", "gamma", 0.0, r"model\.gamma must be a finite number in \(0, 1\]"),
    ("classification", "pct_start", NAN, r"model\.pct_start must be a finite number in \(0, 1\)"),
    ("classification", "class_weights", [1.0, NAN], r"model\.class_weights\[1\] must be"),
    ("vq_classification", "aux_weight", NAN, r"model\.aux_weight must be a finite number >= 0"),
    ("vae", "alpha", -1.0, r"model\.alpha must be a finite number >= 0, got -1\.0"),
    ("vae", "beta", NAN, r"model\.beta must be a finite number >= 0, got nan"),
    ("vae", "clf_weight", -1.0, r"model\.clf_weight must be"),
    ("vae", "kl_warmup_epochs", 1.5, r"model\.kl_warmup_epochs must be an integer >= 0"),
    ("vae", "lr_decay", NAN, r"model\.lr_decay must be a finite number in \(0, 1\]"),
    ("vq", "recon_weight", NAN, r"model\.recon_weight must be a finite number >= 0, got nan"),
    ("vq", "vq_weight", -1.0, r"model\.vq_weight must be"),
    ("vq", "warmup_steps", -1, r"model\.warmup_steps must be an integer >= 0, got -1"),
    ("diffusion", "n_diffusion_steps", 0, r"model\.n_diffusion_steps must be an integer >= 1"),
    ("diffusion", "clip_sample", -1.0, r"model\.clip_sample must be a finite number > 0 or None"),
    ("gan", "l1_weight", -100.0, r"model\.l1_weight must be a finite number >= 0"),
    ("gan", "gp_weight", NAN, r"model\.gp_weight must be"),
    ("gan", "n_critic", 0, r"model\.n_critic must be an integer >= 1, got 0"),
]


@pytest.mark.parametrize("task, key, value, message", CASES,
                         ids=[f"{t}-{k}-{v}" for t, k, v, _ in CASES])
def test_a_bad_setting_is_refused_when_the_task_is_built(task, key, value, message):
    cls, kwargs = TASKS[task]
    with pytest.raises(ConfigError, match=message):
        cls(**{**kwargs, key: value})
    with pytest.raises(ConfigError, match=message):  # what the CLI runs on the config first
        cls.check_args({**kwargs, key: value})


def test_one_shared_set_of_optimiser_rules():
    """Every task inherits the optimiser rules (none keeps a copy), and make_optimizer applies
    them too."""
    import torch

    for cls, _ in TASKS.values():
        rules = cls.arg_rules()
        assert all(rules[k] is v for k, v in OPTIMIZER_RULES.items()), cls.__name__
    assert BiosigTask.arg_rules() == OPTIMIZER_RULES
    with pytest.raises(ConfigError, match=r"model\.lr must be a finite number > 0, got -1"):
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], "adam", -1, 0.0)
