"""The example project's settings: django-environ, defaults offline, a development key."""

from __future__ import annotations

import json
import re
import stat
import textwrap
import threading

import pytest
from example_project.devkey import load_or_create

from .helpers import MANAGE, ROOT, example_env, run_python

pytestmark = pytest.mark.slow  # each test starts manage.py in a subprocess

SHOW_SETTINGS = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, "example_project")
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    import django
    django.setup()
    from django.conf import settings
    print(json.dumps({
        "engine": settings.DATABASES["default"]["ENGINE"],
        "db_name": str(settings.DATABASES["default"]["NAME"]),
        "cache": settings.CACHES["default"]["BACKEND"],
        "keys": settings.APIAUTH["ENCRYPTION_KEYS"],
        "dev_key_file": settings.DEV_ENCRYPTION_KEY_FILE,
    }))
    """
)


def show_settings(env):
    result = run_python(["-c", SHOW_SETTINGS], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_are_sqlite_and_the_in_process_cache(tmp_path):
    shown = show_settings(example_env(tmp_path))
    assert shown["engine"] == "django.db.backends.sqlite3"
    assert shown["cache"] == "django.core.cache.backends.locmem.LocMemCache"


def test_database_and_cache_urls_switch_to_postgresql_and_redis(tmp_path):
    env = example_env(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/example",
        CACHE_URL="redis://127.0.0.1:6379/1",
    )
    shown = show_settings(env)
    assert shown["engine"] == "django.db.backends.postgresql"
    assert shown["db_name"] == "example"
    assert shown["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_encryption_keys_come_from_the_environment(tmp_path):
    env = example_env(tmp_path, APIAUTH_ENCRYPTION_KEYS="new-key,old-key")
    shown = show_settings(env)
    assert shown["keys"] == ["new-key", "old-key"]
    assert shown["dev_key_file"] is None
    assert not (tmp_path / "dev-key").exists()


def test_without_keys_a_development_key_is_generated_once_and_kept(tmp_path):
    first = show_settings(example_env(tmp_path))
    second = show_settings(example_env(tmp_path))
    assert first["dev_key_file"] == str(tmp_path / "dev-key")
    assert first["keys"] == second["keys"]
    assert first["keys"] == [(tmp_path / "dev-key").read_text().strip()]


def test_development_key_file_is_private(tmp_path):
    load_or_create(tmp_path / "key")
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600


def test_concurrent_starts_agree_on_one_development_key(tmp_path):
    keys = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_or_create(tmp_path / "key")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1


def test_system_check_warns_about_the_development_key(tmp_path):
    result = run_python([str(MANAGE), "check"], example_env(tmp_path))
    assert result.returncode == 0
    assert "shop.W001" in result.stderr + result.stdout


def test_no_development_key_warning_with_real_keys(tmp_path):
    from cryptography.fernet import Fernet

    env = example_env(tmp_path, APIAUTH_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    result = run_python([str(MANAGE), "check"], env)
    assert result.returncode == 0, result.stderr
    assert "shop.W001" not in result.stderr + result.stdout


def test_env_example_documents_every_variable():
    sources = "".join(
        (ROOT / "example_project" / path).read_text()
        for path in ("example_project/settings.py", "shop/serve.py")
    )
    read = set(re.findall(r"""env(?:\.\w+)?\(\s*"([A-Z_]+)\"""", sources))
    read |= set(re.findall(r"""os\.environ\.get\(\s*"([A-Z_]+)\"""", sources))
    documented = set(
        re.findall(r"^# ([A-Z_]+)=", (ROOT / "example_project/.env.example").read_text(), re.M)
    )
    assert read, "found no variable in the settings"
    assert read <= documented, sorted(read - documented)


@pytest.mark.parametrize("path", ["db.sqlite3", ".env", ".dev-encryption-key"])
def test_local_files_are_git_ignored(path):
    assert f"example_project/{path}" in (ROOT / ".gitignore").read_text().splitlines()
