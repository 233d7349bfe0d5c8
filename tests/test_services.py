"""The suite is safe on a developer's machine: it never deletes Redis data it did not write."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import services

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.redis
def test_the_redis_tests_keep_every_key_they_did_not_write_in_every_database():
    import redis

    foreign = f"someone-else:{secrets.token_hex(4)}"
    server = urlsplit(services.REDIS_URL)._replace(path="").geturl()
    clients = [redis.Redis.from_url(f"{server}/{db}") for db in range(16)]
    for db, client in enumerate(clients):
        client.set(foreign, f"kept-{db}")
    ours_before = {db: set(c.scan_iter(match="apiauth-test-*")) for db, c in enumerate(clients)}
    try:
        # The Redis tests of the suite, in a process of their own (this test excluded).
        inner = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-m",
                "redis and not slow",
                "--deselect",
                f"{Path(__file__).relative_to(ROOT)}",
            ],
            cwd=ROOT,
            env=os.environ,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert inner.returncode == 0, inner.stdout[-3000:] + inner.stderr[-2000:]
        assert " passed" in inner.stdout
        kept = {db: client.get(foreign) for db, client in enumerate(clients)}
        assert kept == {db: f"kept-{db}".encode() for db in range(16)}
        # ...and left none of its own behind.
        ours_after = {db: set(c.scan_iter(match="apiauth-test-*")) for db, c in enumerate(clients)}
        assert ours_after == ours_before
    finally:
        for client in clients:
            client.delete(foreign)
            client.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_suite(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**os.environ, "APIAUTH_REQUIRE_SERVICES": "", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


MISSING = [
    pytest.param(
        {"APIAUTH_TEST_REDIS_URL": "redis://127.0.0.1:{port}/13"},
        ["-m", "redis", "tests/asyncclient/test_redis.py", "tests/storage/test_checks.py"],
        "Redis is not running on 127.0.0.1:{port}",
        "redis-server --daemonize yes",
        id="redis",
    ),
    pytest.param(
        {"APIAUTH_TEST_DATABASE": "postgres", "APIAUTH_TEST_PGPORT": "{port}"},
        ["tests/storage/test_checks.py"],
        "PostgreSQL is not running on 127.0.0.1:{port}",
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        id="postgres",
    ),
]


@pytest.mark.parametrize(("env", "args", "missing", "command"), MISSING)
def test_a_missing_service_is_one_summary_line_with_its_command_and_a_failure_in_ci(
    env, args, missing, command
):
    port = str(closed_port())
    env = {name: value.format(port=port) for name, value in env.items()}
    local = run_suite(*args, **env)
    assert local.returncode == 0, local.stdout[-3000:]
    skipped = [line for line in local.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, skipped
    assert missing.format(port=port) in skipped[0] and command in skipped[0]
    assert "RuntimeWarning" not in local.stdout + local.stderr

    ci = run_suite(*args, **env, APIAUTH_REQUIRE_SERVICES="1")
    assert ci.returncode == 1, ci.stdout[-3000:]
    assert "APIAUTH_REQUIRE_SERVICES=1 makes this a failure" in ci.stdout


def test_the_readme_documents_every_variable_the_suite_reads():
    used = set()
    for path in (ROOT / "tests").rglob("*.py"):
        used |= set(re.findall(r"APIAUTH_(?:TEST_[A-Z_]+|REQUIRE_SERVICES)", path.read_text()))
    readme = (ROOT / "README.md").read_text()
    assert used and {name for name in used if name not in readme} == set()
