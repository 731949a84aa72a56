"""The raw ASGI webhook handler (wachat/whatsapp/ingest.py): same rules as the view,
stored before 200, concurrent requests grouped into one commit."""

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.db import OperationalError

from wachat.conversations.models import Message
from wachat.whatsapp import ingest
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.signature import sign
from wachat.whatsapp.tests.conftest import fixture

pytestmark = pytest.mark.django_db(transaction=True)


async def django_stand_in(scope, receive, send):
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def signed(payload):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {"X-Hub-Signature-256": sign(body, settings.WHATSAPP_APP_SECRET)}


def run(coroutine):
    """Run the server side on its own event loop in another thread, as uvicorn would
    (the test thread may already have a loop: Playwright's, in a full run)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(asyncio.run, coroutine).result()
        finally:
            pool.submit(ingest.close).result()


async def _post(body, headers=None, path="/webhooks/whatsapp/"):
    transport = httpx.ASGITransport(app=ingest.WebhookIngest(django_stand_in))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, content=body, headers=headers or {})


def post(body, headers=None, path="/webhooks/whatsapp/"):
    return run(_post(body, headers, path))


def test_a_signed_webhook_is_stored_before_200_and_processed(bob):
    response = post(*signed(fixture("messages__text")))

    assert response.status_code == 200
    event = WebhookEvent.objects.get(pk=response.json()["stored"])
    assert (event.event_type, event.processed) == ("messages", True)
    assert event.signature.startswith("sha256=")
    assert Message.objects.filter(content="Hi! Is the shop open on Sunday?").exists()


def test_a_bad_signature_is_403_and_nothing_is_stored():
    body, _ = signed(fixture("messages__text"))
    response = post(body, {"X-Hub-Signature-256": sign(body, "not-the-secret")})
    assert response.status_code == 403
    assert (post(body)).status_code == 403  # no signature at all
    assert WebhookEvent.objects.count() == 0


def test_a_body_over_one_mebibyte_is_413():
    response = post(*signed(b"x" * (1024 * 1024 + 1)))
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


def test_signed_non_json_is_kept_for_review():
    response = post(*signed(b"{not json"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.raw_body, event.needs_review) == ("{not json", True)


def test_a_database_failure_is_503_so_meta_retries(monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(WebhookEvent.objects, "bulk_create", down)
    response = post(*signed(fixture("messages__text")))
    assert response.status_code == 503


def test_concurrent_webhooks_are_each_stored_once(bob):
    payloads = []
    for n in range(40):
        payload = fixture("messages__text")
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.concurrent{n}"
        payloads.append(payload)

    async def all_at_once():
        return await asyncio.gather(*(_post(*signed(p)) for p in payloads))

    responses = run(all_at_once())

    assert [r.status_code for r in responses] == [200] * 40
    assert len({r.json()["stored"] for r in responses}) == 40
    assert WebhookEvent.objects.count() == 40
    assert Message.objects.filter(whatsapp_message_id__startswith="wamid.conc").count() == 40


def test_other_requests_go_to_django():
    assert (post(b"", path="/webhooks/whatsapp/other")).status_code == 204


def test_over_real_http_a_webhook_reaches_the_worker(live_server_stack):
    body, headers = signed(fixture("messages__text"))
    response = httpx.post(
        f"{live_server_stack.url}/webhooks/whatsapp/", content=body, headers=headers
    )
    assert response.status_code == 200

    deadline = time.monotonic() + 20
    while not Message.objects.filter(content="Hi! Is the shop open on Sunday?").exists():
        assert time.monotonic() < deadline, "the worker did not process the webhook"
        time.sleep(0.2)
    assert WebhookEvent.objects.get().processed


def test_a_nul_in_one_event_of_a_batch_loses_none_of_them(bob):
    """PostgreSQL cannot store U+0000: it is replaced, and the events around it in the
    same commit are stored too (a refused insert would fail them all)."""
    with_nul = json.dumps(fixture("messages__text_with_nul")).encode()
    bodies = [signed(fixture("messages__text")), signed(with_nul), signed(b'{"oops\x00')]

    async def all_at_once():
        return await asyncio.gather(*(_post(body, headers) for body, headers in bodies))

    responses = run(all_at_once())
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert Message.objects.filter(content="Order 42\ufffd arrived broken").exists()
    assert Message.objects.filter(content="Hi! Is the shop open on Sunday?").exists()
    malformed = WebhookEvent.objects.get(event_type="malformed")
    assert malformed.raw_body == '{"oops\ufffd'  # not JSON: kept as text, for review
