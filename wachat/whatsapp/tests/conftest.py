"""Fixtures for the WhatsApp tests: the in-process emulator with its fault knobs live,
Meta-shaped payload fixtures, and a way to run the tasks the worker scheduled for later."""

import json
from pathlib import Path

import httpx
import pytest
from huey.contrib.djhuey import HUEY

from wachat.conftest import post_webhook
from wachat.conversations import actions
from wachat.whatsapp import client as graph_client
from wachat.whatsapp.emulator import meta, window

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CUSTOMER = "4915112345678"  # the customer in every fixture
OUT_WAMID = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABEYEkQ5QTQwNkE3RkY2QzE4OTQ0NQA="  # our message

real_post_webhook = meta.post_webhook  # with the webhook fault knobs


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture_names():
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


@pytest.fixture(autouse=True)
def empty_schedule():
    """Huey's immediate mode keeps tasks scheduled for later in memory, across tests."""
    HUEY.storage.flush_schedule()
    yield
    HUEY.storage.flush_schedule()


def scheduled():
    """(task name, args) of every task waiting for its time."""
    return [(task.name, task.args) for task in HUEY.scheduled()]


def run_scheduled():
    """Let time pass: run every task that was scheduled for later (once)."""
    tasks = HUEY.scheduled()
    HUEY.storage.flush_schedule()
    for task in tasks:
        task.eta = None
        HUEY.execute(task)
    return len(tasks)


@pytest.fixture
def emulator(emulator, monkeypatch):
    """The shared in-process emulator, plus: response headers (Retry-After) reach the
    client, and webhooks go through the emulator's fault knobs before the outbox."""

    def handle(request):
        response = emulator.django.generic(
            request.method,
            request.url.raw_path.decode(),
            data=request.content,
            content_type=request.headers.get("content-type", "application/json"),
            headers={"Authorization": request.headers.get("authorization", "")},
        )
        headers = {
            k: v for k, v in response.items() if k.lower() in ("retry-after", "content-type")
        }
        return httpx.Response(response.status_code, content=response.content, headers=headers)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    monkeypatch.setattr(graph_client, "http_client", lambda: http)
    monkeypatch.setattr(meta, "post_webhook", real_post_webhook)
    monkeypatch.setattr(meta, "_enqueue", emulator.outbox.append)
    return emulator


@pytest.fixture
def replay(client):
    """POST a fixture, signed, through the real webhook view (the worker runs inline)."""

    def replay(name):
        response = post_webhook(client, fixture(name))
        assert response.status_code == 200, response.content
        return response

    return replay


@pytest.fixture
def customer_conversation(db, bob):
    """A WhatsApp conversation with the fixtures' customer, answered by bob. The customer
    just wrote, so their 24-hour window is open in the emulator too."""
    window.open_window(CUSTOMER)
    message, _ = actions.receive_whatsapp_message(
        phone=CUSTOMER, profile_name="Carol", whatsapp_message_id="wamid.first", text="Hello"
    )
    return message.conversation


@pytest.fixture
def our_message(customer_conversation, bob):
    """bob's answer, sent earlier under OUT_WAMID: the message fixtures' statuses are about."""
    message, _ = actions.send_agent_message(
        conversation=customer_conversation,
        agent=bob,
        text="We open at 10.",
        whatsapp_message_id=OUT_WAMID,
    )
    return message
