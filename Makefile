# All set-up goes through these targets; a fresh clone needs only `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install test lint format docs demo servers airflow e2e bench clean cluster cluster-deps test-cluster compat

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

# OpenBao + moto seeded with the example; prints the exports for the CLI; Ctrl-C stops them.
servers: install
	$(PY) -m devtools.serve

airflow: install
	$(PY) -m devtools.airflow_ui

# UI check in headless Chromium (not part of `make test`: it installs Debian's chromium).
e2e: install
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(PY) -m pip install -q -r tests/e2e/requirements.txt
	$(VENV)/bin/pytest tests/e2e/ui_check.py tests/e2e/approval_ui_check.py --timeout=900 $(PYTEST_ARGS)

# A CeleryExecutor Airflow on Postgres and Redis with two workers (installs Debian's postgresql
# and redis-server when missing).
cluster-deps:
	@{ command -v redis-server && { command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; }; } >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server; }

cluster: install cluster-deps
	$(PY) -m devtools.cluster

test-cluster: install cluster-deps
	$(VENV)/bin/pytest tests/cluster -m cluster $(PYTEST_ARGS)

# The core, config, DAG, secrets-backend and approval tests on the lowest supported Airflow, in
# a venv of its own, installed with that release's constraints (devtools/constraints: docs/compatibility.md).
COMPAT_VENV        ?= .venv-compat
COMPAT_AIRFLOW     ?= 3.2.2
COMPAT_CONSTRAINTS ?= devtools/constraints/airflow-$(COMPAT_AIRFLOW).txt
COMPAT_TESTS       ?= tests/core tests/config tests/test_dag.py tests/test_secrets_backend.py \
                      tests/test_compat_check.py tests/test_approval_rest.py
# then again with the providers at the lower bounds pyproject.toml declares
COMPAT_PROVIDER_TESTS ?= tests/stores/test_vault_store.py tests/stores/test_aws_store.py \
                      tests/stores/test_s3_store.py tests/stores/test_factory.py tests/test_secrets_backend.py
compat:
	@test -f $(COMPAT_CONSTRAINTS) || { echo "$(COMPAT_CONSTRAINTS) is missing: see docs/compatibility.md"; exit 1; }
	@test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install -q --upgrade pip
	$(COMPAT_VENV)/bin/python -m pip install -q -c $(COMPAT_CONSTRAINTS) "apache-airflow==$(COMPAT_AIRFLOW)" -e '.[all,dev]'
	$(COMPAT_VENV)/bin/python -m pip check
	$(COMPAT_VENV)/bin/python -m devtools.compat $(COMPAT_AIRFLOW)
	$(COMPAT_VENV)/bin/pytest $(COMPAT_TESTS) $(PYTEST_ARGS)
	$(COMPAT_VENV)/bin/python -m pip install -q "apache-airflow==$(COMPAT_AIRFLOW)" \
	  $$($(COMPAT_VENV)/bin/python -m devtools.compat --lowest-providers)
	$(COMPAT_VENV)/bin/python -m pip check
	$(COMPAT_VENV)/bin/pytest $(COMPAT_PROVIDER_TESTS) $(PYTEST_ARGS)

# QUICK=1: the quick sizes (under 5 minutes), as `python -m benchmarks.run --quick`.
bench: install
	$(PY) -m benchmarks.run $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) $(COMPAT_VENV) docs/_build build *.egg-info src/*.egg-info
