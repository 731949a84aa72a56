"""The emulator keeps WhatsApp's 24-hour customer-service window, and the bridge copes with
it the way it must with Meta: a free-form message outside the window is accepted, then
reported failed with 131047; the template goes out; the reply waits for the customer."""

import pytest
from django.core.management import call_command

from wachat.conversations.models import Conversation, Message
from wachat.whatsapp.client import GraphClient
from wachat.whatsapp.emulator import window
from wachat.whatsapp.emulator.models import PhoneMessage
from wachat.whatsapp.models import WebhookEvent
from wachat.whatsapp.tests.conftest import CUSTOMER, OUT_WAMID, fixture

pytestmark = pytest.mark.django_db(transaction=True)

STRANGER = "4915199999999"


def statuses(outbox):
    return [
        status
        for payload in outbox
        for change in payload["entry"][0]["changes"]
        for status in change["value"].get("statuses", [])
    ]


def received(phone):
    return list(
        PhoneMessage.objects.filter(phone=phone, direction="to_phone").values_list("kind", "body")
    )


def age_window(emulator, phone, hours):
    response = emulator.django.post(
        "/emulator/api/window",
        {"phone": phone, "last_wrote_hours_ago": hours},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


# --- The emulator ---------------------------------------------------------------------------


def test_free_form_to_a_phone_that_never_wrote_fails_with_131047_like_meta(emulator):
    wamid = GraphClient().send_text(STRANGER, "Hello?")  # accepted, as Meta accepts it

    assert wamid.startswith("wamid.")
    assert received(STRANGER) == []
    (status,) = statuses(emulator.outbox)
    # https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples
    assert (status["id"], status["status"], status["recipient_id"]) == (wamid, "failed", STRANGER)
    assert (
        status["errors"]
        == fixture("statuses__failed_reengagement")["entry"][0]["changes"][0]["value"]["statuses"][
            0
        ]["errors"]
    )


def test_templates_are_always_allowed(emulator):
    GraphClient().send_template(STRANGER, "hello_world", "en_US")

    assert [kind for kind, _ in received(STRANGER)] == ["template"]


def test_a_phone_that_wrote_gets_free_form_messages_for_24_hours(emulator):
    emulator.phone_sends(STRANGER, "Hi")
    assert age_window(emulator, STRANGER, 23.9)["open"] is True
    GraphClient().send_text(STRANGER, "Hello!")

    assert age_window(emulator, STRANGER, 24.1)["open"] is False
    GraphClient().send_text(STRANGER, "Still there?")

    assert received(STRANGER) == [("text", "Hello!")]
    assert [s["status"] for s in statuses(emulator.outbox)] == ["sent", "failed"]


def test_aging_keeps_the_order_of_what_the_phone_sent(emulator):
    emulator.phone_sends(STRANGER, "one")
    emulator.phone_sends(STRANGER, "two")

    state = age_window(emulator, STRANGER, 30)

    assert state["open"] is False
    sent = PhoneMessage.objects.filter(phone=STRANGER).order_by("created_at")
    assert [m.body for m in sent] == ["one", "two"]
    assert [m["body"] for m in emulator.thread(STRANGER)] == ["one", "two"]


def test_the_window_knob_is_validated(emulator):
    for bad in [{"phone": STRANGER}, {"phone": "abc", "last_wrote_hours_ago": 1}]:
        response = emulator.django.post(
            "/emulator/api/window", bad, content_type="application/json"
        )
        assert response.status_code == 400
    state = emulator.django.get("/emulator/api/window", {"phone": STRANGER}).json()
    assert state == {"phone": STRANGER, "last_inbound_at": None, "open": False}


def test_the_demo_agent_can_be_relayed_to_at_once(db):
    call_command("demo_setup", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert window.is_open("15550001111")


# --- The bridge -----------------------------------------------------------------------------


def test_a_silent_customer_gets_the_template_and_then_the_held_reply(emulator, bob):
    emulator.phone_sends(CUSTOMER, "Is my order ready?")
    emulator.deliver_webhooks()
    conversation = Conversation.objects.get(visitor_phone_number=CUSTOMER)
    age_window(emulator, CUSTOMER, 25)  # the customer went quiet (the app did not notice)

    from wachat.conversations import actions

    reply, _ = actions.send_agent_message(
        conversation=conversation, agent=bob, text="Yes, it is!", client_id="r1"
    )
    refused = Message.objects.get(pk=reply.pk).whatsapp_message_id
    assert refused  # WhatsApp accepted it...
    emulator.deliver_webhooks()  # ...then said 131047, so the template went out

    reply.refresh_from_db()
    assert reply.status == "pending"
    assert reply.metadata["awaiting_window"] == CUSTOMER
    assert reply.whatsapp_message_id is None
    assert [kind for kind, _ in received(CUSTOMER)] == ["template"]
    template = Message.objects.get(message_type="template")
    assert (template.conversation, template.status) == (conversation, "sent")

    emulator.phone_sends(CUSTOMER, "Thanks, and?")
    emulator.deliver_webhooks()

    reply.refresh_from_db()
    assert reply.status == "sent"
    assert reply.whatsapp_message_id not in (None, refused)
    assert received(CUSTOMER)[-1] == ("text", "Yes, it is!")
    assert [kind for kind, _ in received(CUSTOMER)] == ["template", "text"]


def test_a_visitor_message_waits_for_an_agent_whose_window_closed(emulator, alice, visitor):
    from wachat.conversations import actions

    age_window(emulator, alice.whatsapp_phone_number, 48)
    message, _ = actions.send_visitor_message(visitor_session=visitor, text="Hi!", client_id="v1")
    emulator.deliver_webhooks()

    message.refresh_from_db()
    assert (message.status, message.metadata["awaiting_window"]) == ("pending", "15550001111")
    assert [kind for kind, _ in received("15550001111")] == ["template"]
    template = Message.objects.get(message_type="template")
    assert template.metadata["private"] is True  # it went to the agent, not the visitor

    emulator.phone_sends("15550001111", "Here now")
    emulator.deliver_webhooks()

    message.refresh_from_db()
    assert message.status == "sent"
    relayed = [body for kind, body in received("15550001111") if kind == "text"]
    assert relayed[0].endswith(": Hi!")


def test_a_replayed_131047_status_changes_nothing(emulator, our_message, replay):
    replay("statuses__failed_reengagement")
    our_message.refresh_from_db()
    assert our_message.status == "pending"
    assert our_message.metadata["refused_wamid"] == OUT_WAMID
    assert [kind for kind, _ in received(CUSTOMER)] == ["template"]

    replay("statuses__failed_reengagement")

    assert received(CUSTOMER) == [("template", received(CUSTOMER)[0][1])]
    assert Message.objects.filter(message_type="template").count() == 1
    assert WebhookEvent.objects.filter(processed=True).count() == 2
