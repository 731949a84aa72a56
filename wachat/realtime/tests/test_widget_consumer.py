from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.widget import auth

pytestmark = pytest.mark.django_db(transaction=True)


async def receive_until(communicator, predicate, limit=10):
    """Frames arrive in no promised order (acks and events interleave): find the one wanted."""
    for _ in range(limit):
        frame = await communicator.receive_json_from()
        if predicate(frame):
            return frame
    raise AssertionError("frame not received")


async def connect(token):
    communicator = WebsocketCommunicator(application, f"/ws/widget/?token={token}")
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_a_visitor_with_a_valid_token_sends_and_gets_an_ack(visitor):
    communicator, connected, _ = await connect(auth.issue_token(visitor.pk))
    assert connected
    await communicator.send_json_to({"type": "message", "client_id": "c1", "text": "Hi"})
    ack = await receive_until(communicator, lambda f: f["type"] == "ack")
    assert ack["message"]["content"] == "Hi"
    await communicator.disconnect()


async def test_a_forged_token_is_refused(db):
    _, connected, code = await connect("forged")
    assert not connected
    assert code == 4401


async def test_an_agent_reply_is_pushed_to_the_visitor(visitor):
    communicator, _, _ = await connect(auth.issue_token(visitor.pk))
    await communicator.send_json_to({"type": "message", "client_id": "c1", "text": "Hi"})
    ack = await receive_until(communicator, lambda f: f["type"] == "ack")
    bob = await database_sync_to_async(make_agent)("bob")
    conversation = await database_sync_to_async(lambda: visitor.conversations.get())()
    await database_sync_to_async(actions.send_agent_message)(
        conversation=conversation, agent=bob, text="Hello, I'm Bob", client_id="a1"
    )
    pushed = await receive_until(
        communicator,
        lambda f: f.get("event") == "message.created" and f["message"]["sender_type"] == "agent",
    )
    assert pushed["message"]["content"] == "Hello, I'm Bob"
    assert ack["message"]["id"] < pushed["message"]["id"]
    await communicator.disconnect()


async def test_resume_returns_what_was_missed(visitor):
    for i in range(3):
        await database_sync_to_async(actions.send_visitor_message)(
            visitor_session=visitor, text=f"m{i}", client_id=f"c{i}"
        )
    first = await database_sync_to_async(
        lambda: visitor.conversations.get().messages.order_by("pk").first()
    )()
    communicator, _, _ = await connect(auth.issue_token(visitor.pk))
    await communicator.send_json_to({"type": "resume", "after": first.pk})
    history = await communicator.receive_json_from()
    assert [m["content"] for m in history["messages"]] == ["m1", "m2"]
    await communicator.disconnect()


async def test_bad_frames_get_a_clear_error(visitor):
    communicator, _, _ = await connect(auth.issue_token(visitor.pk))
    await communicator.send_to(text_data="not json")
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.send_json_to({"type": "message", "client_id": "c1", "text": ""})
    error = await receive_until(communicator, lambda f: f["type"] == "error")
    assert error == {"type": "error", "client_id": "c1", "detail": "Message is empty."}
    await communicator.disconnect()


def _history_with_a_stale_message(visitor):
    """A visitor message "old" unchanged for an hour, then "hi" just now."""
    old, _ = actions.send_visitor_message(visitor_session=visitor, text="old", client_id="c0")
    Message.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    mine, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    return mine


