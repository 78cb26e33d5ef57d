#!/usr/bin/env python3
"""Cost growth with data size (PostgreSQL + Redis); part of `make bench`.

The same HTTP scenarios against two release `otto-server serve` processes, one on a
nearly empty database ("small": one tenant, 200 calls) and one on a database seeded at
production size ("at size": scripts/bench/seed_at_size.sql with its defaults: 1,000
tenants, 1,000,000 calls, 1,000,000 idempotency keys and logged deliveries, 200,000
messages, 100,000 queued jobs), each reported as req/s and p99 side by side with the
ratio size/small. Both databases are migrated with `otto-server migrate up`, seeded,
then `VACUUM ANALYZE`d.

Scenarios (the big tenant's API token, leadership): signed unique CallRail webhooks and
one delivery repeated (outcomes checked by the load generator: a unique run that sees a
duplicate fails the whole bench), the calls list's first page, a page deep in its
cursor chain (page 200 of 50, or the last page on the small database), the missed
inbound calls of 90 days, text search by name (`q=smith`) and by number (`q=4567`), the
delivery log of one provider, one customer's message thread, the dashboard over 30 and
365 days. Every answer must be 2xx: a scenario with other answers is reported failed.

Maintenance at size: `otto-server purge` on the big database while signed webhooks
are posted to its server (duration, rows deleted, webhook p99 during it beside without
it), and the worker's lease statement (read from otto-adapters/src/store/jobs.rs) under
EXPLAIN (ANALYZE, BUFFERS) with 100,000 queued jobs beside the small database's.

Run alone:  python3 scripts/bench/at_size.py [--bin target/release/otto-server]
(prints the Markdown section on stdout, progress on stderr; --scale 0.1 seeds a tenth
of the default sizes for a quick trial; --update-docs replaces or appends the section
in docs/benchmarks.md). OTTO_BENCH_SECONDS sets each measurement's length (default 10).
The databases otto_bench_small and otto_bench_size are created and dropped.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ left in the tree
import docs_section  # noqa: E402 (this directory)
import run as bench  # noqa: E402 (scripts/bench/run.py: its helpers; importing runs nothing)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEED = os.path.join(HERE, "seed_at_size.sql")
DATABASES = {"small": "otto_bench_small", "size": "otto_bench_size"}
PORTS = {"small": 18700, "size": 18800}
# Small, yet with enough calls that every filtered page is as full as at size (the
# 90-day missed calls, `q=smith`): a short page costs less to decode and serialise,
# and a ratio against it would measure the page, not the table. With 200 calls those
# two pages held 6 and 5 rows against 50.
SMALL = {"tenants": 1, "calls": 3000, "keys": 3000, "deliveries": 3000, "messages": 600,
         "jobs": 300}
SIZE = {"tenants": 1000, "calls": 1_000_000, "keys": 1_000_000, "deliveries": 1_000_000,
        "messages": 200_000, "jobs": 100_000}  # the seed's defaults
TTL_DAYS = 90  # IDEMPOTENCY_TTL_DAYS and WEBHOOK_LOG_RETENTION_DAYS, set explicitly
DEEP_PAGES = 200
# The store keeps an hour's dashboard figures this long after it ends
# (HOURS_KEPT_AFTER in otto-adapters/src/store/dashboard.rs).
HOURS_KEPT_AFTER = datetime.timedelta(minutes=15)
PAGE = 50
LEASE_RUNS = 5
SLOWER = 0.8  # a ratio below this is flagged


def log(message):
    print(f"at-size: {message}", file=sys.stderr, flush=True)


def fail(message):
    sys.exit(f"at-size: FAILED: {message}")


def psql_file(database, path, options=""):
    env = dict(os.environ, PGOPTIONS=options)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", bench.pg_url(database),
                    "-f", path], env=env, check=True, stdout=subprocess.DEVNULL)


def psql_input(database, text):
    return subprocess.run(["psql", "-X", "-Atq", "-v", "ON_ERROR_STOP=1",
                           bench.pg_url(database), "-f", "-"], input=text, check=True,
                          capture_output=True, text=True).stdout


def fetch(url, auth):
    """(status, parsed JSON or None, text) of a GET."""
    request = urllib.request.Request(url, headers={"Authorization": auth.split(": ", 1)[1]})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except OSError as error:
        return None, None, str(error)
    text = body.decode(errors="replace")
    try:
        return status, json.loads(text), text
    except ValueError:
        return status, None, text


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the worker's lease statement, as otto-adapters/src/store/jobs.rs sends it ---------

def rust_string(text):
    """A Rust string literal's body with its `\\` line continuations joined."""
    return re.sub(r"\\\n\s*", "", text)


