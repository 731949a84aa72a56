import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from wachat.conftest import make_agent
from wachat.conversations import actions
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
