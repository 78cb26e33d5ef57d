#!/usr/bin/env python3
"""Live events under load (GET /api/v1/events, Server-Sent Events); part of `make bench`.

Two measurements, each on the embedded default (SQLite, one `otto-server serve`) and
on PostgreSQL (two `serve` processes on one database):

- Idle connections: N streams (default 5000) opened on one process, none reading
  anything but the `retry:` hint; the server's resident memory (VmRSS) before, with
  them open, and after they are closed, and the memory per stream.
- Fan-out: M subscribers (default 1000) of one tenant (on PostgreSQL half on each
  process) while unsigned CallRail `pre-call` webhooks (one `call.created` each) are
  posted to one process at a steady rate (default 50/s for 20 s). Latency is the
  client's receive time minus the event's `occurred_at` (both on this machine's
  clock); events/s delivered is the events received by all subscribers over the time
  from the first post to the last event received. Every subscriber must receive every
  event exactly once and in order (consecutive ids, one `call.created` per webhook,
  nothing else, no `close`, no disconnect): a run where one did not fails. For
  comparison, the same webhooks' answer times with no stream open (5 s, same rate,
  same process) are measured first. Webhooks the server does not process are reported
  (with the warnings and errors the servers logged meanwhile), not retried: only the
  processed ones made events, and those must all arrive.

The servers' own counts are checked too: `event_stream_connections` must equal the
idle streams opened and fall to 0 once they are closed (within RELEASE_WAIT s), and no
stream may be ended by the server (`event_stream_dropped_total`) during the fan-out.

The client is asyncio on raw sockets (HTTP/1.1, chunked transfer encoding, SSE
frames), spread over --client-procs processes; the webhooks come from the parent
process at their schedule. `ulimit -n` is raised to its hard limit for the client and
the servers.

Run alone:  python3 scripts/bench/live_events.py --bin target/release/otto-server
(prints the Markdown section on stdout, progress on stderr; --update-docs also
replaces or appends the "Live events" section of docs/benchmarks.md). `make bench`
runs it from scripts/bench/run.py. PostgreSQL: OTTO_BENCH_PG_URL (default
postgres://postgres@127.0.0.1:5432/postgres); the database otto_bench_live is created
and dropped.
"""

import argparse
import array
import asyncio
import datetime
import http.client
import json
import multiprocessing
import os
import queue
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ left in the tree
import docs_section  # noqa: E402 (this directory)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_ADMIN = os.environ.get("OTTO_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = "otto_bench_live"
TENANT = "dev"  # OTTO_DEFAULT_TENANT: where unlinked development deliveries land
STREAM_LIMIT = "100000"  # OTTO_EVENT_STREAMS_PER_USER / _PER_TENANT for the bench
LIMITS = "100000000/minute"
NOFILE_WANTED = 20_000
WARMUP_WEBHOOKS = 20
BASELINE_SECONDS = 5  # webhooks at the fan-out's rate with no stream open, for comparison
POSTERS = 32  # keep-alive connections the webhooks are posted over (slow answers
# must not hold the schedule back)
OPENING_AT_ONCE = 64  # streams each client process has being opened at once
# How long closed streams may take to leave the server's count: a closed stream is
# noticed when a write to it fails, the second heartbeat (15 s each) after the close.
RELEASE_WAIT = 50


def log(message):
    print(f"live-events: {message}", file=sys.stderr, flush=True)


def fail(message):
    sys.exit(f"live-events: FAILED: {message}")