def lease_statement():
    """(SQL with $1 now, $2 lease end, $3 limit, $4.. the kinds; the kinds) of
    `JobQueue::lease` on PostgreSQL, read from the source so the bench follows it."""
    jobs = open(os.path.join(ROOT, "otto-adapters", "src", "store", "jobs.rs")).read()
    kinds = open(os.path.join(ROOT, "otto-core", "src", "jobs", "kind.rs")).read()
    statement = re.search(r'let statement = format!\(\s*"(WITH queued AS .*?)",\s*kinds =',
                          jobs, re.S)
    columns = re.search(r'const COLUMNS: &str = "(.*?)";', jobs, re.S)
    names = re.findall(r'JobKind::\w+ => "(\w+)"', kinds)
    if not (statement and columns and names):
        fail("the lease statement, its columns or the job kinds were not found in "
             "otto-adapters/src/store/jobs.rs and otto-core/src/jobs/kind.rs")
    sql = rust_string(statement.group(1))
    sql = (sql.replace("{kinds}", ", ".join(f"${n + 4}" for n in range(len(names))))
              .replace("{locking}", " FOR UPDATE SKIP LOCKED")
              .replace("{COLUMNS}", rust_string(columns.group(1))))
    if "{" in sql:
        fail(f"the lease statement has a placeholder this bench does not know: {sql}")
    return sql, names


def lease_cost(database):
    """The lease statement under EXPLAIN (ANALYZE, BUFFERS), LEASE_RUNS times, each in
    the platform scope as the worker runs it (role otto_app, the platform proof) and
    rolled back: (median execution ms, buffers of the last run, scans used)."""
    sql, kinds = lease_statement()
    types = ", ".join(["timestamptz", "timestamptz", "bigint"] + ["text"] * len(kinds))
    arguments = ", ".join(["now()", "now() + interval '300 seconds'", "1"]
                          + [f"'{kind}'" for kind in kinds])
    script = [f"PREPARE otto_lease ({types}) AS {sql};"]
    for _ in range(LEASE_RUNS):
        script += [
            "BEGIN;",
            "DO $$ BEGIN PERFORM set_config('app.platform_proof', (SELECT "
            "otto_scope_digest(key, 'platform:' || txid_current()) FROM otto_scope_key), "
            "true); END $$;",
            "SET LOCAL ROLE otto_app;",
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE otto_lease ({arguments});",
            "ROLLBACK;",
        ]
    output = psql_input(database, "\n".join(script) + "\n")
    decoder, plans, at = json.JSONDecoder(), [], 0
    while True:
        start = output.find("[", at)
        if start < 0:
            break
        plan, at = decoder.raw_decode(output, start)
        plans.append(plan[0])
    if len(plans) != LEASE_RUNS:
        fail(f"lease EXPLAIN on {database}: expected {LEASE_RUNS} plans, got {output[:500]}")
    last = plans[-1]["Plan"]
    scans = []

    def walk(node):
        if "Index Name" in node or node["Node Type"].endswith("Scan"):
            scans.append(f"{node['Node Type']}" + (f" {node['Index Name']}"
                                                    if "Index Name" in node else ""))
        for child in node.get("Plans", []):
            walk(child)
    walk(last)
    leased = plans[-1]["Plan"].get("Actual Rows", 0)
    return {
        "ms": statistics.median(plan["Execution Time"] for plan in plans),
        "buffers": last.get("Shared Hit Blocks", 0) + last.get("Shared Read Blocks", 0),
        "scans": sorted(set(scans)),
        "leased": leased,
    }


# --- databases and servers -----------------------------------------------------------

def seed(database, sizes):
    """Creates, migrates (by the caller), seeds and vacuums `database`; seconds taken."""
    options = " ".join(f"-c otto_seed.{name}={value}" for name, value in sizes.items())
    started = time.monotonic()
    psql_file(database, SEED, options)
    seeded = time.monotonic() - started
    started = time.monotonic()
    bench.psql("VACUUM (ANALYZE)", database)
    return seeded, time.monotonic() - started


