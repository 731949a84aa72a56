"""The Conversation Center in a real browser against a running server: a visitor's message
appears live, the agent's reply reaches the widget, notes stay private, transfers."""

import os
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import Conversation, Message

pytestmark = pytest.mark.browser
# UPDATE_SCREENSHOTS=1 make test refreshes the README's picture of the Center.
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "center.png"


def center_page(chromium, stack, agent, **context):
    client = Client()
    client.force_login(agent.user)
    browser = chromium.new_context(**context)
    browser.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": stack.url,
            }
        ]
    )
    page = browser.new_page()
    page.goto(stack.url + "/center/")
    expect(page.locator("#conn")).to_have_text("● live", timeout=15000)
    return page


def visitor_page(chromium, stack):
    site = chromium.new_context().new_page()
    site.goto(stack.url + "/demo/")
    site.get_by_role("button", name="Open chat").click()
    return site


def widget_says(site, text):
    site.get_by_role("textbox", name="Message").fill(text)
    site.get_by_role("button", name="Send").click()
    deadline = time.monotonic() + 15
    while not Message.objects.filter(content=text).exists():
        assert time.monotonic() < deadline, f"the widget did not send {text!r}"
        time.sleep(0.1)


def test_a_visitor_message_appears_live_and_the_reply_reaches_the_widget_notes_do_not(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    make_agent("carol", max_concurrent_chats=0)
    center = center_page(chromium, live_server_stack, bob, viewport={"width": 1280, "height": 760})
    site = visitor_page(chromium, live_server_stack)

    widget_says(site, "Do you sell tandems?")

    row = center.locator("#inbox .row", has_text="Do you sell tandems?")
    expect(row).to_be_visible(timeout=15000)
    row = center.locator(f'#inbox .row[data-id="{row.get_attribute("data-id")}"]')
    expect(row.locator(".badge")).to_have_text("1")
    expect(center).to_have_title(re.compile(r"^\(1\) "))
    row.click()
    expect(center.locator("#thread .msg.visitor")).to_have_text(re.compile("Do you sell tandems?"))
    expect(center.locator("#details")).to_contain_text("Chrome")

    center.locator("#mode").click()  # private note
    center.locator("#text").fill("VIP: offered 10% off")
    center.locator("#text").press("Enter")
    expect(center.locator("#thread .msg.note")).to_have_text(re.compile("VIP: offered 10% off"))

    center.locator("#mode").click()  # back to replying
    center.locator("#text").fill("Yes! Come and try one.")
    center.locator("#text").press("Enter")

    expect(site.locator("#wachat-widget .msg.agent")).to_have_text(
        re.compile("Yes! Come and try one."), timeout=15000
    )
    widget_says(site, "Great, see you Saturday")
    expect(center.locator("#thread .msg.visitor").last).to_have_text(
        re.compile("see you Saturday"), timeout=15000
    )
    # The note was written before the reply the widget shows: sent, it would be there by now.
    expect(site.locator("#wachat-widget")).not_to_contain_text("VIP")
    assert Message.objects.get(content="VIP: offered 10% off").metadata["private"] is True

    row.click()  # (re)opening marks it read: no badge, no count in the tab title
    expect(row.locator(".badge")).to_have_count(0)
    expect(center).to_have_title("Conversation Center · WaChat")

    # For the README: a fuller inbox, this conversation open.
    for i, (name, text) in enumerate(
        [("Maria Lopez", "Is the red frame in stock?"), ("Tom", "Where is my order #4411?")]
    ):
        session = actions.touch_visitor_session(session_id=f"shot-{i}")
        actions.update_visitor_profile(visitor_session=session, name=name)
        actions.send_visitor_message(visitor_session=session, text=text, client_id="c1")
    center.reload()
    center.locator("#inbox .row", has_text="see you Saturday").click()
    expect(center.locator("#thread .msg.note")).to_be_visible()
    if os.environ.get("UPDATE_SCREENSHOTS"):
        center.screenshot(path=str(SCREENSHOT))


def test_an_agent_transfers_a_conversation_and_it_leaves_their_inbox(live_server_stack, chromium):
    bob = make_agent("bob")
    carol = make_agent("carol", max_concurrent_chats=0)  # online, takes transfers only
    center = center_page(chromium, live_server_stack, bob)
    carols = center_page(chromium, live_server_stack, carol)
    site = visitor_page(chromium, live_server_stack)
    widget_says(site, "Can someone call me back?")

    row = center.locator("#inbox .row", has_text="Can someone call me back?")
    expect(row).to_be_visible(timeout=15000)
    row.click()
    expect(center.locator("#title")).to_contain_text("Bob")
    center.locator("#assign").select_option(label="Carol (online)")

    expect(carols.locator("#inbox .row", has_text="Can someone call me back?")).to_be_visible(
        timeout=15000
    )
    expect(center.locator("#thread")).to_contain_text("is now with Carol")
    expect(row).to_have_count(0, timeout=15000)  # bob's "Mine" list no longer has it
    conversation = Conversation.objects.get()
    assert conversation.agent == carol
    assert conversation.messages.filter(
        sender_type="system", content="Bob assigned the conversation to Carol."
    ).exists()
