"""Answering from WhatsApp, end to end through the in-process emulator: relayed copies on
the agent's phone, replies matched by context, code or recency, phone commands, a closed
24-hour window, and two agents with several conversations each."""

import pytest

from wachat.agents.models import AgentPhoneMessage
from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import ChatAgent, Conversation, Message
from wachat.whatsapp.emulator import faults
from wachat.whatsapp.emulator.models import Fault
from wachat.whatsapp.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)

ALICE, CAROL = "15550001111", "15550002222"


def to_phone(emulator, phone):
    return [m for m in emulator.thread(phone) if m["direction"] == "to_phone"]


def customer_writes(emulator, phone, text):
    emulator.phone_sends(phone, text)
    emulator.deliver_webhooks()
    return Message.objects.get(content=text).conversation


def visitor_writes(session_id, text, client_id="c1"):
    session = actions.touch_visitor_session(session_id=session_id)
    message, _ = actions.send_visitor_message(
        visitor_session=session, text=text, client_id=client_id
    )
    message.refresh_from_db()
    return message


def agent_writes(emulator, phone, text, reply_to=None):
    emulator.phone_sends(phone, text, reply_to=reply_to)
    emulator.deliver_webhooks()


def test_a_whatsapp_customers_message_is_copied_to_the_agents_phone_and_answered(alice, emulator):
    conversation = customer_writes(emulator, "4915100000001", "Do you ship to Spain?")
    assert conversation.agent == alice

    copy = to_phone(emulator, ALICE)[-1]
    assert copy["body"] == f"[#{conversation.code}] Customer 0001: Do you ship to Spain?"
    row = AgentPhoneMessage.objects.get(wamid=copy["wamid"])
    assert (row.status, row.message.content) == ("sent", "Do you ship to Spain?")
    customer_message = Message.objects.get(content="Do you ship to Spain?")
    assert customer_message.whatsapp_message_id != copy["wamid"]  # the customer's own

    agent_writes(emulator, ALICE, "Yes, in 3 days.", reply_to=copy["wamid"])

    reply = Message.objects.get(content="Yes, in 3 days.")
    assert (reply.conversation, reply.sender_type, reply.sender_id) == (
        conversation,
        "agent",
        alice.pk,
    )
    assert to_phone(emulator, "4915100000001")[-1]["body"] == "Yes, in 3 days."
    reply.refresh_from_db()
    assert reply.status == "sent"


def test_a_message_as_long_as_whatsapp_allows_still_reaches_the_phone_cut_to_fit(alice, emulator):
    """The code tag comes on top of the visitor's text: the copy is cut to WhatsApp's
    4096 characters and says where the rest is; the message itself is whole."""
    longest = "word " * 819 + "e"  # 4096 characters, the widget's limit
    message = visitor_writes("v1", longest)
    assert message.status == "sent", (message.metadata or {}).get("error")
    copy = to_phone(emulator, ALICE)[-1]["body"]
    assert 4050 < len(copy) <= 4096
    assert copy.startswith(f"[#{message.conversation.code}] ")
    assert copy.endswith("word… (the rest is in the Conversation Center)")
    assert message.content == longest

    # Not just the same text in capitals: MariaDB compares text case-insensitively.
    from_whatsapp = customer_writes(emulator, "4915100000001", longest.replace("word", "text"))
    assert 4050 < len(to_phone(emulator, ALICE)[-1]["body"]) <= 4096
    assert AgentPhoneMessage.objects.get(conversation=from_whatsapp).status == "sent"


def test_the_copys_statuses_are_recorded_and_never_stall_the_webhook_log(alice, emulator):
    customer_writes(emulator, "4915100000001", "Hello?")
    emulator.django.get("/emulator/api/thread", {"phone": ALICE, "seen": "1"})
    emulator.deliver_webhooks()

    assert AgentPhoneMessage.objects.get(direction="to_agent").status == "read"
    assert not WebhookEvent.objects.filter(processed=False).exists()


def test_a_reply_starting_with_a_code_goes_to_that_conversation(alice, emulator):
    first = visitor_writes("visitor-1", "first visitor")
    second = visitor_writes("visitor-2", "second visitor")
    assert first.conversation.agent == second.conversation.agent == alice

    agent_writes(emulator, ALICE, f"#{first.conversation.code} hello first")

    reply = Message.objects.get(sender_type="agent")
    assert (reply.conversation_id, reply.content) == (first.conversation_id, "hello first")


