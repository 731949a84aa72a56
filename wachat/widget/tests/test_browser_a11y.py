"""Keyboard, screen readers (axe-core), Arabic right-to-left, small screens, hostile host pages."""

import re

import pytest
from playwright.sync_api import expect

from wachat.backoffice.models import ChatSetting
from wachat.conftest import make_agent
from wachat.conversations.models import Message
from wachat.widget.tests.conftest import axe_violations

pytestmark = pytest.mark.browser


def test_it_is_usable_with_the_keyboard_alone(site):
    make_agent("bob")
    tab = site()
    page = tab.page
    page.locator("body").click(position={"x": 5, "y": 300})
    for _ in range(10):  # Tab through the page until the launcher has focus
        page.keyboard.press("Tab")
        if tab.launcher.evaluate(
            "(el) => el === document.activeElement?.shadowRoot?.activeElement"
        ):
            break
    expect(tab.launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(tab.panel).to_be_visible()
    expect(tab.text).to_be_focused()
    tab.wait_online()
    page.keyboard.type("Sent with the keyboard")
    page.keyboard.press("Enter")
    expect(tab.bubbles()).to_have_text(re.compile("Sent with the keyboard"))
    page.keyboard.press("Shift+Tab")  # to the log, which scrolls with the arrow keys
    page.keyboard.press("Escape")
    expect(tab.panel).to_be_hidden()
    expect(tab.launcher).to_be_focused()
    # Buttons keep the strong ring for keyboard users.
    assert tab.launcher.evaluate("(el) => getComputedStyle(el).outlineWidth") == "3px"
    page.keyboard.press("Space")
    expect(tab.panel).to_be_visible()


def test_axe_finds_no_violations_closed_open_and_in_arabic(site):
    make_agent("bob")
    tab = site()
    assert axe_violations(tab.page) == []
    tab.launcher.click()
    tab.wait_online()
    tab.send("Hello, see https://example.com")
    expect(tab.bubbles().locator(".tick")).to_have_attribute("aria-label", "sent")
    assert axe_violations(tab.page) == []
    tab.page.evaluate("WaChat.setLocale('ar')")
    expect(tab.panel).to_have_attribute("dir", "rtl")
    assert axe_violations(tab.page) == []


def test_axe_finds_no_violations_in_the_prechat_and_offline_forms(site):
    ChatSetting.put("widget_prechat_fields", '["name", "email", "phone"]')
    make_agent("bob")
    tab = site()
    tab.launcher.click()
    expect(tab.page.get_by_role("textbox", name="Your name")).to_be_visible()
    assert axe_violations(tab.page) == []
    ChatSetting.put("widget_business_hours", '{"timezone": "UTC", "days": {}}')  # closed
    offline = site()
    offline.launcher.click()
    expect(offline.page.get_by_role("heading", name="We are away right now")).to_be_visible()
    assert axe_violations(offline.page) == []


def test_arabic_from_the_admin_lays_out_right_to_left(site):
    ChatSetting.put("widget_language", "ar")
    make_agent("bob")
    tab = site()
    launcher = tab.page.get_by_role("button", name="افتح الدردشة")
    launcher.click()
    expect(tab.panel).to_have_attribute("dir", "rtl")
    expect(tab.panel).to_have_attribute("lang", "ar")
    expect(tab.panel.get_by_role("button", name="أغلق الدردشة")).to_be_visible()
    tab.wait_online()
    tab.send("مرحبا")
    bubble = tab.bubbles().last
    expect(bubble).to_contain_text("مرحبا")
    # An English sentence keeps its full stop at its end (the right), not at the line start.
    tab.send("Thanks.")
    thanks = tab.bubbles().filter(has_text="Thanks.")
    # Measured once the server has acknowledged it, in one step from the bubble itself.
    expect(thanks.locator(".tick:not(.pending)")).to_be_visible()
    first, last = thanks.evaluate(
        """(msg) => { const text = msg.querySelector("[dir=auto]").firstChild;
            return [0, 6].map((i) => { const r = document.createRange();
                r.setStart(text, i); r.setEnd(text, i + 1);
                return r.getBoundingClientRect().x; }); }"""
    )
    assert last > first
    # The send arrow points the way Arabic is read.
    send = tab.panel.get_by_role("button", name="إرسال")
    assert send.evaluate("(el) => getComputedStyle(el).transform") == "matrix(-1, 0, 0, 1, 0, 0)"
    # A visitor's own bubble sits at the reading end: the left in Arabic.
    panel, box = tab.panel.bounding_box(), bubble.bounding_box()
    assert box["x"] - panel["x"] < 30
    assert panel["x"] + panel["width"] - (box["x"] + box["width"]) > 60
    tab.page.evaluate("WaChat.setLocale('en')")
    expect(tab.panel).to_have_attribute("dir", "ltr")
    expect(tab.panel.get_by_role("button", name="Close chat")).to_be_visible()


def test_it_fills_a_phone_screen(site):
    make_agent("bob")
    phone = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}
    # Reduced motion: no slide-in animation, so the panel is in place at once.
    tab = site(**phone, reduced_motion="reduce")
    tab.launcher.tap()
    expect(tab.panel).to_be_visible()
    assert tab.panel.evaluate("(el) => getComputedStyle(el).animationName") == "none"
    assert tab.panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(tab.launcher).to_be_hidden()  # the close button in the header takes over
    tab.panel.get_by_role("button", name="Close chat").tap()
    expect(tab.launcher).to_be_visible()


