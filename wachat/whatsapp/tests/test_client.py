"""GraphClient against the emulator: in-process for each call, and once over real HTTP
against `manage.py serve` in a subprocess (fault knobs set through the HTTP endpoint)."""

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest

from wachat.whatsapp.client import GraphClient
from wachat.whatsapp.emulator import faults, window
from wachat.whatsapp.emulator.models import Fault, Media, PhoneMessage
from wachat.whatsapp.errors import GraphError, parse_retry_after

CUSTOMER = "4915112345678"
PDF = b"%PDF-1.4\n% a tiny test document\n"


@pytest.fixture
def graph(emulator):
    window.open_window(CUSTOMER)  # the customer wrote: free-form messages are allowed
    return GraphClient()


def received():
    return PhoneMessage.objects.filter(phone=CUSTOMER, direction="to_phone").get()


@pytest.mark.django_db
def test_send_text_with_a_reply_context(graph):
    wamid = graph.send_text(CUSTOMER, "hello", reply_to="wamid.earlier")
    message = received()
    assert (message.wamid, message.body, message.context_wamid) == (wamid, "hello", "wamid.earlier")


@pytest.mark.django_db
def test_send_template_fills_the_body_parameters(graph):
    graph.send_template(CUSTOMER, "conversation_waiting", "en_US", body_params=["Carol"])
    message = received()
    assert (message.kind, message.body) == (
        "template",
        "Hi Carol, you have a message waiting. Reply to this message to continue.",
    )


@pytest.mark.django_db
def test_send_template_with_missing_parameters_is_error_132000(graph):
    with pytest.raises(GraphError) as caught:
        graph.send_template(CUSTOMER, "conversation_waiting", "en_US")
    assert (caught.value.code, caught.value.retryable) == (132000, False)
    assert caught.value.details == "expected 1, got 0"


@pytest.mark.django_db
def test_upload_then_send_a_document_with_filename_and_caption(graph):
    media_id = graph.upload_media(PDF, mime_type="application/pdf", filename="quote.pdf")
    wamid = graph.send_document(CUSTOMER, media_id, filename="quote.pdf", caption="Our quote")

    message = received()
    assert (message.wamid, message.kind, message.body) == (wamid, "document", "Our quote")
    assert (message.media_id, message.filename) == (media_id, "quote.pdf")
    assert bytes(Media.objects.get(media_id=media_id).content) == PDF


@pytest.mark.django_db
def test_upload_then_send_an_image(graph):
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    media_id = graph.upload_media(png, mime_type="image/png", filename="dot.png")
    graph.send_image(CUSTOMER, media_id, caption="a dot")
    assert (received().kind, received().body) == ("image", "a dot")


@pytest.mark.django_db
def test_an_unsupported_upload_type_is_refused(graph):
    with pytest.raises(GraphError) as caught:
        graph.upload_media(b"MZ...", mime_type="application/x-msdownload")
    assert caught.value.code == 131053


@pytest.mark.django_db
def test_download_media_follows_the_url_with_the_token(graph):
    media = Media.store(PDF, mime_type="application/pdf")

    downloaded = graph.download_media(media.media_id)

    assert (downloaded.content, downloaded.mime_type) == (PDF, "application/pdf")
    assert downloaded.sha256 == media.sha256


@pytest.mark.django_db
def test_download_of_an_unknown_media_id_is_error_100(graph):
    with pytest.raises(GraphError) as caught:
        graph.download_media("1234567890123456")
    assert (caught.value.code, caught.value.http_status) == (100, 400)


@pytest.mark.django_db
def test_business_profile(graph):
    profile = graph.get_business_profile()
    assert profile["vertical"] == "OTHER"
    assert profile["websites"] == ["https://example.com/"]


@pytest.mark.django_db
def test_mark_as_read_turns_the_phones_message_read(graph, emulator):
    sent = emulator.phone_sends(CUSTOMER, "anyone there?")
    assert graph.mark_as_read(sent["wamid"]) is True
    assert PhoneMessage.objects.get(wamid=sent["wamid"]).status == "read"


@pytest.mark.django_db
def test_a_wrong_token_is_error_190_and_not_retryable(emulator):
    with pytest.raises(GraphError) as caught:
        GraphClient(token="expired").send_text(CUSTOMER, "hi")
    assert (caught.value.code, caught.value.http_status, caught.value.retryable) == (
        190,
        401,
        False,
    )
    assert caught.value.fbtrace_id.startswith("EMU")


def test_errors_carry_graphs_fields():
    response = httpx.Response(
        400,
        headers={"Retry-After": "7"},
        json={
            "error": {
                "message": "(#131047) Re-engagement message",
                "type": "OAuthException",
                "code": 131047,
                "error_subcode": 2494010,
                "error_data": {"messaging_product": "whatsapp", "details": "24 hours passed"},
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
            }
        },
    )
    error = GraphError.from_response(response)
    assert (error.code, error.subcode, error.http_status) == (131047, 2494010, 400)
    assert (error.fbtrace_id, error.details, error.retry_after) == (
        "Az8or2yhqkZfEZ-_4Qn_Bam",
        "24 hours passed",
        7.0,
    )
    assert not error.retryable


def test_retry_after_as_an_http_date():
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 25 Nov 2026 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_a_connection_failure_is_retryable(db):  # the token is read from the settings
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    graph = GraphClient(http=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(GraphError) as caught:
        graph.send_text(CUSTOMER, "hi")
    assert (caught.value.http_status, caught.value.retryable) == (503, True)


# --- Over real HTTP -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_client_against_the_emulator_over_real_http(live_server_stack, settings):
    knobs = f"{live_server_stack.url}/emulator/api/faults"
    http = httpx.Client(timeout=0.5)
    graph = GraphClient(base_url=f"{live_server_stack.url}/emulator/graph", http=http)
    opened = http.post(
        f"{live_server_stack.url}/emulator/api/window",
        json={"phone": CUSTOMER, "last_wrote_hours_ago": 0},
    )
    assert opened.json()["open"] is True

    wamid = graph.send_text(CUSTOMER, "over the wire")
    assert PhoneMessage.objects.get(wamid=wamid).body == "over the wire"
    media_id = graph.upload_media(PDF, mime_type="application/pdf", filename="q.pdf")
    assert graph.download_media(media_id).content == PDF
    assert graph.get_business_profile()["email"] == "hello@example.com"

    # A knob set over HTTP, seen by the server process: one 503 with Graph code 131016.
    response = http.post(
        knobs,
        json={"target": "graph", "action": "error", "http_status": 503, "code": 131016},
    )
    assert response.status_code == 201, response.content
    with pytest.raises(GraphError) as caught:
        graph.send_text(CUSTOMER, "refused")
    assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (
        503,
        131016,
        True,
    )
    graph.send_text(CUSTOMER, "accepted again")

    # A request held longer than the client waits: a retryable timeout.
    http.post(knobs, json={"target": "graph", "action": "timeout", "delay_ms": 1500})
    with pytest.raises(GraphError) as caught:
        graph.send_text(CUSTOMER, "too slow")
    assert (caught.value.timeout, caught.value.retryable) == (True, True)

    assert http.post(knobs, json={"target": "moon", "action": "error"}).status_code == 400
    assert json.loads(http.delete(knobs).content) == {"faults": []}
    assert not Fault.objects.exists()
    assert faults.take(Fault.Target.GRAPH) is None
