"""The widget in Debian's Chromium against a running server (web + worker + emulator)."""

import re

import pytest
from playwright.sync_api import expect

from wachat.conftest import make_agent
from wachat.conversations.models import Message
from wachat.widget.tests.conftest import phone_sends, to_phone

pytestmark = pytest.mark.browser

ALICE = "15550001111"


def test_it_opens_and_closes(site):
    make_agent("bob")
    tab = site()
    expect(tab.panel).to_be_hidden()
    tab.launcher.click()
    expect(tab.panel).to_be_visible()
    expect(tab.launcher).to_have_attribute("aria-expanded", "true")
    expect(tab.launcher).to_have_accessible_name("Close chat")
    expect(tab.text).to_be_focused()
    # Opened with the mouse: the reply box shows a thin ring, not the 3px keyboard one.
    assert tab.text.evaluate("(el) => getComputedStyle(el).outlineWidth") == "1px"
    tab.panel.get_by_role("button", name="Close chat").click()
    expect(tab.panel).to_be_hidden()
    expect(tab.launcher).to_be_focused()
    expect(tab.launcher).to_have_accessible_name("Open chat")
    tab.launcher.click()
    expect(tab.panel).to_be_visible()
    tab.launcher.click()  # the launcher closes it too
    expect(tab.panel).to_be_hidden()
    tab.page.evaluate("WaChat.open()")
    expect(tab.panel).to_be_visible()
    tab.page.evaluate("WaChat.toggle()")
    expect(tab.panel).to_be_hidden()


def test_only_one_global_is_added(site):
    tab = site()
    added = tab.page.evaluate(
        """() => {
            const frame = document.createElement('iframe');
            document.body.append(frame);
            const clean = new Set(Object.getOwnPropertyNames(frame.contentWindow));
            frame.remove();
            return Object.getOwnPropertyNames(window).filter((name) => !clean.has(name));
        }"""
    )
    assert added == ["WaChat"]


def test_a_message_goes_out_and_the_agents_reply_comes_back_with_badge(site, live_server_stack):
    make_agent("alice", phone=ALICE)
    tab = site()
    events = []
    tab.page.expose_function("record", lambda name, value: events.append((name, value)))
    tab.page.evaluate(
        "for (const n of ['open', 'close', 'message', 'unread'])"
        " WaChat.on(n, (v) => window.record(n, v === undefined ? null : v.text ?? v))"
    )
    tab.launcher.click()
    tab.wait_online()
    tab.send("Do you sell tandems?")
    bubble = tab.bubbles().filter(has_text="Do you sell tandems?")
    expect(bubble).to_have_count(1)
    # Pending (clock) first, then sent once stored and relayed.
    expect(bubble.locator(".tick")).to_have_attribute(
        "aria-label", re.compile("sent|delivered|read"), timeout=15000
    )
    tab.panel.get_by_role("button", name="Close chat").click()
    original_title = tab.page.title()

    phone_sends(live_server_stack, ALICE, "Yes, come and try one: https://acme.example/tandems")

    expect(tab.badge).to_have_text("1", timeout=15000)
    expect(tab.launcher).to_have_attribute("aria-label", re.compile("1 unread"))
    expect(tab.page).to_have_title("(1) New message", timeout=5000)
    tab.launcher.click()
    expect(tab.badge).to_be_hidden()
    expect(tab.page).to_have_title(original_title)
    reply = tab.bubbles("agent").last
    expect(reply).to_contain_text("Yes, come and try one")
    link = reply.get_by_role("link", name="https://acme.example/tandems")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(link).to_have_attribute("target", "_blank")
    names = [name for name, _ in events]
    assert names[:1] == ["open"] and "close" in names
    assert ("message", "Yes, come and try one: https://acme.example/tandems") in events
    assert ("unread", 1) in events and events[-1][0] in ("open", "unread")


def test_message_text_is_shown_as_text_never_as_html(site):
    make_agent("bob")
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    hostile = '<img src=x onerror="window.pwned=1"> javascript:alert(1) <a href="x">x</a>'
    tab.send(hostile)
    bubble = tab.bubbles().last
    expect(bubble.locator(".body")).to_have_text(hostile)
    expect(bubble.locator("img")).to_have_count(0)
    expect(bubble.locator("a")).to_have_count(0)
    assert tab.page.evaluate("window.pwned") is None


def test_a_new_tick_leaves_the_message_text_as_it_was(site, live_server_stack):
    """A visitor selecting their text, or a picture that has loaded, survives a status change."""
    make_agent("alice", phone=ALICE)
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    tab.send("Copy me")
    bubble = tab.bubbles().filter(has_text="Copy me")
    expect(bubble.locator(".tick")).to_have_attribute("aria-label", "sent", timeout=15000)
    text = bubble.locator("[dir=auto]").element_handle()
    # Alice's phone shows the relayed copy: WhatsApp reports it delivered.
    relayed = to_phone(live_server_stack, ALICE, lambda messages: len(messages) == 1)
    assert relayed[0]["body"].endswith(": Copy me")
    expect(bubble.locator(".tick")).to_have_attribute("aria-label", "delivered", timeout=15000)
    assert text.evaluate("(el) => el.isConnected")