def raise_nofile():
    """Soft `ulimit -n` to the hard limit (inherited by the servers and the client
    processes); returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# --- servers -------------------------------------------------------------------------

def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


class Server:
    """One `otto-server serve` process; stopped with SIGTERM."""

    def __init__(self, binary, name, port, env):
        self.name, self.port, self.env = name, port, env
        self.log = open(os.path.join(env["OTTO_DATA_DIR"], f"{name}.log"), "w")
        started = time.monotonic()
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        while time.monotonic() - started < 60:
            if self.process.poll() is not None:
                fail(f"{name} exited; see {self.log.name}")
            if http_get(f"http://127.0.0.1:{port}/ready") == 200:
                return
            time.sleep(0.05)
        fail(f"{name} not ready in 60 s")

    def status(self, field):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # MiB
        return float("nan")

    def rss(self):
        return self.status("VmRSS")

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metrics(self):
        """The server's own counts: {name: summed value} of its /metrics."""
        with urllib.request.urlopen(
                f"http://{self.env['OTTO_METRICS_ADDR']}/metrics", timeout=5) as response:
            text = response.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                name = name.split("{", 1)[0]
                values[name] = values.get(name, 0.0) + float(value)
        return values

    def open_streams(self):
        return int(self.metrics().get("event_stream_connections", 0))

    def log_size(self):
        return os.path.getsize(self.log.name)

    def problems(self, since=0):
        """Distinct warnings and errors of the server's log after byte `since`, with
        their counts (the development default's notice about unsigned deliveries left
        out)."""
        counts = {}
        with open(self.log.name) as lines:
            lines.seek(since)
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") not in ("WARN", "ERROR") or \
                        "accepting unsigned" in entry.get("message", "") or \
                        entry.get("message") == "request completed":
                    continue
                key = f"{entry.get('message')}: {entry.get('error', '')}".rstrip(": ")
                counts[key] = counts.get(key, 0) + 1
        return counts

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def cli(binary, env, *args):
    return subprocess.run([binary, *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def server_env(data_dir, port):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "REDIS_", "OTTO_", "RATE_LIMIT_", "CALLRAIL_",
                                  "CLERK_"))}
    env.update({
        "OTTO_DATA_DIR": data_dir, "HOST": "127.0.0.1", "PORT": str(port),
        "OTTO_WORKER_PORT": str(port + 1000),
        "OTTO_METRICS_ADDR": f"127.0.0.1:{port + 2000}",
        "RATE_LIMIT_USER": LIMITS, "RATE_LIMIT_TENANT": LIMITS,
        "OTEL_TRACES_EXPORTER": "none", "OTTO_DEFAULT_TENANT": TENANT,
        "OTTO_EVENT_STREAMS_PER_USER": STREAM_LIMIT,
        "OTTO_EVENT_STREAMS_PER_TENANT": STREAM_LIMIT,
    })
    os.makedirs(data_dir, exist_ok=True)
    return env


def pg_url(database):
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + database


