"""The model tests' hypothesis settings, bounded in ``make test``.

``APIAUTH_LONG_MODEL_RUN=1`` runs the long version (thousands of examples, random).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("APIAUTH_LONG_MODEL_RUN") == "1"


def model_settings(*, examples: int, steps: int, long_examples: int, long_steps: int):
    """Derandomized and small by default (``make test``), large and random when long."""
    return settings(
        max_examples=long_examples if LONG else examples,
        stateful_step_count=long_steps if LONG else steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=not LONG,
    )
