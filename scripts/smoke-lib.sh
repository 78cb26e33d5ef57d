# Shared by scripts/smoke.sh and scripts/smoke-obs.sh: one line per check, a failure
# count, and a request helper that keeps status, headers and body apart.
# shellcheck shell=bash

BASE="${BASE:-http://127.0.0.1:8000}"
BASE="${BASE%/}"
# serve's operators' listener (OTTO_METRICS_ADDR): /metrics is never on BASE.
METRICS_BASE="${METRICS_BASE:-http://127.0.0.1:9100}"
METRICS_BASE="${METRICS_BASE%/}"
FAILURES=0
CHECKS=0
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

pass() { CHECKS=$((CHECKS + 1)); printf 'PASS  %s\n' "$1"; }
fail() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); printf 'FAIL  %s%s\n' "$1" "${2:+ ($2)}"; }

# check NAME CONDITION...: pass when the command succeeds.
check() {
    local name="$1"
    shift
    if "$@"; then pass "$name"; else fail "$name" "${DETAIL:-}"; fi
    DETAIL=""
}

# request METHOD PATH [curl args...]: sets STATUS, and writes the response headers to
# $WORK/headers and the body to $WORK/body. ON=URL sends it there instead of BASE.
request() {
    local method="$1" path="$2"
    shift 2
    STATUS="$(curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method" \
        --max-time 10 "$@" "${ON:-$BASE}$path" 2>"$WORK/curl-error")" || STATUS="000"
    BODY="$(cat "$WORK/body" 2>/dev/null || true)"
}

# header NAME: the value of a response header of the last request ("" when absent).
header() {
    grep -i "^$1:" "$WORK/headers" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

# field NAME: a top-level string or number of the last JSON body (python3, no jq needed).
field() {
    python3 -c 'import json,sys
try:
    value = json.load(open(sys.argv[1])).get(sys.argv[2])
except Exception:
    value = None
print("" if value is None else (str(value).lower() if isinstance(value, bool) else value))' "$WORK/body" "$1"
}

# all 'COND' ...: every `test` expression holds (each given as one string).
all() {
    local condition
    for condition in "$@"; do
        eval "[ $condition ]" || return 1
    done
}

status_is() { DETAIL="got $STATUS: ${BODY:0:200}"; [ "$STATUS" = "$1" ]; }

finish() {
    printf '\n%d checks, %d failed\n' "$CHECKS" "$FAILURES"
    [ "$FAILURES" -eq 0 ]
}
