"""A visitor's message relayed to the agent's WhatsApp, and the agent's reply back, through
the real client, emulator views, webhook view and worker code (in-process)."""

import pytest

from wachat.conversations import actions
from wachat.conversations.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_visitor_message_is_relayed_to_the_assigned_agents_phone(alice, visitor, emulator):
    message, _ = actions.send_visitor_message(
        visitor_session=visitor, text="Hi there", client_id="c1"
    )

    message.refresh_from_db()
    assert message.conversation.agent == alice
    assert message.status == "sent"
    relayed = emulator.thread(alice.whatsapp_phone_number)[-1]
    assert relayed["wamid"] == message.whatsapp_message_id
    assert relayed["body"] == f"[#{message.conversation.code}] {visitor.display_name}: Hi there"


def test_agent_reply_to_a_relayed_message_reaches_that_conversation(alice, visitor, emulator):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi", client_id="c1")
    message.refresh_from_db()
    emulator.phone_sends(
        alice.whatsapp_phone_number, "Hello!", reply_to=message.whatsapp_message_id
    )
    emulator.deliver_webhooks()

    reply = Message.objects.get(content="Hello!")
    assert reply.conversation == message.conversation
    assert (reply.sender_type, reply.sender_id) == ("agent", alice.pk)


def test_statuses_from_whatsapp_move_the_visitor_message_forward(alice, visitor, emulator):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi", client_id="c1")
    emulator.thread(alice.whatsapp_phone_number)  # the phone receives it: "delivered"
    emulator.django.get("/emulator/api/thread", {"phone": alice.whatsapp_phone_number, "seen": "1"})
    emulator.deliver_webhooks()

    message.refresh_from_db()
    assert message.status == "read"


def test_a_duplicate_webhook_creates_one_message(alice, visitor, emulator):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi", client_id="c1")
    message.refresh_from_db()
    emulator.phone_sends(alice.whatsapp_phone_number, "Once", reply_to=message.whatsapp_message_id)
    emulator.outbox.append(emulator.outbox[-1])  # Meta delivers the same webhook twice
    emulator.deliver_webhooks()

    assert Message.objects.filter(content="Once").count() == 1


def test_a_customer_writing_on_whatsapp_opens_a_whatsapp_conversation(bob, emulator):
    emulator.phone_sends("4915112345678", "Is the shop open today?")
    emulator.deliver_webhooks()

    message = Message.objects.get(content="Is the shop open today?")
    conversation = message.conversation
    assert (conversation.source, conversation.visitor_phone_number) == ("whatsapp", "4915112345678")
    assert conversation.agent == bob

    answer, _ = actions.send_agent_message(
        conversation=conversation, agent=bob, text="Yes, until 6.", client_id="a1"
    )
    answer.refresh_from_db()
    assert answer.status == "sent"
    assert emulator.thread("4915112345678")[-1]["body"] == "Yes, until 6."


def test_without_a_relay_number_the_message_is_stored_as_sent(bob, visitor, emulator):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi", client_id="c1")
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.whatsapp_message_id is None
