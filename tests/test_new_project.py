"""The pages a new user follows, run as written in a brand-new ``django-admin startproject`` site.

Each page's files are the fenced blocks whose first line names them (``# pytest.ini``,
``# test_orders.py``...). The site runs in a process of its own, with none of this
suite's settings: pytest there must find its settings through the documented files,
so a page that forgets one fails here instead of being skipped silently there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
        [sys.executable, *args],
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
    result = run(site, "-m", "pytest", "-p", "no:cacheprovider", "test_orders.py")
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert "skipped" not in result.stdout