async def test_a_resume_with_the_cursor_brings_the_changes_and_the_close_missed_meanwhile(
    visitor,
):
    mine = await database_sync_to_async(_history_with_a_stale_message)(visitor)
    communicator, _, _ = await connect(auth.issue_token(visitor.pk))
    await communicator.send_json_to({"type": "resume", "after": 0})
    history = await communicator.receive_json_from()
    assert [m["content"] for m in history["messages"]] == ["old", "hi"]
    assert history["conversation"]["status"] == "waiting" and history["cursor"]

    bob = await database_sync_to_async(make_agent)("bob")
    await database_sync_to_async(actions.send_agent_message)(
        conversation=mine.conversation, agent=bob, text="Hello", client_id="a1"
    )
    pushed = await receive_until(communicator, lambda f: f.get("event") == "message.created")
    reply = pushed["message"]
    # As the widget does: the cursor is the newest change seen, here the pushed reply.
    cursor = max(history["cursor"], reply["updated_at"], key=datetime.fromisoformat)
    await communicator.disconnect()

    # While the visitor is away: their message is delivered on WhatsApp, the reply is read
    # in another tab, and the conversation is closed.
    def meanwhile():
        actions.record_sent(message=mine, whatsapp_message_id="wamid.hi")
        actions.record_whatsapp_status(whatsapp_message_id="wamid.hi", status="delivered")
        actions.mark_read_by_visitor(visitor_session=visitor, up_to=reply["id"])
        actions.close_conversation(conversation=mine.conversation, by=bob)

    await database_sync_to_async(meanwhile)()

    communicator, _, _ = await connect(auth.issue_token(visitor.pk))
    await communicator.send_json_to({"type": "resume", "after": reply["id"], "since": cursor})
    resumed = await communicator.receive_json_from()
    assert resumed["type"] == "history"
    assert resumed["messages"] == []  # nothing new (the close record is for agents only)
    # "old" did not change since the cursor: it does not come again.
    updates = {m["content"]: m["status"] for m in resumed["updates"]}
    assert updates == {"hi": "delivered", "Hello": "read"}
    assert resumed["conversation"]["status"] == "closed"
    assert datetime.fromisoformat(resumed["cursor"]) > datetime.fromisoformat(cursor)
    await communicator.disconnect()


async def test_a_resume_without_a_cursor_answers_as_before_with_no_updates(visitor):
    def delivered():
        mine = _history_with_a_stale_message(visitor)
        actions.record_sent(message=mine, whatsapp_message_id="wamid.hi")
        return actions.record_whatsapp_status(whatsapp_message_id="wamid.hi", status="delivered")

    mine = await database_sync_to_async(delivered)()
    communicator, _, _ = await connect(auth.issue_token(visitor.pk))
    await communicator.send_json_to({"type": "resume", "after": mine.pk})
    resumed = await communicator.receive_json_from()
    assert (resumed["messages"], resumed["updates"]) == ([], [])
    # A garbled cursor is ignored the same way; a real one brings the change.
    await communicator.send_json_to({"type": "resume", "after": mine.pk, "since": "yesterday"})
    assert (await communicator.receive_json_from())["updates"] == []
    earlier = (timezone.now() - timedelta(minutes=30)).isoformat()
    await communicator.send_json_to({"type": "resume", "after": mine.pk, "since": earlier})
    updates = (await communicator.receive_json_from())["updates"]
    assert [(m["content"], m["status"]) for m in updates] == [("hi", "delivered")]
    # A cursor a little newer than a change (taken from an event while that change was still
    # committing) still brings it.
    newer = (mine.updated_at + timedelta(seconds=2)).isoformat()
    await communicator.send_json_to({"type": "resume", "after": mine.pk, "since": newer})
    assert [m["id"] for m in (await communicator.receive_json_from())["updates"]] == [mine.pk]
    await communicator.disconnect()


async def test_open_widgets_hear_when_live_chat_comes_and_goes(visitor):
    """Announced to every widget when it changes (the first agent online, the last one
    gone), not on every presence change."""
    from django.core.cache import cache

    from wachat.conversations.models import ChatAgent

    await database_sync_to_async(cache.clear)()
    bob = await database_sync_to_async(make_agent)("bob", status=ChatAgent.Status.OFFLINE)
    carol = await database_sync_to_async(make_agent)("carol", status=ChatAgent.Status.OFFLINE)
    communicator, _, _ = await connect(auth.issue_token(visitor.pk))
    set_status = database_sync_to_async(actions.set_agent_status)

    await set_status(agent=bob, status="online")
    frame = await communicator.receive_json_from()
    assert (frame["event"], frame["offline"]) == ("availability", False)
    await set_status(agent=carol, status="online")  # live chat was already on
    await set_status(agent=bob, status="offline")  # carol is still there
    assert await communicator.receive_nothing(timeout=0.3)
    await set_status(agent=carol, status="away")
    frame = await communicator.receive_json_from()
    assert (frame["event"], frame["offline"]) == ("availability", True)
    await communicator.disconnect()
