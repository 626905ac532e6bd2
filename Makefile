# The dev loop. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv/bin
BUF := $(ROOT)/tools/buf/node_modules/.bin/buf
PYTEST_ARGS ?=

.PHONY: help setup run test lint fmt typecheck protos protos-check pytest unit integration bazel-test bazel-lock bazel-lock-check bench chaos

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install uv, the Python env, buf, the console (npm, build), the Temporal CLI and Debian tools (idempotent)
	@bash tools/setup.sh

run: setup ## Start the local system and run a demo agent turn end to end
	@bash tools/run.sh

test: setup ## Everything CI checks: lint, typecheck, all pytest suites, bazel test
	@$(MAKE) --no-print-directory lint typecheck pytest bazel-test

lint: ## ruff, buf lint, buf format, protos-check, bazel-lock-check, console tsc + eslint
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(BUF) lint
	$(BUF) format --diff --exit-code
	@bash tools/protos.sh check
	@bash tools/bazel/export_requirements.sh --check
	cd client-apps/console && npm run --silent typecheck && npm run --silent lint

fmt: ## Format Python and protos in place
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .
	$(BUF) format -w

typecheck: ## mypy --strict over every package and the stubs
	@bash tools/typecheck.sh

protos: ## Regenerate apis/stubs/python from apis/*.proto
	@bash tools/protos.sh generate

protos-check: ## Fail when the committed stubs differ from a fresh generation
	@bash tools/protos.sh check

pytest: ## All pytest suites (unit and integration)
	$(VENV)/pytest $(PYTEST_ARGS)

unit: ## Unit tests only (no sockets)
	$(VENV)/pytest -m "not integration" $(PYTEST_ARGS)

integration: ## Integration tests only (real Temporal, gRPC, databases, sandboxes)
	$(VENV)/pytest -m integration $(PYTEST_ARGS)

bazel-test: ## bazel test //... (hermetic, offline)
	bazel test //...

bazel-lock: ## Export uv.lock to tools/bazel/requirements.lock (Bazel's hash-pinned lock)
	@bash tools/bazel/export_requirements.sh

bazel-lock-check: ## Fail when tools/bazel/requirements.lock disagrees with uv.lock
	@bash tools/bazel/export_requirements.sh --check

image: ## Build both service images (OCI layouts under bazel-bin)
	bazel build //backend/services/agent-runner:image //backend/services/stigmer-server:image

bench: ## Benchmarks; results written under docs/benchmarks/
	@bash tools/bench.sh

chaos: setup ## Chaos suite at full scale (kills, restarts, cancels, big output); figures to docs/benchmarks/chaos.md
	CHAOS_SCALE=full $(VENV)/pytest tools/chaos -m chaos $(PYTEST_ARGS)
