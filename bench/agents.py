"""Agents: (1) message latency widget -> Conversation Center -> widget with 100 active
conversations, against `manage.py serve` over real WebSockets; (2) auto-assignment
throughput with many concurrent arrivals, checking that no agent ever exceeds capacity.

    python bench/agents.py [--db sqlite|postgres] [--conversations 100] [--rounds 10]
                           [--rate 20] [--arrivals 2000] [--threads 16]

(1) 100 visitors each open a widget socket and start a conversation, spread over 20
agents (5 each); each agent's Center socket answers a visitor message the moment its
event arrives (a stand-in for the agent's screen: no human time). Visitors write `--rate`
messages/s in all. Reported: widget send -> Center event, and widget send -> the agent's
reply on the widget, p50/p99 over conversations x rounds messages.
(2) `--threads` processes each open conversations through actions.send_visitor_message, for
`--arrivals` visitors, with 50 agents of capacity 5; reported: conversations/s, and the
largest load any agent reached (must be <= 5).

PostgreSQL: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/wachat_agents_bench),
dropped and created afresh.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import wsproto
import wsproto.events as ws_events

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class WebSocket:
    """A minimal asyncio WebSocket client over wsproto (already a dependency of the server)."""

    def __init__(self, reader, writer, connection):
        self.reader, self.writer, self.connection = reader, writer, connection
        self.frames = asyncio.Queue()

    @classmethod
    async def connect(cls, port, path, headers=(), source="127.0.0.1"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        connection = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        writer.write(
            connection.send(
                ws_events.Request(host=f"127.0.0.1:{port}", target=path, extra_headers=headers)
            )
        )
        ws = cls(reader, writer, connection)
        while True:
            connection.receive_data(await reader.read(65536))
            for event in connection.events():
                if isinstance(event, ws_events.AcceptConnection):
                    ws.task = asyncio.create_task(ws._pump())
                    return ws
                if isinstance(event, ws_events.RejectConnection):
                    raise RuntimeError(f"{path}: rejected ({event.status_code})")

    async def _pump(self):
        buffer = ""
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            self.connection.receive_data(data)
            for event in self.connection.events():
                if isinstance(event, ws_events.TextMessage):
                    buffer += event.data
                    if event.message_finished:
                        await self.frames.put((time.perf_counter(), json.loads(buffer)))
                        buffer = ""
                elif isinstance(event, ws_events.Ping):
                    self.writer.write(self.connection.send(event.response()))

    async def send(self, frame):
        self.writer.write(self.connection.send(ws_events.Message(data=json.dumps(frame))))
        await self.writer.drain()

    async def close(self):
        self.task.cancel()
        self.writer.close()


def setup_django(database_url, data_dir):
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "WACHAT_DATA_DIR": str(data_dir),
            "SECRET_KEY": "bench-secret-key",
            "WHATSAPP_EMULATOR": "true",
            "HUEY_IMMEDIATE": "false",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_postgres(url):
    import psycopg

    base, name = url.split("?")[0].rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


# --- (2) assignment throughput ----------------------------------------------------------------


def bench_assignment(arrivals, threads, agents=50, capacity=5):
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.utils import timezone

    from wachat.conversations import actions
    from wachat.conversations.models import ChatAgent, Conversation

    for i in range(agents):
        user = get_user_model().objects.create_user(f"assign-{i}-{uuid.uuid4().hex[:4]}")
        ChatAgent.objects.create(
            user=user,
            status="online",
            max_concurrent_chats=capacity,
            last_activity_at=timezone.now(),
        )
    sessions = [
        actions.touch_visitor_session(session_id=f"arrival-{uuid.uuid4().hex}").pk
        for _ in range(arrivals)
    ]
    from wachat.conversations.models import VisitorSession

    # Worker processes, not threads: one Python process is CPU-bound long before the
    # database's row locks are, and several web/worker processes is how WaChat scales.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(threads)
    failures = context.Value("i", 0)

    def run(chunk):
        connections.close_all()  # never share the parent's connection
        try:
            barrier.wait()
            for session_id in chunk:
                session = VisitorSession.objects.get(pk=session_id)
                actions.send_visitor_message(visitor_session=session, text="hi", client_id="c1")
        except Exception as exc:
            print("worker failed:", exc)
            with failures.get_lock():
                failures.value += 1
        finally:
            connections.close_all()

    connections.close_all()
    for connection in connections.all():
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()  # a forked child must not share the pool's sockets
    chunks = [sessions[i::threads] for i in range(threads)]
    workers = [context.Process(target=run, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    started = time.perf_counter()  # the barrier releases them together
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    errors = [None] * failures.value
    loads = [
        agent.conversations.filter(status__in=["active", "waiting"]).count()
        for agent in ChatAgent.objects.filter(user__username__startswith="assign-")
    ]
    assigned = Conversation.objects.filter(agent__user__username__startswith="assign-").count()
    print(
        f"assignment: {arrivals} arrivals from {threads} processes in {elapsed:.2f}s = "
        f"{arrivals / elapsed:.0f} conversations/s; assigned {assigned} "
        f"(capacity {agents * capacity}), waiting {arrivals - assigned}; "
        f"max load {max(loads)} / {capacity}; errors {len(errors)}"
    )
    if max(loads) > capacity or errors:
        print("FAILED: over capacity or errors")
        return 1
    return 0


# --- (1) latency --------------------------------------------------------------------------------


async def bench_latency(port, conversations, rounds, agent_cookies, tokens, rate):
    origin = f"http://127.0.0.1:{port}"
    centers = [
        await WebSocket.connect(port, "/ws/agent/", [(b"cookie", f"sessionid={c}".encode())])
        for c in agent_cookies
    ]
    widgets = [
        # Each visitor from its own loopback address, as from its own browser: the
        # widget's per-IP rate limit would otherwise throttle the benchmark, not the app.
        await WebSocket.connect(
            port,
            f"/ws/widget/?token={token}",
            [(b"origin", origin.encode())],
            source=f"127.0.{1 + i // 250}.{1 + i % 250}",
        )
        for i, token in enumerate(tokens)
    ]
    sent_at, at_center, back = {}, {}, {}

    async def answer(center):
        while True:
            now, frame = await center.frames.get()
            if frame.get("type") == "error":
                print("center error", frame)
            message = frame.get("message") or {}
            if frame.get("event") == "message.created" and message.get("sender_type") == "visitor":
                at_center[message["client_id"]] = now
                await center.send(
                    {
                        "type": "message",
                        "conversation_id": message["conversation_id"],
                        "client_id": "re-" + message["client_id"],
                        "text": "answer",
                    }
                )

    async def listen(widget):
        while True:
            now, frame = await widget.frames.get()
            message = frame.get("message") or {}
            if frame.get("event") == "message.created" and message.get("sender_type") == "agent":
                back[message["client_id"][3:]] = now

    tasks = [asyncio.create_task(answer(c)) for c in centers]
    tasks += [asyncio.create_task(listen(w)) for w in widgets]
    # Warm-up: every visitor opens a conversation (assigned, active), not measured.
    for i, widget in enumerate(widgets):
        await widget.send({"type": "message", "client_id": f"warm-{i}", "text": "hello"})
    await wait_for(lambda: len(back) >= len(widgets), 60)
    sent_at.clear(), at_center.clear(), back.clear()

    for r in range(rounds):
        for i, widget in enumerate(widgets):
            client_id = f"r{r}-{i}"
            sent_at[client_id] = time.perf_counter()
            await widget.send({"type": "message", "client_id": client_id, "text": f"q {r}"})
            await asyncio.sleep(1 / rate)
        expected = (r + 1) * len(widgets)
        await wait_for(lambda n=expected: len(back) >= n, 60)

    for task in tasks:
        task.cancel()
    for ws in [*centers, *widgets]:
        await ws.close()
    to_center = [(at_center[k] - sent_at[k]) * 1000 for k in sent_at if k in at_center]
    round_trip = [(back[k] - sent_at[k]) * 1000 for k in sent_at if k in back]
    print(
        f"latency over {len(round_trip)} messages ({rate:g}/s offered) in {conversations} "
        f"active conversations: "
        f"widget->Center p50 {percentile(to_center, 50):.1f} ms p99 "
        f"{percentile(to_center, 99):.1f} ms; widget->Center->widget p50 "
        f"{percentile(round_trip, 50):.1f} ms p99 {percentile(round_trip, 99):.1f} ms "
        f"(mean {statistics.mean(round_trip):.1f} ms)"
    )


async def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark stalled")
        await asyncio.sleep(0.01)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20, help="visitor messages/s offered")
    parser.add_argument("--arrivals", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="wachat-bench-agents-"))
    if args.db == "postgres":
        database_url = fresh_postgres(
            os.environ.get(
                "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/wachat_agents_bench"
            )
        )
    else:
        database_url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    setup_django(database_url, data_dir)
    print(f"database: {args.db}")

    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from wachat.conversations.models import ChatAgent
    from wachat.widget import auth

    status = bench_assignment(args.arrivals, args.threads)
    ChatAgent.objects.update(status="offline")  # the latency run gets its own agents

    cookies = []
    for i in range((args.conversations + 4) // 5):  # 5 conversations per agent
        user = get_user_model().objects.create_user(f"bench-agent-{i}")
        ChatAgent.objects.create(user=user, status="online", last_activity_at=timezone.now())
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        cookies.append(session.session_key)
    tokens = [auth.issue_token(auth.new_session_id()) for _ in range(args.conversations)]
    from wachat.conversations import actions

    for token in tokens:
        actions.touch_visitor_session(session_id=auth.session_id_from_token(token))

    port = free_port()
    env = {**os.environ, "PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        asyncio.run(
            bench_latency(port, args.conversations, args.rounds, cookies, tokens, args.rate)
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
