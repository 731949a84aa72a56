"""Labels and snooze: the actions, the inbox filters, the Center's socket frames, and the
snooze coming back by time (the periodic task) or when the visitor writes."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from wachat.agents import tasks
from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import Conversation, Label
from wachat.realtime.tests.test_agent_consumer import (
    connect_agent,
    conversation_for,
    receive_until,
)


@pytest.fixture
def chat(bob, visitor):
    """bob (the only agent online) holds the visitor's conversation."""
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="hi", client_id="v1")
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.agent == bob
    return conversation


def inbox(agent, **params):
    client = Client()
    client.force_login(agent.user)
    response = client.get("/center/api/conversations", params)
    assert response.status_code == 200
    return response.json()["conversations"]


def test_a_label_is_created_by_name_once_whatever_the_case(bob, chat):
    actions.add_label(conversation=chat, by=bob, name="  VIP   customer ")
    actions.add_label(conversation=chat, by=bob, name="vip customer")
    assert list(Label.objects.values_list("name", flat=True)) == ["VIP customer"]
    assert list(chat.labels.values_list("name", flat=True)) == ["VIP customer"]
    assert Label.objects.get().color.startswith("#")


@pytest.mark.parametrize(
    "kwargs, detail",
    [
        ({"name": "   "}, "A label needs a name."),
        ({"name": "x" * 51}, "Label names are 50 characters at most."),
        ({"label_id": 9999}, "Unknown label."),
        ({"label_id": "1"}, "Unknown label."),
        ({"label_id": True}, "Unknown label."),
    ],
)
def test_bad_labels_are_refused_and_change_nothing(bob, chat, kwargs, detail):
    with pytest.raises(actions.ActionRefused, match=detail):
        actions.add_label(conversation=chat, by=bob, **kwargs)
    assert Label.objects.count() == 0
    assert chat.labels.count() == 0


def test_labels_show_in_the_inbox_and_filter_it(bob, chat, visitor):
    other = actions.touch_visitor_session(session_id="other-visitor")
    actions.send_visitor_message(visitor_session=other, text="second", client_id="o1")
    billing = Label.objects.create(name="billing", color="#dc2626")
    actions.add_label(conversation=chat, by=bob, label_id=billing.pk)

    rows = inbox(bob, status="open")
    assert len(rows) == 2
    labelled = next(r for r in rows if r["id"] == str(chat.pk))
    assert labelled["labels"] == [{"id": billing.pk, "name": "billing", "color": "#dc2626"}]

    assert [r["id"] for r in inbox(bob, status="open", label=str(billing.pk))] == [str(chat.pk)]

    actions.remove_label(conversation=chat, by=bob, label_id=billing.pk)
    assert inbox(bob, status="open", label=str(billing.pk)) == []
    with pytest.raises(actions.ActionRefused, match="Unknown label."):
        actions.remove_label(conversation=chat, by=bob, label_id=billing.pk)


def test_a_snoozed_conversation_leaves_the_inbox_and_returns_when_its_time_comes(bob, chat):
    until = timezone.now() + timedelta(hours=1)
    actions.snooze_conversation(conversation=chat, by=bob, until=until)

    assert inbox(bob, status="open") == []
    snoozed = inbox(bob, status="snoozed")
    assert [r["id"] for r in snoozed] == [str(chat.pk)]
    assert snoozed[0]["snoozed_until"] == until.isoformat()
    assert chat.messages.filter(content__startswith="Snoozed by Bob until").exists()

    tasks.wake_snoozed_conversations.call_local()  # not yet
    chat.refresh_from_db()
    assert chat.snoozed_until is not None

    Conversation.objects.filter(pk=chat.pk).update(
        snoozed_until=timezone.now() - timedelta(seconds=1)
    )
    tasks.wake_snoozed_conversations.call_local()
    chat.refresh_from_db()
    assert chat.snoozed_until is None
    assert [r["id"] for r in inbox(bob, status="open")] == [str(chat.pk)]
    assert chat.messages.filter(content="Snooze ended: back in the inbox.").exists()


def test_until_the_visitor_replies_never_wakes_by_time_but_wakes_on_their_message(
    bob, chat, visitor
):
    actions.snooze_conversation(conversation=chat, by=bob, until=None)
    chat.refresh_from_db()
    assert chat.snoozed_until == actions.UNTIL_REPLY
    assert chat.messages.filter(content="Snoozed by Bob until the visitor replies.").exists()
    tasks.wake_snoozed_conversations.call_local()
    chat.refresh_from_db()
    assert chat.snoozed_until is not None

    actions.send_visitor_message(visitor_session=visitor, text="any news?", client_id="v2")
    chat.refresh_from_db()
    assert chat.snoozed_until is None
    assert chat.messages.filter(content="The visitor wrote: snooze ended.").exists()
    assert [r["id"] for r in inbox(bob)] == [str(chat.pk)]


def test_a_whatsapp_customer_writing_wakes_their_snoozed_conversation(bob):
    message, _ = actions.receive_whatsapp_message(
        phone="15551234567", profile_name="Ann", whatsapp_message_id="wamid.1", text="hello"
    )
    conversation = message.conversation
    actions.snooze_conversation(
        conversation=conversation, by=bob, until=timezone.now() + timedelta(days=1)
    )
    actions.receive_whatsapp_message(
        phone="15551234567", profile_name="Ann", whatsapp_message_id="wamid.2", text="again"
    )
    conversation.refresh_from_db()
    assert conversation.snoozed_until is None


