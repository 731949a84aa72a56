"""What a new user of the Conversation Center tripped over, in a real browser: read ticks,
going offline, canned responses, the composer in note mode and on closed conversations,
the header and search layout, the details panel on a phone, colour emoji."""

import re
import time

import pytest
from playwright.sync_api import expect

from wachat.agents.tests.test_browser_center import center_page, visitor_page, widget_says
from wachat.agents.tests.test_browser_center_more import PHONE, start_conversation
from wachat.conftest import make_agent
from wachat.conversations.models import ChatAgent

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1280, "height": 760}}


def wait_for(page, condition, timeout=15):
    """Poll the database while the page runs (Playwright handles dialogs only while called)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def test_reading_in_the_center_turns_the_visitors_ticks_blue_live(live_server_stack, chromium):
    bob = make_agent("bob")
    center = center_page(chromium, live_server_stack, bob, **DESKTOP)
    site = visitor_page(chromium, live_server_stack)
    widget_says(site, "Anyone reading this?")
    tick = site.locator("#wachat-widget .tick").last
    expect(tick).to_have_attribute("aria-label", "sent", timeout=15000)

    center.locator("#inbox .row", has_text="Anyone reading this?").click()

    expect(tick).to_have_attribute("aria-label", "read", timeout=15000)
    expect(tick).to_have_class(re.compile(r"\bread\b"))


def test_going_offline_asks_first_when_conversations_would_go_back_to_the_queue(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    conversation = start_conversation("offline-1", "Still there?")
    assert conversation.agent == bob
    center = center_page(chromium, live_server_stack, bob, **DESKTOP)
    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    center.once("dialog", dismiss)
    center.locator("#presence").select_option("offline")
    expect(center.locator("#presence")).to_have_value("online")
    assert len(asked) == 1 and "your 1 open conversation back to the queue" in asked[0]
    bob.refresh_from_db()
    assert bob.status == "online"

    center.once("dialog", lambda dialog: dialog.accept())
    center.locator("#presence").select_option("offline")
    expect(center.locator("#presence")).to_have_value("offline")
    wait_for(center, lambda: ChatAgent.objects.get(pk=bob.pk).status == "offline")
    conversation.refresh_from_db()
    assert conversation.agent_id is None  # back in the queue


def test_going_offline_with_nothing_open_does_not_ask(live_server_stack, chromium):
    bob = make_agent("bob")
    center = center_page(chromium, live_server_stack, bob, **DESKTOP)
    asked = []
    center.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))

    center.locator("#presence").select_option("offline")

    wait_for(center, lambda: ChatAgent.objects.get(pk=bob.pk).status == "offline")
    assert asked == []


def test_the_composer_says_what_a_note_is_and_closed_conversations_take_notes_only(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    start_conversation("composer-1", "Can I pay by card?")
    center = center_page(chromium, live_server_stack, bob, **DESKTOP)
    center.locator("#inbox .row", has_text="Can I pay by card?").click()
    text, mode = center.locator("#text"), center.locator("#mode")
    expect(text).to_have_attribute("placeholder", "Type a reply · / for canned responses")

    mode.click()
    expect(text).to_have_attribute("placeholder", "Private note — only agents see it")
    mode.click()

    center.locator("#close").click()
    expect(center.locator("#title")).to_contain_text("closed", timeout=15000)
    expect(mode).to_be_hidden()
    expect(center.locator("#send")).to_have_text("Add note")
    expect(text).to_have_attribute("placeholder", re.compile("only agents see it"))

    center.locator("#reopen").click()
    expect(mode).to_be_visible(timeout=15000)
    expect(mode).to_have_text("Reply")
    expect(text).to_have_attribute("placeholder", "Type a reply · / for canned responses")


def test_a_slash_without_canned_responses_says_where_to_add_them(live_server_stack, chromium):
    bob = make_agent("bob")
    start_conversation("canned-1", "Opening hours?")
    center = center_page(chromium, live_server_stack, bob, **DESKTOP)
    center.locator("#inbox .row", has_text="Opening hours?").click()

    center.locator("#text").fill("/")
    expect(center.locator("#canned")).to_have_text(
        "No canned responses yet — add them in the admin"
    )
    center.locator("#text").fill("/ is a slash")
    expect(center.locator("#canned")).to_be_hidden()


def test_labels_do_not_push_details_down_and_the_list_fits_a_laptop_screen(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    start_conversation("layout-1", "Where is my parcel?")
    center = center_page(chromium, live_server_stack, bob, **DESKTOP)
    assert center.locator("#search").bounding_box()["width"] >= 250
    # At 1280 px the list's bar and its five status tabs each keep to one row.
    tops = "(els) => els.map((el) => Math.round(el.getBoundingClientRect().top))"
    assert len(set(center.locator("#status-tabs button").evaluate_all(tops))) == 1
    title = center.get_by_role("heading", name="Conversations").bounding_box()
    sign_out = center.get_by_role("button", name="Sign out").bounding_box()
    assert sign_out["y"] < title["y"] + title["height"]
    center.locator("#inbox .row", has_text="Where is my parcel?").click()
    details = center.get_by_role("button", name="Details")
    close = center.get_by_role("button", name="Close", exact=True)
    before = details.bounding_box()
    assert abs(before["y"] - close.bounding_box()["y"]) < 2  # one row

    for name in ["shipping", "urgent follow-up", "vip customer", "refund requested"]:
        center.locator("#label-input").fill(name)
        center.locator("#label-input").press("Enter")
    expect(center.locator("#labels .chip")).to_have_count(4, timeout=15000)

    assert details.bounding_box() == before


def test_on_a_phone_the_header_is_two_rows_and_details_close_by_button_backdrop_or_escape(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    start_conversation("phone-1", "Do you deliver on Sundays?", name="Sunday Sam")
    center = center_page(chromium, live_server_stack, bob, **PHONE)
    center.locator("#inbox .row", has_text="Do you deliver on Sundays?").tap()
    expect(center.locator("#thread .msg.visitor")).to_be_visible()

    head = center.locator("#head").bounding_box()
    assert head["height"] <= 110, head  # title, then one row of small controls
    text = center.locator("#text")
    assert text.evaluate("t => t.scrollHeight <= t.clientHeight + 1")  # placeholder not clipped

    panel = center.locator("#details")
    center.get_by_role("button", name="Details").tap()
    expect(panel).to_be_visible()
    center.get_by_role("button", name="Close details").tap()
    expect(panel).to_be_hidden()

    center.get_by_role("button", name="Details").tap()
    expect(panel).to_be_visible()
    center.mouse.click(10, 400)  # beside the panel: the backdrop, not the thread underneath
    expect(panel).to_be_hidden()
    expect(center.locator("#thread .msg.visitor")).to_be_visible()  # still in the conversation

    center.get_by_role("button", name="Details").tap()
    center.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(center.locator("#thread .msg.visitor")).to_be_visible()


def test_reactions_use_colour_emoji_fonts(live_server_stack, chromium):
    bob = make_agent("bob")
    start_conversation("emoji-1", "Thanks a lot!")
    center = center_page(chromium, live_server_stack, bob, **DESKTOP)
    center.locator("#inbox .row", has_text="Thanks a lot!").click()
    # Opening it marks it read, which redraws the bubble: measure after that.
    expect(center.locator("#thread .msg.visitor .meta")).to_contain_text("read")
    picker = center.locator("#thread .reactions").first
    expect(picker).to_be_visible()
    fonts = picker.locator("button").first.evaluate("b => getComputedStyle(b).fontFamily")
    assert "Noto Color Emoji" in fonts and "Segoe UI Emoji" in fonts
