#!/usr/bin/env bash
# Live events in a real browser: starts a fresh Otto on its embedded default (SQLite in
# a temporary directory) with ALLOWED_ORIGINS naming a loopback page origin, mints an
# admin token of tenant `dev`, and runs tools/browser/events-test.mjs: headless Chromium
# loads tools/browser/events.html, which gets two tickets with fetch and opens an
# EventSource and a WebSocket; the driver posts an unsigned CallRail pre-call webhook
# (accepted in development, in tenant `dev`) and checks that both transports receive
# its `call.created` event. Then it stops the server and removes its data.
#
# Installs what it uses: Debian's chromium (apt-get, when /usr/bin/chromium is missing)
# and tools/browser's pinned playwright-core (npm ci, when node_modules is missing or
# older than package.json/package-lock.json). Never downloads a browser of Playwright's.
# Needs the debug binary (make verify-browser builds it when missing; OTTO_BIN=... to
# give another). Ports: free loopback ones, or BROWSER_API_PORT / BROWSER_PAGE_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
TOOLS=tools/browser
BIN="${OTTO_BIN:-${CARGO_TARGET_DIR:-target}/debug/otto-server}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export CHROMIUM

say() { echo "verify-browser: $*"; }
die() { echo "verify-browser: FAILED: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN is missing (make verify-browser builds it)"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed (Debian: nodejs, npm)"
command -v curl >/dev/null || die "curl is needed"

# Debian's Chromium, never a browser build of Playwright's own.
if [ ! -x "$CHROMIUM" ]; then
    [ "$CHROMIUM" = /usr/bin/chromium ] || die "CHROMIUM=$CHROMIUM is not an executable"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing Debian's chromium (apt-get)"
    t=$SECONDS
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$CHROMIUM" ] || die "apt-get installed chromium, but $CHROMIUM is missing"
    say "installed $("$CHROMIUM" --version 2>/dev/null) in $((SECONDS - t))s"
fi

# As the Makefile does for tools/openapi: npm's own record of an install,
# node_modules/.package-lock.json, older than the manifest or the lock file (or
# missing) means npm ci.
stamp="$TOOLS/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$TOOLS/package.json" -nt "$stamp" ] || [ "$TOOLS/package-lock.json" -nt "$stamp" ]; then
    say "npm ci in $TOOLS"
    (cd "$TOOLS" && npm ci --no-audit --no-fund) || die "npm ci in $TOOLS"
    touch "$stamp"
fi

free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
API_PORT="${BROWSER_API_PORT:-$(free_port)}"
PAGE_PORT="${BROWSER_PAGE_PORT:-$(free_port)}"
while [ "$PAGE_PORT" = "$API_PORT" ]; do PAGE_PORT="$(free_port)"; done
ORIGIN="http://127.0.0.1:$PAGE_PORT"
BASE="http://127.0.0.1:$API_PORT"

DATA="$(mktemp -d)"
LOG="$DATA/server.log"
SERVER=""
stop() {
    if [ -n "$SERVER" ]; then
        kill -TERM "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap stop EXIT
server_log() { echo "--- otto-server log (last 40 lines)" >&2; tail -40 "$LOG" >&2 || true; }

# The embedded default, whatever this shell has set for other runs.
unset DATABASE_URL OTTO_MIGRATION_DATABASE_URL REDIS_URL
export OTTO_ENV=development OTTO_DATA_DIR="$DATA" HOST=127.0.0.1 PORT="$API_PORT" \
    OTTO_METRICS_ADDR=127.0.0.1:0 ALLOWED_ORIGINS="$ORIGIN" OTEL_TRACES_EXPORTER=none
"$BIN" serve >"$LOG" 2>&1 &
SERVER=$!

up=""
for _ in $(seq 1 150); do
    if curl -sf "$BASE/health" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$SERVER" 2>/dev/null || { server_log; die "otto-server exited on start"; }
    sleep 0.2
done
[ -n "$up" ] || { server_log; die "otto-server did not answer $BASE/health within 30s"; }
say "otto-server up at $BASE (ALLOWED_ORIGINS=$ORIGIN, data in $DATA)"

TOKEN="$("$BIN" token issue --tenant dev --user user_lead --role admin)" || die "otto-server token issue"

t=$SECONDS
if OTTO_BASE="$BASE" OTTO_TOKEN="$TOKEN" PAGE_PORT="$PAGE_PORT" node "$TOOLS/events-test.mjs"; then
    say "passed: Chromium received a webhook's call.created over EventSource and WebSocket (browser test $((SECONDS - t))s, $((SECONDS - started))s in all)"
else
    server_log
    die "the browser test failed (browser test $((SECONDS - t))s, $((SECONDS - started))s in all)"
fi
