"""Signed webhook ingest: events/s and latency with `wrk` at concurrency 32 against
`manage.py serve` (web only), on SQLite and on PostgreSQL; then the worker's processing
rate over the events just stored.

Each request carries a distinct, correctly signed Meta payload (one text message), so
every 200 means one more durable row in webhook_events; the script checks the row count
against wrk's count of successful responses.

    python bench/webhook_ingest.py [--db sqlite|postgres|both] [--duration 10] [--connections 32]
                                   [--compare] [--worker-only [--profile PATH]]

--compare also measures the plain Django view (webhooks.py) under uvicorn, i.e. the
same server without the raw ASGI handler of wachat/whatsapp/ingest.py: before/after.

PostgreSQL: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/wachat_bench);
the database is dropped and created afresh.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-app-secret"
BODIES = 10_000  # distinct signed payloads, cycled by wrk
PROCESS_SAMPLE = 2_000  # events the worker benchmark processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def payload(n):
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550100000",
                                "phone_number_id": "100000000000001",
                            },
                            "contacts": [
                                {
                                    "profile": {"name": f"Bench {n % 500}"},
                                    "wa_id": f"4915{n % 500:08d}",
                                }
                            ],
                            "messages": [
                                {
                                    "from": f"4915{n % 500:08d}",
                                    "id": f"wamid.BENCH{n:012d}",
                                    "timestamp": "1764111600",
                                    "type": "text",
                                    "text": {"body": f"benchmark message {n}"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def lua_script(path):
    """wrk script: POST the next pre-signed body on each request."""
    lines = ["local bodies = {}", "local sigs = {}"]
    for n in range(BODIES):
        body = json.dumps(payload(n), separators=(",", ":"))
        sig = "sha256=" + hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        lines.append(f"bodies[{n + 1}] = [==[{body}]==]")
        lines.append(f'sigs[{n + 1}] = "{sig}"')
    lines += [
        "local i = 0",
        "local offset = 0",
        "function setup(thread) thread:set('offset', offset); offset = offset + 1 end",
        "function init(args) i = offset * 5000 end",
        "request = function()",
        f"  i = (i % {BODIES}) + 1",
        "  return wrk.format('POST', '/webhooks/whatsapp/', {",
        "    ['Content-Type'] = 'application/json',",
        "    ['X-Hub-Signature-256'] = sigs[i] }, bodies[i])",
        "end",
    ]
    path.write_text("\n".join(lines))


def environment(tmp, database_url):
    return {
        **os.environ,
        "WACHAT_DATA_DIR": str(tmp),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key",
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_EMULATOR": "false",
        "WHATSAPP_GRAPH_URL": "http://127.0.0.1:9/graph",  # nothing is sent during the bench
        "LOG_LEVEL": "ERROR",
        "HUEY_IMMEDIATE": "false",
    }


def manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, **kwargs
    )


def fresh_postgres(url):
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def parse_wrk(output):
    def latency_ms(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency_ms("50"),
        "p99": latency_ms("99"),
        "requests": requests,
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def count_events(env):
    done = manage(
        env,
        "shell",
        "-c",
        "from wachat.whatsapp.models import WebhookEvent; print(WebhookEvent.objects.count())",
        capture_output=True,
        text=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


PROCESS = """
import cProfile, time
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.tasks import process_webhook_events
pending = WebhookEvent.objects.filter(processed=False).order_by("pk")
ids = list(pending.values_list("pk", flat=True)[:%(sample)d])
# The worker's real path: one task per ingest batch (wachat/whatsapp/ingest.py).
batches = [ids[i : i + %(batch)d] for i in range(0, len(ids), %(batch)d)]
profile = cProfile.Profile() if %(profile)r else None
start = time.perf_counter()
if profile:
    profile.enable()
for batch in batches:
    process_webhook_events.call_local(batch)
elapsed = time.perf_counter() - start
if profile:
    profile.disable()
    profile.dump_stats(%(profile)r)
done = WebhookEvent.objects.filter(pk__in=ids, processed=True).count()
print(len(ids), done, elapsed)
"""

STORE = """
import json
from bench.webhook_ingest import payload
from wachat.whatsapp.ingest import store_events
for start in range(0, %(count)d, %(batch)d):
    store_events(
        [(json.dumps(payload(n)).encode(), "") for n in range(start, start + %(batch)d)]
    )
