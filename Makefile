# Two entry points: `make demo` runs the pipeline on embedded data, `make test` runs
# lint, type checks, the docs build (`make docs`) and the test suite. Both create
# .venv and install what they need.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint pytest docs install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[tests,style,docs]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest --cov --cov-report=term -q

# the pages under docs/ and the API reference; any warning fails the build
docs: $(STAMP)
	rm -rf docs/_build
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

test: lint docs pytest

demo: $(STAMP)
	$(VENV)/bin/als4gan demo --output demo_output --overwrite

clean:
	rm -rf $(VENV) demo_output lightning_logs .pytest_cache .mypy_cache .ruff_cache docs/_build
