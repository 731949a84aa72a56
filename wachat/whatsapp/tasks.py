"""Worker tasks: deliver outbound messages, process stored webhooks.

The database is the source of truth: a task carries only an id, re-reads the row, and
does nothing if the row says the work is done, so a task that runs twice is harmless.
"""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from wachat.conversations import actions
from wachat.conversations.models import Message
from wachat.whatsapp import relay
from wachat.whatsapp.client import GraphClient
from wachat.whatsapp.errors import GraphError
from wachat.whatsapp.models import MAX_PROCESSING_ATTEMPTS, WebhookEvent
from wachat.whatsapp.payloads import MalformedPayload, parse

log = logging.getLogger(__name__)


def backoff(attempt, *, base=2.0, cap=300.0):
    """Exponential backoff with full jitter: up to base * 2^(attempt-1) seconds."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


class StatusForUnknownMessage(Exception):
    """A status arrived before the message it is about: retry the event later."""


# --- Outbound -------------------------------------------------------------------------------


@db_task()
def deliver_message(message_id, attempt=1):
    message = Message.objects.select_related("conversation__agent").get(pk=message_id)
    if message.status != Message.Status.PENDING:
        return  # already sent or failed: never send twice
    to, body = _addressed(message)
    if to is None:
        actions.record_failed(message=message, reason="No WhatsApp number to deliver to.")
        return
    try:
        wamid = GraphClient().send_text(to, body)
    except GraphError as error:
        if error.retryable and attempt < settings.WHATSAPP_SEND_ATTEMPTS:
            delay = error.retry_after or backoff(attempt)
            log.warning("message %s: %s; retry %s in %.1fs", message_id, error, attempt + 1, delay)
            deliver_message.schedule((message_id, attempt + 1), delay=delay)
            return
        log.error("message %s failed: %s", message_id, error)
        actions.record_failed(message=message, reason=error.explanation, code=error.code)
        return
    actions.record_sent(message=message, whatsapp_message_id=wamid)


def _addressed(message):
    """(recipient number, text) for the WhatsApp copy of `message`."""
    conversation = message.conversation
    if message.sender_type == Message.SenderType.VISITOR:
        return relay.relay_target(conversation), relay.relay_text(message)
    return conversation.visitor_phone_number, message.content


# --- Inbound --------------------------------------------------------------------------------


@db_task()
def process_webhook_event(event_id):
    event = WebhookEvent.objects.get(pk=event_id)
    if event.processed:
        return
    try:
        batch = parse(event.payload)
    except MalformedPayload as exc:
        event.mark_failed(f"malformed payload, kept for review: {exc}", final=True)
        return
    try:
        with transaction.atomic():
            apply_batch(batch)
    except Exception as exc:  # any failure: count it, retry with backoff, then wait for replay
        event.mark_failed(exc)
        log.warning("webhook event %s attempt %s failed: %s", event.pk, event.retry_count, exc)
        if event.retry_count < MAX_PROCESSING_ATTEMPTS:
            process_webhook_event.schedule((event.pk,), delay=backoff(event.retry_count))
        return
    event.mark_processed()


def apply_batch(batch):
    """Apply every message and status of one webhook. Each step is idempotent."""
    for inbound in batch.messages:
        _receive(inbound)
    for reaction in batch.reactions:
        actions.record_reaction(
            whatsapp_message_id=reaction.target_wamid, emoji=reaction.emoji, by=reaction.sender
        )
    unknown = []
    for status in batch.statuses:
        found = actions.record_whatsapp_status(
            whatsapp_message_id=status.wamid, status=status.status, error=status.error
        )
        if found is None:
            unknown.append(status.wamid)
    if unknown:
        raise StatusForUnknownMessage(f"status for unknown message(s): {', '.join(unknown)}")


def _receive(inbound):
    agent = relay.agent_for_number(inbound.sender)
    if agent is None:
        actions.receive_whatsapp_message(
            phone=inbound.sender,
            profile_name=inbound.profile_name,
            whatsapp_message_id=inbound.wamid,
            text=inbound.text,
            message_type=inbound.message_type,
            metadata=inbound.metadata or None,
        )
        return
    conversation, text = relay.conversation_for_reply(
        agent, reply_to=inbound.reply_to, text=inbound.text
    )
    if conversation is None:
        log.info("agent %s wrote with no conversation to answer; ignored", agent.pk)
        return
    actions.send_agent_message(
        conversation=conversation, agent=agent, text=text, whatsapp_message_id=inbound.wamid
    )


# --- Safety net -----------------------------------------------------------------------------


@db_periodic_task(crontab(minute="*"))
def requeue_stranded_events():
    """Re-enqueue stored webhooks whose first task was lost (say, a flushed Redis queue).

    Processing is idempotent, so an event that was merely slow is harmless to queue again.
    Pending outbound messages are not re-sent here: a second send could reach the phone
    twice, and the Graph API has no idempotency key.
    """
    cutoff = timezone.now() - timedelta(minutes=1)
    stranded = WebhookEvent.objects.filter(processed=False, retry_count=0, created_at__lt=cutoff)
    for event_id in stranded.values_list("pk", flat=True)[:500]:
        process_webhook_event(event_id)
