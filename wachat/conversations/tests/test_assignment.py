from datetime import timedelta

import pytest
from django.utils import timezone

from wachat.conftest import make_agent
from wachat.conversations import actions, routing, selectors
from wachat.conversations.models import ChatAgent, Conversation, Message
from wachat.whatsapp.emulator import window


def new_conversation(i=0, text="hello", client_id="c1"):
    session = actions.touch_visitor_session(session_id=f"visitor-{i}")
    message, _ = actions.send_visitor_message(
        visitor_session=session, text=text, client_id=client_id
    )
    return Conversation.objects.get(pk=message.conversation_id)


def records(conversation):
    return list(
        conversation.messages.filter(sender_type="system").values_list("content", flat=True)
    )


def test_pick_agent_prefers_least_loaded_then_longest_idle():
    now = timezone.now()

    class A:
        def __init__(self, id, idle_minutes, **kw):
            self.id, self.status, self.auto_assign, self.max_concurrent_chats = (
                id,
                "online",
                True,
                2,
            )
            self.last_activity_at = now - timedelta(minutes=idle_minutes)
            self.__dict__.update(kw)

    busy, idle, fresh, away, full = A(1, 90), A(2, 60), A(3, 1), A(4, 999, status="away"), A(5, 0)
    counts = {1: 1, 5: 2}
    assert routing.pick_agent([busy, idle, fresh, away, full], counts) is idle
    assert routing.pick_agent([busy, fresh], counts) is fresh
    assert routing.pick_agent([full, away], counts) is None


def test_new_conversation_goes_to_an_online_agent_and_is_recorded(alice):
    conversation = new_conversation()
    assert conversation.agent == alice
    assert conversation.status == "active"
    assert records(conversation) == ["Assigned to Alice automatically."]


def test_nobody_available_leaves_the_conversation_waiting(db):
    make_agent("carol", status=ChatAgent.Status.AWAY)
    make_agent("dave", auto_assign=False)
    conversation = new_conversation()
    assert conversation.agent is None
    assert conversation.status == "waiting"


def test_closing_frees_capacity_for_the_oldest_waiting_conversation(db):
    carol = make_agent("carol", max_concurrent_chats=1)
    first, second, third = (new_conversation(i) for i in range(3))
    assert first.agent == carol
    assert [second.status, third.status] == ["waiting", "waiting"]

    actions.close_conversation(conversation=first, by=carol)

    second.refresh_from_db(), third.refresh_from_db()
    assert (second.agent, second.status) == (carol, "active")
    assert third.status == "waiting"
    assert records(second) == ["Assigned to Carol from the queue."]


def test_an_agent_coming_online_takes_waiting_conversations_up_to_capacity(db):
    carol = make_agent("carol", status=ChatAgent.Status.OFFLINE, max_concurrent_chats=2)
    conversations = [new_conversation(i) for i in range(3)]

    actions.set_agent_status(agent=carol, status="online")

    assert [c.agent for c in Conversation.objects.order_by("created_at")] == [carol, carol, None]
    assert conversations[0].messages.filter(sender_type="system").exists()


def test_an_agent_going_offline_hands_open_conversations_to_others(db):
    carol = make_agent("carol")
    conversation = new_conversation()
    assert conversation.agent == carol
    dave = make_agent("dave")

    actions.set_agent_status(agent=carol, status="offline")

    conversation.refresh_from_db()
    assert conversation.agent == dave
    assert records(conversation) == [
        "Assigned to Carol automatically.",
        "Carol went offline; back in the queue.",
        "Assigned to Dave from the queue.",
    ]


def test_going_away_keeps_conversations_but_gets_no_new_ones(db):
    carol = make_agent("carol")
    first = new_conversation(0)
    actions.set_agent_status(agent=carol, status="away")
    second = new_conversation(1)
    first.refresh_from_db()
    assert first.agent == carol
    assert second.agent is None


def test_idle_agents_become_away(db):
    carol = make_agent("carol")
    dave = make_agent("dave")
    ChatAgent.objects.filter(pk=carol.pk).update(
        last_activity_at=timezone.now() - timedelta(minutes=30)
    )
    assert actions.mark_idle_agents_away(idle_for=timedelta(minutes=10)) == 1
    carol.refresh_from_db(), dave.refresh_from_db()
    assert (carol.status, dave.status) == ("away", "online")


def test_heartbeat_records_activity(alice):
    ChatAgent.objects.filter(pk=alice.pk).update(last_activity_at=None)
    actions.record_agent_activity(agent=alice)
    alice.refresh_from_db()
    assert alice.last_activity_at is not None


