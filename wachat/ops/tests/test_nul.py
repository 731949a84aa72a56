"""U+0000 never reaches the database (PostgreSQL cannot store it): a request or frame
carrying it gets a clear error and stores nothing; a webhook keeps it replaced (see
whatsapp/tests: test_text_with_nul). These fail with a 500 on PostgreSQL without the guard."""

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from config.asgi import application
from wachat.conversations import actions
from wachat.conversations.models import Conversation, Message, VisitorSession
from wachat.conversations.tests import samples
from wachat.ops.nul import PROBLEM
from wachat.widget import auth


@pytest.fixture
def widget(visitor):
    return Client(headers={"X-WaChat-Token": auth.issue_token(visitor.pk)})


def post_json(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def refused(response):
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": PROBLEM}
    return True


def test_the_widget_api_refuses_it_and_stores_nothing(widget, visitor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    message = {"text": "a\u0000b", "client_id": "n1"}
    offline = {"name": "Sam", "email": "s@example.com", "text": "hi\u0000", "client_id": "o1"}
    png = samples.png()
    assert refused(post_json(widget, "/api/widget/messages", message))
    assert refused(post_json(widget, "/api/widget/messages", {"text": "hi", "client_id": "\0"}))
    assert refused(post_json(widget, "/api/widget/profile", {"name": "Sam\u0000"}))
    assert refused(post_json(widget, "/api/widget/offline", offline))
    assert refused(post_json(Client(), "/api/widget/session", {"referrer": "x\u0000"}))
    assert refused(widget.get("/api/widget/poll?wait=0&since=%00"))
    for fields in ({"caption": "cat\0"}, {"client_id": "a\0"}):
        upload = {"file": SimpleUploadedFile("cat.png", png), "client_id": "a1", **fields}
        assert refused(widget.post("/api/widget/attachments", upload))
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert VisitorSession.objects.count() == 1  # the fixture's own


def test_the_literal_text_backslash_u0000_is_just_text(widget):
    text = "see C:\\u0000 and \\\\\\u0000"  # escaped backslashes: no NUL in it
    response = post_json(widget, "/api/widget/messages", {"text": text, "client_id": "n1"})
    assert response.status_code == 201, response.content
    assert Message.objects.get().content == text


def test_the_refusal_is_readable_by_the_site_using_the_widget(widget, settings):
    settings.WIDGET_ALLOWED_ORIGINS = ["https://shop.example"]
    response = widget.post(
        "/api/widget/messages",
        json.dumps({"text": "\u0000", "client_id": "n1"}),
        content_type="application/json",
        headers={"Origin": "https://shop.example"},
    )
    assert refused(response)
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


def test_the_center_admin_and_emulator_refuse_it(alice, admin_user, visitor, emulator):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    agent, admin = Client(), Client()
    agent.force_login(alice.user)
    admin.force_login(admin_user)
    conversation, stored = message.conversation.pk, Message.objects.count()
    upload = {"file": SimpleUploadedFile("a.pdf", samples.pdf()), "client_id": "u1"}
    assert refused(agent.get("/center/api/conversations?q=%00"))
    assert refused(
        agent.post(f"/center/conversations/{conversation}/attachments", {**upload, "caption": "\0"})
    )
    assert refused(admin.get("/admin/conversations/conversation/?q=%00"))
    assert refused(post_json(Client(), "/emulator/api/send", {"phone": "1555", "text": "\0"}))
    assert Message.objects.count() == stored


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_frame_with_it_gets_an_error_and_stores_nothing(visitor):
    communicator = WebsocketCommunicator(
        application, f"/ws/widget/?token={auth.issue_token(visitor.pk)}"
    )
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "message", "client_id": "c1", "text": "a\u0000"})
    error = await communicator.receive_json_from()
    assert error == {"type": "error", "client_id": "c1", "detail": PROBLEM}
    await communicator.send_json_to({"type": "message", "client_id": "c\u0000", "text": "a"})
    assert (await communicator.receive_json_from())["client_id"] is None
    await communicator.disconnect()
    assert not await Message.objects.aexists()
