#!/usr/bin/env bash
# Smoke tests of a running Otto from outside, with curl: health, CORS, tenancy, rate
# limits, webhook idempotency and request ids. One line per check; every check runs;
# the exit status is non-zero when any failed.
#
# BASE        the server, e.g. https://otto.example.com (default http://127.0.0.1:8000)
# ORIGIN_OK   an origin in ALLOWED_ORIGINS;  ORIGIN_BAD  one that is not
# TOKEN_A, TOKEN_B  tokens of two users of one tenant; TOKEN_C  a user of another tenant
# CALLRAIL_WEBHOOK_SECRET  sign the webhook check (when the server verifies signatures)
# The rate-limit checks expect the server started with RATE_LIMIT_USER=5/minute and
# RATE_LIMIT_TENANT=10/minute and fresh buckets for TOKEN_A and TOKEN_B; they run first.
set -uo pipefail
# shellcheck source=scripts/smoke-lib.sh
source "$(dirname "$0")/smoke-lib.sh"

: "${ORIGIN_OK:?set ORIGIN_OK}" "${ORIGIN_BAD:?set ORIGIN_BAD}"
: "${TOKEN_A:?set TOKEN_A}" "${TOKEN_B:?set TOKEN_B}"
TOKEN_C="${TOKEN_C:-}"
auth() { printf 'Authorization: Bearer %s' "$1"; }

echo "== rate limits (user 5/minute, tenant 10/minute)"
passed=0
for n in 1 2 3 4 5; do
    request GET /api/v1/me -H "$(auth "$TOKEN_A")"
    [ "$STATUS" = 200 ] && passed=$((passed + 1))
done
DETAIL="$passed of 5 passed"; check "user A: five requests pass" [ "$passed" = 5 ]
request GET /api/v1/me -H "$(auth "$TOKEN_A")"
retry_after="$(header Retry-After)"
check "user A: the sixth is 429" status_is 429
DETAIL="Retry-After: '$retry_after'"; check "the 429 carries Retry-After" [ -n "$retry_after" ]
DETAIL="limit_type=$(field limit_type)"; check "the 429 names the user limit" [ "$(field limit_type)" = user ]
tenant_passed=0
tenant_limited=0
for n in 1 2 3 4 5 6; do
    request GET /api/v1/me -H "$(auth "$TOKEN_B")"
    case "$STATUS" in 200) tenant_passed=$((tenant_passed + 1)) ;; 429) tenant_limited=$((tenant_limited + 1)) ;; esac
done
DETAIL="A 5 + B $tenant_passed passed, $tenant_limited limited"
check "tenant: past 10 requests in total, user B gets 429s" all "$((5 + tenant_passed)) -le 10" "$tenant_limited -ge 1"
exempt_ok=1
for n in $(seq 1 30); do
    request GET /health
    [ "$STATUS" = 429 ] && exempt_ok=0
done
check "exempt routes never 429 (30 x /health)" [ "$exempt_ok" = 1 ]

echo "== health"
request GET /health
check "/health is 200" status_is 200
DETAIL="status=$(field status)"; check "/health says healthy" [ "$(field status)" = healthy ]
request GET /ready
check "/ready is 200" status_is 200
DETAIL="ready=$(field ready)"; check "/ready reports ready" [ "$(field ready)" = true ]

echo "== CORS"
request GET /health -H "Origin: $ORIGIN_OK"
DETAIL="Access-Control-Allow-Origin: '$(header Access-Control-Allow-Origin)'"
check "an allowed origin is echoed" [ "$(header Access-Control-Allow-Origin)" = "$ORIGIN_OK" ]
request GET /health -H "Origin: $ORIGIN_BAD"
check "a disallowed origin is a 403" status_is 403
request OPTIONS /api/v1/me -H "Origin: $ORIGIN_OK" -H "Access-Control-Request-Method: GET" \
    -H "Access-Control-Request-Headers: authorization"
DETAIL="status $STATUS, allow-methods '$(header Access-Control-Allow-Methods)'"
check "a preflight from an allowed origin is answered" \
    all "${STATUS:0:1} = 2" "-n '$(header Access-Control-Allow-Methods)'"
request OPTIONS /api/v1/me -H "Origin: $ORIGIN_BAD" -H "Access-Control-Request-Method: GET"
check "a preflight from a disallowed origin is a 403" status_is 403

echo "== tenancy"
request GET /api/v1/me
check "no token is a 403" status_is 403
DETAIL="type=$(field type)"; check "... of type missing_token" [ "$(field type)" = /problems/missing_token ]
request GET /api/v1/me -H "$(auth not-a-token)"
check "a bad token is a 403" status_is 403
if [ -n "$TOKEN_C" ]; then
    request GET /api/v1/me -H "$(auth "$TOKEN_C")"
    check "a good token is served" status_is 200
    tenant_c="$(field tenant_id)"
    request POST /api/v1/messages -H "$(auth "$TOKEN_C")" -H "Content-Type: application/json" \
        -d '{"to":"+15550100000","body":"smoke test"}'
    check "tenant C queues a message (202)" status_is 202
    job="$(field job_id)"
    request GET "/api/v1/jobs/$job" -H "$(auth "$TOKEN_C")"
    check "tenant C reads its job" status_is 200
    # User A's bucket refills after Retry-After; then A may ask, and must not find it.
    sleep "${retry_after:-12}"
    request GET "/api/v1/jobs/$job" -H "$(auth "$TOKEN_A")"
    check "another tenant's id is a 404 (tenant $tenant_c's job, asked by A)" status_is 404
else
    echo "SKIP  good token and cross-tenant checks: set TOKEN_C (a user of another tenant)"
fi

echo "== webhook idempotency"
call_id="smoke-$(date +%s)-$$"
payload="{\"call_id\":\"$call_id\"}"
signature=()
if [ -n "${CALLRAIL_WEBHOOK_SECRET:-}" ]; then
    signature=(-H "Signature: $(printf '%s' "$payload" | openssl dgst -sha1 -hmac "$CALLRAIL_WEBHOOK_SECRET" -binary | base64)")
fi
request POST /webhook/callrail/pre-call -H "Content-Type: application/json" "${signature[@]}" -d "$payload"
DETAIL="status $STATUS, $(field status)"; check "a delivery is processed" [ "$STATUS $(field status)" = "200 processed" ]
request POST /webhook/callrail/pre-call -H "Content-Type: application/json" "${signature[@]}" -d "$payload"
DETAIL="status $STATUS, $(field status)"; check "the same delivery again is duplicate_ignored" [ "$STATUS $(field status)" = "200 duplicate_ignored" ]

echo "== request ids"
request GET /health
DETAIL="X-Request-Id '$(header X-Request-Id)'"; check "a success carries X-Request-Id" [ -n "$(header X-Request-Id)" ]
request GET /no-such-route
DETAIL="header '$(header X-Request-Id)', body '$(field trace_id)'"
check "a problem's trace_id is its X-Request-Id" all "-n '$(field trace_id)'" "'$(header X-Request-Id)' = '$(field trace_id)'"
request GET /health -H "X-Request-Id: smoke-request-1"
DETAIL="got '$(header X-Request-Id)'"; check "a client's X-Request-Id is kept" [ "$(header X-Request-Id)" = smoke-request-1 ]

finish
