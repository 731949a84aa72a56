"""A visitor waiting in the queue sees their place and a rounded estimate, from the recent
average time conversations waited before an agent got them; live as the queue moves."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from wachat.conftest import make_agent
from wachat.conversations import actions, selectors
from wachat.conversations.models import Conversation, Message, VisitorSession
from wachat.realtime.tests.test_agent_consumer import connect_visitor, receive_until
from wachat.widget import auth, geo


def start(session_id, text="hello"):
    """A visitor writes; with nobody online their conversation waits in the queue."""
    session = actions.touch_visitor_session(session_id=session_id)
    actions.send_visitor_message(visitor_session=session, text=text, client_id="c1")
    return session


def state(session):
    response = Client().post(
        "/api/widget/session", {"token": auth.issue_token(session.pk)}, "application/json"
    )
    assert response.status_code == 200
    return response.json()


def waited(agent, minutes):
    """History: a conversation that waited `minutes` before `agent` got it."""
    conversation = Conversation.objects.create(source="widget", agent=agent, status="active")
    record = Message.objects.create(
        conversation=conversation,
        direction="outbound",
        sender_type="system",
        content="Assigned from the queue.",
        status="sent",
        metadata={"private": True, "agent_id": agent.pk},
    )
    assigned = timezone.now() - timedelta(minutes=1)
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=assigned - timedelta(minutes=minutes)
    )
    Message.objects.filter(pk=record.pk).update(created_at=assigned)


def test_without_history_the_visitor_sees_their_place_and_no_made_up_time(db):
    first, second = start("first"), start("second")
    assert state(first)["wait"] == {"position": 1, "minutes": None}
    assert state(second)["wait"] == {"position": 2, "minutes": None}


def test_the_estimate_is_the_recent_average_wait_times_the_place(db):
    agent = make_agent("bob", status="offline")
    waited(agent, 2)
    waited(agent, 4)
    first, second = start("first"), start("second")
    assert state(first)["wait"] == {"position": 1, "minutes": 3}
    assert state(second)["wait"] == {"position": 2, "minutes": 6}


def test_conversations_assigned_on_arrival_do_not_count_as_waiting(db):
    bob = make_agent("bob")
    start("served-at-once")  # bob gets it at once
    Conversation.objects.update(agent=None, status="closed")
    bob.status = "offline"
    bob.save()
    assert state(start("waiting"))["wait"] == {"position": 1, "minutes": None}


@pytest.mark.parametrize(
    "average_seconds, position, minutes",
    [
        (10, 1, 1),  # never "0 min"
        (100, 1, 2),
        (200, 2, 7),
        (400, 2, 15),  # whole fives past ten minutes
        (1300, 2, 45),
        (3000, 3, 60),  # "more than an hour" in the widget
    ],
)
def test_estimates_are_rounded(average_seconds, position, minutes):
    assert selectors.wait_estimate(position, average_seconds) == {
        "position": position,
        "minutes": minutes,
    }


def test_a_conversation_with_an_agent_has_no_wait(bob, visitor):
    actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="c1")
    assert state(visitor)["wait"] is None


@pytest.mark.django_db(transaction=True)
async def test_the_visitor_hears_their_new_place_when_the_queue_moves():
    first = await database_sync_to_async(start)("first")
    second = await database_sync_to_async(start)("second")
    widget = await connect_visitor(second)

    await database_sync_to_async(make_agent)("bob", max_concurrent_chats=1)
    await database_sync_to_async(actions.assign_waiting)()  # bob takes the first one

    event = await receive_until(widget, lambda f: f.get("event") == "queue.updated")
    assert event["wait"] == {"position": 1, "minutes": None}
    assert event["conversation_id"] == str(
        await database_sync_to_async(lambda: Conversation.objects.get(visitor_session=second).pk)()
    )
    assert await database_sync_to_async(
        lambda: Conversation.objects.get(visitor_session=first).agent_id
    )()
    await widget.disconnect()


def test_a_newcomer_at_the_end_moves_nobody_else_and_a_departure_moves_everyone_behind(
    transactional_db, monkeypatch
):
    from wachat.conversations import events

    told = []
    monkeypatch.setattr(
        events,
        "send_each",
        lambda batch: told.extend((event["conversation_id"], event["wait"]) for _, event in batch),
    )
    first, second = start("first"), start("second")
    ids = {
        session.pk: str(Conversation.objects.get(visitor_session=session).pk)
        for session in (first, second)
    }
    told.clear()

    third = start("third")  # joins at the end: only they hear their place
    third_id = str(Conversation.objects.get(visitor_session=third).pk)
    assert told == [(third_id, {"position": 3, "minutes": None})]

    told.clear()
    make_agent("bob", max_concurrent_chats=1)
    actions.assign_waiting()  # the first one leaves the queue: those behind move up
    assert told == [
        (ids[second.pk], {"position": 1, "minutes": None}),
        (third_id, {"position": 2, "minutes": None}),
    ]


# --- Location from a trusted proxy's headers -------------------------------------------------


def session_location(**headers):
    response = Client().post("/api/widget/session", {}, "application/json", headers=headers)
    session_id = response.json()["session_id"]
    return (VisitorSession.objects.get(pk=session_id).metadata or {}).get("location")


def test_location_headers_are_ignored_unless_configured(db, settings):
    settings.WACHAT_GEO_HEADERS = []
    assert session_location(**{"CF-IPCountry": "PT", "CF-IPCity": "Lisbon"}) is None


def test_location_comes_from_the_configured_proxy_headers(db, settings, bob):
    settings.WACHAT_GEO_HEADERS = ["country=CF-IPCountry", "city=CF-IPCity"]
    location = session_location(**{"CF-IPCountry": "pt", "CF-IPCity": "Lisbon"})
    assert location == {"country": "PT", "city": "Lisbon"}
    assert session_location(**{"CF-IPCountry": "XX"}) is None  # Cloudflare: unknown

    session_id = (
        Client()
        .post(
            "/api/widget/session",
            {},
            "application/json",
            headers={"CF-IPCountry": "PT", "CF-IPCity": "Lisbon"},
        )
        .json()["session_id"]
    )
    session = actions.touch_visitor_session(session_id=session_id)
    actions.send_visitor_message(visitor_session=session, text="hi", client_id="c1")
    agent = Client()
    agent.force_login(bob.user)
    details = agent.get(f"/center/conversations/{Conversation.objects.get().pk}").json()
    assert details["visitor"]["location"] == "Lisbon, PT"


def test_a_malformed_geo_setting_fails_loudly(db, settings):
    settings.WACHAT_GEO_HEADERS = ["planet=X-Planet"]
    with pytest.raises(ValueError, match="WACHAT_GEO_HEADERS"):
        geo.location_from_headers({})
