"""The long-poll fallback for browsers whose WebSocket is blocked."""

import asyncio
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import AsyncClient

from wachat.conftest import database_connections
from wachat.conversations import actions
from wachat.realtime import groups, publish
from wachat.widget import auth


def test_it_answers_at_once_with_messages_after_the_id(widget, visitor):
    first, _ = actions.send_visitor_message(visitor_session=visitor, text="one", client_id="1")
    actions.send_visitor_message(visitor_session=visitor, text="two", client_id="2")
    data = widget.get(f"/api/widget/poll?after={first.pk}").json()
    assert [m["content"] for m in data["messages"]] == ["two"]


def test_with_nothing_new_and_no_wait_it_answers_empty(widget, visitor):
    data = widget.get("/api/widget/poll?after=0&wait=0").json()
    assert (data["messages"], data["events"], data["updates"]) == ([], [], [])
    assert data["conversation"] is None


def test_a_status_change_between_two_polls_is_not_missed(widget, visitor, bob):
    mine, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="1")
    first = widget.get("/api/widget/poll?after=0&wait=0").json()
    assert [m["status"] for m in first["messages"]] == ["sent"]
    # Between two polls, nobody listening: the message fails and the conversation closes.
    actions.record_failed(message=mine, reason="No WhatsApp number to deliver to.")
    actions.close_conversation(conversation=mine.conversation)

    # The cursor goes back as `since`, URL-encoded or not ("+" arriving as a space).
    for since in (quote(first["cursor"]), first["cursor"]):
        second = widget.get(f"/api/widget/poll?after={mine.pk}&wait=0&since={since}").json()
        assert second["messages"] == []
        assert [(m["id"], m["status"]) for m in second["updates"]] == [(mine.pk, "failed")]
        assert second["updates"][0]["error"]["reason"].startswith("No WhatsApp number")
        assert second["conversation"]["status"] == "closed"


def test_a_poll_with_a_cursor_and_nothing_new_answers_no_updates(widget, visitor):
    mine, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="1")
    first = widget.get("/api/widget/poll?after=0&wait=0").json()
    since = quote(first["cursor"])
    second = widget.get(f"/api/widget/poll?after={mine.pk}&wait=0&since={since}").json()
    assert second["updates"] == [] and second["messages"] == []
    assert second["cursor"] >= first["cursor"]


def test_a_garbled_cursor_is_ignored(widget, visitor):
    mine, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="1")
    data = widget.get(f"/api/widget/poll?after={mine.pk}&wait=0&since=yesterday").json()
    assert data["updates"] == [] and data["cursor"]


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
    assert response.json()["messages"] == []
    assert response.json()["events"] == [
        {"event": "typing", "sender_type": "agent", "typing": True}
    ]


@pytest.mark.django_db(transaction=True)
async def test_with_nothing_happening_it_answers_empty_after_the_wait(settings):
    settings.WIDGET_POLL_SECONDS = 1
    visitor = await sync_to_async(actions.touch_visitor_session)(session_id="poller")
    token = {"X-WaChat-Token": auth.issue_token(visitor.pk)}
    response = await AsyncClient().get("/api/widget/poll?after=0&wait=30", headers=token)
    assert (response.json()["messages"], response.json()["events"]) == ([], [])


def test_more_changes_than_one_answer_holds_come_in_the_next_answer(visitor, bob):
    from wachat.widget import catchup

    sent = [
        actions.send_visitor_message(visitor_session=visitor, text=str(n), client_id=str(n))[0]
        for n in range(3)
    ]
    first = catchup.catch_up(visitor.pk, after=0, since=None)
    since = catchup.parse_cursor(first["cursor"])
    for message in sent:
        actions.record_failed(message=message, reason="No WhatsApp number to deliver to.")
    actions.send_visitor_message(visitor_session=visitor, text="newest", client_id="new")

    seen = []
    for _ in range(3):
        answer = catchup.catch_up(visitor.pk, after=sent[-1].pk, since=since, limit=2)
        seen += [m["id"] for m in answer["updates"] if m["id"] not in seen]
        since = catchup.parse_cursor(answer["cursor"])
    assert seen == [m.pk for m in sent]


