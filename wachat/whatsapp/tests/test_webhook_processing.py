"""The worker's side of the webhook inbox: order independence, retries of statuses that
arrive early, the 5-attempt limit, replay, media, and the emulator's webhook faults."""

import base64

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from wachat.conversations import actions
from wachat.conversations.models import Conversation, Message
from wachat.whatsapp import tasks
from wachat.whatsapp.emulator import faults, window
from wachat.whatsapp.emulator.models import Fault
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.tests.conftest import CUSTOMER, fixture, run_scheduled, scheduled

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN = fixture("statuses__unknown_message")["entry"][0]["changes"][0]["value"]["statuses"][0]


def test_statuses_only_move_forward_whatever_the_order(replay, our_message):
    replay("statuses__read")
    replay("statuses__delivered")
    replay("statuses__sent")

    our_message.refresh_from_db()
    assert our_message.status == "read"
    assert WebhookEvent.objects.filter(processed=True).count() == 3


def test_a_status_for_an_unknown_message_is_retried_until_the_message_exists(replay, bob):
    replay("statuses__unknown_message")
    event = WebhookEvent.objects.get()
    assert (event.processed, event.retry_count) == (False, 1)
    assert "unknown message" in event.error_message
    assert scheduled() == [("process_webhook_event", (event.pk,))]

    conversation = actions.receive_whatsapp_message(
        phone=CUSTOMER, profile_name="Carol", whatsapp_message_id="wamid.in", text="Hi"
    )[0].conversation
    sent, _ = actions.send_agent_message(
        conversation=conversation, agent=bob, text="Hello", whatsapp_message_id=UNKNOWN["id"]
    )
    run_scheduled()

    event.refresh_from_db()
    sent.refresh_from_db()
    assert event.processed
    assert sent.status == "delivered"


def test_after_five_failed_attempts_an_event_waits_for_replay(replay, bob):
    replay("statuses__unknown_message")
    while run_scheduled():
        pass

    event = WebhookEvent.objects.get()
    assert (event.retry_count, event.needs_review, event.processed) == (5, True, False)
    assert scheduled() == []


def test_replay_command_processes_failed_events_once(replay, bob, capsys):
    replay("statuses__unknown_message")
    while run_scheduled():
        pass
    conversation = actions.receive_whatsapp_message(
        phone=CUSTOMER, profile_name="Carol", whatsapp_message_id="wamid.in", text="Hi"
    )[0].conversation
    sent, _ = actions.send_agent_message(
        conversation=conversation, agent=bob, text="Hello", whatsapp_message_id=UNKNOWN["id"]
    )

    call_command("replay_webhooks", "--failed")
    call_command("replay_webhooks", "--failed")  # nothing left to replay

    sent.refresh_from_db()
    assert sent.status == "delivered"
    assert WebhookEvent.objects.get().processed
    assert capsys.readouterr().out.splitlines()[-1] == "0 processed, 0 failed"


def test_replaying_processed_events_by_id_creates_no_duplicates(replay, emulator, our_message):
    replay("batched__messages_and_statuses")
    replay("messages__reaction")
    before = list(Message.objects.order_by("pk").values_list("pk", "status", "metadata"))

    ids = [str(pk) for pk in WebhookEvent.objects.values_list("pk", flat=True)]
    call_command("replay_webhooks", *ids)

    assert list(Message.objects.order_by("pk").values_list("pk", "status", "metadata")) == before
    assert WebhookEvent.objects.filter(processed=True).count() == 2


def test_replay_command_needs_ids_or_failed(db):
    with pytest.raises(CommandError):
        call_command("replay_webhooks")
    with pytest.raises(CommandError, match="no such event: 999"):
        call_command("replay_webhooks", "999")


