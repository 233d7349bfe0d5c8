"""Exactly once across processes: a small run of ``bench_notification_delivery.py``.

60 notifications (6 sent again, 3 of them to both processes at the same moment)
through ``include("django_apiauth.urls")`` served by 2 OS processes sharing a
PostgreSQL database and a Redis cache; the receiver's rows are counted per
notification. Run twice: normally, and with Redis shut down half-way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import services_required

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # OS processes, PostgreSQL, redis-server

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_notification_delivery.py"


@pytest.fixture(scope="module")
def runs():
    args = ["--notifications", "60", "--processes", "2", "--json"]
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if "skipped:" in result.stdout:
        if services_required():
            pytest.fail(result.stdout)
        pytest.skip(result.stdout.strip())
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert lines, result.stdout + result.stderr
    return result.returncode, {run["run"]: run for run in json.loads(lines[-1])}


def test_the_script_reports_success(runs):
    returncode, _ = runs
    assert returncode == 0


@pytest.mark.parametrize("name", ["normal", "redis-stopped"])
def test_every_notification_is_handed_to_the_receiver_exactly_once(runs, name):
    _, by_name = runs
    run = by_name[name]
    assert (run["handed"], run["duplicates"], run["missing"]) == (60, 0, 0)


@pytest.mark.parametrize("name", ["normal", "redis-stopped"])
def test_every_delivery_including_redeliveries_is_answered_200(runs, name):
    _, by_name = runs
    run = by_name[name]
    assert run["redeliveries"] == 6 and run["concurrent"] == 3
    assert run["not_200"] == 0


def test_redis_was_shut_down_half_way(runs):
    _, by_name = runs
    stopped_after = by_name["redis-stopped"]["redis_stopped_after"]
    assert stopped_after is not None and 0 < stopped_after < 66
