"""Every write to conversations and messages goes through these functions.

Each runs in one transaction, publishes its events after commit (events.py) and hands
outbound messages to the transports after commit (transports.py). Callers (views,
consumers, tasks, admin) parse input and check access, then call one action.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from wachat.conversations import events, routing, transports
from wachat.conversations.models import ChatAgent, Conversation, Message, VisitorSession

OPEN = [Conversation.Status.ACTIVE, Conversation.Status.WAITING]


class InvalidMessage(ValueError):
    """The text cannot become a message; the message says why, for the person who typed it."""


def clean_text(text):
    text = (text or "").strip()
    if not text:
        raise InvalidMessage("Message is empty.")
    limit = settings.WIDGET_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise InvalidMessage(f"Message is too long ({len(text)} characters; the limit is {limit}).")
    return text


def touch_visitor_session(*, session_id, ip_address="", user_agent="", referrer=None, utm=None):
    """Create the visitor's session on first sight, else count a page view.

    No events. Returns the VisitorSession.
    """
    now = timezone.now()
    utm = utm or {}
    with transaction.atomic():
        session, created = VisitorSession.objects.select_for_update().get_or_create(
            id=session_id,
            defaults={
                "ip_address": ip_address[:45],
                "user_agent": user_agent,
                "referrer": (referrer or None) and referrer[:500],
                "utm_source": utm.get("source"),
                "utm_medium": utm.get("medium"),
                "utm_campaign": utm.get("campaign"),
                "first_visit_at": now,
                "last_activity_at": now,
            },
        )
        if not created:
            session.page_views += 1
            session.last_activity_at = now
            session.save(update_fields=["page_views", "last_activity_at", "updated_at"])
    return session


def send_visitor_message(*, visitor_session, text, client_id):
    """A visitor typed `text` in the widget. Idempotent on `client_id`.

    Opens (and routes) a conversation if the visitor has none open. Emits
    message.created (and conversation.updated for a new conversation); hands the message
    to the transports (relay to the agent's WhatsApp). Returns (message, created).
    """
    text = clean_text(text)
    with transaction.atomic():
        existing = Message.objects.filter(
            conversation__visitor_session=visitor_session, client_id=client_id
        ).first()
        if existing:
            return existing, False
        conversation = _open_widget_conversation(visitor_session)
        message = Message(
            conversation=conversation,
            direction=Message.Direction.INBOUND,
            sender_type=Message.SenderType.VISITOR,
            content=text,
            client_id=client_id,
        )
        duplicates = Message.objects.filter(
            conversation__visitor_session=visitor_session, client_id=client_id
        )
        return _save_new_message(message, duplicates)


def send_agent_message(*, conversation, agent, text, client_id=None, whatsapp_message_id=None):
    """An agent answered, from the Conversation Center or from WhatsApp (relay).

    Idempotent on `client_id` (Center) or `whatsapp_message_id` (the agent's WhatsApp
    message). Emits message.created; hands the message to the transports (WhatsApp
    conversations go to the customer's phone). Returns (message, created).
    """
    text = clean_text(text)
    lookup = {"client_id": client_id} if client_id else {"whatsapp_message_id": whatsapp_message_id}
    with transaction.atomic():
        existing = Message.objects.filter(conversation=conversation, **lookup).first()
        if existing:
            return existing, False
        message = Message(
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            sender_type=Message.SenderType.AGENT,
            sender_id=agent.pk,
            content=text,
            client_id=client_id,
            whatsapp_message_id=whatsapp_message_id,
            metadata={"sender_name": agent.name},
        )
        return _save_new_message(
            message, Message.objects.filter(conversation=conversation, **lookup)
        )


def receive_whatsapp_message(
    *, phone, profile_name, whatsapp_message_id, text, message_type="text", metadata=None
):
    """A customer wrote to the business number on WhatsApp. Idempotent on the wamid.

    Opens (and routes) a `whatsapp` conversation for that number if none is open. Emits
    message.created. Returns (message, created).
    """
    with transaction.atomic():
        existing = Message.objects.filter(whatsapp_message_id=whatsapp_message_id).first()
        if existing:
            return existing, False
        conversation = (
            Conversation.objects.filter(
                visitor_phone_number=phone, source=Conversation.Source.WHATSAPP, status__in=OPEN
            )
            .order_by("-created_at")
            .first()
        )
        if conversation is None:
            conversation = Conversation.objects.create(
                source=Conversation.Source.WHATSAPP,
                visitor_phone_number=phone,
                whatsapp_phone_number=settings.WHATSAPP_BUSINESS_NUMBER,
                status=Conversation.Status.WAITING,
                metadata={"visitor_name": profile_name} if profile_name else None,
            )
            _route(conversation)
        message = Message(
            conversation=conversation,
            direction=Message.Direction.INBOUND,
            sender_type=Message.SenderType.VISITOR,
            message_type=message_type,
            content=text,
            whatsapp_message_id=whatsapp_message_id,
            status=Message.Status.DELIVERED,
            metadata=metadata,
        )
        duplicates = Message.objects.filter(whatsapp_message_id=whatsapp_message_id)
        return _save_new_message(message, duplicates)


def record_sent(*, message, whatsapp_message_id):
    """The Graph API accepted `message` under `whatsapp_message_id`. Emits message.updated."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        message.whatsapp_message_id = whatsapp_message_id
        if message.can_move_to(Message.Status.SENT):
            message.status = Message.Status.SENT
        message.save(update_fields=["whatsapp_message_id", "status", "updated_at"])
        events.message_updated(message)
    return message


def record_failed(*, message, reason, code=None):
    """Delivery of `message` failed for good; the sender sees `reason`. Emits message.updated."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        message.status = Message.Status.FAILED
        message.metadata = {**(message.metadata or {}), "error": {"code": code, "reason": reason}}
        message.save(update_fields=["status", "metadata", "updated_at"])
        events.message_updated(message)
    return message


def record_whatsapp_status(*, whatsapp_message_id, status, error=None):
    """Meta reported `status` for a message we sent. Moves status forward only.

    Emits message.updated when the status changed. Returns None when no message has that
    wamid yet (the caller retries later), else the message.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(whatsapp_message_id=whatsapp_message_id)
            .first()
        )
        if message is None:
            return None
        if message.can_move_to(status):
            message.status = status
            if error:
                message.metadata = {**(message.metadata or {}), "error": error}
            message.save(update_fields=["status", "metadata", "updated_at"])
            events.message_updated(message)
    return message


def record_reaction(*, whatsapp_message_id, emoji, by):
    """`by` reacted to a message with `emoji` (empty: removed). Emits message.updated.

    Returns None when no message has that wamid.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(whatsapp_message_id=whatsapp_message_id)
            .first()
        )
        if message is None:
            return None
        reactions = dict((message.metadata or {}).get("reactions", {}))
        if emoji:
            reactions[by] = emoji
        else:
            reactions.pop(by, None)
        message.metadata = {**(message.metadata or {}), "reactions": reactions}
        message.save(update_fields=["metadata", "updated_at"])
        events.message_updated(message)
    return message


def _open_widget_conversation(visitor_session):
    conversation = (
        Conversation.objects.filter(visitor_session=visitor_session, status__in=OPEN)
        .order_by("-created_at")
        .first()
    )
    if conversation is None:
        conversation = Conversation.objects.create(
            visitor_session=visitor_session,
            source=Conversation.Source.WIDGET,
            whatsapp_phone_number=settings.WHATSAPP_BUSINESS_NUMBER,
            status=Conversation.Status.WAITING,
        )
        _route(conversation)
    return conversation


def _route(conversation):
    """Assign a new conversation to an available agent, or leave it waiting.

    Agent rows are locked so concurrent routings never push an agent over capacity.
    """
    candidates = list(
        ChatAgent.objects.select_for_update()
        .select_related("user")
        .filter(status=ChatAgent.Status.ONLINE, auto_assign=True)
        .order_by("pk")
    )
    open_counts = _open_counts([agent.pk for agent in candidates])
    agent = routing.pick_agent(candidates, open_counts)
    if agent is not None:
        conversation.agent = agent
        conversation.status = Conversation.Status.ACTIVE
        conversation.save(update_fields=["agent", "status", "updated_at"])
    events.conversation_updated(conversation)


def _open_counts(agent_ids):
    counts = {}
    for agent_id in Conversation.objects.filter(
        agent_id__in=agent_ids, status__in=OPEN
    ).values_list("agent_id", flat=True):
        counts[agent_id] = counts.get(agent_id, 0) + 1
    return counts


def _save_new_message(message, duplicates):
    """Insert `message`, or return the row a concurrent identical request inserted first
    (found by the `duplicates` queryset)."""
    claimed = transports.claim(message)
    if not claimed and message.status == Message.Status.PENDING:
        message.status = Message.Status.SENT  # stored and shown: nowhere else to deliver
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return duplicates.get(), False
    transports.enqueue_on_commit(message, claimed)
    Conversation.objects.filter(pk=message.conversation_id).update(updated_at=timezone.now())
    events.message_created(message)
    return message, True
