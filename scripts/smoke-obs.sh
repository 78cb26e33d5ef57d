#!/usr/bin/env bash
# Observability smoke tests of a running Otto: metrics families present and counting,
# request ids and trace context on responses, problem bodies. One line per check;
# non-zero exit when any failed.
#
# BASE          the server (default http://127.0.0.1:8000)
# METRICS_BASE  its operators' listener, OTTO_METRICS_ADDR (default http://127.0.0.1:9100)
# METRICS_TOKEN OTTO_METRICS_TOKEN, when the server requires one
# TOKEN_A       a token of any user (its request must appear in the metrics)
set -uo pipefail
# shellcheck source=scripts/smoke-lib.sh
source "$(dirname "$0")/smoke-lib.sh"

: "${TOKEN_A:?set TOKEN_A}"

# count FAMILY LABEL_FRAGMENT: the sum of the family's samples whose labels contain
# the fragment, in the last /metrics body.
count() {
    python3 -c 'import re,sys
family, fragment = sys.argv[2], sys.argv[3]
total = 0.0
for line in open(sys.argv[1]):
    m = re.match(r"^(\w+)(\{[^}]*\})? ([0-9.eE+-]+)$", line.strip())
    if m and m.group(1) == family and fragment in (m.group(2) or ""):
        total += float(m.group(3))
print(int(total))' "$WORK/body" "$1" "$2"
}

scrape() {
    if [ -n "${METRICS_TOKEN:-}" ]; then
        ON="$METRICS_BASE" request GET /metrics -H "Authorization: Bearer $METRICS_TOKEN"
    else
        ON="$METRICS_BASE" request GET /metrics
    fi
}

echo "== metrics"
request GET /metrics
leaked="$(grep -c tenant_id "$WORK/body")"
DETAIL="got $STATUS"; check "the public port does not serve /metrics (they name tenants)" \
    all "'$STATUS' = 404" "'$leaked' = 0"
scrape
check "/metrics is 200 on the operators' listener" status_is 200
DETAIL="content-type '$(header Content-Type)'"; check "... in the Prometheus/OpenMetrics text format" \
    all "-n '$(header Content-Type | grep -E 'text/plain|openmetrics')'"
for family in http_requests http_request_duration_ms webhook_processed webhook_duplicates \
    webhook_failures rate_limit_hits worker_task sms_sent llm_tokens asr_minutes; do
    DETAIL="no '# TYPE $family'"; check "family $family is declared" grep -q "^# TYPE $family " "$WORK/body"
done
before="$(count http_requests_total 'route="/health"')"
for n in 1 2 3; do request GET /health; done
scrape
after="$(count http_requests_total 'route="/health"')"
DETAIL="$before -> $after"; check "http_requests_total counts requests (3 more /health)" all "$after -ge $((before + 3))"
request GET /api/v1/me -H "Authorization: Bearer $TOKEN_A"
scrape
DETAIL="none"; check "an authenticated route is counted under its route label" \
    all "$(count http_requests_total 'route="/api/v1/me"') -ge 1"
# Tenants are labels of business counters (bounded); users and record ids never are.
leak="$(grep -v '^#' "$WORK/body" | grep -E 'user_|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-' | head -n 1)"
DETAIL="$leak"; check "no user id or record id is a metric label" all "-z '$leak'"

echo "== request ids and traces"
request GET /health
DETAIL="'$(header X-Request-Id)'"; check "every response carries X-Request-Id" all "-n '$(header X-Request-Id)'"
trace="4bf92f3577b34da6a3ce929d0e0e4736"  # pragma: allowlist secret
request GET /no-such-route -H "traceparent: 00-$trace-00f067aa0ba902b7-01"
DETAIL="X-Request-Id '$(header X-Request-Id)', trace_id '$(field trace_id)'"
check "an incoming traceparent becomes the request id and the problem's trace_id" \
    all "'$(header X-Request-Id)' = '$trace'" "'$(field trace_id)' = '$trace'"

echo "== problem bodies"
request GET /api/v1/me
DETAIL="content-type '$(header Content-Type)'"; check "errors are application/problem+json" \
    all "'$(header Content-Type)' = 'application/problem+json'"
for member in type title status detail instance trace_id; do
    DETAIL="missing"; check "the problem has '$member'" all "-n '$(field "$member")'"
done

finish
