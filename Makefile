# The two commands of the README. Both create .venv and install what they need;
# a stamp file keeps them fast once set up (it is redone when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres lint bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench,lint]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) example_project/manage.py demo

test: test-sqlite test-postgres

test-sqlite: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

# The same suite again on the PostgreSQL service.
test-postgres: $(STAMP)
	APIAUTH_TEST_DATABASE=postgres $(PY) -m pytest -q -p no:cacheprovider -m "not browser and not live"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

# The documentation site, warnings as errors, into docs/_build/html.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

clean:
	rm -rf docs/_build $(VENV) .tox .pytest_cache .ruff_cache .hypothesis
