"""Running the example project's ``manage.py`` in a subprocess, isolated in a tmp dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "example_project" / "manage.py"

#: Variables of the example settings that must not leak in from the developer's shell.
EXAMPLE_VARIABLES = (
    "DATABASE_URL",
    "CACHE_URL",
    "APIAUTH_ENCRYPTION_KEYS",
    "APIAUTH_DEV_KEY_FILE",
    "DJANGO_SETTINGS_MODULE",
    "SANDBOX_URL",
    "DEBUG",
)


def example_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """An environment with a private SQLite database and development key under ``tmp_path``."""
    env = {key: value for key, value in os.environ.items() if key not in EXAMPLE_VARIABLES}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        APIAUTH_DEV_KEY_FILE=str(tmp_path / "dev-key"),
        PYTHONIOENCODING="utf-8",
    )
    env.update(overrides)
    return env


def run_python(args: list[str], env: dict[str, str], timeout: float = 60):
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
