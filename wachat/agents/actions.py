"""Writes to the agents' own state: read markers, and the WhatsApp messages exchanged with
agents' phones (relay). Conversation changes go through wachat.conversations.actions."""

from django.db import IntegrityError, transaction

from wachat.agents.models import AgentPhoneMessage, ReadMarker
from wachat.conversations import actions as conversation_actions

Status = AgentPhoneMessage.Status


def mark_read(*, agent, conversation, up_to):
    """`agent` has seen `conversation` up to the message id `up_to`. Never moves back.

    The agent's ReadMarker (their unread counts) moves on, and so do a widget visitor's
    messages up to there, which turn read: see conversations.actions.mark_read_by_agent
    (message.updated for each, so the widget shows blue ticks). Returns the ReadMarker.
    """
    with transaction.atomic():
        marker, _ = ReadMarker.objects.select_for_update().get_or_create(
            agent=agent, conversation=conversation
        )
        if up_to > marker.last_read_message_id:
            marker.last_read_message_id = up_to
            marker.save(update_fields=["last_read_message_id", "updated_at"])
        # Even when the marker stays: a message pending at the last call may be sent now.
        conversation_actions.mark_read_by_agent(conversation=conversation, up_to=up_to)
    return marker


def claim_phone_message(*, agent, wamid, text):
    """The agent's WhatsApp message `wamid` arrived. Returns the new row, or None when it
    was handled before (a webhook delivered twice): the caller then does nothing."""
    try:
        with transaction.atomic():
            return AgentPhoneMessage.objects.create(
                agent=agent,
                direction=AgentPhoneMessage.Direction.FROM_AGENT,
                wamid=wamid,
                body=text,
                status=Status.RECEIVED,
            )
    except IntegrityError:
        return None


def answer_from_phone(*, phone_message, conversation, text, media=None):
    """The agent's WhatsApp message `phone_message` answers `conversation`: it becomes an
    agent message there (see send_agent_message: events, delivery to a WhatsApp customer).
    With `media` (kind, media_id, mime_type, filename) it is a photo or document captioned
    `text` (see send_agent_whatsapp_media: the caller fetches the file). Returns the Message."""
    with transaction.atomic():
        if media:
            message, _ = conversation_actions.send_agent_whatsapp_media(
                conversation=conversation,
                agent=phone_message.agent,
                client_id=f"phone-{phone_message.pk}",
                caption=text,
                **media,
            )
        else:
            message, _ = conversation_actions.send_agent_message(
                conversation=conversation,
                agent=phone_message.agent,
                text=text,
                client_id=f"phone-{phone_message.pk}",
            )
        phone_message.message = message
        phone_message.conversation = conversation
        phone_message.save(update_fields=["message", "conversation", "updated_at"])
    return message


def queue_to_phone(*, agent, body, message=None, conversation=None):
    """A WhatsApp message to `agent`'s phone, stored pending before anything is sent.

    Idempotent per (message, agent) for relayed copies. Returns (row, created); the caller
    enqueues delivery after commit.
    """
    if message is not None:
        with transaction.atomic():
            return AgentPhoneMessage.objects.get_or_create(
                message=message,
                agent=agent,
                defaults={"body": body, "conversation": conversation or message.conversation},
            )
    row = AgentPhoneMessage.objects.create(agent=agent, body=body, conversation=conversation)
    return row, True


def record_phone_message_sent(*, phone_message, wamid):
    with transaction.atomic():
        row = AgentPhoneMessage.objects.select_for_update().get(pk=phone_message.pk)
        row.wamid = wamid
        if row.can_move_to(Status.SENT):
            row.status = Status.SENT
        row.save(update_fields=["wamid", "status", "updated_at"])
    return row


def record_phone_message_failed(*, phone_message, reason, code=None):
    with transaction.atomic():
        row = AgentPhoneMessage.objects.select_for_update().get(pk=phone_message.pk)
        row.status = Status.FAILED
        row.error = {"code": code, "reason": reason}
        row.save(update_fields=["status", "error", "updated_at"])
    return row


def hold_phone_message(*, phone_message):
    """The agent's 24-hour window is closed: keep the message until they write again.

    Returns True when no other message to this agent was already held (the caller then
    sends the re-engagement template, once)."""
    with transaction.atomic():
        already_held = (
            AgentPhoneMessage.objects.filter(agent=phone_message.agent, status=Status.QUEUED)
            .exclude(pk=phone_message.pk)
            .exists()
        )
        AgentPhoneMessage.objects.filter(pk=phone_message.pk, status=Status.PENDING).update(
            status=Status.QUEUED
        )
    return not already_held


def hold_refused_phone_message(*, wamid, error):
    """WhatsApp accepted a copy for an agent's phone, then reported it failed with 131047
    (the agent's 24-hour window was closed): hold it like a send refused at once. The
    refused wamid stays in `error`, so a replayed status is recognised.

    Returns (row, first): row None when no sent copy has that wamid; first True when no
    other message to this agent was held already (the caller then sends the template)."""
    with transaction.atomic():
        row = (
            AgentPhoneMessage.objects.select_for_update()
            .select_related("agent")
            .filter(wamid=wamid, status=Status.SENT)
            .first()
        )
        if row is None:
            return None, False
        first = not AgentPhoneMessage.objects.filter(agent=row.agent, status=Status.QUEUED).exists()
        row.status = Status.QUEUED
        row.wamid = None  # sending it again gets a new one
        row.error = {**(error or {}), "refused_wamid": wamid}
        row.save(update_fields=["status", "wamid", "error", "updated_at"])
    return row, first


def release_held_phone_messages(*, agent):
    """The agent wrote, so their window is open: held messages go back to pending, oldest
    first. Returns their ids, for the caller to enqueue after commit."""
    with transaction.atomic():
        held = list(
            AgentPhoneMessage.objects.select_for_update()
            .filter(agent=agent, status=Status.QUEUED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        AgentPhoneMessage.objects.filter(pk__in=held).update(status=Status.PENDING)
    return held


def record_phone_message_status(*, wamid, status, error=None):
    """Meta reported `status` for a message sent to an agent's phone. Moves forward only.

    Returns None when no such message, else the row."""
    with transaction.atomic():
        row = AgentPhoneMessage.objects.select_for_update().filter(wamid=wamid).first()
        if row is None:
            return None
        if status in AgentPhoneMessage.RANK and row.can_move_to(status):
            row.status = status
            if error:
                row.error = error
            row.save(update_fields=["status", "error", "updated_at"])
    return row
