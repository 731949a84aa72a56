"""Read receipts from the widget: the visitor saw agent messages (WebSocket frame "seen",
or POST /api/widget/seen in long-poll mode), so they turn read, forward only, live in the
Conversation Center and, for replies written on WhatsApp, on the agent's phone."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.realtime import groups, publish
from wachat.whatsapp.emulator.models import PhoneMessage
from wachat.widget import auth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def publish_through_this_loop():
    """As `manage.py serve` does: actions in worker threads publish through the event loop
    that owns the in-memory channel layer (async tests only)."""
    try:
        publish.bind_server_loop(asyncio.get_running_loop())
    except RuntimeError:
        pass
    yield
    publish.bind_server_loop(None)


def conversation_with_answers(visitor, agent, *texts):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi", client_id="v1")
    conversation = message.conversation
    actions.assign_conversation(conversation=conversation, agent=agent, by=agent)
    answers = [
        actions.send_agent_message(
            conversation=conversation, agent=agent, text=text, client_id=f"a{i}"
        )[0]
        for i, text in enumerate(texts)
    ]
    return conversation, answers


def statuses(messages):
    return [Message.objects.get(pk=m.pk).status for m in messages]


def seen_over_http(visitor, up_to):
    client = Client(headers={"X-WaChat-Token": auth.issue_token(visitor.pk)})
    return client.post("/api/widget/seen", {"up_to": up_to}, content_type="application/json")


async def test_the_seen_frame_turns_the_agents_messages_read_and_tells_the_center(visitor, bob):
    from config.asgi import application

    _, (first, second) = await sync_to_async(conversation_with_answers)(visitor, bob, "one", "two")
    layer = get_channel_layer()
    center = await layer.new_channel()
    await layer.group_add(groups.agent(bob.pk), center)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/widget/?token={auth.issue_token(visitor.pk)}",
        headers=[(b"host", b"127.0.0.1:8000")],
    )
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "seen", "up_to": second.pk})

    updates = []
    while len(updates) < 2:
        event = await asyncio.wait_for(layer.receive(center), timeout=5)
        if event["event"] == "message.updated":
            updates.append(event["message"])
    assert [(m["id"], m["status"]) for m in updates] == [(first.pk, "read"), (second.pk, "read")]
    assert await sync_to_async(statuses)([first, second]) == ["read", "read"]
    await communicator.disconnect()


async def test_a_malformed_seen_frame_is_answered_with_an_error(visitor):
    from config.asgi import application

    communicator = WebsocketCommunicator(
        application,
        f"/ws/widget/?token={auth.issue_token(visitor.pk)}",
        headers=[(b"host", b"127.0.0.1:8000")],
    )
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "seen", "up_to": "all"})
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["type"] == "error"
    await communicator.disconnect()


def test_only_messages_up_to_the_id_turn_read(visitor, bob):
    _, (first, second, third) = conversation_with_answers(visitor, bob, "1", "2", "3")
    assert seen_over_http(visitor, second.pk).json() == {"read": 2}
    assert statuses([first, second, third]) == ["read", "read", "sent"]


def test_status_only_moves_forward(visitor, bob):
    _, (failed, read) = conversation_with_answers(visitor, bob, "failed", "read")
    actions.record_failed(message=failed, reason="boom")
    Message.objects.filter(pk=read.pk).update(status=Message.Status.READ)
    assert seen_over_http(visitor, read.pk).json() == {"read": 0}
    assert statuses([failed, read]) == ["failed", "read"]


def test_seeing_twice_changes_nothing_the_second_time(visitor, bob):
    _, (answer,) = conversation_with_answers(visitor, bob, "once")
    assert seen_over_http(visitor, answer.pk).json() == {"read": 1}
    assert seen_over_http(visitor, answer.pk).json() == {"read": 0}


def test_another_visitors_message_ids_are_ignored(visitor, bob):
    _, (answer,) = conversation_with_answers(visitor, bob, "for the first visitor")
    stranger = actions.touch_visitor_session(session_id="stranger")
    assert seen_over_http(stranger, answer.pk + 1000).json() == {"read": 0}
    assert statuses([answer]) == ["sent"]


def test_private_notes_and_visitor_messages_are_left_alone(visitor, bob):
    conversation, (answer,) = conversation_with_answers(visitor, bob, "answer")
    note, _ = actions.add_note(conversation=conversation, agent=bob, text="note", client_id="n")
    mine, _ = actions.send_visitor_message(visitor_session=visitor, text="more", client_id="v2")
    seen_over_http(visitor, max(note.pk, mine.pk))
    assert statuses([answer, note, mine]) == ["read", "sent", mine.status]


def test_the_http_fallback_needs_a_token(client, visitor):
    response = client.post("/api/widget/seen", {"up_to": 1}, content_type="application/json")
    assert response.status_code == 401


def test_a_reply_written_on_whatsapp_gets_blue_ticks_on_the_agents_phone(alice, visitor, emulator):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi", client_id="c1")
    message.refresh_from_db()
    sent = emulator.phone_sends(
        alice.whatsapp_phone_number, "Hello from my phone", reply_to=message.whatsapp_message_id
    )
    emulator.deliver_webhooks()
    reply = Message.objects.get(content="Hello from my phone")
    assert PhoneMessage.objects.get(wamid=sent["wamid"]).status != "read"

    assert seen_over_http(visitor, reply.pk).json() == {"read": 1}

    assert statuses([reply]) == ["read"]
    assert PhoneMessage.objects.get(wamid=sent["wamid"]).status == "read"


def test_a_reply_from_the_center_sends_no_whatsapp_read_receipt(bob, visitor, emulator):
    _, (answer,) = conversation_with_answers(visitor, bob, "from the web")
    before = PhoneMessage.objects.filter(status="read").count()
    seen_over_http(visitor, answer.pk)
    assert PhoneMessage.objects.filter(status="read").count() == before


def test_one_report_reads_at_most_the_newest_100(visitor, bob):
    _, answers = conversation_with_answers(visitor, bob, *[f"answer {i}" for i in range(102)])
    assert seen_over_http(visitor, answers[-1].pk).json() == {"read": 100}
    assert statuses(answers[:2]) == ["sent", "sent"]
    assert set(statuses(answers[2:])) == {"read"}
