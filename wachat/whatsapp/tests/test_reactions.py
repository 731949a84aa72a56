"""Reactions both ways: agents react to a visitor's or customer's message from the
Conversation Center; on WhatsApp conversations the reaction reaches the customer's phone
(through the worker, retried like sends); a customer's reaction shows on our message."""

import pytest
from channels.db import database_sync_to_async

from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.realtime.tests.test_agent_consumer import (
    connect_agent,
    connect_visitor,
    conversation_for,
    receive_until,
)
from wachat.whatsapp import tasks
from wachat.whatsapp.emulator import faults
from wachat.whatsapp.emulator.models import Fault, PhoneMessage
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.tests.conftest import CUSTOMER, run_scheduled, scheduled

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _asgi_loaded(transactional_db):
    import config.asgi  # noqa: F401


@pytest.fixture
def customer_message(emulator, bob):
    """The customer wrote on WhatsApp (through the emulator); bob has the conversation."""
    emulator.phone_sends(CUSTOMER, "Do you ship to Berlin?")
    emulator.deliver_webhooks()
    message = Message.objects.get(sender_type="visitor")
    assert message.conversation.agent == bob
    return message


def reactions_on_phone():
    return list(
        PhoneMessage.objects.filter(phone=CUSTOMER, kind="reaction").values_list(
            "body", "context_wamid"
        )
    )


def test_an_agents_reaction_reaches_the_customers_phone(customer_message, bob):
    message = actions.react_as_agent(message=customer_message, agent=bob, emoji="👍")

    assert message.metadata["reactions"] == {f"agent:{bob.pk}": "👍"}
    assert reactions_on_phone() == [("👍", customer_message.whatsapp_message_id)]
    message.refresh_from_db()
    assert message.metadata["business_reaction_sent"] == "👍"


def test_the_same_emoji_again_removes_it_on_the_phone_too(customer_message, bob):
    actions.react_as_agent(message=customer_message, agent=bob, emoji="❤️")

    message = actions.react_as_agent(message=customer_message, agent=bob, emoji="❤️")

    assert message.metadata["reactions"] == {}
    wamid = customer_message.whatsapp_message_id
    assert reactions_on_phone() == [("❤️", wamid), ("", wamid)]  # "" removes, per the API


def test_a_reaction_task_that_runs_twice_sends_once(customer_message, bob):
    actions.react_as_agent(message=customer_message, agent=bob, emoji="🙏")

    tasks.deliver_reaction.call_local(customer_message.pk)

    assert len(reactions_on_phone()) == 1


def test_a_retryable_error_is_retried_through_the_breaker(customer_message, bob):
    faults.add(Fault.Target.GRAPH, Fault.Action.ERROR, code=131000, http_status=500, count=1)

    actions.react_as_agent(message=customer_message, agent=bob, emoji="😂")

    assert reactions_on_phone() == []
    assert scheduled() == [("deliver_reaction", (customer_message.pk, 2))]
    run_scheduled()
    assert reactions_on_phone() == [("😂", customer_message.whatsapp_message_id)]


def test_a_permanent_error_is_kept_on_the_message(customer_message, bob):
    faults.add(Fault.Target.GRAPH, Fault.Action.ERROR, code=131026, http_status=400, count=1)

    actions.react_as_agent(message=customer_message, agent=bob, emoji="😮")

    customer_message.refresh_from_db()
    assert customer_message.metadata["business_reaction_error"]["code"] == 131026
    assert scheduled() == []


def test_the_sent_status_of_our_reaction_is_not_an_unknown_message(customer_message, bob, emulator):
    actions.react_as_agent(message=customer_message, agent=bob, emoji="👍")

    emulator.deliver_webhooks()  # Meta reports "sent" for a reaction, and nothing more

    assert not WebhookEvent.objects.filter(processed=False).exists()


def test_a_relayed_visitors_message_gets_the_reaction_but_whatsapp_gets_nothing(
    emulator, alice, visitor
):
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi", client_id="v1")
    message.refresh_from_db()
    assert message.whatsapp_message_id  # its copy on alice's phone

    message = actions.react_as_agent(message=message, agent=alice, emoji="👍")

    assert message.metadata["reactions"] == {f"agent:{alice.pk}": "👍"}
    assert not PhoneMessage.objects.filter(kind="reaction").exists()
    assert scheduled() == []


