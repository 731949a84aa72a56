"""The Conversation Center's headers on a phone-sized screen: the list's bar on one row and
the conversation's header in two, with every control still there and reachable."""

import re

import pytest
from playwright.sync_api import expect

from wachat.agents.tests.test_browser_center import center_page
from wachat.agents.tests.test_browser_center_more import PHONE, start_conversation
from wachat.conftest import make_agent
from wachat.conversations.models import Label

pytestmark = pytest.mark.browser

# The centre line of each visible element, and of the controls in the header's rows.
CENTRES = """els => els.filter((e) => e.offsetParent).map((e) => {
  const r = e.getBoundingClientRect();
  return r.top + r.height / 2;
})"""
CONTROLS = "#back, #title, #actions > :is(button, select, input), #organize > *, #labels .chip"


def rows(centres, tolerance=6):
    """How many rows elements with these centre lines make."""
    lines = []
    for y in sorted(centres):
        if not lines or y - lines[-1] > tolerance:
            lines.append(y)
    return len(lines)


def test_on_a_phone_the_list_bar_is_one_row_even_while_reconnecting(live_server_stack, chromium):
    bob = make_agent("bob")
    center = center_page(chromium, live_server_stack, bob, **PHONE)
    bar = center.locator("#list .bar")
    parts = [
        center.get_by_role("heading", name="Conversations"),
        center.get_by_label("My status"),
        center.locator("#conn"),
        center.get_by_role("button", name="Sign out"),
    ]

    def one_row():
        boxes = [part.bounding_box() for part in parts]
        assert all(0 <= b["x"] and b["x"] + b["width"] <= 390 for b in boxes), boxes
        assert rows([b["y"] + b["height"] / 2 for b in boxes]) == 1, boxes
        tallest = max(b["height"] for b in boxes)
        assert bar.bounding_box()["height"] <= tallest + 20, bar.bounding_box()  # + padding

    one_row()
    live_server_stack.stop()  # the longest state the connection indicator shows
    expect(center.locator("#conn")).to_have_text("reconnecting…", timeout=15000)
    for part in parts:
        expect(part).to_be_visible()
    one_row()


# The width of a select's chosen text in its own font, and the room the select has.
READABLE = """(select) => {
    const pen = document.createElement("canvas").getContext("2d");
    pen.font = getComputedStyle(select).font;
    return [pen.measureText(select.selectedOptions[0].text).width, select.clientWidth];
}"""


def test_on_a_phone_the_conversation_header_is_two_rows_and_keeps_every_control(
    live_server_stack, chromium
):
    bob = make_agent("bob")
    conversation = start_conversation("phone-head-1", "Can I change my address?", name="Sam")
    center = center_page(chromium, live_server_stack, bob, **PHONE)
    center.locator("#inbox .row", has_text="Can I change my address?").tap()
    expect(center.locator("#thread .msg.visitor")).to_be_visible()
    head = center.locator("#head")

    assert rows(head.locator(CONTROLS).evaluate_all(CENTRES)) == 2
    details = center.get_by_role("button", name="Details").bounding_box()
    title = center.locator("#title").bounding_box()
    assert details["y"] < title["y"] + title["height"]  # beside the title, not below it
    control = center.locator("#priority").bounding_box()["height"]
    assert head.bounding_box()["height"] <= title["height"] + control + 24
    # Whom it is with and the snooze menu read in full (the row scrolls instead).
    for select in ["#assign", "#snooze"]:
        text, room = center.locator(select).evaluate(READABLE)
        assert text + 16 <= room, select  # + the arrow

    # Labels make the row of controls longer: still two rows, each control a swipe away.
    conversation.labels.set(
        [Label.objects.create(name=name) for name in ["shipping", "vip customer", "refund"]]
    )
    center.locator("#label-input").fill("follow-up")
    center.locator("#label-input").press("Enter")
    expect(center.locator("#labels .chip")).to_have_count(4, timeout=15000)
    assert rows(head.locator(CONTROLS).evaluate_all(CENTRES)) == 2
    # A faded edge says more is a swipe away.
    expect(center.locator("#actions")).to_have_class(re.compile(r"\bmore-right\b"))
    for name in ["Assign to", "Priority", "Add a label", "Snooze"]:
        control = center.get_by_label(name, exact=True)
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= 390, (name, box)
    expect(center.locator("#actions")).to_have_class(re.compile(r"\bmore-left\b"))
    center.get_by_role("button", name="Close", exact=True).tap()
    expect(center.locator("#title")).to_contain_text("closed", timeout=15000)
    center.get_by_role("button", name="Details").tap()
    expect(center.locator("#details")).to_be_visible()
