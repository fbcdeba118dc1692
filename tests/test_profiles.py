"""CI's property tests are reproducible: a red run is never a random draw."""

from __future__ import annotations

import os

from hypothesis import settings

import profiles


def test_the_default_profile_draws_the_same_examples_every_run() -> None:
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci":
        return  # an explicit explore run is random on purpose
    assert profiles.PROFILE == "ci"
    assert settings.default.derandomize is True
    assert settings.default.database is None
    assert profiles.budget(300) == 300


def test_explore_multiplies_every_budget_and_draws_at_random() -> None:
    explore = settings.get_profile("explore")
    assert explore.derandomize is False
    assert explore.max_examples == profiles.DEFAULT_EXAMPLES * profiles.EXPLORE_FACTOR
    assert profiles.EXPLORE_FACTOR >= 10
