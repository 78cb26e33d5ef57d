#!/usr/bin/env bash
# `make smoke-image`: builds Otto's image (scripts/image/build.sh) and runs it the way
# an operator would, then leaves nothing running or behind:
#   1. `serve` on the embedded default: read-only root filesystem, its data on a named
#      volume, as the image's non-root user, ports published to 127.0.0.1 only; the
#      image's HEALTHCHECK; scripts/smoke.sh and scripts/smoke-obs.sh against it, with
#      tokens minted inside the container (`otto-server token issue`);
#   2. `migrate up` and a `worker` against the host's PostgreSQL and Redis (a database
#      of its own, otto_image_smoke, dropped before and after; the schema owner
#      migrates and the worker connects as the runtime login that `migrate up`
#      creates, as docs/operations.md "Database roles" says); the worker's /health,
#      /metrics and HEALTHCHECK;
#   3. SIGTERM to both: the worker stops and exits 0; serve drains (/ready 503) and
#      exits 0.
# Any failure stops the run with the containers' logs. The image's size is printed.
#
# OTTO_BIN            use this release binary instead of (re)building target/release
# DOCKER              the engine, as for `make image` (docker, podman)
# OTTO_IMAGE_SMOKE_POSTGRES_URL  a URL of the server to create the database on
#                     (default OTTO_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/test)
# OTTO_IMAGE_SMOKE_REDIS_URL     default OTTO_TEST_REDIS_URL, else redis://127.0.0.1:6379
set -uo pipefail
# shellcheck source=scripts/image/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

STARTED=$SECONDS
RUN="otto-image-smoke-$$"
SERVE="$RUN-serve"
WORKER="$RUN-worker"
VOLUME="$RUN-data"
NETWORK="$RUN-net"
DB=otto_image_smoke
DB_LOGIN=otto_image_smoke_web
LOGS="$(mktemp -d)"
PG_URL="${OTTO_IMAGE_SMOKE_POSTGRES_URL:-${OTTO_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
REDIS="${OTTO_IMAGE_SMOKE_REDIS_URL:-${OTTO_TEST_REDIS_URL:-redis://127.0.0.1:6379}}"
CREATED_DB=0

elapsed() { printf '%d s' "$((SECONDS - STARTED))"; }
ok() { printf 'PASS  %s\n' "$1"; }

