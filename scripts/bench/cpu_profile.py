#!/usr/bin/env python3
"""Where a read's CPU goes: `GET /api/v1/calls?limit=50` on PostgreSQL under wrk, profiled
with perf; part of `make bench`.

A release `otto-server serve` on a database of its own (otto_bench_profile: one tenant,
500 calls, row-level security as in production) answers the calls list at 32
connections for OTTO_BENCH_SECONDS (default 10) with a biscuit API token, while
`perf record` samples the server process (user and kernel, 499 Hz). Reported: requests
per second beside pgbench running the same SQL in the same run (prepared, with the
role, tenant and proof settings, as in the main table), the server's CPU time per
request (from /proc/<pid>/stat), and that time split by where it is spent, from the
symbols perf saw: each sample is given to the first category whose pattern its symbol
or object matches (the table below lists them in that order). Beside it, the CPU per
request of every side of the same runs, for Otto and for pgbench: the load generator's
(its rusage), the server's, and PostgreSQL's (every `postgres` process on the machine,
found with pgrep, with the backends that exited counted in the postmaster's reaped
children; on a machine running other clusters, theirs too).

Run alone:  python3 scripts/bench/cpu_profile.py [--bin target/release/otto-server]
            [--update-docs]
Needs perf (Debian: linux-perf), wrk, pgbench, psql and pgrep, with PostgreSQL on
loopback on this machine.
"""

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ left in the tree
import docs_section  # noqa: E402 (this directory)
import run as bench  # noqa: E402 (scripts/bench/run.py: its helpers; importing runs nothing)

DATABASE = "otto_bench_profile"
PORT = 18900
CALLS = 500
TITLE = "Where a read's CPU goes"

# (category, pattern over "symbol object"), first match wins.
CATEGORIES = [
    ("kernel: network and scheduling", r"\[kernel|\[k\]|vmlinux"),
    ("memory allocation", r"malloc|free|realloc|calloc|_int_|memcpy|memmove|memset|alloc::"),
    ("credentials (biscuit, JWT, signatures)",
     r"biscuit|datalog|ed25519|curve25519|jsonwebtoken|otto_core::authentication|"
     r"otto_adapters::(api_tokens|clerk|verified_tokens)|sha2|ring::"),
    ("database client (sqlx, sea-orm, decoding rows)",
     r"sqlx|sea_orm|sea_query|otto_adapters::store|postgres|chrono|uuid"),
    ("TLS", r"rustls"),
    ("JSON and OpenAPI serialisation", r"serde|poem_openapi::(types|payload)|itoa|ryu"),
    ("HTTP (poem, hyper) and middleware",
     r"poem|hyper|http::|h2::|httparse|otto_server::http"),
    ("observability (tracing, metrics, logs)",
     r"tracing|opentelemetry|prometheus|otto_server::telemetry"),
    ("async runtime (tokio)", r"tokio|mio::|futures|parking_lot|std::sync|crossbeam"),
    ("libc and other", r"."),
]


# What changed, measured with this script on this machine (2 cores shared by wrk,
# PostgreSQL and the server), kept with the section because a rerun replaces the
# figures above.
BEFORE_AND_AFTER = [
    "Before and after, the same script on this machine (2026-12-06):",
    "",
    "| | glibc malloc | mimalloc |",
    "|---|---|---|",
    "| Otto, requests/s | 3,158 | 4,322 |",
    "| pgbench, transactions/s | 10,591 | 11,602 |",
    "| ratio | 0.30 | 0.37 |",
    "| server CPU per request | 361 µs | 257 µs |",
    "| of which memory allocation | 84 µs (23%) | 40 µs (15%) |",
    "| of which the kernel (network, scheduling) | 114 µs (32%) | 89 µs (35%) |",
    "| of which the database client (decoding 51 rows) | 61 µs (17%) | 53 µs (20%) |",
    "",
    "- The allocator was the largest share Otto controls: glibc's `_int_malloc`, "
    "`_int_free` and `malloc_consolidate` were 13% of the samples on their own. "
    "`otto-server` now runs on mimalloc.",
    "- The kernel's share is context switches and loopback sends: the round trips to "
    "PostgreSQL and the HTTP exchange, with wrk, PostgreSQL and the server taking turns "
    "on two cores. The table above was measured with four round trips per request "
    "(BEGIN, the role and tenant settings, the SELECT, COMMIT, as pgbench's script "
    "does); since 2026-12-06 a read sends three, and ends with a ROLLBACK that travels "
    "with the ping sqlx sends as the connection returns to its pool "
    "(`UnitOfWork::finish_read`).",
    "- What remains is spread: decoding rows, JSON, tracing, HTTP; none above a tenth. "
    "pgbench's own figure moves by a third between runs on this machine (3,422 and "
    "5,210 transactions/s within one `make bench` on 2026-12-06), so read the ratio of "
    "one run beside the main table's.",
    "- PostgreSQL's side (2026-12-07): counting every side's CPU showed PostgreSQL "
    "spending more per Otto request than per pgbench transaction of the same SQL "
    "(454 to 539 µs against 362 to 441 µs, on the 19,388-call tenant of the main "
    "table). Its log said why: it planned the page again for each request's tenant "
    "and limit (`bind`, 0.2 ms), where pgbench's prepared statement is planned once. "
    "An unfiltered page is now planned once per connection (`calls::list_planning`); "
    "PostgreSQL's CPU per request fell to 364 to 389 µs (pgbench's 323 to 351 µs in "
    "the same runs). The same binary before and after, five interleaved rounds of "
    "10 s on that database beside pgbench (median 4,571 transactions/s): with the "
    "Redis limiter 2,025 and 2,088 requests/s (ratio 0.44 and 0.46), with the "
    "in-process limiter 2,201 and 2,382 requests/s (0.48 and 0.52).",
    "- One round trip more or less (2026-12-07): a build sending one more statement "
    "per read (`SELECT 1` after the settings, for this experiment only) served the "
    "calls list at 2,646 requests/s against 2,601 without it (four interleaved "
    "rounds, pgbench 5,453), so folding `BEGIN` into the settings' round trip, which "
    "sea-orm's transactions do not allow, was not pursued: the server's time goes to "
    "its own work, not to waiting.",
    "",
]


