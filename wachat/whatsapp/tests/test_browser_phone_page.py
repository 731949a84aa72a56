"""The emulator's phone page in a real browser, as a WhatsApp user expects it: reactions are
badges on the message they react to, a reply can be cancelled, and the message box waits
until a phone is picked."""

import re

import httpx
import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CUSTOMER = "4915100000077"


def phone_sends(stack, **fields):
    response = httpx.post(
        stack.url + "/emulator/api/send", json={"phone": CUSTOMER, **fields}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()["wamid"]


def business_sends(stack, kind, body):
    """What the app sends through the Graph API (here straight to the emulator)."""
    response = httpx.post(
        f"{stack.url}/emulator/graph/{settings.WHATSAPP_API_VERSION}/"
        f"{settings.WHATSAPP_PHONE_NUMBER_ID}/messages",
        headers={"Authorization": f"Bearer {settings.WHATSAPP_ACCESS_TOKEN}"},
        json={"messaging_product": "whatsapp", "to": CUSTOMER, "type": kind, kind: body},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["messages"][0]["id"]


def open_phone(chromium, stack, phone=CUSTOMER):
    page = chromium.new_context(viewport={"width": 1100, "height": 700}).new_page()
    page.goto(stack.url + "/emulator/" + (f"?phone={phone}" if phone else ""))
    return page


def test_reactions_are_badges_on_the_message_they_react_to(live_server_stack, chromium):
    question = phone_sends(live_server_stack, text="Is my order shipped?")
    answer = business_sends(live_server_stack, "text", {"body": "Yes, it left today."})
    heart = business_sends(live_server_stack, "reaction", {"message_id": question, "emoji": "❤️"})
    page = open_phone(chromium, live_server_stack)

    asked = page.locator(f'.bubble[data-wamid="{question}"]')
    badge = asked.locator(".reactions")
    expect(badge).to_have_text("❤️")
    expect(badge).to_have_attribute("aria-label", re.compile("The business: ❤️"))
    expect(page.locator(f'.bubble[data-wamid="{heart}"]')).to_have_count(0)  # no bubble of its own
    expect(page.locator(".bubble", has_text="reacted")).to_have_count(0)
    # On the bubble's bottom edge, like WhatsApp's.
    bubble_box, badge_box = asked.bounding_box(), badge.bounding_box()
    assert (
        badge_box["y"]
        < bubble_box["y"] + bubble_box["height"]
        < badge_box["y"] + badge_box["height"]
    ), (bubble_box, badge_box)
    assert bubble_box["x"] <= badge_box["x"] <= bubble_box["x"] + bubble_box["width"]

    # The phone's own reaction, and choosing it again to take it back.
    replied = page.locator(f'.bubble[data-wamid="{answer}"]')
    replied.get_by_role("button", name="React with thumbs up").click()
    expect(replied.locator(".reactions")).to_have_text("👍")
    expect(replied.locator(".reactions")).to_have_attribute("aria-label", re.compile("You: 👍"))
    expect(page.locator(".bubble", has_text="reacted")).to_have_count(0)
    # The button shows it is given, not only in its tooltip.
    expect(replied.get_by_role("button", name="Remove your thumbs up")).to_have_class("given")
    replied.get_by_role("button", name="Remove your thumbs up").click()
    expect(replied.locator(".reactions")).to_have_count(0)
    expect(replied.get_by_role("button", name="React with thumbs up")).not_to_have_class("given")

    # The business takes its reaction back (an empty emoji): the badge goes.
    business_sends(live_server_stack, "reaction", {"message_id": question, "emoji": ""})
    expect(badge).to_have_count(0)
    expect(page.locator(".bubble", has_text="removed a reaction")).to_have_count(0)
    expect(page.locator(f'.bubble[data-wamid="{question}"]')).to_have_text(
        re.compile(r"^Is my order shipped\?")
    )


def test_a_reply_can_be_cancelled_with_its_button_or_escape(live_server_stack, chromium):
    phone_sends(live_server_stack, text="Hello?")
    answer = business_sends(live_server_stack, "text", {"body": "Hi! How can we help?"})
    page = open_phone(chromium, live_server_stack)
    bubble = page.locator(f'.bubble[data-wamid="{answer}"]')
    replying = page.locator("#replying")

    bubble.get_by_role("button", name="Reply to this message").click()
    expect(replying).to_be_visible()
    expect(replying).to_contain_text("Hi! How can we help?")
    page.get_by_role("button", name="Cancel reply").click()
    expect(replying).to_be_hidden()

    bubble.get_by_role("button", name="Reply to this message").click()
    expect(replying).to_be_visible()
    page.get_by_role("textbox", name="Message").press("Escape")
    expect(replying).to_be_hidden()

    # Cancelled means cancelled: the next message quotes nothing.
    page.get_by_role("textbox", name="Message").fill("Never mind")
    page.get_by_role("textbox", name="Message").press("Enter")
    sent = page.locator(".bubble.from_phone", has_text="Never mind")
    expect(sent).to_be_visible()
    expect(sent.locator(".quote")).to_have_count(0)
    thread = httpx.get(live_server_stack.url + "/emulator/api/thread", params={"phone": CUSTOMER})
    (never_mind,) = [m for m in thread.json()["messages"] if m["body"] == "Never mind"]
    assert never_mind["context_wamid"] is None


def test_the_message_box_waits_until_a_phone_is_picked(live_server_stack, chromium):
    page = open_phone(chromium, live_server_stack, phone=None)
    text = page.get_by_role("textbox", name="Message")

    expect(page.locator("#hint")).to_be_visible()
    expect(page.locator("#hint")).to_contain_text("Pick a phone")
    expect(page.locator("#composer")).to_be_hidden()
    expect(text).to_be_hidden()

    page.locator("#new-phone-number").fill(CUSTOMER)
    page.get_by_role("button", name="Open").click()

    expect(page.locator("#title")).to_have_text(f"+{CUSTOMER}")
    expect(text).to_be_visible()
    expect(text).to_be_enabled()
    expect(text).to_be_focused()
    expect(page.locator("#hint")).to_have_count(0)
    text.fill("First message")
    text.press("Enter")
    expect(page.locator(".bubble.from_phone", has_text="First message")).to_be_visible()
