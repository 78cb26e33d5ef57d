#!/usr/bin/env python3
"""Faults under load, against real `otto-server` processes: `make chaos`.

Each scenario starts its own servers on loopback (PostgreSQL database of its own,
Redis, an SMS stub where needed), puts them under load from threads of this process,
injects one fault, and then checks the database: nothing acknowledged is lost and
nothing is applied twice. Every scenario prints its figures; with `--report FILE` they
are written as Markdown (docs/reliability.md).

Scenarios:
  duplicate-storm   two servers, one database: 100 ids x 20 copies, concurrently
  sigkill           the server is killed (SIGKILL) under webhook load and restarted
  postgres-outage   the database becomes unreachable under load, then comes back
  postgres-restart  PostgreSQL itself is restarted under load (OTTO_CHAOS_RESTART_POSTGRES=1)
  redis-outage      Redis dies under authenticated load, then comes back
  worker-kill       a worker is killed while its job's SMS request is in flight
  slow-clients      hundreds of slow and idle connections beside a normal client

Needs PostgreSQL on 127.0.0.1:5432 (OTTO_CHAOS_PG_URL, else the server of
OTTO_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432) and `redis-server`
on PATH. Uses the debug
binary (`cargo build -p otto-server`) unless OTTO_CHAOS_BIN names another. Exits 1
when any check fails.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("OTTO_CHAOS_BIN", os.path.join(TARGET, "debug", "otto-server"))
PG_ADMIN = os.environ.get("OTTO_CHAOS_PG_URL") or os.environ.get(
    "OTTO_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0] + "/postgres"
TENANT = "org_chaos"
COMPANY = "COMCHAOS"
SIGNING_KEY = "chaos-callrail-signing-key"  # pragma: allowlist secret
TWILIO_TOKEN = "chaos-twilio-token"  # pragma: allowlist secret
CALL_COMPLETE = "/webhook/callrail/call-complete"
JOBS_PER_MISSED_CALL = 2  # missed_call_recovery and ai_follow_up


def log(message):
    print(f"chaos: {message}", file=sys.stderr, flush=True)


class CheckFailed(Exception):
    pass


class Skipped(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- PostgreSQL ---------------------------------------------------------------------

def psql(sql, database="postgres"):
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + database
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


class Database:
    """A fresh database, dropped at the end."""

    def __init__(self, name):
        self.name = name
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(f"CREATE DATABASE {name}")
        self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def value(self, sql):
        return int(psql(sql, self.name) or 0)

    def drop(self):
        try:
            psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except subprocess.CalledProcessError as error:
            log(f"could not drop {self.name}: {error.stderr}")


# --- otto-server processes ----------------------------------------------------------

def base_env(work, name, port):
    data = os.path.join(work, name)
    os.makedirs(data, exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "REDIS_", "OTTO_", "RATE_LIMIT_", "CALLRAIL_",
                                  "TWILIO_", "CLERK_", "BLAND_", "OTEL_"))}
    env.update({
        "OTTO_DATA_DIR": data, "HOST": "127.0.0.1", "PORT": str(port),
        "OTTO_WORKER_PORT": str(free_port()), "OTTO_METRICS_ADDR": "127.0.0.1:0",
        "CALLRAIL_WEBHOOK_SECRET": SIGNING_KEY,
        "RATE_LIMIT_USER": "1000000/minute", "RATE_LIMIT_TENANT": "1000000/minute",
        "OTEL_TRACES_EXPORTER": "none", "OTTO_SERVE_WORKER": "off", "LOG_LEVEL": "WARN",
    })
    return env


def cli(env, *args):
    done = subprocess.run([BIN, *args], env=env, capture_output=True, text=True)
    check(done.returncode == 0, f"otto-server {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class Process:
    """One `otto-server` process (`serve` or `worker`), restartable."""

    def __init__(self, name, env, command="serve"):
        self.name, self.env, self.command = name, env, command
        self.log_path = os.path.join(env["OTTO_DATA_DIR"], f"{name}.log")
        self.process = None
        self.start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.env['PORT']}"

    def start(self):
        log_file = open(self.log_path, "a")
        self.process = subprocess.Popen([BIN, self.command], env=self.env, stdout=log_file,
                                        stderr=subprocess.STDOUT)
        log_file.close()
        if self.command == "serve":
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise CheckFailed(f"{self.name} exited at start; see {self.log_path}")
                if request("GET", f"{self.base}/health", timeout=1)[0] == 200:
                    return
                time.sleep(0.05)
            raise CheckFailed(f"{self.name} did not answer /health in 60 s")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def request(method, url, body=None, headers=None, timeout=10):
    """(status, parsed JSON or None); status None when no answer came."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, parse_json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, parse_json(error.read())
    except (OSError, http.client.HTTPException):
        return None, None