def test_offline_messages_are_queued_and_delivered_once_when_back(site):
    make_agent("bob")
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    tab.page.context.set_offline(True)
    expect(tab.widget.locator(".wc")).to_have_attribute("data-status", "offline", timeout=15000)
    expect(tab.widget.locator(".state")).to_contain_text("You are offline")
    tab.send("Typed while offline")
    bubble = tab.bubbles().filter(has_text="Typed while offline")
    expect(bubble.locator(".tick")).to_have_attribute("aria-label", "sending")
    queued = tab.page.evaluate("JSON.parse(localStorage.getItem('wachat:queue'))")
    assert [m["text"] for m in queued] == ["Typed while offline"]
    assert not Message.objects.filter(content="Typed while offline").exists()

    tab.page.context.set_offline(False)
    expect(bubble.locator(".tick")).to_have_attribute("aria-label", "sent", timeout=20000)
    assert Message.objects.filter(content="Typed while offline").count() == 1
    assert tab.page.evaluate("JSON.parse(localStorage.getItem('wachat:queue'))") == []
    expect(tab.bubbles()).to_have_count(1)


def test_a_reload_keeps_the_history_and_the_queue(site):
    make_agent("bob")
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    tab.send("Before reload")
    expect(tab.bubbles().locator(".tick")).to_have_attribute("aria-label", "sent")
    tab.page.reload()
    tab.launcher.click()
    expect(tab.bubbles()).to_have_text(re.compile("Before reload"))
    assert Message.objects.filter(sender_type="visitor").count() == 1


def test_after_a_server_restart_it_reconnects_and_misses_nothing(site, live_server_stack):
    bob = make_agent("bob")
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    tab.send("First")
    expect(tab.bubbles().locator(".tick")).to_have_attribute("aria-label", "sent")
    first = Message.objects.get(content="First")

    live_server_stack.stop()
    expect(tab.widget.locator(".wc")).to_have_attribute("data-status", "offline", timeout=15000)
    tab.send("Typed while the server was down")
    # Written while the widget could not hear about it: only a resume can bring it.
    from wachat.conversations import actions

    actions.send_agent_message(
        conversation=first.conversation, agent=bob, text="Sent while you were away", client_id="a1"
    )
    # A tick that moved meanwhile: the resume's cursor brings it back.
    actions.record_sent(message=first, whatsapp_message_id="wamid.first")
    actions.record_whatsapp_status(whatsapp_message_id="wamid.first", status="delivered")
    live_server_stack.start()

    expect(tab.bubbles("agent")).to_have_text(re.compile("Sent while you were away"), timeout=30000)
    before = tab.bubbles().filter(has_text="First")
    expect(before.locator(".tick")).to_have_attribute("aria-label", "delivered", timeout=20000)
    down = tab.bubbles().filter(has_text="Typed while the server was down")
    expect(down.locator(".tick")).to_have_attribute("aria-label", "sent", timeout=20000)
    tab.wait_online("ws")
    assert Message.objects.filter(content="Typed while the server was down").count() == 1
    expect(tab.bubbles()).to_have_count(2)
    expect(tab.bubbles("agent")).to_have_count(1)


def test_blocked_websockets_fall_back_to_http(site, live_server_stack, chromium):
    make_agent("alice", phone=ALICE)
    context = chromium.new_context()
    # A proxy that accepts the upgrade and cuts the connection before anything is said.
    context.route_web_socket(re.compile(r".*/ws/widget/.*"), lambda ws: ws.close())
    page = context.new_page()
    page.goto(live_server_stack.url + "/demo/")
    from wachat.widget.tests.conftest import Site

    tab = Site(page, live_server_stack.url)
    tab.launcher.click()
    tab.wait_online("http")
    tab.send("Over plain HTTP")
    expect(tab.bubbles().locator(".tick")).to_have_attribute(
        "aria-label", re.compile("sent|delivered|read"), timeout=15000
    )
    phone_sends(live_server_stack, ALICE, "Heard you over long-poll")
    expect(tab.bubbles("agent")).to_have_text(re.compile("Heard you over long-poll"), timeout=30000)
    assert Message.objects.filter(content="Over plain HTTP").count() == 1
    context.close()


