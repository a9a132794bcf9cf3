# Northstar developer entry points; `make help` lists them.
#
# Every target that needs them first creates .venv if missing and reinstalls the project when
# pyproject.toml changed (scripts/ensure-venv.sh), then makes sure PostgreSQL and Redis are
# reachable, starting private ones under .data/ if needed (scripts/ensure-services.sh). The URLs
# chosen are written to .data/services.env, which the recipes source.
#
# Installs come from requirements.lock only (docs/dependencies.md): `make lock` changes it,
# `make test-latest` tries the newest versions pyproject.toml allows in .venv-latest.
#
# Variables: PYTEST_ARGS (extra pytest arguments), BENCH_ARGS (default --quick),
# DATABASE_URL / REDIS_URL (servers to prefer), NORTHSTAR_DATA_DIR (default .data),
# UPGRADE=1 (make lock: take the newest set that make test-latest passed).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Each recipe runs in one shell, so what it sources and exports reaches its later lines.
.ONESHELL:
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
LATEST_VENV := $(CURDIR)/.venv-latest
UPGRADE ?=
export NORTHSTAR_DATA_DIR ?= $(CURDIR)/.data
SERVICES_ENV := $(NORTHSTAR_DATA_DIR)/services.env
LATEST_LOCK := $(NORTHSTAR_DATA_DIR)/latest/requirements.lock
PYTEST_ARGS ?=
BENCH_ARGS ?= --quick
# Volume of the demo: history and the live simulator use the same scale, so live numbers
# continue the history's level (scale 1, about 380 thousand events over 30 days, is the one the
# demo KPI targets are set for).
DEMO_SCALE ?= 1

# $(call use-db,NAME[,--fresh]): recipe lines that make sure the services run, load their URLs,
# create database NAME (dropping it first with --fresh) and point DATABASE_URL at it.
define use-db
scripts/ensure-services.sh
source "$(SERVICES_ENV)"
scripts/create-db.sh $(1) $(2)
DATABASE_URL=$$(scripts/url-with-db.sh "$$DATABASE_URL" $(1))
export DATABASE_URL REDIS_URL
endef

# Environment of the demo: database "northstar", demo mode; `make demo` then runs Procfile.demo.
define demo-env
$(call use-db,northstar)
export NORTHSTAR_DEMO=1 NORTHSTAR_ENV=dev
endef

# $(call lint-steps,BIN): ruff, ruff format and mypy of that environment.
define lint-steps
$(1)/ruff check .
$(1)/ruff format --check .
$(1)/mypy
endef

# $(call test-steps,DB,REDIS_DB,BIN): lint, then pytest on a fresh database DB and Redis db
# number REDIS_DB, with the browser the e2e tests drive.
define test-steps
$(call use-db,$(1),--fresh)
# Debian's chromium and chromium-driver for the browser tests (tests/e2e), installed if missing.
scripts/ensure-browser.sh
REDIS_URL=$$(scripts/url-with-db.sh "$$REDIS_URL" $(2))
export REDIS_URL NORTHSTAR_ENV=test
set -x
$(call lint-steps,$(3))
$(3)/pytest $(PYTEST_ARGS)
endef

.PHONY: help venv lock test-latest screenshots services stop-services demo test lint format bench bench-ingest bench-dashboard bench-quality clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

venv: ## Create .venv and install exactly requirements.lock (again when it or pyproject.toml changed)
	@scripts/ensure-venv.sh

lock: venv ## Re-resolve requirements.lock after pyproject.toml changed (UPGRADE=1: newest set test-latest passed)
	@if [[ -z "$(UPGRADE)" ]]; then
	    scripts/lock.sh $(LOCK)  # keeps every pin the ranges still allow
	else
	    scripts/lock-upgrade.sh "$(LATEST_LOCK)" $(LOCK)
	fi
	git diff --stat -- $(LOCK) || true

test-latest: venv ## Resolve the newest versions the ranges allow, install them into .venv-latest, lint and test
	@mkdir -p "$$(dirname "$(LATEST_LOCK)")"
	rm -f "$(LATEST_LOCK).passed"
	scripts/lock.sh "$(LATEST_LOCK)" --upgrade
	echo "newest versions that differ from $(LOCK):"
	scripts/lock-upgrade.sh --compare "$(LATEST_LOCK)" $(LOCK)
	NORTHSTAR_VENV="$(LATEST_VENV)" NORTHSTAR_LOCK="$(LATEST_LOCK)" scripts/ensure-venv.sh
	$(call test-steps,northstar_latest_test,14,$(LATEST_VENV)/bin)
	set +x
	sha256sum "$(LATEST_LOCK)" >"$(LATEST_LOCK).passed"
	echo "make test-latest passed: \`make lock UPGRADE=1\` takes this set into $(LOCK)"

