#!/usr/bin/env bash
# API fuzzing from the OpenAPI document: starts a fresh Otto on its embedded default
# (SQLite in a temporary directory, rate limits out of the way), mints an admin API
# token for one tenant with `otto-server token issue`, links a CallRail company to
# that tenant, and runs schemathesis against docs/openapi.json with that token. The
# checks: no 5xx (`not_a_server_error`), every response has a documented status
# (`status_code_conformance`) and matches its documented schema
# (`response_schema_conformance`). Bounded (a fixed seed, FUZZ_MAX_EXAMPLES test cases
# per operation) so that it suits CI. Stops the server on exit, leaving nothing
# running or behind. Exit status: schemathesis's. The checks, and the few exceptions
# with their reasons, are in scripts/api-fuzz.toml.
#
# Needs the debug binary (`make api-fuzz` builds it) and schemathesis in .tools/venv
# (`make api-fuzz` installs it). FUZZ_PORT, FUZZ_MAX_EXAMPLES, FUZZ_SEED override the
# defaults; further arguments go to `schemathesis run`.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${FUZZ_PORT:-18090}"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
SEED="${FUZZ_SEED:-20261126}"
BIN="${CARGO_TARGET_DIR:-target}/debug/otto-server"
ST="${SCHEMATHESIS:-.tools/venv/bin/schemathesis}"
[ -x "$BIN" ] || { echo "api-fuzz: $BIN is missing; run \`make api-fuzz\`" >&2; exit 1; }
[ -x "$ST" ] || { echo "api-fuzz: $ST is missing; run \`make api-fuzz\`" >&2; exit 1; }

DATA="$(mktemp -d)"
LOG="$DATA/server.log"
# Rate limits high enough never to answer 429 to the fuzzer (RATE_LIMIT_ROUTES lifts
# the one operation with limits of its own, POST /api/v1/messages at 20/minute a user);
# every provider API on a closed local port, so that nothing the fuzzer triggers
# reaches the network.
export OTTO_DATA_DIR="$DATA" PORT HOST=127.0.0.1 OTTO_METRICS_ADDR=127.0.0.1:0 \
    RATE_LIMIT_USER=1000000/minute RATE_LIMIT_TENANT=1000000/minute \
    RATE_LIMIT_ROUTES="POST /api/v1/messages=user:1000000/minute,tenant:1000000/minute" \
    ALLOWED_ORIGINS=http://localhost:3000 OTEL_TRACES_EXPORTER=none \
    CALLRAIL_BASE_URL=http://127.0.0.1:9 TWILIO_API_BASE_URL=http://127.0.0.1:9 \
    BLAND_API_BASE_URL=http://127.0.0.1:9 CALLRAIL_WEBHOOK_SECRET=api-fuzz-callrail-secret

SERVER=""
stop() {
    status=$?
    if [ -n "$SERVER" ]; then
        if ! kill -0 "$SERVER" 2>/dev/null; then
            wait "$SERVER" 2>/dev/null
            echo "api-fuzz: otto-server died during the run (exit status $?)"
        fi
        kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -s "$LOG" ]; then
        echo "--- the server's log, without the access log lines ---"
        grep -v '"message":"request completed"' "$LOG" | tail -15 || true
    fi
    rm -rf "$DATA"
    exit "$status"
}
trap stop EXIT

"$BIN" serve >"$LOG" 2>&1 &
SERVER=$!

for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { echo "otto-server exited:"; cat "$LOG"; exit 1; }
    sleep 0.2
done
curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null || { echo "otto-server is not ready"; exit 1; }

TENANT=org_fuzz
# An admin of the tenant, and a platform admin too, so that /api/v1/admin is fuzzed past
# its 403.
TOKEN="$("$BIN" token issue --tenant "$TENANT" --user user_fuzz --role org:admin --platform-admin --ttl 1h)"
# A linked CallRail company, so that the CallRail routes get past "no company linked"
# and its deliveries reach the tenant.
"$BIN" tenant link --provider callrail --account COM_fuzz --tenant "$TENANT" >/dev/null

# Data for the operations on one resource, which would otherwise only ever answer 404:
# a call (from a signed CallRail delivery, which also logs a webhook delivery) and a
# job (a follow-up SMS to that call, which fails harmlessly against the closed port).
# scripts/api-fuzz.toml gives their ids to those operations.
api() { curl -sf -H "Authorization: Bearer $TOKEN" "$@"; }
json() { python3 -c "import json, sys; print($1)"; }
payload='{"resource_id":"CAL_fuzz","company_resource_id":"COM_fuzz","direction":"inbound","answered":true,"customer_phone_number":"+15551230000"}'
signature="$(printf '%s' "$payload" | openssl dgst -sha1 -hmac "$CALLRAIL_WEBHOOK_SECRET" -binary | base64)"
curl -sf -X POST "http://127.0.0.1:$PORT/webhook/callrail/call-complete" \
    -H "Content-Type: application/json" -H "Signature: $signature" -d "$payload" >/dev/null
FUZZ_CALL_ID="$(api "http://127.0.0.1:$PORT/api/v1/calls" | json 'json.load(sys.stdin)["items"][0]["id"]')"
FUZZ_DELIVERY_ID="$(api "http://127.0.0.1:$PORT/api/v1/webhooks/deliveries" | json 'json.load(sys.stdin)["items"][0]["id"]')"
FUZZ_JOB_ID="$(api -X POST "http://127.0.0.1:$PORT/api/v1/calls/$FUZZ_CALL_ID/follow-up-sms" | json 'json.load(sys.stdin)["job_id"]')"
export FUZZ_CALL_ID FUZZ_DELIVERY_ID FUZZ_JOB_ID

# Hypothesis' own files go with the data directory, not into the working tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$DATA/hypothesis"
# Left out: /webhook/... (--exclude-path-regex): deliveries need the providers'
# signatures; they are fuzzed by the webhook tests (make verify-idempotency). And
# GET /api/v1/events: a stream answered 200 never ends, so each example would only
# time out (its parameters and credentials are tested in live_events.rs, and the
# ticket route it uses is fuzzed here). No operation stops the server, so nothing
# else is left out. One worker, so that the
# order of the requests, and with it the server's state, is the same on every run.
started=$(date +%s)
set +e
"$ST" --config-file scripts/api-fuzz.toml run docs/openapi.json \
    --url "http://127.0.0.1:$PORT" \
    --header "Authorization: Bearer $TOKEN" \
    --exclude-path-regex '^/webhook/|^/api/v1/events$' \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --generation-database none \
    --workers 1 \
    --request-timeout 10 \
    --no-color \
    "$@"
status=$?
set -e
echo "api-fuzz: schemathesis exited $status after $(( $(date +%s) - started ))s (seed $SEED, $MAX_EXAMPLES examples per operation)"
exit "$status"
