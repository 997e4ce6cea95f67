# The two commands of the README are `make demo` and `make test`; the rest are their parts.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := $(UV) run --frozen python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: help uv install assets migrate seed demo test lint bench up check clean

help:
	@echo "make demo   install, migrate SQLite, seed the demo bureau and serve on http://$(HOST):$(PORT)"
	@echo "make test   install and run the whole suite (uses DATABASE_URL and REDIS_URL when set)"
	@echo "make bench  run the benchmarks (PostgreSQL and Redis required)"
	@echo "make up     run web, worker and beat (Procfile, honcho) on DATABASE_URL and REDIS_URL"

uv:
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

install: uv
	$(UV) sync --frozen --quiet
	$(MAKE) --no-print-directory assets

assets:
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build

migrate:
	$(PY) manage.py migrate --noinput

seed:
	$(PY) manage.py seed_demo

demo: export DEBUG ?= true
demo: export HMS_LEDGER_PARTICIPANT_APPROVAL_PROGRAM ?= housing
demo: install migrate seed
	$(PY) manage.py runserver $(HOST):$(PORT)

# The real-worker tests run in a pytest process of their own, after the rest (exit code 5:
# PYTEST_ARGS selected none of them).
test: install
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not worker" $(PYTEST_ARGS)
	$(UV) run --frozen pytest -m worker $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: uv
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports
	DEBUG=true $(UV) run --frozen mypy core hms_portal ledger governance allocations service_requests participants integrations exchange oversight
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

bench: install
	$(PY) -m bench

# With DATABASE_OWNER_URL set, migrations run as the database's owner and db_roles then gives
# the role of DATABASE_URL (the portal's) its least privileges; unset, DATABASE_URL does both.
AS_OWNER = $(if $(DATABASE_OWNER_URL),DATABASE_URL="$(DATABASE_OWNER_URL)")
up: install
	$(AS_OWNER) $(PY) manage.py migrate --noinput
	$(if $(DATABASE_OWNER_URL),$(AS_OWNER) $(PY) manage.py db_roles --app-url "$(DATABASE_URL)")
	$(PY) manage.py collectstatic --noinput
	$(UV) run --frozen honcho start

clean:
	rm -rf staticfiles static/vendor node_modules .pytest_cache db.sqlite3
