# All set-up goes through these targets; a fresh clone needs only `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install test lint format docs demo airflow e2e bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,dev]'
	@touch $(STAMP)

install: $(STAMP)

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: install
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

demo: install
	$(PY) -m devtools.demo

airflow: install
	$(PY) -m devtools.airflow_ui

# UI check in headless Chromium (not part of `make test`: it installs Debian's chromium).
e2e: install
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(PY) -m pip install -q -r tests/e2e/requirements.txt
	$(VENV)/bin/pytest tests/e2e/ui_check.py --timeout=900 $(PYTEST_ARGS)

# QUICK=1: the quick sizes (under 5 minutes), as `python -m benchmarks.run --quick`.
bench: install
	$(PY) -m benchmarks.run $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) docs/_build build *.egg-info src/*.egg-info
