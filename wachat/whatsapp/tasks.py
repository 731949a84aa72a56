"""Worker tasks: deliver outbound messages, fetch inbound media, process stored webhooks.

The database is the source of truth: a task carries only an id, re-reads the row, and
does nothing if the row says the work is done, so a task that runs twice is harmless.
Every Graph call goes through the circuit breaker (breaker.py).
"""

import base64
import hashlib
import logging
import mimetypes
import random
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from wachat.conversations import actions
from wachat.conversations.models import ChatAgent, Message
from wachat.whatsapp import breaker, relay
from wachat.whatsapp.client import GraphClient
from wachat.whatsapp.errors import PAIR_RATE_LIMIT, TOKEN_INVALID, WINDOW_CLOSED, GraphError
from wachat.whatsapp.models import MAX_PROCESSING_ATTEMPTS, WebhookEvent
from wachat.whatsapp.payloads import MalformedPayload, parse

log = logging.getLogger(__name__)

# Meta allows about one message every 6 seconds to the same number (pair rate limit).
# https://developers.facebook.com/docs/whatsapp/cloud-api/overview#pair-rate-limits
PACING_SECONDS = 6.0
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)


def backoff(attempt, *, base=2.0, cap=300.0):
    """Exponential backoff with full jitter: up to base * 2^(attempt-1) seconds."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def retry_delay(error, attempt, *, base=2.0):
    """Backoff with jitter, never sooner than the server's Retry-After."""
    return max(error.retry_after or 0.0, backoff(attempt, base=base))


class StatusForUnknownMessage(Exception):
    """A status arrived before the message it is about: retry the event later."""


# --- Outbound -------------------------------------------------------------------------------


@db_task()
def deliver_message(message_id, attempt=1, paced=0):
    """Send one pending message. `attempt` counts failures that may be retried, `paced`
    the pair-rate-limit waits, which are not failures."""
    message = Message.objects.select_related("conversation__agent").get(pk=message_id)
    if message.status != Message.Status.PENDING:
        return  # already sent or failed: never send twice
    if (message.metadata or {}).get("awaiting_window"):
        return  # held until the recipient writes again (released by apply_batch)
    to, body = _addressed(message)
    if to is None:
        actions.record_failed(message=message, reason="No WhatsApp number to deliver to.")
        return
    decision = breaker.allow()
    if decision.broken:
        actions.record_failed(message=message, reason=decision.broken, code=TOKEN_INVALID)
        return
    if not decision.allowed:
        # The breaker is open: the message stays pending and asks again after the cool-down.
        delay = decision.wait + random.uniform(0, 1)
        deliver_message.schedule((message_id, attempt, paced), delay=delay)
        return
    client = GraphClient()
    if (message.metadata or {}).get("window_closed") or _window_known_closed(message):
        _reengage(client, message, to)  # no point asking for error 131047 (again)
        return
    try:
        wamid = send_content(client, message, to, body)
    except GraphError as error:
        _delivery_failed(client, message, to, error, attempt=attempt, paced=paced)
        return
    breaker.record_success()
    actions.record_sent(message=message, whatsapp_message_id=wamid)


def send_content(client, message, to, body):
    """Send `message` to `to` as WhatsApp carries it: a stored image or document is
    uploaded and sent by media id with `body` as caption, anything else as text `body`.
    Returns the wamid. Also sends the relay's copies (relay._send_copy)."""
    details = message.metadata or {}
    kind = message.message_type
    if kind in (Message.Type.IMAGE, Message.Type.DOCUMENT) and details.get("storage_name"):
        with default_storage.open(details["storage_name"]) as stored:
            content = stored.read()
        mime_type = details.get("mime_type") or "application/octet-stream"
        filename = details.get("filename") or details["storage_name"].rsplit("/", 1)[-1]
        media_id = client.upload_media(content, mime_type=mime_type, filename=filename)
        if kind == Message.Type.IMAGE:
            return client.send_image(to, media_id, caption=body or None)
        return client.send_document(to, media_id, filename=filename, caption=body or None)
    return client.send_text(to, body)