def counts(database):
    tables = ["tenants", "calls", "webhook_events", "webhook_deliveries", "messages",
              "outbound_actions", "jobs"]
    values = bench.psql_value(
        "SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in tables),
        database).split("|")
    return dict(zip(tables, (int(value) for value in values)))


def expired(database):
    """(keys, deliveries) the purge would delete now."""
    values = bench.psql_value(
        f"SELECT (SELECT count(*) FROM webhook_events "
        f"WHERE last_seen_at < now() - interval '{TTL_DAYS} days'), "
        f"(SELECT count(*) FROM webhook_deliveries WHERE outcome <> 'unroutable' "
        f"AND received_at < now() - interval '{TTL_DAYS} days')", database).split("|")
    return int(values[0]), int(values[1])


def server_env(binary, work, name, database):
    env = bench.base_env(os.path.join(work, name), PORTS[name])
    os.makedirs(env["OTTO_DATA_DIR"])
    env["OTTO_BISCUIT_PRIVATE_KEY"] = bench.cli(env, "token", "keygen", binary=binary) \
        .splitlines()[0].split("=", 1)[1]
    env.update({"DATABASE_URL": bench.pg_url(database), "REDIS_URL": bench.REDIS_URL,
                "IDEMPOTENCY_TTL_DAYS": str(TTL_DAYS),
                "WEBHOOK_LOG_RETENTION_DAYS": str(TTL_DAYS)})
    return env


# --- scenarios -------------------------------------------------------------------------

def deep_cursor(server, auth):
    """The cursor of page DEEP_PAGES of the calls list (of PAGE calls), or of the last
    page when there are fewer: (cursor, page number it opens)."""
    cursor, page = None, 1
    while page < DEEP_PAGES:
        url = f"{server.base}/api/v1/calls?limit={PAGE}"
        if cursor:
            url += "&cursor=" + urllib.parse.quote(cursor, safe="")
        status, body, text = fetch(url, auth)
        if status != 200 or body is None:
            fail(f"{server.name}: following the calls cursor chain: {status} {text[:300]}")
        following = body.get("next_cursor")
        if not following:
            break
        cursor, page = following, page + 1
    return cursor, page


def thread_number(database):
    return bench.psql_value(
        f"SELECT customer_number FROM messages WHERE tenant_id = '{bench.TENANT}' "
        f"GROUP BY customer_number ORDER BY count(*) DESC, customer_number LIMIT 1", database)


def page_rows(body):
    """How many items the answer's list holds (None for an answer without one, such as
    the dashboard's summary): a fuller page costs more to decode and serialise, which
    is not growth with the table."""
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list):
                return len(value)
    return None


def get_run(server, path, auth):
    """A wrk run of GET `path`, after one request that must be 2xx (else the scenario
    is failed without loading it), and the rows on that request's page."""
    url = server.base + path
    status, body, text = fetch(url, auth)
    if status is None or not 200 <= status < 300:
        return None, f"{status} {text[:200]}", None

    def run(seconds):
        return bench.wrk(url, bench.CONNECTIONS, seconds, headers=[auth])
    return run, None, page_rows(body)


def page_sizes(small, large):
    sizes = (small.get("rows_on_page"), large.get("rows_on_page"))
    return "—" if sizes == (None, None) else " / ".join(
        "—" if size is None else str(size) for size in sizes)


def measured(run, warm_up=None):
    (warm_up or run)(bench.WARMUP)
    return run(bench.SECONDS)


def in_rounds(runs):
    """`runs` (by database name) in rounds, small then at size each round
    (run.in_rounds), and the median of the rounds' ratios (at size over small, each
    from runs seconds apart)."""
    figures = bench.in_rounds(runs)
    ratio = None
    if set(figures) == {"small", "size"}:
        ratio = bench.paired_ratio(figures["size"]["rounds"], figures["small"]["rounds"])
    return figures, ratio


def failed_figures(reason):
    return {"rps": float("nan"), "p99": float("nan"), "non_2xx": None, "failure": reason,
            "socket_errors": "", "outcomes": None}


