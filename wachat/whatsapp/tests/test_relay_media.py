"""Photos and documents through the relay, both ways, end to end through the in-process
emulator: an agent's file from their phone reaches the visitor (once, with the file
stored), a WhatsApp customer's file reaches the agent's phone as a file once it is stored,
and caption-less attachments read "📷 Photo" / "📄 <filename>" in lists and copies."""

import base64

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from wachat.agents.models import AgentPhoneMessage
from wachat.conftest import post_webhook
from wachat.conversations import actions, events
from wachat.conversations.models import Message
from wachat.conversations.tests import samples
from wachat.realtime import groups
from wachat.whatsapp.emulator import faults
from wachat.whatsapp.emulator.models import Fault, Media
from wachat.whatsapp.tests.conftest import CUSTOMER, fixture, run_scheduled, scheduled

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "15550001111"
PNG = samples.png()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def published(monkeypatch):
    """(group, event name, event) of every event published."""
    sent = []

    def record(groups, event):
        sent.extend((group, event.get("event"), event) for group in groups)

    monkeypatch.setattr(events, "publish_on_commit", record)
    return sent


def phone_sends_file(
    emulator, phone, content, mime_type, *, filename="", caption="", reply_to=None
):
    """The phone sends a photo or document; its webhook waits in the outbox."""
    response = emulator.django.post(
        "/emulator/api/send",
        {
            "phone": phone,
            "text": caption,
            "reply_to": reply_to,
            "media": {
                "data": base64.b64encode(content).decode(),
                "mime_type": mime_type,
                "filename": filename,
            },
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def to_phone(emulator, phone):
    return [m for m in emulator.thread(phone) if m["direction"] == "to_phone"]


def visitor_writes(session_id, text="Which one?", client_id="c1"):
    session = actions.touch_visitor_session(session_id=session_id)
    message, _ = actions.send_visitor_message(
        visitor_session=session, text=text, client_id=client_id
    )
    message.refresh_from_db()
    return message


def stored(message):
    with default_storage.open(message.metadata["storage_name"]) as file:
        return file.read()


def stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


# --- Agent's phone -> visitor ----------------------------------------------------------------


def test_an_agents_photo_reply_reaches_the_visitor_with_its_file(alice, emulator, published):
    asked = visitor_writes("v1")
    phone_sends_file(
        emulator, ALICE, PNG, "image/png", caption="This one", reply_to=asked.whatsapp_message_id
    )
    emulator.deliver_webhooks()

    reply = Message.objects.get(sender_type="agent", conversation=asked.conversation)
    assert (reply.message_type, reply.content, reply.sender_id) == ("image", "This one", alice.pk)
    assert reply.media_url.startswith("/media/whatsapp/")
    assert stored(reply) == PNG
    assert reply.metadata["size"] == len(PNG)
    visitor_group = groups.visitor(asked.conversation.visitor_session_id)
    seen = [
        (name, e["message"]) for g, name, e in published if g == visitor_group and e.get("message")
    ]
    seen = [(name, m["media_url"]) for name, m in seen if m["id"] == reply.pk]
    assert seen == [("message.created", None), ("message.updated", reply.media_url)]
    served = Client().get(reply.media_url)
    assert (served.status_code, served["Content-Type"]) == (200, "image/png")
    # Nothing went back to the agent's phone: no "Not sent" notice.
    assert [m["body"] for m in to_phone(emulator, ALICE)] == [
        f"[#{asked.conversation.code}] {asked.conversation.visitor_name}: Which one?"
    ]


def test_a_replayed_photo_webhook_creates_nothing_new(alice, emulator, media):
    asked = visitor_writes("v1")
    phone_sends_file(emulator, ALICE, PNG, "image/png", reply_to=asked.whatsapp_message_id)
    emulator.outbox.append(emulator.outbox[-1])  # Meta delivers the same webhook twice
    responses = emulator.deliver_webhooks()

    assert {r.status_code for r in responses} == {200}
    assert Message.objects.filter(sender_type="agent", message_type="image").count() == 1
    assert len(stored_files(media)) == 1  # fetched once
    assert AgentPhoneMessage.objects.filter(direction="from_agent").count() == 1


def test_a_document_without_a_caption_goes_to_the_latest_conversation(alice, emulator):
    asked = visitor_writes("v1")
    phone_sends_file(emulator, ALICE, samples.pdf(), "application/pdf", filename="prices.pdf")
    emulator.deliver_webhooks()

    reply = Message.objects.get(sender_type="agent")
    assert (reply.conversation, reply.message_type, reply.content) == (
        asked.conversation,
        "document",
        "",
    )
    assert events.attachment_data(reply)["filename"] == "prices.pdf"
    assert stored(reply) == samples.pdf()
    assert reply.preview == "📄 prices.pdf"
    assert len(to_phone(emulator, ALICE)) == 1  # the relayed question; no "Message is empty."


def test_the_code_in_a_caption_picks_the_conversation_and_is_cut_off(alice, emulator):
    first = visitor_writes("v1")
    visitor_writes("v2", text="And me?")  # relayed last: the default without a code
    code = first.conversation.code
    phone_sends_file(emulator, ALICE, PNG, "image/png", caption=f"#{code} yours")
    emulator.deliver_webhooks()

    reply = Message.objects.get(sender_type="agent")
    assert (reply.conversation, reply.content) == (first.conversation, "yours")


def test_an_agents_voice_note_is_not_sent_and_the_agent_is_told_why(alice, emulator, client):
    asked = visitor_writes("v1")
    payload = fixture("messages__audio")
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = ALICE
    assert post_webhook(client, payload).status_code == 200

    assert not Message.objects.filter(sender_type="agent").exists()
    notice = to_phone(emulator, ALICE)[-1]["body"]
    assert notice.startswith(f"Not sent to #{asked.conversation.code}: visitors can receive text")


def test_an_agents_photo_that_cannot_be_fetched_fails_and_the_agent_is_told(alice, emulator):
    asked = visitor_writes("v1")
    sent = phone_sends_file(emulator, ALICE, PNG, "image/png", caption="Here")
    Media.objects.filter(media_id=sent["media_id"]).delete()  # gone from WhatsApp
    emulator.deliver_webhooks()

    reply = Message.objects.get(sender_type="agent")
    assert (reply.status, reply.media_url) == ("failed", None)
    assert reply.metadata["error"]["reason"].startswith("The file could not be fetched")
    notice = to_phone(emulator, ALICE)[-1]["body"]
    assert notice.startswith(f"Not sent to #{asked.conversation.code}: The file could not be")


def test_an_agents_photo_reaches_a_whatsapp_customer_once_it_is_stored(alice, emulator):
    emulator.phone_sends(CUSTOMER, "Do you have it in green?")
    emulator.deliver_webhooks()
    copy = to_phone(emulator, ALICE)[-1]
    phone_sends_file(emulator, ALICE, PNG, "image/png", caption="Green", reply_to=copy["wamid"])
    emulator.deliver_webhooks()

    reply = Message.objects.get(sender_type="agent")
    assert (reply.status, reply.message_type, reply.content) == ("sent", "image", "Green")
    received = to_phone(emulator, CUSTOMER)
    assert [(m["kind"], m["body"], m["wamid"]) for m in received] == [
        ("image", "Green", reply.whatsapp_message_id)
    ]
    assert bytes(Media.objects.get(media_id=received[0]["media_id"]).content) == PNG


# --- Customer -> agent's phone ---------------------------------------------------------------


def test_a_customers_photo_reaches_the_agents_phone_as_a_photo_after_it_is_fetched(alice, emulator):
    sent = phone_sends_file(emulator, CUSTOMER, PNG, "image/png", caption="the receipt")
    # WhatsApp's media endpoint fails once (retryable): the file is not stored yet.
    faults.add(
        Fault.Target.GRAPH, Fault.Action.ERROR, http_status=503, code=131016, path=sent["media_id"]
    )
    emulator.deliver_webhooks()

    message = Message.objects.get(sender_type="visitor")
    assert message.conversation.agent == alice
    assert message.media_url is None
    assert [name for name, _ in scheduled()] == ["fetch_media"]
    assert to_phone(emulator, ALICE) == []  # nothing relayed before the file is here

    run_scheduled()

    message.refresh_from_db()
    assert stored(message) == PNG
    copies = to_phone(emulator, ALICE)
    code = message.conversation.code
    assert [(c["kind"], c["body"]) for c in copies] == [
        ("image", f"[#{code}] {message.conversation.visitor_name}: the receipt")
    ]
    assert bytes(Media.objects.get(media_id=copies[0]["media_id"]).content) == PNG
    row = AgentPhoneMessage.objects.get(message=message)
    assert (row.status, row.wamid) == ("sent", copies[0]["wamid"])

    run_scheduled()  # nothing left to do: never sent twice
    assert len(to_phone(emulator, ALICE)) == 1


def test_a_replayed_customer_photo_is_relayed_once(alice, emulator):
    phone_sends_file(emulator, CUSTOMER, samples.pdf(), "application/pdf", filename="quote.pdf")
    emulator.outbox.append(emulator.outbox[-1])
    emulator.deliver_webhooks()

    message = Message.objects.get(sender_type="visitor")
    code = message.conversation.code
    copies = to_phone(emulator, ALICE)
    assert [(c["kind"], c["filename"], c["body"]) for c in copies] == [
        ("document", "quote.pdf", f"[#{code}] {message.conversation.visitor_name}: quote.pdf")
    ]


def test_a_customers_photo_that_cannot_be_fetched_still_reaches_the_agent_as_text(
    alice, emulator, replay
):
    replay("messages__image")  # a media id the emulator never stored: Graph error 100

    message = Message.objects.get(sender_type="visitor")
    assert message.media_url is None
    copy = to_phone(emulator, ALICE)[-1]
    assert copy["kind"] == "text"
    assert copy["body"] == (
        f"[#{message.conversation.code}] Carol Customer: The broken part "
        "(the file could not be fetched from WhatsApp)"
    )


def test_a_widget_visitors_photo_without_caption_is_relayed_as_a_photo(alice, emulator):
    session = actions.touch_visitor_session(session_id="v1")
    message, _ = actions.send_visitor_attachment(
        visitor_session=session, content=PNG, filename="bike.png", client_id="a1"
    )
    message.refresh_from_db()

    copy = to_phone(emulator, ALICE)[-1]
    assert (copy["kind"], copy["wamid"]) == ("image", message.whatsapp_message_id)
    assert copy["body"] == f"[#{message.conversation.code}] {session.display_name}: 📷 Photo"
    assert bytes(Media.objects.get(media_id=copy["media_id"]).content) == PNG


# --- Previews --------------------------------------------------------------------------------


def test_the_inbox_and_the_list_command_show_what_was_attached(alice, emulator):
    session = actions.touch_visitor_session(session_id="v1")
    photo, _ = actions.send_visitor_attachment(
        visitor_session=session, content=PNG, filename="bike.png", client_id="a1"
    )
    other = actions.touch_visitor_session(session_id="v2")
    document, _ = actions.send_visitor_attachment(
        visitor_session=other, content=samples.pdf(), filename="order 12.pdf", client_id="a2"
    )
    client = Client()
    client.force_login(alice.user)

    rows = client.get("/center/api/conversations").json()["conversations"]
    previews = {row["id"]: row["preview"] for row in rows}
    assert previews[str(photo.conversation_id)] == "📷 Photo"
    assert previews[str(document.conversation_id)] == "📄 order 12.pdf"
    assert events.message_data(photo)["preview"] == "📷 Photo"

    emulator.phone_sends(ALICE, "/list")
    emulator.deliver_webhooks()
    listing = to_phone(emulator, ALICE)[-1]["body"]
    assert f"#{photo.conversation.code} {photo.conversation.visitor_name}: 📷 Photo" in listing
    assert f"#{document.conversation.code} {other.display_name}: 📄 order 12.pdf" in listing
