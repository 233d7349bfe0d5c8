"""The documentation (``docs/`` and the README) tells the truth.

Every ```python block of every page runs, top to bottom in one namespace per
page, the way a reader types them (parsed by sybil): ``>>>`` blocks compare
their output; hidden blocks set the scene and assert what the page claims
(``% invisible-code-block: python`` MyST comments in ``docs/``, HTML comments
in the README, which GitHub and PyPI hide). Each page runs as one test with a
database rolled back afterwards and a fake provider (no network). The settings
page is checked against ``django_apiauth.conf.DEFAULTS`` so it cannot drift.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser, SkipParser

from django_apiauth.conf import DEFAULTS
from django_apiauth.testing import FakeProvider, fake_provider  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [*sorted(DOCS.glob("*.md")), README]

SYBIL = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE),
        SkipParser(),
    ],
    path=str(DOCS),
)


@dataclass
class Page:
    """What a page's hidden blocks get as ``page``."""

    provider: FakeProvider
    settings: Any  # pytest-django's ``settings``: every change is undone after the page

    def apiauth(self, **values: Any) -> None:
        """Merge ``values`` into ``settings.APIAUTH`` for the rest of the page."""
        self.settings.APIAUTH = {**self.settings.APIAUTH, **values}


def examples_of(path: Path) -> int:
    return sum(1 for _ in SYBIL.parse(path).examples())


@pytest.mark.parametrize("path", PAGES, ids=[path.name for path in PAGES])
def test_page_examples_run(path, db, settings, fake_provider):
    document = SYBIL.parse(path)
    document.namespace["page"] = Page(provider=fake_provider, settings=settings)
    for example in document.examples():
        try:
            example.evaluate()
        except Exception as err:
            where = path.relative_to(ROOT)
            raise AssertionError(f"{where}, example at line {example.line}") from err


def test_the_pages_have_examples():
    # A parser that stopped matching would make every page pass with nothing run.
    counts = {path.name: examples_of(path) for path in PAGES}
    assert sum(counts.values()) >= 40, counts
    for name in ("README.md", "quickstart.md", "tokens.md", "authentication.md"):
        assert counts[name] >= 3, name


def test_the_readme_is_a_front_page():
    # Issue 14: about 10 KB at most; the reference lives in docs/.
    assert len(README.read_bytes()) <= 10_240


def settings_documented() -> list[str]:
    """The keys of the settings reference: its ``### `KEY` `` headings."""
    text = (DOCS / "settings.md").read_text()
    return re.findall(r"^### `([A-Z_]+)`", text, flags=re.MULTILINE)


def test_every_setting_is_documented():
    assert set(DEFAULTS) - set(settings_documented()) == set()


def test_every_documented_setting_exists():
    assert set(settings_documented()) - set(DEFAULTS) == set()


def test_each_setting_is_documented_once():
    names = settings_documented()
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_the_documented_default_is_the_real_one(name):
    text = (DOCS / "settings.md").read_text()
    section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    match = re.search(r"^Default: `(.*)`", section, flags=re.MULTILINE)
    assert match, f"no 'Default: `...`' line for {name}"
    assert match.group(1) == repr(DEFAULTS[name])


def load_plot_script(monkeypatch, tmp_path):
    """``benchmarks/plot_token_fleet.py``, writing into ``tmp_path`` instead of docs/_static."""
    spec = importlib.util.spec_from_file_location(
        "plot_token_fleet", ROOT / "benchmarks" / "plot_token_fleet.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "CSV_PATH", tmp_path / "token_requests.csv")
    monkeypatch.setattr(module, "SVG_PATH", tmp_path / "token_requests.svg")
    return module


@pytest.mark.parametrize("name", ["token_requests.csv", "token_requests.svg"])
def test_the_benchmark_figure_is_generated_from_the_measured_figures(name, monkeypatch, tmp_path):
    matplotlib = pytest.importorskip("matplotlib", reason="the bench extra draws the plot")
    committed = (DOCS / "_static" / name).read_text()
    if name.endswith(".svg") and f"Matplotlib v{matplotlib.__version__}," not in committed:
        pytest.skip("drawn by another matplotlib version: byte-for-byte comparison is moot")
    script = load_plot_script(monkeypatch, tmp_path)
    script.render(json.loads(script.JSON_PATH.read_text()))
    assert (tmp_path / name).read_text() == committed
