"""The long-poll fallback for browsers whose WebSocket is blocked."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import AsyncClient

from wachat.conversations import actions
from wachat.realtime import groups
from wachat.widget import auth


def test_it_answers_at_once_with_messages_after_the_id(widget, visitor):
    first, _ = actions.send_visitor_message(visitor_session=visitor, text="one", client_id="1")
    actions.send_visitor_message(visitor_session=visitor, text="two", client_id="2")
    data = widget.get(f"/api/widget/poll?after={first.pk}").json()
    assert [m["content"] for m in data["messages"]] == ["two"]


def test_with_nothing_new_and_no_wait_it_answers_empty(widget, visitor):
    assert widget.get("/api/widget/poll?after=0&wait=0").json() == {"messages": [], "events": []}


def test_it_needs_a_token(client, db):
    assert client.get("/api/widget/poll").status_code == 401


@pytest.mark.django_db(transaction=True)
async def test_it_waits_for_the_next_event_on_the_visitors_stream(settings):
    settings.WIDGET_POLL_SECONDS = 5
    visitor = await sync_to_async(actions.touch_visitor_session)(session_id="poller")
    token = {"X-WaChat-Token": auth.issue_token(visitor.pk)}
    typing = {"type": "chat.event", "event": "typing", "sender_type": "agent", "typing": True}

    async def agent_types_soon():
        await asyncio.sleep(0.5)
        await get_channel_layer().group_send(groups.visitor(visitor.pk), typing)

    loop = asyncio.get_running_loop()
    started = loop.time()
    response, _ = await asyncio.gather(
        AsyncClient().get("/api/widget/poll?after=0", headers=token), agent_types_soon()
    )
    waited = loop.time() - started
    assert response.status_code == 200
    assert 0.45 < waited < 4
    assert response.json() == {
        "messages": [],
        "events": [{"event": "typing", "sender_type": "agent", "typing": True}],
    }


@pytest.mark.django_db(transaction=True)
async def test_with_nothing_happening_it_answers_empty_after_the_wait(settings):
    settings.WIDGET_POLL_SECONDS = 1
    visitor = await sync_to_async(actions.touch_visitor_session)(session_id="poller")
    token = {"X-WaChat-Token": auth.issue_token(visitor.pk)}
    response = await AsyncClient().get("/api/widget/poll?after=0&wait=30", headers=token)
    assert response.json() == {"messages": [], "events": []}