def test_without_context_or_code_a_reply_goes_to_the_latest_relayed_conversation(alice, emulator):
    visitor_writes("visitor-1", "older")
    customer_writes(emulator, "4915100000001", "newest, from WhatsApp")
    visitor_two = visitor_writes("visitor-2", "newer still")

    agent_writes(emulator, ALICE, "on my way")

    reply = Message.objects.get(content="on my way")
    assert reply.conversation_id == visitor_two.conversation_id


def test_two_agents_with_several_conversations_each_answer_the_right_visitors(db, emulator):
    alice = make_agent("alice", phone=ALICE)
    carol = make_agent("carol", phone=CAROL)
    messages = [visitor_writes(f"visitor-{i}", f"question {i}") for i in range(4)]
    customer = customer_writes(emulator, "4915100000009", "question 4")
    by_agent = {
        agent.pk: [m for m in messages if m.conversation.agent_id == agent.pk]
        for agent in (alice, carol)
    }
    assert sorted(len(v) for v in by_agent.values()) == [2, 2]  # least loaded first

    for agent, phone in ((alice, ALICE), (carol, CAROL)):
        for message in by_agent[agent.pk]:
            agent_writes(
                emulator,
                phone,
                f"answer to {message.content}",
                reply_to=message.whatsapp_message_id,
            )
    customer_copy = AgentPhoneMessage.objects.get(message__content="question 4")
    phone = ALICE if customer.agent_id == alice.pk else CAROL
    agent_writes(emulator, phone, "answer to question 4", reply_to=customer_copy.wamid)

    for i, message in enumerate(messages):
        answer = Message.objects.get(content=f"answer to question {i}")
        assert answer.conversation_id == message.conversation_id
        assert answer.sender_id == message.conversation.agent_id
    answer = Message.objects.get(content="answer to question 4")
    assert answer.conversation_id == customer.pk
    assert to_phone(emulator, "4915100000009")[-1]["body"] == "answer to question 4"


def test_replying_to_another_agents_relayed_message_does_not_reach_that_visitor(db, emulator):
    make_agent("alice", phone=ALICE, max_concurrent_chats=1)
    first = visitor_writes("visitor-1", "for alice")
    carol = make_agent("carol", phone=CAROL)
    visitor_writes("visitor-2", "for carol")

    agent_writes(emulator, CAROL, "sneaky", reply_to=first.whatsapp_message_id)

    sneaky = Message.objects.get(content="sneaky")
    assert sneaky.conversation.agent == carol
    assert sneaky.conversation_id != first.conversation_id


def test_a_duplicate_webhook_from_the_agent_is_handled_once(alice, emulator):
    message = visitor_writes("visitor-1", "hi")
    emulator.phone_sends(ALICE, "once", reply_to=message.whatsapp_message_id)
    emulator.outbox.append(emulator.outbox[-1])
    emulator.deliver_webhooks()
    assert Message.objects.filter(content="once").count() == 1


def test_a_number_that_is_not_an_agents_is_a_customer(alice, emulator):
    message = visitor_writes("visitor-1", "hi")
    emulator.phone_sends("4915100000007", f"#{message.conversation.code} let me in")
    emulator.deliver_webhooks()
    intruder = Message.objects.get(content__endswith="let me in")
    assert intruder.sender_type == "visitor"
    assert intruder.conversation.source == "whatsapp"
    assert intruder.conversation_id != message.conversation_id


def test_phone_commands_list_take_and_close(db, emulator):
    alice = make_agent("alice", phone=ALICE, max_concurrent_chats=1)
    mine = visitor_writes("visitor-1", "mine")
    waiting = visitor_writes("visitor-2", "waiting one")
    assert waiting.conversation.agent is None

    agent_writes(emulator, ALICE, "/list")
    answer = to_phone(emulator, ALICE)[-1]["body"]
    assert f"#{mine.conversation.code}" in answer and "1 waiting in the queue" in answer

    agent_writes(emulator, ALICE, "/queue")
    assert f"#{waiting.conversation.code}" in to_phone(emulator, ALICE)[-1]["body"]

    agent_writes(emulator, ALICE, f"/take {waiting.conversation.code}")
    assert "is yours now" in to_phone(emulator, ALICE)[-1]["body"]
    assert Conversation.objects.get(pk=waiting.conversation_id).agent == alice

    agent_writes(emulator, ALICE, f"/close #{mine.conversation.code}")
    assert to_phone(emulator, ALICE)[-1]["body"] == f"Closed #{mine.conversation.code}."
    assert Conversation.objects.get(pk=mine.conversation_id).status == "closed"

    agent_writes(emulator, ALICE, "/frobnicate")
    assert to_phone(emulator, ALICE)[-1]["body"].startswith("Unknown command /frobnicate.")
    answers = AgentPhoneMessage.objects.filter(direction="to_agent", message=None)
    assert answers.count() == 5 and all(a.wamid for a in answers)
    # Commands never became conversation messages.
    assert not Message.objects.filter(content__startswith="/").exists()


