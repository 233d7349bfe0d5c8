"""The documentation (``docs/`` and the README) tells the truth.

Every ```python block of every page runs, top to bottom in one namespace per
page, the way a reader types them (parsed by sybil): ``>>>`` blocks compare
their output; hidden blocks set the scene and assert what the page claims
(``% invisible-code-block: python`` MyST comments in ``docs/``, HTML comments
in the README, which GitHub and PyPI hide). Each page runs as one test with a
database rolled back afterwards and a fake provider (no network), isolated:
whatever a page changes (settings, the clock, logging, signal receivers,
monkeypatches, the token store's memory) is undone when it ends, passed or
failed, so a page cannot break a later test. The settings page is checked
against ``django_apiauth.conf.DEFAULTS`` so it cannot drift.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.dispatch import Signal
from django.test import override_settings
from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser, SkipParser

import django_apiauth.clock
from django_apiauth import signals
from django_apiauth.conf import DEFAULTS, SETTINGS
from django_apiauth.testing import FakeProvider
from django_apiauth.tokens import store as tokens

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
    """What a page's hidden blocks get as ``page``; everything it changes is undone."""

    provider: FakeProvider
    monkeypatch: pytest.MonkeyPatch
    undo: ExitStack = field(default_factory=ExitStack)

    def override(self, **values: Any) -> None:
        """Django settings for the rest of the page (undone last in, first out)."""
        self.undo.enter_context(override_settings(**values))

    def apiauth(self, **values: Any) -> None:
        """Merge ``values`` into ``settings.APIAUTH`` for the rest of the page."""
        self.override(APIAUTH={**settings.APIAUTH, **values})


def logging_state() -> dict[str, tuple]:
    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    return {
        log.name: (log, log.level, list(log.handlers), log.disabled, log.propagate)
        for log in loggers
    }


def restore_logging(saved: dict[str, tuple]) -> None:
    for name in list(logging.root.manager.loggerDict):
        if name not in saved:  # created by the page: leave it quiet and harmless
            log = logging.getLogger(name)
            log.setLevel(logging.NOTSET)
            log.handlers.clear()
            log.disabled, log.propagate = False, True
    for log, level, handlers, disabled, propagate in saved.values():
        log.setLevel(level)
        log.handlers[:] = handlers
        log.disabled, log.propagate = disabled, propagate


@contextmanager
def isolated_page(provider: FakeProvider) -> Iterator[Page]:
    """A ``Page`` whose changes to the process are all undone when it ends, even failing.

    Settings overrides are undone here, before the ``fake_provider`` fixture
    undoes its own (out of order, Django's ``override_settings`` would restore
    a stale copy of the settings for every later test).
    """
    clock = django_apiauth.clock.current
    receivers = {
        signal: list(signal.receivers)
        for signal in vars(signals).values()
        if isinstance(signal, Signal)
    }
    log_state = logging_state()
    monkeypatch = pytest.MonkeyPatch()
    page = Page(provider=provider, monkeypatch=monkeypatch)
    try:
        with page.undo:
            yield page
    finally:
        monkeypatch.undo()
        django_apiauth.clock.current = clock
        for signal, saved in receivers.items():
            signal.receivers[:] = saved
            signal.sender_receivers_cache.clear()
        restore_logging(log_state)
        tokens.clear_process_memory()


def examples_of(path: Path) -> int:
    return sum(1 for _ in SYBIL.parse(path).examples())


@pytest.mark.parametrize("path", PAGES, ids=[path.name for path in PAGES])
def test_page_examples_run(path, db, fake_provider):
    document = SYBIL.parse(path)
    with isolated_page(fake_provider) as page:
        document.namespace["page"] = page
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
    # The quickstart is run as commands, in a new site: tests/test_new_project.py.
    for name in ("README.md", "tokens.md", "authentication.md"):
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


def settings_section(name: str) -> str:
    text = (DOCS / "settings.md").read_text()
    return text.split(f"### `{name}`", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_the_documented_default_is_the_real_one(name):
    match = re.search(r"^Default: `(.*)`", settings_section(name), flags=re.MULTILINE)
    assert match, f"no 'Default: `...`' line for {name}"
    assert match.group(1) == repr(DEFAULTS[name])


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_setting_names_its_check_id(name):
    assert f"`{SETTINGS[name].check_id}`" in settings_section(name)


def check_ids_in(text: str) -> set[str]:
    """Check ids, with a range such as ``E004` to `E014`` expanded."""
    ids = set(re.findall(r"django_apiauth\.([EW]\d{3})", text))
    for first, last in re.findall(r"([EW]\d{3})` to `([EW]\d{3})", text):
        ids |= {f"{first[0]}{n:03d}" for n in range(int(first[1:]), int(last[1:]) + 1)}
    return ids


def test_the_checks_table_lists_every_check_the_package_raises():
    package = ROOT / "django_apiauth"
    raised = set().union(*(check_ids_in(path.read_text()) for path in package.rglob("*.py")))
    table = (DOCS / "settings.md").read_text().split("## System checks", 1)[1]
    assert raised - check_ids_in(table) == set()


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
    matplotlib = pytest.importorskip("matplotlib", reason="the bench group draws the plot")
    committed = (DOCS / "_static" / name).read_text()
    if name.endswith(".svg") and f"Matplotlib v{matplotlib.__version__}," not in committed:
        pytest.skip("drawn by another matplotlib version: byte-for-byte comparison is moot")
    script = load_plot_script(monkeypatch, tmp_path)
    script.render(json.loads(script.JSON_PATH.read_text()))
    assert (tmp_path / name).read_text() == committed


PUBLIC_MODULES = ["client", "signing", "notifications", "signals", "exceptions", "testing"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_the_api_reference_documents_every_public_name(name):
    import importlib

    page = (DOCS / "api.rst").read_text()
    module = importlib.import_module(f"django_apiauth.{name}")
    assert f".. automodule:: django_apiauth.{name}\n" in page
    # automodule :members: covers __all__, but not names a module imports on first use.
    lazy = [n for n in getattr(module, "__all__", []) if n not in vars(module)]
    for public in lazy:
        assert f":: django_apiauth.{name}.{public}\n" in page, public
