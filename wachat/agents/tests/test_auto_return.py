"""Auto-return from away: an agent the inactivity check put away comes back online on their
next heartbeat with activity; an agent who chose "away" stays away."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone

from wachat.agents import tasks
from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import ChatAgent, Conversation
from wachat.realtime.tests.test_agent_consumer import connect_agent, receive_until


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def go_idle(agent):
    ChatAgent.objects.filter(pk=agent.pk).update(
        last_activity_at=timezone.now() - timedelta(hours=1)
    )


def test_an_agent_put_away_automatically_is_back_online_when_active(bob):
    go_idle(bob)
    tasks.mark_idle_agents_away.call_local()
    bob.refresh_from_db()
    assert bob.status == "away"

    returned = actions.record_agent_activity(agent=bob)
    bob.refresh_from_db()
    assert bob.status == "online"
    assert returned is not None and returned.status == "online"
    # Once back, later heartbeats change nothing.
    assert actions.record_agent_activity(agent=bob) is None


def test_an_agent_who_chose_away_stays_away(bob):
    actions.set_agent_status(agent=bob, status="away")
    assert actions.record_agent_activity(agent=bob) is None
    bob.refresh_from_db()
    assert bob.status == "away"


def test_choosing_away_after_an_automatic_away_keeps_the_agent_away(bob):
    go_idle(bob)
    tasks.mark_idle_agents_away.call_local()
    actions.set_agent_status(agent=bob, status="away")  # by hand, from the status menu
    actions.record_agent_activity(agent=bob)
    bob.refresh_from_db()
    assert bob.status == "away"


def test_an_agent_who_went_offline_by_hand_does_not_come_back(bob):
    go_idle(bob)
    tasks.mark_idle_agents_away.call_local()
    actions.set_agent_status(agent=bob, status="offline")
    actions.record_agent_activity(agent=bob)
    bob.refresh_from_db()
    assert bob.status == "offline"


def test_coming_back_takes_conversations_waiting_in_the_queue(bob, visitor):
    go_idle(bob)
    tasks.mark_idle_agents_away.call_local()
    actions.send_visitor_message(visitor_session=visitor, text="anyone?", client_id="v1")
    conversation = Conversation.objects.get()
    assert conversation.agent is None

    actions.record_agent_activity(agent=bob)
    conversation.refresh_from_db()
    assert conversation.agent == bob


@pytest.mark.django_db(transaction=True)
async def test_a_heartbeat_brings_the_agent_back_and_the_page_hears_it():
    bob = await database_sync_to_async(make_agent)("bob")
    await database_sync_to_async(go_idle)(bob)
    await database_sync_to_async(tasks.mark_idle_agents_away.call_local)()
    center = await connect_agent(bob)

    await center.send_json_to({"type": "heartbeat"})
    event = await receive_until(center, lambda f: f.get("event") == "agent.updated")
    assert (event["agent"]["id"], event["agent"]["status"]) == (bob.pk, "online")
    await center.disconnect()
