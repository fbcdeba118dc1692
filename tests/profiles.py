"""Hypothesis profiles: ``ci`` (the default) is reproducible, ``explore`` hunts.

``HYPOTHESIS_PROFILE=ci`` draws the same examples on every run (``derandomize``), so a
red CI is a real, reproducible failure and never a random draw deciding what lands.
``HYPOTHESIS_PROFILE=explore`` multiplies every property's budget by ``EXPLORE_FACTOR``
and draws at random; what it finds becomes an ``@example`` on the property.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXPLORE_FACTOR = 20
DEFAULT_EXAMPLES = 100

settings.register_profile(
    "ci",
    max_examples=DEFAULT_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    max_examples=DEFAULT_EXAMPLES * EXPLORE_FACTOR,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def budget(examples: int) -> int:
    """A property's number of examples under the loaded profile."""
    return examples * EXPLORE_FACTOR if PROFILE == "explore" else examples
