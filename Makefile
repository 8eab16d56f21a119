# aiosocketio: one command per job. The README's two commands are `make demo` and `make test`.
#
#   make demo      install, then run the chat demo on http://127.0.0.1:3000
#                  (make demo REDIS=redis://127.0.0.1:6379 for the Redis adapter)
#   make test      install, start Redis, check Postgres, install Chromium and HAProxy, lint, the whole test suite, the official suites
#   make install   .venv + `pip install -e '.[dev]'` (versions pinned by constraints-dev.txt) + the pinned npm peers (npm ci)
#   make lint      ruff format --check, ruff check, mypy --strict, lint-imports
#   make conformance  the official Engine.IO and Socket.IO suites, 3 runs per front end
#   make format    ruff format + ruff check --fix
#   make redis     start a local Redis on 127.0.0.1:6379 unless one answers
#   make postgres  check that PostgreSQL answers on 127.0.0.1:5432 (user postgres), or say why not
#   make chromium  install Debian chromium unless /usr/bin/chromium exists
#   make haproxy   install Debian haproxy unless it is there (the load-balancer tests)
#   make bench     run the benchmarks (bench/run.py; make bench BENCH_ARGS=--quick)
#   make bench-scale  100,000 clients on 8 processes + Redis, held 10 min (bench/scale.py; SCALE_ARGS=...)
#   make clean     remove caches and build outputs (keeps .venv and node_modules)

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.aiosocketio-installed
INTEROP := tests/interop
NPM_STAMP := $(INTEROP)/node_modules/.aiosocketio-installed

HOST  ?= 127.0.0.1
PORT  ?= 3000
REDIS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=
SCALE_ARGS ?=

# The first Python >= 3.11 on PATH (override with `make PYTHON=/path/to/python3.12`).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && \
	   $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	   command -v $$p; break; fi; done)

.PHONY: help venv install redis postgres chromium haproxy lint format test conformance demo bench bench-scale clean

help:
	@sed -n 's/^#   //p' Makefile

$(PY):
	@if [ -z "$(PYTHON)" ]; then echo "make: no Python >= 3.11 found on PATH" >&2; exit 1; fi
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(PY)

# Reinstall only when pyproject.toml or the pinned dev versions change (or the venv is new).
$(STAMP): pyproject.toml constraints-dev.txt | $(PY)
	@echo "==> pip install -e '.[dev]' -c constraints-dev.txt"
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' -c constraints-dev.txt
	@touch $@

# `npm ci` only when node_modules is missing or the lock file changed.
$(NPM_STAMP): $(INTEROP)/package-lock.json $(INTEROP)/package.json
	@echo "==> npm ci ($(INTEROP))"
	cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) $(NPM_STAMP)

redis:
	@scripts/ensure_redis.sh

postgres:
	@scripts/ensure_postgres.sh

chromium:
	@scripts/ensure_chromium.sh

haproxy:
	@scripts/ensure_haproxy.sh

lint: install
	@echo "==> ruff format --check"
	$(BIN)/ruff format --check .
	@echo "==> ruff check"
	$(BIN)/ruff check .
	@echo "==> mypy --strict"
	$(BIN)/mypy
	@echo "==> lint-imports (the layers of docs/ARCHITECTURE.md)"
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install redis postgres chromium haproxy lint
	@echo "==> pytest"
	$(BIN)/pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory conformance

conformance: install
	@echo "==> the official conformance suites (../shared/conformance), 3 runs per front end"
	$(PY) scripts/conformance.py --runs 3

demo: install $(if $(REDIS),redis)
	$(BIN)/aiosocketio demo --host $(HOST) --port $(PORT) $(if $(REDIS),--redis $(REDIS)) \
		--client-dist $(INTEROP)/node_modules/socket.io-client/dist

bench: install redis
	@if [ -f bench/run.py ]; then $(PY) bench/run.py $(BENCH_ARGS); \
	else echo "make bench: bench/run.py does not exist yet" >&2; exit 1; fi

bench-scale: install
	$(PY) bench/scale.py $(SCALE_ARGS)

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis .coverage build dist artifacts
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
