"""The Conversation Center's socket: who may connect, what each role may change, and which
events reach whom."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import ChatAgent, Conversation, Message
from wachat.widget import auth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _asgi_loaded(transactional_db):
    """Import the ASGI app from sync code with the database open (URL modules may touch it)."""
    import config.asgi  # noqa: F401


def asgi():
    from config.asgi import application

    return application


@database_sync_to_async
def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def connect_agent(agent):
    cookie = await session_cookie(agent.user)
    communicator = WebsocketCommunicator(
        asgi(),
        "/ws/agent/",
        headers=[(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())],
    )
    connected, code = await communicator.connect()
    assert connected, code
    return communicator


async def connect_visitor(session):
    communicator = WebsocketCommunicator(
        asgi(),
        f"/ws/widget/?token={auth.issue_token(session.pk)}",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")],
    )
    connected, code = await communicator.connect()
    assert connected, code
    return communicator


async def receive_until(communicator, predicate, limit=20):
    for _ in range(limit):
        frame = await communicator.receive_json_from(timeout=2)
        if predicate(frame):
            return frame
    raise AssertionError("frame not received")


async def frames_until_quiet(communicator):
    frames = []
    while not await communicator.receive_nothing(timeout=0.3):
        frames.append(await communicator.receive_json_from())
    return frames


@database_sync_to_async
def conversation_for(agent_name, visitor_id):
    """A visitor writes; the only online agent (`agent_name`) gets the conversation."""
    session = actions.touch_visitor_session(session_id=visitor_id)
    message, _ = actions.send_visitor_message(visitor_session=session, text="hi", client_id="v1")
    conversation = Conversation.objects.select_related("agent").get(pk=message.conversation_id)
    assert conversation.agent.user.username == agent_name
    return conversation


@database_sync_to_async
def snapshot(conversation):
    c = Conversation.objects.get(pk=conversation.pk)
    return (c.status, c.agent_id, c.priority, c.messages.count())


@database_sync_to_async
def set_status(agent, status):
    ChatAgent.objects.filter(pk=agent.pk).update(status=status)


async def test_only_users_with_an_agent_account_connect(db):
    communicator = WebsocketCommunicator(asgi(), "/ws/agent/")
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4403)

    user = await database_sync_to_async(get_user_model().objects.create_user)("eve", password="x")
    cookie = await session_cookie(user)
    communicator = WebsocketCommunicator(
        asgi(), "/ws/agent/", headers=[(b"cookie", f"sessionid={cookie}".encode())]
    )
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4403)


async def test_an_agent_reply_is_acked_and_reaches_the_visitor(db):
    alice = await database_sync_to_async(make_agent)("alice")
    conversation = await conversation_for("alice", "visitor-1")
    session = await database_sync_to_async(lambda: conversation.visitor_session)()
    widget = await connect_visitor(session)
    center = await connect_agent(alice)

    await center.send_json_to(
        {
            "type": "message",
            "conversation_id": str(conversation.pk),
            "client_id": "a1",
            "text": "Hello",
        }
    )
    ack = await receive_until(center, lambda f: f["type"] == "ack")
    assert ack["message"]["content"] == "Hello"
    pushed = await receive_until(widget, lambda f: f.get("event") == "message.created")
    assert pushed["message"]["content"] == "Hello"
    await center.disconnect()
    await widget.disconnect()


async def test_notes_reach_agents_but_never_the_visitors_socket(db):
    alice = await database_sync_to_async(make_agent)("alice")
    conversation = await conversation_for("alice", "visitor-1")
    session = await database_sync_to_async(lambda: conversation.visitor_session)()
    widget = await connect_visitor(session)
    center = await connect_agent(alice)

    await center.send_json_to(
        {"type": "note", "conversation_id": str(conversation.pk), "client_id": "n1", "text": "VIP"}
    )
    await receive_until(center, lambda f: f["type"] == "ack" and f["message"]["private"])
    event = await receive_until(center, lambda f: f.get("event") == "message.created")
    assert event["message"]["content"] == "VIP"
    assert all("VIP" not in str(frame) for frame in await frames_until_quiet(widget))

    # A resume (the widget's catch-up after a reconnect) does not return it either.
    await widget.send_json_to({"type": "resume", "after": 0})
    history = await receive_until(widget, lambda f: f["type"] == "history")
    assert [m["content"] for m in history["messages"]] == ["hi"]
    await center.disconnect()
    await widget.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message", "client_id": "x1", "text": "hijack"},
        {"type": "note", "client_id": "x2", "text": "hijack"},
        {"type": "close"},
        {"type": "reopen"},
        {"type": "take"},
        {"type": "assign", "agent_id": "SELF"},
        {"type": "priority", "priority": 3},
        {"type": "typing", "typing": True},
        {"type": "read", "up_to": 10},
    ],
)
async def test_a_crafted_frame_for_another_agents_conversation_changes_nothing(db, frame):
    await database_sync_to_async(make_agent)("alice")
    conversation = await conversation_for("alice", "visitor-1")
    bob = await database_sync_to_async(make_agent)("bob")
    before = await snapshot(conversation)
    center = await connect_agent(bob)

    frame = {**frame, "conversation_id": str(conversation.pk)}
    if frame.get("agent_id") == "SELF":
        frame["agent_id"] = bob.pk
    await center.send_json_to(frame)
    error = await receive_until(center, lambda f: f["type"] == "error")

    assert error["detail"] == "Unknown conversation."
    assert await snapshot(conversation) == before
    await center.disconnect()


async def test_events_about_another_agents_conversation_are_not_forwarded(db):
    alice = await database_sync_to_async(make_agent)("alice")
    bob = await database_sync_to_async(make_agent)("bob")
    admin = await database_sync_to_async(make_agent)("boss", status=ChatAgent.Status.OFFLINE)
    await database_sync_to_async(get_user_model().objects.filter(username="boss").update)(
        is_staff=True
    )
    await set_status(bob, "away")
    bob_center, boss_center = await connect_agent(bob), await connect_agent(admin)

    conversation = await conversation_for("alice", "visitor-1")

    bob_frames = await frames_until_quiet(bob_center)
    boss_frames = await frames_until_quiet(boss_center)
    assert str(conversation.pk) not in str([f for f in bob_frames if "message" in f])
    assert not [f for f in bob_frames if f.get("event") == "message.created"]
    assert any(
        f.get("event") == "message.created" and f["message"]["content"] == "hi" for f in boss_frames
    )
    assert alice.pk  # alice holds the conversation
    await bob_center.disconnect()
    await boss_center.disconnect()


async def test_waiting_conversations_are_visible_to_every_agent_and_one_can_take_them(db):
    bob = await database_sync_to_async(make_agent)("bob", status=ChatAgent.Status.AWAY)
    center = await connect_agent(bob)
    session = await database_sync_to_async(actions.touch_visitor_session)(session_id="v-9")
    await database_sync_to_async(actions.send_visitor_message)(
        visitor_session=session, text="anyone?", client_id="c1"
    )
    event = await receive_until(center, lambda f: f.get("event") == "message.created")
    conversation_id = event["message"]["conversation_id"]

    await center.send_json_to({"type": "take", "conversation_id": conversation_id})
    ok = await receive_until(center, lambda f: f["type"] in ("ok", "error"))
    assert ok == {"type": "ok", "frame": "take", "conversation_id": conversation_id}
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert (conversation.agent_id, conversation.status) == (bob.pk, "active")
    await center.disconnect()


async def test_going_online_from_the_center_takes_the_queue_and_heartbeats_count(db):
    bob = await database_sync_to_async(make_agent)("bob", status=ChatAgent.Status.OFFLINE)
    session = await database_sync_to_async(actions.touch_visitor_session)(session_id="v-9")
    message, _ = await database_sync_to_async(actions.send_visitor_message)(
        visitor_session=session, text="anyone?", client_id="c1"
    )
    await database_sync_to_async(ChatAgent.objects.filter(pk=bob.pk).update)(last_activity_at=None)
    center = await connect_agent(bob)

    await center.send_json_to({"type": "heartbeat"})
    await center.send_json_to({"type": "status", "status": "online"})
    ok = await receive_until(center, lambda f: f["type"] == "ok")
    assert ok["status"] == "online"
    conversation = await database_sync_to_async(Conversation.objects.get)(
        pk=message.conversation_id
    )
    assert conversation.agent_id == bob.pk
    await database_sync_to_async(bob.refresh_from_db)()
    assert bob.last_activity_at is not None

    await center.send_json_to({"type": "status", "status": "asleep"})
    error = await receive_until(center, lambda f: f["type"] == "error")
    assert "Unknown status" in error["detail"]
    await center.disconnect()


async def test_agent_typing_reaches_the_visitor(db):
    alice = await database_sync_to_async(make_agent)("alice")
    conversation = await conversation_for("alice", "visitor-1")
    session = await database_sync_to_async(lambda: conversation.visitor_session)()
    widget = await connect_visitor(session)
    center = await connect_agent(alice)
    await center.send_json_to(
        {"type": "typing", "conversation_id": str(conversation.pk), "typing": True}
    )
    event = await receive_until(widget, lambda f: f.get("event") == "typing")
    assert (event["sender_type"], event["typing"]) == ("agent", True)
    await center.disconnect()
    await widget.disconnect()


async def test_a_supervisor_transfers_a_conversation_with_a_record(db):
    alice = await database_sync_to_async(make_agent)("alice")
    conversation = await conversation_for("alice", "visitor-1")
    bob = await database_sync_to_async(make_agent)("bob")
    boss = await database_sync_to_async(make_agent)("boss", status=ChatAgent.Status.OFFLINE)
    await database_sync_to_async(get_user_model().objects.filter(username="boss").update)(
        is_staff=True
    )
    boss = await database_sync_to_async(ChatAgent.objects.select_related("user").get)(pk=boss.pk)
    center = await connect_agent(boss)
    await center.send_json_to(
        {"type": "assign", "conversation_id": str(conversation.pk), "agent_id": bob.pk}
    )
    await receive_until(center, lambda f: f["type"] == "ok")
    records = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(conversation=conversation, sender_type="system").values_list(
                "content", flat=True
            )
        )
    )()
    assert records[-1] == "Boss assigned the conversation to Bob."
    assert alice.pk != bob.pk
    await center.disconnect()