def test_an_agent_cannot_close_or_take_what_is_not_theirs(db, emulator):
    make_agent("alice", phone=ALICE, max_concurrent_chats=1)
    alices = visitor_writes("visitor-1", "alice's")
    make_agent("carol", phone=CAROL, status=ChatAgent.Status.AWAY)
    agent_writes(emulator, CAROL, f"/close {alices.conversation.code}")
    assert "no open conversation" in to_phone(emulator, CAROL)[-1]["body"]
    agent_writes(emulator, CAROL, f"/take {alices.conversation.code}")
    assert "already took" in to_phone(emulator, CAROL)[-1]["body"]
    conversation = Conversation.objects.get(pk=alices.conversation_id)
    assert (conversation.status, conversation.agent.name) == ("active", "Alice")


def test_a_reply_quoting_a_closed_conversation_is_not_sent(alice, emulator):
    message = visitor_writes("visitor-1", "bye")
    actions.close_conversation(conversation=message.conversation, by=alice)
    agent_writes(emulator, ALICE, "one more thing", reply_to=message.whatsapp_message_id)
    assert not Message.objects.filter(content="one more thing").exists()
    assert "is closed" in to_phone(emulator, ALICE)[-1]["body"]


def test_with_the_agents_window_closed_copies_wait_and_follow_when_the_agent_writes(
    alice, emulator
):
    faults.add(Fault.Target.GRAPH, Fault.Action.ERROR, code=131047, http_status=400, count=1)
    conversation = customer_writes(emulator, "4915100000001", "anyone there?")

    copy = AgentPhoneMessage.objects.get(direction="to_agent", message__isnull=False)
    assert copy.status == "queued"
    sent = to_phone(emulator, ALICE)
    assert len(sent) == 1 and sent[0]["kind"] == "template"  # "please write to us"

    agent_writes(emulator, ALICE, "I'm here")  # the agent's window opens again

    copy.refresh_from_db()
    assert copy.status == "sent"
    assert to_phone(emulator, ALICE)[-1]["body"].endswith("anyone there?")
    reply = Message.objects.get(content="I'm here")
    assert reply.conversation_id == conversation.pk


def test_a_copy_refused_after_sending_waits_for_the_agent_and_a_replay_changes_nothing(
    alice, emulator
):
    # As Meta does it: the copy is accepted, then a status reports 131047.
    emulator.django.post(
        "/emulator/api/window",
        {"phone": ALICE, "last_wrote_hours_ago": 30},
        content_type="application/json",
    )
    customer_writes(emulator, "4915100000001", "is anyone there?")
    emulator.deliver_webhooks()  # the failed status for the copy

    copy = AgentPhoneMessage.objects.get(direction="to_agent", message__isnull=False)
    assert (copy.status, copy.wamid) == ("queued", None)
    assert copy.error["code"] == 131047
    assert [m["kind"] for m in to_phone(emulator, ALICE)] == ["template"]

    from wachat.whatsapp.tasks import replay_webhook_event

    failed_status = WebhookEvent.objects.order_by("-pk").first()
    assert replay_webhook_event(failed_status.pk).processed  # replayed: nothing new
    copy.refresh_from_db()
    assert copy.status == "queued"
    assert [m["kind"] for m in to_phone(emulator, ALICE)] == ["template"]

    agent_writes(emulator, ALICE, "Here now")
    copy.refresh_from_db()
    assert copy.status == "sent" and copy.wamid
    assert to_phone(emulator, ALICE)[-1]["body"].endswith("is anyone there?")
    # Every status, the template's included, found its message: nothing waits for review.
    assert not WebhookEvent.objects.filter(processed=False).exists()
