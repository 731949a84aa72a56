"""Shared fixtures: personas (an admin, two agents, a visitor) and the WhatsApp emulator
wired in-process, so tests run the real client, views and worker code end to end."""

import json
import os
import time
import uuid

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from wachat.conversations import actions
from wachat.conversations.models import ChatAgent
from wachat.whatsapp import client as graph_client
from wachat.whatsapp.emulator import meta, window
from wachat.whatsapp.signature import sign

IN_CI = os.environ.get("CI") == "true"


def pytest_configure(config):
    """Password hashing is slow on purpose (PBKDF2, a million rounds: half a second a
    user on a small machine) and the suite creates hundreds of users, none of whom needs
    a strong hash. Browser tests sign in with session cookies, never by password."""
    from django.conf import settings
    from django.contrib.auth import hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()


def make_agent(username, *, phone=None, status=ChatAgent.Status.ONLINE, **fields):
    user = get_user_model().objects.create_user(
        username, password=username, first_name=username.title()
    )
    if phone:
        # Relayed messages reach an agent only within WhatsApp's 24-hour window, which the
        # emulator keeps: the agent wrote to the business number just now.
        window.open_window(phone)
    return ChatAgent.objects.create(
        user=user,
        status=status,
        whatsapp_phone_number=phone,
        last_activity_at=timezone.now(),
        **fields,
    )


@pytest.fixture
def alice(db):
    """An online agent who answers from WhatsApp (relay)."""
    return make_agent("alice", phone="15550001111")


@pytest.fixture
def bob(db):
    """An online agent without a WhatsApp number: answers from the Conversation Center."""
    return make_agent("bob")


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("admin", password="admin")


@pytest.fixture
def visitor(db):
    return actions.touch_visitor_session(session_id="visitor-" + uuid.uuid4().hex[:8])


class InProcessEmulator:
    """The emulator's Graph endpoints and webhooks, reached through Django's test client
    instead of sockets: same views, same payloads, no server needed."""

    def __init__(self):
        self.django = Client()
        self.outbox = []  # webhooks the emulator would have posted, in order

    def handle(self, request):
        path = request.url.raw_path.decode()
        response = self.django.generic(
            request.method,
            path,
            data=request.content,
            content_type=request.headers.get("content-type", "application/json"),
            headers={"Authorization": request.headers.get("authorization", "")},
        )
        return httpx.Response(response.status_code, content=response.content)

    def deliver_webhooks(self):
        """Post every queued webhook, signed, to the app's webhook endpoint."""
        responses = []
        while self.outbox:
            responses.append(post_webhook(self.django, self.outbox.pop(0)))
        return responses

    def thread(self, phone):
        return self.django.get("/emulator/api/thread", {"phone": phone}).json()["messages"]

    def phone_sends(self, phone, text, reply_to=None):
        response = self.django.post(
            "/emulator/api/send",
            {"phone": phone, "text": text, "reply_to": reply_to},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture(autouse=True)
def fresh_whatsapp_credentials():
    """Credentials are kept per process for a while; a rolled-back setting row sends no
    signal, so each test starts by reading them afresh."""
    from wachat.whatsapp import credentials

    credentials.forget()
    yield
    credentials.forget()


@pytest.fixture
def emulator(monkeypatch, settings):
    emu = InProcessEmulator()
    http = httpx.Client(transport=httpx.MockTransport(emu.handle), base_url="http://emulator")
    settings.WHATSAPP_GRAPH_URL = "http://testserver/emulator/graph"
    monkeypatch.setattr(graph_client, "http_client", lambda: http)
    monkeypatch.setattr(meta, "post_webhook", emu.outbox.append)
    return emu


def post_webhook(django_client, payload, *, secret=None, signature=None):
    """POST `payload` to the webhook endpoint, signed like Meta signs (unless told otherwise)."""
    from django.conf import settings

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signature is not False:
        headers["X-Hub-Signature-256"] = signature or sign(
            body, secret or settings.WHATSAPP_APP_SECRET
        )
    return django_client.post(
        "/webhooks/whatsapp/", data=body, content_type="application/json", headers=headers
    )


# --- A real running stack, for browser and multi-process tests -----------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def database_url(settings_dict):
    """A DATABASE_URL naming the database this test run uses (the test database)."""
    engine = settings_dict["ENGINE"].rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[engine]
    auth = settings_dict["USER"] + (
        f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    )
    return (
        f"{scheme}://{auth}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    )


def database_connections():
    """How many connections the database server has open to the test database, this
    process's own included; None on SQLite, which has no server."""
    from django.db import connection

    count = {
        "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
        "mysql": "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE()",
    }.get(connection.vendor)
    if count is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(count)
        return cursor.fetchone()[0]


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER_UNSET = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_POOL_SIZE"}


class Stack:
    """`manage.py serve` (web + emulator, and the worker when there is no Redis) in
    subprocesses against the test database; with REDIS_URL, a separate worker process
    and the Redis channel layer, as when scaled out."""

    def __init__(self, tmp_path):
        from django.conf import settings
        from django.db import connection

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            # The servers pool their PostgreSQL connections as in production (this process
            # does not: see config/testenv.py).
            **{k: v for k, v in os.environ.items() if k not in SERVER_UNSET},
            "DATABASE_URL": database_url(connection.settings_dict),
            "WACHAT_DATA_DIR": str(tmp_path),
            "HUEY_IMMEDIATE": "false",
            "HUEY_NAME": f"wachat-test-{uuid.uuid4().hex[:8]}",
            "SECRET_KEY": settings.SECRET_KEY,
            "WHATSAPP_EMULATOR": "true",
            "PORT": str(self.port),
            "PUBLIC_URL": self.url,
        }
        self.log = tmp_path / "stack.log"
        self.processes = []

    def start(self):
        import subprocess
        import sys

        self.connections_before = database_connections() or 0
        commands = [["serve"]]
        if self.env.get("REDIS_URL"):
            commands = [["serve", "--no-worker"], ["run_worker", "--workers", "2"]]
        out = open(self.log, "ab")  # noqa: SIM115 (closed with the processes)
        for command in commands:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", *command],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        self.wait_until_up()
        return self

    def wait_until_up(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited:\n{self.log.read_text()}")
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def stop(self):
        """As on a deploy: SIGTERM, and the processes finish what they were doing."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except Exception:
                process.kill()
        self.processes = []

    def kill(self):
        """At the end of a test nothing in flight matters (the database is emptied next),
        and a graceful stop cost half a second a test."""
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
        self.processes = []
        # The database server drops their pooled connections a moment later; until then
        # they would hold up emptying the database (or dropping it, after the last test).
        deadline = time.monotonic() + 10
        while (database_connections() or 0) > self.connections_before:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)

    def restart(self):
        self.stop()
        self.start()


@pytest.fixture
def live_server_stack(transactional_db, tmp_path):
    stack = Stack(tmp_path).start()
    yield stack
    stack.kill()


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through Playwright; never a downloaded browser.

    Module-scoped: Playwright's sync API keeps an event loop running in this thread while
    it is started, which would break the async tests that run after the browser modules.
    """
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # That running loop also makes Django refuse ORM calls from the test body; they are
    # plain sync calls, so allow them while the browser is up.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()