HOSTILE_CSS = """
* { box-sizing: content-box !important; line-height: 6 !important; letter-spacing: 4px !important;
    font-family: "Comic Sans MS", cursive !important; color: red !important; }
div, section, button, span, textarea, form, header { display: none !important; }
body > * { position: absolute !important; transform: scale(.3) rotate(8deg) !important;
    opacity: .05 !important; filter: blur(4px) !important; visibility: hidden !important; }
wachat-widget, #wachat-widget { display: none !important; zoom: 0.2; }
html { font-size: 4px !important; }
"""


def test_hostile_page_css_cannot_break_it(site, live_server_stack, chromium):
    make_agent("bob")
    context = chromium.new_context()
    page = context.new_page()

    def with_hostile_css(route):
        html = route.fetch().text().replace("</head>", f"<style>{HOSTILE_CSS}</style></head>")
        route.fulfill(body=html, content_type="text/html")

    page.route("**/demo/", with_hostile_css)
    page.goto(live_server_stack.url + "/demo/")
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (60, 60)
    assert box["x"] + 60 + 20 == pytest.approx(page.viewport_size["width"], abs=1)
    launcher.click()
    text = page.get_by_role("textbox", name="Message")
    expect(text).to_be_visible()
    style = text.evaluate(
        "(el) => { const s = getComputedStyle(el);"
        " return [s.fontSize, s.letterSpacing, s.color, s.boxSizing]; }"
    )
    assert style == ["15px", "normal", "rgb(17, 27, 33)", "border-box"]
    text.fill("Still works")
    text.press("Enter")
    expect(page.locator("#wachat-widget .msg.visitor .tick")).to_have_attribute(
        "aria-label", "sent"
    )
    # Nothing leaks out either: the page's own elements keep the page's styles.
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).letterSpacing") == "4px"
    context.close()


