"""The walking skeleton's promise, in a real browser: a visitor's message reaches the
agent's WhatsApp (the emulator's phone page) and the agent's reply reaches the widget."""

import re

import pytest
from playwright.sync_api import expect

from wachat.conftest import make_agent
from wachat.conversations.models import Message

pytestmark = pytest.mark.browser


def test_visitor_message_reaches_the_phone_and_the_reply_reaches_the_widget(
    live_server_stack, chromium
):
    make_agent("alice", phone="15550001111")
    site = chromium.new_context().new_page()
    site.goto(live_server_stack.url + "/demo/")
    launcher = site.get_by_role("button", name="Open chat")
    launcher.click()
    site.get_by_role("textbox", name="Message").fill("Do you sell tandems?")
    site.get_by_role("button", name="Send").click()

    # The row exists, and the worker relays it to Alice's phone through the Graph API.
    phone = chromium.new_context().new_page()
    phone.goto(live_server_stack.url + "/emulator/?phone=15550001111")
    relayed = phone.locator(".bubble.to_phone", has_text="Do you sell tandems?")
    expect(relayed).to_be_visible(timeout=15000)
    message = Message.objects.get(content="Do you sell tandems?")
    assert message.status in ("sent", "delivered", "read")
    assert message.whatsapp_message_id.startswith("wamid.")

    # The widget shows the tick moving past "pending" as statuses come back.
    tick = site.locator("#wachat-widget .msg.visitor .tick")
    expect(tick).to_have_attribute("aria-label", re.compile("sent|delivered|read"), timeout=15000)

    # Alice answers on WhatsApp, replying to the relayed message.
    relayed.get_by_role("button", name="Reply to this message").click()
    phone.get_by_role("textbox", name="Message").fill("Yes! Come and try one.")
    phone.get_by_role("textbox", name="Message").press("Enter")

    expect(site.locator("#wachat-widget .msg.agent")).to_have_text(
        re.compile("Yes! Come and try one."), timeout=15000
    )
    reply = Message.objects.get(content="Yes! Come and try one.")
    assert reply.conversation_id == message.conversation_id
    assert (reply.direction, reply.sender_type) == ("outbound", "agent")
