#!/usr/bin/env bash
# Checks the operators' files under deploy/: the Prometheus rules (promtool check rules,
# promtool test rules, a severity and a runbook section of docs/operations.md for every
# alert), the Grafana dashboard (its JSON, and every PromQL expression in it parses), and
# that every metric the rules and the dashboard name is one Otto exports.
# One line per passing step; on failure the tool's output and a non-zero exit.
#
# METRICS_FILE  Otto's /metrics text to take the exported names from. Unset: start
#               OTTO_BIN on a fresh embedded default (temporary directory, free loopback
#               ports), scrape OTTO_METRICS_ADDR and stop it.
# OTTO_BIN      the otto-server binary (default ${CARGO_TARGET_DIR:-target}/debug/otto-server);
#               this script does not build it (`make verify-deploy` does).
# RULES, RULES_TEST, DASHBOARD, RUNBOOK  the files checked (defaults below).
#
# promtool comes from Debian's `prometheus` package, installed when missing (apt-get,
# through sudo unless root).
set -euo pipefail
cd "$(dirname "$0")/.."

RULES="${RULES:-deploy/prometheus/otto-rules.yml}"
RULES_TEST="${RULES_TEST:-deploy/prometheus/otto-rules.test.yml}"
DASHBOARD="${DASHBOARD:-deploy/grafana/otto.json}"
RUNBOOK="${RUNBOOK:-docs/operations.md}"

WORK="$(mktemp -d)"
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then
        kill -TERM "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "verify-deploy: $*" >&2
    exit 1
}

# step DESCRIPTION-ON-FAILURE COMMAND...: runs the command; its output is printed only
# when it fails. On success the caller prints its one line.
step() {
    local what="$1"
    shift
    if ! OUT="$("$@" 2>&1)"; then
        echo "$OUT" >&2
        fail "$what FAILED"
    fi
}

# --- tools -------------------------------------------------------------------------
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool: not found; installing Debian's prometheus package, which ships it"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
    install_prometheus() {
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
    }
    if ! OUT="$(install_prometheus 2>&1)"; then
        OUT="$("${SUDO[@]}" apt-get update -q 2>&1 && install_prometheus 2>&1)" || {
            echo "$OUT" >&2
            fail "apt-get install prometheus FAILED"
        }
    fi
    command -v promtool >/dev/null 2>&1 || fail "the prometheus package installed no promtool"
fi
echo "promtool: $(promtool --version 2>&1 | head -n 1)"

# Python with PyYAML: python3 when it has it, else a private virtualenv under .tools/
# (as the Makefile keeps detect-secrets and schemathesis).
PY=python3
if ! python3 -c 'import yaml' 2>/dev/null; then
    PY=.tools/venv/bin/python
    if ! "$PY" -c 'import yaml' 2>/dev/null; then
        step "installing PyYAML into .tools/venv" \
            bash -c 'test -x .tools/venv/bin/pip || python3 -m venv .tools/venv; .tools/venv/bin/pip install --quiet "PyYAML==6.0.2"'
    fi
fi

# The checks that need a parser live in one Python program, one subcommand per step.
cat >"$WORK/check.py" <<'PYTHON'
import json
import re
import sys

import yaml

# --- PromQL: the metric names an expression selects ----------------------------------
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
    # aggregation operators (normally followed by "(" or a by/without clause)
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}
STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
IDENT = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)")


def metric_names(expr):
    names = set()
    # {__name__="x"} / {__name__=~"x|y"}: plain names (or alternations of them) count.
    for value in re.findall(r'__name__\s*=~?\s*"([^"]*)"', expr):
        for part in value.split("|"):
            if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", part):
                names.add(part)
    s = re.sub(STRING, " ", expr)
    s = re.sub(r"#[^\n]*", " ", s)                       # comments
    s = re.sub(r"\{[^{}]*\}", " ", s)                    # label matchers
    s = re.sub(r"\[[^\[\]]*\]", " ", s)                  # ranges and subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?\w+", " ", s)              # offset 1h
    s = re.sub(r"@\s*[-+]?[\d.]+(e[-+]?\d+)?", " ", s)   # @ 1700000000
    for m in IDENT.finditer(s):
        name = m.group(1)
        if re.match(r"\s*\(", s[m.end():]):              # a function or an aggregation
            continue
        if name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


