"""Outbound delivery through the real client and the in-process emulator, with its fault
knobs: retries, the circuit breaker, the 24-hour window and token errors."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.whatsapp import breaker, tasks
from wachat.whatsapp.emulator import faults
from wachat.whatsapp.emulator.models import Fault, PhoneMessage
from wachat.whatsapp.models import CircuitBreakerState
from wachat.whatsapp.tests.conftest import CUSTOMER, run_scheduled, scheduled

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def say(customer_conversation, bob, emulator):
    """bob answers the customer from the Conversation Center; returns the fresh row."""
    counter = iter(range(1000))

    def say(text="We open at 10."):
        message, _ = actions.send_agent_message(
            conversation=customer_conversation, agent=bob, text=text, client_id=f"c{next(counter)}"
        )
        message.refresh_from_db()
        return message

    return say


def fail_sends(code, http_status=400, count=1, **fields):
    return faults.add(
        Fault.Target.GRAPH,
        Fault.Action.ERROR,
        code=code,
        http_status=http_status,
        count=count,
        path="/messages",
        **fields,
    )


def phone_received():
    return list(PhoneMessage.objects.filter(phone=CUSTOMER, direction="to_phone"))


def test_a_message_is_sent_and_gets_its_wamid(say):
    message = say("Hello Carol")
    assert message.status == "sent"
    assert [m.body for m in phone_received()] == ["Hello Carol"]
    assert phone_received()[0].wamid == message.whatsapp_message_id


# --- Retries --------------------------------------------------------------------------------

RETRYABLE = [
    (500, 1),  # API Unknown
    (503, 2),  # API Service
    (400, 4),  # app rate limit
    (400, 80007),  # business account rate limit
    (400, 130429),  # throughput
    (500, 131000),  # something went wrong
    (503, 131016),  # service unavailable
    (503, 133004),  # server temporarily unavailable
    (502, 999999),  # any 5xx
    (429, 999998),  # HTTP Too Many Requests
]


@pytest.mark.parametrize(("http_status", "code"), RETRYABLE)
def test_a_retryable_error_is_retried_and_then_sent(say, http_status, code):
    fail_sends(code, http_status)

    message = say()
    assert message.status == "pending"
    assert scheduled() == [("deliver_message", (message.pk, 2, 0))]

    run_scheduled()
    message.refresh_from_db()
    assert message.status == "sent"
    assert len(phone_received()) == 1


NOT_RETRYABLE = [
    (400, 100, "WhatsApp rejected the request as invalid."),
    (400, 131026, "The recipient cannot receive WhatsApp messages (not on WhatsApp, or old app)."),
    (400, 131051, "This message type is not supported."),
    (400, 132000, "WhatsApp rejected the template (missing, paused or wrong parameters)."),
    (404, 132001, "WhatsApp rejected the template (missing, paused or wrong parameters)."),
    (401, 190, "The WhatsApp access token is invalid or expired. Update it in the settings."),
]


@pytest.mark.parametrize(("http_status", "code", "reason"), NOT_RETRYABLE)
def test_a_permanent_error_fails_the_message_with_a_reason(say, http_status, code, reason):
    fail_sends(code, http_status)

    message = say()

    assert message.status == "failed"
    assert message.metadata["error"] == {"code": code, "reason": reason}
    assert scheduled() == []
    assert phone_received() == []


def test_a_timeout_is_retried(say, settings, monkeypatch):
    fault = faults.add(Fault.Target.GRAPH, Fault.Action.TIMEOUT, delay_ms=1, path="/messages")
    message = say()
    assert message.status == "pending"
    assert Fault.objects.get(pk=fault.pk).remaining == 0
    run_scheduled()
    message.refresh_from_db()
    assert message.status == "sent"


def test_sending_gives_up_after_the_configured_attempts(say, settings):
    settings.WHATSAPP_SEND_ATTEMPTS = 3
    fail_sends(131000, 500, count=None)

    message = say()
    run_scheduled()
    run_scheduled()
    message.refresh_from_db()

    assert message.status == "failed"
    assert message.metadata["error"]["reason"] == "WhatsApp had an unexpected error."
    assert scheduled() == []


def test_retry_after_is_honoured(say):
    fail_sends(130429, 429, retry_after=120)
    before = time.time()

    say()

    (task,) = HUEY.scheduled()
    assert task.eta.timestamp() >= before + 120


def test_backoff_is_exponential_with_full_jitter(monkeypatch):
    monkeypatch.setattr(tasks.random, "uniform", lambda low, high: high)
    assert [tasks.backoff(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert tasks.backoff(20) == 300
    monkeypatch.setattr(tasks.random, "uniform", lambda low, high: low)
    assert tasks.backoff(3) == 0


def test_pair_rate_limit_waits_without_using_up_attempts(say, settings):
    settings.WHATSAPP_SEND_ATTEMPTS = 2
    fail_sends(131056, 400, count=4)

    message = say()
    for _ in range(4):
        assert message.status == "pending"
        (name, (_, attempt, paced)) = scheduled()[0]
        assert attempt == 1  # pacing is not a failure
        run_scheduled()
        message.refresh_from_db()

    assert message.status == "sent"
    assert CircuitBreakerState.objects.get().state == "closed"  # one recipient, not WhatsApp


def test_pair_rate_limited_messages_are_all_delivered_in_the_end(say):
    fail_sends(131056, 400, count=2)

    first, second = say("one"), say("two")
    while run_scheduled():
        pass

    assert sorted(m.body for m in phone_received()) == ["one", "two"]  # nothing coalesced
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("sent", "sent")


# --- Circuit breaker ------------------------------------------------------------------------


@pytest.fixture
def threshold(settings):
    settings.WHATSAPP_BREAKER_THRESHOLD = 3
    settings.WHATSAPP_SEND_ATTEMPTS = 1
    settings.WHATSAPP_BREAKER_COOLDOWN = 30
    return 3


def cool_down_passes():
    CircuitBreakerState.objects.update(opened_at=timezone.now() - timedelta(seconds=31))


def test_the_breaker_opens_after_consecutive_server_failures(say, threshold):
    fail_sends(131000, 500, count=None)
    for n in range(threshold):
        say(f"m{n}")
    assert CircuitBreakerState.objects.get().state == "open"

    faults.clear()
    waiting = say("while open")

    assert waiting.status == "pending"  # not failed: it waits for the breaker
    assert phone_received() == []  # and WhatsApp was not called
    (name, args), *_ = scheduled()
    assert (name, args) == ("deliver_message", (waiting.pk, 1, 0))


def test_permanent_errors_do_not_open_the_breaker(say, threshold):
    fail_sends(131026, 400, count=None)
    for n in range(threshold + 1):
        say(f"m{n}")
    assert CircuitBreakerState.objects.get().state == "closed"


def test_after_the_cool_down_one_probe_closes_the_breaker(say, threshold):
    fail_sends(131000, 500, count=threshold)
    for n in range(threshold):
        say(f"m{n}")
    waiting = say("while open")
    assert waiting.status == "pending"

    cool_down_passes()
    run_scheduled()

    waiting.refresh_from_db()
    assert waiting.status == "sent"
    state = CircuitBreakerState.objects.get()
    assert (state.state, state.consecutive_failures) == ("closed", 0)


def test_a_failed_probe_opens_the_breaker_again(say, threshold):
    fail_sends(131000, 500, count=threshold + 1)
    for n in range(threshold):
        say(f"m{n}")
    waiting = say("while open")

    cool_down_passes()
    run_scheduled()

    assert CircuitBreakerState.objects.get().state == "open"
    waiting.refresh_from_db()
    assert waiting.status == "failed"  # its one attempt (WHATSAPP_SEND_ATTEMPTS=1) was the probe


def test_only_one_process_takes_the_half_open_probe(threshold):
    for _ in range(threshold):
        breaker.record_failure("boom")
    cool_down_passes()

    assert breaker.allow().allowed is True
    assert breaker.allow().allowed is False  # the probe is out; others wait
    assert CircuitBreakerState.objects.get().state == "half_open"


# --- 24-hour window -------------------------------------------------------------------------


def test_a_closed_window_sends_the_template_instead(say, customer_conversation):
    fail_sends(131047, 400)

    message = say("Your order shipped")

    assert message.status == "pending"
    assert message.metadata["awaiting_window"] == CUSTOMER
    template = Message.objects.get(message_type="template")
    assert (template.conversation, template.status) == (customer_conversation, "sent")
    assert template.metadata["template"] == {"name": "hello_world", "language": "en_US"}
    (on_phone,) = phone_received()
    assert (on_phone.kind, on_phone.wamid) == ("template", template.whatsapp_message_id)
    assert on_phone.body.startswith("Hello World")


def test_held_messages_go_out_when_the_customer_writes_again(say, emulator):
    fail_sends(131047, 400, count=2)
    first = say("Your order shipped")
    second = say("Tracking: 123")
    assert Message.objects.filter(message_type="template").count() == 1  # one template, not two

    emulator.phone_sends(CUSTOMER, "Thanks, what was it?")
    emulator.deliver_webhooks()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("sent", "sent")
    assert "awaiting_window" not in first.metadata
    bodies = [m.body for m in phone_received() if m.kind == "text"]
    assert bodies == ["Your order shipped", "Tracking: 123"]


def test_the_reengagement_template_is_configurable(say, settings):
    settings.WHATSAPP_REENGAGE_TEMPLATE = "no_such_template"
    fail_sends(131047, 400)

    message = say()

    assert message.status == "failed"  # the emulator has no such template: 132001
    assert message.metadata["error"]["code"] == 132001


def test_a_retryable_template_failure_is_retried_and_the_template_sent_once(say, emulator):
    fail_sends(131047, 400)
    fail_sends(131000, 500)  # the template's first attempt

    message = say("Your order shipped")

    message.refresh_from_db()
    assert message.status == "pending"
    assert message.metadata["awaiting_window"] == CUSTOMER
    assert [name for name, _ in scheduled()] == ["send_reengagement"]
    assert phone_received() == []
    assert CircuitBreakerState.objects.get().consecutive_failures == 1

    run_scheduled()
    tasks.send_reengagement.call_local(message.pk, 2)  # the same retry, delivered twice

    assert [m.kind for m in phone_received()] == ["template"]
    assert Message.objects.filter(message_type="template").count() == 1
    assert CircuitBreakerState.objects.get().consecutive_failures == 0
    emulator.phone_sends(CUSTOMER, "Hi, what is it?")
    emulator.deliver_webhooks()
    message.refresh_from_db()
    assert message.status == "sent"
    assert [m.kind for m in phone_received()] == ["template", "text"]


def test_a_template_that_keeps_failing_fails_the_held_messages(say, settings):
    settings.WHATSAPP_SEND_ATTEMPTS = 2
    fail_sends(131047, 400, count=2)
    fail_sends(131016, 503, count=2)  # both attempts of the template
    first = say("Your order shipped")
    second = say("Tracking: 123")  # held too, waiting for the same template

    while run_scheduled():
        pass

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("failed", "failed")
    assert first.metadata["error"] == {
        "code": 131016,
        "reason": "WhatsApp is temporarily unavailable.",
    }
    assert phone_received() == []
    retried = actions.retry_failed_message(message=first)  # the window may be open by now
    retried.refresh_from_db()
    assert retried.status == "sent"


def test_a_permanent_template_error_fails_at_once_with_the_reason(say):
    fail_sends(131047, 400)
    fail_sends(132000, 400)

    message = say()

    message.refresh_from_db()
    assert message.status == "failed"
    assert message.metadata["error"]["code"] == 132000
    assert message.metadata["error"]["reason"].startswith("WhatsApp rejected the template")
    assert scheduled() == []


def test_an_open_breaker_keeps_the_template_retry_waiting(say, threshold, settings):
    settings.WHATSAPP_SEND_ATTEMPTS = 3
    fail_sends(131047, 400)
    fail_sends(131000, 500)
    message = say()
    for _ in range(threshold):
        breaker.record_failure(tasks.GraphError(message="down", http_status=500))

    run_scheduled()  # the retry finds the breaker open: it waits, nothing fails

    message.refresh_from_db()
    assert message.status == "pending"
    assert [name for name, _ in scheduled()] == ["send_reengagement"]
    assert phone_received() == []


# --- Token errors ---------------------------------------------------------------------------


def test_a_token_error_stops_sending_until_the_settings_change(say, settings):
    fail_sends(190, 401)
    first = say("one")
    assert first.status == "failed"
    state = CircuitBreakerState.objects.get()
    assert state.broken_reason.startswith("The WhatsApp access token is invalid")

    second = say("two")  # no fault set now: WhatsApp is not even asked
    assert second.status == "failed"
    assert second.metadata["error"]["code"] == 190
    assert phone_received() == []

    settings.WHATSAPP_ACCESS_TOKEN = "a-new-token"  # the admin pasted a new token
    third = say("three")
    assert third.status == "sent"
    assert CircuitBreakerState.objects.get().broken_credentials == ""


def test_a_known_closed_window_goes_straight_to_the_template(say, customer_conversation):
    Message.objects.filter(conversation=customer_conversation, direction="inbound").update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    message = say("Are you still interested?")

    assert message.status == "pending"
    assert [m.kind for m in phone_received()] == ["template"]  # no free-form attempt at all


# --- Retry by the sender --------------------------------------------------------------------


def test_a_failed_message_can_be_retried_by_its_sender(say):
    fail_sends(131000, 500, count=3)
    message = say()
    while run_scheduled():
        pass
    message.refresh_from_db()
    assert message.status == "failed"

    retried = actions.retry_failed_message(message=message)

    retried.refresh_from_db()
    assert retried.status == "sent"
    assert retried.metadata["previous_error"]["code"] == 131000
    assert "error" not in retried.metadata
    assert actions.retry_failed_message(message=retried) is None  # only failed ones
