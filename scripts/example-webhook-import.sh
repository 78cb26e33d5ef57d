#!/usr/bin/env bash
# The webhook-import example, run as its README walks through it: sign the CallRail
# fixture, import it into a fresh SQLite database, import it again. Fails unless the
# first run processes it for the linked tenant and the second finds it a duplicate.
set -euo pipefail
cd "$(dirname "$0")/.."

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

cargo build -q -p webhook-import
tool=target/debug/webhook-import
export CALLRAIL_WEBHOOK_SECRET=walkthrough-signing-key  # pragma: allowlist secret
export DATABASE_URL="sqlite://$workdir/import.db?mode=rwc"

"$tool" sign --event callrail/call-complete otto-core/tests/fixtures/callrail_post_call.json \
    > "$workdir/deliveries.jsonl"

echo "--- first import"
first=$("$tool" import "$workdir/deliveries.jsonl" --link callrail:155920786=org_acme)
echo "$first"
echo "--- second import"
second=$("$tool" import "$workdir/deliveries.jsonl")
echo "$second"

grep -q '^line 1: processed  callrail:call-complete:766970532 (tenant org_acme)$' <<<"$first" \
    || { echo "the first import did not process the delivery for org_acme" >&2; exit 1; }
grep -q '^line 1: duplicate  callrail:call-complete:766970532 (delivery 2 of this key)$' <<<"$second" \
    || { echo "the second import did not find the delivery a duplicate" >&2; exit 1; }
echo "webhook-import example: OK"