def psql(sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", pg_url("postgres"), "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


# --- the subscribers (one asyncio loop per client process) ---------------------------

class Parsed:
    """What every subscriber of a client process shares about one SSE frame (they all
    receive the same bytes for an event)."""
    __slots__ = ("type", "id", "occurred", "call_id", "text")

    def __init__(self, frame):
        self.text = frame.decode(errors="replace")
        self.type = self.id = self.occurred = self.call_id = None
        data = b"\n".join(line[5:].strip() for line in frame.split(b"\n")
                          if line.startswith(b"data:"))
        if not data:
            return
        message = json.loads(data)
        self.type = message.get("type")
        self.id = message.get("id")
        self.call_id = message.get("call_id")
        occurred = message.get("occurred_at")
        if occurred:
            self.occurred = datetime.datetime.fromisoformat(occurred).timestamp()


class Subscriber(asyncio.Protocol):
    """One SSE stream: HTTP/1.1 response head, chunked body, SSE frames."""

    def __init__(self, index, port, request, cache, done):
        self.index, self.port, self.request = index, port, request
        self.cache, self.done = cache, done
        self.head = bytearray()
        self.status = None
        self.error_body = b""
        self.raw = bytearray()  # chunked body not decoded yet
        self.need = 0  # bytes of the current chunk still to come (+2 for its CRLF)
        self.text = bytearray()  # decoded body not split into frames yet
        self.ids = array.array("q")
        self.latencies = array.array("d")
        self.calls = 0
        self.call_ids = set()
        self.heartbeats = 0
        self.others = []  # frames that are neither events we expect nor heartbeats
        self.opened = asyncio.get_running_loop().create_future()
        self.lost = None
        self.transport = None
        self.expect = None
        self.first_at = self.last_at = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        self.lost = repr(exc) if exc else "closed by the server"
        if not self.opened.done():
            self.opened.set_result(False)
        self.done()

    def data_received(self, data):
        now = time.time()
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = bytes(self.head[:end]), self.head[end + 4:]
            self.head = bytearray()
            self.status = int(head.split(b" ", 2)[1])
            if self.status != 200 or b"transfer-encoding: chunked" not in head.lower():
                self.error_body = head + b"\r\n\r\n" + bytes(rest)
                if not self.opened.done():
                    self.opened.set_result(False)
                self.transport.close()
                return
            data = bytes(rest)
        elif not self.need and not self.raw and not self.text:
            # The usual case: one read holds one whole chunk holding one whole event
            # that another subscriber of this process has already parsed.
            line_end = data.find(b"\r\n")
            if 0 < line_end < 9:
                begin = line_end + 2
                size = int(data[:line_end], 16)
                if size > 2 and len(data) == begin + size + 2 and \
                        data.find(b"\n\n", begin) == begin + size - 2:
                    parsed = self.cache.get(data[begin:begin + size - 2])
                    if parsed is not None:
                        self.event(parsed, now)
                        return
        raw = self.raw
        raw += data
        while True:
            if self.need == 0:
                line_end = raw.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(raw[:line_end].split(b";", 1)[0], 16)
                del raw[:line_end + 2]
                if size == 0:
                    self.others.append("end of body")
                    break
                self.need = size + 2
            if len(raw) < self.need:
                break
            self.text += raw[:self.need - 2]
            del raw[:self.need]
            self.need = 0
        self.frames(now)

    def frames(self, now):
        text = self.text
        start = 0
        while True:
            end = text.find(b"\n\n", start)
            if end < 0:
                break
            frame = bytes(text[start:end])
            start = end + 2
            if frame.startswith(b":"):
                self.heartbeats += 1
            elif frame.startswith(b"retry:"):
                if not self.opened.done():
                    self.opened.set_result(True)
            else:
                parsed = self.cache.get(frame)
                if parsed is None:
                    parsed = self.cache[frame] = Parsed(frame)
                self.event(parsed, now)
        del text[:start]

    def event(self, parsed, now):
        if parsed.type != "call.created":
            self.others.append(parsed.text)
        else:
            self.calls += 1
            self.call_ids.add(parsed.call_id)
        if parsed.id is not None:
            self.ids.append(parsed.id)
        if parsed.occurred is not None:
            self.latencies.append(now - parsed.occurred)
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        if self.expect is not None and self.calls >= self.expect:
            self.done()


async def client_main(pipe, ports, token, count):
    """Opens `count` streams, spread over `ports` in turn; reports to the parent over
    `pipe`, then waits for its commands: ("expect", n, seconds) or ("stop",)."""
    loop = asyncio.get_running_loop()
    cache = {}
    waiting = asyncio.Event()
    subscribers = []

    def done():
        waiting.set()

    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    opened_at = time.monotonic()

    async def open_one(index):
        port = ports[index % len(ports)]
        request = (f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
                   f"\r\n").encode()
        async with gate:
            try:
                _, subscriber = await loop.create_connection(
                    lambda: Subscriber(index, port, request, cache, done), "127.0.0.1", port)
            except OSError as error:
                return f"connect: {error}"
            try:
                ok = await asyncio.wait_for(subscriber.opened, 60)
            except asyncio.TimeoutError:
                ok = False
        subscribers.append(subscriber)
        if not ok:
            return (f"status {subscriber.status}: "
                    f"{subscriber.error_body[-300:].decode(errors='replace')} {subscriber.lost}")
        return None

    failures = [failure for failure in
                await asyncio.gather(*(open_one(index) for index in range(count))) if failure]
    commands = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    pipe.send(("ready", len(subscribers) - len(failures), failures[:5],
               time.monotonic() - opened_at))
    while True:
        command = await commands.get()
        if command[0] == "stop":
            break
        if command[0] == "count":
            pipe.send(("count", sum(1 for s in subscribers if s.lost is None)))
            continue
        _, expected, seconds = command
        for subscriber in subscribers:
            subscriber.expect = expected
        deadline = loop.time() + seconds
        while any(s.calls < expected and s.lost is None for s in subscribers):
            waiting.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(waiting.wait(), remaining)
            except asyncio.TimeoutError:
                break
        # A moment more, for an event delivered twice or after the last.
        await asyncio.sleep(0.5)
        pipe.send(("results", [{
            "port": s.port, "ids": s.ids.tobytes(), "latencies": s.latencies.tobytes(),
            "calls": s.calls, "distinct_calls": len(s.call_ids), "others": s.others[:5],
            "lost": s.lost, "first_at": s.first_at, "last_at": s.last_at,
            "heartbeats": s.heartbeats,
        } for s in subscribers], time.process_time()))
    for subscriber in subscribers:
        if subscriber.transport is not None:
            subscriber.transport.close()
    await asyncio.sleep(0.2)


def client_process(pipe, ports, token, count):
    raise_nofile()
    asyncio.run(client_main(pipe, ports, token, count))
    pipe.close()


class Clients:
    """`count` streams over `procs` client processes (connection i to ports[i % n])."""

    def __init__(self, procs, ports, token, count):
        context = multiprocessing.get_context("fork")
        self.pipes, self.processes = [], []
        started = time.monotonic()
        shares = [count // procs + (1 if n < count % procs else 0) for n in range(procs)]
        for share in shares:
            parent, child = context.Pipe()
            # Each process alternates over the ports starting from the first: with an
            # odd share the first port gets one more, so rotate by the process.
            rotated = ports[len(self.processes) % len(ports):] + \
                ports[:len(self.processes) % len(ports)]
            process = context.Process(target=client_process, args=(child, rotated, token, share),
                                      daemon=True)
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)
        self.opened, failures = 0, []
        for pipe in self.pipes:
            if not pipe.poll(300):
                self.stop()
                fail("a client process did not report its streams within 300 s")
            _, opened, failed, _ = pipe.recv()
            self.opened += opened
            failures += failed
        self.open_seconds = time.monotonic() - started
        if failures or self.opened != count:
            self.stop()
            fail(f"{count - self.opened} of {count} streams did not open: {failures[:3]}")

    def still_open(self):
        for pipe in self.pipes:
            pipe.send(("count",))
        return sum(pipe.recv()[1] for pipe in self.pipes)

    def collect(self, expected, seconds):
        for pipe in self.pipes:
            pipe.send(("expect", expected, seconds))
        results, cpu = [], 0.0
        for pipe in self.pipes:
            if not pipe.poll(seconds + 120):
                fail("a client process did not report its results")
            _, part, used = pipe.recv()
            results += part
            cpu += used
        return results, cpu

    def stop(self):
        for pipe in self.pipes:
            try:
                pipe.send(("stop",))
            except OSError:
                pass
        for process in self.processes:
            process.join(30)
            if process.is_alive():
                process.kill()


# --- the webhooks --------------------------------------------------------------------

class Poster:
    """Unsigned CallRail pre-call deliveries (development: tenant OTTO_DEFAULT_TENANT,
    one call.created each) over a few keep-alive connections."""

    def __init__(self, port, prefix):
        self.port, self.prefix = port, prefix
        self.local = threading.local()
        self.lock = threading.Lock()
        self.failures = []
        self.processed = 0
        self.latencies = []  # seconds from sending each delivery to its answer

    def post(self, n):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30)
        body = json.dumps({"call_id": f"{self.prefix}-{n}"})
        sent = time.monotonic()
        try:
            connection.request("POST", "/webhook/callrail/pre-call", body,
                               {"content-type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.local.connection = None
            connection.close()
            with self.lock:
                self.failures.append(f"{n}: {error!r}")
            return
        with self.lock:
            self.latencies.append(time.monotonic() - sent)
            if response.status == 200 and b'"processed"' in answer:
                self.processed += 1
            else:
                self.failures.append(f"{n}: {response.status} {answer[:200]!r}")

    def run(self, count, rate):
        """Posts `count` deliveries, the n-th at start + n/rate; returns (start, end,
        the latest a post started after its time in seconds)."""
        work = queue.Queue()
        late = [0.0]

        def worker():
            while True:
                item = work.get()
                if item is None:
                    return
                n, due = item
                late[0] = max(late[0], time.time() - due)
                self.post(n)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(POSTERS)]
        for thread in threads:
            thread.start()
        start = time.time()
        for n in range(count):
            due = start + n / rate
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            work.put((n, due))
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
        return start, time.time(), late[0]


# --- the measurements ----------------------------------------------------------------

def percentile(sorted_values, percent):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(percent / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def webhooks_alone(server, rate, prefix):
    """The webhooks' answers at `rate` with no stream open: the comparison for their
    answers during the fan-out. Returns (p50 ms, p99 ms, failures)."""
    Poster(server.port, f"{prefix}w").run(WARMUP_WEBHOOKS, rate)
    poster = Poster(server.port, prefix)
    poster.run(rate * BASELINE_SECONDS, rate)
    answers = sorted(poster.latencies)
    log(f"{server.name}: webhooks alone at {rate}/s: answer p50 "
        f"{percentile(answers, 50) * 1000:.0f} ms p99 {percentile(answers, 99) * 1000:.0f} ms"
        f", {len(poster.failures)} not processed")
    return percentile(answers, 50) * 1000, percentile(answers, 99) * 1000, poster.failures


def idle(server, token, count, procs, hold):
    """RSS of `server` before, with `count` idle streams and after they close."""
    time.sleep(1)
    before = server.rss()
    log(f"{server.name}: opening {count} idle streams (RSS {before:.1f} MiB)")
    clients = Clients(procs, [server.port], token, count)
    time.sleep(hold)
    with_streams = server.rss()
    counted = server.open_streams()
    still = clients.still_open()
    clients.stop()
    closed_at = time.monotonic()
    if still != count:
        fail(f"{server.name}: {count - still} of {count} idle streams were closed within "
             f"{hold} s")
    if counted != count:
        fail(f"{server.name}: {count} idle streams open, the server counts {counted} "
             f"(event_stream_connections)")
    # The server counts a stream closed by its client once a write to it fails.
    released = None
    while time.monotonic() - closed_at < RELEASE_WAIT:
        if server.open_streams() == 0:
            released = time.monotonic() - closed_at
            break
        time.sleep(0.5)
    if released is None:
        fail(f"{server.name}: {server.open_streams()} of {count} streams its clients closed "
             f"still counted open after {RELEASE_WAIT} s (event_stream_connections)")
    after = server.rss()
    figures = {"server": server.name, "streams": count, "before": before,
               "with": with_streams, "after": after, "peak": server.status("VmHWM"),
               "per_stream_kib": (with_streams - before) * 1024 / count,
               "open_seconds": clients.open_seconds, "released": released}
    log(f"{server.name}: {count} idle streams in {clients.open_seconds:.1f} s; RSS "
        f"{before:.1f} -> {with_streams:.1f} MiB ({figures['per_stream_kib']:.1f} KiB each), "
        f"{after:.1f} MiB after they closed (the server let them go {released:.1f} s after "
        f"their clients closed them)")
    if not server.alive():
        fail(f"{server.name} exited during the idle streams")
    return figures


def exactly_once(name, results, expected):
    """Fails unless every subscriber's results hold `expected` call.created, with
    consecutive ids (no gap, repeat or reordering), the same ids as every other
    subscriber, nothing else, and no disconnect. Returns (first id, last id)."""
    if expected == 0:
        fail(f"{name}: no webhook was processed, so no event to check")
    problems = []
    reference = None
    for n, result in enumerate(results):
        ids = array.array("q")
        ids.frombytes(result["ids"])
        issue = None
        if result["lost"]:
            issue = f"disconnected ({result['lost']})"
        elif result["others"]:
            issue = f"unexpected frames {result['others']}"
        elif result["calls"] != expected or len(ids) != expected:
            issue = f"received {result['calls']} call.created of {expected}"
        elif result["distinct_calls"] != expected:
            issue = f"{expected - result['distinct_calls']} call.created repeated"
        elif any(ids[k + 1] != ids[k] + 1 for k in range(len(ids) - 1)):
            issue = "ids not consecutive (a gap, a repeat or out of order)"
        elif reference is None:
            reference = (ids[0], ids[-1])
        elif (ids[0], ids[-1]) != reference:
            issue = f"ids {ids[0]}..{ids[-1]}, another subscriber {reference[0]}..{reference[1]}"
        if issue:
            problems.append(f"subscriber {n} (port {result['port']}): {issue}")
    if problems:
        fail(f"{name}: {len(problems)} of {len(results)} subscribers did not receive every "
             f"event exactly once in order: {problems[:5]}")
    return reference


def fan_out(name, servers, poster_port, token, subscribers, rate, seconds, procs, prefix):
    """`subscribers` streams over `servers` (in turn), webhooks posted to
    `poster_port`; checks that every subscriber got every event once, in order."""
    ports = [server.port for server in servers]
    for server in servers:
        if server.open_streams():
            fail(f"{server.name}: {server.open_streams()} streams open before the fan-out")
    log(f"{name}: opening {subscribers} subscribers on {', '.join(map(str, ports))}")
    clients = Clients(procs, ports, token, subscribers)
    try:
        time.sleep(1)
        expected = rate * seconds
        cpu_before = [server.cpu_seconds() for server in servers]
        logs_before = [server.log_size() for server in servers]
        metrics_before = [server.metrics() for server in servers]
        log(f"{name}: posting {expected} webhooks at {rate}/s to {poster_port}")
        poster = Poster(poster_port, prefix)
        start, end, late = poster.run(expected, rate)
        posted, expected = expected, poster.processed
        if poster.failures:
            # The server's answer, reported (not a fault of the workload): only the
            # deliveries it processed made events, and those must all arrive.
            log(f"{name}: WARNING: {len(poster.failures)} of {posted} webhooks not "
                f"processed: {poster.failures[:3]}")
        results, client_cpu = clients.collect(expected, 30)
        server_cpu = sum(server.cpu_seconds() for server in servers) - sum(cpu_before)
        metrics_after = [server.metrics() for server in servers]
    finally:
        clients.stop()
    for server in servers:
        if not server.alive():
            fail(f"{server.name} exited during the fan-out")

    reference = exactly_once(name, results, expected)

    def latency(selected):
        values = array.array("d")
        for result in selected:
            values.frombytes(result["latencies"])
        values = sorted(values)
        return {"p50": percentile(values, 50) * 1000, "p99": percentile(values, 99) * 1000,
                "max": (values[-1] if values else float("nan")) * 1000, "n": len(values)}

    def delta(name):
        return sum(after.get(name, 0.0) - before.get(name, 0.0)
                   for before, after in zip(metrics_before, metrics_after))

    dropped = delta("event_stream_dropped_total")
    if dropped:
        fail(f"{name}: the servers ended {dropped:.0f} streams (event_stream_dropped_total)")
    handed = delta("event_delivery_lag_ms_count")
    server_lag = delta("event_delivery_lag_ms_sum") / handed if handed else float("nan")
    received = sum(result["calls"] for result in results)
    last = max(result["last_at"] for result in results)
    answers = sorted(poster.latencies)
    server_problems = {}
    for server, since in zip(servers, logs_before):
        for problem, count in server.problems(since).items():
            server_problems[f"{server.name}: {problem}"] = count
    row = {"name": name, "subscribers": subscribers, "webhooks": expected, "rate": rate,
           "posted": posted, "failed": poster.failures,
           "webhook_p50": percentile(answers, 50) * 1000,
           "webhook_p99": percentile(answers, 99) * 1000,
           "webhook_max": answers[-1] * 1000 if answers else float("nan"),
           "problems": server_problems,
           "seconds": seconds, "received": received, "span": last - start,
           "delivered_per_s": received / (last - start), "offered_per_s": rate * subscribers,
           "post_seconds": end - start, "late": late, "ids": reference,
           "client_cpu": client_cpu, "server_cpu": server_cpu, **latency(results),
           "server_lag": server_lag, "handed": handed,
           "per_server": [(server.name, latency([r for r in results
                                                 if r["port"] == server.port]))
                          for server in servers] if len(servers) > 1 else []}
    log(f"{name}: {received} events to {subscribers} subscribers, exactly once and in order; "
        f"{row['delivered_per_s']:.0f} events/s; latency p50 {row['p50']:.1f} ms "
        f"p99 {row['p99']:.1f} ms max {row['max']:.1f} ms")
    return row


def run(binary, idle_streams=5000, subscribers=1000, rate=50, seconds=20, procs=2,
        hold=5, backends=("sqlite", "postgres")):
    """Both measurements on each of `backends`; returns the Markdown section."""
    binary = os.path.abspath(binary)
    if not os.path.exists(binary):
        fail(f"{binary} is missing")
    soft, hard = raise_nofile()
    wanted = idle_streams + 100
    if soft < wanted:
        fail(f"ulimit -n is {soft} (hard {hard}); {idle_streams} streams need at least "
             f"{wanted}: raise the hard limit")
    if soft < NOFILE_WANTED:
        log(f"WARNING: ulimit -n is {soft} (hard {hard}), below {NOFILE_WANTED}")
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="otto-live-")
    servers, idle_rows, fan_rows = [], [], []
    run_id = f"live{int(time.time())}"
    created_database = False
    succeeded = False
    try:
        for backend in backends:
            if backend == "sqlite":
                env = server_env(os.path.join(work, "sqlite"), 18400)
                lite = Server(binary, "sqlite", 18400, env)
                servers.append(lite)
                token = cli(binary, env, "token", "issue", "--tenant", TENANT, "--user",
                            "user_live", "--role", "org:admin", "--ttl", "2h")
                alone = webhooks_alone(lite, rate, f"{run_id}-sb")
                idle_rows.append(idle(lite, token, idle_streams, procs, hold))
                fan_rows.append(fan_out("sqlite (one process)", [lite], lite.port, token,
                                        subscribers, rate, seconds, procs, f"{run_id}-s"))
                fan_rows[-1]["alone"] = alone
                lite.stop()
                servers.remove(lite)
            else:
                for tool in ("psql",):
                    if shutil.which(tool) is None:
                        fail(f"missing {tool}")
                psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
                psql(f"CREATE DATABASE {DATABASE}")
                created_database = True
                env = server_env(os.path.join(work, "pg"), 18500)
                env["OTTO_BISCUIT_PRIVATE_KEY"] = cli(binary, env, "token", "keygen") \
                    .splitlines()[0].split("=", 1)[1]
                env["DATABASE_URL"] = pg_url(DATABASE)
                cli(binary, env, "migrate", "up")
                token = cli(binary, env, "token", "issue", "--tenant", TENANT, "--user",
                            "user_live", "--role", "org:admin", "--ttl", "2h")
                first = Server(binary, "postgres-1", 18500, env)
                servers.append(first)
                second_env = dict(env, PORT="18600", OTTO_WORKER_PORT="19600",
                                  OTTO_METRICS_ADDR="127.0.0.1:20600",
                                  OTTO_DATA_DIR=os.path.join(work, "pg2"))
                os.makedirs(second_env["OTTO_DATA_DIR"])
                second = Server(binary, "postgres-2", 18600, second_env)
                servers.append(second)
                alone = webhooks_alone(first, rate, f"{run_id}-pb")
                idle_rows.append(idle(first, token, idle_streams, procs, hold))
                fan_rows.append(fan_out("postgres (two processes)", [first, second],
                                        first.port, token, subscribers, rate, seconds, procs,
                                        f"{run_id}-p"))
                fan_rows[-1]["alone"] = alone
                for server in (second, first):
                    server.stop()
                    servers.remove(server)
        succeeded = True
    finally:
        for server in servers:
            server.stop()
        if succeeded:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"the servers' logs are kept in {work}")
        if created_database:
            try:
                psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            except subprocess.CalledProcessError:
                pass
    elapsed = time.monotonic() - started
    log(f"done in {elapsed:.0f} s")
    return markdown(idle_rows, fan_rows, procs, hold, (soft, hard), elapsed)