def parse_json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def missed_call(call_id):
    body = json.dumps({
        "resource_id": call_id, "company_resource_id": COMPANY, "direction": "inbound",
        "answered": False, "customer_phone_number": "+15551230000",
        "customer_name": "Chaos Caller",
    }, separators=(",", ":")).encode()
    signature = base64.b64encode(hmac.new(SIGNING_KEY.encode(), body, hashlib.sha1).digest())
    return body, {"Content-Type": "application/json", "Signature": signature.decode()}


def deliver(base, call_id):
    body, headers = missed_call(call_id)
    return request("POST", base + CALL_COMPLETE, body, headers)


def postgres_server(work, database, name="server", **extra):
    env = base_env(work, name, free_port())
    env["DATABASE_URL"] = database.url
    env.update(extra)
    return env


def link_company(env):
    cli(env, "migrate", "up")
    cli(env, "tenant", "link", "--provider", "callrail", "--account", COMPANY, "--tenant", TENANT)


def stored(database):
    """Figures from the database, read as its owner (row-level security bypassed)."""
    return {
        "calls": database.value(
            f"SELECT count(*) FROM calls WHERE tenant_id = '{TENANT}'"),
        "distinct_calls": database.value(
            f"SELECT count(DISTINCT external_id) FROM calls WHERE tenant_id = '{TENANT}'"),
        "processed": database.value(
            "SELECT count(*) FROM webhook_deliveries WHERE outcome = 'processed'"),
        "duplicates": database.value(
            "SELECT count(*) FROM webhook_deliveries WHERE outcome = 'duplicate_ignored'"),
        "jobs": database.value("SELECT count(*) FROM jobs WHERE tenant_id IS NOT NULL"),
        "distinct_jobs": database.value(
            "SELECT count(DISTINCT (kind, payload)) FROM jobs WHERE tenant_id IS NOT NULL"),
    }


def exactly_once(database, acknowledged, ids):
    """Every id answered 2xx is stored once with its jobs; every id is stored once."""
    figures = stored(database)
    present = set(psql(f"SELECT external_id FROM calls WHERE tenant_id = '{TENANT}'",
                       database.name).split())
    lost = sorted(set(acknowledged) - present)
    check(not lost, f"acknowledged but not stored: {lost[:5]} ({len(lost)})")
    check(figures["calls"] == figures["distinct_calls"] == len(ids),
          f"{len(ids)} ids, calls stored {figures['calls']} "
          f"({figures['distinct_calls']} distinct)")
    check(figures["processed"] == len(ids),
          f"{figures['processed']} deliveries processed for {len(ids)} ids")
    check(figures["jobs"] == figures["distinct_jobs"] == JOBS_PER_MISSED_CALL * len(ids),
          f"jobs {figures['jobs']} ({figures['distinct_jobs']} distinct) for {len(ids)} ids")
    figures["lost"] = len(lost)
    return figures


# --- load -------------------------------------------------------------------------