def test_only_a_visitors_message_and_a_listed_emoji(customer_message, bob):
    answer, _ = actions.send_agent_message(
        conversation=customer_message.conversation, agent=bob, text="Yes", client_id="a1"
    )
    with pytest.raises(actions.ActionRefused):
        actions.react_as_agent(message=answer, agent=bob, emoji="👍")
    with pytest.raises(actions.ActionRefused):
        actions.react_as_agent(message=customer_message, agent=bob, emoji="🍌")


def test_a_customers_reaction_shows_on_our_message(customer_message, bob, emulator):
    answer, _ = actions.send_agent_message(
        conversation=customer_message.conversation, agent=bob, text="Yes!", client_id="a1"
    )
    answer.refresh_from_db()
    emulator.deliver_webhooks()
    response = emulator.django.post(
        "/emulator/api/send",
        {"phone": CUSTOMER, "reaction": "❤️", "reply_to": answer.whatsapp_message_id},
        content_type="application/json",
    )
    assert response.status_code == 201
    emulator.deliver_webhooks()

    answer.refresh_from_db()
    assert answer.metadata["reactions"] == {CUSTOMER: "❤️"}


# --- The Conversation Center's socket -------------------------------------------------------


@database_sync_to_async
def first_visitor_message(conversation):
    return Message.objects.filter(conversation=conversation, sender_type="visitor").first()


async def test_an_agent_reacts_from_the_center_and_the_visitor_sees_it(db):
    from wachat.conftest import make_agent

    agent = await database_sync_to_async(make_agent)("dora")
    conversation = await conversation_for("dora", "visitor-react")
    message = await first_visitor_message(conversation)
    center = await connect_agent(agent)
    session = await database_sync_to_async(lambda: conversation.visitor_session)()
    widget = await connect_visitor(session)

    await center.send_json_to(
        {
            "type": "react",
            "conversation_id": str(conversation.pk),
            "message_id": message.pk,
            "emoji": "👍",
        }
    )

    ok = await receive_until(center, lambda f: f.get("type") == "ok")
    assert ok["message"]["reactions"] == {f"agent:{agent.pk}": "👍"}
    seen = await receive_until(
        widget, lambda f: f.get("type") == "event" and f.get("event") == "message.updated"
    )
    assert seen["message"]["reactions"] == {f"agent:{agent.pk}": "👍"}
    await center.disconnect()
    await widget.disconnect()


async def test_another_agents_conversation_cannot_be_reacted_in(db):
    from wachat.conftest import make_agent

    await database_sync_to_async(make_agent)("erin")
    conversation = await conversation_for("erin", "visitor-react-2")
    message = await first_visitor_message(conversation)
    other = await database_sync_to_async(make_agent)("finn")
    center = await connect_agent(other)

    for frame in [
        {"conversation_id": str(conversation.pk), "message_id": message.pk, "emoji": "👍"},
        {"conversation_id": str(conversation.pk), "message_id": "1", "emoji": "👍"},
    ]:
        await center.send_json_to({"type": "react", **frame})
        error = await receive_until(center, lambda f: f.get("type") == "error")
        assert error["frame"] == "react"

    fresh = await database_sync_to_async(Message.objects.get)(pk=message.pk)
    assert "reactions" not in (fresh.metadata or {})
    await center.disconnect()


# --- In the browser -------------------------------------------------------------------------


@pytest.mark.browser
def test_an_agent_reacts_in_the_center_and_the_widget_shows_it(live_server_stack, chromium):
    from playwright.sync_api import expect

    from wachat.agents.tests.test_browser_center import center_page, visitor_page, widget_says
    from wachat.conftest import make_agent

    bob = make_agent("bob")
    center = center_page(chromium, live_server_stack, bob)
    site = visitor_page(chromium, live_server_stack)
    widget_says(site, "Can I bring my dog?")
    row = center.locator("#inbox .row", has_text="Can I bring my dog?")
    expect(row).to_be_visible(timeout=15000)
    row.click()
    bubble = center.locator("#thread .msg.visitor", has_text="Can I bring my dog?")

    bubble.locator("button.react").click()
    bubble.locator(".picker button", has_text="👍").click()

    expect(bubble.locator(".reaction.mine")).to_have_text("👍", timeout=10000)
    expect(site.locator(".msg.visitor .reactions")).to_have_text("👍", timeout=10000)

    bubble.locator("button.react").click()
    bubble.locator(".picker button", has_text="👍").click()  # the same again: removed

    expect(bubble.locator(".reaction")).to_have_count(0, timeout=10000)
    expect(site.locator(".msg.visitor .reactions")).to_have_count(0, timeout=10000)