def test_transfer_is_recorded_and_taking_a_taken_conversation_is_refused(alice, bob):
    conversation = new_conversation()
    first = conversation.agent
    other = bob if first == alice else alice
    actions.assign_conversation(conversation=conversation, agent=other, by=first)
    conversation.refresh_from_db()
    assert conversation.agent == other
    assert records(conversation)[-1] == f"{first.name} assigned the conversation to {other.name}."
    with pytest.raises(actions.ActionRefused):
        actions.assign_conversation(
            conversation=conversation, agent=first, by=first, only_if_unassigned=True
        )


def test_reopen_assigns_to_the_agent_who_reopened(alice):
    conversation = new_conversation()
    actions.close_conversation(conversation=conversation, by=alice)
    actions.reopen_conversation(conversation=conversation, by=alice)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.agent) == ("active", alice)


def test_reopen_is_refused_when_the_visitor_has_another_open_conversation(alice):
    conversation = new_conversation()
    actions.close_conversation(conversation=conversation, by=alice)
    new_conversation(text="back again", client_id="c2")
    with pytest.raises(actions.ActionRefused):
        actions.reopen_conversation(conversation=conversation, by=alice)


def test_notes_are_published_to_agents_only_and_hidden_from_the_visitor(bob, published):
    conversation = new_conversation()
    published.clear()
    note, created = actions.add_note(
        conversation=conversation, agent=bob, text="VIP, be nice", client_id="n1"
    )
    assert created
    assert [(group, name) for group, name, _ in published] == [
        ("agents.supervisors", "message.created"),
        (f"agent.{conversation.agent_id}", "message.created"),
    ]
    assert published[0][2]["message"]["private"] is True
    seen = selectors.visitor_messages(conversation.visitor_session_id)
    assert [m.content for m in seen] == ["hello"]
    assert selectors.visitor_messages_before(conversation.visitor_session_id, before=10**9) == seen
    assert note.status == "sent" and not note.whatsapp_message_id


def test_a_taken_conversation_leaves_the_queue_and_reaches_its_agent_and_supervisors(db, published):
    carol = make_agent("carol", status=ChatAgent.Status.AWAY)
    conversation = new_conversation()
    assert conversation.agent is None
    groups = {group for group, name, _ in published if name == "message.created"}
    assert groups == {
        "agents.supervisors",
        "agents.queue",
        f"visitor.{conversation.visitor_session_id}",
    }
    published.clear()

    actions.assign_conversation(conversation=conversation, agent=carol, by=carol)

    updated = [group for group, name, _ in published if name == "conversation.updated"]
    assert sorted(updated) == sorted(
        [
            "agents.supervisors",
            f"agent.{carol.pk}",
            "agents.queue",
            f"visitor.{conversation.visitor_session_id}",
        ]
    )


def test_assignment_records_are_not_published_to_the_visitor(bob, published):
    conversation = new_conversation()
    visitor_group = f"visitor.{conversation.visitor_session_id}"
    to_visitor = [(name, event) for group, name, event in published if group == visitor_group]
    assert [name for name, _ in to_visitor] == ["conversation.updated", "message.created"]
    assert to_visitor[1][1]["message"]["content"] == "hello"
    assert "priority" not in to_visitor[0][1]["conversation"]


def test_a_note_in_a_whatsapp_conversation_is_never_sent_to_the_customer(
    bob, emulator, django_capture_on_commit_callbacks
):
    window.open_window("15557770000")  # Zoe wrote: the emulator lets free-form answers through
    with django_capture_on_commit_callbacks(execute=True):
        actions.receive_whatsapp_message(
            phone="15557770000", profile_name="Zoe", whatsapp_message_id="wamid.Z1", text="hi"
        )
    conversation = Conversation.objects.get(visitor_phone_number="15557770000")
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_note(conversation=conversation, agent=bob, text="secret", client_id="n1")
        actions.send_agent_message(
            conversation=conversation, agent=bob, text="hello", client_id="a"
        )
    assert [m["body"] for m in emulator.thread("15557770000")] == ["hello"]
    assert Message.objects.get(content="secret").status == "sent"


def test_priority_must_be_known(alice):
    conversation = new_conversation()
    actions.set_priority(conversation=conversation, priority=3, by=alice)
    conversation.refresh_from_db()
    assert conversation.priority == 3
    with pytest.raises(actions.ActionRefused):
        actions.set_priority(conversation=conversation, priority=9, by=alice)