def _delivery_failed(client, message, to, error, *, attempt, paced):
    log.warning("message %s: %s (attempt %s)", message.pk, error, attempt)
    if error.code == TOKEN_INVALID:
        breaker.mark_broken(error)
        actions.record_failed(message=message, reason=error.explanation, code=error.code)
        return
    if error.server_side:
        breaker.record_failure(error)
    else:
        breaker.record_success()  # WhatsApp answered; the request was the problem
    if error.code == WINDOW_CLOSED:
        _reengage(client, message, to)
        return
    if error.code == PAIR_RATE_LIMIT and paced < settings.WHATSAPP_PACING_ATTEMPTS:
        # Pacing, not failure: wait and send again; nothing is merged or dropped.
        delay = retry_delay(error, 1, base=PACING_SECONDS) + PACING_SECONDS
        deliver_message.schedule((message.pk, attempt, paced + 1), delay=delay)
        return
    if error.retryable and attempt < settings.WHATSAPP_SEND_ATTEMPTS:
        delay = retry_delay(error, attempt)
        deliver_message.schedule((message.pk, attempt + 1, paced), delay=delay)
        return
    actions.record_failed(message=message, reason=error.explanation, code=error.code)


def _count_in_breaker(error):
    """What a Graph error tells the breaker: a token error breaks the connection until the
    credentials change, a server-side one counts as a failure, any other answer shows
    WhatsApp is up (the request was the problem)."""
    if error.code == TOKEN_INVALID:
        breaker.mark_broken(error)
    elif error.server_side:
        breaker.record_failure(error)
    else:
        breaker.record_success()


def _window_known_closed(message):
    """A customer conversation whose customer last wrote over 24 hours ago. (Relayed
    messages to agents learn it from error 131047: we do not see all their messages.)"""
    conversation = message.conversation
    if conversation.source != conversation.Source.WHATSAPP:
        return False
    last = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return last is not None and timezone.now() - last > CUSTOMER_SERVICE_WINDOW


def _reengage(client, message, to):
    """Graph error 131047: the 24-hour window is closed. Hold the message, send the
    configured template once, and deliver the held messages when the recipient writes.
    https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows
    """
    if not actions.hold_for_window(message=message, phone=to):
        return  # a template already asked this recipient to write
    _send_reengagement(client, message, to, attempt=1)


@db_task()
def send_reengagement(message_id, attempt=1):
    """Try the re-engagement template for a held message again (after a retryable error).

    Sends nothing when the message is no longer held (the recipient wrote, or it failed)
    or the template already went out for it, so a task that runs twice sends one template.
    """
    message = Message.objects.select_related("conversation").get(pk=message_id)
    metadata = message.metadata or {}
    to = metadata.get("awaiting_window")
    if message.status != Message.Status.PENDING or not to or metadata.get("reengaged_by"):
        return
    decision = breaker.allow()
    if decision.broken:
        _fail_held(message, to, reason=decision.broken, code=TOKEN_INVALID)
        return
    if not decision.allowed:
        delay = decision.wait + random.uniform(0, 1)
        send_reengagement.schedule((message_id, attempt), delay=delay)
        return
    _send_reengagement(GraphClient(), message, str(to), attempt=attempt)


def _send_reengagement(client, message, to, *, attempt):
    name = settings.WHATSAPP_REENGAGE_TEMPLATE
    language = settings.WHATSAPP_REENGAGE_LANGUAGE
    try:
        wamid = client.send_template(to, name, language)
    except GraphError as error:
        log.warning("re-engagement template %s to %s: %s (attempt %s)", name, to, error, attempt)
        _count_in_breaker(error)
        if error.retryable and error.code != TOKEN_INVALID:
            if attempt < settings.WHATSAPP_SEND_ATTEMPTS:
                delay = retry_delay(error, attempt)
                send_reengagement.schedule((message.pk, attempt + 1), delay=delay)
                return
        _fail_held(message, to, reason=error.explanation, code=error.code)
        return
    breaker.record_success()
    actions.record_template_sent(
        conversation=message.conversation,
        template=name,
        language=language,
        whatsapp_message_id=wamid,
        # A visitor's message is relayed to the agent: the template went to the agent.
        private=message.sender_type == Message.SenderType.VISITOR,
        held_message=message,
    )


