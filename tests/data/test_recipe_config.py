"""biosig.data.recipe_config: the config loader of `biosig run` and `biosig cache build`."""

from __future__ import annotations

import pytest

from biosig.data.recipe_config import load_config
from biosig.errors import ConfigError


@pytest.mark.parametrize("typo, meant", [("--conifg", "--config"), ("--trainr.max_epochs",
                                                                     "--trainer")])
def test_a_misspelt_option_names_the_one_meant(tmp_path, typo, meant):
    """`biosig run --conifg x.yaml` listed the config's sections without --config among them."""
    with pytest.raises(ConfigError, match=rf"unknown key .*\(did you mean {meant}\?\)"):
        load_config([typo, str(tmp_path / "x.yaml")])
