"""More of the Conversation Center in a real browser: a phone-sized screen, keyboard
shortcuts, notifications, labels and snooze; and the queue estimate a waiting visitor sees."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from wachat.agents.tests.test_browser_center import center_page, visitor_page, widget_says
from wachat.conftest import make_agent
from wachat.conversations import actions
from wachat.conversations.models import Conversation, Label, Message

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

# Records every Notification the page constructs, and lets the test hide the tab.
RECORD_NOTIFICATIONS = """
window.__notes = [];
window.__hidden = false;
Object.defineProperty(Document.prototype, "hidden", {
  get: () => window.__hidden, configurable: true,
});
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    window.__notes.push({ title, body: options && options.body });
    super(title, options);
  }
};
"""


def start_conversation(session_id, text, name=None):
    session = actions.touch_visitor_session(session_id=session_id)
    if name:
        actions.update_visitor_profile(visitor_session=session, name=name)
    message, _ = actions.send_visitor_message(visitor_session=session, text=text, client_id="c1")
    return Conversation.objects.get(pk=message.conversation_id)


def test_the_center_works_on_a_phone(live_server_stack, chromium):
    bob = make_agent("bob")
    center = center_page(chromium, live_server_stack, bob, **PHONE)
    site = visitor_page(chromium, live_server_stack)
    widget_says(site, "Hello from my phone")

    row = center.locator("#inbox .row", has_text="Hello from my phone")
    expect(row).to_be_visible(timeout=15000)
    expect(center.locator("main")).to_be_hidden()  # the list fills the screen
    row = center.locator(f'#inbox .row[data-id="{row.get_attribute("data-id")}"]')
    row.tap()
    expect(center.locator("#inbox")).to_be_hidden()
    expect(center.locator("#thread .msg.visitor")).to_have_text(re.compile("Hello from my phone"))
    box = center.locator("#text").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390

    center.locator("#text").fill("Hi! How can I help?")
    center.locator("#send").tap()
    expect(site.locator("#wachat-widget .msg.agent")).to_have_text(
        re.compile("How can I help"), timeout=15000
    )
    center.locator("#back").tap()
    expect(row).to_be_visible()
    expect(row).to_contain_text("How can I help?")
    expect(center.locator("main")).to_be_hidden()


def test_keyboard_shortcuts_move_reply_close_and_explain_themselves(live_server_stack, chromium):
    bob = make_agent("bob")
    for i in range(3):
        start_conversation(f"kbd-{i}", f"question {i}", name=f"Visitor {i}")
    center = center_page(chromium, live_server_stack, bob, viewport={"width": 1280, "height": 760})
    rows = center.locator("#inbox .row")
    expect(rows).to_have_count(3)
    ids = [rows.nth(i).get_attribute("data-id") for i in range(3)]
    current = center.locator('#inbox .row[aria-current="true"]')

    center.locator("body").press("j")
    expect(current).to_have_attribute("data-id", ids[0])
    expect(center.locator("#thread .msg.visitor")).to_have_text(re.compile("question"))
    center.locator("#text").focus()
    center.locator("#text").press("j")  # typing: a letter, not a shortcut
    expect(center.locator("#text")).to_have_value("j")
    expect(current).to_have_attribute("data-id", ids[0])
    center.locator("#text").fill("")

    center.locator("#text").press("Escape")  # leave the field
    center.keyboard.press("j")
    expect(current).to_have_attribute("data-id", ids[1])
    center.keyboard.press("k")
    expect(current).to_have_attribute("data-id", ids[0])

    center.locator("#text").blur()
    center.keyboard.press("n")
    expect(center.locator("#mode")).to_have_text("Note")
    expect(center.locator("#text")).to_be_focused()
    center.locator("#text").blur()
    center.keyboard.press("r")
    expect(center.locator("#mode")).to_have_text("Reply")
    expect(center.locator("#text")).to_be_focused()

    center.locator("#text").blur()
    center.keyboard.press("?")
    expect(center.locator("#help")).to_be_visible()
    expect(center.locator("#help")).to_contain_text("close")
    center.keyboard.press("Escape")
    expect(center.locator("#help")).to_be_hidden()

    center.keyboard.press("e")
    expect(center.locator("#title")).to_contain_text("closed", timeout=15000)
    assert Conversation.objects.get(pk=ids[0]).status == "closed"
    assert Conversation.objects.exclude(pk=ids[0]).filter(status="closed").count() == 0


def test_a_new_conversation_notifies_when_it_is_not_open_or_the_tab_is_hidden(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    context = {"viewport": {"width": 1280, "height": 760}, "permissions": ["notifications"]}
    center = center_page(chromium, live_server_stack, bob, **context)
    center.context.add_init_script(RECORD_NOTIFICATIONS)
    center.reload()
    expect(center.locator("#conn")).to_have_text("● live", timeout=15000)
    assert center.evaluate("Notification.permission") == "granted"
    notes = lambda: center.evaluate("window.__notes")  # noqa: E731

    site = visitor_page(chromium, live_server_stack)
    widget_says(site, "Is anyone there?")
    expect(center).to_have_title(re.compile(r"^\(1\) "), timeout=15000)
    center.wait_for_function("window.__notes.length > 0", timeout=15000)
    assert notes()[0]["body"] == "Is anyone there?"

    center.locator("#inbox .row", has_text="Is anyone there?").click()
    expect(center).to_have_title("Conversation Center · WaChat")
    widget_says(site, "I can see you typing")  # open and visible: no notification
    expect(center.locator("#thread .msg.visitor").last).to_have_text(
        re.compile("I can see you typing"), timeout=15000
    )
    assert len(notes()) == 1

    center.evaluate("window.__hidden = true")  # the agent switched tabs
    widget_says(site, "Hello again?")
    center.wait_for_function("window.__notes.length > 1", timeout=15000)
    assert notes()[1]["body"] == "Hello again?"


def test_labels_through_the_center_reach_other_agents_live_and_filter_the_inbox(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    boss = make_agent("boss", max_concurrent_chats=0)
    boss.user.is_staff = True
    boss.user.save()
    Label.objects.create(name="billing", color="#dc2626")
    labelled = start_conversation("label-1", "My invoice is wrong", name="Ann")
    start_conversation("label-2", "Do you ship to Spain?", name="Ben")
    center = center_page(chromium, live_server_stack, bob, viewport={"width": 1280, "height": 760})
    supervisor = center_page(chromium, live_server_stack, boss)

    center.locator("#inbox .row", has_text="My invoice is wrong").click()
    center.locator("#label-input").fill("billing")  # an existing label
    center.locator("#label-input").press("Enter")
    center.locator("#label-input").fill("Needs refund")  # a new one
    center.locator("#label-input").press("Enter")
    expect(center.locator("#labels .chip")).to_have_text(["billing×", "Needs refund×"])
    row = center.locator(f'#inbox .row[data-id="{labelled.pk}"]')
    expect(row.locator(".chip")).to_have_text(["billing", "Needs refund"])
    assert sorted(labelled.labels.values_list("name", flat=True)) == ["Needs refund", "billing"]

    boss_row = supervisor.locator(f'#inbox .row[data-id="{labelled.pk}"]')
    expect(boss_row.locator(".chip")).to_have_text(["billing", "Needs refund"], timeout=15000)
    # The new label reached the other agent's filter without a reload.
    supervisor.locator("#label-filter").select_option(label="Needs refund")
    expect(supervisor.locator("#inbox .row")).to_have_count(1)
    expect(supervisor.locator("#inbox .row")).to_have_text(re.compile("My invoice is wrong"))

    center.get_by_role("button", name="Remove label billing").click()
    expect(center.locator("#labels .chip")).to_have_text(["Needs refund×"])
    expect(boss_row.locator(".chip")).to_have_text(["Needs refund"], timeout=15000)

    center.locator("#label-input").fill("x" * 50 + "y")  # the field stops at 50
    expect(center.locator("#label-input")).to_have_value("x" * 50)


def test_snooze_through_the_center_in_the_agents_own_time(live_server_stack, chromium):
    bob = make_agent("bob")
    site = visitor_page(chromium, live_server_stack)
    widget_says(site, "Call me tomorrow")
    conversation = Conversation.objects.get()
    zone = "America/New_York"
    center = center_page(
        chromium,
        live_server_stack,
        bob,
        viewport={"width": 1280, "height": 760},
        timezone_id=zone,
    )
    row = center.locator(f'#inbox .row[data-id="{conversation.pk}"]')
    row.click()

    center.locator("#snooze").select_option(label="Until tomorrow 9:00")
    expect(row).to_have_count(0, timeout=15000)  # gone from the Open list
    conversation.refresh_from_db()
    local = conversation.snoozed_until.astimezone(ZoneInfo(zone))
    tomorrow = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
    assert (local.date(), local.hour, local.minute) == (tomorrow, 9, 0)
    expect(center.locator("#unsnooze")).to_be_visible()

    center.get_by_role("button", name="Snoozed").click()
    expect(row).to_be_visible()
    expect(row.locator(".snoozed")).to_contain_text("until")
    center.locator("#unsnooze").click()
    expect(row).to_have_count(0, timeout=15000)  # back in the inbox, not snoozed any more
    center.get_by_role("button", name="Open").click()
    expect(row).to_be_visible()

    center.locator("#snooze").select_option(label="Pick a date and time…")
    day = datetime.now(ZoneInfo(zone)).date() + timedelta(days=30)
    center.locator("#snooze-at").fill(f"{day.isoformat()}T14:30")
    expect(row).to_have_count(0, timeout=15000)
    conversation.refresh_from_db()
    assert conversation.snoozed_until == datetime(
        day.year, day.month, day.day, 14, 30, tzinfo=ZoneInfo(zone)
    )

    center.locator("#snooze").select_option(label="Until the visitor replies")
    expect(center.locator("#snooze option").first).to_have_text(
        "💤 until the visitor replies", timeout=15000
    )
    widget_says(site, "Any news?")
    expect(row).to_be_visible(timeout=15000)  # back live, without a reload
    expect(center.locator("#thread")).to_contain_text("The visitor wrote: snooze ended.")
    conversation.refresh_from_db()
    assert conversation.snoozed_until is None


def test_a_waiting_visitor_sees_their_place_in_line_move(live_server_stack, chromium):
    bob = make_agent("bob", max_concurrent_chats=0)  # online but busy: new chats wait
    first = visitor_page(chromium, live_server_stack)
    widget_says(first, "first in the queue")
    second = visitor_page(chromium, live_server_stack)
    widget_says(second, "second in the queue")

    state = second.locator("#wachat-widget .state")
    expect(state).to_have_text("You are 2nd in line · a few minutes", timeout=15000)
    expect(first.locator("#wachat-widget .state")).to_have_text(
        "You are 1st in line · a few minutes", timeout=15000
    )

    center = center_page(chromium, live_server_stack, bob)
    center.get_by_role("button", name="Unassigned").click()
    center.locator("#inbox .row", has_text="first in the queue").click()
    center.locator("#take").click()
    expect(state).to_have_text("You are 1st in line · a few minutes", timeout=15000)
    expect(first.locator("#wachat-widget .state")).to_have_text("Bob is here to help")
    assert Message.objects.filter(content="Bob took the conversation.").exists()


def test_a_new_tick_leaves_the_reply_text_as_it_was(live_server_stack, chromium):
    """An agent selecting a message's text keeps the selection when its tick moves on."""
    bob = make_agent("bob")
    center = center_page(chromium, live_server_stack, bob)
    site = visitor_page(chromium, live_server_stack)
    widget_says(site, "Which sizes do you have?")
    site.get_by_role("button", name="Close chat").last.click()
    center.locator("#inbox .row", has_text="Which sizes do you have?").click()
    center.locator("#text").fill("S, M and L")
    center.locator("#text").press("Enter")
    reply = center.locator("#thread .msg.agent", has_text="S, M and L")
    expect(reply.locator(".meta")).to_have_text(re.compile("✓$"), timeout=15000)
    text = reply.locator("div", has_text="S, M and L").first.element_handle()
    site.get_by_role("button", name="Open chat").click()  # the visitor reads it
    expect(reply.locator(".meta")).to_contain_text("read", timeout=15000)
    assert text.evaluate("(el) => el.isConnected")