services: ## Make sure PostgreSQL and Redis are reachable (writes .data/services.env)
	@scripts/ensure-services.sh
	cat "$(SERVICES_ENV)"

stop-services: ## Stop the private PostgreSQL/Redis started under .data, if any
	@scripts/stop-services.sh

demo: venv ## Migrate, seed and back-fill "northstar", then run web, worker, cron and simulator
	@$(demo-env)
	set -x
	$(BIN)/northstar db upgrade
	$(BIN)/northstar demo seed
	$(BIN)/northstar demo history --scale $(DEMO_SCALE)
	$(BIN)/northstar demo summary
	# Metrics of every process of this run, and only of this run (prometheus-client multiprocess).
	export PROMETHEUS_MULTIPROC_DIR="$(NORTHSTAR_DATA_DIR)/prometheus"
	rm -rf "$$PROMETHEUS_MULTIPROC_DIR"
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR"
	export PATH="$(CURDIR)/$(BIN):$$PATH" NORTHSTAR_DEMO_PORT="$${NORTHSTAR_DEMO_PORT:-8050}" NORTHSTAR_DEMO_SCALE=$(DEMO_SCALE)
	set +x
	echo "Northstar demo: http://127.0.0.1:$$NORTHSTAR_DEMO_PORT (API /api/v1, /metrics, /readyz)"
	echo "Demo accounts and passwords: $(NORTHSTAR_DATA_DIR)/demo-credentials.txt"
	echo "Web access log (the simulator posts several times a second): $(NORTHSTAR_DATA_DIR)/web-access.log"
	echo "Running web, worker, cron and simulator (Procfile.demo); Ctrl-C stops them all."
	exec $(BIN)/honcho -f Procfile.demo start

test: venv ## Lint, type-check and run pytest against a fresh northstar_test (PYTEST_ARGS=...)
	@$(call test-steps,northstar_test,15,$(BIN))

screenshots: venv ## Run the browser tests and refresh the user guide's screenshots (docs/guide/img)
	@$(call use-db,northstar_test,--fresh)
	scripts/ensure-browser.sh
	REDIS_URL=$$(scripts/url-with-db.sh "$$REDIS_URL" 15)
	export REDIS_URL NORTHSTAR_ENV=test
	set -x
	$(BIN)/pytest tests/e2e --guide-screenshots docs/guide/img $(PYTEST_ARGS)

lint: venv ## ruff check, ruff format --check and mypy
	@set -x
	$(call lint-steps,$(BIN))

format: venv ## Apply ruff's formatting and safe fixes
	@set -x
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv ## Run bench/storage.py (BENCH_ARGS, default --quick) on a fresh northstar_bench
	@$(call use-db,northstar_bench,--fresh)
	set -x
	$(BIN)/python bench/storage.py $(BENCH_ARGS)

bench-ingest: venv ## Run bench/ingest.py (BENCH_ARGS, default --quick) on a fresh northstar_ibench
	@$(call use-db,northstar_ibench,--fresh)
	# Redis db 4, flushed by the bench; it starts and stops its own web and worker processes.
	REDIS_URL=$$(scripts/url-with-db.sh "$$REDIS_URL" 4)
	export REDIS_URL
	set -x
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)

bench-dashboard: venv ## Run bench/dashboard.py (BENCH_ARGS, default --quick) on a fresh northstar_dbench
	@$(call use-db,northstar_dbench,--fresh)
	# Redis db 5, flushed by the bench; it starts and stops its own web and worker processes.
	REDIS_URL=$$(scripts/url-with-db.sh "$$REDIS_URL" 5)
	export REDIS_URL
	set -x
	$(BIN)/python bench/dashboard.py $(BENCH_ARGS)

bench-quality: venv ## Time data-quality check cycles over the demo's 30 days on a fresh northstar_qbench
	@$(call use-db,northstar_qbench,--fresh)
	# The demo history at scale 1 (DEMO_SCALE), then cold, warm and outage cycles; no Redis needed.
	set -x
	$(BIN)/python bench/quality.py --scale $(DEMO_SCALE)

clean: ## Stop private services, then remove .venv, .venv-latest and .data
	@scripts/stop-services.sh --purge
	rm -rf $(VENV) $(LATEST_VENV) .data
