"""Every write to conversations and messages goes through these functions.

Each runs in one transaction, publishes its events after commit (events.py) and hands
outbound messages to the transports after commit (transports.py). Callers (views,
consumers, tasks, admin) parse input and check access, then call one action.
"""

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from wachat.conversations import attachments, events, routing, selectors, transports
from wachat.conversations.models import ChatAgent, Conversation, Label, Message, VisitorSession
from wachat.ops import metrics

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
        message = _agent_message(
            conversation,
            agent,
            text,
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
    # No savepoint of its own inside the worker's per-event transaction (a round trip
    # each way): any failure here fails that whole transaction, which is retried.
    with transaction.atomic(savepoint=False):
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
        transaction.on_commit(lambda: metrics.deliveries.labels("sent").inc())
    return message


def record_failed(*, message, reason, code=None):
    """Delivery of `message` failed for good; the sender sees `reason`. Emits message.updated."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        message.status = Message.Status.FAILED
        message.metadata = {**(message.metadata or {}), "error": {"code": code, "reason": reason}}
        message.save(update_fields=["status", "metadata", "updated_at"])
        events.message_updated(message)
        transaction.on_commit(lambda: metrics.deliveries.labels("failed").inc())
    return message


def record_whatsapp_status(*, whatsapp_message_id, status, error=None):
    """Meta reported `status` for a message we sent. Moves status forward only.

    Emits message.updated when the status changed. Returns None when no message has that
    wamid yet (the caller retries later), else the message (or, for a message the relay
    sent to an agent's phone, its AgentPhoneMessage row).
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(whatsapp_message_id=whatsapp_message_id)
            .first()
        )
        if message is None:
            from wachat.agents.actions import record_phone_message_status  # agents import us

            return record_phone_message_status(
                wamid=whatsapp_message_id, status=status, error=error
            )
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


# --- Routing, queue and presence ------------------------------------------------------------
#
# Lock order, to stay free of deadlocks: agent rows first (always in one query ordered by
# pk), then conversation rows. Waiting conversations are locked with SKIP LOCKED, so a
# queue drain never waits on a conversation someone else is changing.


class ActionRefused(ValueError):
    """The change is not possible in the conversation's current state; says why."""


def set_agent_status(*, agent, status, automatic=False):
    """An agent went online, away or offline (by hand, or `automatic`ally when idle).

    Who chose "away" is remembered (auto_away_key): only an automatic away ends by itself
    when the agent is active again (record_agent_activity).

    Going online assigns waiting conversations to whoever has room; going offline puts the
    agent's open conversations back in the queue and reassigns them. Emits agent.updated,
    conversation.updated and message.created (assignment records). Returns the agent.
    """
    if status not in ChatAgent.Status.values:
        raise ActionRefused(f"Unknown status {status!r}.")
    with transaction.atomic():
        agents = _lock_agents(include=agent.pk)
        agent = next(a for a in agents if a.pk == agent.pk)
        previous = agent.status
        agent.status = status
        if status == ChatAgent.Status.ONLINE:
            agent.last_activity_at = timezone.now()
        agent.save(update_fields=["status", "last_activity_at", "updated_at"])
        events.agent_updated(agent)
        # Not after commit: a marker left by a rolled-back change is harmless, since it is
        # only acted on while the agent is away.
        if automatic and status == ChatAgent.Status.AWAY:
            cache.set(auto_away_key(agent.pk), True, timeout=None)
        else:
            cache.delete(auto_away_key(agent.pk))
        if status == ChatAgent.Status.OFFLINE and previous != ChatAgent.Status.OFFLINE:
            for conversation in Conversation.objects.select_for_update().filter(
                agent=agent, status__in=OPEN
            ):
                _assign(conversation, None, note=f"{agent.name} went offline; back in the queue.")
        _assign_waiting(agents)
    return agent


def record_agent_activity(*, agent):
    """The agent's Conversation Center reported activity (heartbeat).

    An agent the inactivity check put away (not one who chose away) comes back online:
    see set_agent_status for the events. Returns the agent when their status changed, else
    None.
    """
    ChatAgent.objects.filter(pk=agent.pk).update(last_activity_at=timezone.now())
    if not cache.get(auto_away_key(agent.pk)):
        return None
    agent = ChatAgent.objects.select_related("user").get(pk=agent.pk)
    if agent.status != ChatAgent.Status.AWAY:
        cache.delete(auto_away_key(agent.pk))
        return None
    return set_agent_status(agent=agent, status=ChatAgent.Status.ONLINE, automatic=True)


def auto_away_key(agent_id):
    """Cache key marking an agent the inactivity check put away. The cache is shared by
    every process that needs it: the web process that also runs the worker (embedded mode)
    or Redis (scaled out). A lost marker only means the agent sets "online" by hand."""
    return f"wachat:auto-away:{agent_id}"


def mark_idle_agents_away(*, idle_for):
    """Online agents with no activity for `idle_for` (a timedelta) become away; they keep
    their conversations but get no new ones. Emits agent.updated. Returns how many."""
    cutoff = timezone.now() - idle_for
    idle = ChatAgent.objects.filter(status=ChatAgent.Status.ONLINE, last_activity_at__lt=cutoff)
    count = 0
    for agent in idle.select_related("user"):
        set_agent_status(agent=agent, status=ChatAgent.Status.AWAY, automatic=True)
        count += 1
    return count


def assign_waiting():
    """Hand waiting conversations, oldest first, to available agents while anyone has room.

    Emits conversation.updated and message.created per assignment. Returns how many.
    """
    with transaction.atomic():
        return _assign_waiting(_lock_agents())


def assign_conversation(*, conversation, agent, by, only_if_unassigned=False):
    """Assign (or transfer, or with agent=None return to the queue) `conversation` by hand.

    Manual assignment may exceed an agent's capacity: a person decided. With
    `only_if_unassigned` (an agent taking a waiting conversation), refuses when someone
    else got it first. Emits conversation.updated and message.created (the record).
    Returns the conversation.
    """
    with transaction.atomic():
        agents = _lock_agents(include=[a for a in [agent and agent.pk, by.pk] if a])
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not conversation.is_open:
            raise ActionRefused("The conversation is closed; reopen it first.")
        if only_if_unassigned and conversation.agent_id is not None:
            raise ActionRefused("Someone else already took this conversation.")
        if agent is not None and conversation.agent_id == agent.pk:
            return conversation
        if agent is None:
            note = f"{by.name} returned the conversation to the queue."
        elif agent.pk == by.pk:
            note = f"{by.name} took the conversation."
        else:
            note = f"{by.name} assigned the conversation to {agent.name}."
        _assign(conversation, agent, note=note)
        if agent is None:
            _assign_waiting(agents)
    return conversation


def close_conversation(*, conversation, by=None):
    """Close `conversation`; its agent's freed capacity goes to the queue.

    Emits conversation.updated and message.created (the record, and any assignments).
    Returns the conversation.
    """
    with transaction.atomic():
        agents = _lock_agents()
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not conversation.is_open:
            return conversation
        conversation.status = Conversation.Status.CLOSED
        conversation.snoozed_until = None  # a closed conversation has nothing to wake up for
        conversation.save(update_fields=["status", "snoozed_until", "updated_at"])
        _record(conversation, f"Closed by {by.name}." if by else "Closed.")
        events.conversation_updated(conversation)
        _assign_waiting(agents)
    return conversation


def reopen_conversation(*, conversation, by):
    """Reopen a closed conversation, assigned to the agent `by` who reopened it.

    Refused when the visitor (or WhatsApp number) already has another open conversation.
    Emits conversation.updated and message.created. Returns the conversation.
    """
    with transaction.atomic():
        _lock_agents(include=by.pk)
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.is_open:
            return conversation
        same_person = Conversation.objects.filter(status__in=OPEN).exclude(pk=conversation.pk)
        if conversation.visitor_session_id:
            same_person = same_person.filter(visitor_session_id=conversation.visitor_session_id)
        else:
            same_person = same_person.filter(
                visitor_phone_number=conversation.visitor_phone_number, source=conversation.source
            )
        if same_person.exists():
            raise ActionRefused("This visitor already has an open conversation.")
        _assign(conversation, by, note=f"Reopened by {by.name}.")
    return conversation


def set_priority(*, conversation, priority, by):
    """Set `conversation`'s priority (0 low, 1 normal, 2 high, 3 urgent).

    Emits conversation.updated. Returns the conversation.
    """
    if priority not in PRIORITIES:
        raise ActionRefused("Priority must be 0 (low) to 3 (urgent).")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.priority = priority
        conversation.save(update_fields=["priority", "updated_at"])
        events.conversation_updated(conversation)
    return conversation


def add_note(*, conversation, agent, text, client_id):
    """A private note in `conversation`, visible to agents only. Idempotent on `client_id`.

    Never handed to a transport (it goes nowhere) and never published to the visitor.
    Emits message.created (agents only). Returns (message, created).
    """
    text = clean_text(text)
    with transaction.atomic():
        duplicates = Message.objects.filter(conversation=conversation, client_id=client_id)
        existing = duplicates.first()
        if existing:
            return existing, False
        message = _agent_message(
            conversation,
            agent,
            text,
            client_id=client_id,
            status=Message.Status.SENT,
            metadata={"private": True, "note": True, "sender_name": agent.name},
        )
        if not _insert_once(message):
            return duplicates.get(), False
        events.message_created(message)
    return message, True


def signal_typing(*, conversation, agent, typing):
    """The agent is (or stopped) typing in `conversation`. Stores nothing; emits typing."""
    events.typing(conversation, sender_type=Message.SenderType.AGENT, typing=bool(typing))


PRIORITIES = {0: "low", 1: "normal", 2: "high", 3: "urgent"}


def _lock_agents(include=()):
    """Lock, in one query ordered by pk, every agent routing may pick plus `include`."""
    include = [include] if isinstance(include, int) else list(include)
    # Lock agent rows only, not the joined users (FOR UPDATE OF, where the database has it).
    of = ("self",) if connection.features.has_select_for_update_of else ()
    return list(
        ChatAgent.objects.select_for_update(of=of)
        .select_related("user")
        .only(*ROUTING_FIELDS)
        .filter(Q(status=ChatAgent.Status.ONLINE, auto_assign=True) | Q(pk__in=include))
        .order_by("pk")
    )


ROUTING_FIELDS = [
    "status",
    "auto_assign",
    "max_concurrent_chats",
    "last_activity_at",
    "user__username",
    "user__first_name",
    "user__last_name",
]


def _assign_waiting(agents):
    counts = _open_counts([agent.pk for agent in agents])
    if routing.pick_agent(agents, counts) is None:
        return 0
    waiting = (
        Conversation.objects.select_for_update(skip_locked=True)
        .filter(status=Conversation.Status.WAITING, agent__isnull=True)
        .order_by("created_at", "pk")
    )
    assigned = 0
    for conversation in waiting[:200]:
        agent = routing.pick_agent(agents, counts)
        if agent is None:
            break
        _assign(conversation, agent, note=f"Assigned to {agent.name} from the queue.")
        counts[agent.pk] = counts.get(agent.pk, 0) + 1
        assigned += 1
    return assigned


def _assign(conversation, agent, *, note, new=False):
    """Give `conversation` to `agent` (None: back to the queue), recorded in its history.

    A `new` conversation was never announced, so nobody needs to hear it left the queue.
    """
    previous_agent_id = events.UNCHANGED if new else conversation.agent_id
    conversation.agent = agent
    conversation.status = Conversation.Status.ACTIVE if agent else Conversation.Status.WAITING
    conversation.save(update_fields=["agent", "status", "updated_at"])
    _record(conversation, note, agent_id=agent and agent.pk)
    events.conversation_updated(conversation, previous_agent_id=previous_agent_id)


def _record(conversation, text, **data):
    """A system message in the conversation's history, for agents only."""
    message = Message.objects.create(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        sender_type=Message.SenderType.SYSTEM,
        content=text,
        status=Message.Status.SENT,
        metadata={"private": True, **data},
    )
    events.message_created(message)
    return message


def _open_widget_conversation(visitor_session, new_id=None):
    """The visitor's open conversation, else a new one (with id `new_id`, if given)."""
    conversation = (
        Conversation.objects.filter(visitor_session=visitor_session, status__in=OPEN)
        .order_by("-created_at")
        .first()
    )
    if conversation is None:
        conversation = Conversation.objects.create(
            **({"id": new_id} if new_id else {}),
            visitor_session=visitor_session,
            source=Conversation.Source.WIDGET,
            whatsapp_phone_number=settings.WHATSAPP_BUSINESS_NUMBER,
            status=Conversation.Status.WAITING,
        )
        _route(conversation)
    return conversation


def _route(conversation):
    """Assign a new conversation to an available agent, or leave it waiting in the queue.

    Agent rows are locked so concurrent routings never push an agent over capacity.
    """
    agents = _lock_agents()
    agent = routing.pick_agent(agents, _open_counts([a.pk for a in agents]))
    if agent is None:
        events.conversation_updated(conversation)
        return
    _assign(conversation, agent, note=f"Assigned to {agent.name} automatically.", new=True)


def _open_counts(agent_ids):
    rows = (
        Conversation.objects.filter(agent_id__in=agent_ids, status__in=OPEN)
        .values("agent_id")
        .annotate(open=Count("pk"))
        .order_by()
    )
    return {row["agent_id"]: row["open"] for row in rows}


def _agent_message(conversation, agent, text, **fields):
    return Message(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        sender_type=Message.SenderType.AGENT,
        sender_id=agent.pk,
        content=text,
        **fields,
    )


def _insert_once(message):
    """Insert `message`; False if a concurrent identical request inserted it first (the
    unique wamid or client id refused this one)."""
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return False
    return True


def _save_new_message(message, duplicates):
    """Insert `message`, or return the row a concurrent identical request inserted first
    (found by the `duplicates` queryset)."""
    claimed = transports.claim(message)
    if not claimed and message.status == Message.Status.PENDING:
        message.status = Message.Status.SENT  # stored and shown: nowhere else to deliver
    if not _insert_once(message):
        return duplicates.get(), False
    if not message.awaits_media:  # else it goes on with its file (attach_media)
        transports.enqueue_on_commit(message, claimed)
    Conversation.objects.filter(pk=message.conversation_id).update(updated_at=timezone.now())
    events.message_created(message)
    if message.sender_type == Message.SenderType.VISITOR:
        _wake_on_reply(message.conversation)
    return message, True


def update_visitor_profile(*, visitor_session, name="", email="", phone="", consent=False):
    """The visitor filled in the widget's pre-chat form (or the site called identify()).

    Stores the non-empty fields in the session's metadata (contact details only with
    `consent`, which is timestamped) and names the visitor on their open conversation.
    Emits conversation.updated for that conversation. Returns the VisitorSession.
    """
    with transaction.atomic():
        session = VisitorSession.objects.select_for_update().get(pk=visitor_session.pk)
        profile = dict(session.metadata or {})
        if name:
            profile["name"] = name
        if consent and (email or phone):
            profile.update({k: v for k, v in {"email": email, "phone": phone}.items() if v})
            profile["consent_at"] = timezone.now().isoformat()
        session.metadata = profile
        session.save(update_fields=["metadata", "updated_at"])
        conversation = (
            Conversation.objects.filter(visitor_session=session, status__in=OPEN)
            .order_by("-created_at")
            .first()
        )
        if conversation is not None and name:
            conversation.metadata = {**(conversation.metadata or {}), "visitor_name": name}
            conversation.save(update_fields=["metadata", "updated_at"])
            events.conversation_updated(conversation)
    return session


def leave_offline_message(*, visitor_session, name, email, text, client_id):
    """Outside business hours (or with nobody online) the widget's offline form sends the
    visitor's name, e-mail and message; agents answer when they are back.

    Validates the text first so nothing is stored for an invalid message. Stores the
    profile, sends the message (see send_visitor_message) and marks the conversation
    `offline` in its metadata. Emits conversation.updated and message.created.
    Returns (message, created).
    """
    clean_text(text)
    with transaction.atomic():
        update_visitor_profile(
            visitor_session=visitor_session, name=name, email=email, consent=True
        )
        message, created = send_visitor_message(
            visitor_session=visitor_session, text=text, client_id=client_id
        )
        conversation = Conversation.objects.select_for_update().get(pk=message.conversation_id)
        conversation.metadata = {
            **(conversation.metadata or {}),
            "offline": True,
            "visitor_name": name,
            "visitor_email": email,
        }
        conversation.save(update_fields=["metadata", "updated_at"])
        events.conversation_updated(conversation)
    return message, created


# --- WhatsApp delivery: 24-hour window, media, profiles (issue 4) ---------------------------

# A message held for a closed 24-hour window: the number it waits for, and the template
# sent for it. Dropped when it is released (or retried after failing).
WINDOW_KEYS = ("awaiting_window", "reengaged_by", "window_closed")


def hold_for_window(*, message, phone):
    """`message` could not be sent: `phone`'s 24-hour window is closed. Keep it pending,
    held until that number writes again (release_held_messages). Emits message.updated.

    Returns True when the caller should send the re-engagement template (no other message
    to that number is already held, so the recipient gets one template, not one per message).
    """
    with transaction.atomic():
        already_held = (
            Message.objects.filter(status=Message.Status.PENDING, metadata__awaiting_window=phone)
            .exclude(pk=message.pk)
            .exists()
        )
        message = Message.objects.select_for_update().get(pk=message.pk)
        message.metadata = {**(message.metadata or {}), "awaiting_window": phone}
        message.save(update_fields=["metadata", "updated_at"])
        events.message_updated(message)
    return not already_held


def requeue_for_closed_window(*, message):
    """WhatsApp accepted `message`, then reported it failed with 131047 (the 24-hour
    window was closed). It goes back to pending, marked `window_closed` so delivery sends
    the re-engagement template instead of trying again; its wamid is dropped (delivery
    gets a new one) and kept as `refused_wamid`, so a replayed status is recognised.
    Emits message.updated. Returns the message, or None when it has moved on (delivered,
    read, failed) and the failure is an ordinary one.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("conversation")
            .filter(pk=message.pk, status=Message.Status.SENT)
            .first()
        )
        if message is None:
            return None
        message.metadata = {
            **(message.metadata or {}),
            "window_closed": True,
            "refused_wamid": message.whatsapp_message_id,
        }
        message.whatsapp_message_id = None
        message.status = Message.Status.PENDING
        message.save(update_fields=["metadata", "whatsapp_message_id", "status", "updated_at"])
        events.message_updated(message)
    return message


def release_held_messages(*, phone):
    """`phone` wrote, so its 24-hour window is open: hand the messages held for it back to
    the transports, oldest first. Emits message.updated for each. Returns how many."""
    with transaction.atomic():
        held = list(
            Message.objects.select_for_update()
            .select_related("conversation")
            .filter(status=Message.Status.PENDING, metadata__awaiting_window=phone)
            .order_by("pk")
        )
        for message in held:
            message.metadata = {
                k: v for k, v in (message.metadata or {}).items() if k not in WINDOW_KEYS
            }
            message.save(update_fields=["metadata", "updated_at"])
            transports.enqueue_on_commit(message, transports.claim(message))
            events.message_updated(message)
    return len(held)


def record_template_sent(
    *, conversation, template, language, whatsapp_message_id, private=False, held_message=None
):
    """A template message went out in `conversation` (the 24-hour window was closed).

    Stored as a system `template` message, status sent; `private` (the template went to
    the agent's phone, not to the customer) keeps it from the visitor. `held_message`, the
    message the template was sent for, is marked so the template is never sent twice for
    it. Emits message.created. Returns (message, created).
    """
    with transaction.atomic():
        if held_message is not None:
            held = Message.objects.select_for_update().get(pk=held_message.pk)
            held.metadata = {**(held.metadata or {}), "reengaged_by": whatsapp_message_id}
            held.save(update_fields=["metadata", "updated_at"])
        message = Message(
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            sender_type=Message.SenderType.SYSTEM,
            message_type=Message.Type.TEMPLATE,
            content=(
                f'Template "{template}" sent: more than 24 hours since the last message, so '
                "WhatsApp only allows a template. Held messages go out when they reply."
            ),
            whatsapp_message_id=whatsapp_message_id,
            status=Message.Status.SENT,
            metadata={"template": {"name": template, "language": language}, "private": private},
        )
        duplicates = Message.objects.filter(whatsapp_message_id=whatsapp_message_id)
        return _save_new_message(message, duplicates)


def attach_media(*, message, media_url, storage_name, mime_type="", size=None):
    """The file of an inbound media message is stored. Emits message.updated.

    A message that was waiting for its file (Message.awaits_media) is handed to the
    transports now: a customer's photo reaches the agent's phone as a photo, an agent's
    photo from their phone reaches a WhatsApp customer. The row lock makes that happen once.
    """
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        awaited = message.awaits_media
        message.media_url = media_url
        message.metadata = {
            **(message.metadata or {}),
            "storage_name": storage_name,
            "mime_type": mime_type or (message.metadata or {}).get("mime_type"),
            **({"size": size} if size is not None else {}),
        }
        message.save(update_fields=["media_url", "metadata", "updated_at"])
        events.message_updated(message)
        if awaited:
            transports.enqueue_on_commit(message, transports.claim(message))
    return message


def record_media_unavailable(*, message, reason):
    """The file of an inbound media message cannot be fetched from WhatsApp (`reason`).

    A customer's message goes on to the transports without it (relayed as text); an
    agent's message from their phone fails with `reason`. Emits message.updated. Returns
    the message, or None when it was no longer waiting for its file (nothing changed).
    """
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if not message.awaits_media:
            return None
        message.metadata = {**(message.metadata or {}), "media_error": reason}
        if message.sender_type == Message.SenderType.AGENT:
            message.status = Message.Status.FAILED
            message.metadata["error"] = {"code": None, "reason": reason}
        else:
            transports.enqueue_on_commit(message, transports.claim(message))
        message.save(update_fields=["status", "metadata", "updated_at"])
        events.message_updated(message)
    return message


def send_agent_whatsapp_media(
    *, conversation, agent, client_id, kind, media_id, caption="", mime_type="", filename=""
):
    """An agent sent a photo or document (`kind`) from their own WhatsApp (relay): the file
    is still on WhatsApp under `media_id`. Idempotent on client_id.

    Emits message.created; the caller fetches the file (attach_media), and only then is
    the message handed to the transports (a WhatsApp customer gets the file). Returns
    (message, created).
    """
    with transaction.atomic():
        duplicates = Message.objects.filter(conversation=conversation, client_id=client_id)
        existing = duplicates.first()
        if existing:
            return existing, False
        metadata = {"sender_name": agent.name, "media_id": media_id, "mime_type": mime_type}
        if filename:
            metadata["filename"] = filename
        message = _agent_message(
            conversation,
            agent,
            (caption or "").strip(),
            client_id=client_id,
            message_type=kind,
            metadata=metadata,
        )
        return _save_new_message(message, duplicates)


def record_whatsapp_profile(*, phone, profile_name):
    """WhatsApp told us `phone`'s profile name: open conversations with that number show
    it. Emits conversation.updated for each conversation whose name changed."""
    with transaction.atomic():
        conversations = Conversation.objects.select_for_update().filter(
            visitor_phone_number=phone, source=Conversation.Source.WHATSAPP, status__in=OPEN
        )
        for conversation in conversations:
            if (conversation.metadata or {}).get("visitor_name") == profile_name:
                continue
            conversation.metadata = {**(conversation.metadata or {}), "visitor_name": profile_name}
            conversation.save(update_fields=["metadata", "updated_at"])
            events.conversation_updated(conversation)


def signal_visitor_typing(*, visitor_session, typing):
    """The visitor is (or stopped) typing in the widget. Stores nothing; emits typing for
    their open conversation (none open: nobody to tell)."""
    conversation = (
        Conversation.objects.filter(visitor_session=visitor_session, status__in=OPEN)
        .order_by("-created_at")
        .first()
    )
    if conversation is not None:
        events.typing(conversation, sender_type=Message.SenderType.VISITOR, typing=bool(typing))


def retry_failed_message(*, message):
    """The sender asked to try a failed message again: back to pending, the old failure
    reason kept as `previous_error`, handed to the transports. Emits message.updated.

    Returns the message, or None when it is not failed (nothing to retry).
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("conversation")
            .filter(pk=message.pk, status=Message.Status.FAILED)
            .first()
        )
        if message is None:
            return None
        metadata = {k: v for k, v in (message.metadata or {}).items() if k not in WINDOW_KEYS}
        if "error" in metadata:
            metadata["previous_error"] = metadata.pop("error")
        message.metadata = metadata
        message.status = Message.Status.PENDING
        message.save(update_fields=["status", "metadata", "updated_at"])
        transports.enqueue_on_commit(message, transports.claim(message))
        events.message_updated(message)
    return message


def verify_visitor_identity(*, visitor_session, user_id):
    """The host site vouched (HMAC, checked by the caller) that this visitor is its user
    `user_id`. The first session verified for that user becomes theirs on every device:
    this session's conversations move to it, so history follows the person.

    Emits conversation.updated for each moved conversation. Returns the user's session.
    """
    now = timezone.now()
    with transaction.atomic():
        known = (
            VisitorSession.objects.select_for_update()
            .filter(metadata__user_id=user_id)
            .order_by("created_at")
            .first()
        )
        if known is None:
            session = VisitorSession.objects.select_for_update().get(pk=visitor_session.pk)
            session.metadata = {**(session.metadata or {}), "user_id": user_id}
            session.metadata["verified_at"] = now.isoformat()
            session.save(update_fields=["metadata", "updated_at"])
            return session
        if known.pk != visitor_session.pk:
            moved = list(Conversation.objects.filter(visitor_session_id=visitor_session.pk))
            for conversation in moved:
                conversation.visitor_session = known
                conversation.save(update_fields=["visitor_session", "updated_at"])
                events.conversation_updated(conversation)
        known.last_activity_at = now
        known.save(update_fields=["last_activity_at", "updated_at"])
    return known


# --- Labels, snooze -------------------------------------------------------------------------

LABEL_COLORS = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777"]
# "Until the visitor replies" is a snooze with no time: stored as the latest date every
# supported database accepts, so snoozed_until alone says whether and until when.
UNTIL_REPLY = datetime(9999, 12, 31, tzinfo=UTC)
MAX_SNOOZE = timedelta(days=366)


def add_label(*, conversation, by, label_id=None, name=""):
    """Put a label on `conversation`: an existing one (`label_id`), or one found or created
    by `name` (1 to 50 characters; the same name in another case is the same label).

    Emits conversation.updated. Returns the conversation.
    """
    with transaction.atomic():
        if label_id is not None:
            label = Label.objects.filter(pk=label_id).first() if _is_id(label_id) else None
            if label is None:
                raise ActionRefused("Unknown label.")
        else:
            name = " ".join((name or "").split())
            if not name:
                raise ActionRefused("A label needs a name.")
            if len(name) > 50:
                raise ActionRefused("Label names are 50 characters at most.")
            label = Label.objects.filter(name__iexact=name).first()
            if label is None:
                color = LABEL_COLORS[Label.objects.count() % len(LABEL_COLORS)]
                try:
                    with transaction.atomic():
                        label = Label.objects.create(name=name, color=color)
                except IntegrityError:  # someone created it at the same moment
                    label = Label.objects.get(name=name)
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.labels.add(label)
        events.conversation_updated(conversation)
    return conversation


def remove_label(*, conversation, by, label_id):
    """Take a label off `conversation`. Emits conversation.updated. Returns the conversation."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        label = conversation.labels.filter(pk=label_id).first() if _is_id(label_id) else None
        if label is None:
            raise ActionRefused("Unknown label.")
        conversation.labels.remove(label)
        events.conversation_updated(conversation)
    return conversation


def _is_id(value):
    return isinstance(value, int) and not isinstance(value, bool)


def snooze_conversation(*, conversation, by, until):
    """Take `conversation` out of the inbox until `until` (an aware datetime), or until the
    visitor writes (`until` is None). It comes back by wake_snoozed, or on the visitor's
    next message.

    Emits conversation.updated and message.created (the record). Returns the conversation.
    """
    now = timezone.now()
    if until is not None:
        if timezone.is_naive(until):
            raise ActionRefused("The snooze time needs a time zone.")
        if until <= now:
            raise ActionRefused("Pick a time in the future.")
        if until > now + MAX_SNOOZE:
            raise ActionRefused("Snooze for a year at most.")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not conversation.is_open:
            raise ActionRefused("Closed conversations cannot be snoozed.")
        conversation.snoozed_until = until or UNTIL_REPLY
        conversation.save(update_fields=["snoozed_until", "updated_at"])
        when = (
            "the visitor replies"
            if until is None
            else until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        )
        _record(
            conversation,
            f"Snoozed by {by.name} until {when}.",
            snoozed_until=None if until is None else until.isoformat(),
        )
        events.conversation_updated(conversation)
    return conversation


def unsnooze_conversation(*, conversation, by=None, reason=""):
    """Bring a snoozed conversation back to the inbox (by hand, when the time came, or
    because the visitor wrote). Does nothing if it is not snoozed.

    Emits conversation.updated and message.created (the record). Returns the conversation.
    """
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.snoozed_until is None:
            return conversation
        conversation.snoozed_until = None
        conversation.save(update_fields=["snoozed_until", "updated_at"])
        _record(conversation, reason or (f"Snooze ended by {by.name}." if by else "Snooze ended."))
        events.conversation_updated(conversation)
    return conversation


def wake_snoozed():
    """Snoozed conversations whose time has come return to the inbox (see
    unsnooze_conversation for the events). Returns how many."""
    due = Conversation.objects.filter(
        snoozed_until__lte=timezone.now(), status__in=OPEN
    ).values_list("pk", flat=True)
    count = 0
    for pk in list(due[:500]):
        unsnooze_conversation(
            conversation=Conversation(pk=pk), reason="Snooze ended: back in the inbox."
        )
        count += 1
    return count


def _wake_on_reply(conversation):
    """The visitor wrote in a snoozed conversation: it returns to the inbox at once."""
    if conversation.snoozed_until is not None:
        unsnooze_conversation(conversation=conversation, reason="The visitor wrote: snooze ended.")


def record_visitor_location(*, visitor_session, location):
    """Store the visitor's rough `location` ({"country", "region", "city"}, from a trusted
    proxy's headers) in the session's metadata when it changed. No events."""
    if not location or (visitor_session.metadata or {}).get("location") == location:
        return visitor_session
    with transaction.atomic():
        session = VisitorSession.objects.select_for_update().get(pk=visitor_session.pk)
        session.metadata = {**(session.metadata or {}), "location": location}
        session.save(update_fields=["metadata", "updated_at"])
    return session


# --- Satisfaction, transcripts, read receipts -----------------------------------------------

RATING_COMMENT_MAX_CHARS = 2000


def rate_conversation(*, conversation, rating, comment=""):
    """The visitor rated their closed `conversation` from 1 to 5, with an optional comment.

    Once only: raises InvalidMessage for a rating outside 1..5 or a comment over
    RATING_COMMENT_MAX_CHARS, ActionRefused while the conversation is open or when it is
    already rated; nothing is stored then. Emits conversation.updated. Returns the
    conversation.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidMessage("The rating must be a whole number from 1 to 5.")
    comment = (comment or "").strip()
    if len(comment) > RATING_COMMENT_MAX_CHARS:
        raise InvalidMessage(
            f"The comment is too long ({len(comment)} characters; "
            f"the limit is {RATING_COMMENT_MAX_CHARS})."
        )
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.is_open:
            raise ActionRefused("The conversation can be rated once it is closed.")
        if conversation.rating is not None:
            raise ActionRefused("This conversation has already been rated.")
        conversation.rating = rating
        conversation.rating_comment = comment
        conversation.rated_at = timezone.now()
        conversation.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
        events.conversation_updated(conversation)
    return conversation


def request_transcript(*, conversation, email):
    """E-mail `conversation`'s transcript (visitor and agent messages, no notes or system
    records) to `email`, an address the caller has checked. Stores nothing, no events;
    enqueues the email_transcript task after commit."""
    from wachat.conversations.tasks import email_transcript  # the task reads our models

    transaction.on_commit(lambda: email_transcript(str(conversation.pk), email))


def mark_read_by_visitor(*, visitor_session, up_to):
    """The visitor has seen their agent messages up to the id `up_to` (widget open, tab
    visible). Moves them to read, forward only (failed stays failed; other visitors' ids
    and private notes match nothing); at most the newest 100 per call, so one frame
    cannot set off an unbounded burst of writes and events.

    Emits message.updated for each message moved; tells the transports (read_on_commit),
    so replies the agent wrote on WhatsApp get blue ticks on their phone. Returns how many
    messages moved.
    """
    with transaction.atomic():
        ids = list(
            selectors.visitor_unread_agent_messages(visitor_session.pk, up_to=up_to).values_list(
                "pk", flat=True
            )
        )
        return _move_to_read(ids)


def _move_to_read(ids):
    """Inside a transaction: the messages `ids` turn read, forward only (checked again
    under the row lock), each with message.updated; the transports hear which
    (read_on_commit). Returns how many moved."""
    moved = []
    for message in (
        Message.objects.select_for_update()
        .select_related("conversation")
        .filter(pk__in=ids)
        .order_by("pk")
    ):
        if not message.can_move_to(Message.Status.READ):
            continue  # changed since we looked
        message.status = Message.Status.READ
        message.save(update_fields=["status", "updated_at"])
        events.message_updated(message)
        moved.append(message.pk)
    transports.read_on_commit(moved)
    return len(moved)


# --- Attachments ----------------------------------------------------------------------------
#
# The file is stored first, then the row is written in one transaction; if the row cannot
# be written the file is deleted, so a failure leaves neither half behind. A retry with
# the same client_id finds the first row before anything is stored.


def send_visitor_attachment(*, visitor_session, content, filename, client_id, caption=""):
    """A visitor attached a file (`content`, bytes) in the widget. Idempotent on client_id.

    Checked by content (attachments.check; raises attachments.InvalidAttachment), stored,
    then sent like a text message (see send_visitor_message): emits message.created (and
    conversation.updated for a new conversation); hands the message to the transports
    (relay to the agent's WhatsApp as an image or document). Returns (message, created).
    """
    caption = attachments.clean_caption(caption)
    checked = attachments.check(content)
    duplicates = Message.objects.filter(
        conversation__visitor_session=visitor_session, client_id=client_id
    )
    existing = duplicates.first()
    if existing:
        return existing, False
    current = (
        Conversation.objects.filter(visitor_session=visitor_session, status__in=OPEN)
        .order_by("-created_at")
        .values_list("pk", flat=True)
        .first()
    )
    folder = current or uuid.uuid4()  # the id of the conversation it will most likely join

    def write(message_fields):
        # `folder` may name an open conversation closed since: never reuse it as a new id.
        conversation = _open_widget_conversation(
            visitor_session, new_id=None if current else folder
        )
        message = Message(
            conversation=conversation,
            direction=Message.Direction.INBOUND,
            sender_type=Message.SenderType.VISITOR,
            client_id=client_id,
            **message_fields,
        )
        return _save_new_message(message, duplicates)

    return _store_then_write(content, checked, filename, caption, folder, write)


def send_agent_attachment(*, conversation, agent, content, filename, client_id, caption=""):
    """An agent attached a file in the Conversation Center. Idempotent on client_id.

    Checked by content (raises attachments.InvalidAttachment), stored, then sent like
    send_agent_message: emits message.created; hands the message to the transports (a
    WhatsApp conversation's customer gets it as an image or document). Returns
    (message, created).
    """
    caption = attachments.clean_caption(caption)
    checked = attachments.check(content)
    duplicates = Message.objects.filter(conversation=conversation, client_id=client_id)
    existing = duplicates.first()
    if existing:
        return existing, False

    def write(message_fields):
        metadata = {"sender_name": agent.name, **message_fields.pop("metadata")}
        message = _agent_message(
            conversation,
            agent,
            message_fields.pop("content"),
            client_id=client_id,
            metadata=metadata,
            **message_fields,
        )
        return _save_new_message(message, duplicates)

    return _store_then_write(content, checked, filename, caption, conversation.pk, write)


def _store_then_write(content, checked, filename, caption, folder, write):
    filename = attachments.clean_filename(filename, checked.extension)
    name = attachments.store(content, folder=folder, filename=filename)
    try:
        with transaction.atomic():
            message, created = write(
                {
                    "message_type": checked.kind,
                    "content": caption,
                    "media_url": default_storage.url(name),
                    "metadata": {
                        "storage_name": name,
                        "mime_type": checked.mime_type,
                        "filename": filename,
                        "size": len(content),
                    },
                }
            )
    except BaseException:
        attachments.delete(name)
        raise
    if not created:
        attachments.delete(name)  # a concurrent identical upload stored its own copy first
    return message, created


# --- Reactions ------------------------------------------------------------------------------

# The emoji the Conversation Center offers (WhatsApp accepts any; a short list keeps the
# input bounded and the picker small).
AGENT_REACTIONS = ("👍", "❤️", "😂", "😮", "😢", "🙏")


def react_as_agent(*, message, agent, emoji):
    """`agent` reacted to a visitor's (or customer's) message with `emoji`; the same emoji
    again removes it. Stored in metadata["reactions"] under "agent:<id>".

    In a WhatsApp conversation the business has one reaction per message on the
    customer's phone: the newest agent reaction left on it, or none. When that changes it
    is handed to the transports after commit (WhatsApp delivers it). Emits
    message.updated. Returns the message.
    """
    if emoji not in AGENT_REACTIONS:
        raise ActionRefused("Unknown reaction.")
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("conversation")
            .filter(pk=message.pk)
            .first()
        )
        if (
            message is None
            or message.sender_type != Message.SenderType.VISITOR
            or events.is_private(message)
        ):
            raise ActionRefused("Only a visitor's message can be reacted to.")
        key = f"agent:{agent.pk}"
        reactions = {k: v for k, v in (message.metadata or {}).get("reactions", {}).items()}
        if reactions.pop(key, None) != emoji:
            reactions[key] = emoji
        business = next((v for k, v in reversed(reactions.items()) if k.startswith("agent:")), "")
        metadata = {**(message.metadata or {}), "reactions": reactions}
        changed = business != metadata.get("business_reaction", "")
        metadata["business_reaction"] = business
        message.metadata = metadata
        message.save(update_fields=["metadata", "updated_at"])
        events.message_updated(message)
        if changed:
            transports.react_on_commit(message)
    return message


