"""What the wheel tells users: only their extras, and a released version with its notes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import django_apiauth

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_wheel_offers_only_the_users_extras():
    assert set(PYPROJECT["project"]["optional-dependencies"]) == {
        "async",
        "otel",
        "redis",
        "testing",
    }


def test_the_projects_own_tools_are_dependency_groups():
    assert {"test", "bench", "lint", "docs"} <= set(PYPROJECT["dependency-groups"])


def test_the_version_has_a_dated_changelog_section_under_an_open_unreleased_one():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.fullmatch(r"\d+\.\d+\.\d+", django_apiauth.__version__)
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d\d-\d\d))?$", changelog, re.M)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == django_apiauth.__version__ and headings[1][1]