show_logs() {
    local name
    for name in "$SERVE" "$WORKER"; do
        if "$ENGINE" inspect "$name" >/dev/null 2>&1; then
            printf '\n----- logs of %s (last 50 lines) -----\n' "$name" >&2
            "$ENGINE" logs --tail 50 "$name" >&2 2>&1
        fi
    done
    for name in "$LOGS"/*.log; do
        [ -e "$name" ] || continue
        printf '\n----- %s -----\n' "$(basename "$name")" >&2
        tail -n 80 "$name" >&2
    done
}
# fail WHAT: the step that failed, then every container's logs; exits 1 (the trap cleans up).
fail() {
    printf 'FAIL  %s\n' "$1" >&2
    show_logs
    printf '\nsmoke-image FAILED after %s: %s\n' "$(elapsed)" "$1" >&2
    exit 1
}
# expect WHAT COMMAND...: PASS when the command succeeds, else fail.
expect() {
    local what="$1"
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

psql_admin() { psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    "$ENGINE" rm -f "$SERVE" "$WORKER" >/dev/null 2>&1
    "$ENGINE" volume rm -f "$VOLUME" >/dev/null 2>&1
    "$ENGINE" network rm "$NETWORK" >/dev/null 2>&1
    if [ "$CREATED_DB" = 1 ]; then
        psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $DB_LOGIN" \
            >/dev/null 2>&1 || say "could not drop database $DB or role $DB_LOGIN"
    fi
    [ "$ENGINE_KIND" = podman ] && host_network_restore
    rm -rf "$LOGS"
    exit "$status"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL CONTAINER [SECONDS]: until URL answers 2xx; fails when the container exits.
wait_http() {
    local url="$1" name="$2" deadline=$((SECONDS + ${3:-30}))
    until curl -sf -o /dev/null --max-time 2 "$url"; do
        [ "$("$ENGINE" inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] \
            || fail "$name exited before $url answered"
        [ "$SECONDS" -lt "$deadline" ] || fail "$url did not answer within ${3:-30} s"
        sleep 0.2
    done
}
# healthy CONTAINER: the image's HEALTHCHECK passes inside it.
healthy() {
    local name="$1" deadline=$((SECONDS + 30)) status
    if [ "$ENGINE_KIND" = podman ]; then
        "$ENGINE" healthcheck run "$name" >/dev/null
        return
    fi
    until status="$("$ENGINE" inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null)" && [ "$status" = healthy ]; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}
# exit_code CONTAINER [SECONDS]: waits for it to exit and prints its exit code.
exit_code() {
    timeout "${2:-60}" "$ENGINE" wait "$1" >/dev/null 2>&1
    "$ENGINE" inspect -f '{{.State.ExitCode}}' "$1" 2>/dev/null
}

choose_engine
trap cleanup EXIT
trap 'exit 130' INT TERM

# The image (builds what changed; the layers are cached).
say "building the image"
"$ROOT/scripts/image/build.sh" || fail "make image"
SIZE="$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE")"
SIZE_MB="$(awk -v b="$SIZE" 'BEGIN { printf "%.1f MB", b / 1e6 }')"
BUILT_AT=$(elapsed)

# Engine-specific flags: podman adds tmpfs mounts to a read-only container unless told
# not to (a strict read-only root proves nothing else is written) and schedules
# HEALTHCHECKs through systemd, which CI lacks (`podman healthcheck run` runs them);
# docker runs them itself, here every 2 s instead of the image's 15.
# (It still logs that systemd is missing, hence stderr to a file.) One-off containers
# run no health check at all.
if [ "$ENGINE_KIND" = podman ]; then
    host_network_snapshot
    RUN_FLAGS=(--read-only --read-only-tmpfs=false)
    HEALTH_FLAGS=(--health-interval=disable)
else
    RUN_FLAGS=(--read-only)
    HEALTH_FLAGS=(--health-interval=2s)
fi
ONE_OFF=(--rm --no-healthcheck "${RUN_FLAGS[@]}")

echo
echo "== image $IMAGE ($SIZE_MB)"
# shellcheck disable=SC2016 # expanded inside the container
leftovers="$("$ENGINE" run "${ONE_OFF[@]}" --network none --entrypoint sh "$IMAGE" -c \
    'for tool in cc gcc c++ rustc cargo make; do command -v "$tool"; done
     find /var/lib/apt/lists /var/cache/apt -mindepth 1' 2>&1)"
expect "no compiler, no package lists or caches in the image${leftovers:+: found $leftovers}" \
    test -z "$leftovers"
VERSION="$("$ENGINE" run "${ONE_OFF[@]}" --network none "$IMAGE" --version 2>&1)" \
    || fail "otto-server --version in the image: $VERSION"
ok "the binary runs in the image ($VERSION)"

echo
echo "== serve on the embedded default (read-only root, data on volume $VOLUME)"
PORT=$(free_port)
METRICS_PORT=$(free_port)
METRICS_TOKEN="smoke-metrics-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$ENGINE" network create "$NETWORK" >/dev/null || fail "$ENGINE network create"
"$ENGINE" volume create "$VOLUME" >/dev/null || fail "$ENGINE volume create"
"$ENGINE" run -d --name "$SERVE" "${RUN_FLAGS[@]}" "${HEALTH_FLAGS[@]}" --network "$NETWORK" \
    -v "$VOLUME:/app/data" -p "127.0.0.1:$PORT:8000" -p "127.0.0.1:$METRICS_PORT:9100" \
    -e RATE_LIMIT_USER=5/minute -e RATE_LIMIT_TENANT=10/minute \
    -e ALLOWED_ORIGINS=http://localhost:3000 -e OTEL_TRACES_EXPORTER=none \
    -e OTTO_METRICS_ADDR=0.0.0.0:9100 -e OTTO_METRICS_TOKEN="$METRICS_TOKEN" \
    -e OTTO_SHUTDOWN_DRAIN_SECONDS=2 \
    "$IMAGE" >"$LOGS/run-serve.log" 2>&1 || fail "$ENGINE run serve"
wait_http "http://127.0.0.1:$PORT/ready" "$SERVE"
ok "serve is ready on 127.0.0.1:$PORT (published port 8000) after $(elapsed)"
expect "it runs as the image's user otto (uid 10001)" \
    test "$("$ENGINE" exec "$SERVE" id -u)" = 10001
expect "its root filesystem is read-only" \
    "$ENGINE" exec "$SERVE" sh -c '! touch /app/probe 2>/dev/null && ! touch /tmp/probe 2>/dev/null'
expect "its SQLite database and token key are on the volume" \
    "$ENGINE" exec "$SERVE" test -s /app/data/otto.db -a -s /app/data/api-token.key
expect "the image's HEALTHCHECK passes" healthy "$SERVE"

token() { "$ENGINE" exec "$SERVE" otto-server token issue --tenant "$1" --user "$2" --role "$3"; }
TOKEN_A="$(token org_smoke user_smoke_a org:admin)" || fail "token issue in the container"
TOKEN_B="$(token org_smoke user_smoke_b org:member)" || fail "token issue in the container"
TOKEN_C="$(token org_other user_smoke_c org:admin)" || fail "token issue in the container"
export BASE="http://127.0.0.1:$PORT" METRICS_BASE="http://127.0.0.1:$METRICS_PORT" METRICS_TOKEN \
    ORIGIN_OK=http://localhost:3000 ORIGIN_BAD=https://evil.example TOKEN_A TOKEN_B TOKEN_C
echo
echo "### scripts/smoke.sh"
scripts/smoke.sh || SMOKE_FAILED="scripts/smoke.sh"
echo
echo "### scripts/smoke-obs.sh"
# A's bucket is spent by the rate-limit checks: C is any user of another tenant.
TOKEN_A="$TOKEN_C" scripts/smoke-obs.sh || SMOKE_FAILED="${SMOKE_FAILED:+$SMOKE_FAILED and }scripts/smoke-obs.sh"
[ -z "${SMOKE_FAILED:-}" ] || fail "$SMOKE_FAILED against the container"

echo
echo "== migrate up and a worker on PostgreSQL and Redis (database $DB)"
psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $DB_LOGIN" \
    -c "CREATE DATABASE $DB" >"$LOGS/psql.log" 2>&1 || fail "creating database $DB on $PG_URL"
CREATED_DB=1
SERVER="${PG_URL%/*}"
OWNER_URL="$SERVER/$DB"
LOGIN_PASSWORD="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
HOST_PORT="${SERVER#*://}"
HOST_PORT="${HOST_PORT#*@}"
RUNTIME_URL="postgres://$DB_LOGIN:$LOGIN_PASSWORD@$HOST_PORT/$DB"
SCOPE_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DB_ENV=(-e "DATABASE_URL=$RUNTIME_URL" -e "OTTO_DATABASE_SCOPE_KEY=$SCOPE_KEY" -e OTEL_TRACES_EXPORTER=none)
"$ENGINE" run "${ONE_OFF[@]}" --network host "${DB_ENV[@]}" \
    -e "OTTO_MIGRATION_DATABASE_URL=$OWNER_URL" "$IMAGE" migrate up >"$LOGS/migrate-up.log" 2>&1 \
    || fail "migrate up (as the schema owner; creates the runtime login $DB_LOGIN)"
ok "migrate up as the schema owner"
"$ENGINE" run "${ONE_OFF[@]}" --network host "${DB_ENV[@]}" \
    -e "OTTO_MIGRATION_DATABASE_URL=$OWNER_URL" "$IMAGE" migrate status >"$LOGS/migrate-status.log" 2>&1 \
    || fail "migrate status"
expect "migrate status: every migration applied" \
    sh -c "grep -q '^applied' '$LOGS/migrate-status.log' && ! grep -q '^pending' '$LOGS/migrate-status.log'"

WORKER_PORT=$(free_port)
# On the host's network the image's PORT (8000) may be someone else's server: point it
# at a free port, so that the HEALTHCHECK passes only through OTTO_WORKER_PORT.
UNUSED_PORT=$(free_port)
"$ENGINE" run -d --name "$WORKER" "${RUN_FLAGS[@]}" "${HEALTH_FLAGS[@]}" --network host "${DB_ENV[@]}" \
    -e HOST=127.0.0.1 -e PORT="$UNUSED_PORT" -e OTTO_WORKER_PORT="$WORKER_PORT" \
    -e REDIS_URL="$REDIS" -e OTTO_MIGRATE_ON_START=false \
    -e OTTO_METRICS_TOKEN="$METRICS_TOKEN" "$IMAGE" worker >"$LOGS/run-worker.log" 2>&1 || fail "$ENGINE run worker"
wait_http "http://127.0.0.1:$WORKER_PORT/health" "$WORKER"
ok "the worker answers /health on 127.0.0.1:$WORKER_PORT"
expect "the image's HEALTHCHECK passes for the worker (OTTO_WORKER_PORT)" healthy "$WORKER"
expect "the worker's /metrics wants the token" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WORKER_PORT/metrics")" != 200
expect "the worker's /metrics answers with it" \
    curl -sf -o /dev/null -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$WORKER_PORT/metrics"
expect "the worker is connected as the runtime login $DB_LOGIN" \
    test "$(psql_admin -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND usename = '$DB_LOGIN'")" -ge 1

echo
echo "== SIGTERM"
"$ENGINE" kill --signal TERM "$WORKER" >/dev/null || fail "$ENGINE kill --signal TERM worker"
code="$(exit_code "$WORKER")"
expect "the worker exited 0 (got '$code')" test "$code" = 0
expect "... after stopping its pool ('worker stopped')" \
    sh -c "'$ENGINE' logs '$WORKER' 2>&1 | grep -q 'worker stopped'"
"$ENGINE" kill --signal TERM "$SERVE" >/dev/null || fail "$ENGINE kill --signal TERM serve"
drained=0
for _ in $(seq 1 30); do
    body="$(curl -s --max-time 1 "http://127.0.0.1:$PORT/ready")"
    if grep -Eq '"draining": ?true' <<<"$body"; then drained=1; break; fi
    sleep 0.1
done
expect "serve drains: /ready answers 503 with \"draining\": true" test "$drained" = 1
code="$(exit_code "$SERVE")"
expect "serve exited 0 (got '$code')" test "$code" = 0
expect "... after draining and stopping ('otto-server stopped')" \
    sh -c "'$ENGINE' logs '$SERVE' 2>&1 | grep -q 'draining' && '$ENGINE' logs '$SERVE' 2>&1 | grep -q 'otto-server stopped'"

echo
printf 'smoke-image passed in %s (image built in %s): %s is %s\n' "$(elapsed)" "$BUILT_AT" "$IMAGE" "$SIZE_MB"
