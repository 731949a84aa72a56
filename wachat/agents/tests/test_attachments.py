"""Agents attach files from the Conversation Center (POST .../attachments), and
attachments travel over WhatsApp both ways through the in-process emulator."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import ChatAgent, Conversation, Message
from wachat.conversations.tests import samples
from wachat.whatsapp.emulator.models import Media

ALICE = "15550001111"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def client_for(agent, **options):
    client = Client(**options)
    client.force_login(agent.user)
    return client


def url(conversation):
    return f"/center/conversations/{conversation.pk}/attachments"


def attach(client, conversation, content=None, name="prices.pdf", client_id="d1", **fields):
    file = SimpleUploadedFile(name, samples.pdf() if content is None else content)
    return client.post(url(conversation), {"file": file, "client_id": client_id, **fields})


def visitor_conversation(session_id="v1", text="hello"):
    session = actions.touch_visitor_session(session_id=session_id)
    message, _ = actions.send_visitor_message(visitor_session=session, text=text, client_id="c1")
    return Conversation.objects.select_related("agent").get(pk=message.conversation_id)


def stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_an_agent_attaches_a_document_to_their_conversation(bob):
    conversation = visitor_conversation()
    assert conversation.agent == bob
    response = attach(client_for(bob), conversation, caption="Our prices")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["message_type"], data["sender_type"], data["content"]) == (
        "document",
        "agent",
        "Our prices",
    )
    assert data["attachment"]["filename"] == "prices.pdf"
    assert Message.objects.get(pk=data["id"]).conversation == conversation
    again = attach(client_for(bob), conversation)
    assert again.status_code == 200 and again.json()["id"] == data["id"]


@pytest.mark.django_db
def test_another_agents_conversation_cannot_be_written_to(bob, media):
    carol = make_agent("carol")
    ChatAgent.objects.filter(pk=carol.pk).update(status=ChatAgent.Status.OFFLINE)
    conversation = visitor_conversation()
    assert conversation.agent == bob
    response = attach(client_for(carol), conversation)
    assert response.status_code == 404  # not even visible to carol
    assert conversation.messages.count() == 2  # the assignment record and "hello"
    assert not stored_files(media)


@pytest.mark.django_db
def test_an_unassigned_conversation_must_be_taken_first(media):
    carol = make_agent("carol", status=ChatAgent.Status.OFFLINE)
    conversation = visitor_conversation()
    assert conversation.agent is None
    response = attach(client_for(carol), conversation)
    assert response.status_code == 403
    assert response.json()["detail"] == "Take this conversation first."
    assert not conversation.messages.filter(sender_type="agent").exists()
    assert not stored_files(media)


@pytest.mark.django_db
def test_the_upload_needs_the_csrf_token(bob):
    conversation = visitor_conversation()
    response = attach(client_for(bob, enforce_csrf_checks=True), conversation)
    assert response.status_code == 403
    assert not conversation.messages.filter(sender_type="agent").exists()


@pytest.mark.django_db
def test_someone_signed_out_is_sent_to_the_login_page(bob):
    response = attach(Client(), visitor_conversation())
    assert response.status_code == 302
    assert not Message.objects.filter(sender_type="agent").exists()


@pytest.mark.django_db
def test_a_wrong_type_is_a_415_with_the_reason(bob):
    response = attach(client_for(bob), visitor_conversation(), content=samples.exe(), name="a.pdf")
    assert response.status_code == 415
    assert "cannot be sent" in response.json()["detail"]


# --- Over WhatsApp --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_visitors_image_reaches_the_agents_phone_as_an_image(alice, emulator):
    session = actions.touch_visitor_session(session_id="v-relay")
    message, _ = actions.send_visitor_attachment(
        visitor_session=session,
        content=samples.png(),
        filename="bike.png",
        client_id="a1",
        caption="This one?",
    )
    message.refresh_from_db()
    assert message.status == "sent"
    copy = emulator.thread(ALICE)[-1]
    assert copy["kind"] == "image"
    code = message.conversation.code
    assert copy["body"] == f"[#{code}] {message.conversation.visitor_name}: This one?"
    assert copy["wamid"] == message.whatsapp_message_id
    media = Media.objects.get(media_id=copy["media_id"])
    assert (bytes(media.content), media.mime_type) == (samples.png(), "image/png")


@pytest.mark.django_db(transaction=True)
def test_an_agents_document_in_a_whatsapp_conversation_reaches_the_customer(bob, emulator):
    customer = "4915100000001"
    emulator.phone_sends(customer, "Can I see the price list?")
    emulator.deliver_webhooks()
    conversation = Message.objects.get(content="Can I see the price list?").conversation
    assert conversation.agent == bob

    response = attach(
        client_for(bob), conversation, content=samples.office("xl/"), name="prices 2025.xlsx"
    )
    assert response.status_code == 201, response.content

    sent = Message.objects.get(pk=response.json()["id"])
    assert sent.status == "sent"
    copy = emulator.thread(customer)[-1]
    assert (copy["kind"], copy["filename"], copy["wamid"]) == (
        "document",
        "prices 2025.xlsx",
        sent.whatsapp_message_id,
    )
    media = Media.objects.get(media_id=copy["media_id"])
    assert bytes(media.content) == samples.office("xl/")
    assert media.mime_type.endswith("spreadsheetml.sheet")