def test_every_answer_says_whether_live_chat_is_on(widget, visitor):
    from wachat.conftest import make_agent
    from wachat.conversations.models import ChatAgent

    assert widget.get("/api/widget/poll?wait=0").json()["offline"] is True  # nobody online
    make_agent("bob", status=ChatAgent.Status.ONLINE)
    assert widget.get("/api/widget/poll?wait=0").json()["offline"] is False


@pytest.mark.django_db(transaction=True)
async def test_a_waiting_poll_answers_when_live_chat_comes_on(settings):
    from django.core.cache import cache

    from wachat.conftest import make_agent
    from wachat.conversations.models import ChatAgent

    settings.WIDGET_POLL_SECONDS = 5
    cache.clear()
    # As `manage.py serve` does: the worker thread publishes through the server's loop.
    publish.bind_server_loop(asyncio.get_running_loop())
    visitor = await sync_to_async(actions.touch_visitor_session)(session_id="poller")
    token = {"X-WaChat-Token": auth.issue_token(visitor.pk)}
    bob = await sync_to_async(make_agent)("bob", status=ChatAgent.Status.OFFLINE)

    async def agent_comes_online_soon():
        await asyncio.sleep(0.5)
        # In a thread of its own, as from the Center's request (here, a sync_to_async
        # call would only run once the poll has answered).
        await asyncio.to_thread(actions.set_agent_status, agent=bob, status="online")

    response, _ = await asyncio.gather(
        AsyncClient().get("/api/widget/poll?after=0", headers=token), agent_comes_online_soon()
    )
    publish.bind_server_loop(None)
    assert response.json()["events"] == [{"event": "availability", "offline": False}]
    assert response.json()["offline"] is False


def test_a_waiting_poll_answers_when_the_server_stops(live_server_stack):
    """Ctrl-C (or a deploy) while a widget long-polls: it gets an ordinary answer and
    polls again, not a 500 when the grace period ends."""
    import threading
    import time

    import httpx

    visitor = actions.touch_visitor_session(session_id="poller")
    token = {"X-WaChat-Token": auth.issue_token(visitor.pk)}
    answers = []
    poll = threading.Thread(
        target=lambda: answers.append(
            httpx.get(f"{live_server_stack.url}/api/widget/poll?after=0", headers=token, timeout=60)
        )
    )
    poll.start()
    time.sleep(1)  # the poll is waiting (WIDGET_POLL_SECONDS is 25)
    live_server_stack.stop()
    poll.join(timeout=30)
    # (Its events may hold the worker's minute check of availability: not the point here.)
    assert answers and answers[0].status_code == 200, answers and answers[0].text


def test_a_waiting_poll_holds_no_database_connection(live_server_stack):
    """Hundreds of widgets on the HTTP fallback wait at once; were each to keep a
    connection, they would use up the database's (PostgreSQL allows 100 by default)."""
    import threading
    import time

    import httpx

    if database_connections() is None:
        pytest.skip("SQLite has no server connections to count")
    # Counted without the pool, which keeps open the connections it opened for a burst.
    live_server_stack.env["DATABASE_POOL_SIZE"] = "0"
    live_server_stack.restart()
    visitor = actions.touch_visitor_session(session_id="poller")
    token = {"X-WaChat-Token": auth.issue_token(visitor.pk)}
    url = f"{live_server_stack.url}/api/widget/poll?after=0&wait=4"
    assert httpx.get(url.replace("wait=4", "wait=0"), headers=token).status_code == 200
    before = database_connections()
    polls = [
        threading.Thread(target=lambda: httpx.get(url, headers=token, timeout=30))
        for _ in range(10)
    ]
    for poll in polls:
        poll.start()
    time.sleep(2)  # all ten are waiting
    during = database_connections()
    for poll in polls:
        poll.join()
    assert during - before < 5, (before, during)
