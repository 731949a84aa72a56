"""Shared fixtures: personas (an admin, two agents, a visitor) and the WhatsApp emulator
wired in-process, so tests run the real client, views and worker code end to end."""

import json
import os
import uuid

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from wachat.conversations import actions
from wachat.conversations.models import ChatAgent
from wachat.whatsapp import client as graph_client
from wachat.whatsapp.emulator import meta
from wachat.whatsapp.signature import sign

IN_CI = os.environ.get("CI") == "true"


def make_agent(username, *, phone=None, status=ChatAgent.Status.ONLINE, **fields):
    user = get_user_model().objects.create_user(
        username, password=username, first_name=username.title()
    )
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
