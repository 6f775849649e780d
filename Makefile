# One entry point for a fresh clone. `make demo` runs the main job on the embedded store;
# `make test` runs everything CI runs: lint, types, and the whole test suite against real
# PostgreSQL, Kafka and Chromium, which it installs and starts when they are missing.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo test test-fast check lint types bench servers stop-servers clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: install
	$(VENV)/bin/cmm demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

types: install
	$(PY) -m mypy

check: lint types

# Unit tests only: no servers, about a minute.
test-fast: install
	$(PY) -m pytest tests/unit -q

servers:
	bash infra/servers/test-deps.sh
	bash infra/servers/postgres.sh start >/dev/null
	bash infra/servers/kafka.sh start >/dev/null

stop-servers:
	-bash infra/servers/kafka.sh stop
	-bash infra/servers/postgres.sh stop

# Everything: what CI runs.
test: install check servers
	$(PY) -m pytest -q -n 2 --dist loadfile

# The Kafka and PostgreSQL benchmarks use the servers `make servers` starts (or yours, if
# CMM_KAFKA_BOOTSTRAP / CMM_POSTGRES_DSN are set).
bench: install servers
	eval "$$(bash infra/servers/postgres.sh start)" && \
	eval "$$(bash infra/servers/kafka.sh start)" && \
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