def record_business_reaction(*, message, emoji, whatsapp_message_id=None, error=None):
    """WhatsApp took the business's reaction `emoji` ("" removes it) under
    `whatsapp_message_id`, or refused it with `error` ({code, reason}). Kept in metadata
    (`business_reaction_sent`, `reaction_wamids`: Meta reports a "sent" status for each).
    No event: the reaction itself was shown when it was made. Returns the message."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        metadata = dict(message.metadata or {})
        if error:
            metadata["business_reaction_error"] = error
        else:
            metadata["business_reaction_sent"] = emoji
            metadata.pop("business_reaction_error", None)
            wamids = [*metadata.get("reaction_wamids", []), whatsapp_message_id]
            metadata["reaction_wamids"] = wamids[-20:]
        message.metadata = metadata
        message.save(update_fields=["metadata", "updated_at"])
    return message


def mark_read_by_agent(*, conversation, up_to):
    """An agent saw `conversation` in the Conversation Center up to the message id `up_to`:
    the visitor's or customer's messages up to there turn read, so the widget shows blue
    ticks, and the transports hear of it (read_on_commit: a WhatsApp customer gets blue
    ticks on their phone). Forward only (failed stays failed, read stays read); at most the
    newest 100 per call.

    A message still pending is left for a later call: the relay has not sent the agent's
    WhatsApp copy yet, and moving it on would stop that delivery (deliver_message sends
    pending messages only).

    Emits message.updated for each message moved. Returns how many moved.
    """
    movable = [Message.Status.SENT, Message.Status.DELIVERED]
    with transaction.atomic():
        ids = list(
            Message.objects.filter(
                conversation=conversation,
                sender_type=Message.SenderType.VISITOR,
                pk__lte=up_to,
                status__in=movable,
            )
            .order_by("-pk")
            .values_list("pk", flat=True)[:100]
        )
        return _move_to_read(ids)
