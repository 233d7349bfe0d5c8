"""``python example_project/manage.py demo`` (what ``make demo`` runs) tells the truth."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from .helpers import MANAGE, example_env, run_python

pytestmark = [pytest.mark.live, pytest.mark.slow]  # subprocesses running the demo

# Runs the demo like manage.py does, but records the sandbox accounts it generates,
# so the test knows which secrets must not appear in the output.
RECORDING_DEMO = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, "example_project")
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    from django_apiauth.testing import state

    generated = []
    original = state.Account.generate.__func__

    def recording(cls, **overrides):
        account = original(cls, **overrides)
        generated.append(account)
        return account

    state.Account.generate = classmethod(recording)
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["manage.py", "demo"])
    finally:
        with open(os.environ["RECORD_TO"], "w") as handle:
            json.dump([vars(account) for account in generated], handle)
    """
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("demo")
    record = tmp_path / "accounts.json"
    env = example_env(tmp_path, RECORD_TO=str(record), LOG_LEVEL="DEBUG")
    result = run_python(["-c", RECORDING_DEMO], env)
    return result, json.loads(record.read_text())


def test_demo_exits_0_without_a_failed_step(demo):
    result, _ = demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    assert "7 steps, all passed" in result.stdout


@pytest.mark.parametrize(
    "expected",
    [
        "5 bearer calls answered [200]; token requests seen by the provider: 1",
        "the next call got 1 401, fetched 1 new token and answered 200",
        "GET /api/dashboard/merchant answered 200",
        "POST /api/purchase_link/?signature=<HS256 JWT> answered 201",
        "the old signature answered 403",
        "payment (hash scheme) to /provider/notifications/shop/payment/: answered 200, "
        "handed to the receiver (1 call)",
        "transfer (JWT scheme) to /provider/notifications/shop/transfer/: answered 200, "
        "handed to the receiver (1 call)",
        "tampered payment (hash scheme): answered 403 (refused), receiver not called "
        "(still 1 call)",
        "tampered transfer (JWT scheme): answered 403 (refused), receiver not called "
        "(still 1 call)",
        "token+GET /api/merchant: ok, HTTP 200",
        "with a wrong API secret: failed, HTTP 401",
        "system check shop.W001",
    ],
)
def test_demo_reports_each_capability(demo, expected):
    result, _ = demo
    assert expected in result.stdout


@pytest.mark.parametrize("prefix", ["pay_", "tri_"])
def test_demo_shows_a_redelivery_answered_200_without_a_second_receiver_call(demo, prefix):
    result, _ = demo
    line = re.compile(
        rf"\[ok\] redelivery of {prefix}[0-9a-f]+ answered 200, "
        r"receiver not called again \(1 call\)"
    )
    assert line.search(result.stdout), result.stdout


def test_demo_shows_the_api_key_only_masked(demo):
    result, accounts = demo
    assert f"API key ••••{accounts[0]['api_key'][-4:]}" in result.stdout


def test_no_secret_appears_in_the_demo_output_or_logs(demo):
    result, accounts = demo
    assert accounts, "the demo generated no sandbox account"
    shown = result.stdout + result.stderr
    for account in accounts:
        for field in ("api_key", "api_secret", "dashboard_password", "signature_secret"):
            assert account[field] not in shown, field


def test_make_demo_command_line_runs_as_is(tmp_path):
    result = run_python([str(MANAGE), "demo", "--calls", "2"], example_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 bearer calls answered [200]; token requests seen by the provider: 1" in (
        result.stdout
    )


def test_demo_can_run_twice_on_the_same_database(tmp_path):
    env = example_env(tmp_path)
    first = run_python([str(MANAGE), "demo", "--calls", "1"], env)
    second = run_python([str(MANAGE), "demo", "--calls", "1"], env)
    assert (first.returncode, second.returncode) == (0, 0), second.stdout + second.stderr
