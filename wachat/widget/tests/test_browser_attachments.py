"""Attachments in Debian's Chromium against a running server: a visitor's image shows
inline in the widget and in the Conversation Center; an agent's document reaches the
widget as a download card."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from wachat.agents.tests.test_browser_center import center_page
from wachat.conftest import make_agent
from wachat.conversations.models import Message
from wachat.conversations.tests import samples

pytestmark = pytest.mark.browser


def loaded(image):
    """An <img> the browser fetched and decoded (a broken one has no natural width)."""
    return image.evaluate("(img) => img.complete && img.naturalWidth > 0")


def test_an_image_goes_both_ways_inline_and_a_document_comes_back_as_a_card(
    site, live_server_stack, chromium
):
    bob = make_agent("bob")
    center = center_page(chromium, live_server_stack, bob, viewport={"width": 1280, "height": 760})
    tab = site()
    tab.launcher.click()
    tab.wait_online()

    # A file the widget refuses before uploading says why.
    attach = tab.page.get_by_role("button", name="Attach a file")
    expect(attach).to_be_visible()
    file_input = tab.page.locator("#wachat-widget input[type=file]")
    file_input.set_input_files(
        {"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": samples.exe()}
    )
    expect(tab.page.locator("#wachat-widget .notice")).to_contain_text("Send a JPEG or PNG image")
    assert not Message.objects.exists()

    file_input.set_input_files(
        {"name": "bike.png", "mimeType": "image/png", "buffer": samples.png(40, 30)}
    )
    picture = tab.bubbles().locator("img.pic")
    expect(picture).to_have_attribute("alt", "bike.png")
    expect(picture).to_have_attribute(
        "src",
        re.compile(re.escape(live_server_stack.url) + "/media/attachments/.+/bike.png$"),
        timeout=15000,
    )
    expect(tab.bubbles().locator("progress")).to_have_count(0)
    tab.page.wait_for_function(
        "() => document.querySelector('#wachat-widget').shadowRoot"
        ".querySelector('img.pic').naturalWidth === 40"
    )
    link = tab.bubbles().get_by_role("link", name="bike.png")
    expect(link).to_have_attribute("target", "_blank")
    stored = Message.objects.get(message_type="image")
    assert stored.metadata["filename"] == "bike.png"

    row = center.locator("#inbox .row").first
    expect(row).to_be_visible(timeout=15000)
    row.click()
    in_center = center.locator("#thread .msg.visitor img.pic")
    expect(in_center).to_have_attribute("alt", "bike.png")
    center.wait_for_function("() => document.querySelector('#thread img.pic').naturalWidth === 40")
    assert loaded(in_center)

    center.locator("#file").set_input_files(
        {"name": "price list.pdf", "mimeType": "application/pdf", "buffer": samples.pdf()}
    )
    card = tab.bubbles("agent").locator(".file")
    expect(card).to_contain_text("price list.pdf", timeout=15000)
    expect(card).to_contain_text("1 KB")
    expect(card).to_have_attribute("href", re.compile(r"/media/attachments/.+/price%20list\.pdf$"))
    download = httpx.get(card.get_attribute("href"), timeout=10)
    assert download.content == samples.pdf()
    assert download.headers["content-disposition"].startswith("attachment")
    expect(center.locator("#thread .msg.agent .file")).to_contain_text("price list.pdf")
    document = Message.objects.get(message_type="document")
    assert (document.sender_type, document.sender_id) == ("agent", bob.pk)