# --- Grafana -> PromQL ---------------------------------------------------------------
GRAFANA_GLOBALS = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
    "__range_ms": "3600000", "__interval_ms": "60000", "__rate_interval_ms": "300000",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute(expr, variables, where, errors):
    def one(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_GLOBALS:
            return GRAFANA_GLOBALS[name]
        if name not in variables:
            errors.append(f"{where}: ${name} is neither a Grafana variable nor one of the dashboard's")
            return ".+"
        return "5m" if variables[name] == "interval" else ".+"
    return VARIABLE.sub(one, expr)


def split_last_argument(inner):
    """label_values(EXPR, label): EXPR, or None for label_values(label)."""
    depth, quote = 0, None
    last = None
    for i, c in enumerate(inner):
        if quote:
            if c == "\\":
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == "," and depth == 0:
            last = i
    return inner[:last].strip() if last is not None else None


def variable_query_expr(query):
    """The PromQL of a Prometheus template variable query, or None if it has none."""
    q = query.get("query", "") if isinstance(query, dict) else (query or "")
    q = q.strip()
    m = re.fullmatch(r"label_values\((.*)\)", q, re.S)
    if m:
        return split_last_argument(m.group(1))
    m = re.fullmatch(r"query_result\((.*)\)", q, re.S)
    if m:
        return m.group(1)
    if re.fullmatch(r"(label_names|metrics)\(.*\)", q, re.S) or not q:
        return None
    return q


def dashboard_panels(panels):
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []) or [])


def dashboard_exprs(dash, errors):
    """[(where, record name, PromQL with Grafana variables replaced)]."""
    variables = {}
    for var in dash.get("templating", {}).get("list", []):
        variables[var.get("name")] = var.get("type")
    out = []
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        expr = variable_query_expr(var.get("query"))
        where = f"variable ${var.get('name')}"
        if expr:
            out.append((where, f"dashboard:variable_{var.get('name')}",
                        substitute(expr, variables, where, errors)))
    for panel in dashboard_panels(dash.get("panels", [])):
        for target in panel.get("targets", []) or []:
            where = f"panel {panel.get('id')} '{panel.get('title')}' target {target.get('refId')}"
            if isinstance(target.get("expr"), str) and target["expr"].strip():
                record = f"dashboard:panel_{panel.get('id')}_{target.get('refId')}"
                out.append((where, record, substitute(target["expr"], variables, where, errors)))
    return out