def test_a_processing_error_rolls_back_and_retries(replay, monkeypatch, bob):
    def boom(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(tasks.actions, "receive_whatsapp_message", boom)
    replay("messages__text")

    event = WebhookEvent.objects.get()
    assert (event.processed, event.retry_count) == (False, 1)
    assert event.error_message == "database hiccup"
    assert not Message.objects.exists()

    monkeypatch.undo()
    run_scheduled()
    event.refresh_from_db()
    assert event.processed
    assert Message.objects.get(sender_type="visitor").content == "Hi! Is the shop open on Sunday?"


def test_a_new_profile_name_updates_the_open_conversation(replay, customer_conversation):
    assert customer_conversation.visitor_name == "Carol"
    replay("messages__text")

    customer_conversation.refresh_from_db()
    assert customer_conversation.visitor_name == "Carol Customer"


# --- Media ----------------------------------------------------------------------------------

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_an_image_from_the_phone_is_downloaded_into_storage(emulator, bob, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    emulator.django.post(
        "/emulator/api/send",
        {
            "phone": CUSTOMER,
            "text": "the receipt",
            "media": {"data": base64.b64encode(PNG).decode(), "mime_type": "image/png"},
        },
        content_type="application/json",
    )
    emulator.deliver_webhooks()

    message = Message.objects.get(sender_type="visitor")
    assert (message.message_type, message.content) == ("image", "the receipt")
    assert message.media_url.startswith("/media/whatsapp/")
    with default_storage.open(message.metadata["storage_name"]) as stored:
        assert stored.read() == PNG


def test_a_document_keeps_its_filename(emulator, bob, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    emulator.django.post(
        "/emulator/api/send",
        {
            "phone": CUSTOMER,
            "media": {
                "data": base64.b64encode(b"%PDF-1.4 tiny").decode(),
                "mime_type": "application/pdf",
                "filename": "quote.pdf",
            },
        },
        content_type="application/json",
    )
    emulator.deliver_webhooks()

    message = Message.objects.get(sender_type="visitor")
    assert (message.message_type, message.content) == ("document", "quote.pdf")
    assert message.media_url.endswith(".pdf")


def test_media_that_cannot_be_fetched_leaves_the_message_without_a_file(replay, emulator, bob):
    replay("messages__image")  # a media id the emulator never stored: Graph error 100

    message = Message.objects.get(sender_type="visitor")
    assert message.media_url is None
    assert WebhookEvent.objects.get().processed  # the message itself is in


# --- The emulator's webhook faults ----------------------------------------------------------


def test_a_duplicated_webhook_is_stored_twice_and_applied_once(emulator, bob):
    faults.add(Fault.Target.WEBHOOKS, Fault.Action.DUPLICATE)
    emulator.phone_sends(CUSTOMER, "only once")

    responses = emulator.deliver_webhooks()

    assert [r.status_code for r in responses] == [200, 200]
    assert WebhookEvent.objects.count() == 2
    assert Message.objects.filter(content="only once").count() == 1


def test_a_dropped_webhook_never_arrives(emulator, bob):
    faults.add(Fault.Target.WEBHOOKS, Fault.Action.DROP)
    emulator.phone_sends(CUSTOMER, "lost")
    emulator.phone_sends(CUSTOMER, "found")
    emulator.deliver_webhooks()

    assert list(
        Message.objects.filter(sender_type="visitor").values_list("content", flat=True)
    ) == ["found"]


def test_reordered_status_webhooks_still_end_at_read(emulator, bob):
    window.open_window(CUSTOMER)
    conversation = actions.receive_whatsapp_message(
        phone=CUSTOMER, profile_name="Carol", whatsapp_message_id="wamid.in", text="Hi"
    )[0].conversation
    sent, _ = actions.send_agent_message(
        conversation=conversation, agent=bob, text="Hello", client_id="c1"
    )
    emulator.deliver_webhooks()  # "sent"
    faults.add(Fault.Target.WEBHOOKS, Fault.Action.REORDER)
    emulator.django.get("/emulator/api/thread", {"phone": CUSTOMER, "seen": "1"})

    statuses = [
        p["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for p in emulator.outbox
    ]
    assert statuses == ["read", "delivered"]
    emulator.deliver_webhooks()
    sent.refresh_from_db()
    assert sent.status == "read"
    assert Conversation.objects.count() == 1
