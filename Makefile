# Two commands do everything: `make run` (the pipeline on the embedded local stack) and `make test`.
# Each sets itself up first: .venv + pip, node_modules (npm ci, lock file) and the Spark jars (Ivy cache in
# .cache/). Stamps make a second run skip every step that is already done, so it touches no network.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SF ?= 0.01

.PHONY: setup run test lint format bench conformance clean-state help
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.cache/spark-jars.txt: $(VENV)/.installed infra/spark.py
	$(PY) -m infra.spark

setup: $(VENV)/.installed node_modules/.installed .cache/spark-jars.txt ## Create .venv, install npm tools and Spark jars (once)

run: setup ## Run the whole pipeline on the embedded local stack (SF=$(SF))
	$(VENV)/bin/lakehouse demo --sf $(SF)

test: setup ## Lint, then run the whole test suite against real local services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

lint: setup ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup ## Print the benchmark figures (takes several minutes)
	$(PY) -m bench

conformance: setup ## Run azure-storage-file-datalake's own tests (its sdist) live against the DFS endpoint
	$(PY) -m tests.conformance.run

clean-state: ## Stop the local stack and delete its data (.state/)
	-$(VENV)/bin/lakehouse down
	rm -rf .state
