# Two commands do everything: `make run` (the pipeline on the embedded local stack) and `make test`.
# Each sets itself up first: .venv + pip, node_modules (npm ci, lock file) and the Spark jars (Ivy cache in
# .cache/) with an archive of the Spark driver's classes (faster starts). Stamps make a second run skip every step that is already done, so it touches no network.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SF ?= 0.01
# pytest-xdist workers of `make test` (test groups: tests/conftest.py); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: setup setup-checks setup-browser setup-test run test test-cluster lint format bench clean-state help check-azure conformance conformance-datalake conformance-eventhubs
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# uv installs the pinned packages: 46 s against pip's 160 s for .venv on a fresh machine (no cache, measured
# 2026-12-07), most of it building pyspark's sdist. pip bootstraps uv into .venv; pip stays there too (the
# conformance suites call `pip download`). --compile-bytecode as pip does: without it the first processes to
# import Prefect or pyspark compile them, all at once (a stack's start, the first test runs).
UV_VERSION := 0.13.10
UV := $(VENV)/bin/uv

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -c constraints.txt "pip>=24" -e ".[dev]"
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.cache/spark-jars.txt: $(VENV)/.installed infra/spark.py
	$(PY) -m infra.spark
	@touch $@

# Checkers of infra/azure/ and .github/workflows/: checkov, pycep-parser and zizmor in their own venv (their
# strict pins clash with Prefect's), actionlint built from source with Go (its PyPI wrapper downloads from
# GitHub at install time). Pins and why: infra/azure/requirements-checks.txt. `make run` does not need them.
TOOLS_VENV := .cache/tools-venv
ACTIONLINT_VERSION := v1.7.12
GO ?= $(or $(shell command -v go),/usr/local/go/bin/go)
ACTIONLINT := .cache/bin/actionlint
ACTIONLINT_STAMP := .cache/bin/.actionlint-$(ACTIONLINT_VERSION)

$(TOOLS_VENV)/.installed: infra/azure/requirements-checks.txt $(VENV)/.installed
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(TOOLS_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(TOOLS_VENV)/bin/python -r infra/azure/requirements-checks.txt
	@touch $@

# prefect-azure's ACI worker, for the test that renders our job variables with it (not in .venv).
.cache/prefect-azure/.installed: infra/azure/requirements-prefect-azure.txt $(VENV)/.installed
	rm -rf .cache/prefect-azure
	$(UV) pip install --quiet --python $(PY) --no-deps --target .cache/prefect-azure -r infra/azure/requirements-prefect-azure.txt
	@touch $@

$(ACTIONLINT_STAMP):
	GOBIN=$(abspath .cache/bin) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	@touch $@

# Debian's chromium for the dashboard's browser test (Playwright drives it; its own browser download is not
# used). Installed once with apt as root (CI runs as root on a clean clone); skipped when one is there.
CHROMIUM ?= /usr/bin/chromium
BROWSER_STAMP := .cache/.chromium-installed

$(BROWSER_STAMP):
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make setup-browser: $(CHROMIUM) is missing; as root run: apt-get install chromium" >&2; exit 1; \
	  fi; \
	  mkdir -p .cache; \
	  echo "installing Debian's chromium (apt-get; log in .cache/apt-chromium.log)"; \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } \
	    > .cache/apt-chromium.log 2>&1 || { tail -20 .cache/apt-chromium.log >&2; exit 1; }; \
	fi
	@mkdir -p $(@D) && touch $@

# The set-up steps run side by side (a sub-make with -j): npm ci, Go's build of actionlint and apt beside uv;
# the jars wait for .venv (pyspark resolves them). Each step is still skipped once its stamp is there.
SETUP_STEPS := $(VENV)/.installed node_modules/.installed .cache/spark-jars.txt
CHECK_STEPS := $(TOOLS_VENV)/.installed $(ACTIONLINT_STAMP) .cache/prefect-azure/.installed

setup: ## Create .venv, install npm tools, Spark jars and the class archive (once)
	@$(MAKE) --no-print-directory -j3 $(SETUP_STEPS)

setup-checks: ## Install the Azure checkers (once; `make test` does it)
	@$(MAKE) --no-print-directory -j4 $(SETUP_STEPS) $(CHECK_STEPS)

setup-browser: $(BROWSER_STAMP) ## Install Debian's chromium for the dashboard's browser test (once; `make test` does it)

setup-test: # everything `make test` needs, side by side
	@$(MAKE) --no-print-directory -j4 $(SETUP_STEPS) $(CHECK_STEPS) $(BROWSER_STAMP)

run: setup ## Run the whole pipeline on the embedded local stack (SF=$(SF))
	$(VENV)/bin/lakehouse demo --sf $(SF)

test: setup-test check-azure ## Lint and type-check, then run the whole test suite against real local services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup

check-azure: $(TOOLS_VENV)/.installed $(ACTIONLINT_STAMP) ## Lint the workflows (actionlint, zizmor) and scan infra/azure (checkov)
	$(ACTIONLINT) -color=false -shellcheck=$(TOOLS_VENV)/bin/shellcheck
	$(TOOLS_VENV)/bin/zizmor --offline --no-progress --color never .github/workflows
	$(TOOLS_VENV)/bin/checkov -d infra/azure --framework bicep secrets --compact --quiet --skip-download

lint: setup ## ruff check + format check + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup ## Print the benchmark figures (takes several minutes)
	$(PY) -m bench

test-cluster: setup ## The medallion on a local Spark standalone cluster: gold identical to local[*], a worker killed (long)
	$(VENV)/bin/pytest -m cluster tests/flows/test_spark_cluster.py

conformance: conformance-datalake conformance-eventhubs ## Run the Azure SDKs' own tests against the local services (long)

conformance-datalake: setup ## azure-storage-file-datalake's own tests (its sdist) live against the DFS endpoint
	$(PY) -m tests.conformance.run

conformance-eventhubs: setup ## azure-eventhub's live tests and the Java client against the Event Hubs endpoint
	$(PY) -m tests.conformance.eventhubs.java_sdk
	$(PY) -m tests.conformance.eventhubs

clean-state: ## Stop the local stack and delete its data (.state/)
	-$(VENV)/bin/lakehouse down
	rm -rf .state
