"""Every payload Meta sends, replayed through the real webhook view and worker: one line
per fixture (wachat/whatsapp/fixtures/<event>__<variant>.json)."""

import pytest

from wachat.conversations.models import Conversation, Message
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.tests.conftest import CUSTOMER, fixture_names

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def expect(replay, emulator, bob):
    """Replay `name`; exactly one new customer message with these fields is stored."""

    def expect(name, message_type, content, **metadata):
        replay(name)
        event = WebhookEvent.objects.get()
        assert event.processed, event.error_message
        message = Message.objects.get(sender_type="visitor")
        assert (message.message_type, message.content) == (message_type, content)
        assert (message.direction, message.sender_type) == ("inbound", "visitor")
        assert metadata.items() <= (message.metadata or {}).items()
        conversation = message.conversation
        assert (conversation.source, conversation.visitor_phone_number) == ("whatsapp", CUSTOMER)
        assert conversation.visitor_name == "Carol Customer"
        return message

    return expect


@pytest.fixture
def expect_status(replay, our_message):
    def expect_status(name, status, error=None):
        replay(name)
        our_message.refresh_from_db()
        assert our_message.status == status
        assert (our_message.metadata or {}).get("error") == error
        assert WebhookEvent.objects.get(event_type="statuses").processed

    return expect_status


@pytest.fixture
def expect_reaction(replay, our_message):
    def expect_reaction(name, reactions):
        replay(name)
        our_message.refresh_from_db()
        assert our_message.metadata.get("reactions") == reactions

    return expect_reaction


# --- Messages -------------------------------------------------------------------------------


def test_text(expect):
    expect("messages__text", "text", "Hi! Is the shop open on Sunday?")


def test_text_with_nul(expect):
    # PostgreSQL cannot store U+0000: it becomes U+FFFD, and the message is kept.
    expect("messages__text_with_nul", "text", "Order 42\ufffd arrived broken")


def test_text_reply(expect):
    expect("messages__text_reply", "text", "Yes, that one please")


def test_image(expect):
    expect("messages__image", "image", "The broken part", mime_type="image/jpeg")


def test_document(expect):
    expect("messages__document", "document", "My invoice", filename="invoice-1042.pdf")


def test_audio(expect):
    expect("messages__audio", "text", "[audio]", raw_type="audio", media_id="1283749203847563")


def test_video(expect):
    expect("messages__video", "text", "How it sounds", raw_type="video")


def test_sticker(expect):
    expect("messages__sticker", "text", "[sticker]", raw_type="sticker")


def test_location(expect):
    expect(
        "messages__location",
        "text",
        "📍 Alexanderplatz, Alexanderplatz, 10178 Berlin (52.520008, 13.404954)",
        raw_type="location",
    )


def test_contacts(expect):
    expect("messages__contacts", "text", "👤 Dana Friend", raw_type="contacts")


def test_interactive_button_reply(expect):
    expect("messages__interactive_button_reply", "text", "Yes, call me", reply_id="opt-yes")


def test_interactive_list_reply(expect):
    expect("messages__interactive_list_reply", "text", "Berlin store", reply_id="store-berlin")


def test_button(expect):
    expect("messages__button", "text", "Talk to an agent", payload="Talk to an agent")


def test_unsupported(expect):
    expect("messages__unsupported", "text", "[message type not supported]", raw_type="unsupported")


def test_reaction(expect_reaction):
    expect_reaction("messages__reaction", {CUSTOMER: "👍"})


def test_reaction_removed(expect_reaction, replay):
    replay("messages__reaction")
    expect_reaction("messages__reaction_removed", {})


# --- Statuses -------------------------------------------------------------------------------


def test_status_sent(expect_status):
    expect_status("statuses__sent", "sent")


def test_status_delivered(expect_status):
    expect_status("statuses__delivered", "delivered")


def test_status_read(expect_status):
    expect_status("statuses__read", "read")


def test_status_failed(expect_status):
    expect_status(
        "statuses__failed", "failed", {"code": 131026, "reason": "Message Undeliverable."}
    )


# --- Whole payloads -------------------------------------------------------------------------


def test_a_batched_payload_is_applied_whole(replay, our_message):
    replay("batched__messages_and_statuses")

    texts = {
        m.whatsapp_message_id[-5:]: m.content for m in Message.objects.filter(sender_type="visitor")
    }
    assert sorted(texts.values()) == ["First", "Hello", "Second", "Third, from Erin"]
    erin = Conversation.objects.get(visitor_phone_number="4917611122233")
    assert erin.visitor_name == "Erin"
    our_message.refresh_from_db()
    assert our_message.status == "delivered"
    assert WebhookEvent.objects.get().processed


def snapshot():
    rows = Message.objects.order_by("pk").values_list(
        "pk", "status", "content", "metadata", "media_url", "whatsapp_message_id"
    )
    return list(rows), list(Conversation.objects.order_by("pk").values_list("pk", "metadata"))


@pytest.mark.parametrize("name", [n for n in fixture_names() if "unknown" not in n])
def test_delivering_any_fixture_twice_changes_nothing(name, replay, emulator, our_message):
    replay(name)
    first = snapshot()

    replay(name)

    assert snapshot() == first
    assert WebhookEvent.objects.filter(processed=True).count() == 2
