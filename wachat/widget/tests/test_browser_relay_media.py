"""Photos through the relay in Debian's Chromium against a running server (real worker,
emulator over HTTP): a photo the agent sends from their WhatsApp shows in the widget once
its file is fetched, and a WhatsApp customer's photo reaches the agent's phone as a photo."""

import base64
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from wachat.conftest import make_agent
from wachat.conversations.models import Message
from wachat.conversations.tests import samples
from wachat.widget.tests.conftest import to_phone

pytestmark = pytest.mark.browser

ALICE, CUSTOMER = "15550001111", "4915100000042"


def send_photo(stack, phone, caption="", reply_to=None):
    png = base64.b64encode(samples.png(40, 30)).decode()
    response = httpx.post(
        stack.url + "/emulator/api/send",
        json={
            "phone": phone,
            "text": caption,
            "reply_to": reply_to,
            "media": {"data": png, "mime_type": "image/png", "filename": "bike.png"},
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text


def test_photos_go_both_ways_through_the_relay(site, live_server_stack):
    make_agent("alice", phone=ALICE)
    tab = site()
    tab.launcher.click()
    tab.wait_online()
    tab.send("Which bike is it?")
    relayed = to_phone(live_server_stack, ALICE, lambda messages: len(messages) == 1)
    assert relayed[0]["body"].endswith(": Which bike is it?")

    send_photo(live_server_stack, ALICE, caption="This one", reply_to=relayed[0]["wamid"])

    bubble = tab.bubbles("agent")
    expect(bubble).to_contain_text("This one", timeout=15000)
    picture = bubble.locator("img.pic")
    expect(picture).to_have_attribute("src", re.compile(r"/media/whatsapp/.+\.png$"))
    tab.page.wait_for_function(
        "() => document.querySelector('#wachat-widget').shadowRoot"
        ".querySelector('.msg.agent img.pic').naturalWidth === 40",
        timeout=15000,
    )

    # A WhatsApp customer's photo: to the agent's phone as a photo, once, with the code.
    send_photo(live_server_stack, CUSTOMER)
    copies = to_phone(live_server_stack, ALICE, lambda messages: len(messages) >= 2)
    code = Message.objects.get(sender_type="visitor", message_type="image").conversation.code
    assert [(m["kind"], m["body"]) for m in copies[1:]] == [
        ("image", f"[#{code}] Customer 0042: 📷 Photo")
    ]
    time.sleep(1)  # anything sent twice would be here by now
    assert len(to_phone(live_server_stack, ALICE, lambda messages: False, timeout=0)) == 2
