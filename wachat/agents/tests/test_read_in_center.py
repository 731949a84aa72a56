"""An agent reading a conversation in the Conversation Center (the "read" frame): a widget
visitor's messages turn read, forward only, and the widget hears it live (blue ticks)."""

import pytest
from channels.db import database_sync_to_async

from wachat.agents import actions as agent_actions
from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.realtime import groups, publish
from wachat.realtime.tests.test_agent_consumer import (
    connect_agent,
    connect_visitor,
    conversation_for,
    receive_until,
)


def visitor_writes(visitor, *texts):
    messages = [
        actions.send_visitor_message(visitor_session=visitor, text=text, client_id=f"v-{text}")[0]
        for text in texts
    ]
    return messages[0].conversation, messages


def statuses(messages):
    return [Message.objects.get(pk=m.pk).status for m in messages]


def test_reading_turns_the_visitors_messages_up_to_there_read(bob, visitor):
    conversation, (first, second, third) = visitor_writes(visitor, "one", "two", "three")
    assert statuses([first, second, third]) == ["sent", "sent", "sent"]

    agent_actions.mark_read(agent=bob, conversation=conversation, up_to=second.pk)

    assert statuses([first, second, third]) == ["read", "read", "sent"]


def test_reading_leaves_the_agents_messages_notes_and_failed_ones_alone(bob, visitor):
    conversation, (failed, read_later) = visitor_writes(visitor, "failed", "fine")
    actions.assign_conversation(conversation=conversation, agent=bob, by=bob)
    actions.record_failed(message=failed, reason="boom")
    answer, _ = actions.send_agent_message(
        conversation=conversation, agent=bob, text="answer", client_id="a1"
    )
    note, _ = actions.add_note(conversation=conversation, agent=bob, text="note", client_id="n1")

    agent_actions.mark_read(agent=bob, conversation=conversation, up_to=note.pk)

    assert statuses([failed, read_later, answer, note]) == ["failed", "read", "sent", "sent"]


def test_reading_twice_changes_nothing_the_second_time(
    bob, visitor, monkeypatch, django_capture_on_commit_callbacks
):
    conversation, (message,) = visitor_writes(visitor, "once")
    sent = []
    monkeypatch.setattr(publish, "send_now", lambda to, event: sent.append((to, event)))

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            agent_actions.mark_read(agent=bob, conversation=conversation, up_to=message.pk)

    assert statuses([message]) == ["read"]
    to_widget = [event for to, event in sent if to == [groups.visitor(visitor.pk)]]
    assert [(e["event"], e["message"]["id"], e["message"]["status"]) for e in to_widget] == [
        ("message.updated", message.pk, "read")
    ]


def test_one_read_moves_at_most_the_newest_100(bob, visitor):
    conversation, messages = visitor_writes(visitor, *[f"m{i}" for i in range(102)])
    moved = actions.mark_read_by_agent(conversation=conversation, up_to=messages[-1].pk)
    assert moved == 100
    assert statuses(messages[:2]) == ["sent", "sent"]
    assert set(statuses(messages[2:])) == {"read"}


def test_a_message_the_relay_has_not_sent_yet_waits_for_a_later_read(bob, visitor):
    conversation, (message,) = visitor_writes(visitor, "relayed")
    Message.objects.filter(pk=message.pk).update(status=Message.Status.PENDING)

    agent_actions.mark_read(agent=bob, conversation=conversation, up_to=message.pk)
    assert statuses([message]) == ["pending"]  # deliver_message still sends it

    Message.objects.filter(pk=message.pk).update(status=Message.Status.DELIVERED)
    agent_actions.mark_read(agent=bob, conversation=conversation, up_to=message.pk)
    assert statuses([message]) == ["read"]


@pytest.mark.django_db(transaction=True)
def test_a_whatsapp_customer_gets_blue_ticks_when_an_agent_reads(bob, emulator):
    from wachat.whatsapp.emulator.models import PhoneMessage

    emulator.phone_sends("15557654321", "Hello")
    emulator.phone_sends("15557654321", "Anyone?")
    emulator.deliver_webhooks()
    first, second = Message.objects.filter(sender_type="visitor").order_by("pk")

    agent_actions.mark_read(agent=bob, conversation=second.conversation, up_to=second.pk)

    assert statuses([first, second]) == ["read", "read"]
    on_phone = PhoneMessage.objects.filter(phone="15557654321", direction="from_phone")
    assert sorted(on_phone.values_list("status", flat=True)) == ["read", "read"]


@pytest.mark.django_db(transaction=True)
async def test_the_read_frame_gives_the_widget_blue_ticks_live(bob, visitor):
    import config.asgi  # noqa: F401  (URL modules may touch the database)

    conversation = await conversation_for("bob", visitor.pk)
    message = await database_sync_to_async(conversation.messages.get)(sender_type="visitor")
    center = await connect_agent(conversation.agent)
    widget = await connect_visitor(visitor)

    await center.send_json_to(
        {"type": "read", "conversation_id": str(conversation.pk), "up_to": message.pk}
    )

    event = await receive_until(widget, lambda f: f.get("event") == "message.updated", limit=5)
    assert (event["message"]["id"], event["message"]["status"]) == (message.pk, "read")
    assert await database_sync_to_async(statuses)([message]) == ["read"]
    await center.disconnect()
    await widget.disconnect()
