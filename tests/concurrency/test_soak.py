"""A short fault soak (``benchmarks/soak_faults.py``): real processes, PostgreSQL, Redis, faults.

The full-size run (``--duration 600 --notifications 5000``) and its figures are
in ``docs/benchmarks.md``; this one takes about a minute. It starts a private
``redis-server`` on a free port (never the shared Redis) and a PostgreSQL
database of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services
from tests.conftest import require

# Not marked postgres/redis: the soak makes its own database and runs a private Redis,
# so it runs in the SQLite half of ``make test`` (the PostgreSQL service must be up).
pytestmark = [pytest.mark.live, pytest.mark.slow]

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak_faults.py"


def test_a_short_fault_soak_keeps_both_promises():
    require(services.POSTGRES)
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (the soak starts a private one)")
    done = subprocess.run(
        [sys.executable, str(SOAK), "--duration", "30", "--notifications", "300", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["notifications"] == 300
    assert result["revocations"] > 0 and result["workers_killed"] > 0
    assert result["pg_terminations"] > 0
    assert (result["lost"], result["committed_twice"], result["accepted_rows_not_one"]) == (0, 0, 0)
    assert result["token_calls"]["app_errors"] == 0, result["token_calls"]
    assert result["token_requests"] <= result["token_request_allowance"]
    assert done.returncode == 0
