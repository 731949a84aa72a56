import re
import time
from pathlib import Path

import httpx
import pytest
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import expect

from wachat.widget import auth


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def widget(visitor):
    """The visitor's browser: a test client that shows the visitor's token."""
    return Client(headers={"X-WaChat-Token": auth.issue_token(visitor.pk)})


AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"


class Site:
    """A visitor's browser tab on the demo website, with helpers that read the widget."""

    def __init__(self, page, url):
        self.page, self.url = page, url
        # Playwright's CSS and role locators pierce the widget's open shadow root.
        self.widget = page.locator("#wachat-widget")
        # The launcher reads "Close chat" while open, as does the panel's × (hence .launcher).
        self.launcher = page.get_by_role(
            "button", name=re.compile("^(Open chat|Close chat|افتح الدردشة|أغلق الدردشة)")
        ).and_(page.locator("#wachat-widget .launcher"))
        self.text = page.get_by_role("textbox", name=re.compile("^(Message|رسالة)$"))
        self.panel = page.get_by_role("dialog")
        self.badge = page.locator("#wachat-widget .badge")

    def open(self, path="/demo/"):
        self.page.goto(self.url + path)
        expect(self.launcher).to_be_visible()
        return self

    def wait_online(self, mode="ws"):
        root = self.page.locator("#wachat-widget .wc")
        expect(root).to_have_attribute("data-status", "online", timeout=15000)
        expect(root).to_have_attribute("data-mode", mode)

    def send(self, text):
        self.text.fill(text)
        self.text.press("Enter")

    def bubbles(self, who="visitor"):
        return self.page.locator(f"#wachat-widget .msg.{who}")


@pytest.fixture
def site(live_server_stack, chromium):
    """Open a fresh browser context on the demo page: `site()` or `site(viewport=...)`."""
    contexts = []

    def open_site(path="/demo/", **context_options):
        context = chromium.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return Site(page, live_server_stack.url).open(path)

    errors = []
    yield open_site
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def phone_sends(stack, phone, text):
    """The agent writes from their WhatsApp (the emulator's phone) to the business number."""
    response = httpx.post(
        stack.url + "/emulator/api/send", json={"phone": phone, "text": text}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()


def to_phone(stack, phone, until, timeout=15):
    """The messages the phone received, once `until(messages)` holds. Looking delivers
    them: WhatsApp reports each one delivered."""
    deadline = time.monotonic() + timeout
    while True:
        thread = httpx.get(stack.url + "/emulator/api/thread", params={"phone": phone}).json()
        messages = [m for m in thread["messages"] if m["direction"] == "to_phone"]
        if until(messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


def axe_violations(page, context="#wachat-widget"):
    if not AXE.exists():
        pytest.fail("axe-core is missing: npm ci --prefix wachat/widget/tests/js")
    page.add_script_tag(path=str(AXE))
    # Let animations end first (the panel fades in for 0.18 s): mid-fade, text is judged
    # against a half-transparent panel (CI once saw #54656f on #d9fdd3 as #65747d on
    # #dcfdd7). document.getAnimations() does not see into shadow roots: ask the widget's.
    page.evaluate(
        """(context) => {
            const host = document.querySelector(context);
            const inside = host?.shadowRoot?.getAnimations() || [];
            return Promise.all([...document.getAnimations(), ...inside].map((a) => a.finished));
        }""",
        context,
    )
    result = page.evaluate(
        "async (context) => (await axe.run(document.querySelector(context))).violations"
        ".map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ') + ': ' + "
        "(n.any[0] || n.all[0] || {}).message).join(', ')})`)",
        context,
    )
    return result
