# Otto: every command a developer, reviewer or CI needs.
# `make run` starts the product on its embedded default; `make test` runs every test.

SHELL := /bin/bash
CARGO ?= cargo
DETECT_SECRETS_VERSION := 1.5.0
TOOLS_DIR := .tools

.DEFAULT_GOAL := help
.PHONY: help run build test lint fmt openapi openapi-check verify verify-secrets verify-tests secrets-baseline bench

help: ## List the targets
	@grep -E '^[a-zA-Z_:\\-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/\\//g' | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

run: ## Run Otto on its embedded default (SQLite under ./data, in-process limits) at http://127.0.0.1:8000
	$(CARGO) run -p otto-server --bin otto-server -- serve

build: ## Build the release binary (target/release/otto-server)
	$(CARGO) build --release -p otto-server --bin otto-server

test: ## Run the whole test suite (PostgreSQL/Redis tests skip when those are not running, unless OTTO_REQUIRE_SERVICES=1)
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) test --workspace --doc && $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

lint: ## Formatting and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

openapi: ## Regenerate docs/openapi.json from the code
	$(CARGO) run -q -p otto-server --bin otto-server -- openapi --output docs/openapi.json

openapi-check: ## Fail when docs/openapi.json is out of date
	$(CARGO) nextest run -p otto-server --test http_system -E 'test(openapi)' 2>/dev/null || \
		$(CARGO) test -p otto-server --test http_system openapi

# detect-secrets: the one on PATH, else a private virtualenv under .tools/.
DETECT_SECRETS_HOOK = $(shell command -v detect-secrets-hook 2>/dev/null || echo $(TOOLS_DIR)/venv/bin/detect-secrets-hook)

$(TOOLS_DIR)/venv/bin/detect-secrets-hook:
	python3 -m venv $(TOOLS_DIR)/venv
	$(TOOLS_DIR)/venv/bin/pip install --quiet detect-secrets==$(DETECT_SECRETS_VERSION)

verify-secrets: $(if $(shell command -v detect-secrets-hook 2>/dev/null),,$(TOOLS_DIR)/venv/bin/detect-secrets-hook) ## Scan every tracked and new file for secrets; fails on anything not in .secrets.baseline
	@files=$$(git ls-files -co --exclude-standard | grep -v -E '^(Cargo\.lock|\.secrets\.baseline)$$'); \
	$(DETECT_SECRETS_HOOK) --baseline .secrets.baseline $$files && echo "secret scan: no new findings"

secrets-baseline: $(if $(shell command -v detect-secrets-hook 2>/dev/null),,$(TOOLS_DIR)/venv/bin/detect-secrets-hook) ## Rewrite .secrets.baseline (review the diff: it accepts current findings)
	$(dir $(DETECT_SECRETS_HOOK))detect-secrets scan --exclude-files '^target/' --exclude-files '^Cargo\.lock$$' \
		--exclude-files '^\.secrets\.baseline$$' --exclude-files '^\.tools/' > .secrets.baseline

verify-tests: test ## The test suite (alias kept from the original service)

verify: lint verify-secrets test ## Everything a reviewer runs: lints, secret scan, tests (including the OpenAPI freshness test)

# The original service's spellings.
verify\:secrets: verify-secrets
verify\:tests: verify-tests

bench: ## Benchmarks (release build): rate-limiter decisions; figures go to docs/benchmarks.md
	@{ \
		echo "# Benchmarks"; echo; \
		echo "Machine: $$(nproc) cores, $$(free -g | awk '/Mem:/ {print $$2}') GiB, $$(uname -sr), $$(redis-server --version | cut -d' ' -f1-3)."; \
		echo "Run: $$(date -u +%Y-%m-%dT%H:%MZ), \`make bench\`. Figures, not targets: they vary with the machine and its load."; \
		echo; \
		$(CARGO) run --release -q -p otto-adapters --example rate_limit_bench; \
	} | tee docs/benchmarks.md