class WebhookLoad:
    """Threads delivering unique missed calls until stopped; an id is retried (as a
    provider would) until it is answered 2xx. Records every status it saw."""

    def __init__(self, bases, threads, prefix):
        self.bases, self.prefix = bases, prefix
        self.next_id = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.acknowledged, self.statuses, self.ids = [], {}, []
        self.retries = 0
        self.bad_problems = []
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(threads)]
        for thread in self.threads:
            thread.start()

    def take_id(self):
        with self.lock:
            self.next_id += 1
            call_id = f"{self.prefix}{self.next_id}"
            self.ids.append(call_id)
            return call_id

    def seen(self, status, body):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status is not None and status >= 500 and (
                    status != 503 or not isinstance(body, dict) or "type" not in body):
                self.bad_problems.append((status, body))

    def run(self, thread):
        while not self.stopping.is_set():
            call_id = self.take_id()
            attempt = 0
            while True:
                base = self.bases[(thread + attempt) % len(self.bases)]
                status, body = deliver(base, call_id)
                self.seen(status, body)
                if status is not None and 200 <= status < 300:
                    with self.lock:
                        self.acknowledged.append(call_id)
                    break
                attempt += 1
                with self.lock:
                    self.retries += 1
                time.sleep(0.1)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=120)
        check(not any(thread.is_alive() for thread in self.threads),
              "a delivery was never acknowledged after the fault ended")

    def figures(self, database, notes):
        """The run's figures, after checking that no 5xx but a 503 problem was answered
        and that every id is stored exactly once."""
        check(not self.bad_problems, f"5xx other than 503 problems: {self.bad_problems[:3]}")
        figures = exactly_once(database, self.acknowledged, self.ids)
        return {"sent": len(self.ids), "acknowledged": len(self.acknowledged), **figures,
                "notes": f"{notes}; {self.retries} retries; "
                         f"answers: {status_summary(self.statuses)}"}


def status_summary(statuses):
    return ", ".join(f"{'no answer' if status is None else status}: {count}"
                     for status, count in sorted(statuses.items(), key=lambda kv: str(kv[0])))


# --- scenarios ----------------------------------------------------------------------

def duplicate_storm(work):
    database = Database("otto_chaos_storm")
    servers = []
    try:
        env = postgres_server(work, database, "storm-a")
        link_company(env)
        servers.append(Process("storm-a", env))
        servers.append(Process("storm-b", postgres_server(work, database, "storm-b")))
        ids, copies = [f"STORM{n}" for n in range(100)], 20
        sends = [(call_id, copy) for call_id in ids for copy in range(copies)]
        random.Random(7).shuffle(sends)

        def send(item):
            index, (call_id, _) = item
            return deliver(servers[index % 2].base, call_id)

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            results = list(pool.map(send, enumerate(sends)))
        answered = sum(1 for status, _ in results if status is not None and status < 300)
        statuses = {}
        for status, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        check(answered == len(sends), f"answers: {status_summary(statuses)}")
        figures = exactly_once(database, ids, ids)
        check(figures["duplicates"] == len(sends) - len(ids),
              f"{figures['duplicates']} duplicates, expected {len(sends) - len(ids)}")
        return {"sent": len(sends), "acknowledged": answered, **figures,
                "notes": "2 servers, 32 concurrent clients, 100 ids x 20 copies shuffled"}
    finally:
        for server in servers:
            server.stop()
        database.drop()


def sigkill(work):
    database = Database("otto_chaos_kill")
    server = None
    try:
        env = postgres_server(work, database, "kill")
        link_company(env)
        server = Process("kill", env)
        load = WebhookLoad([server.base], 8, "KILL")
        time.sleep(2)
        before = len(load.acknowledged)
        server.kill()
        time.sleep(0.5)
        server.start()
        time.sleep(2)
        load.stop()
        return load.figures(database, f"SIGKILL after {before} acknowledged")
    finally:
        if server:
            server.stop()
        database.drop()