def check_dashboard(path, rules_out):
    errors = []
    try:
        dash = json.load(open(path))
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: not JSON: {e}")
    if not isinstance(dash, dict):
        sys.exit(f"{path}: not a JSON object")
    if not isinstance(dash.get("title"), str) or not dash["title"].strip():
        errors.append("no title")
    if not isinstance(dash.get("schemaVersion"), int):
        errors.append("no integer schemaVersion")
    if not isinstance(dash.get("panels"), list) or not dash["panels"]:
        errors.append("no panels")
        dash["panels"] = []
    variables = dash.get("templating", {}).get("list", [])
    if not any(v.get("name") == "datasource" and v.get("type") == "datasource"
               and v.get("query") == "prometheus" for v in variables):
        errors.append("no `datasource` template variable of type datasource (prometheus)")
    ids, boxes = {}, []
    panels = list(dashboard_panels(dash["panels"]))
    for panel in panels:
        name = f"panel {panel.get('id')} '{panel.get('title')}'"
        pid = panel.get("id")
        if not isinstance(pid, int):
            errors.append(f"{name}: no integer id")
        elif pid in ids:
            errors.append(f"{name}: id {pid} is also panel '{ids[pid]}'")
        else:
            ids[pid] = panel.get("title")
        if not panel.get("title"):
            errors.append(f"{name}: no title")
        pos = panel.get("gridPos") or {}
        if not all(isinstance(pos.get(k), int) for k in "hwxy"):
            errors.append(f"{name}: gridPos needs integer h, w, x, y")
        elif pos["w"] <= 0 or pos["h"] <= 0 or pos["x"] < 0 or pos["y"] < 0 or pos["x"] + pos["w"] > 24:
            errors.append(f"{name}: gridPos {pos} is outside the 24-column grid")
        else:
            for other, opos in boxes:
                if (pos["x"] < opos["x"] + opos["w"] and opos["x"] < pos["x"] + pos["w"]
                        and pos["y"] < opos["y"] + opos["h"] and opos["y"] < pos["y"] + pos["h"]):
                    errors.append(f"{name}: gridPos overlaps {other}")
            boxes.append((name, pos))
        if panel.get("type") == "row":
            continue
        ds = panel.get("datasource") or {}
        if ds.get("uid") != "${datasource}":
            errors.append(f"{name}: its datasource is not ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            errors.append(f"{name}: no targets")
        refs = set()
        for target in targets:
            ref = target.get("refId")
            if not ref or ref in refs:
                errors.append(f"{name}: a target without a unique refId")
            refs.add(ref)
            if not isinstance(target.get("expr"), str) or not target["expr"].strip():
                errors.append(f"{name} target {ref}: no expr")
            tds = target.get("datasource")
            if tds is not None and tds.get("uid") != "${datasource}":
                errors.append(f"{name} target {ref}: its datasource is not ${{datasource}}")
    exprs = dashboard_exprs(dash, errors)
    if errors:
        sys.exit("\n".join(f"{path}: {e}" for e in errors))
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": r, "expr": e} for _, r, e in exprs]}]}
    with open(rules_out, "w") as f:
        f.write("# Every PromQL expression of the dashboard, its variables replaced\n")
        for where, record, _ in exprs:
            f.write(f"# {record}: {where}\n")
        yaml.safe_dump(rules, f, sort_keys=False, width=1000)
    print(f"dashboard: {path} is a dashboard (schemaVersion {dash['schemaVersion']}, "
          f"{len(panels)} panels with unique ids and gridPos, every target has an expr)")


# --- Rules ---------------------------------------------------------------------------
def load_rules(path):
    return [rule for group in yaml.safe_load(open(path))["groups"] for rule in group["rules"]]


def github_anchors(markdown_path):
    anchors, seen, fenced = set(), {}, False
    for line in open(markdown_path):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def check_conventions(rules_path, tests_path, runbook_path):
    errors = []
    anchors = github_anchors(runbook_path)
    tests = yaml.safe_load(open(tests_path))
    cases = {}
    for group in tests.get("tests", []):
        for case in group.get("alert_rule_test", []) or []:
            cases.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    alerts = [r for r in load_rules(rules_path) if "alert" in r]
    for rule in alerts:
        name = rule["alert"]
        severity = (rule.get("labels") or {}).get("severity")
        if severity not in ("critical", "warning"):
            errors.append(f"{name}: severity is {severity!r}, not critical or warning")
        url = (rule.get("annotations") or {}).get("runbook_url", "")
        if not url:
            errors.append(f"{name}: no runbook_url annotation")
        else:
            doc, _, anchor = url.partition("#")
            if not doc.endswith(runbook_path.split("/")[-1]):
                errors.append(f"{name}: runbook_url {url} is not into {runbook_path}")
            if anchor not in anchors:
                errors.append(f"{name}: runbook_url anchor #{anchor} is no heading of {runbook_path}")
        if not (rule.get("annotations") or {}).get("summary"):
            errors.append(f"{name}: no summary annotation")
        if True not in cases.get(name, []) or False not in cases.get(name, []):
            errors.append(f"{name}: {tests_path} needs a case where it fires and one where it does not")
    if errors:
        sys.exit("\n".join(errors))
    print(f"rules: {len(alerts)} alerts each have a severity, a summary, a runbook_url whose anchor "
          f"is a heading of {runbook_path}, and firing and quiet test cases")


# --- Exported metric names -----------------------------------------------------------
def exported_names(exposition_path):
    known = set()
    for line in open(exposition_path):
        m = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if not m:
            continue
        name, kind = m.groups()
        if kind == "counter":
            known |= {name, name + "_total"}
        elif kind in ("histogram", "gaugehistogram"):
            known |= {name + "_bucket", name + "_sum", name + "_count"}
        elif kind == "summary":
            known |= {name, name + "_sum", name + "_count"}
        else:
            known.add(name)
    return known


def check_metrics(exposition_path, source, rules_path, dashboard_path):
    known = exported_names(exposition_path)
    if not known:
        sys.exit(f"{source}: no `# TYPE` lines: not a metrics exposition")
    rules = load_rules(rules_path)
    recorded = {r["record"] for r in rules if "record" in r}
    used = {}
    for rule in rules:
        where = f"{rules_path}: {rule.get('record') or rule.get('alert')}"
        for name in metric_names(rule["expr"]):
            used.setdefault(name, []).append(where)
    errors = []
    for where, _, expr in dashboard_exprs(json.load(open(dashboard_path)), errors):
        for name in metric_names(expr):
            used.setdefault(name, []).append(f"{dashboard_path}: {where}")
    unknown = {n: w for n, w in used.items() if n not in known and n not in recorded}
    if unknown or errors:
        for name, wheres in sorted(unknown.items()):
            errors.append(f"{name}: not exported by Otto ({source}); used by " + "; ".join(wheres))
        sys.exit("\n".join(errors))
    raw = sorted(n for n in used if n not in recorded)
    print(f"metrics: the {len(raw)} metric names (and {len(used) - len(raw)} recording rules) "
          f"used by {rules_path} and {dashboard_path} are all exported by Otto ({source})")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"dashboard": check_dashboard, "conventions": check_conventions, "metrics": check_metrics}[command](*args)