def _fail_held(message, to, *, reason, code):
    """The template could not go out: nothing asks `to` to write, so the messages held
    for it fail with the reason (their senders can retry them)."""
    held = Message.objects.filter(
        status=Message.Status.PENDING, metadata__awaiting_window=to
    ).order_by("pk")
    for each in [message, *held.exclude(pk=message.pk)]:
        actions.record_failed(message=each, reason=reason, code=code)


def _addressed(message):
    """(recipient number, text) for the WhatsApp copy of `message`."""
    conversation = message.conversation
    if message.sender_type == Message.SenderType.VISITOR:
        return relay.relay_target(conversation), relay.relay_text(message)
    return conversation.visitor_phone_number, message.content


@db_task()
def send_read_receipt(whatsapp_message_id):
    """Blue ticks on the customer's phone (best effort: a lost receipt harms nobody)."""
    if not breaker.allow().allowed:
        return
    try:
        GraphClient().mark_as_read(whatsapp_message_id)
    except GraphError as error:
        log.info("read receipt for %s not sent: %s", whatsapp_message_id, error)


@db_task()
def deliver_reaction(message_id, attempt=1):
    """Put the business's current reaction on a customer's message on their phone ("" removes
    it, as the Cloud API documents). Sends the reaction the row asks for now, and nothing
    when that is what WhatsApp already has, so a task that runs twice (or late, after the
    agent changed their mind) leaves the phone showing the latest choice.
    https://developers.facebook.com/docs/whatsapp/cloud-api/messages/reaction-messages
    """
    message = Message.objects.select_related("conversation").get(pk=message_id)
    metadata = message.metadata or {}
    wanted = metadata.get("business_reaction", "")
    if wanted == metadata.get("business_reaction_sent", "") or not message.whatsapp_message_id:
        return
    decision = breaker.allow()
    if decision.broken:
        error = {"code": TOKEN_INVALID, "reason": decision.broken}
        actions.record_business_reaction(message=message, emoji=wanted, error=error)
        return
    if not decision.allowed:
        deliver_reaction.schedule((message_id, attempt), delay=decision.wait + random.uniform(0, 1))
        return
    to = message.conversation.visitor_phone_number
    try:
        wamid = GraphClient().send_reaction(to, message.whatsapp_message_id, wanted)
    except GraphError as error:
        log.warning("reaction on message %s: %s (attempt %s)", message.pk, error, attempt)
        _count_in_breaker(error)
        if error.retryable and error.code != TOKEN_INVALID:
            if attempt < settings.WHATSAPP_SEND_ATTEMPTS:
                delay = retry_delay(error, attempt)
                deliver_reaction.schedule((message_id, attempt + 1), delay=delay)
                return
        reason = {"code": error.code, "reason": error.explanation}
        actions.record_business_reaction(message=message, emoji=wanted, error=reason)
        return
    breaker.record_success()
    actions.record_business_reaction(message=message, emoji=wanted, whatsapp_message_id=wamid)


# --- Inbound media --------------------------------------------------------------------------


