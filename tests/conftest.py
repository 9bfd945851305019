"""Hypothesis profiles shared by the test suite.

``default`` keeps ``make test`` fast on two cores; ``thorough`` (``HYPOTHESIS_PROFILE=thorough``)
runs many more examples before a release or after touching a Merkle structure.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# the web interface's test bed (served demo community, chromium): fixtures for any test
pytest_plugins = ["web_support"]
