# All set-up goes through these targets; a fresh clone needs only `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test lint format docs demo airflow bench clean

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

bench: install
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) docs/_build build *.egg-info src/*.egg-info
