#!/usr/bin/env bash
# Starts a fresh Otto on its embedded default (SQLite in a temporary directory,
# in-process limits of 5 per user and 10 per tenant a minute), mints the tokens with
# `otto-server token issue`, runs scripts/smoke.sh and scripts/smoke-obs.sh against it,
# and stops it, leaving nothing running or behind. Exit status: the scripts'.
set -uo pipefail
cd "$(dirname "$0")/.."

PORT="${SMOKE_PORT:-18080}"
METRICS_PORT="${SMOKE_METRICS_PORT:-18081}"
DATA="$(mktemp -d)"
LOG="$DATA/server.log"
cargo build -q -p otto-server --bin otto-server || exit 1
BIN="${CARGO_TARGET_DIR:-target}/debug/otto-server"

export OTTO_DATA_DIR="$DATA" PORT HOST=127.0.0.1 OTTO_METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
    RATE_LIMIT_USER=5/minute RATE_LIMIT_TENANT=10/minute \
    ALLOWED_ORIGINS=http://localhost:3000 OTEL_TRACES_EXPORTER=none
"$BIN" serve >"$LOG" 2>&1 &
SERVER=$!
stop() {
    kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$DATA"
}
trap stop EXIT

for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { echo "otto-server exited:"; cat "$LOG"; exit 1; }
    sleep 0.2
done
curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null || { echo "otto-server is not ready:"; tail -20 "$LOG"; exit 1; }

token() { "$BIN" token issue --tenant "$1" --user "$2" --role "$3"; }
export BASE="http://127.0.0.1:$PORT" METRICS_BASE="http://127.0.0.1:$METRICS_PORT" ORIGIN_OK=http://localhost:3000 ORIGIN_BAD=https://evil.example
TOKEN_A="$(token org_smoke user_smoke_a org:admin)" || exit 1
TOKEN_B="$(token org_smoke user_smoke_b org:member)" || exit 1
TOKEN_C="$(token org_other user_smoke_c org:admin)" || exit 1
export TOKEN_A TOKEN_B TOKEN_C

status=0
echo "### scripts/smoke.sh"
scripts/smoke.sh || status=1
echo
echo "### scripts/smoke-obs.sh"
TOKEN_A="$TOKEN_C" scripts/smoke-obs.sh || status=1
exit "$status"