def test_a_site_not_on_the_allowlist_cannot_use_the_chat(site, live_server_stack, chromium):
    make_agent("bob")
    # Chromium's Local Network Access checks block one loopback origin's page from loading
    # scripts from another; real sites are public, so turn the check off for this test.
    from wachat.conftest import CHROMIUM, CHROMIUM_ARGS

    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"],
    )
    context = browser.new_context()
    page = context.new_page()
    snippet = f'<script async src="{live_server_stack.url}/static/wachat/widget.js"></script>'
    # Another origin (localhost, not 127.0.0.1) serves the shop page embedding the snippet.
    shop = f"http://localhost:{live_server_stack.port}"
    page.route(
        shop + "/shop/",
        lambda route: route.fulfill(
            body=f"<!doctype html><html lang=en><title>Shop</title><h1>Shop</h1>{snippet}",
            content_type="text/html",
        ),
    )
    page.goto(shop + "/shop/")
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_role("alert")).to_have_text("This website may not use the chat.")

    ChatSetting.put("widget_allowed_origins", shop)
    page.reload()
    page.get_by_role("button", name="Open chat").click()
    expect(page.locator("#wachat-widget .wc")).to_have_attribute("data-status", "online")
    text = page.get_by_role("textbox", name="Message")
    text.fill("From the shop")
    text.press("Enter")
    expect(page.locator("#wachat-widget .msg.visitor .tick")).to_have_attribute(
        "aria-label", "sent"
    )
    assert Message.objects.filter(content="From the shop").count() == 1
    browser.close()


def test_prechat_form_then_chat(site):
    ChatSetting.put("widget_prechat_fields", '["name", "email"]')
    make_agent("bob")
    tab = site()
    tab.launcher.click()
    name = tab.page.get_by_role("textbox", name="Your name")
    expect(name).to_be_focused()
    expect(tab.text).to_be_hidden()
    name.fill("Dana")
    tab.page.get_by_role("textbox", name="E-mail (optional)").fill("dana@example.com")
    tab.page.get_by_role("button", name="Start chat").click()
    expect(tab.page.get_by_role("alert")).to_contain_text("agree to be contacted")
    tab.page.get_by_role("checkbox", name=re.compile("You may contact me")).check()
    tab.page.get_by_role("button", name="Start chat").click()
    expect(tab.text).to_be_focused()
    tab.send("Hi, it is Dana")
    expect(tab.bubbles().locator(".tick")).to_have_attribute("aria-label", "sent")
    message = Message.objects.get(content="Hi, it is Dana")
    assert message.conversation.visitor_name == "Dana"
    assert message.conversation.visitor_session.metadata["email"] == "dana@example.com"


def test_focus_follows_the_form_when_the_panel_opens_before_the_config_arrives(site):
    ChatSetting.put("widget_prechat_fields", '["name"]')
    make_agent("bob")
    tab = site()
    held = []
    tab.page.route(
        "**/api/widget/config", lambda route: held.append(route)
    )  # answered after the click
    tab.page.reload()
    tab.launcher.click()
    assert len(held) == 1
    expect(tab.text).to_be_focused()
    held[0].continue_()
    expect(tab.page.get_by_role("textbox", name="Your name")).to_be_focused()


def test_offline_form_when_nobody_is_online(site):
    tab = site()
    tab.launcher.click()
    expect(tab.page.get_by_role("heading", name="We are away right now")).to_be_visible()
    expect(tab.widget.locator(".state")).to_have_text("Away · we reply by e-mail")
    tab.page.get_by_role("textbox", name="Your name").fill("Sam")
    tab.page.get_by_role("textbox", name="E-mail").fill("sam@example.com")
    tab.page.get_by_role("textbox", name="Message").fill("Please call me tomorrow")
    tab.page.get_by_role("button", name="Send message").click()
    expect(tab.bubbles()).to_have_text(re.compile("Please call me tomorrow"))
    expect(tab.page.get_by_role("alert")).to_contain_text("get back to you by e-mail")
    # The header agrees with the form: away, answered by e-mail, no place in a queue.
    expect(tab.widget.locator(".state")).to_have_text("Away · we reply by e-mail")
    tab.page.reload()
    tab.launcher.click()
    expect(tab.bubbles()).to_have_text(re.compile("Please call me tomorrow"))
    expect(tab.widget.locator(".state")).to_have_text("Away · we reply by e-mail")
    conversation = Message.objects.get(content="Please call me tomorrow").conversation
    assert conversation.metadata["offline"] is True
    assert conversation.metadata["visitor_email"] == "sam@example.com"