@db_task()
def fetch_media(message_id, attempt=1):
    """Download an inbound message's media from WhatsApp into our storage (media_url).

    Stored or not, the message then goes on (attach_media, relay.media_unavailable): a
    customer's file to the agent's phone, an agent's file to a WhatsApp customer."""
    message = Message.objects.get(pk=message_id)
    if not message.awaits_media:
        return
    media_id = message.metadata["media_id"]
    decision = breaker.allow()
    if decision.broken:
        log.warning("media %s not fetched: %s", media_id, decision.broken)
        relay.media_unavailable(message, decision.broken)
        return
    if not decision.allowed:
        fetch_media.schedule((message_id, attempt), delay=decision.wait + random.uniform(0, 1))
        return
    try:
        media = GraphClient().download_media(media_id)
    except GraphError as error:
        if error.code == TOKEN_INVALID:
            breaker.mark_broken(error)
        elif error.server_side:
            breaker.record_failure(error)
        if error.retryable and attempt < settings.WHATSAPP_SEND_ATTEMPTS:
            fetch_media.schedule((message_id, attempt + 1), delay=retry_delay(error, attempt))
        else:
            log.error("media %s of message %s not fetched: %s", media_id, message_id, error)
            reason = f"The file could not be fetched from WhatsApp: {error.explanation}"
            relay.media_unavailable(message, reason)
        return
    breaker.record_success()
    if media.sha256 and not _checksum_matches(media.content, media.sha256):
        log.error("media %s: checksum mismatch, not stored", media_id)
        relay.media_unavailable(message, "The file arrived damaged from WhatsApp.")
        return
    if len(media.content) > settings.WHATSAPP_MAX_MEDIA_BYTES:
        log.error("media %s: %s bytes is over the limit, not stored", media_id, len(media.content))
        limit = settings.WHATSAPP_MAX_MEDIA_BYTES // (1024 * 1024)
        relay.media_unavailable(message, f"The file is over the {limit} MB limit.")
        return
    extension = mimetypes.guess_extension((media.mime_type or "").split(";")[0].strip()) or ""
    name = default_storage.save(
        f"whatsapp/{message.conversation_id}/{media_id}{extension}", ContentFile(media.content)
    )
    actions.attach_media(
        message=message,
        media_url=default_storage.url(name),
        storage_name=name,
        mime_type=media.mime_type,
        size=len(media.content),
    )


def _checksum_matches(content, expected):
    """Meta documents a SHA-256 of the file; seen both hex- and base64-encoded."""
    digest = hashlib.sha256(content).digest()
    return expected in (digest.hex(), base64.b64encode(digest).decode())


# --- Inbound --------------------------------------------------------------------------------


@db_task()
def process_webhook_event(event_id):
    _process(WebhookEvent.objects.get(pk=event_id), AgentNumbers())


@db_task()
def process_webhook_events(event_ids):
    """The events one ingest batch stored (wachat/whatsapp/ingest.py), in arrival order:
    read in one query, and the agents' numbers looked up once for the whole batch."""
    events = WebhookEvent.objects.in_bulk(event_ids)
    agent_numbers = AgentNumbers()
    for event_id in event_ids:
        if event_id in events:
            _process(events[event_id], agent_numbers)


def _process(event, agent_numbers):
    if event.processed:
        return
    try:
        batch = parse(event.payload)
    except MalformedPayload as exc:
        event.mark_failed(f"malformed payload, kept for review: {exc}", final=True)
        return
    try:
        with transaction.atomic():
            unknown = apply_batch(batch, agent_numbers=agent_numbers)
            if not unknown:
                event.mark_processed()  # in the same commit as its effects
    except Exception as exc:  # any failure: count it, retry with backoff, then wait for replay
        event.processed, event.processed_at = False, None  # the marking was rolled back too
        _retry_later(event, exc)
        return
    if unknown:
        # Everything else in the batch is applied (and idempotent); only these wait.
        _retry_later(event, StatusForUnknownMessage(f"unknown message(s): {', '.join(unknown)}"))


class AgentNumbers:
    """The WhatsApp numbers of agents, read once (per ingest batch) on first use: most
    inbound messages are from customers and need no agent row at all."""

    def __init__(self):
        self._numbers = None

    def agent_for(self, phone):
        if self._numbers is None:
            self._numbers = set(
                ChatAgent.objects.exclude(whatsapp_phone_number=None).values_list(
                    "whatsapp_phone_number", flat=True
                )
            )
        return relay.agent_for_number(phone) if phone in self._numbers else None


def _retry_later(event, exc):
    event.mark_failed(exc)
    log.warning("webhook event %s attempt %s failed: %s", event.pk, event.retry_count, exc)
    if event.retry_count < MAX_PROCESSING_ATTEMPTS:
        process_webhook_event.schedule((event.pk,), delay=backoff(event.retry_count))


def replay_webhook_event(event_id):
    """Process a stored event again, now, with fresh attempts. Idempotent: a message or
    status already applied is not applied twice. Returns the event after processing."""
    event = WebhookEvent.objects.get(pk=event_id)
    event.reset_for_replay()
    process_webhook_event.call_local(event.pk)
    event.refresh_from_db()
    return event


