"""The emulator's own behaviour: fault knobs, media, the phone page's file sending."""

import base64
import time

import pytest

from wachat.whatsapp.client import GraphClient
from wachat.whatsapp.emulator import faults
from wachat.whatsapp.emulator.models import Fault, Media
from wachat.whatsapp.errors import GraphError

pytestmark = pytest.mark.django_db
CUSTOMER = "4915112345678"


def test_a_knob_fails_exactly_the_next_n_calls(emulator):
    faults.add(Fault.Target.GRAPH, Fault.Action.ERROR, http_status=500, code=131000, count=2)
    graph = GraphClient()
    for _ in range(2):
        with pytest.raises(GraphError) as caught:
            graph.send_text(CUSTOMER, "x")
        assert (caught.value.http_status, caught.value.code) == (500, 131000)
    assert graph.send_text(CUSTOMER, "third time")


def test_a_knob_with_a_path_only_fails_matching_calls(emulator):
    faults.add(Fault.Target.GRAPH, Fault.Action.ERROR, code=131053, path="/media", count=None)
    graph = GraphClient()
    assert graph.send_text(CUSTOMER, "messages still work")
    with pytest.raises(GraphError):
        graph.upload_media(b"hello", mime_type="text/plain")


def test_a_latency_knob_slows_the_answer(emulator):
    faults.add(Fault.Target.GRAPH, Fault.Action.LATENCY, delay_ms=300)
    start = time.monotonic()
    GraphClient().get_business_profile()
    assert time.monotonic() - start >= 0.3


def test_the_media_url_needs_the_token(emulator):
    media = Media.store(b"secret scan", mime_type="application/pdf")
    assert emulator.django.get(f"/emulator/media/{media.media_id}").status_code == 401
    assert GraphClient().download_media(media.media_id).content == b"secret scan"


def test_the_phone_page_shows_files_the_business_sent(emulator):
    media_id = GraphClient().upload_media(b"%PDF-1.4", mime_type="application/pdf")
    response = emulator.django.get(f"/emulator/api/media/{media_id}")
    assert (response.status_code, response.content) == (200, b"%PDF-1.4")
    assert 'id="attach"' in emulator.django.get("/emulator/").content.decode()


def test_the_phone_refuses_file_types_whatsapp_refuses(emulator):
    response = emulator.django.post(
        "/emulator/api/send",
        {
            "phone": CUSTOMER,
            "media": {"data": base64.b64encode(b"MZ").decode(), "mime_type": "application/x-exe"},
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "cannot be sent" in response.json()["error"]


def test_fault_knobs_over_http_are_validated(emulator):
    response = emulator.django.post(
        "/emulator/api/faults",
        {"target": "graph", "action": "explode"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not Fault.objects.exists()