def flowing(database, prefix):
    """Whether a delivery of the signed file with `prefix` has been processed."""
    low = f"CAL{prefix}"
    high = low[:-1] + chr(ord(low[-1]) + 1)
    return bench.psql_value(
        f"SELECT EXISTS (SELECT 1 FROM webhook_events WHERE tenant_id = '{bench.TENANT}' "
        f"AND provider = 'callrail' AND event = 'pre-call' AND external_id >= '{low}' "
        f"AND external_id < '{high}')", database) == "t"


def interrupt(process, name):
    """Stops wrk as Ctrl-C does (it then prints its report). wrk ignores SIGINT until
    its threads have loaded their scripts, so it is sent until wrk ends."""
    for _ in range(60):
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    fail(f"{name}: wrk did not stop on SIGINT")


def purge_under_load(binary, server, deliveries, prefix, cap):
    """`otto-server purge` on the server's database while signed unique webhooks are
    posted to it (from 1 s before it starts); wrk is stopped when the purge ends, or
    after `cap` s (its file of unique deliveries would run out). (seconds, purge
    output, wrk figures, seconds measured, (keys, deliveries) expired before, the same
    after)."""
    database = DATABASES["size"]
    before = expired(database)
    load = subprocess.Popen(
        bench.wrk_command(f"{server.base}/webhook/callrail/pre-call", bench.CONNECTIONS, 3600,
                          bench.LUA, (deliveries, str(bench.WRK_THREADS))),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    purge = None
    try:
        waited = time.monotonic()
        while not flowing(database, prefix):  # wrk loads its file first
            if load.poll() is not None or time.monotonic() - waited > 120:
                fail("webhooks during the purge: no delivery was processed")
            time.sleep(0.2)
        load_started = time.monotonic()
        time.sleep(1)
        started = time.monotonic()
        purge_log = os.path.join(server.env["OTTO_DATA_DIR"], "purge.log")
        with open(purge_log, "w") as purge_err:  # its logs; never a full pipe
            purge = subprocess.Popen([binary, "purge"], env=server.env,
                                     stdout=subprocess.PIPE, stderr=purge_err, text=True)
        while purge.poll() is None:
            if load.poll() is None and time.monotonic() - load_started > cap:
                interrupt(load, "webhooks during the purge")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        loaded = time.monotonic() - load_started
        interrupt(load, "webhooks during the purge")
        output, errors = load.communicate()
        purge_out = purge.communicate()[0]
    finally:
        for process in (load, purge):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    if purge.returncode != 0:
        fail(f"otto-server purge exited {purge.returncode}; see {purge_log}")
    if load.returncode != 0:
        fail(f"wrk during the purge exited {load.returncode}: {errors[-500:]}")
    figures = bench.wrk_figures(output)
    bench.checked_outcomes("webhooks during the purge", figures["outcomes"], unique=True)
    return seconds, purge_out.strip(), figures, min(loaded, cap), before, expired(database)


# --- the section -----------------------------------------------------------------------

def run(binary, size=None):
    """Seeds both databases, runs every scenario on both servers and the maintenance
    at size; returns the Markdown section."""
    binary = os.path.abspath(binary)
    if not os.path.exists(binary):
        fail(f"{binary} is missing: cargo build --release -p otto-server")
    bench.need("wrk", "psql")
    size = size or SIZE
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="otto-at-size-")
    servers, created = {}, []
    rows = []
    succeeded = False
    try:
        # Signed deliveries first (CPU work of this process, not measured).
        files = {}
        unique_lines = max(50_000, bench.SECONDS * 8_000)
        for prefix, count in [("w", 20_000), ("u", unique_lines), ("p", 400_000)]:
            files[prefix] = os.path.join(work, f"deliveries-{prefix}.tsv")
            bench.signed_deliveries(files[prefix], f"size{prefix}", count)
        duplicate = os.path.join(work, "duplicate.tsv")
        bench.signed_deliveries(duplicate, "sizedup", 1)

        envs, tokens, seeded, rows_in = {}, {}, {}, {}
        for name, sizes in (("small", SMALL), ("size", size)):
            database = DATABASES[name]
            bench.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            bench.psql(f"CREATE DATABASE {database}")
            created.append(database)
            env = server_env(binary, work, name, database)
            bench.cli(env, "migrate", "up", binary=binary)
            log(f"seeding {database}: {sizes}")
            seeded[name] = seed(database, sizes)
            rows_in[name] = counts(database)
            log(f"{database}: seeded in {seeded[name][0]:.0f} s, VACUUM ANALYZE "
                f"{seeded[name][1]:.0f} s: {rows_in[name]}")
            bench.cli(env, "tenant", "link", "--provider", "callrail", "--account",
                      bench.COMPANY, "--tenant", bench.TENANT, binary=binary)
            tokens[name] = "Authorization: Bearer " + bench.cli(
                env, "token", "issue", "--tenant", bench.TENANT, "--user", "user_bench",
                "--role", "org:admin", "--ttl", "1h", binary=binary)
            envs[name] = env
        for name in ("small", "size"):
            servers[name] = bench.Server(f"postgres-{name}", PORTS[name], envs[name],
                                         binary=binary)

        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        days = lambda n: rfc3339(now - datetime.timedelta(days=n))  # noqa: E731
        deep = {name: deep_cursor(servers[name], tokens[name]) for name in servers}
        threads = {name: thread_number(DATABASES[name]) for name in servers}
        deep_pages = {name: page for name, (_, page) in deep.items()}
        reads = [
            ("GET /api/v1/calls?limit=50 (first page)",
             lambda name: f"/api/v1/calls?limit={PAGE}"),
            (f"GET /api/v1/calls, page {deep_pages['size']} of {PAGE} by cursor "
             f"(small: page {deep_pages['small']}, its last)",
             lambda name: f"/api/v1/calls?limit={PAGE}" + (
                 "&cursor=" + urllib.parse.quote(deep[name][0], safe="")
                 if deep[name][0] else "")),
            ("GET /api/v1/calls?direction=inbound&answered=false, last 90 days",
             lambda name: f"/api/v1/calls?limit={PAGE}&direction=inbound&answered=false"
                          f"&from={days(90)}&to={rfc3339(now)}"),
            ("GET /api/v1/calls?q=smith", lambda name: f"/api/v1/calls?limit={PAGE}&q=smith"),
            ("GET /api/v1/calls?q=4567", lambda name: f"/api/v1/calls?limit={PAGE}&q=4567"),
            ("GET /api/v1/webhooks/deliveries?provider=twilio",
             lambda name: f"/api/v1/webhooks/deliveries?limit={PAGE}&provider=twilio"),
            ("GET /api/v1/messages/{number} (the longest thread)",
             lambda name: f"/api/v1/messages/{urllib.parse.quote(threads[name], safe='')}"
                          f"?limit={PAGE}"),
            ("GET /api/v1/dashboard/summary, 30 days",
             lambda name: f"/api/v1/dashboard/summary?from={days(30)}&to={rfc3339(now)}"),
            ("GET /api/v1/dashboard/summary, 365 days",
             lambda name: f"/api/v1/dashboard/summary?from={days(365)}&to={rfc3339(now)}"),
        ]
        for scenario, path in reads:
            row = {"scenario": scenario}
            runs, pages = {}, {}
            for name, server in servers.items():
                run_it, refused, pages[name] = get_run(server, path(name), tokens[name])
                if refused:
                    row[name] = failed_figures(refused)
                else:
                    runs[name] = run_it
            measured_rounds, row["ratio"] = in_rounds(runs)
            row.update(measured_rounds)
            for name, server in servers.items():
                row[name]["rows_on_page"] = pages[name]
                log(f"{server.name} {scenario}: {row[name]['rps']:.0f}/s "
                    f"p99 {row[name]['p99']:.2f} ms, rounds "
                    f"{row[name].get('rounds')}")
            rows.append(row)

        # The worker's lease, before any webhook changes the databases.
        lease = {name: lease_cost(DATABASES[name]) for name in servers}
        log(f"lease: {lease}")

        # Webhooks last among the scenarios: they add calls (the small database would
        # no longer be small for the reads).
        for scenario, make, warm in [
            ("signed CallRail webhook, unique ids",
             lambda server: bench.signed_webhooks(server, files["u"]),
             lambda server: bench.signed_webhooks(server, files["w"])),
            ("the same delivery repeated (duplicates)",
             lambda server: bench.signed_webhooks(server, duplicate, unique=False), None),
        ]:
            row = {"scenario": scenario}
            for name, server in servers.items():
                row[name] = measured(make(server), warm(server) if warm else None)
                log(f"{server.name} {scenario}: {row[name]['rps']:.0f}/s "
                    f"p99 {row[name]['p99']:.2f} ms")
            rows.append(row)
        unique_at_size = rows[-2]["size"]

        # The purge at size, under webhook load.
        cap = 400_000 / (1.5 * max(unique_at_size["rps"], 1.0))
        log("purging at size under webhook load")
        purge = purge_under_load(binary, servers["size"], files["p"], "sizep", cap)
        succeeded = True
    finally:
        for server in servers.values():
            server.stop()
        for database in created:
            try:
                bench.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            except subprocess.CalledProcessError:
                pass
        if succeeded:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"the servers' logs are kept in {work}")
    elapsed = time.monotonic() - started
    log(f"done in {elapsed:.0f} s")
    return markdown(rows, lease, purge, unique_at_size, seeded, rows_in, size, elapsed,
                    counted_from_calls(now, 30))