PYTHON

# --- Prometheus rules -----------------------------------------------------------------
step "promtool check rules $RULES" promtool check rules "$RULES"
echo "rules: promtool check rules passed ($RULES: $(echo "$OUT" | grep -o '[0-9]* rules found'))"
step "promtool test rules $RULES_TEST" promtool test rules "$RULES_TEST"
echo "rules: promtool test rules passed ($RULES_TEST)"
step "alert conventions" "$PY" "$WORK/check.py" conventions "$RULES" "$RULES_TEST" "$RUNBOOK"
echo "$OUT"

# --- Grafana dashboard ---------------------------------------------------------------
step "dashboard check of $DASHBOARD" "$PY" "$WORK/check.py" dashboard "$DASHBOARD" "$WORK/dashboard-rules.yml"
echo "$OUT"
if ! OUT="$(promtool check rules "$WORK/dashboard-rules.yml" 2>&1)"; then
    echo "$OUT" >&2
    echo "(the expressions, as recording rules named after their panels:)" >&2
    cat "$WORK/dashboard-rules.yml" >&2
    fail "a PromQL expression of $DASHBOARD does not parse"
fi
echo "dashboard: every PromQL expression parses (promtool check rules: $(echo "$OUT" | grep -o '[0-9]* rules found'))"

# --- Metric names against what Otto exports ------------------------------------------
if [ -n "${METRICS_FILE:-}" ]; then
    [ -r "$METRICS_FILE" ] || fail "METRICS_FILE $METRICS_FILE is not readable"
    EXPOSITION="$METRICS_FILE"
    SOURCE="METRICS_FILE $METRICS_FILE"
else
    BIN="${OTTO_BIN:-${CARGO_TARGET_DIR:-target}/debug/otto-server}"
    [[ "$BIN" = /* ]] || BIN="$PWD/$BIN"
    [ -x "$BIN" ] || fail "no otto-server binary at $BIN: build it (make verify-deploy does), or set OTTO_BIN or METRICS_FILE"
    read -r PORT METRICS_PORT < <(python3 -c 'import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
    mkdir "$WORK/otto"
    # A fresh embedded default in a directory of its own (no .env, no database or Redis
    # of the caller's environment).
    (cd "$WORK/otto" && exec env -u DATABASE_URL -u OTTO_MIGRATION_DATABASE_URL -u REDIS_URL \
        -u OTTO_METRICS_TOKEN -u OTTO_ENV -u OTEL_EXPORTER_OTLP_ENDPOINT \
        OTTO_DATA_DIR="$WORK/otto/data" HOST=127.0.0.1 PORT="$PORT" \
        OTTO_METRICS_ADDR="127.0.0.1:$METRICS_PORT" OTEL_TRACES_EXPORTER=none \
        "$BIN" serve >"$WORK/otto.log" 2>&1) &
    SERVER=$!
    EXPOSITION="$WORK/metrics.txt"
    for _ in $(seq 1 150); do
        curl -sf -o "$EXPOSITION" "http://127.0.0.1:$METRICS_PORT/metrics" && break
        kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/otto.log" >&2; SERVER=""; fail "otto-server exited at startup"; }
        sleep 0.2
    done
    [ -s "$EXPOSITION" ] || { tail -n 20 "$WORK/otto.log" >&2; fail "no /metrics from otto-server on 127.0.0.1:$METRICS_PORT"; }
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
    SOURCE="/metrics of $BIN serve"
fi
step "metric names check" "$PY" "$WORK/check.py" metrics "$EXPOSITION" "$SOURCE" "$RULES" "$DASHBOARD"
echo "$OUT"