def test_a_refused_message_can_be_retried_with_a_tap(site, live_server_stack, chromium):
    make_agent("bob")
    context = chromium.new_context()
    context.route_web_socket(re.compile(r".*/ws/widget/.*"), lambda ws: ws.close())
    page = context.new_page()
    refuse = {"on": True}

    def messages(route):
        if route.request.method == "POST" and refuse["on"]:
            route.fulfill(status=400, json={"detail": "Refused by a test."})
        else:
            route.continue_()

    page.route("**/api/widget/messages", messages)
    page.goto(live_server_stack.url + "/demo/")
    from wachat.widget.tests.conftest import Site

    tab = Site(page, live_server_stack.url)
    tab.launcher.click()
    tab.wait_online("http")
    tab.send("Try me again")
    retry = tab.page.get_by_role("button", name=re.compile("Tap to retry"))
    expect(retry).to_be_visible()
    expect(tab.page.get_by_role("alert")).to_have_text("Refused by a test.")
    assert not Message.objects.exists()
    refuse["on"] = False
    retry.click()
    expect(tab.bubbles().locator(".tick")).to_have_attribute("aria-label", "sent")
    expect(retry).to_have_count(0)
    assert Message.objects.filter(content="Try me again").count() == 1
    context.close()


def test_the_latest_50_load_first_and_older_ones_on_scrolling_up(site, visitor_with_history):
    tab = site()
    # Before any page script runs, so the widget starts with this visitor's token.
    tab.page.add_init_script(
        f"localStorage.setItem('wachat:token', JSON.stringify('{visitor_with_history}'))"
    )
    tab.page.reload()
    tab.launcher.click()
    expect(tab.bubbles()).to_have_count(50)
    expect(tab.bubbles().last).to_contain_text("message 119")
    tab.page.locator("#wachat-widget .log").evaluate("(log) => { log.scrollTop = 0; }")
    expect(tab.bubbles()).to_have_count(100)
    expect(tab.bubbles().first).to_contain_text("message 20")
    tab.page.locator("#wachat-widget .log").evaluate("(log) => { log.scrollTop = 0; }")
    expect(tab.bubbles()).to_have_count(120)


@pytest.fixture
def visitor_with_history(transactional_db):
    from wachat.conversations import actions
    from wachat.widget import auth

    make_agent("bob")
    session = actions.touch_visitor_session(session_id="long-history")
    for i in range(120):
        actions.send_visitor_message(visitor_session=session, text=f"message {i}", client_id=f"{i}")
    return auth.issue_token(session.pk)


@pytest.fixture
def identity_secret(monkeypatch, settings):
    """Set before the server starts (request it before `site`): the server reads it from
    the environment, this test process from settings."""
    monkeypatch.setenv("WIDGET_IDENTITY_SECRET", "site-secret")
    settings.WIDGET_IDENTITY_SECRET = "site-secret"
    return "site-secret"


def test_a_verified_user_sees_their_history_on_another_device(identity_secret, site):
    import time

    from wachat.widget import auth

    make_agent("bob")
    now = int(time.time())
    identity = {
        "user_id": "customer-7",
        "timestamp": now,
        "signature": auth.identity_signature("customer-7", now, identity_secret),
    }
    laptop = site()
    laptop.page.evaluate("(id) => WaChat.identify(id)", identity)
    laptop.launcher.click()
    laptop.wait_online()
    laptop.send("Asked on my laptop")
    expect(laptop.bubbles().locator(".tick")).to_have_attribute("aria-label", "sent")

    phone = site()  # another browser: another visitor session, until the site vouches
    phone.launcher.click()
    phone.wait_online()
    expect(phone.bubbles()).to_have_count(0)
    phone.page.evaluate("(id) => WaChat.identify(id)", identity)
    expect(phone.bubbles()).to_have_text(re.compile("Asked on my laptop"))
    phone.send("Continued on my phone")
    expect(laptop.bubbles().last).to_have_text(re.compile("Continued on my phone"))


def test_live_chat_comes_and_goes_without_a_reload(site, live_server_stack, chromium):
    """Nobody online: the offline form. An agent goes online in the Center: the widget
    offers live chat at once; they leave: the offline form again. A form the visitor has
    started typing in stays put."""
    from wachat.agents.tests.test_browser_center import center_page
    from wachat.conversations.models import ChatAgent

    bob = make_agent("bob", status=ChatAgent.Status.OFFLINE)
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    away = tab.page.get_by_role("heading", name="We are away right now")
    expect(away).to_be_visible()
    expect(tab.widget.locator(".state")).to_have_text("Away · we reply by e-mail")

    center = center_page(chromium, live_server_stack, bob)
    center.locator("#presence").select_option("online")
    expect(tab.widget.locator(".state")).to_have_text("online")
    expect(away).to_be_hidden()
    expect(tab.text).to_be_visible()

    center.once("dialog", lambda dialog: dialog.accept())  # "Go offline?"
    center.locator("#presence").select_option("offline")
    expect(away).to_be_visible()
    expect(tab.widget.locator(".state")).to_have_text("Away · we reply by e-mail")

    tab.page.get_by_role("textbox", name="Your name").fill("Sam")
    center.locator("#presence").select_option("online")
    expect(tab.widget.locator(".state")).to_have_text("online")
    expect(away).to_be_visible()  # not yanked away mid-typing
    expect(tab.page.get_by_role("textbox", name="Your name")).to_have_value("Sam")