def log(message):
    print(f"profile: {message}", file=sys.stderr, flush=True)


def cpu_ticks(pid, with_reaped_children=False):
    """`pid`'s CPU time in clock ticks (utime + stime), and its reaped children's."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:  # it exited meanwhile: its time is now its parent's
        return 0
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if with_reaped_children else 0)


def postgres_ticks():
    """Every PostgreSQL process's CPU time in clock ticks; a backend that exited
    (pgbench's, at its end) is counted in the postmaster's reaped children."""
    pids = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True,
                          text=True).stdout.split()
    if not pids:
        return None  # PostgreSQL is not a process this machine shows
    return sum(cpu_ticks(pid, with_reaped_children=True) for pid in pids)


def load_generators_gone():
    """Waits (up to 5 s) until pgbench's backends have exited: one still exiting when
    PostgreSQL's time is read would be counted nowhere."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and bench.psql_value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'",
            "postgres") != "0":
        time.sleep(0.05)


def accounted(run):
    """`run()`'s figures, with the CPU seconds it cost the load generator it ran
    (a reaped child of this process) and PostgreSQL."""
    # perf, also a child of this process, is reaped only after this returns: its
    # time is not the load generator's.
    before = (resource.getrusage(resource.RUSAGE_CHILDREN), postgres_ticks())
    figures = run()
    load_generators_gone()
    after = (resource.getrusage(resource.RUSAGE_CHILDREN), postgres_ticks())
    figures["client_cpu"] = (after[0].ru_utime + after[0].ru_stime
                             - before[0].ru_utime - before[0].ru_stime)
    figures["postgres_cpu"] = (
        (after[1] - before[1]) / os.sysconf("SC_CLK_TCK")
        if None not in (before[1], after[1]) else None)
    return figures


def categorise(report):
    """Per category, the share of samples (perf report --sort sym,dso lines)."""
    shares = {name: 0.0 for name, _ in CATEGORIES}
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(.*)$", line)
        if not match:
            continue
        percent, rest = float(match.group(1)), match.group(2)
        for name, pattern in CATEGORIES:
            if re.search(pattern, rest):
                shares[name] += percent
                break
    return shares


def per_request(figures, key):
    """µs of `figures[key]` (CPU seconds) per request or transaction."""
    if figures[key] is None or not figures["requests"]:
        return "—"
    return f"{figures[key] / figures['requests'] * 1e6:.0f}"