@pytest.mark.parametrize(
    "until, detail",
    [
        (lambda now: now - timedelta(minutes=1), "Pick a time in the future."),
        (lambda now: now + timedelta(days=400), "Snooze for a year at most."),
        (lambda now: now.replace(tzinfo=None) + timedelta(hours=1), "needs a time zone"),
    ],
)
def test_bad_snooze_times_are_refused(bob, chat, until, detail):
    with pytest.raises(actions.ActionRefused, match=detail):
        actions.snooze_conversation(conversation=chat, by=bob, until=until(timezone.now()))
    chat.refresh_from_db()
    assert chat.snoozed_until is None


def test_closing_clears_the_snooze_and_closed_ones_cannot_be_snoozed(bob, chat):
    actions.snooze_conversation(conversation=chat, by=bob, until=None)
    actions.close_conversation(conversation=chat, by=bob)
    chat.refresh_from_db()
    assert chat.snoozed_until is None
    with pytest.raises(actions.ActionRefused, match="Closed conversations"):
        actions.snooze_conversation(conversation=chat, by=bob, until=None)


def test_unsnoozing_by_hand_is_recorded(bob, chat):
    actions.snooze_conversation(conversation=chat, by=bob, until=None)
    actions.unsnooze_conversation(conversation=chat, by=bob)
    chat.refresh_from_db()
    assert chat.snoozed_until is None
    assert chat.messages.filter(content="Snooze ended by Bob.").exists()


# --- Over the Center's socket ----------------------------------------------------------------


@database_sync_to_async
def labels_of(conversation):
    return list(Conversation.objects.get(pk=conversation.pk).labels.values_list("name", flat=True))


@pytest.mark.django_db(transaction=True)
async def test_label_frames_reach_other_agents_live_and_bad_ones_answer_an_error():
    alice = await database_sync_to_async(make_agent)("alice")
    boss = await database_sync_to_async(make_agent)("boss", max_concurrent_chats=0)
    await database_sync_to_async(
        lambda: boss.user.__class__.objects.filter(pk=boss.user.pk).update(is_staff=True)
    )()
    conversation = await conversation_for("alice", "visitor-1")
    center, supervisor = await connect_agent(alice), await connect_agent(boss)
    cid = str(conversation.pk)

    await center.send_json_to({"type": "label_add", "conversation_id": cid, "name": "refund"})
    ok = await receive_until(center, lambda f: f["type"] in ("ok", "error"))
    assert ok["type"] == "ok"
    event = await receive_until(
        supervisor,
        lambda f: (
            f.get("event") == "conversation.updated"
            and f["conversation"]["labels"]
            and f["conversation"]["id"] == cid
        ),
    )
    assert [label["name"] for label in event["conversation"]["labels"]] == ["refund"]

    for frame, detail in [
        ({"name": ""}, "A label needs a name."),
        ({"name": "y" * 51}, "Label names are 50 characters at most."),
        ({"label_id": 424242}, "Unknown label."),
        ({}, "Give a label_id or a name."),
    ]:
        await center.send_json_to({"type": "label_add", "conversation_id": cid, **frame})
        error = await receive_until(center, lambda f: f["type"] in ("ok", "error"))
        assert (error["type"], error["detail"]) == ("error", detail)
    assert await labels_of(conversation) == ["refund"]

    for until in ["tomorrow", "2026-13-45T09:00:00Z", 1700000000]:
        await center.send_json_to({"type": "snooze", "conversation_id": cid, "until": until})
        error = await receive_until(center, lambda f: f["type"] in ("ok", "error"))
        assert error["type"] == "error" and "until must be" in error["detail"]
    await center.send_json_to({"type": "snooze", "conversation_id": cid, "until": "reply"})
    ok = await receive_until(center, lambda f: f["type"] in ("ok", "error"))
    assert ok == {"type": "ok", "frame": "snooze", "conversation_id": cid}
    event = await receive_until(
        supervisor,
        lambda f: f.get("event") == "conversation.updated" and f["conversation"]["snoozed_until"],
    )
    assert event["conversation"]["snoozed_until"].startswith("9999-12-31")
    await center.disconnect()
    await supervisor.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame",
    [
        {"type": "label_add", "name": "hijack"},
        {"type": "label_remove", "label_id": 1},
        {"type": "snooze", "until": "reply"},
        {"type": "unsnooze"},
    ],
)
async def test_another_agents_conversation_cannot_be_labelled_or_snoozed(frame):
    await database_sync_to_async(make_agent)("alice")
    conversation = await conversation_for("alice", "visitor-1")
    bob = await database_sync_to_async(make_agent)("bob")
    center = await connect_agent(bob)

    await center.send_json_to({**frame, "conversation_id": str(conversation.pk)})
    error = await receive_until(center, lambda f: f["type"] == "error")
    assert error["detail"] == "Unknown conversation."
    assert await labels_of(conversation) == []
    assert await database_sync_to_async(Label.objects.count)() == 0
    await center.disconnect()


def test_admins_manage_labels_in_the_admin(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/conversations/label/").status_code == 200

    response = client.post("/admin/conversations/label/add/", {"name": "vip", "color": "red"})
    assert response.status_code == 200  # the form again, with the error
    assert Label.objects.count() == 0

    response = client.post("/admin/conversations/label/add/", {"name": "vip", "color": "#2563eb"})
    assert response.status_code == 302
    assert Label.objects.get().color == "#2563eb"
