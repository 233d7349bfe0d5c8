# The commands of the README. Each creates .venv and installs what it needs;
# stamp files keep them fast once set up (redone when pyproject.toml changes).
# `make demo` installs only the package, its async and otel extras and the OpenTelemetry SDK
# (no test, bench or lint tools).
# The project's own tools are PEP 735 dependency groups (pyproject.toml), which need
# pip >= 25.1 (`pip install --group`): the venv's pip is upgraded first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

.PHONY: demo services test test-fast test-sqlite test-postgres lint bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) "pip>=25.1"

# The example shop has one async view (AsyncApiClient), hence httpx.
$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PIP) -e '.[async,otel]' opentelemetry-sdk
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PIP) "pip>=25.1"
	$(PIP) -e '.[testing,redis,async,otel]' --group test --group bench --group lint
	touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) example_project/manage.py demo

# PostgreSQL and Redis: which one is missing, and the one command that starts it.
# Locally the tests that need it are skipped; APIAUTH_REQUIRE_SERVICES=1 (CI) fails here.
services: $(TEST_STAMP)
	$(PY) -m tests.services

test: services test-sqlite test-postgres

# The inner loop: SQLite only, without the heavy tests (live fleets, big data).
test-fast: $(TEST_STAMP)
	$(PYTEST) -m "not slow"

test-sqlite: $(TEST_STAMP)
	$(PYTEST)

# The same suite again on the PostgreSQL service.
test-postgres: $(TEST_STAMP)
	APIAUTH_TEST_DATABASE=postgres $(PYTEST) -m "not browser and not live"

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: $(TEST_STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

# The documentation site, warnings as errors, into docs/_build/html.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): pyproject.toml | $(PY)
	$(PIP) "pip>=25.1"
	$(PIP) -e '.[async]' --group docs
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

clean:
	rm -rf docs/_build $(VENV) .tox .pytest_cache .ruff_cache .hypothesis dist
