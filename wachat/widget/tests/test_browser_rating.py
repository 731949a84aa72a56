"""After the chat, in Debian's Chromium against a running server: the agent's reply turns
read when the visitor opens the panel, and once the agent closes the conversation the
widget asks for a rating, which is stored."""

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from wachat.agents.tests.test_browser_center import center_page
from wachat.conftest import make_agent
from wachat.conversations.models import Conversation, Message
from wachat.whatsapp.emulator.models import PhoneMessage
from wachat.widget.tests.conftest import axe_violations, phone_sends

pytestmark = pytest.mark.browser

ALICE = "15550001111"


def eventually(read, expected, timeout=15):
    """Poll the database (written by the server's processes) until `read()` == expected."""
    deadline = time.monotonic() + timeout
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert value == expected


def test_the_visitor_reads_the_reply_then_rates_the_closed_conversation(
    site, live_server_stack, chromium
):
    alice = make_agent("alice", phone=ALICE)
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    tab.send("Is my order on its way?")
    expect(tab.bubbles().locator(".tick")).to_have_attribute(
        "aria-label", re.compile("sent|delivered|read"), timeout=15000
    )
    conversation = Message.objects.get(content="Is my order on its way?").conversation
    # Alice also has the conversation open in the Conversation Center.
    center = center_page(chromium, live_server_stack, alice)
    center.locator("#inbox .row", has_text="Is my order on its way?").click()

    # Alice answers from her phone while the panel is closed: not read yet.
    tab.panel.get_by_role("button", name="Close chat").click()
    sent = phone_sends(live_server_stack, ALICE, "Yes, it ships today.")
    expect(tab.badge).to_have_text("1", timeout=15000)
    reply = Message.objects.get(content="Yes, it ships today.")
    assert reply.status == "sent"

    # The visitor opens the panel and sees it: read, here and on Alice's phone.
    tab.launcher.click()
    eventually(lambda: Message.objects.get(pk=reply.pk).status, "read")
    eventually(lambda: PhoneMessage.objects.get(wamid=sent["wamid"]).status, "read")
    in_center = center.locator(f'#thread [data-message="{reply.pk}"]')
    expect(in_center).to_contain_text("✓✓ read", timeout=15000)

    # Alice closes the conversation from her phone: the widget asks for a rating.
    phone_sends(live_server_stack, ALICE, f"/close {conversation.code}")
    stars = tab.panel.get_by_role("group", name="How was your conversation?")
    expect(stars).to_be_visible(timeout=15000)
    expect(stars.get_by_role("radio")).to_have_count(5)
    assert axe_violations(tab.page) == []
    # The header says so, and the card follows the newest message instead of covering it.
    expect(tab.widget.locator(".state")).to_have_text("Conversation ended")
    expect(tab.bubbles("agent").last).to_be_in_viewport()
    log = tab.widget.locator(".log")
    assert log.evaluate("(log) => log.lastElementChild.matches('.card.after')")
    assert log.evaluate("(log) => log.scrollHeight - log.scrollTop - log.clientHeight") < 2
    stars.locator("label").nth(4).click()
    expect(stars.get_by_role("radio", name="5 of 5 stars")).to_be_checked()
    tab.panel.get_by_role("textbox", name="Comment (optional)").fill("Fast and friendly")
    tab.panel.get_by_role("button", name="Send rating").click()

    expect(tab.panel.get_by_text("Thank you for your feedback!")).to_be_visible()
    expect(stars).to_have_count(0)
    conversation.refresh_from_db()
    assert (conversation.rating, conversation.rating_comment) == (5, "Fast and friendly")
    assert Conversation.objects.get(pk=conversation.pk).rated_at is not None
    # Alice sees it live, in the conversation's details.
    expect(center.locator("#details")).to_contain_text("★★★★★ 5/5", timeout=15000)
    expect(center.locator("#details")).to_contain_text("Fast and friendly")

    # Once: after a reload the card does not ask again.
    tab.page.reload()
    tab.launcher.click()
    tab.wait_online()
    expect(tab.bubbles("agent")).to_have_count(1)
    expect(tab.panel.get_by_role("group", name="How was your conversation?")).to_have_count(0)

    # Writing again starts a new conversation, set apart from the old one.
    tab.send("One more thing")
    divider = tab.panel.get_by_role("separator").filter(has_text="New conversation")
    expect(divider).to_have_count(1)
    expect(tab.widget.locator(".state")).not_to_have_text("Conversation ended")
    followers = tab.widget.locator(".log > *").evaluate_all(
        "(nodes) => nodes.map((n) => n.textContent)"
    )
    new_at = next(i for i, text in enumerate(followers) if text == "New conversation")
    assert "Yes, it ships today." in "".join(followers[:new_at])
    assert "One more thing" in "".join(followers[new_at:])


# Counts the tones the widget makes (WebAudio oscillators), from before any page script.
COUNT_TONES = """
window.__contexts = 0; window.__tones = 0;
const Real = window.AudioContext;
window.AudioContext = class extends Real {
  constructor(...args) { super(...args); window.__contexts++; }
  createOscillator() { window.__tones++; return super.createOscillator(); }
};
"""


def test_the_new_message_sound_waits_for_an_interaction(live_server_stack, chromium):
    from wachat.backoffice.models import ChatSetting
    from wachat.widget.tests.conftest import Site

    ChatSetting.put("widget_sound", "true")
    make_agent("alice", phone=ALICE)
    context = chromium.new_context()
    context.add_init_script(COUNT_TONES)
    tab = Site(context.new_page(), live_server_stack.url).open()
    tab.wait_online()
    # A conversation started without touching the page (as another tab of the visitor would).
    token = tab.page.evaluate("JSON.parse(localStorage.getItem('wachat:token'))")
    response = httpx.post(
        live_server_stack.url + "/api/widget/messages",
        json={"client_id": "from-elsewhere", "text": "Anyone there?"},
        headers={"X-WaChat-Token": token},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    relayed = Message.objects.filter(client_id="from-elsewhere", whatsapp_message_id__isnull=False)
    eventually(relayed.exists, True)  # on Alice's phone, so her answer finds the conversation

    phone_sends(live_server_stack, ALICE, "Hello! Here to help.")
    expect(tab.badge).to_have_text("1", timeout=15000)
    # No interaction yet: silence, and no AudioContext at all (autoplay policy).
    assert tab.page.evaluate("[window.__contexts, window.__tones]") == [0, 0]

    tab.page.mouse.click(5, 5)  # the visitor clicks somewhere on the host page
    phone_sends(live_server_stack, ALICE, "Still there?")
    expect(tab.badge).to_have_text("2", timeout=15000)
    assert tab.page.evaluate("[window.__contexts, window.__tones]") == [1, 1]

    # With the chat open and in view, no sound.
    tab.launcher.click()
    phone_sends(live_server_stack, ALICE, "Great, you are back.")
    expect(tab.bubbles("agent")).to_have_count(3, timeout=15000)
    assert tab.page.evaluate("window.__tones") == 1
    context.close()
