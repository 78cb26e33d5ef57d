# Otto: every command a developer, reviewer or CI needs.
# `make run` starts the product on its embedded default; `make test` runs every test.

SHELL := /bin/bash
CARGO ?= cargo
DETECT_SECRETS_VERSION := 1.5.0
SCHEMATHESIS_VERSION := 4.32.5
TOOLS_DIR := .tools
OPENAPI_TOOLS := tools/openapi
OPENAPI_DOC := docs/openapi.json

.DEFAULT_GOAL := help
.PHONY: help run build test lint docs docs-check fmt openapi openapi-check verify verify-openapi verify-secrets verify-tests verify-tenancy verify-ratelimit verify-idempotency verify-obs verify-deploy verify-browser smoke smoke-obs smoke-local image smoke-image api-fuzz secrets-baseline bench chaos fuzz example

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

example: ## Run the webhook-import example (otto-core embedded without otto-server) as its README walks through it
	./scripts/example-webhook-import.sh

lint: ## Formatting and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The library crates' API documentation: every public item documented (missing_docs),
# no broken intra-doc link; warnings are errors.
DOC_CRATES := -p otto-core -p otto-adapters -p otto-testkit

docs-check: ## Build the library crates' API docs with warnings as errors (CI)
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps $(DOC_CRATES)

docs: docs-check ## Build the library crates' API docs and open otto_core's front page
	@page=$${CARGO_TARGET_DIR:-target}/doc/otto_core/index.html; \
	echo "API docs: $$page"; xdg-open "$$page" >/dev/null 2>&1 || true

fmt: ## Format the code
	$(CARGO) fmt --all

openapi: ## Regenerate docs/openapi.json from the code
	$(CARGO) run -q -p otto-server --bin otto-server -- openapi --output docs/openapi.json

openapi-check: ## Fail when docs/openapi.json is out of date
	$(CARGO) nextest run -p otto-server --test http_system -E 'test(openapi)' 2>/dev/null || \
		$(CARGO) test -p otto-server --test http_system openapi

# npm's own record of an install: (re)installed only when node_modules is missing or
# package.json/package-lock.json is newer. `npm ci` fails when the two disagree.
$(OPENAPI_TOOLS)/node_modules/.package-lock.json: $(OPENAPI_TOOLS)/package-lock.json $(OPENAPI_TOOLS)/package.json
	cd $(OPENAPI_TOOLS) && npm ci --no-audit --no-fund
	@touch $@

# Each step prints one line when it passes, or its tool's whole output and fails.
# (The sed drops the Node.js 20 end-of-life banner that Redocly CLI prints on every run.)
verify-openapi: $(OPENAPI_TOOLS)/node_modules/.package-lock.json ## Check docs/openapi.json: Redocly lint, then a TypeScript client generated from it must type-check
	@cd $(OPENAPI_TOOLS) && out=$$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true \
		./node_modules/.bin/redocly lint $(abspath $(OPENAPI_DOC)) --config redocly.yaml --format=stylish 2>&1) \
		&& echo "openapi: redocly lint passed ($(OPENAPI_DOC), $(OPENAPI_TOOLS)/redocly.yaml)" \
		|| { echo "$$out" | sed -E '/╔|║|╚/d' >&2; echo "openapi: redocly lint FAILED on $(OPENAPI_DOC)" >&2; exit 1; }
	@cd $(OPENAPI_TOOLS) && rm -rf generated && out=$$(./node_modules/.bin/openapi-typescript $(abspath $(OPENAPI_DOC)) \
		--output generated/otto.d.ts 2>&1) \
		&& echo "openapi: openapi-typescript generated $(OPENAPI_TOOLS)/generated/otto.d.ts" \
		|| { echo "$$out" >&2; echo "openapi: openapi-typescript FAILED on $(OPENAPI_DOC)" >&2; exit 1; }
	@cd $(OPENAPI_TOOLS) && out=$$(./node_modules/.bin/tsc --noEmit --strict -p tsconfig.json 2>&1) \
		&& echo "openapi: tsc --strict passed (client-check.ts against the generated client types)" \
		|| { echo "$$out" >&2; echo "openapi: tsc FAILED: a client cannot use $(OPENAPI_DOC) as client-check.ts does" >&2; exit 1; }

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

# Test groups: nextest filtersets (https://nexte.st/docs/filtersets) over the workspace.
# Each runs against PostgreSQL and Redis when they are up (OTTO_REQUIRE_SERVICES=1 makes
# their absence a failure), like `make test`.
TENANCY_TESTS := binary(http_tenant_data) | binary(http_route_matrix) | binary(http_auth) | \
	binary(api_tokens) | binary(clerk_jwt) | binary(credential_contract) | test(/tenant|row_level|rls/)
RATELIMIT_TESTS := binary(http_rate_limit) | binary(rate_limit) | test(/rate_limit|limiter|rate::/)
IDEMPOTENCY_TESTS := binary(http_webhooks) | binary(webhooks_sql) | binary(signature_vectors) | \
	binary(webhook_plans) | binary(missed_call_flow) | test(/webhook_ledger|idempoten|duplicate|once/)
OBS_TESTS := binary(access_log) | binary(http_request_id) | binary(http_problems) | \
	test(/metric|trace|redact|telemetry|json_log|problem/)

verify-tenancy: ## Tenant isolation: credentials, roles per route, row-level security, cross-tenant 404s
	$(CARGO) nextest run --workspace --no-fail-fast -E '$(TENANCY_TESTS)'

verify-ratelimit: ## Rate limits: the GCRA decision, Redis and in-process limiters, per-route limits, 429s
	$(CARGO) nextest run --workspace --no-fail-fast -E '$(RATELIMIT_TESTS)'

