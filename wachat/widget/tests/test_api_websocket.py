"""The widget's WebSocket (WidgetConsumer): origin allowlist, rate limit, typing."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from wachat.backoffice.models import ChatSetting
from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.realtime import groups, publish
from wachat.widget import auth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def publish_through_this_loop():
    """As `manage.py serve` does: actions running in worker threads publish through the
    event loop that owns the in-memory channel layer."""
    publish.bind_server_loop(asyncio.get_running_loop())
    yield
    publish.bind_server_loop(None)


async def connect(session_id, origin=None, host="127.0.0.1:8000"):
    from config.asgi import application  # imported late: the app's modules need the DB set up

    headers = [(b"host", host.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(
        application, f"/ws/widget/?token={auth.issue_token(session_id)}", headers=headers
    )
    connected, code = await communicator.connect()
    return communicator, connected, code


async def visitor_session(session_id="ws-visitor"):
    return await sync_to_async(actions.touch_visitor_session)(session_id=session_id)


async def test_the_servers_own_origin_may_connect():
    session = await visitor_session()
    communicator, connected, _ = await connect(session.pk, origin="http://127.0.0.1:8000")
    assert connected
    await communicator.disconnect()


async def test_an_unlisted_origin_is_refused_with_4403():
    session = await visitor_session()
    _, connected, code = await connect(session.pk, origin="https://evil.example")
    assert (connected, code) == (False, 4403)


async def test_an_allowlisted_origin_may_connect():
    session = await visitor_session()
    await sync_to_async(ChatSetting.put)("widget_allowed_origins", "https://shop.example")
    communicator, connected, _ = await connect(session.pk, origin="https://shop.example")
    assert connected
    await communicator.disconnect()


async def test_sending_too_fast_gets_a_rate_limit_error_and_stores_nothing_more(settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "message": {"visitor": (2, 60)}}
    session = await visitor_session()
    communicator, _, _ = await connect(session.pk)
    answers = []
    for i in range(3):
        await communicator.send_json_to({"type": "message", "client_id": f"c{i}", "text": "hi"})
        while True:
            frame = await communicator.receive_json_from()
            if frame["type"] in ("ack", "error"):
                answers.append(frame)
                break
    assert [a["type"] for a in answers] == ["ack", "ack", "error"]
    assert answers[2]["code"] == "rate_limited"
    assert answers[2]["client_id"] == "c2"
    assert answers[2]["retry_after"] > 0
    assert await sync_to_async(Message.objects.filter(sender_type="visitor").count)() == 2
    await communicator.disconnect()


async def test_typing_reaches_the_agents_but_is_not_echoed_to_the_visitor():
    session = await visitor_session()
    await sync_to_async(actions.send_visitor_message)(
        visitor_session=session, text="hi", client_id="c1"
    )
    layer = get_channel_layer()
    agents = await layer.new_channel()
    await layer.group_add(groups.queue(), agents)  # unassigned: every agent watches it
    communicator, _, _ = await connect(session.pk)
    await communicator.send_json_to({"type": "typing", "typing": True})
    event = await asyncio.wait_for(layer.receive(agents), timeout=5)
    assert (event["event"], event["sender_type"], event["typing"]) == ("typing", "visitor", True)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_the_agents_typing_reaches_the_visitor():
    session = await visitor_session()
    communicator, _, _ = await connect(session.pk)
    await get_channel_layer().group_send(
        groups.visitor(session.pk),
        {"type": "chat.event", "event": "typing", "sender_type": "agent", "typing": True},
    )
    frame = await communicator.receive_json_from(timeout=5)
    assert frame == {"type": "event", "event": "typing", "sender_type": "agent", "typing": True}
    await communicator.disconnect()