def apply_batch(batch, *, agent_numbers=None):
    """Apply every message, reaction and status of one webhook. Each step is idempotent.

    Returns the wamids that statuses or reactions refer to but we have not stored yet.
    """
    held_for = _numbers_with_held_messages() if batch.messages else set()
    for inbound in batch.messages:
        if inbound.sender in held_for:
            # The recipient wrote: their 24-hour window is open again.
            actions.release_held_messages(phone=inbound.sender)
        _receive(inbound, agent_numbers or AgentNumbers())
    unknown = []
    for reaction in batch.reactions:
        if not _already_reacted(reaction):
            found = actions.record_reaction(
                whatsapp_message_id=reaction.target_wamid, emoji=reaction.emoji, by=reaction.sender
            )
            if found is None:
                unknown.append(reaction.target_wamid)
    for status in batch.statuses:
        if status.status == "failed" and (status.error or {}).get("code") == WINDOW_CLOSED:
            if _window_closed_after_sending(status.wamid):
                continue
            if relay.hold_refused_copy(status.wamid, status.error):
                continue
        found = actions.record_whatsapp_status(
            whatsapp_message_id=status.wamid, status=status.status, error=status.error
        )
        if found is None and not _is_business_reaction(status.wamid):
            unknown.append(status.wamid)
    return unknown


def _window_closed_after_sending(wamid):
    """Meta accepted one of our messages, then reported it failed with 131047: the
    24-hour window was closed. Not a failure for its sender: the message goes back to
    pending and its delivery sends the re-engagement template (then holds it until the
    recipient writes). True when the status is dealt with here."""
    message = Message.objects.filter(whatsapp_message_id=wamid).first()
    if message is None:
        # Already put back (its wamid was dropped) and perhaps sent again: a replay.
        return Message.objects.filter(metadata__refused_wamid=wamid).exists()
    if actions.requeue_for_closed_window(message=message) is not None:
        transaction.on_commit(lambda: deliver_message(message.pk))
        return True
    return False  # it moved on (delivered, read, failed): record the status as usual


def _is_business_reaction(wamid):
    """A status about a reaction we sent (Meta reports "sent" for those; they have no row
    of their own). Only asked for wamids no message has, which are rare."""
    return Message.objects.filter(
        metadata__has_key="reaction_wamids", metadata__icontains=wamid
    ).exists()


def _numbers_with_held_messages():
    """One cheap query per webhook instead of a locking one per inbound message."""
    # Whole metadata, not metadata__awaiting_window: SQLite hands a digits-only string
    # back from a JSON key as a number.
    held = Message.objects.filter(
        status=Message.Status.PENDING, metadata__has_key="awaiting_window"
    ).values_list("metadata", flat=True)
    return {metadata["awaiting_window"] for metadata in held}


def _already_reacted(reaction):
    """An exact duplicate of a reaction we applied: skip it, so it emits no event."""
    target = Message.objects.filter(whatsapp_message_id=reaction.target_wamid).first()
    if target is None:
        return False
    current = (target.metadata or {}).get("reactions", {}).get(reaction.sender, "")
    return current == reaction.emoji


def _receive(inbound, agent_numbers):
    agent = agent_numbers.agent_for(inbound.sender)
    if agent is None:
        message, created = actions.receive_whatsapp_message(
            phone=inbound.sender,
            profile_name=inbound.profile_name,
            whatsapp_message_id=inbound.wamid,
            text=inbound.text,
            message_type=inbound.message_type,
            metadata=inbound.metadata or None,
        )
        known_as = (message.conversation.metadata or {}).get("visitor_name")
        if inbound.profile_name and known_as != inbound.profile_name:
            # A new profile name (a new conversation already starts with it).
            actions.record_whatsapp_profile(phone=inbound.sender, profile_name=inbound.profile_name)
        if created and inbound.media_id:
            transaction.on_commit(lambda: fetch_media(message.pk))
        return
    # An agent answering from their phone (a reply or a command): see relay.py.
    relay.receive_from_agent(agent, inbound)


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