verify-idempotency: ## Webhooks exactly once: signatures, duplicates, racing deliveries, the outbox, sends once
	$(CARGO) nextest run --workspace --no-fail-fast -E '$(IDEMPOTENCY_TESTS)'

verify-obs: ## Observability: JSON logs, PII redaction, request ids, traces, metrics, problem bodies
	$(CARGO) nextest run --workspace --no-fail-fast -E '$(OBS_TESTS)'

verify: lint verify-secrets verify-openapi test smoke-local ## Everything a reviewer runs: lints, secret scan, OpenAPI document checks, tests (including the OpenAPI freshness test), smoke tests against a fresh server

smoke: ## Smoke-test a running server from outside (BASE, ORIGIN_OK, ORIGIN_BAD, TOKEN_A, TOKEN_B, TOKEN_C; see the script)
	scripts/smoke.sh

smoke-obs: ## Observability smoke test of a running server (BASE, TOKEN_A): metrics, request ids, problems
	scripts/smoke-obs.sh

smoke-local: ## Start a fresh server on the embedded default, mint tokens, run both smoke scripts, stop it
	scripts/smoke-local.sh

# The container image. Engine: DOCKER if set, else docker when its daemon answers, else
# podman with a base image prepared on this machine (scripts/image/prepare-base.sh).
image: ## Build the container image `otto` (IMAGE=...) and print its size; with podman from the release binary (built if missing or stale; OTTO_BIN=... to give one)
	scripts/image/build.sh

smoke-image: ## Build the image if needed and run it: serve read-only on a volume with both smoke scripts, migrate up and a worker on PostgreSQL/Redis, SIGTERM drains and exits 0
	scripts/image/smoke.sh

# schemathesis, pinned, in the same private virtualenv as detect-secrets.
$(TOOLS_DIR)/venv/bin/schemathesis:
	test -x $(TOOLS_DIR)/venv/bin/pip || python3 -m venv $(TOOLS_DIR)/venv
	$(TOOLS_DIR)/venv/bin/pip install --quiet schemathesis==$(SCHEMATHESIS_VERSION)

api-fuzz: $(TOOLS_DIR)/venv/bin/schemathesis ## Fuzz the API from docs/openapi.json with schemathesis against a fresh server (admin token): no 5xx, every response as documented; bounded for CI
	$(CARGO) build -q -p otto-server --bin otto-server
	scripts/api-fuzz.sh

# deploy/: the Prometheus rules and the Grafana dashboard, checked with promtool (Debian's
# prometheus package, installed when missing). The metric names they use are checked
# against a fresh server's /metrics, or against METRICS_FILE when it is set.
verify-deploy: ## Check deploy/: Prometheus rules (promtool check, unit tests, a runbook section per alert), the Grafana dashboard, and that every metric they use is exported (builds otto-server unless METRICS_FILE is set)
	$(if $(METRICS_FILE),,$(CARGO) build -q -p otto-server --bin otto-server)
	scripts/verify-deploy.sh

# Live events in a real browser: Debian's chromium (installed when missing) driven by
# playwright-core (tools/browser, npm ci when stale) against a fresh server.
verify-browser: ## Live events in headless Chromium: a page gets tickets, opens an EventSource and a WebSocket, both receive a webhook's event (builds otto-server only when missing)
	@test -x $${CARGO_TARGET_DIR:-target}/debug/otto-server || $(CARGO) build -q -p otto-server --bin otto-server
	scripts/verify-browser.sh

# The original service's spellings.
verify\:secrets: verify-secrets
verify\:openapi: verify-openapi
verify\:tests: verify-tests
verify\:tenancy: verify-tenancy
verify\:ratelimit: verify-ratelimit
verify\:idempotency: verify-idempotency
verify\:obs: verify-obs
smoke\:obs: smoke-obs
smoke\:local: smoke-local

fuzz: ## The property-based fuzz suites at length (PROPTEST_CASES, default 5000 per property; make test runs 256)
	PROPTEST_CASES=$${PROPTEST_CASES:-5000} $(CARGO) nextest run --workspace -E 'binary(/fuzz/)' --no-fail-fast

chaos: ## Faults under load against real servers (SIGKILL, database and Redis outages, a killed worker, a duplicate storm over two servers, slow clients); figures go to docs/reliability.md
	$(CARGO) build -q -p otto-server --bin otto-server
	python3 scripts/chaos/run.py --report docs/reliability.md

bench: ## Benchmarks (release build): Otto on PostgreSQL+Redis and SQLite beside pgbench and redis-benchmark; figures go to docs/benchmarks.md
	$(CARGO) build --release -q -p otto-server --bin otto-server
	@{ \
		echo "# Benchmarks"; echo; \
		echo "Machine: $$(nproc) cores, $$(free -g | awk '/Mem:/ {print $$2}') GiB, $$(uname -sr); $$(psql --version); $$(redis-server --version | cut -d' ' -f1-3); $$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)."; \
		echo "Run: $$(date -u +%Y-%m-%dT%H:%MZ), \`make bench\`. Figures, not assertions: they vary with the machine and its load. Load generator, servers and databases share the machine's cores."; \
		echo; \
		$(CARGO) run --release -q -p otto-adapters --example rate_limit_bench; \
		echo; \
		$(CARGO) run --release -q -p otto-server --example worker_bench; \
		echo; \
		python3 scripts/bench/run.py; \
	} > docs/benchmarks.md.new && mv docs/benchmarks.md.new docs/benchmarks.md && cat docs/benchmarks.md