class TcpProxy:
    """Forwards a local port to PostgreSQL; `cut()` drops every connection and refuses
    new ones (as a database restart does), `restore()` accepts again."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets, self.lock = [], threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def pipe(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.up = False
        with self.lock:
            for end in self.sockets:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets = []

    def restore(self):
        self.up = True


def postgres_outage(work):
    """The connection to the database is cut (a TCP proxy drops every connection and
    refuses new ones), as a network partition or a failover does."""
    proxy = TcpProxy(int(PG_ADMIN.rsplit(":", 1)[1].split("/")[0]))
    return database_fault(work, "otto_chaos_pg", "PGOUT", proxy.cut, proxy.restore,
                          lambda url: url.replace(":5432/", f":{proxy.port}/"),
                          "connection cut for 3 s")


def postgres_restart(work):
    """PostgreSQL itself is stopped (fast shutdown: sessions are terminated) and
    started again. Restarting the machine's server is intrusive, so it runs only with
    OTTO_CHAOS_RESTART_POSTGRES=1 (CI sets it) and a Debian cluster to restart."""
    clusters = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    if os.environ.get("OTTO_CHAOS_RESTART_POSTGRES") != "1" or not clusters \
            or not shutil.which("pg_ctlcluster"):
        raise Skipped("needs OTTO_CHAOS_RESTART_POSTGRES=1 and pg_ctlcluster")
    cluster = [clusters[0], "main"]

    def pg_ctl(action, *options):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action,
                        *options], check=True, capture_output=True)

    def start():
        pg_ctl("start")
        deadline = time.monotonic() + 30
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
            check(time.monotonic() < deadline, "PostgreSQL did not come back")
            time.sleep(0.1)

    return database_fault(work, "otto_chaos_restart", "PGRESTART",
                          lambda: pg_ctl("stop", "-m", "fast"), start, lambda url: url,
                          "PostgreSQL stopped (fast) for 3 s and started")


def database_fault(work, name, prefix, fail, recover, url_of, description):
    database = Database(name)
    server = None
    try:
        env = postgres_server(work, database, prefix.lower(), DATABASE_URL=url_of(database.url),
                              OTTO_READY_TIMEOUT_MS="300")
        link_company(env)
        server = Process(prefix.lower(), env)
        pid = server.process.pid
        load = WebhookLoad([server.base], 4, prefix)
        time.sleep(1.5)
        fail()
        try:
            time.sleep(1)
            ready_during = request("GET", f"{server.base}/ready", timeout=5)[0]
            time.sleep(2)
        finally:
            recover()
        deadline = time.monotonic() + 30
        while request("GET", f"{server.base}/ready")[0] != 200:
            check(time.monotonic() < deadline, "not ready 30 s after the database came back")
            time.sleep(0.2)
        time.sleep(1.5)
        load.stop()
        check(server.process.poll() is None and server.process.pid == pid,
              "the server did not survive the outage")
        check(ready_during == 503, f"/ready answered {ready_during} during the outage")
        check(load.statuses.get(503, 0) > 0, "no delivery was refused with a 503 during the "
                                             f"outage: {status_summary(load.statuses)}")
        return load.figures(database, f"{description}; /ready {ready_during} during it")
    finally:
        if server:
            server.stop()
        database.drop()


class RedisServer:
    def __init__(self, work):
        self.port = free_port()
        self.work = work
        os.makedirs(work, exist_ok=True)
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.work], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.ping():
            check(time.monotonic() < deadline, "redis-server did not start")
            time.sleep(0.05)

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def evalsha_calls(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            conn.sendall(b"INFO commandstats\r\n")
            time.sleep(0.1)
            info = conn.recv(65536).decode(errors="replace")
        for line in info.splitlines():
            if line.startswith("cmdstat_evalsha:calls="):
                return int(line.split("=", 1)[1].split(",", 1)[0])
        return 0

    def kill(self):
        self.process.kill()
        self.process.wait()


def redis_outage(work):
    redis = RedisServer(os.path.join(work, "redis"))
    env = base_env(work, "redis-otto", free_port())
    env.update({"REDIS_URL": f"redis://127.0.0.1:{redis.port}",
                "OTTO_READY_TIMEOUT_MS": "300"})
    server = None
    try:
        cli(env, "migrate", "up")
        token = cli(env, "token", "issue", "--tenant", TENANT, "--user", "user_chaos",
                    "--role", "org:admin", "--ttl", "1h")
        server = Process("redis-otto", env)
        headers = {"Authorization": f"Bearer {token}"}
        statuses, lock, stopping = {}, threading.Lock(), threading.Event()

        def load():
            while not stopping.is_set():
                status, _ = request("GET", f"{server.base}/api/v1/me", headers=headers)
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        used_before = redis.evalsha_calls()
        redis.kill()
        time.sleep(1)
        ready_during = request("GET", f"{server.base}/ready", timeout=5)[0]
        with lock:
            answered_during = dict(statuses)
        time.sleep(1.5)
        redis.start()
        deadline = time.monotonic() + 30
        while request("GET", f"{server.base}/ready")[0] != 200:
            check(time.monotonic() < deadline, "not ready 30 s after Redis came back")
            time.sleep(0.2)
        time.sleep(1.5)
        used_after = redis.evalsha_calls()
        stopping.set()
        for thread in threads:
            thread.join()
        check(set(statuses) == {200}, f"answers: {status_summary(statuses)}")
        check(used_before > 0, "the limiter did not use Redis before the outage")
        check(ready_during == 503, f"/ready answered {ready_during} with Redis down")
        check(used_after > 0, "the limiter did not return to Redis after the outage")
        total = sum(statuses.values())
        return {"sent": total, "acknowledged": statuses.get(200, 0),
                "notes": f"GET /api/v1/me, 4 clients; Redis killed for 2.5 s; "
                         f"{sum(answered_during.values())} answered before and during the "
                         f"kill; /ready {ready_during} during it; EVALSHA before "
                         f"{used_before}, on the restarted Redis {used_after}; "
                         f"answers: {status_summary(statuses)}"}
    finally:
        if server:
            server.stop()
        redis.kill()


class SmsStub(http.server.ThreadingHTTPServer):
    """Twilio's Messages API: the first send is answered after `delay` seconds (the
    worker is killed meanwhile); every send is recorded when it arrives."""

    def __init__(self, delay):
        self.delay, self.sent, self.lookups = delay, [], 0
        self.first_send = threading.Event()
        super().__init__(("127.0.0.1", 0), SmsHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"


class SmsHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, document):
        body = json.dumps(document).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the worker is gone

    def do_POST(self):
        form = dict(urllib.parse.parse_qsl(
            self.rfile.read(int(self.headers["Content-Length"])).decode()))
        message = {"sid": f"SM{len(self.server.sent) + 1:032d}", "to": form.get("To"),
                   "from": form.get("From"), "body": form.get("Body"),
                   "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())}
        self.server.sent.append(message)
        if len(self.server.sent) == 1:
            self.server.first_send.set()
            time.sleep(self.server.delay)
        self.answer(201, message)

    def do_GET(self):
        self.server.lookups += 1
        self.answer(200, {"messages": self.server.sent})


def worker_kill(work):
    database = Database("otto_chaos_worker")
    stub = SmsStub(delay=3)
    server = worker = None
    try:
        env = postgres_server(work, database, "wk", TWILIO_ACCOUNT_SID="ACchaos",
                              TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER="+15550001111",
                              TWILIO_API_BASE_URL=stub.base, OTTO_JOB_LEASE_SECONDS="5",
                              OTTO_WORKER_POLL_MS="100")
        link_company(env)
        server = Process("wk", env)
        status, _ = deliver(server.base, "WORKER1")
        check(status == 200, f"the missed call was answered {status}")
        worker = Process("wk-worker", env, command="worker")
        check(stub.first_send.wait(30), "the worker never sent the text message")
        worker.kill()
        killed_with = len(stub.sent)
        worker.start()
        sql = ("SELECT status || ':' || attempts FROM jobs WHERE kind = 'missed_call_recovery'")
        deadline = time.monotonic() + 60
        while (state := psql(sql, database.name)).split(":")[0] != "succeeded":
            check(time.monotonic() < deadline, f"the job did not succeed after the kill: {state}")
            time.sleep(0.2)
        check(len(stub.sent) == 1, f"the SMS stub received {len(stub.sent)} messages")
        check(stub.lookups >= 1, "the rerun did not ask Twilio what the killed attempt sent")
        return {"sent": 1, "acknowledged": 1, "lost": 0,
                "notes": f"worker SIGKILLed with {killed_with} send in flight; job ended "
                         f"{state.replace(':', ' after ')} attempts; messages received by "
                         f"the stub: {len(stub.sent)}; lookups: {stub.lookups}"}
    finally:
        for process in (worker, server):
            if process:
                process.stop()
        stub.shutdown()
        database.drop()


def slow_clients(work):
    """Hundreds of slow and idle connections do not starve a normal client; bodies that
    never finish are answered at the deadline, idle connections are closed."""
    env = base_env(work, "slow", free_port())
    env.update({"OTTO_REQUEST_TIMEOUT_SECONDS": "2", "OTTO_IDLE_TIMEOUT_SECONDS": "3"})
    server = Process("slow", env)
    port = int(env["PORT"])
    sockets = {"slow body": [], "trickled headers": [], "idle": []}
    try:
        for _ in range(150):
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(b"POST /webhook/callrail/pre-call HTTP/1.1\r\nHost: otto\r\n"
                         b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                         b"\r\n5\r\n{\"a\":\r\n")
            sockets["slow body"].append(conn)
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: ot")
            sockets["trickled headers"].append(conn)
            sockets["idle"].append(socket.create_connection(("127.0.0.1", port)))
        latencies, statuses = [], {}
        for _ in range(200):
            started = time.monotonic()
            status, _ = request("GET", f"{server.base}/health", timeout=5)
            latencies.append(time.monotonic() - started)
            statuses[status] = statuses.get(status, 0) + 1
            for conn in sockets["trickled headers"][:20]:
                try:
                    conn.send(b"t")
                except OSError:
                    pass
        check(set(statuses) == {200}, f"a normal client got {status_summary(statuses)}")
        latencies.sort()
        answered_503 = 0
        for conn in sockets["slow body"]:
            conn.settimeout(5)
            try:
                answered_503 += conn.recv(64).startswith(b"HTTP/1.1 503")
            except OSError:
                pass
        check(answered_503 == len(sockets["slow body"]),
              f"{answered_503} of {len(sockets['slow body'])} unfinished bodies answered 503 "
              "at the deadline")
        time.sleep(3.5)
        closed = 0
        for conn in sockets["idle"]:
            conn.settimeout(3)
            try:
                closed += conn.recv(1) == b""
            except OSError:
                closed += 1
        check(closed == len(sockets["idle"]),
              f"{closed} of {len(sockets['idle'])} idle connections closed after the idle timeout")
        return {"sent": 200, "acknowledged": statuses.get(200, 0), "lost": 0,
                "notes": f"{sum(len(group) for group in sockets.values())} slow or idle "
                         f"connections held open; 200 GET /health beside them, p50 "
                         f"{latencies[99] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
                         f"{answered_503} unfinished bodies answered 503 at the 2 s deadline; "
                         f"{closed} idle connections closed after 3 s"}
    finally:
        for group in sockets.values():
            for conn in group:
                conn.close()
        server.stop()


SCENARIOS = {
    "duplicate-storm": duplicate_storm,
    "sigkill": sigkill,
    "postgres-outage": postgres_outage,
    "postgres-restart": postgres_restart,
    "redis-outage": redis_outage,
    "worker-kill": worker_kill,
    "slow-clients": slow_clients,
}


def report(results):
    lines = ["# Reliability", "",
             "Faults under load against real `otto-server` processes on PostgreSQL and "
             "Redis, from `make chaos` (`scripts/chaos/run.py`). Every row checks the "
             "database afterwards: each delivery answered 2xx is stored once with its jobs, "
             "each id retried after a failure is processed exactly once. Duplicates after "
             "a SIGKILL or an outage are deliveries committed whose answer the fault cut "
             "off (or whose commit could not be confirmed, answered 503): the retry is "
             "recognised, not applied again.", "",
             f"Run: {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, {os.cpu_count()} cores.",
             "", "| scenario | result | requests | acknowledged | stored calls | processed "
             "| duplicates | jobs | lost | notes |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, outcome, figures in results:
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            name, outcome, *(figures.get(key, "—") for key in (
                "sent", "acknowledged", "calls", "processed", "duplicates", "jobs", "lost",
                "notes"))))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (all)")
    parser.add_argument("--report", help="write the figures as Markdown to this file")
    args = parser.parse_args()
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    if not os.path.exists(BIN):
        sys.exit(f"chaos: {BIN} is missing: cargo build -p otto-server")
    work = tempfile.mkdtemp(prefix="otto-chaos-")
    results, failed = [], False
    try:
        for name in args.scenarios or SCENARIOS:
            started = time.monotonic()
            try:
                figures = SCENARIOS[name](work)
                outcome = "passed"
            except CheckFailed as error:
                figures, outcome, failed = {"notes": str(error)}, "FAILED", True
            except Skipped as reason:
                figures, outcome = {"notes": str(reason)}, "skipped"
            log(f"{name}: {outcome} in {time.monotonic() - started:.1f} s: {figures}")
            results.append((name, outcome, figures))
    finally:
        if failed:
            log(f"server logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    text = report(results)
    print(text)
    if args.report:
        with open(args.report, "w") as out:
            out.write(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