# The inbox list answers late: counted on the server before the agent opened the
# conversation, it arrives after.
SLOW_INBOX = """
window.__inboxCounted = 0;
window.__inboxDrawn = 0;
const realFetch = window.fetch;
window.fetch = async (url, ...rest) => {
  const response = await realFetch(url, ...rest);
  if (String(url).startsWith("api/conversations?")) {
    window.__inboxCounted++;
    await new Promise((done) => setTimeout(done, 1500));
    const json = response.json.bind(response);
    response.json = async () => {
      const data = await json();
      setTimeout(() => window.__inboxDrawn++);  // after the Center has drawn it
      return data;
    };
  }
  return response;
};
"""


def test_a_late_inbox_list_does_not_bring_back_the_open_conversations_unread_count(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    start_conversation("s1", "Anyone?")
    center = center_page(chromium, live_server_stack, bob)
    center.context.add_init_script(SLOW_INBOX)
    center.reload()
    expect(center).to_have_title(re.compile(r"^\(1\) "), timeout=15000)
    # The agent picks a tab, and opens the conversation while the list is on its way.
    center.get_by_role("button", name="Waiting").click()
    center.wait_for_function("window.__inboxCounted === 2")
    center.locator("#inbox .row", has_text="Anyone?").click()
    expect(center).to_have_title("Conversation Center · WaChat")
    center.wait_for_function("window.__inboxDrawn === 2", timeout=15000)
    assert center.title() == "Conversation Center · WaChat"
    expect(center.locator("#inbox .row .badge")).to_have_count(0)