"""


def worker_rate(env, *, batch=50, profile=None):
    """The worker's processing rate over the first PROCESS_SAMPLE unprocessed events, in
    batches of `batch` (as the ingest hands them over); `profile`: a cProfile dump path."""
    script = PROCESS % {"sample": PROCESS_SAMPLE, "batch": batch, "profile": profile}
    done = manage(env, "shell", "-c", script, capture_output=True, text=True)
    events, processed, elapsed = done.stdout.split()[-3:]
    return int(events), int(processed), float(elapsed)


def print_worker_rate(label, env, *, batch=50, profile=None):
    events, processed, elapsed = worker_rate(env, batch=batch, profile=profile)
    print(
        f"{label:18} worker: {events / elapsed:8.0f} events/s  "
        f"({processed}/{events} distinct text messages processed in {elapsed:.1f} s, "
        f"batches of {batch}, one thread, in process)",
        flush=True,
    )


def worker_only(label, database_url, args):
    """Store PROCESS_SAMPLE events directly (no HTTP), then time the worker over them."""
    tmp = Path(tempfile.mkdtemp(prefix="wachat-bench-"))
    try:
        env = environment(tmp, database_url(tmp))
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "shell", "-c", STORE % {"count": PROCESS_SAMPLE, "batch": 50})
        print_worker_rate(label, env, profile=args.profile and f"{args.profile}.{label}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


SERVERS = {
    # What `make run` serves: the raw ASGI handler in front of Django (config/asgi.py).
    "ingest": ["manage.py", "serve", "--no-worker", "--port"],
    # Django alone: POST /webhooks/whatsapp/ reaches the view in webhooks.py.
    "django-view": [
        "-m",
        "uvicorn",
        "config.asgi:django_asgi_app",
        "--log-level",
        "warning",
        "--lifespan",
        "off",
        "--port",
    ],
}


def bench(label, database_url, args, server_kind="ingest"):
    """`database_url(tmp)`: the database to run on, given the run's temporary data dir."""
    label = f"{label}/{server_kind}"
    tmp = Path(tempfile.mkdtemp(prefix="wachat-bench-"))
    try:
        env = environment(tmp, database_url(tmp))
        manage(env, "migrate", "--no-input", "-v", "0")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, *SERVERS[server_kind], str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "server.log", "wb"),  # noqa: SIM115
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((tmp / "server.log").read_text())
                time.sleep(0.2)
            script = tmp / "signed.lua"
            lua_script(script)
            # A short warm-up so connection setup and first-import costs are not measured.
            subprocess.run(
                ["wrk", "-t2", "-c8", "-d2s", "-s", str(script), url],
                check=True,
                capture_output=True,
            )
            warmup = count_events(env)
            wrk = subprocess.run(
                [
                    "wrk",
                    f"-t{args.threads}",
                    f"-c{args.connections}",
                    f"-d{args.duration}s",
                    "--latency",
                    "-s",
                    str(script),
                    url,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            server.terminate()
            server.wait(timeout=15)
        result = parse_wrk(wrk.stdout)
        stored = count_events(env) - warmup
        ok = result["requests"] - result["failed"]
        print(
            f"{label:18} ingest: {result['rps']:8.0f} events/s  p50 {result['p50']:6.1f} ms"
            f"  p99 {result['p99']:6.1f} ms  ({result['requests']} requests, "
            f"{result['failed']} non-2xx, {stored} rows stored for {ok} OKs"
            f"{', socket errors: ' + result['socket_errors'] if result['socket_errors'] else ''})",
            flush=True,
        )
        if stored < ok:
            print(f"{label:18} WARNING: {ok - stored} acknowledged events are not stored!")
        print_worker_rate(label, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compare", action="store_true", help="also the plain Django view")
    parser.add_argument(
        "--worker-only", action="store_true", help="only the worker's rate (no HTTP, no wrk)"
    )
    parser.add_argument("--profile", help="with --worker-only: cProfile dumps to PROFILE.<db>")
    args = parser.parse_args()
    if args.worker_only:
        if args.db in ("sqlite", "both"):
            worker_only("sqlite", lambda tmp: f"sqlite:///{tmp / 'bench.sqlite3'}", args)
        if args.db in ("postgres", "both"):
            url = os.environ.get(
                "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/wachat_bench"
            )
            fresh_postgres(url)
            worker_only("postgres", lambda tmp: url, args)
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    print(
        f"webhook ingest: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"{os.cpu_count()} CPUs, `manage.py serve --no-worker`",
        flush=True,
    )
    kinds = ["django-view", "ingest"] if args.compare else ["ingest"]
    if args.db in ("sqlite", "both"):
        for kind in kinds:
            bench("sqlite", lambda tmp: f"sqlite:///{tmp / 'bench.sqlite3'}", args, kind)
    if args.db in ("postgres", "both"):
        url = os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/wachat_bench"
        )
        for kind in kinds:
            try:
                fresh_postgres(url)
            except Exception as exc:  # no server: say so and go on
                print(f"postgres   skipped: {exc}")
                return
            bench("postgres", lambda tmp: url, args, kind)


if __name__ == "__main__":
    main()