def run(binary):
    """Profiles the calls list; returns the Markdown section."""
    binary = os.path.abspath(binary)
    bench.need("wrk", "pgbench", "psql", "perf", "pgrep")
    if not os.path.exists(binary):
        sys.exit(f"profile: {binary} is missing: cargo build --release -p otto-server")
    work = tempfile.mkdtemp(prefix="otto-profile-")
    server = None
    try:
        bench.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        bench.psql(f"CREATE DATABASE {DATABASE}")
        env = bench.base_env(os.path.join(work, "data"), PORT)
        os.makedirs(env["OTTO_DATA_DIR"])
        env["OTTO_BISCUIT_PRIVATE_KEY"] = bench.cli(
            env, "token", "keygen", binary=binary).splitlines()[0].split("=", 1)[1]
        env["DATABASE_URL"] = bench.pg_url(DATABASE)
        bench.cli(env, "migrate", "up", binary=binary)
        bench.psql(
            "INSERT INTO calls (id, tenant_id, provider, external_id, direction, customer_name, "
            "customer_number, answered, duration_seconds, started_at, created_at, updated_at) "
            f"SELECT gen_random_uuid(), '{bench.TENANT}', 'callrail', 'CAL' || n, 'inbound', "
            "'Customer ' || n, '+1555' || lpad(n::text, 7, '0'), n % 3 = 0, n % 300, "
            "now() - n * interval '17 minutes', now(), now() "
            f"FROM generate_series(1, {CALLS}) AS n", DATABASE)
        bench.psql("VACUUM ANALYZE", DATABASE)
        proof = bench.psql_value(
            f"SELECT otto_scope_digest(key, 'tenant:{bench.TENANT}') FROM otto_scope_key",
            DATABASE)
        token = bench.cli(env, "token", "issue", "--tenant", bench.TENANT, "--user",
                          "user_bench", "--role", "org:admin", "--ttl", "1h", binary=binary)
        server = bench.Server("profile", PORT, env, binary=binary)
        url = f"{server.base}/api/v1/calls?limit=50"
        headers = [f"Authorization: Bearer {token}"]
        bench.wrk(url, bench.CONNECTIONS, 3, headers=headers)  # warm up

        baseline = accounted(lambda: bench.pgbench(
            bench.PGBENCH_CALLS.replace("{proof}", proof), database=DATABASE))

        samples = os.path.join(work, "perf.data")
        before = cpu_ticks(server.process.pid)
        perf = subprocess.Popen(
            ["perf", "record", "-F", "499", "-p", str(server.process.pid), "-o", samples,
             "--", "sleep", str(bench.SECONDS)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        figures = accounted(lambda: bench.wrk(url, bench.CONNECTIONS, bench.SECONDS,
                                              headers=headers))
        perf.wait()
        ticks = cpu_ticks(server.process.pid) - before
        if figures["non_2xx"]:
            sys.exit(f"profile: {figures['non_2xx']} answers were not 2xx")
        cpu_us = ticks / os.sysconf("SC_CLK_TCK") / figures["requests"] * 1e6
        report = subprocess.run(
            ["perf", "report", "-i", samples, "--no-children", "--sort", "sym,dso", "--stdio",
             "--percent-limit", "0"], check=True, capture_output=True, text=True).stdout
    finally:
        if server:
            server.stop()
        bench.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)
    shares = categorise(report)
    total = sum(shares.values()) or 1.0
    lines = [
        f"### {TITLE}",
        "",
        f"`GET /api/v1/calls?limit=50` (API token, row-level security) on PostgreSQL, "
        f"{bench.CONNECTIONS} connections, {bench.SECONDS} s, profiled with "
        f"`perf record` (scripts/bench/cpu_profile.py).",
        "",
        "| | figure |",
        "|---|---|",
        f"| Otto, requests/s | {figures['rps']:.0f} |",
        f"| pgbench, the same SQL, transactions/s | {baseline['rps']:.0f} |",
        f"| ratio (target ≥ 0.5) | {figures['rps'] / baseline['rps']:.2f} |",
        f"| Otto p99 | {figures['p99']:.2f} ms |",
        f"| server CPU per request | {cpu_us:.0f} µs |",
        "",
        "Where each request's CPU goes, on every side of the same measured runs "
        "(µs per request; the load generator's from its rusage, PostgreSQL's summed "
        "over its processes):",
        "",
        "| CPU per request | Otto | pgbench |",
        "|---|---|---|",
        f"| load generator (wrk; pgbench's own client) | {per_request(figures, 'client_cpu')} "
        f"| {per_request(baseline, 'client_cpu')} |",
        f"| otto-server (under perf) | {cpu_us:.0f} | — |",
        f"| PostgreSQL | {per_request(figures, 'postgres_cpu')} "
        f"| {per_request(baseline, 'postgres_cpu')} |",
        "",
        "| where the server's CPU goes | share | µs per request |",
        "|---|---|---|",
    ]
    for name, _ in CATEGORIES:
        share = shares[name] / total
        lines.append(f"| {name} | {share:.0%} | {share * cpu_us:.0f} |")
    top = [" ".join(line.split()) for line in report.splitlines()
           if re.match(r"\s*[\d.]+%", line)][:12]
    lines += ["", "The hottest symbols (self time):", "", "```"] + top + ["```", ""]
    lines += BEFORE_AND_AFTER
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=bench.BIN, help="the release otto-server binary")
    parser.add_argument("--update-docs", action="store_true",
                        help="replace (or append) the section in docs/benchmarks.md")
    args = parser.parse_args()
    section = run(args.bin)
    print(section, end="")
    if args.update_docs:
        docs_section.update_docs(
            section, f"Run: {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, "
            "`python3 scripts/bench/cpu_profile.py` alone.", TITLE)


if __name__ == "__main__":
    main()
