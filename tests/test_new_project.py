"""The pages a new user follows, run as written in a brand-new ``django-admin startproject`` site.

Each page's files are the fenced blocks whose first line names them (``# pytest.ini``,
``# test_orders.py``...). The site runs in a process of its own, with none of this
suite's settings: pytest there must find its settings through the documented files,
so a page that forgets one fails here instead of being skipped silently there.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```[a-z]*\n# ([\w./-]+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def documented_files(page: str) -> dict[str, str]:
    """``{name: text}`` of the page's blocks that start with ``# <name>`` (the first one wins)."""
    files: dict[str, str] = {}
    for name, body in FENCE.findall((DOCS / page).read_text()):
        files.setdefault(name, body)
    return files


def clean_env(**extra: str) -> dict[str, str]:
    # pytest-django exported this suite's settings module; a new site has its own.
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    return {**env, **extra}


def new_site(tmp_path: Path) -> Path:
    """``django-admin startproject mysite`` with ``django_apiauth`` installed, as the docs say."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)],
        check=True,
        env=clean_env(),
    )
    settings = tmp_path / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + '\nINSTALLED_APPS += ["django_apiauth"]\n')
    return tmp_path


def run(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args),
        cwd=site,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_testing_page_example_passes_in_a_new_project(tmp_path):
    site = new_site(tmp_path)
    files = documented_files("testing.md")
    assert {"pytest.ini", "test_orders.py"} <= set(files)
    for name in ("pytest.ini", "test_orders.py"):
        (site / name).write_text(files[name])
    result = run(site, sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_orders.py")
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert "skipped" not in result.stdout


def documented_commands(page: str) -> list[str]:
    """The ``$ `` lines of the page's console blocks, in order (``\\`` continuations joined)."""
    commands: list[str] = []
    for block in re.findall(r"^```console\n(.*?)^```", (DOCS / page).read_text(), re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("$ "):
                commands.append(" ".join(line[2:].split()))
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WAIT_FOR_PORT = (
    "for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break;"
    " sleep 0.1; done"
)


@pytest.mark.slow  # a site, the sandbox and runserver, a dozen manage.py processes
@pytest.mark.redis
@pytest.mark.live
def test_the_quickstart_runs_as_written_in_a_new_directory(tmp_path):
    ports = {"8001": str(free_port()), "8000": str(free_port())}

    def local(text: str) -> str:
        for documented, port in ports.items():
            text = text.replace(f"127.0.0.1:{documented}", f"127.0.0.1:{port}")
        return text

    commands = [local(c) for c in documented_commands("quickstart.md")]
    assert commands[0].startswith("pip install")  # this suite's venv has it already
    setup, walk = commands[1:3], commands[3:]
    assert [c.split()[0] for c in setup] == ["django-admin", "python"]
    cache = services.own_redis_cache()
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    try:
        script = "set -euo pipefail\n" + "\n".join(setup)
        created = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=clean_env(**env))
        assert created.returncode == 0
        for name, text in documented_files("quickstart.md").items():
            if name == "mysite/settings.py":  # added to the end, on this suite's Redis
                text = text.replace(
                    '"redis://127.0.0.1:6379/1",',
                    f'"{cache["LOCATION"]}", "KEY_PREFIX": "{cache["KEY_PREFIX"]}",',
                )
                text = (tmp_path / name).read_text() + "\n" + text
            (tmp_path / name).write_text(text)
        lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
        for command in walk:
            lines.append(f"echo {shlex.quote('>>> ' + command[:60])}")
            lines.append(command)
            if command.endswith("&"):
                port = re.search(r"127\.0\.0\.1:(\d+)", command)[1]
                lines.append(WAIT_FOR_PORT.format(port=port))
        result = run(tmp_path, "bash", "-c", "\n".join(lines), **env)
    finally:
        services.delete_own_redis_keys(cache["KEY_PREFIX"])
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert not re.search(r"django_apiauth\.[EW]\d", out), out  # check --deploy: no W010, E016
    assert "'merchant_uid': " in out  # the call
    assert re.search(r"^OK\s+shop", out, re.M), out  # apiauth_check shop
    assert '"merchant_status": 200' in out  # the sandbox's notification was accepted...
    assert re.search(r"^shop: ORDER-\w+ completed$", out, re.M), out  # ...and received once
    assert "1 passed" in out
    assert "secret-demo-5678" not in out and "sig-demo-0123456789abcdef" not in out