def counted_from_calls(now, days):
    """What a summary of the last `days` days, asked at `now`, counts from its calls
    rather than kept rows (the store's plan: the minutes before the first whole hour of
    its first day, a settled one whose whole hours are kept, and the hours not yet kept,
    which end a quarter of an hour after they do): (minutes at the start, minutes at
    the end)."""
    start = now - datetime.timedelta(days=days)
    into_hour = start - start.replace(minute=0, second=0, microsecond=0)
    first = (datetime.timedelta(hours=1) - into_hour) % datetime.timedelta(hours=1)
    kept_to = (now - HOURS_KEPT_AFTER).replace(minute=0, second=0, microsecond=0)
    return first.total_seconds() / 60, (now - kept_to).total_seconds() / 60


def number(value, digits=0):
    return "—" if value != value else f"{value:.{digits}f}"  # NaN: not measured


def markdown(rows, lease, purge, unique_at_size, seeded, rows_in, size, elapsed, counted):
    seconds, purge_out, during, loaded, before, after = purge
    first_minutes, last_minutes = counted
    lines = [
        "### Cost growth with data size (PostgreSQL + Redis)",
        "",
        f"Two `serve` processes, one per database: \"small\" (one tenant, "
        f"{SMALL['calls']} calls, {SMALL['keys']} idempotency keys, {SMALL['deliveries']} "
        f"logged deliveries, {SMALL['messages']} messages, {SMALL['jobs']} queued jobs) and "
        f"\"at size\" ({size['tenants']} tenants, {size['calls']:,} calls, "
        f"{size['keys']:,} keys, {size['deliveries']:,} deliveries, {size['messages']:,} "
        f"messages, {size['jobs']:,} jobs), both seeded by "
        f"`scripts/bench/seed_at_size.sql` after `otto-server migrate up` and then "
        f"`VACUUM ANALYZE`d. At size the measured tenant (`{bench.TENANT}`, the API "
        f"token's, leadership) holds 10% of the calls, deliveries and messages; the other "
        f"tenants share the rest unevenly. Calls span three years, denser recently; keys "
        f"were last seen over 180 days and a fifth of the deliveries are past the "
        f"{TTL_DAYS}-day retention, so the purge has work. Seeding at size took "
        f"{seeded['size'][0]:.0f} s and VACUUM ANALYZE {seeded['size'][1]:.0f} s "
        f"(rows: " + ", ".join(f"{table} {count:,}" for table, count in rows_in["size"].items())
        + f"). Each scenario: {bench.WARMUP} s warm-up, then {bench.SECONDS} s of wrk "
        f"({bench.WRK_THREADS} threads, {bench.CONNECTIONS} connections), small first; "
        f"reads before webhooks, so the small database stays small. Reads run in "
        f"{bench.ROUNDS} rounds (small, then at size, each round) and show the round of median "
        f"throughput; their ratio is the median of the rounds' ratios (req/s at size over "
        f"req/s small, measured seconds apart). Webhooks run once (ratio of the two "
        f"runs). Below {SLOWER} a ratio is flagged.",
        "",
        "| scenario | small req/s | small p99 ms | at size req/s | at size p99 ms | "
        "size/small | rows on the page (small / at size) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        small, large = row["small"], row["size"]
        ratio = row.get("ratio")
        if ratio is None:
            ratio = large["rps"] / small["rps"] if small["rps"] == small["rps"] and \
                small["rps"] else float("nan")
        note = []
        for name, figures in (("small", small), ("at size", large)):
            if figures.get("failure"):
                note.append(f"**failed** {name}: `{figures['failure']}`")
            elif figures["non_2xx"]:
                note.append(f"**failed** {name}: {figures['non_2xx']} non-2xx answers")
            if figures.get("socket_errors"):
                note.append(f"{name}: {figures['socket_errors']}")
        if ratio == ratio and ratio < SLOWER:
            note.append(f"**slower at size** (×{ratio:.2f})")
        if small.get("rows_on_page") != large.get("rows_on_page"):
            note.append("pages differ: the ratio is partly the page's")
        lines.append(
            f"| {row['scenario']} | {number(small['rps'])} | {number(small['p99'], 2)} | "
            f"{number(large['rps'])} | {number(large['p99'], 2)} | {number(ratio, 2)} | "
            f"{page_sizes(small, large)} | {'; '.join(note) or '—'} |")
    keys_deleted, deliveries_deleted = before[0] - after[0], before[1] - after[1]
    ratio = lease["size"]["ms"] / lease["small"]["ms"] if lease["small"]["ms"] else float("nan")
    lines += [
        "",
        f"- Purge at size (`otto-server purge`, batches of 1000, while signed unique "
        f"webhooks were posted to the same server): {seconds:.1f} s; deleted "
        f"{keys_deleted:,} of {before[0]:,} expired idempotency keys and "
        f"{deliveries_deleted:,} of {before[1]:,} expired logged deliveries (counted "
        f"before and after; {after[0]:,} and {after[1]:,} left); it reported: "
        f"\"{purge_out}\". Webhooks meanwhile ({loaded:.0f} s measured, from 1 s before "
        f"the purge started"
        + (", the purge's first part: the file of unique deliveries would have run out"
           if loaded < seconds else "") +
        f"): {number(during['rps'])}/s, p99 {number(during['p99'], 2)} ms, against "
        f"{number(unique_at_size['rps'])}/s, p99 {number(unique_at_size['p99'], 2)} ms "
        f"without the purge.",
        f"- The worker's lease (`JobQueue::lease`, one job, every kind, as a prepared "
        f"statement in the platform scope; EXPLAIN (ANALYZE, BUFFERS), median of "
        f"{LEASE_RUNS}, rolled back): small ({SMALL['jobs']} queued) "
        f"{lease['small']['ms']:.3f} ms, {lease['small']['buffers']} buffers; at size "
        f"({size['jobs']:,} queued) {lease['size']['ms']:.3f} ms, "
        f"{lease['size']['buffers']} buffers (×{number(ratio, 1)}); scans at size: "
        + ", ".join(lease["size"]["scans"]) + ".",
        "- Deep page: the cursor of the page was followed from the first page with "
        f"{PAGE} calls each; the small database has {SMALL['calls']} calls, so its "
        "deepest page is its last. The message thread is the big tenant's longest.",
        "- Dashboard: settled days are read from `dashboard_days`, their whole months "
        "from `dashboard_months` (migration 19), the whole hours of the settled day a "
        "range starts inside from `dashboard_settled_hours` (migration 21) and the "
        "recent days' hours from `dashboard_hours` (migration 18), which the warm-up "
        "fills (the seed leaves them without counts, as a freshly migrated database has "
        "none); what remains per request is under an hour at the start and the hours "
        "not kept yet, counted from their calls. In this run the 30-day range counted "
        f"its first {first_minutes:.0f} minutes and its last {last_minutes:.0f} "
        "minutes. Before migration 21 it counted the smaller side of its first day (the "
        "part in the range, or the part before it subtracted from the kept day): 10.7 "
        "hours of it gave 30 days 0.81 of small in the run of 2026-12-07 10:32Z. "
        "An hour is kept a quarter of an hour after it ends, since the "
        "triggers watch every hour that ended (migration 20); before, it was kept three "
        "hours after, and a summary counted its last three to four hours, where the "
        "seed is densest (some 260 of the big tenant's calls): 30 days at size 0.72 of "
        "small in the run of 2026-12-07 05:34Z. On one seeded database (2026-12-07, "
        "10:00Z, three interleaved rounds of 30-day summaries, each figure the "
        "difference in seconds per request, 1/throughput, from a range with nothing "
        "counted from calls), those three to four hours added 179 µs and the first "
        "day's ten hours 160 µs; with hours kept a quarter of an hour after they end, "
        "the last 62 minutes added 100 µs. Before months, a year "
        "read some 360 day rows, which the seed's history lays out among every tenant's "
        "(at size: 365 days 1,014/s against 1,385/s small, 0.70, in the run of "
        "2026-12-07 00:00Z); before the smaller side, the 30-day range counted 22 hours "
        "of its first day when run just after 02:00 (204 of the big tenant's calls; 0.72 "
        "of small in the run of 2026-12-07 02:06Z). Before the hours were kept, the last "
        "three days were counted per request (at size: 30 days 0.53, 365 days 0.54 of "
        "small, in the run of 2026-12-06 19:00Z). A range's first summary counts its "
        "settled days from their calls once, as every summary did before (365 days at "
        "size: 39/s, p99 1.25 s, in the run of 2026-12-06 before the table).",
        "- Dashboard statements: once a range was asked for, a summary is one statement "
        "(a row per counted span and per kept table), planned once per connection "
        "(`force_generic_plan`, local to its transaction). PostgreSQL had planned it for "
        "each request's values, 1 to 3 ms of planning (its log's `bind`) against 0.3 to "
        "0.5 ms of running it. Side by side on the 3,000-call seed (2026-12-06, two "
        "rounds each): 30 days 854 and 994/s before, 1,479 and 1,693/s after; 365 days "
        "705 and 812/s before, 1,145 and 1,568/s after. With 200 calls the 30-day "
        "summary went from 1,364 to 1,827/s, so the planning was most of why the small "
        "figure fell as the small database grew (1,559 and 1,752/s with 200 calls, 937 "
        "and 890/s with 3,000, in the runs of 2026-12-06).",
        "- Delivery log: a tenant's pages are planned once per connection too, unless "
        "filtered by outcome (a rare outcome is best found through its own index); "
        "PostgreSQL had planned each page for its values, as long as reading it. Side by "
        "side on the 3,000-call seed, `provider=twilio`: 1,574 and 1,676/s before, 1,749 "
        "and 1,761/s after.",
        "- Search by name: a page is chosen from `call_search_terms` alone, whose "
        "entries carry their call's start (migration 17); `q=smith` matches 2,142 of "
        "the big tenant's calls, which were each looked up for their start before "
        "(at size: 310/s, p99 173 ms, ratio 0.08, in the run of 2026-12-06 before the "
        "terms carried it). On PostgreSQL a name's page is now read word by word (at "
        "most a page of entries per distinct word of the prefix), where every matching "
        "entry was read and sorted (at size: 1,088/s against 2,347/s small, ratio 0.46, "
        "in the run of 2026-12-06 15:00Z).",
        "- Rows on the page: a filter that matches few of the small database's calls "
        "returns a short page there and a full one at size, and decoding and serialising "
        "50 calls instead of 6 is then part of the ratio; the small database has "
        f"{SMALL['calls']:,} calls so that every page is as full as at size (with 200 "
        "calls, the 90-day missed calls and `q=smith` gave 6 and 5 rows against 50: "
        "ratios 0.63 and 0.81 in the run of 2026-12-06 20:48Z). A row whose pages differ "
        "says so.",
        f"- This part took {elapsed:.0f} s, seeding included.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=bench.BIN,
                        help="the otto-server binary (default: target/release/otto-server)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the default sizes to seed at size (default 1)")
    parser.add_argument("--update-docs", action="store_true",
                        help="replace (or append) this section of docs/benchmarks.md")
    args = parser.parse_args()
    size = dict(SIZE)
    if args.scale != 1.0:
        size = {name: max(1, int(value * args.scale)) if name != "tenants" else value
                for name, value in SIZE.items()}
    section = run(args.bin, size)
    print(section, end="")
    if args.update_docs:
        now = datetime.datetime.now(datetime.timezone.utc)
        docs_section.update_docs(
            section,
            f"Run: {now:%Y-%m-%dT%H:%MZ}, `python3 scripts/bench/at_size.py` alone "
            f"({os.cpu_count()} cores, shared with other work).",
            "Cost growth with data size")


if __name__ == "__main__":
    main()