def markdown(idle_rows, fan_rows, procs, hold, nofile, elapsed):
    lines = ["### Live events (SSE, `GET /api/v1/events`)", ""]
    if idle_rows:
        lines += [
            f"Idle streams on one `serve` process, opened by {procs} client processes and "
            f"held {hold} s (only the `retry:` hint read); RSS is the server's VmRSS.",
            "",
            "| server | streams | RSS before MiB | RSS with them MiB | KiB per stream | "
            "seconds to open all | RSS after they closed MiB | s until the server let them go |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in idle_rows:
            lines.append(
                f"| {row['server']} | {row['streams']} | {row['before']:.1f} | "
                f"{row['with']:.1f} | {row['per_stream_kib']:.1f} | {row['open_seconds']:.1f} | "
                f"{row['after']:.1f} | {row['released']:.1f} |")
        lines += ["", "A stream whose client went away is let go when a write to it fails: "
                  "the second heartbeat (OTTO_EVENT_HEARTBEAT_SECONDS, 15 s) after the close, "
                  "or an event; until then it counts against the stream limits.", ""]
    if fan_rows:
        first = fan_rows[0]
        lines += [
            f"Fan-out: {first['subscribers']} subscribers of one tenant (leadership, every "
            f"event), {first['posted']} webhooks posted at {first['rate']}/s for "
            f"{first['seconds']} s, each one `call.created`. Latency: the client's receive "
            f"time minus the event's `occurred_at`. Events/s delivered: events received by "
            f"all subscribers over the time from the first post to the last event received "
            f"(offered: rate × subscribers). The server's mean lag: its own "
            f"`event_delivery_lag_ms` (`occurred_at` to hand-over to the streams' buffers) "
            f"over the run, on every process. "
            f"Webhook answer: from sending a delivery to its response; \"no stream open\": "
            f"{BASELINE_SECONDS} s of the same webhooks at the same rate to the same process "
            f"before any stream was opened.",
            "",
            "| server | subscribers | events received | events/s delivered | offered/s | "
            "p50 ms | p99 ms | max ms | server's mean lag ms | webhooks processed | "
            "webhook answer p50 / p99 ms | same, no stream open | server CPU s | "
            "client CPU s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in fan_rows:
            lines.append(
                f"| {row['name']} | {row['subscribers']} | {row['received']} | "
                f"{row['delivered_per_s']:.0f} | {row['offered_per_s']} | {row['p50']:.1f} | "
                f"{row['p99']:.1f} | {row['max']:.1f} | {row['server_lag']:.1f} | "
                f"{row['webhooks']} of {row['posted']} | {row['webhook_p50']:.0f} / "
                f"{row['webhook_p99']:.0f} | {row['alone'][0]:.0f} / {row['alone'][1]:.0f} | "
                f"{row['server_cpu']:.1f} | {row['client_cpu']:.1f} |")
            for server, figures in row["per_server"]:
                lines.append(
                    f"| … subscribers on {server} | {row['subscribers'] // len(row['per_server'])}"
                    f" | {figures['n']} | — | — | {figures['p50']:.1f} | {figures['p99']:.1f} | "
                    f"{figures['max']:.1f} | — | — | — | — | — | — |")
        lines.append("")
        for row in fan_rows:
            lines.append(
                f"- {row['name']}: every subscriber received all {row['webhooks']} events "
                f"(ids {row['ids'][0]}..{row['ids'][1]}) exactly once and in order; the "
                f"{row['webhooks']} posts took {row['post_seconds']:.1f} s (the latest started "
                f"{row['late'] * 1000:.0f} ms after its time); last event "
                f"{row['span'] - row['post_seconds']:.2f} s after the last post ended.")
            if row["alone"][2]:
                lines.append(
                    f"- {row['name']}: with no stream open, **{len(row['alone'][2])} webhooks "
                    f"were not processed**; first: `{row['alone'][2][0][:160]}`.")
            if row["failed"]:
                lines.append(
                    f"- {row['name']}: **{len(row['failed'])} of {row['posted']} webhooks were "
                    f"not processed** (slowest answer {row['webhook_max']:.0f} ms); first: "
                    f"`{row['failed'][0][:160]}`.")
            if row["problems"]:
                lines.append(f"- {row['name']}: the servers logged " + "; ".join(
                    f"`{problem}` ×{count}" for problem, count in row["problems"].items()) + ".")
    lines += [
        f"- Method: the client is Python asyncio on raw sockets ({procs} processes; it "
        f"parses the chunked body and every SSE frame); webhooks are unsigned CallRail "
        f"`pre-call` deliveries (development default, tenant `{TENANT}`) over {POSTERS} "
        f"keep-alive connections from the parent process. On PostgreSQL the webhooks go "
        f"to `postgres-1`; subscribers alternate between the two processes, so half of "
        f"them are reached through `LISTEN/NOTIFY`. OTTO_EVENT_STREAMS_PER_USER and "
        f"_PER_TENANT are raised to {STREAM_LIMIT}; other settings are the defaults "
        f"(OTTO_EVENT_BUFFER 256). `ulimit -n` {nofile[0]} (hard {nofile[1]}).",
        "- An event's `occurred_at` is stamped when it is appended, just before its "
        "transaction commits, so the latency is commit to client. The client, the "
        "servers and the database share the machine's cores; the client's own work "
        "(client CPU above, about a core) delays its receive times and slows the servers.",
        f"- This part took {elapsed:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release",
        "otto-server"), help="the otto-server binary (default: target/release/otto-server)")
    parser.add_argument("--idle", type=int, default=5000, help="idle streams (default 5000)")
    parser.add_argument("--subscribers", type=int, default=1000,
                        help="fan-out subscribers (default 1000)")
    parser.add_argument("--rate", type=int, default=50, help="webhooks per second (default 50)")
    parser.add_argument("--seconds", type=int, default=20,
                        help="seconds of webhooks (default 20)")
    parser.add_argument("--client-procs", type=int, default=2,
                        help="client processes holding the streams (default 2)")
    parser.add_argument("--hold", type=int, default=5,
                        help="seconds the idle streams are held before RSS is read (default 5)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--update-docs", action="store_true",
                        help="replace (or append) the Live events section of docs/benchmarks.md")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    section = run(args.bin, args.idle, args.subscribers, args.rate, args.seconds,
                  args.client_procs, args.hold, backends)
    print(section)
    if args.update_docs:
        now = datetime.datetime.now(datetime.timezone.utc)
        docs_section.update_docs(
            section,
            f"Run: {now:%Y-%m-%dT%H:%MZ}, `python3 scripts/bench/live_events.py` alone "
            f"({os.cpu_count()} cores, shared with other work).",
            "Live events")


if __name__ == "__main__":
    main()
